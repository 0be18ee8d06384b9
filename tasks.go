package digelao

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/digelao-go/digelao/internal/flex"
)

// TasksService covers platform section 5.x 任务管理: task lists, operations, creation and imports.
//
// The platform names a task two ways, and each call takes the one its page documents: the
// numeric dial_task_main_id (taskID: Operate, Details, ImportState, ImportInfo) or the text
// dial_task_main_sn (taskSN: CancelCalls, CancelByPhone, RedialFailed, AppendTo, and
// RecordListOptions.TaskSN). A Task and a CreatedTask carry both, as ID and SN; List finds a task
// by either.
type TasksService service

// TaskStatus is a task's state: one of the constants below, or the text the platform sent when it
// is none of them. The zero value is no state: "any" in TaskListOptions, "not sent" in a Task.
type TaskStatus string

// Task states, 5.1's status codes.
const (
	TaskRunning  TaskStatus = "0" // 发送中: calling
	TaskFinished TaskStatus = "1" // 已发送: every number called
	TaskPaused   TaskStatus = "4" // 暂停发送: paused, or not started yet
	TaskEnded    TaskStatus = "6" // 终止发送: ended for good
)

// TaskStatuses are the task states the platform documents, in code order.
var taskStatuses = [...]struct {
	status TaskStatus
	name   string
}{{TaskRunning, "发送中"}, {TaskFinished, "已发送"}, {TaskPaused, "暂停发送"}, {TaskEnded, "终止发送"}}

// String returns the platform's name of the state, e.g. "暂停发送", or the state as sent when it
// is not a documented one.
func (s TaskStatus) String() string {
	for _, st := range taskStatuses {
		if st.status == s {
			return st.name
		}
	}
	return string(s)
}

// Known reports whether s is one of the documented states.
func (s TaskStatus) Known() bool { return s.String() != string(s) }

// UnmarshalJSON reads the code, as a number or text (5.4: 4, "4"), or the name (5.1: "发送中").
// Anything else is kept as sent.
func (s *TaskStatus) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	text := ""
	if v != nil {
		text = strings.TrimSpace(fmt.Sprint(v))
	}
	*s = TaskStatus(text)
	for _, st := range taskStatuses {
		if st.name == text {
			*s = st.status
		}
	}
	return nil
}

// MarshalJSON writes a documented state as its code, a number, as 5.4 sends it; any other as text.
func (s TaskStatus) MarshalJSON() ([]byte, error) {
	if s.Known() {
		return []byte(s), nil
	}
	return json.Marshal(string(s))
}

// Task is a task (营销任务) as 5.1 lists it and 5.4 describes it. Numbers may arrive as strings and
// the percentage as "50%"; Extra keeps the members without a field here (ring_groups, priority,
// task_type, …) and Raw the task as received.
type Task struct {
	ID             int64      `json:"dial_task_main_id"` // what Operate, Details and ImportInfo take
	SN             string     `json:"dial_task_main_sn"` // what appends, cancellations and records take
	Name           string     `json:"source"`            // the task's name
	Status         TaskStatus `json:"status"`
	UserSN         string     `json:"user_sn"` // the sub-account (AI seat) that calls
	UserName       string     `json:"user_name"`
	TeamSN         string     `json:"team_sn"`
	TeamName       string     `json:"team_name"`
	ParentSN       string     `json:"parent_sn"`  // the main account's user name
	ProjectSN      string     `json:"project_sn"` // the script template
	ProjectCaption string     `json:"project_caption"`
	Batch          string     `json:"batch"`
	Operator       string     `json:"operator"`
	Remark         string     `json:"remark"`
	Mark           string     `json:"mark"`
	CallerGroup    string     `json:"caller_group"`
	Total          int        `json:"total_count"`  // numbers in the task
	Sent           int        `json:"send_count"`   // numbers called
	Unsent         int        `json:"unsend_count"` // numbers not called yet
	Success        int        `json:"success"`      // connected calls
	Fail           int        `json:"fail"`         // calls that did not connect
	Stops          int        `json:"stops"`        // numbers cancelled [inferred]
	Cancelled      int        `json:"cancel_count"` // 5.4
	Percent        float64    `json:"percent"`      // connected share of the calls, "50%" → 50
	CreatedAt      time.Time  `json:"created_at"`
	ModifiedAt     time.Time  `json:"last_modify"`
	StartedAt      time.Time  `json:"started_at"`
	StoppedAt      time.Time  `json:"stoped_at"`        // (sic)
	ScheduledAt    time.Time  `json:"timed_started_at"` // 5.4

	Extra map[string]json.RawMessage `json:"-"` // members without a field above; marshalled inline
	Raw   json.RawMessage            `json:"-"` // the task as received; not marshalled
}

var taskCodec = flex.NewCodec[Task]()

// UnmarshalJSON decodes a task tolerantly; see Task.
func (t *Task) UnmarshalJSON(b []byte) error { return taskCodec.Decode(b, t) }

// MarshalJSON writes the task with the platform's member names; see Task.
func (t Task) MarshalJSON() ([]byte, error) { return taskCodec.Encode(&t) }

// TaskListOptions filters List.
type TaskListOptions struct {
	ListOptions
	// CreatedFrom and CreatedTo bound the creation time (China time on the wire). When both are
	// zero the platform returns only the tasks created today.
	CreatedFrom, CreatedTo time.Time
	Status                 TaskStatus // "": any state
	SeatSN                 string     // ai_user_sn: tasks of this sub-account
	SeatName               string     // ai_user_name
}

var taskListEndpoint = endpoint{method: http.MethodPost, path: "/api/index", read: true}

// List returns a page of tasks and the number of tasks that match.
//
// Platform API 5.1 任务管理列表 (POST /api/index). Without CreatedFrom and CreatedTo the platform
// returns only today's tasks. The parameters after ai_user_name are cut off on the page.
func (s *TasksService) List(ctx context.Context, opts *TaskListOptions) ([]*Task, int, error) {
	pg, err := s.page(ctx, opts)
	return pg.items, pg.total, err
}

// All returns every task that matches opts, from page opts.Page on, paged as RecordsService.All
// pages. Without CreatedFrom and CreatedTo these are today's tasks only, as for List.
//
// Platform API 5.1 任务管理列表 (POST /api/index); see List.
func (s *TasksService) All(ctx context.Context, opts *TaskListOptions) iter.Seq2[*Task, error] {
	o := TaskListOptions{}
	if opts != nil {
		o = *opts
	}
	return pageAll(ctx, "tasks", &o.ListOptions, func(ctx context.Context, lo *ListOptions) (page[*Task], error) {
		o.ListOptions = *lo
		return s.page(ctx, &o)
	}, func(t *Task) string { return strconv.FormatInt(t.ID, 10) + "|" + t.SN })
}

func (s *TasksService) page(ctx context.Context, opts *TaskListOptions) (page[*Task], error) {
	if opts == nil {
		opts = &TaskListOptions{}
	}
	if err := checkPeriod("CreatedTo", opts.CreatedFrom, opts.CreatedTo); err != nil {
		return page[*Task]{}, err
	}
	if st := opts.Status; st != "" && !st.Known() {
		return page[*Task]{}, invalid("Status", "unknown task state %q", string(st))
	}
	p := NewParams()
	if err := opts.set(p); err != nil {
		return page[*Task]{}, err
	}
	setTime(p, "start_create_at", opts.CreatedFrom)
	setTime(p, "end_create_at", opts.CreatedTo)
	if opts.Status != "" {
		p.Set("status", string(opts.Status))
	}
	setText(p, "ai_user_sn", opts.SeatSN)
	setText(p, "ai_user_name", opts.SeatName)
	return fetchPage(ctx, s.client, taskListEndpoint, p, taskPages, (*listPage[*Task]).page)
}

var taskPages = flex.NewCodec[listPage[*Task]](flex.Inline[Task]())

// TaskOperation is what Operate does to a task.
type TaskOperation string

// Task operations (5.2 oper).
const (
	TaskPause        TaskOperation = "stop"   // 暂停
	TaskResume       TaskOperation = "keepOn" // 继续; also starts a task that has not started
	TaskRedialFailed TaskOperation = "failRe" // 失败重呼: call the failed numbers again
	TaskDelete       TaskOperation = "delete" // 删除
	TaskEnd          TaskOperation = "end"    // 终止
)

var operateEndpoint = endpoint{method: http.MethodPost, path: "/api/operateTask"}

// Operate pauses, resumes, redials the failures of, ends or deletes the task with dial_task_main_id
// taskID (Task.ID, CreatedTask.ID). It is a write: it is not retried unless ctx comes from
// AllowRetry.
//
// Platform API 5.2 操作任务接口 (POST /api/operateTask): pkeys (the task id; the page allows the
// sn too, but not mixed), project_type 2, oper — in the order of the page's example.
func (s *TasksService) Operate(ctx context.Context, taskID int64, op TaskOperation) error {
	switch op {
	case TaskPause, TaskResume, TaskRedialFailed, TaskDelete, TaskEnd:
	default:
		return invalid("op", "unknown task operation %q", op)
	}
	if err := checkTaskID(taskID); err != nil {
		return err
	}
	p := NewParams().Set("pkeys", taskID).Set("project_type", 2).Set("oper", string(op))
	return s.client.fetch(ctx, operateEndpoint, p, nil)
}

// TaskDetail is one number of a task, as 5.4 lists it. The fields after the page's cut-off are
// inferred; Extra and Raw keep everything else.
type TaskDetail struct {
	SN         string    `json:"sn"`          // the number's sn within the task: what CancelCalls takes
	DetailType int       `json:"detail_type"` // what CancelCalls takes with the sn
	TaskSN     string    `json:"dial_task_main_sn"`
	Phone      string    `json:"phone"`
	Name       string    `json:"name"`
	Status     int       `json:"status"`
	CreatedAt  time.Time `json:"created_at"`

	Extra map[string]json.RawMessage `json:"-"` // members without a field above; marshalled inline
	Raw   json.RawMessage            `json:"-"` // the row as received; not marshalled
}

var taskDetailCodec = flex.NewCodec[TaskDetail]()

// UnmarshalJSON decodes a row tolerantly; see TaskDetail.
func (d *TaskDetail) UnmarshalJSON(b []byte) error { return taskDetailCodec.Decode(b, d) }

// MarshalJSON writes the row with the platform's member names.
func (d TaskDetail) MarshalJSON() ([]byte, error) { return taskDetailCodec.Encode(&d) }

// TaskDetails is a page of a task's numbers with the task itself.
type TaskDetails struct {
	Task    *Task         `json:"info"`
	Total   int           `json:"total"` // numbers in the task
	Numbers []*TaskDetail `json:"list"`
}

// detailsPage is the reply of 5.4.
type detailsPage struct {
	Total *int          `json:"total"`
	List  []*TaskDetail `json:"list"`
	Info  *Task         `json:"info"`
}

func (d *detailsPage) page() page[*TaskDetail] { return newPage(d.List, d.Total) }

var (
	detailsEndpoint = endpoint{method: http.MethodPost, path: "/api/getDetailsList", read: true}
	detailsPages    = flex.NewCodec[detailsPage](flex.Inline[TaskDetail](), flex.Inline[Task]())
)

// Details returns the task with dial_task_main_id taskID (Task.ID) and a page of its numbers.
//
// Platform API 5.4 获取任务详情列表接口 (POST /api/getDetailsList): dial_task_main_id and paging.
// The reply's data.info is documented; the per-number rows (data.list) are cut off on the page and
// inferred.
func (s *TasksService) Details(ctx context.Context, taskID int64, opts *ListOptions) (*TaskDetails, error) {
	p, err := detailsParams(taskID, opts)
	if err != nil {
		return nil, err
	}
	var d detailsPage
	if err := fetchWith(ctx, s.client, detailsEndpoint, p, detailsPages, &d); err != nil {
		return nil, err
	}
	pg := d.page()
	return &TaskDetails{Task: d.Info, Total: pg.total, Numbers: pg.items}, nil
}

// AllDetails returns every number of the task with dial_task_main_id taskID, from page opts.Page
// on, paged as RecordsService.All pages.
//
// Platform API 5.4 获取任务详情列表接口 (POST /api/getDetailsList); see Details.
func (s *TasksService) AllDetails(ctx context.Context, taskID int64, opts *ListOptions) iter.Seq2[*TaskDetail, error] {
	return pageAll(ctx, "task details", opts, func(ctx context.Context, o *ListOptions) (page[*TaskDetail], error) {
		p, err := detailsParams(taskID, o)
		if err != nil {
			return page[*TaskDetail]{}, err
		}
		return fetchPage(ctx, s.client, detailsEndpoint, p, detailsPages, (*detailsPage).page)
	}, func(d *TaskDetail) string { return d.SN })
}

func detailsParams(taskID int64, opts *ListOptions) (*Params, error) {
	if err := checkTaskID(taskID); err != nil {
		return nil, err
	}
	p := NewParams()
	if err := opts.set(p); err != nil {
		return nil, err
	}
	return p.Set("dial_task_main_id", taskID), nil
}

// CancelResult counts the numbers a cancellation asked for and how many were cancelled.
type CancelResult struct {
	Total   int `json:"total"`
	Success int `json:"success"`
	Fail    int `json:"fail"`
}

var cancelResultCodec = flex.NewCodec[CancelResult]()

var (
	cancelEndpoint        = endpoint{method: http.MethodPost, path: "/api/cancelCall"}
	cancelByPhoneEndpoint = endpoint{method: http.MethodPost, path: "/api/cancelCallCallee"}
)

// CancelCalls cancels numbers of the task taskSN that have not been called yet, named by their 5.4
// rows (SN and DetailType).
//
// Platform API 5.3 任务取消呼叫接口 (POST /api/cancelCall): dial_task_main_sn, sn[] and
// detail_type[]. The page names the lists in PHP form style; in the JSON body they are sent as
// arrays "sn" and "detail_type", one detail_type per sn [inferred: PHP reads both alike].
func (s *TasksService) CancelCalls(ctx context.Context, taskSN string, numbers ...*TaskDetail) (*CancelResult, error) {
	if err := required("taskSN", taskSN); err != nil {
		return nil, err
	}
	if len(numbers) == 0 {
		return nil, invalid("numbers", "at least one is required")
	}
	sns := make([]string, len(numbers))
	types := make([]string, len(numbers))
	for i, n := range numbers {
		if n == nil || strings.TrimSpace(n.SN) == "" {
			return nil, invalid(fmt.Sprintf("numbers[%d].SN", i), "is required")
		}
		sns[i], types[i] = n.SN, strconv.Itoa(n.DetailType)
	}
	p := NewParams().Set("dial_task_main_sn", taskSN).Set("sn", sns).Set("detail_type", types)
	var res CancelResult
	if err := fetchWith(ctx, s.client, cancelEndpoint, p, cancelResultCodec, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// CancelByPhone cancels the numbers phones of the task taskSN that have not been called yet. The
// platform warns that it is slow ("耗时,谨慎使用").
//
// Platform API 5.3.2 任务取消呼叫接口(按号码) (POST /api/cancelCallCallee): dial_task_main_sn and
// callee (comma separated). The page lists "apikey" among the parameters; the client sends the
// common api_key, as on every other call [inferred: a typo on the page], and not the optional
// customer-specific "filed".
func (s *TasksService) CancelByPhone(ctx context.Context, taskSN string, phones ...string) (*CancelResult, error) {
	if err := required("taskSN", taskSN); err != nil {
		return nil, err
	}
	if len(phones) == 0 {
		return nil, invalid("phones", "at least one is required")
	}
	callees := make([]string, len(phones))
	for i, ph := range phones {
		var err error
		if callees[i], err = phoneNumber(fmt.Sprintf("phones[%d]", i), ph); err != nil {
			return nil, err
		}
	}
	p := NewParams().Set("dial_task_main_sn", taskSN).Set("callee", strings.Join(callees, ","))
	var res CancelResult
	if err := fetchWith(ctx, s.client, cancelByPhoneEndpoint, p, cancelResultCodec, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// Recall is a failure recall policy: how often and how far apart numbers whose calls failed for
// one of Reasons are called again.
type Recall struct {
	Times    int           // total_fail_recall_times
	Interval time.Duration // fail_recall_interval, sent in whole minutes
	// Reasons names the call results to recall, e.g. ResultPowerOff.String() ("关机"), "无人应答".
	// The platform's own list: 关机,来电提醒,稍后再拨,停机,无法接通,正在通话中,用户正忙,用户拒接,欠费,无人应答,其他.
	Reasons []string
}

func (r *Recall) check() error {
	if r.Times < 1 {
		return invalid("Recall.Times", "must be at least 1, got %d", r.Times)
	}
	if r.Interval < 0 || r.Interval%time.Minute != 0 {
		return invalid("Recall.Interval", "must be whole minutes and not negative, got %s", r.Interval)
	}
	if len(r.Reasons) == 0 {
		return invalid("Recall.Reasons", "at least one reason is required")
	}
	for _, reason := range r.Reasons {
		if reason == "" || strings.Contains(reason, ",") {
			return invalid("Recall.Reasons", "%q is not a reason name", reason)
		}
	}
	return nil
}

// set appends the policy's parameters in the order clients send them to 5.7.2.
func (r *Recall) set(p *Params) {
	p.Set("total_fail_recall_times", r.Times).Set("fail_recall_interval", r.minutes()).
		Set("fail_recall_of_reason", r.reasons())
}

func (r *Recall) minutes() int    { return int(r.Interval / time.Minute) }
func (r *Recall) reasons() string { return strings.Join(r.Reasons, ",") }

// RedialRequest is how RedialFailed calls a task's failed numbers again.
type RedialRequest struct {
	// InPlace calls them again in the task itself (recall_manual 1); otherwise a new task named
	// NewTaskName is created for them (0).
	InPlace     bool
	NewTaskName string // task_name; the page marks it required even for InPlace
	Recall      Recall
}

// RedialResult is the reply of RedialFailed. The reply is not documented; the fields are inferred
// and Extra and Raw keep the rest.
type RedialResult struct {
	TaskSN string `json:"dial_task_main_sn"` // the task that calls the numbers
	Total  int    `json:"total"`             // numbers to call again

	Extra map[string]json.RawMessage `json:"-"`
	Raw   json.RawMessage            `json:"-"`
}

var (
	redialEndpoint    = endpoint{method: http.MethodPost, path: "/api/failRecall"}
	redialResultCodec = flex.NewCodec[RedialResult]()
)

// RedialFailed calls again the numbers of the task taskSN whose calls failed for one of the
// recall's reasons. It is a write: not retried unless ctx comes from AllowRetry.
//
// Platform API 5.5 任务失败重呼接口 (POST /api/failRecall): dial_task_main_sn, recall_manual,
// fail_recall_of_reason, total_fail_recall_times, fail_recall_interval (minutes), task_name — all
// required, sent in the page's order. The reply is cut off on the page; its dial_task_main_sn and
// total are read when present [inferred].
func (s *TasksService) RedialFailed(ctx context.Context, taskSN string, req *RedialRequest) (*RedialResult, error) {
	if err := required("taskSN", taskSN); err != nil {
		return nil, err
	}
	if req == nil {
		return nil, invalid("RedialRequest", "is nil")
	}
	if err := checkTaskName("NewTaskName", req.NewTaskName); err != nil {
		return nil, err
	}
	if err := req.Recall.check(); err != nil {
		return nil, err
	}
	p := NewParams().Set("dial_task_main_sn", taskSN).Set("recall_manual", req.InPlace).
		Set("fail_recall_of_reason", req.Recall.reasons()).Set("total_fail_recall_times", req.Recall.Times).
		Set("fail_recall_interval", req.Recall.minutes()).Set("task_name", req.NewTaskName)
	var res RedialResult
	if err := fetchWith(ctx, s.client, redialEndpoint, p, redialResultCodec, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// ImportStatus is the state of an asynchronous import and of its task (5.7.3).
type ImportStatus int

// Import states (5.7.3 status).
const (
	ImportWaiting      ImportStatus = 0  // 未处理
	ImportRunning      ImportStatus = 1  // 导入中
	ImportFailed       ImportStatus = 3  // 导入失败
	ImportedNotStarted ImportStatus = 20 // 任务未发送: imported, task not started
	ImportedFinished   ImportStatus = 21 // 发送完成
	ImportedCalling    ImportStatus = 22 // 正在发送
	ImportedCallFailed ImportStatus = 23 // 发送失败
	ImportedPaused     ImportStatus = 24 // 暂停发送
)

var importStatusNames = map[ImportStatus]string{
	ImportWaiting: "未处理", ImportRunning: "导入中", ImportFailed: "导入失败", ImportedNotStarted: "任务未发送",
	ImportedFinished: "发送完成", ImportedCalling: "正在发送", ImportedCallFailed: "发送失败", ImportedPaused: "暂停发送",
}

// String returns the platform's name of the state, e.g. "导入中".
func (s ImportStatus) String() string {
	if n, ok := importStatusNames[s]; ok {
		return n
	}
	return "ImportStatus(" + strconv.Itoa(int(s)) + ")"
}

// Done reports whether the import is over, successfully (20 and up) or not (3).
func (s ImportStatus) Done() bool { return s == ImportFailed || s >= ImportedNotStarted }

// ImportState is the reply of ImportState.
type ImportState struct {
	Status      ImportStatus `json:"status"`
	Description string       `json:"desc"`           // e.g. "导入中"
	Percent     float64      `json:"import_percent"` // "0%" → 0

	Extra map[string]json.RawMessage `json:"-"` // marshalled inline
	Raw   json.RawMessage            `json:"-"` // not marshalled
}

var importStateCodec = flex.NewCodec[ImportState]()

// UnmarshalJSON decodes the state tolerantly.
func (st *ImportState) UnmarshalJSON(b []byte) error { return importStateCodec.Decode(b, st) }

// MarshalJSON writes the state with the platform's member names.
func (st ImportState) MarshalJSON() ([]byte, error) { return importStateCodec.Encode(&st) }

// ImportState returns the state of the asynchronous import of the task with dial_task_main_id
// taskID (Task.ID, CreatedTask.ID).
//
// Platform API 5.7.3 异步建任务后获取结果 (POST): the page gives no request path in any copy of the
// documentation; give the one the vendor gave for the deployment with WithImportStatePath, or
// ImportState fails before sending. It answers code 200 rather than 0, and import_percent as a
// string ("0%"). ImportInfo (5.7.4) answers the same question at a documented path.
func (s *TasksService) ImportState(ctx context.Context, taskID int64) (*ImportState, error) {
	if err := checkTaskID(taskID); err != nil {
		return nil, err
	}
	path := s.client.importStatePath
	if path == "" {
		return nil, invalid("WithImportStatePath", "5.7.3 has no documented path: set the deployment's with WithImportStatePath, or use ImportInfo")
	}
	ep := endpoint{method: http.MethodPost, path: path, read: true}
	var st ImportState
	if err := fetchWith(ctx, s.client, ep, NewParams().Set("dial_task_main_id", taskID), importStateCodec, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// ImportCounts are the counters of an import (import_mark): pushed by 5.7.15 and returned by
// 5.7.4. The documentation names the counters but cuts off their descriptions; the meanings of
// the pinyin ones are inferred. Each may arrive as a number or a string.
type ImportCounts struct {
	Total     int `json:"totalCount"`     // 导入总数
	Success   int `json:"successCount"`   // 成功
	Fail      int `json:"failCount"`      // 失败
	Blacklist int `json:"blacklistCount"` // on the do-not-call list
	Repeat    int `json:"repeatCount"`    // duplicates
	Filter    int `json:"filterCount"`    // filtered out
	Invalid   int `json:"shiCount"`       // [inferred: 失效, numbers judged invalid]
	Empty     int `json:"kongCount"`      // [inferred: 空号, numbers that do not exist]
	Suspended int `json:"tingjiCount"`    // [inferred: 停机, out of service]
	NotInDB   int `json:"kuwuCount"`      // [inferred: 库无, unknown to the number database]
	Silent    int `json:"chenmoCount"`    // [inferred: 沉默号, long-inactive numbers]
	Risky     int `json:"fenxianCount"`   // [inferred: 风险号, risk-flagged numbers]
	OverLimit int `json:"chaopinCount"`   // [inferred: 超频, called too often]
}

var importCountsCodec = flex.NewCodec[ImportCounts]()

// UnmarshalJSON decodes the counters. A counter that is not a number is an error.
func (c *ImportCounts) UnmarshalJSON(b []byte) error { return importCountsCodec.Decode(b, c) }

// MarshalJSON writes the counters with the platform's member names.
func (c ImportCounts) MarshalJSON() ([]byte, error) { return importCountsCodec.Encode(&c) }

// RejectedRow is a row an import refused, with its original (Chinese-keyed) columns.
type RejectedRow map[string]string

// UnmarshalJSON reads the columns, whose values may arrive as strings, numbers or null.
func (r *RejectedRow) UnmarshalJSON(b []byte) error {
	var cols map[string]json.RawMessage
	if err := json.Unmarshal(b, &cols); err != nil {
		return err
	}
	*r = make(RejectedRow, len(cols))
	for k, v := range cols {
		s, err := flex.Text(v)
		if err != nil {
			return err
		}
		(*r)[k] = s
	}
	return nil
}

// ImportInfo is the result of an import (5.7.4).
type ImportInfo struct {
	Percent  float64       `json:"import_percent"` // 100 when done (an integer here, unlike 5.7.3's "0%")
	Batch    string        `json:"batch"`
	Mark     string        `json:"mark"`
	Counts   ImportCounts  `json:"import_mark"`
	Rejected []RejectedRow `json:"import_fail_data"` // the rows the import refused

	Extra map[string]json.RawMessage `json:"-"` // marshalled inline
	Raw   json.RawMessage            `json:"-"` // not marshalled
}

var importInfoCodec = flex.NewCodec[ImportInfo]()

// UnmarshalJSON decodes the result tolerantly.
func (i *ImportInfo) UnmarshalJSON(b []byte) error { return importInfoCodec.Decode(b, i) }

// MarshalJSON writes the result with the platform's member names.
func (i ImportInfo) MarshalJSON() ([]byte, error) { return importInfoCodec.Encode(&i) }

var importInfoEndpoint = endpoint{method: http.MethodPost, path: "/api/getImportTaskInfo", read: true}

// ImportInfo returns the progress and result of the import into the task with dial_task_main_id
// taskID (Task.ID, CreatedTask.ID): counters and rejected rows.
//
// Platform API 5.7.4 获取异步导入任务结果数据接口 (POST /api/getImportTaskInfo), server version 7.2
// and later. The same result is pushed to the task callback (5.7.15) as an ImportResult.
func (s *TasksService) ImportInfo(ctx context.Context, taskID int64) (*ImportInfo, error) {
	if err := checkTaskID(taskID); err != nil {
		return nil, err
	}
	var info ImportInfo
	if err := fetchWith(ctx, s.client, importInfoEndpoint, NewParams().Set("dial_task_main_id", taskID), importInfoCodec, &info); err != nil {
		return nil, err
	}
	return &info, nil
}

// checkTaskID checks a dial_task_main_id.
func checkTaskID(taskID int64) error {
	if taskID <= 0 {
		return invalid("taskID", "must be a dial_task_main_id (Task.ID), got %d", taskID)
	}
	return nil
}

var batchStatusEndpoint = endpoint{method: http.MethodPost, path: "/api/taskBatchImportStatus", read: true}

// batchStatus is the reply of 5.10: status beside code.
type batchStatus struct {
	Done bool `json:"status"` // 1 every number called, 0 not
}

var batchStatusCodec = flex.NewCodec[batchStatus]()

// BatchesCalled reports whether every number of the batch tasks of the sub-account userName (of
// every sub-account when empty) has been called.
//
// Platform API 5.10 批次任务是否全部呼叫完成 (POST /api/taskBatchImportStatus), marked as a
// customer-specific extension ("巧虎定制"): optional user_name; the reply carries status (1 done,
// 0 not) next to code, outside data.
func (s *TasksService) BatchesCalled(ctx context.Context, userName string) (bool, error) {
	p := NewParams()
	setText(p, "user_name", userName)
	var w batchStatus
	if err := fetchBodyWith(ctx, s.client, batchStatusEndpoint, p, batchStatusCodec, &w); err != nil {
		return false, err
	}
	return w.Done, nil
}

var exportModelEndpoint = endpoint{method: http.MethodGet, path: "/api/exportModel", read: true}

// ImportColumns returns the import columns of the script template projectSN: the keys of every
// contact row, in order, "*" marking the required ones.
//
// Platform API 5.11 下载话术模板接口 (GET /api/exportModel) with type=json, which answers
// {"data":[["姓名","*电话",…]]}.
func (s *TasksService) ImportColumns(ctx context.Context, projectSN string) (Columns, error) {
	if err := required("projectSN", projectSN); err != nil {
		return nil, err
	}
	var rows [][]string
	p := NewParams().Set("project_sn", projectSN).Set("type", "json")
	if err := s.client.fetch(ctx, exportModelEndpoint, p, &rows); err != nil {
		return nil, err
	}
	if len(rows) == 0 || len(rows[0]) == 0 {
		return nil, &APIError{HTTPStatus: http.StatusOK, Method: exportModelEndpoint.method,
			Path: exportModelEndpoint.path, Msg: "the template lists no columns"}
	}
	return parseColumns(rows[0]), nil
}

var exportModelFileEndpoint = endpoint{method: http.MethodGet, path: "/api/exportModel", read: true, stream: true}

// DownloadImportTemplate streams the xlsx import template of the script template projectSN into
// w and returns the bytes written. Retries and errors are as for RecordsService.Download.
//
// Platform API 5.11 下载话术模板接口 (GET /api/exportModel) without type.
func (s *TasksService) DownloadImportTemplate(ctx context.Context, projectSN string, w io.Writer) (int64, error) {
	if err := required("projectSN", projectSN); err != nil {
		return 0, err
	}
	return s.client.download(ctx, exportModelFileEndpoint, NewParams().Set("project_sn", projectSN), w)
}

// checkTaskName applies 5.7.2's rule for a task name, "只支持中英文小括号数字": letters, Chinese
// characters, parentheses (ASCII or full-width) and digits only.
func checkTaskName(field, name string) error {
	if name == "" {
		return invalid(field, "is required")
	}
	for _, r := range name {
		ascii := r <= unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r))
		if !ascii && !unicode.Is(unicode.Han, r) && !strings.ContainsRune("()（）", r) {
			return invalid(field, "may hold only letters, Chinese characters, digits and parentheses, not %q", r)
		}
	}
	return nil
}

// CreateTaskRequest creates a task with contacts, or adds contacts to a task (AppendTo).
type CreateTaskRequest struct {
	Name      string // source: the task's name; letters, Chinese characters, digits and parentheses
	ProjectSN string // the script template (project_sn), from Templates.List
	SeatSN    string // ai_user_sn: the sub-account (AI seat) that calls
	AutoStart bool   // is_zidong "on": start calling once imported; otherwise start with Operate(TaskResume)
	Recall    *Recall
	// AppendTo, when set, adds the contacts to this task (its dial_task_main_sn) instead of
	// creating one. New tasks are limited to 100 a day; appending is not. Appending to a finished
	// task pauses it until TaskResume.
	AppendTo string
	Columns  Columns   // the template's columns, from ImportColumns
	Contacts []Contact // at most BatchSize for Create and CreateAsync
	// BatchSize is the most contacts one import carries: 1 to MaxImportRows, 0 for MaxImportRows.
	// Create and CreateAsync send one import; ImportInBatches and ImportBatches send Contacts in
	// imports of BatchSize.
	BatchSize int
}

// Validate reports the first problem that would stop the request before anything is sent: the
// name, template, seat, recall settings and batch size, and — once Columns is set — every contact
// (at most BatchSize, as for Create). It lets a program check its input before fetching the
// columns.
func (req *CreateTaskRequest) Validate() error {
	if err := req.check(); err != nil || len(req.Columns) == 0 {
		return err
	}
	_, err := req.rows()
	return err
}

func (req *CreateTaskRequest) check() error {
	if req == nil {
		return invalid("CreateTaskRequest", "is nil")
	}
	if err := checkTask(req.Name, req.ProjectSN, req.SeatSN, req.Recall); err != nil {
		return err
	}
	if req.BatchSize < 0 || req.BatchSize > MaxImportRows {
		return invalid("BatchSize", "must be between 1 and %d, or 0 for the maximum, got %d", MaxImportRows, req.BatchSize)
	}
	return nil
}

// batch returns the most contacts one import of the request carries.
func (req *CreateTaskRequest) batch() int {
	if req.BatchSize == 0 {
		return MaxImportRows
	}
	return req.BatchSize
}

// checkTask checks what every task creation takes: a name the platform accepts, the template, the
// seat and the recall settings.
func checkTask(name, projectSN, seatSN string, recall *Recall) error {
	if err := checkTaskName("Name", name); err != nil {
		return err
	}
	if err := required("ProjectSN", projectSN, "SeatSN", seatSN); err != nil {
		return err
	}
	if recall != nil {
		return recall.check()
	}
	return nil
}

// params returns the request's parameters with info as its client_info_json: the documented ones
// in the page's order, then those clients send after the cut-off.
func (req *CreateTaskRequest) params(info rowBatch) *Params {
	p := NewParams().Set("project_sn", req.ProjectSN).Set("source", req.Name).
		Set("client_info_json", info).Set("ai_user_sn", req.SeatSN)
	return setTaskOptions(p, req.AutoStart, req.Recall, req.AppendTo)
}

// setTaskOptions sets what every task creation sends after its contacts: is_zidong, the recall
// fields and the task to append to.
func setTaskOptions(p *Params, autoStart bool, recall *Recall, appendTo string) *Params {
	if autoStart {
		p.Set("is_zidong", "on")
	}
	if recall != nil {
		p.Set("is_auto_fail_recall", 1)
		recall.set(p)
	}
	setText(p, "dial_task_main_sn", appendTo)
	return p
}

// CreatedTask is the reply to a creation or an append. The reply is not documented; the fields are
// inferred, and Extra and Raw keep the rest as received.
type CreatedTask struct {
	ID     int64         `json:"dial_task_main_id"` // for Operate, Details and ImportInfo
	SN     string        `json:"dial_task_main_sn"` // for appending and for records
	Counts *ImportCounts `json:"import_mark"`       // the import's counters, when the reply carries them (Create does)
	// Rejected are the rows the import refused, with their original columns, when the reply lists
	// them (CreateBatch's does).
	Rejected []RejectedRow `json:"import_fail_data"`

	Extra map[string]json.RawMessage `json:"-"` // marshalled inline
	Raw   json.RawMessage            `json:"-"` // not marshalled
}

var createdTaskCodec = flex.NewCodec[CreatedTask]()

// UnmarshalJSON decodes the reply tolerantly.
func (t *CreatedTask) UnmarshalJSON(b []byte) error { return createdTaskCodec.Decode(b, t) }

// MarshalJSON writes the reply with the platform's member names.
func (t CreatedTask) MarshalJSON() ([]byte, error) { return createdTaskCodec.Encode(&t) }

var (
	createEndpoint      = endpoint{method: http.MethodPost, path: "/api/addJson"}
	createAsyncEndpoint = endpoint{method: http.MethodPost, path: "/api/addJsonOfAsync"}
)

// Create creates a task with contacts, or adds them to req.AppendTo, and answers once they are
// imported. The contacts are checked against req.Columns first — phone, required and unknown
// columns, at most MaxImportRows — and nothing is sent when one is wrong. It is a write: not
// retried unless ctx comes from AllowRetry, since a repeat would create a second task.
//
// POST /api/addJson: the synchronous form of platform API 5.7.2 新建外呼任务接口(json方式), seen in
// client code; its page is cut off before it. The reply's fields are inferred.
func (s *TasksService) Create(ctx context.Context, req *CreateTaskRequest) (*CreatedTask, error) {
	return s.create(ctx, createEndpoint, req)
}

// CreateAsync is Create that answers at once: the import runs on the platform, and its result
// comes from ImportResult or the task callback (5.7.15, see SetCallback).
//
// Platform API 5.7.2 新建外呼任务接口(json方式) (POST /api/addJsonOfAsync): project_sn, source,
// client_info_json ({"data":[rows]} as a nested object), ai_user_sn, then, past the page's
// cut-off, is_zidong and the recall fields as clients send them. The reply's fields are inferred.
func (s *TasksService) CreateAsync(ctx context.Context, req *CreateTaskRequest) (*CreatedTask, error) {
	return s.create(ctx, createAsyncEndpoint, req)
}

func (s *TasksService) create(ctx context.Context, ep endpoint, req *CreateTaskRequest) (*CreatedTask, error) {
	if err := req.check(); err != nil {
		return nil, err
	}
	rows, err := req.rows()
	if err != nil {
		return nil, err
	}
	return s.send(ctx, ep, req.params(rowBatch{rows, 0}))
}

// rows checks the contacts against the columns, for one import.
func (req *CreateTaskRequest) rows() (*contactRows, error) {
	if n := req.batch(); len(req.Contacts) > n {
		return nil, invalid("Contacts", "%d rows: one import takes at most %d (use ImportInBatches)", len(req.Contacts), n)
	}
	return req.Columns.rows(req.Contacts, MaxImportRows)
}

func (s *TasksService) send(ctx context.Context, ep endpoint, p *Params) (*CreatedTask, error) {
	r, err := s.client.call(ctx, ep, p)
	if err != nil {
		return nil, err
	}
	task := &CreatedTask{Raw: r.data}
	if len(r.data) > 0 && r.data[0] == '{' { // the reply is undocumented: take what is there
		if err := task.UnmarshalJSON(r.data); err != nil {
			return nil, s.client.decodeErr(ep, err)
		}
	}
	return task, nil
}

// BatchImport is how far ImportInBatches got.
type BatchImport struct {
	Task    *CreatedTask // the task the contacts went to; nil when the first batch failed
	Sent    int          // contacts the platform accepted for import, in whole batches
	Batches int          // batches accepted
}

// ImportInBatches imports any number of contacts: the first batch of at most req.BatchSize
// (MaxImportRows when 0) creates the task — or goes to req.AppendTo — and the others are appended
// to it by its dial_task_main_sn, since new tasks are limited to 100 a day. Every contact is checked
// before the first batch is sent. Batches use CreateAsync; check each with ImportResult.
//
// When a batch fails, ImportInBatches stops and returns what was sent so far with the error;
// resume with req.AppendTo set to the returned task's SN and the contacts from Sent on. Like
// Create, it is not retried unless ctx comes from AllowRetry. ImportBatches does the same one
// batch at a time.
//
// Platform API 5.7.2 新建外呼任务接口(json方式) (POST /api/addJsonOfAsync), once per batch; see
// CreateAsync. That the reply names the new task's dial_task_main_sn is inferred.
func (s *TasksService) ImportInBatches(ctx context.Context, req *CreateTaskRequest) (*BatchImport, error) {
	var res *BatchImport
	for got, err := range s.ImportBatches(ctx, req) {
		if err != nil {
			return got, err
		}
		res = got
	}
	return res, nil
}

// ImportBatches is ImportInBatches one batch at a time: after each batch the platform accepted it
// yields how far the import got, so that a caller can report it, or wait for the batch's import
// (ImportInfo) before the next one is sent. Breaking out of the loop sends no more batches. A
// failure is yielded last, with how far the import got (nil when nothing was sent).
//
// Platform API 5.7.2 新建外呼任务接口(json方式) (POST /api/addJsonOfAsync), once per batch; see
// ImportInBatches.
func (s *TasksService) ImportBatches(ctx context.Context, req *CreateTaskRequest) iter.Seq2[*BatchImport, error] {
	return func(yield func(*BatchImport, error) bool) {
		if err := req.check(); err != nil {
			yield(nil, err)
			return
		}
		batchSize := req.batch()
		rows, err := req.Columns.rows(req.Contacts, batchSize)
		if err != nil {
			yield(nil, err)
			return
		}
		next := *req
		res := &BatchImport{}
		for b := range rows.sizes {
			n := min(batchSize, len(req.Contacts)-res.Sent)
			created, err := s.send(ctx, createAsyncEndpoint, next.params(rowBatch{rows, b}))
			if err != nil {
				yield(res.copy(), &batchError{batch: res.Batches + 1, from: res.Sent + 1, to: res.Sent + n, err: err})
				return
			}
			res.Sent += n
			res.Batches++
			if res.Task == nil {
				res.Task = created
				if next.AppendTo == "" && res.Sent < len(req.Contacts) {
					if created.SN == "" {
						yield(res.copy(), &APIError{HTTPStatus: http.StatusOK, Method: http.MethodPost, Path: createAsyncEndpoint.path,
							Msg: "the reply names no dial_task_main_sn to append the other batches to"})
						return
					}
					next.AppendTo = created.SN
				}
			}
			if !yield(res.copy(), nil) {
				return
			}
		}
	}
}

// batchError is the failure of one batch of ImportBatches: which contacts it carried, counted from
// 1, and the cause, which errors.Is and errors.As see.
type batchError struct {
	batch, from, to int
	err             error
}

func (e *batchError) Error() string {
	return fmt.Sprintf("digelao: batch %d (contacts %d to %d): %s", e.batch, e.from, e.to,
		strings.TrimPrefix(e.err.Error(), "digelao: "))
}

func (e *batchError) Unwrap() error { return e.err }

// copy returns a copy of b, so that what ImportBatches yields stays as it was.
func (b *BatchImport) copy() *BatchImport {
	c := *b
	return &c
}

// ExcelTaskRequest creates a task from an Excel workbook, or adds its contacts to a task
// (AppendTo). The workbook is the script template's import template (DownloadImportTemplate)
// filled in; the platform reads the rows, so the SDK does not check them.
type ExcelTaskRequest struct {
	Name      string // source: the task's name; letters, Chinese characters, digits and parentheses
	ProjectSN string // the script template (project_sn)
	SeatSN    string // ai_user_sn: the sub-account (AI seat) that calls
	AutoStart bool   // is_zidong "on": start calling once imported
	Recall    *Recall
	AppendTo  string // when set, the dial_task_main_sn of the task to add the contacts to
	File      File   // .xlsx only, as the page says
}

var createExcelEndpoint = endpoint{method: http.MethodPost, path: "/api/addExcelOfAsync"}

// CreateFromExcel creates a task from req.File, or appends its contacts to req.AppendTo, and
// answers at once: the import runs on the platform, and its result — counts and rejected rows —
// comes from ImportResult or the task callback (5.7.15). The file is streamed, never held in
// memory (see File). It is a write: not retried unless ctx comes from AllowRetry and the file's
// content can seek back.
//
// Platform API 5.7.1 新建外呼任务接口(excel方式) (POST /api/addExcelOfAsync), multipart: project_sn,
// source, upload, ai_user_sn, then — past the page's cut-off — is_zidong, the recall fields and
// dial_task_main_sn as for 5.7.2 [inferred]. New tasks count against the 100 a day.
func (s *TasksService) CreateFromExcel(ctx context.Context, req *ExcelTaskRequest) (*CreatedTask, error) {
	if req == nil {
		return nil, invalid("ExcelTaskRequest", "is nil")
	}
	if err := checkTask(req.Name, req.ProjectSN, req.SeatSN, req.Recall); err != nil {
		return nil, err
	}
	file, err := uploadFile(&req.File, ".xlsx")
	if err != nil {
		return nil, err
	}
	p := NewParams().Set("project_sn", req.ProjectSN).Set("source", req.Name).Set("ai_user_sn", req.SeatSN)
	return s.send(ctx, createExcelEndpoint, setTaskOptions(p, req.AutoStart, req.Recall, req.AppendTo).Set(uploadField, file))
}

// BatchRequest creates a batch task from an Excel workbook.
type BatchRequest struct {
	Name      string // batch_name
	ProjectSN string // project_sn: the script template
	SeatSN    string // ai_user_sn: the sub-account the batch belongs to (归属人)
	SeatName  string // ai_user_name: that sub-account's user name
	Days      int    // term_value: days until the batch expires; 0 never
	File      File   // the contacts, .xlsx or .xls
}

var createBatchEndpoint = endpoint{method: http.MethodPost, path: "/api/addBatch"}

// CreateBatch creates a batch task from req.File and answers once it is imported ("同步方式").
// The reply is cut off on its page: the task and its counters are read as the synchronous import
// (addJson) answers them, and rejected rows from import_fail_data as 5.7.4 lists them, when present
// [inferred]. When the reply counts rows and none was imported, the result comes with an error
// matching ErrAllRejected. The file is streamed (see File); like every write, it is not retried unless ctx
// comes from AllowRetry and the file's content can seek back.
//
// Platform API 5.8.1 新建批次接口 (POST /api/addBatch), multipart: project_sn, ai_user_sn,
// ai_user_name, batch_name, upload, term_value — all required.
func (s *TasksService) CreateBatch(ctx context.Context, req *BatchRequest) (*CreatedTask, error) {
	if req == nil {
		return nil, invalid("BatchRequest", "is nil")
	}
	if err := required("Name", req.Name, "ProjectSN", req.ProjectSN, "SeatSN", req.SeatSN, "SeatName", req.SeatName); err != nil {
		return nil, err
	}
	if req.Days < 0 {
		return nil, invalid("Days", "must not be negative (0: never expires), got %d", req.Days)
	}
	file, err := uploadFile(&req.File, excelExts...)
	if err != nil {
		return nil, err
	}
	p := NewParams().Set("project_sn", req.ProjectSN).Set("ai_user_sn", req.SeatSN).Set("ai_user_name", req.SeatName).
		Set("batch_name", req.Name).Set("term_value", req.Days).Set(uploadField, file)
	task, err := s.send(ctx, createBatchEndpoint, p)
	if err != nil {
		return nil, err
	}
	if c := task.Counts; c != nil {
		return task, allRejected(createBatchEndpoint, c.Success, c.Total)
	}
	return task, nil
}
