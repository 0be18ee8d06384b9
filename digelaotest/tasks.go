package digelaotest

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/internal/flex"
)

// Task states, as 5.1 lists them. A task that has not been started yet shows as paused.
const (
	taskRunning = 0 // 发送中
	taskDone    = 1 // 已发送
	taskPaused  = 4 // 暂停发送
	taskEnded   = 6 // 终止发送
)

func statusText(st int) string {
	switch st {
	case taskRunning:
		return "发送中"
	case taskDone:
		return "已发送"
	case taskEnded:
		return "终止发送"
	}
	return "暂停发送"
}

// Contact states.
const (
	contactPending = iota
	contactDialling
	contactDone
	contactCancelled
)

// Limits of 5.7.x and §6.
const (
	maxImportRows  = 30000
	maxPending     = 300000
	dailyTaskLimit = 100
)

type task struct {
	owner      *tenant
	id         int64
	sn         string
	source     string
	batch      string
	tpl        *Template
	seat       *seat
	status     int
	autoStart  bool
	importing  bool
	importFrom time.Time // real start and end of the import, for its progress
	importTo   time.Time
	mark       importMark
	failRows   []*array
	contacts   []*contact
	queue      []*contact // waiting to be dialled, in order
	lines      int        // dial lines running
	dialling   int        // calls in progress
	recalls    int        // numbers waiting for an automatic recall
	recall     recallPolicy
	deleted    bool
	created    time.Time
	modified   time.Time
	startedAt  time.Time
	stoppedAt  time.Time
}

type contact struct {
	sn         string
	phone      string
	name       string
	row        *array // the imported row, keys without "*"
	state      int
	attempts   int
	detailType int // 0 first call, 1 recall [inferred]
	connected  bool
	reason     string
	created    time.Time
	last       *record
}

// recallPolicy is a task's automatic failure recall (is_auto_fail_recall and friends).
type recallPolicy struct {
	on       bool
	times    int
	interval time.Duration
	reasons  []string // empty: every reason
}

func (p recallPolicy) matches(reason string) bool {
	return len(p.reasons) == 0 || slices.Contains(p.reasons, reason)
}

// importMark is an import's result counters (5.7.4, 5.7.15).
type importMark struct{ total, fail, blacklist, repeat, success int }

func (m importMark) array() *array {
	return obj("totalCount", m.total, "failCount", m.fail, "blacklistCount", m.blacklist,
		"repeatCount", m.repeat, "successCount", m.success, "filterCount", 0, "shiCount", 0,
		"kongCount", 0, "tingjiCount", 0, "kuwuCount", 0, "chenmoCount", 0, "fenxianCount", 0, "chaopinCount", 0)
}

// Task is a snapshot of a task.
type Task struct {
	ID        int64
	SN        string
	UserSN    string // the account it belongs to
	Name      string // source
	Batch     string
	ProjectSN string
	SeatSN    string
	Status    int // 5.1: 0 发送中, 1 已发送, 4 暂停发送 (also: not started), 6 终止发送
	Importing bool
	Deleted   bool
	Numbers   int // numbers imported
	Pending   int // numbers waiting to be dialled or being dialled
	Called    int // numbers whose last call is over
	Connected int
	Cancelled int
	CreatedAt time.Time
	StartedAt time.Time // zero until first started
	StoppedAt time.Time // zero until finished or ended
}

// Tasks returns every task of every account, deleted ones included, oldest first.
func (s *Server) Tasks() []Task {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Task
	for _, tn := range s.tenants {
		for _, t := range tn.tasks {
			n := t.counts()
			out = append(out, Task{
				ID: t.id, SN: t.sn, UserSN: tn.acct.UserSN, Name: t.source, Batch: t.batch, ProjectSN: t.tpl.SN,
				SeatSN: t.seat.sn, Status: t.status, Importing: t.importing, Deleted: t.deleted,
				Numbers: len(t.contacts), Pending: n.pending, Called: n.sent, Connected: n.success,
				Cancelled: n.cancelled, CreatedAt: t.created, StartedAt: t.startedAt, StoppedAt: t.stoppedAt,
			})
		}
	}
	slices.SortStableFunc(out, func(a, b Task) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

type taskCounts struct{ sent, success, fail, cancelled, pending int }

func (t *task) counts() taskCounts {
	var n taskCounts
	for _, ct := range t.contacts {
		switch ct.state {
		case contactDone:
			n.sent++
			if ct.connected {
				n.success++
			} else {
				n.fail++
			}
		case contactCancelled:
			n.cancelled++
		default:
			n.pending++
		}
	}
	return n
}

// taskByKey finds a live task by dial_task_main_id or dial_task_main_sn.
func (tn *tenant) taskByKey(key string) *task {
	key = strings.TrimSpace(key)
	for _, t := range tn.tasks {
		if !t.deleted && key != "" && (t.sn == key || strconv.FormatInt(t.id, 10) == key) {
			return t
		}
	}
	return nil
}

func (s *Server) template(sn string) *Template {
	for _, t := range s.templates {
		if t.SN == sn {
			return t
		}
	}
	return nil
}

func (tn *tenant) seat(sn string) *seat {
	for _, st := range tn.seats {
		if st.sn == sn {
			return st
		}
	}
	return nil
}

// timeText formats t as the platform does, "Y-m-d H:i:s" in China time; nil for the zero time.
func timeText(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.In(flex.China).Format(time.DateTime)
}

// intParam reads an integer parameter; def when absent or empty, 20002 when not an integer.
func intParam(p *array, k string, def int) (int, error) {
	v := strings.TrimSpace(p.str(k))
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fail(digelao.CodeBadData)
	}
	return n, nil
}

// listParam reads a parameter sent as a list (JSON array, PHP k[]=…, a JSON string of a list) or
// as comma-separated text.
func listParam(p *array, k string) []string {
	v, _ := p.get(k)
	if s, ok := v.(string); ok && strings.HasPrefix(strings.TrimSpace(s), "[") {
		if d, err := decodeJSON([]byte(s)); err == nil {
			v = d
		}
	}
	var out []string
	if a, ok := v.(*array); ok {
		for _, e := range a.vals {
			out = append(out, scalarText(e))
		}
		return out
	}
	for _, f := range strings.Split(scalarText(v), ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// timeRange reads a from/to filter pair. A date-only end covers its whole day [inferred]. With
// today set, two absent bounds mean the clock's day in China time, as 5.1 says.
func timeRange(c *call, fromKey, toKey string, today bool) (time.Time, time.Time, error) {
	fs, ts := strings.TrimSpace(c.p.str(fromKey)), strings.TrimSpace(c.p.str(toKey))
	if fs == "" && ts == "" && today {
		y, m, d := c.now.In(flex.China).Date()
		from := time.Date(y, m, d, 0, 0, 0, 0, flex.China)
		return from, from.AddDate(0, 0, 1).Add(-time.Second), nil
	}
	from, err := flex.ParseTime(fs)
	if err != nil {
		return from, from, fail(digelao.CodeBadData)
	}
	to, err := flex.ParseTime(ts)
	if err != nil {
		return from, to, fail(digelao.CodeBadData)
	}
	if len(ts) == len(time.DateOnly) {
		to = to.AddDate(0, 0, 1).Add(-time.Second)
	}
	return from, to, nil
}

func inRange(t, from, to time.Time) bool {
	return (from.IsZero() || !t.Before(from)) && (to.IsZero() || !t.After(to))
}

// taskList serves 5.1 /api/index: data.total and data.list, newest first. Filters: created_at
// between start_create_at and end_create_at (today when both are empty), status, ai_user_sn,
// ai_user_name.
func (s *Server) taskList(c *call) (any, error) {
	from, to, err := timeRange(c, "start_create_at", "end_create_at", true)
	if err != nil {
		return nil, err
	}
	status, err := intParam(c.p, "status", -1)
	if err != nil {
		return nil, err
	}
	seatSN, seatName := c.p.str("ai_user_sn"), c.p.str("ai_user_name")
	var match []*task
	for _, t := range slices.Backward(c.t.tasks) {
		if t.deleted || !inRange(t.created, from, to) || (status >= 0 && t.status != status) ||
			(seatSN != "" && t.seat.sn != seatSN) || (seatName != "" && t.seat.name != seatName) {
			continue
		}
		match = append(match, t)
	}
	lo, hi, err := pageOf(c, len(match), 5)
	if err != nil {
		return nil, err
	}
	list := []any{}
	for _, t := range match[lo:hi] {
		list = append(list, t.item())
	}
	return obj("code", 0, "msg", "获取成功", "data", obj("total", len(match), "list", list)), nil
}

// item is the task as 5.1 lists it, fields in the order of a captured reply (success, fail and
// stops as strings there).
func (t *task) item() *array {
	n := t.counts()
	percent := 0
	if n.sent > 0 {
		percent = n.success * 100 / n.sent
	}
	a := t.owner.acct
	var batch any
	if t.batch != "" {
		batch = t.batch
	}
	return obj(
		"dial_task_main_id", t.id, "dial_task_main_sn", t.sn, "status", statusText(t.status),
		"user_sn", t.seat.sn, "user_name", t.seat.name, "team_sn", a.TeamSN, "team_name", a.TeamName,
		"created_at", timeText(t.created), "last_modify", timeText(t.modified),
		"started_at", timeText(t.startedAt), "stoped_at", timeText(t.stoppedAt),
		"total_count", len(t.contacts), "send_count", n.sent, "remark", nil, "ring_groups", nil,
		"priority", nil, "project_sn", t.tpl.SN, "percentage", nil, "source", t.source, "batch", batch,
		"trunkgroup_sn", nil, "caller_group", a.CallerGroup, "mark", nil, "operator", a.Username,
		"project_caption", t.tpl.Name, "parent_sn", a.Username, "success", strconv.Itoa(n.success),
		"fail", strconv.Itoa(n.fail), "stops", strconv.Itoa(n.cancelled),
		"unsend_count", len(t.contacts)-n.sent-n.cancelled, "percent", fmt.Sprintf("%d%%", percent),
	)
}

// operateTask serves 5.2: project_type 2, pkeys (ids or sns, comma separated), oper stop ·
// keepOn · failRe · delete · end. Every task must exist, or nothing changes (20002). The reply is
// 5.2's documented {"code":0,"msg":"操作成功"}, without data: a client that takes a reply without
// data for a failure (one real client logs in again and repeats the operation) does so here as it
// would against the platform.
func (s *Server) operateTask(c *call) (any, error) {
	if c.p.str("project_type") != "2" {
		return nil, fail(digelao.CodeBadData)
	}
	keys := listParam(c.p, "pkeys")
	var tasks []*task
	for _, k := range keys {
		t := c.t.taskByKey(k)
		if t == nil {
			return nil, fail(digelao.CodeBadData)
		}
		tasks = append(tasks, t)
	}
	oper := c.p.str("oper")
	if len(tasks) == 0 || !slices.Contains([]string{"stop", "keepOn", "failRe", "delete", "end"}, oper) {
		return nil, fail(digelao.CodeBadData)
	}
	for _, t := range tasks {
		s.operate(t, oper, c.now)
	}
	return obj("code", 0, "msg", "操作成功"), nil
}

func (s *Server) operate(t *task, oper string, at time.Time) {
	t.modified = at
	switch oper {
	case "stop":
		if t.status == taskRunning {
			t.status = taskPaused
		}
		t.autoStart = false
	case "keepOn":
		if t.importing {
			t.autoStart = true
		}
		if t.status == taskPaused && !t.importing {
			t.status = taskRunning
			s.start(t, at)
		}
	case "failRe":
		if t.status == taskEnded {
			return
		}
		for _, ct := range t.contacts {
			if ct.state == contactDone && !ct.connected {
				s.requeue(t, ct, 1)
			}
		}
		if !t.importing {
			t.status = taskRunning
			s.start(t, at)
		}
	case "delete", "end":
		for _, ct := range t.contacts {
			if ct.state == contactPending {
				ct.state = contactCancelled
			}
		}
		t.queue = nil
		t.deleted = oper == "delete"
		if t.status != taskDone {
			t.status, t.stoppedAt = taskEnded, at
		}
	}
}

func (s *Server) requeue(t *task, ct *contact, detailType int) {
	ct.state, ct.detailType = contactPending, detailType
	t.queue = append(t.queue, ct)
}

// cancelCall serves 5.3: cancel numbers not yet called, by the sn (and detail_type) of their
// 5.4 rows. sn and detail_type are lists: a JSON array, or sn[]=… in a form or query.
func (s *Server) cancelCall(c *call) (any, error) {
	t := c.t.taskByKey(c.p.str("dial_task_main_sn"))
	sns := listParam(c.p, "sn")
	if t == nil || len(sns) == 0 {
		return nil, fail(digelao.CodeBadData)
	}
	types := listParam(c.p, "detail_type")
	ok := 0
	for i, sn := range sns {
		for _, ct := range t.contacts {
			if ct.sn == sn && (i >= len(types) || types[i] == strconv.Itoa(ct.detailType)) && ct.state == contactPending {
				ct.state = contactCancelled
				ok++
				break
			}
		}
	}
	s.maybeFinish(t, c.now)
	return cancelReply(len(sns), ok), nil
}

// cancelCallCallee serves 5.3.2: cancel numbers not yet called, by number (callee, comma separated).
func (s *Server) cancelCallCallee(c *call) (any, error) {
	t := c.t.taskByKey(c.p.str("dial_task_main_sn"))
	phones := listParam(c.p, "callee")
	if t == nil || len(phones) == 0 {
		return nil, fail(digelao.CodeBadData)
	}
	ok := 0
	for _, ph := range phones {
		hit := false
		for _, ct := range t.contacts {
			if ct.phone == ph && ct.state == contactPending {
				ct.state, hit = contactCancelled, true
			}
		}
		if hit {
			ok++
		}
	}
	s.maybeFinish(t, c.now)
	return cancelReply(len(phones), ok), nil
}

func cancelReply(total, ok int) *array {
	return obj("code", 0, "msg", "操作完成", "data", obj("total", total, "success", ok, "fail", total-ok))
}

// detailsList serves 5.4: data.total, data.info (the task) and data.list (its numbers; the row
// fields after the page's cut-off are the fake's own [inferred]).
func (s *Server) detailsList(c *call) (any, error) {
	t := c.t.taskByKey(c.p.str("dial_task_main_id"))
	if t == nil {
		return nil, fail(digelao.CodeBadData)
	}
	lo, hi, err := pageOf(c, len(t.contacts), 5)
	if err != nil {
		return nil, err
	}
	n := t.counts()
	paused := 0
	if t.status == taskPaused {
		paused = 1
	}
	info := obj("task_type", 0, "is_temporary_stop", paused, "cancel_count", n.cancelled, "timed_started_at", nil,
		"dial_task_main_sn", t.sn, "success", n.success, "project_sn", t.tpl.SN, "project_caption", t.tpl.Name,
		"dial_task_main_id", t.id, "source", t.source, "status", t.status, "total_count", len(t.contacts),
		"send_count", n.sent, "created_at", timeText(t.created))
	list := []any{}
	for _, ct := range t.contacts[lo:hi] {
		var talk int
		var grade any
		var called any
		if ct.last != nil {
			talk, grade, called = ct.last.talk, ct.last.grade, timeText(ct.last.started)
		}
		list = append(list, obj("sn", ct.sn, "detail_type", ct.detailType, "dial_task_main_sn", t.sn,
			"phone", ct.phone, "name", ct.name, "status", ct.state, "call_count", ct.attempts,
			"talktimes", talk, "intention", grade, "called_at", called, "created_at", timeText(ct.created)))
	}
	return obj("code", 0, "data", obj("total", len(t.contacts), "info", info, "list", list), "msg", "获取成功"), nil
}

// failRecall serves 5.5: recall the numbers whose calls failed for one of fail_recall_of_reason,
// in the task itself (recall_manual 1) or in a new task named task_name (0), with an automatic
// recall policy of total_fail_recall_times tries fail_recall_interval minutes apart. The reply is
// not documented; the fake answers {"code":0,"msg":"操作成功","data":{"dial_task_main_sn","total"}}.
func (s *Server) failRecall(c *call) (any, error) {
	t := c.t.taskByKey(c.p.str("dial_task_main_sn"))
	manual := c.p.str("recall_manual")
	reasons := listParam(c.p, "fail_recall_of_reason")
	times, err1 := intParam(c.p, "total_fail_recall_times", -1)
	interval, err2 := intParam(c.p, "fail_recall_interval", -1)
	name := c.p.str("task_name")
	if t == nil || (manual != "0" && manual != "1") || len(reasons) == 0 || err1 != nil || err2 != nil ||
		times < 0 || interval < 0 || !validSource(name) {
		return nil, fail(digelao.CodeBadData)
	}
	policy := recallPolicy{on: times > 0, times: times, interval: time.Duration(interval) * time.Minute, reasons: reasons}
	var failed []*contact
	for _, ct := range t.contacts {
		if ct.state == contactDone && !ct.connected && slices.Contains(reasons, ct.reason) {
			failed = append(failed, ct)
		}
	}
	target := t
	if manual == "1" {
		for _, ct := range failed {
			s.requeue(t, ct, 1)
		}
	} else {
		target = s.newTask(c.t, name, t.tpl, t.seat, c.now)
		for _, ct := range failed {
			nc := &contact{sn: s.sn("dial_task_detail"), phone: ct.phone, name: ct.name, row: ct.row, detailType: 1, created: c.now}
			target.contacts = append(target.contacts, nc)
			target.queue = append(target.queue, nc)
		}
	}
	target.recall = policy
	if target.status != taskEnded && !target.importing {
		target.status = taskRunning
		s.start(target, c.now)
	}
	return obj("code", 0, "msg", "操作成功", "data", obj("dial_task_main_sn", target.sn, "total", len(failed))), nil
}

func (s *Server) newTask(tn *tenant, source string, tpl *Template, st *seat, now time.Time) *task {
	s.ids.task++
	t := &task{owner: tn, id: 1000 + s.ids.task, sn: s.sn("dial_task_main_sn"), source: source, tpl: tpl, seat: st,
		status: taskPaused, created: now, modified: now}
	tn.tasks = append(tn.tasks, t)
	return t
}

// validSource is 5.7.2's rule for a task name: "只支持中英文小括号数字" — letters, Chinese
// characters, parentheses and digits.
func validSource(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		ascii := r <= unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r))
		if !ascii && !unicode.Is(unicode.Han, r) && !strings.ContainsRune("()（）", r) {
			return false
		}
	}
	return true
}

// importSpec is one import of numbers, into a new task or (dial_task_main_sn) an existing one.
type importSpec struct {
	rows      []*array
	async     bool
	source    string
	batch     string
	autoStart bool
}

// addJSON serves the synchronous /api/addJson: the import is done when it answers, with its
// counters [inferred: {"code":0,"msg":"导入成功","data":{dial_task_main_id, dial_task_main_sn, import_mark}}].
func (s *Server) addJSON(c *call) (any, error) { return s.addFromJSON(c, false) }

// addJSONAsync serves 5.7.2 /api/addJsonOfAsync: it answers at once with
// {"code":0,"msg":"导入中","data":{"dial_task_main_id":…,"dial_task_main_sn":…}} [inferred], imports
// over a few simulated seconds, then pushes the result (5.7.15) to task_callback_url.
func (s *Server) addJSONAsync(c *call) (any, error) { return s.addFromJSON(c, true) }

func (s *Server) addFromJSON(c *call, async bool) (any, error) {
	rows, err := jsonRows(c.p, "client_info_json")
	if err != nil {
		return nil, err
	}
	return s.importTask(c, importSpec{rows: rows, async: async, source: c.p.str("source"), autoStart: isOn(c.p.str("is_zidong"))})
}

// addExcelAsync serves 5.7.1 /api/addExcelOfAsync: like 5.7.2 with the rows of an uploaded xlsx.
func (s *Server) addExcelAsync(c *call) (any, error) {
	rows, err := uploadRows(c)
	if err != nil {
		return nil, err
	}
	return s.importTask(c, importSpec{rows: rows, async: true, source: c.p.str("source"), autoStart: isOn(c.p.str("is_zidong"))})
}

// addBatch serves 5.8.1 /api/addBatch (synchronous): project_sn, ai_user_sn, ai_user_name,
// batch_name, term_value and an xlsx upload make a task named after the batch that starts at once
// [inferred; the reply is cut off on the page — the fake answers as addJson does].
func (s *Server) addBatch(c *call) (any, error) {
	name := strings.TrimSpace(c.p.str("batch_name"))
	if name == "" || c.p.str("ai_user_name") == "" {
		return nil, fail(digelao.CodeBadData)
	}
	if _, err := intParam(c.p, "term_value", 0); err != nil {
		return nil, err
	}
	rows, err := uploadRows(c)
	if err != nil {
		return nil, err
	}
	return s.importTask(c, importSpec{rows: rows, source: name, batch: name, autoStart: true})
}

// isOn reads a checkbox-style flag: is_zidong is "on" when ticked [inferred: absent means the task
// waits for 5.2 keepOn].
func isOn(v string) bool { return v == "on" || v == "1" || v == "true" }

// jsonRows reads client_info_json: {"data":[{column: value, …}, …]}, as a nested object or as a
// JSON string. Anything else is 30006.
func jsonRows(p *array, k string) ([]*array, error) {
	v, _ := p.get(k)
	if str, ok := v.(string); ok {
		d, err := decodeJSON([]byte(str))
		if err != nil {
			return nil, fail(digelao.CodeImportNoData)
		}
		v = d
	}
	root, _ := v.(*array)
	data, _ := root.get("data")
	list, ok := data.(*array)
	if !ok || list.len() == 0 {
		return nil, fail(digelao.CodeImportNoData)
	}
	rows := make([]*array, 0, list.len())
	for _, r := range list.vals {
		row, ok := r.(*array)
		if !ok {
			return nil, fail(digelao.CodeImportNoData)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// importTask validates an import and creates or extends its task, then imports the rows at once or,
// when async, after a simulated delay.
func (s *Server) importTask(c *call, in importSpec) (any, error) {
	tn := c.t
	var t *task
	var tpl *Template
	var st *seat
	if key := c.p.str("dial_task_main_sn"); key != "" {
		if t = tn.taskByKey(key); t == nil {
			return nil, fail(digelao.CodeBadData)
		}
	} else {
		tpl, st = s.template(c.p.str("project_sn")), tn.seat(c.p.str("ai_user_sn"))
		if tpl == nil || st == nil || (in.batch == "" && !validSource(in.source)) {
			return nil, fail(digelao.CodeBadData)
		}
	}
	switch {
	case len(in.rows) == 0:
		return nil, fail(digelao.CodeImportNoData)
	case len(in.rows) > maxImportRows:
		return nil, fail(digelao.CodeImportTooMany)
	case tn.pending()+len(in.rows) > maxPending:
		return nil, fail(digelao.CodeImportPending)
	}
	if t == nil {
		day := c.now.In(flex.China).Format(time.DateOnly)
		if tn.daily[day] >= dailyTaskLimit {
			return nil, fail(CodeTaskLimit)
		}
		tn.daily[day]++
		t = s.newTask(tn, in.source, tpl, st, c.now)
		t.batch, t.autoStart = in.batch, in.autoStart
		t.recall = recallParams(c.p)
	}
	if !in.async {
		s.finishImport(t, in.rows, c.now, false)
		fails := []any{}
		for _, r := range t.failRows {
			fails = append(fails, r)
		}
		return obj("code", 0, "msg", "导入成功", "data", obj("dial_task_main_id", t.id, "dial_task_main_sn", t.sn,
			"import_mark", t.mark.array(), "import_fail_data", fails)), nil
	}
	d := importBase + time.Duration(len(in.rows))*importPerRow
	t.importing = true
	t.mark, t.failRows = importMark{}, nil
	t.importFrom, t.importTo = time.Now(), time.Time{}
	if !s.cfg.manual {
		t.importTo = t.importFrom.Add(s.realTime(d))
	}
	rows := in.rows
	s.after(c.now, d, func(at time.Time) { s.finishImport(t, rows, at, true) })
	return obj("code", 0, "msg", "导入中", "data", obj("dial_task_main_id", t.id, "dial_task_main_sn", t.sn)), nil
}

// recallParams reads is_auto_fail_recall, total_fail_recall_times, fail_recall_interval (minutes)
// and fail_recall_of_reason.
func recallParams(p *array) recallPolicy {
	times, _ := intParam(p, "total_fail_recall_times", 1)
	interval, _ := intParam(p, "fail_recall_interval", 1)
	return recallPolicy{on: isOn(p.str("is_auto_fail_recall")) && times > 0, times: times,
		interval: time.Duration(max(interval, 0)) * time.Minute, reasons: listParam(p, "fail_recall_of_reason")}
}

// pending counts the account's numbers waiting to be called.
func (tn *tenant) pending() int {
	n := 0
	for _, t := range tn.tasks {
		n += t.counts().pending
	}
	return n
}

// finishImport checks the rows against the template and adds the good ones to the task: a row
// missing a "*" column or with a malformed number fails, a blacklisted or repeated number is
// counted and skipped. It then starts the task if it should run, and pushes the result.
func (s *Server) finishImport(t *task, rows []*array, at time.Time, push bool) {
	t.importing = false
	t.modified = at
	wasDone := t.status == taskDone
	cols := t.tpl.Columns
	phoneCol := phoneColumn(cols)
	seen := map[string]bool{}
	for _, ct := range t.contacts {
		seen[ct.phone] = true
	}
	m := importMark{total: len(rows)}
	t.failRows = nil
	var added []*contact
	for _, raw := range rows {
		row := &array{}
		for i, k := range raw.keys {
			row.set(strings.TrimPrefix(k, "*"), scalarText(raw.vals[i]))
		}
		phone := normalizePhone(row.str(phoneCol))
		ok := phone != ""
		for _, col := range cols {
			if name, req := strings.CutPrefix(col, "*"); req && strings.TrimSpace(row.str(name)) == "" {
				ok = false
			}
		}
		switch {
		case !ok:
			m.fail++
			failed := &array{}
			for _, col := range cols {
				name := strings.TrimPrefix(col, "*")
				failed.set(name, row.str(name))
			}
			t.failRows = append(t.failRows, failed)
		case t.owner.blacklisted(phone, at):
			m.blacklist++
		case seen[phone]:
			m.repeat++
		default:
			seen[phone] = true
			m.success++
			ct := &contact{sn: s.sn("dial_task_detail"), phone: phone, name: row.str("姓名"), row: row, created: at}
			added = append(added, ct)
		}
	}
	t.mark = m
	t.contacts = append(t.contacts, added...)
	t.queue = append(t.queue, added...)
	if wasDone && len(added) > 0 {
		t.status = taskPaused // 5.7.2: appending to a finished task pauses it
	}
	if t.autoStart && t.status == taskPaused && t.startedAt.IsZero() {
		t.status = taskRunning
	}
	s.start(t, at)
	if url := t.owner.callback.TaskCallbackURL; push && url != "" {
		s.dispatch(&pushJob{kind: PushImport, t: t.owner, url: url, task: t, attempt: 1, at: at})
	}
}

// phoneColumn returns the template column holding the number: the first naming 电话 or 手机.
func phoneColumn(cols []string) string {
	for _, col := range cols {
		name := strings.TrimPrefix(col, "*")
		if strings.Contains(name, "电话") || strings.Contains(name, "手机") {
			return name
		}
	}
	return "电话"
}

// normalizePhone returns the number with spaces and dashes removed, or "" unless 5–20 digits remain.
func normalizePhone(s string) string {
	s = strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(s))
	if len(s) < 5 || len(s) > 20 {
		return ""
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return ""
		}
	}
	return s
}

// importTaskInfo serves 5.7.4 /api/getImportTaskInfo: progress (import_percent, an int), the
// counters and the rejected rows.
func (s *Server) importTaskInfo(c *call) (any, error) {
	t := c.t.taskByKey(c.p.str("dial_task_main_id"))
	if t == nil {
		return nil, fail(digelao.CodeBadData)
	}
	fails := []any{}
	for _, r := range t.failRows {
		fails = append(fails, r)
	}
	var batch any
	if t.batch != "" {
		batch = t.batch
	}
	return obj("code", 0, "data", obj("batch", batch, "mark", "", "import_percent", t.importPercent(),
		"import_mark", t.mark.array(), "import_fail_data", fails), "msg", "获取成功"), nil
}

// importPercent is an import's progress: 100 when done, else the share of its (real) duration
// passed; 0 with manual time, where nothing moves until Flush.
func (t *task) importPercent() int {
	if !t.importing {
		return 100
	}
	total := t.importTo.Sub(t.importFrom)
	if total <= 0 {
		return 0
	}
	return min(99, int(100*time.Since(t.importFrom)/total))
}

// importResult serves 5.7.3 at WithImportResultPath: {"code":200,"msg":"请求成功","data":{status,
// desc, import_percent "N%"}}, status 1 导入中 · 3 导入失败 · 20 任务未发送 · 21 发送完成 · 22 正在发送 ·
// 24 暂停发送.
func (s *Server) importResult(c *call) (any, error) {
	t := c.t.taskByKey(c.p.str("dial_task_main_id"))
	if t == nil {
		return nil, fail(digelao.CodeBadData)
	}
	st, desc := 24, "暂停发送"
	switch {
	case t.importing:
		st, desc = 1, "导入中"
	case t.mark.total > 0 && t.mark.success == 0 && len(t.contacts) == 0:
		st, desc = 3, "导入失败"
	case t.status == taskRunning:
		st, desc = 22, "正在发送"
	case t.status == taskDone || t.status == taskEnded:
		st, desc = 21, "发送完成"
	case t.startedAt.IsZero():
		st, desc = 20, "任务未发送"
	}
	return obj("code", 200, "msg", "请求成功", "data", obj("status", st, "desc", desc,
		"import_percent", strconv.Itoa(t.importPercent())+"%")), nil
}

// batchStatus serves 5.10 /api/taskBatchImportStatus: status 1 when every batch task (of the
// sub-account user_name, when given) has nothing left to call.
func (s *Server) batchStatus(c *call) (any, error) {
	name := c.p.str("user_name")
	for _, t := range c.t.tasks {
		if t.batch == "" || t.deleted || (name != "" && t.seat.name != name) {
			continue
		}
		if t.counts().pending > 0 || t.importing {
			return obj("code", 0, "msg", "未全部呼叫完成", "status", 0), nil
		}
	}
	return obj("code", 0, "msg", "已全部呼叫完成", "status", 1), nil
}
