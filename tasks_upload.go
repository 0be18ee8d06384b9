package digelao

import (
	"context"
	"encoding/json"
	"net/http"
)

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

// CreatedBatch is the reply of CreateBatch. The reply is cut off on its page: the task and its
// counters are read as the synchronous import (addJson) answers them, and rejected rows from
// import_fail_data as 5.7.4 lists them, when present [inferred].
type CreatedBatch struct {
	Task *CreatedTask
	// Rejected are the rows the import refused, with their original columns.
	Rejected []map[string]string
}

var createBatchEndpoint = endpoint{method: http.MethodPost, path: "/api/addBatch"}

// CreateBatch creates a batch task from req.File and answers once it is imported ("同步方式").
// When the reply counts rows and none was imported, the result comes with an error matching
// ErrAllRejected. The file is streamed (see File); like every write, it is not retried unless ctx
// comes from AllowRetry and the file's content can seek back.
//
// Platform API 5.8.1 新建批次接口 (POST /api/addBatch), multipart: project_sn, ai_user_sn,
// ai_user_name, batch_name, upload, term_value — all required.
func (s *TasksService) CreateBatch(ctx context.Context, req *BatchRequest) (*CreatedBatch, error) {
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
	var w struct {
		Rejected rejectedRows `json:"import_fail_data"`
	}
	if len(task.Raw) > 0 && task.Raw[0] == '{' {
		if err := json.Unmarshal(task.Raw, &w); err != nil {
			return nil, s.client.decodeErr(createBatchEndpoint, err)
		}
	}
	res := &CreatedBatch{Task: task, Rejected: w.Rejected}
	if c := task.Counts; c != nil {
		return res, allRejected(createBatchEndpoint, c.Success, c.Total)
	}
	return res, nil
}
