package digelao

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/digelao-go/digelao/internal/flex"
)

// TasksService covers platform section 5.x 任务管理: task lists, operations, creation and imports.
type TasksService service

// TaskStatus is a task's state as 5.1 lists it.
type TaskStatus int

// Task states (5.1 status).
const (
	TaskRunning  TaskStatus = 0 // 发送中: calling
	TaskFinished TaskStatus = 1 // 已发送: every number called
	TaskPaused   TaskStatus = 4 // 暂停发送: paused, or not started yet
	TaskEnded    TaskStatus = 6 // 终止发送: ended for good
)

var taskStatusNames = map[TaskStatus]string{
	TaskRunning: "发送中", TaskFinished: "已发送", TaskPaused: "暂停发送", TaskEnded: "终止发送",
}

// String returns the platform's name of the state, e.g. "暂停发送".
func (s TaskStatus) String() string {
	if n, ok := taskStatusNames[s]; ok {
		return n
	}
	return "TaskStatus(" + strconv.Itoa(int(s)) + ")"
}

// UnmarshalJSON accepts the number (5.4) or the text (5.1 lists "发送中"). Unknown text decodes as
// -1; the task's StatusText keeps it.
func (s *TaskStatus) UnmarshalJSON(b []byte) error {
	var txt flex.String
	if err := json.Unmarshal(b, &txt); err != nil {
		return err
	}
	*s = parseTaskStatus(string(txt))
	return nil
}

func parseTaskStatus(txt string) TaskStatus {
	if n, err := strconv.Atoi(txt); err == nil {
		return TaskStatus(n)
	}
	for st, name := range taskStatusNames {
		if name == txt {
			return st
		}
	}
	return -1
}

// Task is a task (营销任务) as 5.1 lists it and 5.4 describes it. Numbers may arrive as strings
// and the percentage as "50%"; Extra keeps the members without a field here (ring_groups,
// priority, task_type, …) and Raw the task as received.
type Task struct {
	ID             int64  // dial_task_main_id: what Operate, Details and ImportResult take
	SN             string // dial_task_main_sn: what appends, cancellations and records use
	Name           string // source: the task's name
	Status         TaskStatus
	StatusText     string // the status as sent, e.g. "发送中"
	UserSN         string // the sub-account (AI seat) that calls
	UserName       string
	TeamSN         string
	TeamName       string
	ParentSN       string // the main account's user name
	ProjectSN      string // the script template
	ProjectCaption string
	Batch          string
	Operator       string
	Remark         string
	Mark           string
	CallerGroup    string
	Total          int     // total_count: numbers in the task
	Sent           int     // send_count: numbers called
	Unsent         int     // unsend_count
	Success        int     // connected calls
	Fail           int     // calls that did not connect
	Stops          int     // numbers cancelled [inferred]
	Cancelled      int     // cancel_count (5.4)
	Percent        float64 // connected share of the calls, "50%" → 50
	CreatedAt      time.Time
	ModifiedAt     time.Time // last_modify
	StartedAt      time.Time
	StoppedAt      time.Time // stoped_at (sic)
	ScheduledAt    time.Time // timed_started_at (5.4)

	Extra map[string]json.RawMessage
	Raw   json.RawMessage
}

type taskWire struct {
	ID             flex.Int    `json:"dial_task_main_id"`
	SN             flex.String `json:"dial_task_main_sn"`
	Name           flex.String `json:"source"`
	Status         flex.String `json:"status"`
	UserSN         flex.String `json:"user_sn"`
	UserName       flex.String `json:"user_name"`
	TeamSN         flex.String `json:"team_sn"`
	TeamName       flex.String `json:"team_name"`
	ParentSN       flex.String `json:"parent_sn"`
	ProjectSN      flex.String `json:"project_sn"`
	ProjectCaption flex.String `json:"project_caption"`
	Batch          flex.String `json:"batch"`
	Operator       flex.String `json:"operator"`
	Remark         flex.String `json:"remark"`
	Mark           flex.String `json:"mark"`
	CallerGroup    flex.String `json:"caller_group"`
	Total          flex.Int    `json:"total_count"`
	Sent           flex.Int    `json:"send_count"`
	Unsent         flex.Int    `json:"unsend_count"`
	Success        flex.Int    `json:"success"`
	Fail           flex.Int    `json:"fail"`
	Stops          flex.Int    `json:"stops"`
	Cancelled      flex.Int    `json:"cancel_count"`
	Percent        flex.Float  `json:"percent"`
	CreatedAt      flex.Time   `json:"created_at"`
	ModifiedAt     flex.Time   `json:"last_modify"`
	StartedAt      flex.Time   `json:"started_at"`
	StoppedAt      flex.Time   `json:"stoped_at"`
	ScheduledAt    flex.Time   `json:"timed_started_at"`
}

var taskKeys = jsonKeys(taskWire{})

// UnmarshalJSON decodes a task tolerantly; see Task.
func (t *Task) UnmarshalJSON(b []byte) error {
	var w taskWire
	extra, raw, err := decodeLoose(b, &w, taskKeys)
	if err != nil {
		return err
	}
	*t = Task{
		ID: int64(w.ID), SN: string(w.SN), Name: string(w.Name), Status: parseTaskStatus(string(w.Status)),
		StatusText: string(w.Status),
		UserSN:     string(w.UserSN), UserName: string(w.UserName), TeamSN: string(w.TeamSN), TeamName: string(w.TeamName),
		ParentSN: string(w.ParentSN), ProjectSN: string(w.ProjectSN), ProjectCaption: string(w.ProjectCaption),
		Batch: string(w.Batch), Operator: string(w.Operator), Remark: string(w.Remark), Mark: string(w.Mark),
		CallerGroup: string(w.CallerGroup), Total: int(w.Total), Sent: int(w.Sent), Unsent: int(w.Unsent),
		Success: int(w.Success), Fail: int(w.Fail), Stops: int(w.Stops), Cancelled: int(w.Cancelled),
		Percent: float64(w.Percent), CreatedAt: w.CreatedAt.Time, ModifiedAt: w.ModifiedAt.Time,
		StartedAt: w.StartedAt.Time, StoppedAt: w.StoppedAt.Time, ScheduledAt: w.ScheduledAt.Time,
		Extra: extra, Raw: raw,
	}
	return nil
}

// TaskListOptions filters List.
type TaskListOptions struct {
	ListOptions
	// CreatedFrom and CreatedTo bound the creation time (China time on the wire). When both are
	// zero the platform returns only the tasks created today.
	CreatedFrom, CreatedTo time.Time
	Status                 *TaskStatus // nil: any state
	SeatSN                 string      // ai_user_sn: tasks of this sub-account
	SeatName               string      // ai_user_name
}

var taskListEndpoint = endpoint{method: http.MethodPost, path: "/api/index", read: true}

// List returns a page of tasks and the number of tasks that match.
//
// Platform API 5.1 任务管理列表 (POST /api/index). Without CreatedFrom and CreatedTo the platform
// returns only today's tasks. The parameters after ai_user_name are cut off on the page.
func (s *TasksService) List(ctx context.Context, opts *TaskListOptions) ([]*Task, int, error) {
	if opts == nil {
		opts = &TaskListOptions{}
	}
	if err := checkPeriod("CreatedTo", opts.CreatedFrom, opts.CreatedTo); err != nil {
		return nil, 0, err
	}
	if st := opts.Status; st != nil && taskStatusNames[*st] == "" {
		return nil, 0, invalid("Status", "unknown task state %d", int(*st))
	}
	p := NewParams()
	if err := opts.set(p); err != nil {
		return nil, 0, err
	}
	setTime(p, "start_create_at", opts.CreatedFrom)
	setTime(p, "end_create_at", opts.CreatedTo)
	if opts.Status != nil {
		p.Set("status", int(*opts.Status))
	}
	setText(p, "ai_user_sn", opts.SeatSN)
	setText(p, "ai_user_name", opts.SeatName)
	var lp listPage[*Task]
	if err := s.client.fetch(ctx, taskListEndpoint, p, &lp); err != nil {
		return nil, 0, err
	}
	pg := lp.page()
	return pg.items, pg.total, nil
}

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
// id. It is a write: it is not retried unless ctx comes from AllowRetry.
//
// Platform API 5.2 操作任务接口 (POST /api/operateTask): pkeys (the task id; the page allows the
// sn too, but not mixed), project_type 2, oper — in the order of the page's example.
func (s *TasksService) Operate(ctx context.Context, id int64, op TaskOperation) error {
	switch op {
	case TaskPause, TaskResume, TaskRedialFailed, TaskDelete, TaskEnd:
	default:
		return invalid("op", "unknown task operation %q", op)
	}
	if id <= 0 {
		return invalid("id", "must be a dial_task_main_id, got %d", id)
	}
	p := NewParams().Set("pkeys", id).Set("project_type", 2).Set("oper", string(op))
	return s.client.fetch(ctx, operateEndpoint, p, nil)
}

// TaskDetail is one number of a task, as 5.4 lists it. The fields after the page's cut-off are
// inferred; Extra and Raw keep everything else.
type TaskDetail struct {
	SN         string // the number's sn within the task: what CancelCalls takes
	DetailType int    // detail_type: what CancelCalls takes with the sn
	TaskSN     string
	Phone      string
	Name       string
	Status     int
	CreatedAt  time.Time

	Extra map[string]json.RawMessage
	Raw   json.RawMessage
}

type taskDetailWire struct {
	SN         flex.String `json:"sn"`
	DetailType flex.Int    `json:"detail_type"`
	TaskSN     flex.String `json:"dial_task_main_sn"`
	Phone      flex.String `json:"phone"`
	Name       flex.String `json:"name"`
	Status     flex.Int    `json:"status"`
	CreatedAt  flex.Time   `json:"created_at"`
}

var taskDetailKeys = jsonKeys(taskDetailWire{})

// UnmarshalJSON decodes a row tolerantly; see TaskDetail.
func (d *TaskDetail) UnmarshalJSON(b []byte) error {
	var w taskDetailWire
	extra, raw, err := decodeLoose(b, &w, taskDetailKeys)
	if err != nil {
		return err
	}
	*d = TaskDetail{SN: string(w.SN), DetailType: int(w.DetailType), TaskSN: string(w.TaskSN),
		Phone: string(w.Phone), Name: string(w.Name), Status: int(w.Status), CreatedAt: w.CreatedAt.Time,
		Extra: extra, Raw: raw}
	return nil
}

// TaskDetails is a page of a task's numbers with the task itself.
type TaskDetails struct {
	Task    *Task // data.info
	Total   int   // numbers in the task
	Numbers []*TaskDetail
}

var detailsEndpoint = endpoint{method: http.MethodPost, path: "/api/getDetailsList", read: true}

// Details returns the task with dial_task_main_id id and a page of its numbers.
//
// Platform API 5.4 获取任务详情列表接口 (POST /api/getDetailsList): dial_task_main_id and paging.
// The reply's data.info is documented; the per-number rows (data.list) are cut off on the page and
// inferred.
func (s *TasksService) Details(ctx context.Context, id int64, opts *ListOptions) (*TaskDetails, error) {
	if id <= 0 {
		return nil, invalid("id", "must be a dial_task_main_id, got %d", id)
	}
	if opts == nil {
		opts = &ListOptions{}
	}
	p := NewParams()
	if err := opts.set(p); err != nil {
		return nil, err
	}
	p.Set("dial_task_main_id", id)
	var data struct {
		listPage[*TaskDetail]
		Info *Task `json:"info"`
	}
	if err := s.client.fetch(ctx, detailsEndpoint, p, &data); err != nil {
		return nil, err
	}
	pg := data.page()
	return &TaskDetails{Task: data.Info, Total: pg.total, Numbers: pg.items}, nil
}

// CancelResult counts the numbers a cancellation asked for and how many were cancelled.
type CancelResult struct {
	Total   int
	Success int
	Fail    int
}

type cancelWire struct {
	Total   flex.Int `json:"total"`
	Success flex.Int `json:"success"`
	Fail    flex.Int `json:"fail"`
}

func (w cancelWire) result() *CancelResult {
	return &CancelResult{Total: int(w.Total), Success: int(w.Success), Fail: int(w.Fail)}
}

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
	var w cancelWire
	if err := s.client.fetch(ctx, cancelEndpoint, p, &w); err != nil {
		return nil, err
	}
	return w.result(), nil
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
	var w cancelWire
	if err := s.client.fetch(ctx, cancelByPhoneEndpoint, p, &w); err != nil {
		return nil, err
	}
	return w.result(), nil
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

// RedialRequest asks 5.5 to call a task's failed numbers again.
type RedialRequest struct {
	TaskSN string // the task whose failed numbers to call again
	// InPlace calls them again in the task itself (recall_manual 1); otherwise a new task named
	// NewTaskName is created for them (0).
	InPlace     bool
	NewTaskName string // task_name; the page marks it required even for InPlace
	Recall      Recall
}

// RedialResult is the reply of RedialFailed. The reply is not documented; the fields are inferred
// and Raw keeps it as received.
type RedialResult struct {
	TaskSN string // the task that calls the numbers
	Total  int    // numbers to call again
	Raw    json.RawMessage
}

var redialEndpoint = endpoint{method: http.MethodPost, path: "/api/failRecall"}

// RedialFailed calls again the numbers of a task whose calls failed for one of the recall's
// reasons. It is a write: not retried unless ctx comes from AllowRetry.
//
// Platform API 5.5 任务失败重呼接口 (POST /api/failRecall): dial_task_main_sn, recall_manual,
// fail_recall_of_reason, total_fail_recall_times, fail_recall_interval (minutes), task_name — all
// required, sent in the page's order. The reply is cut off on the page; its dial_task_main_sn and
// total are read when present [inferred].
func (s *TasksService) RedialFailed(ctx context.Context, req *RedialRequest) (*RedialResult, error) {
	if req == nil {
		return nil, invalid("RedialRequest", "is nil")
	}
	if err := required("TaskSN", req.TaskSN); err != nil {
		return nil, err
	}
	if err := checkTaskName("NewTaskName", req.NewTaskName); err != nil {
		return nil, err
	}
	if err := req.Recall.check(); err != nil {
		return nil, err
	}
	p := NewParams().Set("dial_task_main_sn", req.TaskSN).Set("recall_manual", req.InPlace).
		Set("fail_recall_of_reason", req.Recall.reasons()).Set("total_fail_recall_times", req.Recall.Times).
		Set("fail_recall_interval", req.Recall.minutes()).Set("task_name", req.NewTaskName)
	var raw json.RawMessage
	if err := s.client.fetch(ctx, redialEndpoint, p, &raw); err != nil {
		return nil, err
	}
	var w struct {
		TaskSN flex.String `json:"dial_task_main_sn"`
		Total  flex.Int    `json:"total"`
	}
	if len(raw) > 0 && raw[0] == '{' { // the reply is undocumented: take what is there
		if err := json.Unmarshal(raw, &w); err != nil {
			return nil, s.client.decodeErr(redialEndpoint, err)
		}
	}
	return &RedialResult{TaskSN: string(w.TaskSN), Total: int(w.Total), Raw: raw}, nil
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
	Status      ImportStatus
	Description string  // desc, e.g. "导入中"
	Percent     float64 // import_percent, "0%" → 0
	Raw         json.RawMessage
}

// ImportState returns the state of the asynchronous import of the task with dial_task_main_id id.
//
// Platform API 5.7.3 异步建任务后获取结果 (POST): the page gives no request path in any copy of the
// documentation, so the caller passes the one the vendor gave for the deployment. It answers
// code 200 rather than 0, and import_percent as a string ("0%"). Where no path is known,
// ImportResult (5.7.4) answers the same question.
func (s *TasksService) ImportState(ctx context.Context, path string, id int64) (*ImportState, error) {
	if id <= 0 {
		return nil, invalid("id", "must be a dial_task_main_id, got %d", id)
	}
	ep := endpoint{method: http.MethodPost, path: path, read: true}
	var raw json.RawMessage
	if err := s.client.fetch(ctx, ep, NewParams().Set("dial_task_main_id", id), &raw); err != nil {
		return nil, err
	}
	var w struct {
		Status  flex.Int    `json:"status"`
		Desc    flex.String `json:"desc"`
		Percent flex.Float  `json:"import_percent"`
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		return nil, s.client.decodeErr(ep, err)
	}
	return &ImportState{Status: ImportStatus(w.Status), Description: string(w.Desc), Percent: float64(w.Percent), Raw: raw}, nil
}

// ImportInfo is the result of an import (5.7.4).
type ImportInfo struct {
	Percent float64 // import_percent: 100 when done (an integer here, unlike 5.7.3's "0%")
	Batch   string
	Mark    string
	Counts  ImportCounts
	// Rejected are the rows the import refused, with their original columns (import_fail_data).
	Rejected []map[string]string
	Raw      json.RawMessage
}

var importInfoEndpoint = endpoint{method: http.MethodPost, path: "/api/getImportTaskInfo", read: true}

// ImportResult returns the progress and result of the import into the task with dial_task_main_id
// id: counters and rejected rows.
//
// Platform API 5.7.4 获取异步导入任务结果数据接口 (POST /api/getImportTaskInfo), server version 7.2
// and later. The same result is pushed to the task callback (5.7.15). 5.7.3 asks the same question
// but has no published path; see ImportState.
func (s *TasksService) ImportResult(ctx context.Context, id int64) (*ImportInfo, error) {
	if id <= 0 {
		return nil, invalid("id", "must be a dial_task_main_id, got %d", id)
	}
	var raw json.RawMessage
	if err := s.client.fetch(ctx, importInfoEndpoint, NewParams().Set("dial_task_main_id", id), &raw); err != nil {
		return nil, err
	}
	var w struct {
		Percent  flex.Float   `json:"import_percent"`
		Batch    flex.String  `json:"batch"`
		Mark     flex.String  `json:"mark"`
		Counts   ImportCounts `json:"import_mark"`
		Rejected rejectedRows `json:"import_fail_data"`
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		return nil, s.client.decodeErr(importInfoEndpoint, err)
	}
	return &ImportInfo{Percent: float64(w.Percent), Batch: string(w.Batch), Mark: string(w.Mark), Counts: w.Counts,
		Rejected: w.Rejected, Raw: raw}, nil
}

var batchStatusEndpoint = endpoint{method: http.MethodPost, path: "/api/taskBatchImportStatus", read: true}

// BatchesCalled reports whether every number of the batch tasks of the sub-account userName (of
// every sub-account when empty) has been called.
//
// Platform API 5.10 批次任务是否全部呼叫完成 (POST /api/taskBatchImportStatus), marked as a
// customer-specific extension ("巧虎定制"): optional user_name; the reply carries status (1 done,
// 0 not) next to code, outside data.
func (s *TasksService) BatchesCalled(ctx context.Context, userName string) (bool, error) {
	p := NewParams()
	setText(p, "user_name", userName)
	var w struct {
		Status flex.Int `json:"status"`
	}
	if err := s.client.fetchBody(ctx, batchStatusEndpoint, p, &w); err != nil {
		return false, err
	}
	return w.Status == 1, nil
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
