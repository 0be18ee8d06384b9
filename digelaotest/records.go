package digelaotest

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/internal/flex"
)

// record is one call's 流水 row.
type record struct {
	id        int64
	sn        string
	t         *task
	ct        *contact
	started   time.Time
	connected time.Time // zero when the call did not connect
	ended     time.Time
	talk      int // seconds
	grade     string
	manual    string // status_manual
	screen    int    // fs_push_screens
	reason    string
	file      string // recordfile; "" when the call did not connect
	turns     int    // dialogue rounds
	pushed    bool
}

// recordRoot is the recordpath of every recording.
const recordRoot = "/mnt/record"

func (s *Server) newRecord(t *task, ct *contact, out Outcome, started, end time.Time) *record {
	s.ids.record++
	r := &record{id: 10000 + s.ids.record, sn: s.sn("account"), t: t, ct: ct, started: started, ended: end,
		grade: out.Grade, manual: out.ManualGrade, screen: out.ScreenPop, reason: out.Reason}
	if out.Connected {
		r.connected = started.Add(out.Ring)
		r.talk = int(out.Talk.Round(time.Second) / time.Second)
		r.turns = min(max(r.talk/15, 1), 8)
		at := r.connected.In(flex.China)
		h := md5Hex(r.sn)
		uuid := h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
		r.file = fmt.Sprintf("%s/%s/%s/%s_%s_%s_%s_%s.wav", recordRoot, at.Format("20060102"), at.Format("1504"),
			at.Format("20060102150405"), t.owner.acct.Username, t.seat.name, uuid, ct.phone[max(0, len(ct.phone)-4):])
	}
	t.owner.records = append(t.owner.records, r)
	ct.last = r
	return r
}

// row is the record as 6.1 lists it and 6.6.1 pushes it: a flat object, first the fields of the
// documented samples in their order, then the other 6.1 fields clients read [inferred order].
func (r *record) row() *array {
	t, a, ct := r.t, r.t.owner.acct, r.ct
	var unitPhone any
	if v := ct.row.str("公司电话"); v != "" {
		unitPhone = v
	}
	recordPath := ""
	if r.file != "" {
		recordPath = recordRoot
	}
	return obj(
		"id", r.id, "sn", r.sn, "user_sn", t.seat.sn, "user_name", t.seat.name, "parent_sn", a.Username,
		"team_sn", a.TeamSN, "team_name", a.TeamName, "created_at", timeText(r.ended), "updated_at", timeText(r.ended),
		"name", ct.name, "phone", ct.phone, "address", ct.row.str("地址"), "unit", ct.row.str("公司名称"),
		"unit_phone", unitPhone, "project_sn", t.tpl.SN, "project_caption", t.tpl.Name,
		"dial_task_main_sn", t.sn, "source", t.source, "started_at", timeText(r.started),
		"connected_at", timeText(r.connected), "disconnected_at", timeText(r.ended), "talktimes", r.talk,
		"status", r.grade, "status_manual", r.manual, "operator", a.Username, "mark", "", "is_transfertoagent", 0,
		"hangup_serial_number", "", "recordpath", recordPath, "recordfile", r.file, "turn_count", r.turns,
		"asks_count", r.turns, "score", 0, "fs_push_screens", r.screen, "pushed_at", nil, "listened_at", nil,
		"intervention_at", nil,
	)
}

// CallRecord is a snapshot of a call record.
type CallRecord struct {
	ID          int64
	SN          string // "account|…", the 6.4 accounts_sn
	UserSN      string // the account it belongs to
	TaskSN      string
	Phone       string
	Name        string
	Connected   bool
	TalkSeconds int
	Grade       string // 意向等级 A–F
	ManualGrade string // 人工分类 (status_manual); "" when no person classified the call
	ScreenPop   int    // fs_push_screens: 0, 1 弹屏, 2 坐席未在线弹屏
	Reason      string // why it did not connect
	StartedAt   time.Time
	ConnectedAt time.Time // zero when not connected
	EndedAt     time.Time
	RecordPath  string
	RecordFile  string // "" when not connected
	Pushed      bool   // a push of it was answered SUCCESS
}

// CallRecords returns every call record of every account, oldest first.
func (s *Server) CallRecords() []CallRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []CallRecord
	for _, tn := range s.tenants {
		for _, r := range tn.records {
			cr := CallRecord{ID: r.id, SN: r.sn, UserSN: tn.acct.UserSN, TaskSN: r.t.sn, Phone: r.ct.phone,
				Name: r.ct.name, Connected: !r.connected.IsZero(), TalkSeconds: r.talk, Grade: r.grade, ManualGrade: r.manual,
				ScreenPop: r.screen, Reason: r.reason,
				StartedAt: r.started, ConnectedAt: r.connected, EndedAt: r.ended, RecordFile: r.file, Pushed: r.pushed}
			if r.file != "" {
				cr.RecordPath = recordRoot
			}
			out = append(out, cr)
		}
	}
	slices.SortStableFunc(out, func(a, b CallRecord) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// crmList serves 6.1: data.total and data.list, newest first, pageSize 10 by default. Filters:
// created_at between start_create_at and end_create_at, phone, namephone (part of the number or
// name), dial_task_main_sn, project_sn, talktimes_min/max, ids_json, and the intent grade — the
// field named by status_search ("status" or "status_manual") in status_value (a list) or, the
// older form, status ("A,B").
func (s *Server) crmList(c *call) (any, error) {
	from, to, err := timeRange(c, "start_create_at", "end_create_at", false)
	if err != nil {
		return nil, err
	}
	tmin, err1 := intParam(c.p, "talktimes_min", -1)
	tmax, err2 := intParam(c.p, "talktimes_max", -1)
	if err1 != nil || err2 != nil {
		return nil, fail(digelao.CodeBadData)
	}
	phone, namephone := c.p.str("phone"), c.p.str("namephone")
	taskSN, projectSN := c.p.str("dial_task_main_sn"), c.p.str("project_sn")
	ids := listParam(c.p, "ids_json")
	field := c.p.str("status_search")
	grades := listParam(c.p, "status_value")
	if len(grades) == 0 && field != "status_manual" {
		grades = listParam(c.p, "status")
	}
	var match []*record
	for _, r := range slices.Backward(c.t.records) {
		grade := r.grade
		if field == "status_manual" {
			grade = r.manual
		}
		switch {
		case !inRange(r.ended, from, to),
			phone != "" && r.ct.phone != phone,
			namephone != "" && !strings.Contains(r.ct.phone, namephone) && !strings.Contains(r.ct.name, namephone),
			taskSN != "" && r.t.sn != taskSN,
			projectSN != "" && r.t.tpl.SN != projectSN,
			tmin >= 0 && r.talk < tmin,
			tmax >= 0 && r.talk > tmax,
			len(ids) > 0 && !slices.Contains(ids, strconv.FormatInt(r.id, 10)),
			len(grades) > 0 && !slices.Contains(grades, grade):
			continue
		}
		match = append(match, r)
	}
	lo, hi, err := pageOf(c, len(match), 10)
	if err != nil {
		return nil, err
	}
	list := []any{}
	for _, r := range match[lo:hi] {
		list = append(list, r.row())
	}
	return obj("code", 0, "msg", "获取成功", "data", obj("total", len(match), "list", list)), nil
}

func (tn *tenant) record(sn string) *record {
	for _, r := range tn.records {
		if r.sn == sn {
			return r
		}
	}
	return nil
}

// segments returns the segment recordings (6.3) of a connected call, one per customer turn.
func (r *record) segments() []string {
	if r.file == "" {
		return nil
	}
	at := r.connected.In(flex.China)
	base := strings.TrimSuffix(path.Base(r.file), ".wav")
	out := make([]string, r.turns)
	for i := range out {
		out[i] = fmt.Sprintf("%s/%s/segmental_record/%s/subsection_question%s%03d_%s_%d.wav", recordRoot,
			at.Format("20060102"), at.Format("1504"), at.Format("20060102150405"), i+1, base, i+1)
	}
	return out
}

// cdrShow serves 6.4 /api/cdrshow: data.fragment, the dialogue in rounds of [robot turn, customer
// turn]. connected_at must fall on the call's day, as the platform looks calls up by date
// [inferred]; otherwise, like for an unknown call, the fragment is empty.
func (s *Server) cdrShow(c *call) (any, error) {
	sn, at := c.p.str("accounts_sn"), c.p.str("connected_at")
	if sn == "" || at == "" {
		return nil, fail(digelao.CodeBadData)
	}
	day, err := flex.ParseTime(at)
	if err != nil {
		return nil, fail(digelao.CodeBadData)
	}
	script := [...]struct{ title, robot, customer string }{
		{"01问候语+开场白", "您好，我是示例科技的智能客服，打扰您一分钟时间可以吗？", "嗯，你说"},
		{"02产品介绍", "我们近期有一项老客户回馈活动，可以免费为您升级服务。", "什么活动？"},
		{"03邀约", "您看这周方便安排工作人员和您详细沟通一下吗？", "可以，你们安排吧"},
		{"04结束语", "好的，感谢您的接听，祝您生活愉快，再见！", "好的，再见"},
	}
	r := c.t.record(sn)
	rounds := []any{}
	if r != nil && !r.connected.IsZero() && day.In(flex.China).Format(time.DateOnly) == r.connected.In(flex.China).Format(time.DateOnly) {
		for i, seg := range r.segments() {
			node := script[min(i, len(script)-1)]
			if i == r.turns-1 {
				node = script[len(script)-1]
			}
			code := strconv.Itoa(i + 1)
			rounds = append(rounds, []any{
				obj("vocfile", fmt.Sprintf("/usr/local/freeswitch/sounds/%s/%02d.wav", md5Hex(r.t.tpl.SN)[:8], i+1),
					"caption", node.robot, "title", node.title, "answer", "", "fenduanluyin", "", "outType", nil,
					"is_answer", 0, "score", "", "labelling", "", "process_code", code),
				obj("vocfile", "", "caption", "", "title", node.title, "answer", node.customer, "fenduanluyin", seg,
					"outType", nil, "is_answer", 1, "score", "", "labelling", "", "process_code", code),
			})
		}
	}
	return obj("code", 0, "data", obj("fragment", rounds), "msg", "获取成功"), nil
}

// httpError is a reply with an HTTP error status and no envelope, as a missing file gets.
type httpError struct {
	status int
	body   string
}

func (e *httpError) Error() string { return e.body }

func noFile() error { return &httpError{status: http.StatusNotFound, body: "file not found"} }

// maxRecording bounds the length of a generated recording, in seconds.
const maxRecording = 30

// cdrDownload serves 6.2 (GET): the recording of recordpath and recordfile (the full path, as 6.1
// rows carry it, or relative to recordpath), as a WAV file. An unknown file is HTTP 404 [inferred].
func (s *Server) cdrDownload(c *call) (any, error) {
	return recording(c.t, c.p.str("recordpath"), c.p.str("recordfile"))
}

func recording(tn *tenant, dir, name string) (any, error) {
	if name == "" {
		return nil, fail(digelao.CodeBadData)
	}
	for _, r := range tn.records {
		if r.file != "" && (r.file == name || (dir != "" && r.file == path.Join(dir, name))) {
			return &file{name: path.Base(r.file), contentType: "audio/wav", data: wav(r.file, min(r.talk, maxRecording))}, nil
		}
	}
	return nil, noFile()
}

// cdrFragmentDownload serves 6.3 (GET): one segment recording (a fenduanluyin path from 6.4).
func (s *Server) cdrFragmentDownload(c *call) (any, error) {
	name := c.p.str("recordfile")
	if name == "" {
		return nil, fail(digelao.CodeBadData)
	}
	for _, r := range c.t.records {
		if slices.Contains(r.segments(), name) {
			return &file{name: path.Base(name), contentType: "audio/wav", data: wav(name, 2)}, nil
		}
	}
	return nil, noFile()
}

// multiServerCdrDownload serves 6.9 (GET) with its own check instead of user_sn and url: api_key
// (a live login key), timestamp (Unix seconds or "Y-m-d H:i:s", within five minutes) and secret =
// characters 2–9 of md5(api_key + timestamp). A bad secret or timestamp is 10001 [inferred].
func (s *Server) multiServerCdrDownload(c *call) (any, error) {
	key, ts, secret := c.p.str("api_key"), c.p.str("timestamp"), c.p.str("secret")
	at, err := flex.ParseTime(ts)
	if err != nil || ts == "" || secret != md5Slice(key+ts) || at.Sub(c.now).Abs() > loginWindow {
		return nil, fail(digelao.CodeSignature)
	}
	for _, tn := range s.tenants {
		if key != "" && tn.key == key {
			if !c.now.Before(tn.keyUntil) {
				return nil, fail(digelao.CodeAPIKeyExpired)
			}
			return recording(tn, c.p.str("recordpath"), c.p.str("recordfile"))
		}
	}
	return nil, fail(digelao.CodeAPIKeyInvalid)
}

// wav returns a deterministic recording: a RIFF/WAVE file of 8 kHz 16-bit mono PCM holding a
// triangle tone whose pitch depends on name.
func wav(name string, seconds int) []byte {
	const rate = 8000
	n := rate * max(seconds, 1)
	b := make([]byte, 44+2*n)
	le := binary.LittleEndian
	copy(b[0:], "RIFF")
	le.PutUint32(b[4:], uint32(36+2*n)) //nolint:gosec // n is at most maxRecording seconds of samples
	copy(b[8:], "WAVEfmt ")
	le.PutUint32(b[16:], 16)     // fmt chunk size
	le.PutUint16(b[20:], 1)      // PCM
	le.PutUint16(b[22:], 1)      // mono
	le.PutUint32(b[24:], rate)   // sample rate
	le.PutUint32(b[28:], rate*2) // byte rate
	le.PutUint16(b[32:], 2)      // block align
	le.PutUint16(b[34:], 16)     // bits per sample
	copy(b[36:], "data")
	le.PutUint32(b[40:], uint32(2*n)) //nolint:gosec // as above
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	period := 10 + int(h.Sum32()%11) // 400–800 Hz
	for i := range n {
		ph := i % period
		v := (4*ph - period) * 6000 / period // -6000 … 6000 and back
		if 2*ph >= period {
			v = (3*period - 4*ph) * 6000 / period
		}
		le.PutUint16(b[44+2*i:], uint16(int16(v))) //nolint:gosec // v is within ±6000
	}
	return b
}
