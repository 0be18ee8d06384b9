package digelao

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao/internal/flex"
)

// commonJSON opens every signed JSON of newMockClient's requests.
const commonJSON = `{"user_sn":"SYSUSER|cb31d43bc89487492bb0e0dd720705e0","api_key":"MUOm4NH1"`

// commonQuery opens every query of newMockClient's GET requests.
const commonQuery = "user_sn=SYSUSER%7Ccb31d43bc89487492bb0e0dd720705e0&api_key=MUOm4NH1"

// readReply returns testdata/replies/name.
func readReply(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "replies", name))
	require.NoError(t, err)
	return string(b)
}

// serveReply answers method path with the reply file and captures the request.
func serveReply(t *testing.T, mt *httpmock.MockTransport, method, path, file string) *captured {
	t.Helper()
	got := &captured{}
	mt.RegisterResponder(method, testBase+path, capture(got, http.StatusOK, readReply(t, file)))
	return got
}

// urlOf computes the anti-hijack value of signed JSON here, independently of the SDK's encoder.
func urlOf(signed string) string {
	sum := md5.Sum([]byte(signed))
	return hex.EncodeToString(sum[:])[1:9]
}

// assertPost checks a POST to path whose body is exactly signed (the JSON that is hashed) with
// its url member added last.
func assertPost(t *testing.T, got *captured, path, signed string) {
	t.Helper()
	assert.Equal(t, http.MethodPost, got.method)
	assert.Equal(t, "/prefix"+path, got.path)
	assert.Equal(t, signed[:len(signed)-1]+`,"url":"`+urlOf(signed)+`"}`, got.body)
	assert.Equal(t, "application/json", got.contentType)
}

// assertGet checks a GET to path whose query is exactly query then url, url hashing signed.
func assertGet(t *testing.T, got *captured, path, query, signed string) {
	t.Helper()
	assert.Equal(t, http.MethodGet, got.method)
	assert.Equal(t, "/prefix"+path, got.path)
	assert.Equal(t, query+"&url="+urlOf(signed), got.rawQuery)
	assert.Empty(t, got.body)
}

// assertNothingSent checks that err is a *ValidationError and that no request left.
func assertNothingSent(t *testing.T, mt *httpmock.MockTransport, err error, msg ...any) {
	t.Helper()
	var ve *ValidationError
	assert.ErrorAs(t, err, &ve, msg...)
	assert.Zero(t, mt.GetTotalCallCount(), msg...)
}

func china(s string) time.Time {
	t, err := flex.ParseTime(s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestTasksList(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	got := serveReply(t, mt, "POST", "/api/index", "task_list.json")
	tasks, total, err := c.Tasks.List(context.Background(), &TaskListOptions{
		ListOptions: ListOptions{Page: 1, PerPage: 50},
		CreatedFrom: time.Date(2024, 7, 1, 16, 0, 0, 0, time.UTC), // 2024-07-02 00:00:00 in China
		CreatedTo:   china("2024-07-02 23:59:59"), Status: TaskPaused, SeatSN: "SYSUSER|317d",
	})
	require.NoError(t, err)
	assertPost(t, got, "/api/index", commonJSON+`,"pageIndex":"1","pageSize":"50",`+
		`"start_create_at":"2024-07-02 00:00:00","end_create_at":"2024-07-02 23:59:59","status":"4","ai_user_sn":"SYSUSER|317d"}`)

	assert.Equal(t, 2, total, "total arrives as a string")
	require.Len(t, tasks, 2)
	a := tasks[0]
	assert.Equal(t, int64(1423), a.ID)
	assert.Equal(t, "dial_task_main_sn|1427a04cae36a5b7161c0b04b9206fa4", a.SN)
	assert.Equal(t, TaskRunning, a.Status, "status arrives as text")
	assert.Equal(t, "发送中", a.Status.String())
	assert.Equal(t, "人工智能客户组", a.TeamName, `\u escapes decode`)
	assert.Equal(t, "七月回访(一)", a.Name)
	assert.Equal(t, []int{120, 60, 60, 30, 30, 0}, []int{a.Total, a.Sent, a.Unsent, a.Success, a.Fail, a.Stops})
	assert.InDelta(t, 50.0, a.Percent, 1e-9, `"50%"`)
	assert.Empty(t, a.Remark, "null")
	assert.True(t, a.StoppedAt.IsZero())
	assert.True(t, a.CreatedAt.Equal(time.Date(2024, 7, 2, 7, 3, 24, 0, time.UTC)), "China time")
	assert.JSONEq(t, `"5"`, string(a.Extra["priority"]), "unknown members stay reachable")
	assert.Contains(t, string(a.Raw), `"ring_groups":null`)

	b := tasks[1]
	assert.Equal(t, int64(1424), b.ID, "id as a string")
	assert.Equal(t, TaskPaused, b.Status)
	assert.Equal(t, "project|9ac4e1b27d5f3a8c6e0b4d2f1a9c7e35", b.ProjectSN)
	assert.True(t, b.StartedAt.IsZero() && b.StoppedAt.IsZero(), `"" and 0000-00-00 are zero times`)
	assert.Equal(t, "B7", b.Batch)
}

func TestTasksListDefaultsAndValidation(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	for name, tc := range map[string]struct {
		opts  *TaskListOptions
		field string
	}{
		"page":      {&TaskListOptions{ListOptions: ListOptions{Page: -1}}, "Page"},
		"per page":  {&TaskListOptions{ListOptions: ListOptions{PerPage: -1}}, "PerPage"},
		"backwards": {&TaskListOptions{CreatedFrom: china("2024-07-02 00:00:00"), CreatedTo: china("2024-07-01 23:59:59")}, "CreatedTo"},
		"status":    {&TaskListOptions{Status: "2"}, "Status"},
	} {
		_, _, err := c.Tasks.List(context.Background(), tc.opts)
		assertNothingSent(t, mt, err, name)
		var ve *ValidationError
		if assert.ErrorAs(t, err, &ve, name) {
			assert.Equal(t, tc.field, ve.Field, name)
		}
	}

	got := serveReply(t, mt, "POST", "/api/index", "task_list.json")
	_, _, err := c.Tasks.List(context.Background(), nil)
	require.NoError(t, err)
	assertPost(t, got, "/api/index", commonJSON+`,"pageIndex":"0"}`)
}

// TestTasksAllPages checks that Tasks.All sends the filters on every page, pages by the total and
// yields each task once, and that a bad filter is an error before anything is sent.
func TestTasksAllPages(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	var bodies []string
	mt.RegisterResponder("POST", testBase+"/api/index", func(r *http.Request) (*http.Response, error) {
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(b))
		var q struct {
			Page int `json:"pageIndex,string"`
			Size int `json:"pageSize,string"`
		}
		if err := json.Unmarshal(b, &q); err != nil {
			return nil, err
		}
		var rows []string
		for i := q.Page * q.Size; i < min((q.Page+1)*q.Size, 5); i++ {
			rows = append(rows, fmt.Sprintf(`{"dial_task_main_id":%d,"dial_task_main_sn":"dial_task_main_sn|%d","status":"4"}`, 100+i, i))
		}
		return httpmock.NewStringResponse(200, `{"code":0,"data":{"total":"5","list":[`+strings.Join(rows, ",")+`]}}`), nil
	})
	opts := &TaskListOptions{ListOptions: ListOptions{PerPage: 2}, Status: TaskPaused, SeatSN: "SYSUSER|317d",
		CreatedFrom: china("2024-07-01 00:00:00"), CreatedTo: china("2024-07-31 23:59:59")}
	var ids []int64
	for task, err := range c.Tasks.All(context.Background(), opts) {
		require.NoError(t, err)
		assert.Equal(t, TaskPaused, task.Status)
		ids = append(ids, task.ID)
	}
	assert.Equal(t, []int64{100, 101, 102, 103, 104}, ids)
	require.Len(t, bodies, 3)
	for i, b := range bodies {
		assert.Contains(t, b, fmt.Sprintf(`"pageIndex":"%d","pageSize":"2",`, i))
		assert.Contains(t, b, `"start_create_at":"2024-07-01 00:00:00","end_create_at":"2024-07-31 23:59:59","status":"4","ai_user_sn":"SYSUSER|317d"`)
	}
	assert.Equal(t, 2, opts.PerPage, "the caller's options are not changed")
	assert.Equal(t, 0, opts.Page)

	for task, err := range c.Tasks.All(context.Background(), &TaskListOptions{Status: "2"}) {
		assert.Nil(t, task)
		var ve *ValidationError
		require.ErrorAs(t, err, &ve)
		assert.Equal(t, "Status", ve.Field)
	}
	assert.Len(t, bodies, 3, "nothing sent for a bad filter")
}

func TestTaskStatusDecoding(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]TaskStatus{`0`: TaskRunning, `"1"`: TaskFinished, `"暂停发送"`: TaskPaused,
		`"终止发送"`: TaskEnded, `"已发送"`: TaskFinished, `"未知"`: "未知", `null`: "", ` 4 `: TaskPaused} {
		var s TaskStatus
		require.NoError(t, s.UnmarshalJSON([]byte(in)), in)
		assert.Equal(t, want, s, in)
	}
	assert.Equal(t, "终止发送", TaskEnded.String())
	assert.Equal(t, "9", TaskStatus("9").String())
	assert.False(t, TaskStatus("9").Known())
	for st, want := range map[TaskStatus]string{TaskPaused: `4`, "未知": `"未知"`, "": `""`} {
		b, err := json.Marshal(st)
		require.NoError(t, err)
		assert.Equal(t, want, string(b))
	}
	assert.Equal(t, "导入中", ImportRunning.String())
	assert.True(t, ImportedPaused.Done() && ImportFailed.Done())
	assert.False(t, ImportRunning.Done() || ImportWaiting.Done())
}

func TestTasksOperate(t *testing.T) {
	t.Parallel()
	mt := httpmock.NewMockTransport()
	c, err := New(testBase, WithAPIKey(testUserSN, "TEcAVs9a"), WithTransport(mt))
	require.NoError(t, err)
	var got captured
	mt.RegisterResponder("POST", testBase+"/api/operateTask", capture(&got, 200, readReply(t, "operate.json")))
	require.NoError(t, c.Tasks.Operate(context.Background(), 1423, TaskRedialFailed))
	// The 5.2 page's example, signed as REFERENCE §1.3 computes it.
	assert.Equal(t, `{"user_sn":"SYSUSER|cb31d43bc89487492bb0e0dd720705e0","api_key":"TEcAVs9a","pkeys":"1423",`+
		`"project_type":"2","oper":"failRe","url":"181d8875"}`, got.body)
	sig, err := Sign(NewParams().Set("user_sn", testUserSN).Set("api_key", "TEcAVs9a").
		Set("pkeys", 1423).Set("project_type", 2).Set("oper", "failRe"))
	require.NoError(t, err)
	assert.Equal(t, "181d8875", sig)

	for op, wire := range map[TaskOperation]string{TaskPause: "stop", TaskResume: "keepOn", TaskDelete: "delete", TaskEnd: "end"} {
		require.NoError(t, c.Tasks.Operate(context.Background(), 7, op))
		assert.Contains(t, got.body, `"oper":"`+wire+`"`)
	}
}

func TestTasksOperateValidatesAndIsNotRetried(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithRetries(3, time.Millisecond))
	assertNothingSent(t, mt, c.Tasks.Operate(context.Background(), 1, "pause"))
	assertNothingSent(t, mt, c.Tasks.Operate(context.Background(), 0, TaskPause))

	mt.RegisterResponder("POST", testBase+"/api/operateTask", httpmock.NewStringResponder(502, "bad gateway"))
	err := c.Tasks.Operate(context.Background(), 1, TaskPause)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 502, apiErr.HTTPStatus)
	assert.Equal(t, 1, mt.GetTotalCallCount(), "a write is sent once")

	require.Error(t, c.Tasks.Operate(AllowRetry(context.Background()), 1, TaskPause))
	assert.Equal(t, 1+4, mt.GetTotalCallCount(), "AllowRetry opts in")
}

func TestTasksDetails(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	got := serveReply(t, mt, "POST", "/api/getDetailsList", "task_details.json")
	d, err := c.Tasks.Details(context.Background(), 1423, &ListOptions{PerPage: 100})
	require.NoError(t, err)
	assertPost(t, got, "/api/getDetailsList", commonJSON+`,"pageIndex":"0","pageSize":"100","dial_task_main_id":"1423"}`)

	assert.Equal(t, 2, d.Total)
	require.NotNil(t, d.Task)
	assert.Equal(t, TaskPaused, d.Task.Status, "a number here, text in 5.1")
	assert.Equal(t, 1, d.Task.Cancelled)
	assert.Equal(t, china("2023-05-25 16:00:00"), d.Task.ScheduledAt)
	assert.JSONEq(t, `0`, string(d.Task.Extra["is_temporary_stop"]))
	require.Len(t, d.Numbers, 2)
	assert.Equal(t, "dial_task_detail|5d03d133aa0f4e1c9b8e7d6c5b4a3f2e", d.Numbers[0].SN)
	assert.Empty(t, d.Numbers[0].Name, "null")
	assert.Equal(t, 2, d.Numbers[0].Status)
	assert.Equal(t, 1, d.Numbers[1].DetailType, `"1"`)
	assert.Equal(t, "李四", d.Numbers[1].Name)
	assert.JSONEq(t, `1`, string(d.Numbers[0].Extra["call_count"]))

	_, err = c.Tasks.Details(context.Background(), 0, nil)
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
}

func TestTasksCancelCalls(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	got := serveReply(t, mt, "POST", "/api/cancelCall", "cancel.json")
	res, err := c.Tasks.CancelCalls(context.Background(), "dial_task_main_sn|1427",
		&TaskDetail{SN: "dial_task_detail|5d03", DetailType: 0}, &TaskDetail{SN: "dial_task_detail|6e14", DetailType: 1})
	require.NoError(t, err)
	assertPost(t, got, "/api/cancelCall", commonJSON+`,"dial_task_main_sn":"dial_task_main_sn|1427",`+
		`"sn":["dial_task_detail|5d03","dial_task_detail|6e14"],"detail_type":["0","1"]}`)
	assert.Equal(t, &CancelResult{Total: 2, Success: 1, Fail: 1}, res)
}

func TestTasksCancelByPhone(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	got := serveReply(t, mt, "POST", "/api/cancelCallCallee", "cancel.json")
	res, err := c.Tasks.CancelByPhone(context.Background(), "dial_task_main_sn|1427", "13800138000", " 139-0013 9000")
	require.NoError(t, err)
	assertPost(t, got, "/api/cancelCallCallee", commonJSON+`,"dial_task_main_sn":"dial_task_main_sn|1427","callee":"13800138000,13900139000"}`)
	assert.Equal(t, 1, res.Success)
}

func TestTasksCancelValidation(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	ctx := context.Background()
	for name, call := range map[string]func() error{
		"no task":      func() error { _, err := c.Tasks.CancelCalls(ctx, "", &TaskDetail{SN: "x"}); return err },
		"blank task":   func() error { _, err := c.Tasks.CancelCalls(ctx, " ", &TaskDetail{SN: "x"}); return err },
		"blank sn":     func() error { _, err := c.Tasks.CancelCalls(ctx, "t", &TaskDetail{SN: " "}); return err },
		"no numbers":   func() error { _, err := c.Tasks.CancelCalls(ctx, "t"); return err },
		"empty sn":     func() error { _, err := c.Tasks.CancelCalls(ctx, "t", &TaskDetail{}); return err },
		"nil row":      func() error { _, err := c.Tasks.CancelCalls(ctx, "t", nil); return err },
		"no phones":    func() error { _, err := c.Tasks.CancelByPhone(ctx, "t"); return err },
		"bad phone":    func() error { _, err := c.Tasks.CancelByPhone(ctx, "t", "12a45678"); return err },
		"joined":       func() error { _, err := c.Tasks.CancelByPhone(ctx, "t", "13800138000,13900139000"); return err },
		"phone no sn":  func() error { _, err := c.Tasks.CancelByPhone(ctx, "", "13800138000"); return err },
		"recall sn":    func() error { _, err := c.Tasks.RedialFailed(ctx, "", &RedialRequest{}); return err },
		"recall nil":   func() error { _, err := c.Tasks.RedialFailed(ctx, "t", nil); return err },
		"import id":    func() error { _, err := c.Tasks.ImportInfo(ctx, 0); return err },
		"state id":     func() error { _, err := c.Tasks.ImportState(ctx, -1); return err },
		"columns sn":   func() error { _, err := c.Tasks.ImportColumns(ctx, ""); return err },
		"template sn":  func() error { _, err := c.Tasks.DownloadImportTemplate(ctx, "", nil); return err },
		"nil template": func() error { _, err := c.Tasks.DownloadImportTemplate(ctx, "projects|x", nil); return err },
	} {
		assertNothingSent(t, mt, call(), name)
	}
}

func TestTasksRedialFailed(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	got := serveReply(t, mt, "POST", "/api/failRecall", "fail_recall.json")
	res, err := c.Tasks.RedialFailed(context.Background(), "dial_task_main_sn|1427", &RedialRequest{
		NewTaskName: "七月回访重呼(2)",
		Recall:      Recall{Times: 2, Interval: 30 * time.Minute, Reasons: []string{ResultPowerOff.String(), "无人应答"}},
	})
	require.NoError(t, err)
	assertPost(t, got, "/api/failRecall", commonJSON+`,"dial_task_main_sn":"dial_task_main_sn|1427","recall_manual":"0",`+
		`"fail_recall_of_reason":"\u5173\u673a,\u65e0\u4eba\u5e94\u7b54","total_fail_recall_times":"2","fail_recall_interval":"30",`+
		`"task_name":"\u4e03\u6708\u56de\u8bbf\u91cd\u547c(2)"}`) // the page's order
	assert.Equal(t, "dial_task_main_sn|0b47d1fe51b54c3a9e8d7c6b5a4f3e2d", res.TaskSN)
	assert.Equal(t, 3, res.Total)

	for name, tc := range map[string]struct {
		taskSN string
		req    *RedialRequest
	}{
		"bad name":   {"t", &RedialRequest{NewTaskName: "重呼 2", Recall: Recall{Times: 1, Reasons: []string{"关机"}}}},
		"no reasons": {"t", &RedialRequest{NewTaskName: "a", Recall: Recall{Times: 1}}},
		"comma":      {"t", &RedialRequest{NewTaskName: "a", Recall: Recall{Reasons: []string{"关机,停机"}}}},
		"seconds":    {"t", &RedialRequest{NewTaskName: "a", Recall: Recall{Interval: 90 * time.Second, Reasons: []string{"关机"}}}},
		"negative":   {"t", &RedialRequest{NewTaskName: "a", Recall: Recall{Times: -1, Reasons: []string{"关机"}}}},
		"no times":   {"t", &RedialRequest{NewTaskName: "a", Recall: Recall{Reasons: []string{"关机"}}}},
		"blank task": {" ", &RedialRequest{NewTaskName: "a", Recall: Recall{Times: 1, Reasons: []string{"关机"}}}},
	} {
		_, err := c.Tasks.RedialFailed(context.Background(), tc.taskSN, tc.req)
		var ve *ValidationError
		assert.ErrorAs(t, err, &ve, name)
	}
	assert.Equal(t, 1, mt.GetTotalCallCount())
}

func TestTasksImportInfo(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	got := serveReply(t, mt, "POST", "/api/getImportTaskInfo", "import_task_info.json")
	info, err := c.Tasks.ImportInfo(context.Background(), 1426)
	require.NoError(t, err)
	assertPost(t, got, "/api/getImportTaskInfo", commonJSON+`,"dial_task_main_id":"1426"}`)
	assert.InDelta(t, 100.0, info.Percent, 1e-9, "an int here")
	assert.Equal(t, ImportCounts{Total: 3, Fail: 1, Repeat: 1, Success: 1}, info.Counts)
	assert.Equal(t, []RejectedRow{{"姓名": "", "电话": "1380013", "地址": "", "公司名称": "", "备注": "123"}}, info.Rejected)
	assert.Empty(t, info.Batch)
}

func TestTasksImportState(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithImportStatePath("/api/importResult"))
	got := serveReply(t, mt, "POST", "/api/importResult", "import_state.json")
	st, err := c.Tasks.ImportState(context.Background(), 1426)
	require.NoError(t, err, "code 200 is success")
	assertPost(t, got, "/api/importResult", commonJSON+`,"dial_task_main_id":"1426"}`)
	assert.Equal(t, ImportRunning, st.Status)
	assert.Equal(t, "导入中", st.Description)
	assert.Zero(t, st.Percent, `"0%"`)

	// Without a path, nothing is sent, and the error says what to do.
	c, mt = newMockClient(t)
	_, err = c.Tasks.ImportState(context.Background(), 1)
	assertNothingSent(t, mt, err)
	assert.Contains(t, err.Error(), "WithImportStatePath")
	_, err = New(testBase, WithAPIKey("u", "k"), WithImportStatePath("api/noslash"))
	var ve *ValidationError
	assert.ErrorAs(t, err, &ve)
}

func TestTasksBatchesCalled(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	got := serveReply(t, mt, "POST", "/api/taskBatchImportStatus", "batch_status.json")
	done, err := c.Tasks.BatchesCalled(context.Background(), "zzh1")
	require.NoError(t, err)
	assert.False(t, done, "status sits beside code, outside data")
	assertPost(t, got, "/api/taskBatchImportStatus", commonJSON+`,"user_name":"zzh1"}`)

	mt.RegisterResponder("POST", testBase+"/api/taskBatchImportStatus",
		capture(got, 200, `{"code":0,"msg":"已全部呼叫完成","status":"1"}`))
	done, err = c.Tasks.BatchesCalled(context.Background(), "")
	require.NoError(t, err)
	assert.True(t, done)
	assertPost(t, got, "/api/taskBatchImportStatus", commonJSON+`}`)
}

func TestTasksImportColumns(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	got := serveReply(t, mt, "GET", "/api/exportModel", "export_model.json")
	cols, err := c.Tasks.ImportColumns(context.Background(), "projects|4a92")
	require.NoError(t, err)
	assertGet(t, got, "/api/exportModel", commonQuery+"&project_sn=projects%7C4a92&type=json",
		commonJSON+`,"project_sn":"projects|4a92","type":"json"}`)
	assert.Equal(t, Columns{{Name: "姓名"}, {Name: "电话", Required: true}, {Name: "地址"}, {Name: "公司名称"}, {Name: "备注"}}, cols)
	assert.Equal(t, 1, cols.Index("*电话"))
	assert.Equal(t, -1, cols.Index("手机"))
	b, err := json.Marshal(cols)
	require.NoError(t, err)
	assert.JSONEq(t, `["姓名","*电话","地址","公司名称","备注"]`, string(b), "written as 5.11 lists them")
	var back Columns
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, cols, back)

	mt.RegisterResponder("GET", testBase+"/api/exportModel", capture(got, 200, `{"code":0,"data":[]}`))
	_, err = c.Tasks.ImportColumns(context.Background(), "projects|4a92")
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr, "no columns is not a template")
}

func TestTasksDownloadImportTemplate(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	xlsx := "PK\x03\x04 a zip archive"
	var query string
	mt.RegisterResponder("GET", testBase+"/api/exportModel", func(r *http.Request) (*http.Response, error) {
		query = r.URL.RawQuery
		resp := httpmock.NewStringResponse(200, xlsx)
		resp.Header.Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
		return resp, nil
	})
	var buf bytes.Buffer
	n, err := c.Tasks.DownloadImportTemplate(context.Background(), "projects|4a92", &buf)
	require.NoError(t, err)
	assert.Equal(t, int64(len(xlsx)), n)
	assert.Equal(t, xlsx, buf.String())
	assert.Equal(t, commonQuery+"&project_sn=projects%7C4a92&url="+urlOf(commonJSON+`,"project_sn":"projects|4a92"}`), query)
}

func TestTaskErrorsCarryTheCode(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	mt.RegisterResponder("POST", testBase+"/api/index", httpmock.NewStringResponder(200, `{"code":20007,"msg":"没有接口访问权限"}`))
	_, _, err := c.Tasks.List(context.Background(), nil)
	assert.True(t, errors.Is(err, ErrPermission))
}

func createRequest(contacts ...Contact) *CreateTaskRequest {
	return &CreateTaskRequest{Name: "七月回访(一)", ProjectSN: "projects|4a92", SeatSN: "SYSUSER|317d",
		Columns: testColumns, Contacts: contacts}
}

// batchRequest is createRequest with BatchSize size.
func batchRequest(size int, contacts ...Contact) *CreateTaskRequest {
	req := createRequest(contacts...)
	req.BatchSize = size
	return req
}

func TestTasksCreateSendsRowsInColumnOrder(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	got := serveReply(t, mt, "POST", "/api/addJson", "add_json.json")
	req := createRequest(
		Contact{Phone: "138 0013-8000", Name: "张三", Fields: map[string]string{"备注": "VIP", "地址": "深圳/南山"}},
		Contact{Phone: "13900139000"},
	)
	req.AutoStart = true
	req.Recall = &Recall{Times: 1, Interval: time.Minute, Reasons: []string{"关机", "停机"}}
	task, err := c.Tasks.Create(context.Background(), req)
	require.NoError(t, err)

	assertPost(t, got, "/api/addJson", commonJSON+`,"project_sn":"projects|4a92","source":"\u4e03\u6708\u56de\u8bbf(\u4e00)",`+
		`"client_info_json":{"data":[`+
		`{"\u59d3\u540d":"\u5f20\u4e09","\u7535\u8bdd":"13800138000","\u5730\u5740":"\u6df1\u5733\/\u5357\u5c71","\u516c\u53f8\u540d\u79f0":"","\u5907\u6ce8":"VIP"},`+
		`{"\u59d3\u540d":"","\u7535\u8bdd":"13900139000","\u5730\u5740":"","\u516c\u53f8\u540d\u79f0":"","\u5907\u6ce8":""}]},`+
		`"ai_user_sn":"SYSUSER|317d","is_zidong":"on","is_auto_fail_recall":"1","total_fail_recall_times":"1",`+
		`"fail_recall_interval":"1","fail_recall_of_reason":"\u5173\u673a,\u505c\u673a"}`)

	assert.Equal(t, int64(1425), task.ID, "id as a string")
	assert.Equal(t, "dial_task_main_sn|2b58f3a0c1d24e6f8a9b0c1d2e3f4a5b", task.SN)
	require.NotNil(t, task.Counts)
	assert.Equal(t, ImportCounts{Total: 2, Success: 2}, *task.Counts)
}

func TestTasksCreateAsyncAppends(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	got := serveReply(t, mt, "POST", "/api/addJsonOfAsync", "add_json_async.json")
	req := createRequest(Contact{Phone: "13800138000", Fields: map[string]string{"*备注": "star prefix is accepted"}})
	req.AppendTo = "dial_task_main_sn|3c69"
	task, err := c.Tasks.CreateAsync(context.Background(), req)
	require.NoError(t, err)
	assertPost(t, got, "/api/addJsonOfAsync", commonJSON+`,"project_sn":"projects|4a92","source":"\u4e03\u6708\u56de\u8bbf(\u4e00)",`+
		`"client_info_json":{"data":[{"\u59d3\u540d":"","\u7535\u8bdd":"13800138000","\u5730\u5740":"","\u516c\u53f8\u540d\u79f0":"",`+
		`"\u5907\u6ce8":"star prefix is accepted"}]},"ai_user_sn":"SYSUSER|317d","dial_task_main_sn":"dial_task_main_sn|3c69"}`)
	assert.Equal(t, int64(1426), task.ID)
	assert.Nil(t, task.Counts, "the async reply carries no counters")
	assert.JSONEq(t, `{"dial_task_main_id":1426,"dial_task_main_sn":"dial_task_main_sn|3c69a4b1d2e35f7a9b0c1d2e3f4a5b6c"}`, string(task.Raw))
}

func TestTasksCreateValidatesBeforeSending(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	ok := Contact{Phone: "13800138000"}
	many := make([]Contact, MaxImportRows+1)
	for i := range many {
		many[i] = ok
	}
	required := parseColumns([]string{"*姓名", "*电话", "欠费金额"})
	for name, mutate := range map[string]func(*CreateTaskRequest){
		"nil request":       nil,
		"no name":           func(r *CreateTaskRequest) { r.Name = "" },
		"name with a space": func(r *CreateTaskRequest) { r.Name = "七月 回访" },
		"name with a dash":  func(r *CreateTaskRequest) { r.Name = "task-1" },
		"no template":       func(r *CreateTaskRequest) { r.ProjectSN = "" },
		"no seat":           func(r *CreateTaskRequest) { r.SeatSN = "" },
		"no columns":        func(r *CreateTaskRequest) { r.Columns = nil },
		"no phone column":   func(r *CreateTaskRequest) { r.Columns = parseColumns([]string{"姓名", "地址"}) },
		"no contacts":       func(r *CreateTaskRequest) { r.Contacts = nil },
		"too many":          func(r *CreateTaskRequest) { r.Contacts = many },
		"missing phone":     func(r *CreateTaskRequest) { r.Contacts = []Contact{ok, {Name: "张三"}} },
		"letters in phone":  func(r *CreateTaskRequest) { r.Contacts = []Contact{{Phone: "1380013800O"}} },
		"short phone":       func(r *CreateTaskRequest) { r.Contacts = []Contact{{Phone: "1234"}} },
		"unknown column": func(r *CreateTaskRequest) {
			r.Contacts = []Contact{{Phone: "13800138000", Fields: map[string]string{"年龄": "30"}}}
		},
		"phone as a field": func(r *CreateTaskRequest) {
			r.Contacts = []Contact{{Phone: "13800138000", Fields: map[string]string{"电话": "1"}}}
		},
		"name, no column": func(r *CreateTaskRequest) {
			r.Columns = parseColumns([]string{"*电话"})
			r.Contacts = []Contact{{Phone: "13800138000", Name: "张三"}}
		},
		"required empty": func(r *CreateTaskRequest) {
			r.Columns = required
			r.Contacts = []Contact{{Phone: "13800138000", Name: " "}}
		},
		"bad recall": func(r *CreateTaskRequest) { r.Recall = &Recall{Times: 1} },
	} {
		var req *CreateTaskRequest
		if mutate != nil {
			req = createRequest(ok)
			mutate(req)
		}
		_, err := c.Tasks.CreateAsync(context.Background(), req)
		assertNothingSent(t, mt, err, name)
		_, err = c.Tasks.Create(context.Background(), req)
		assertNothingSent(t, mt, err, name)
	}
	_, err := c.Tasks.ImportInBatches(context.Background(), batchRequest(-1, ok))
	assertNothingSent(t, mt, err)
	_, err = c.Tasks.ImportInBatches(context.Background(), batchRequest(MaxImportRows+1, ok))
	assertNothingSent(t, mt, err)

	var ve *ValidationError
	_, err = c.Tasks.Create(context.Background(), createRequest(ok, ok, Contact{Phone: "x"}))
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, "Contacts[2].Phone", ve.Field, "the error names the row")
}

// BatchSize bounds every import of a request: Create and CreateAsync send one, and refuse more
// contacts than it holds; a size out of range is refused by Validate and by every call.
func TestTasksCreateTakesAtMostBatchSize(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	var ve *ValidationError
	require.ErrorAs(t, batchRequest(2, contacts(3)...).Validate(), &ve)
	assert.Equal(t, "Contacts", ve.Field)
	_, err := c.Tasks.CreateAsync(context.Background(), batchRequest(2, contacts(3)...))
	assertNothingSent(t, mt, err)
	for _, size := range []int{-1, MaxImportRows + 1} {
		require.ErrorAs(t, batchRequest(size, contacts(1)...).Validate(), &ve, size)
		assert.Equal(t, "BatchSize", ve.Field)
		_, err := c.Tasks.Create(context.Background(), batchRequest(size, contacts(1)...))
		assertNothingSent(t, mt, err)
	}

	ir := &importRecorder{}
	mt.RegisterResponder("POST", testBase+"/api/addJsonOfAsync", ir.respond)
	_, err = c.Tasks.CreateAsync(context.Background(), batchRequest(3, contacts(3)...))
	require.NoError(t, err)
	assert.Equal(t, []int{3}, ir.sizes)
}

func TestTaskNameCharset(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"abc", "七月回访", "回访(一)", "回访（二）", "Task2024"} {
		assert.NoError(t, checkTaskName("Name", ok), ok)
	}
	for _, bad := range []string{"", "a b", "a_b", "a-b", "回访，一", "a/b", "é"} {
		assert.Error(t, checkTaskName("Name", bad), bad)
	}
}

// importRecorder answers addJsonOfAsync like the platform and records each batch's size and
// whether it appended; failAt makes that batch (1-based) answer code 30004.
type importRecorder struct {
	sizes   []int
	appends []string
	failAt  int
}

func (ir *importRecorder) respond(r *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(r.Body)
	var body struct {
		Append string `json:"dial_task_main_sn"`
		Info   struct {
			Data []json.RawMessage `json:"data"`
		} `json:"client_info_json"`
	}
	if err := json.Unmarshal(b, &body); err != nil {
		return nil, err
	}
	ir.sizes = append(ir.sizes, len(body.Info.Data))
	ir.appends = append(ir.appends, body.Append)
	if len(ir.sizes) == ir.failAt {
		return httpmock.NewStringResponse(200, `{"code":30004,"msg":"待呼叫数据过多,最多不能超过30万条"}`), nil
	}
	return httpmock.NewStringResponse(200, fmt.Sprintf(`{"code":0,"msg":"导入中","data":{"dial_task_main_id":%d,"dial_task_main_sn":"dial_task_main_sn|new"}}`, 1000+len(ir.sizes))), nil
}

func TestImportInBatches(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	ir := &importRecorder{}
	mt.RegisterResponder("POST", testBase+"/api/addJsonOfAsync", ir.respond)

	res, err := c.Tasks.ImportInBatches(context.Background(), batchRequest(1000, contacts(2500)...))
	require.NoError(t, err)
	assert.Equal(t, []int{1000, 1000, 500}, ir.sizes)
	assert.Equal(t, []string{"", "dial_task_main_sn|new", "dial_task_main_sn|new"}, ir.appends, "later batches append")
	assert.Equal(t, 2500, res.Sent)
	assert.Equal(t, 3, res.Batches)
	assert.Equal(t, int64(1001), res.Task.ID, "the task the first batch created")
}

func TestImportInBatchesDefaultsToTheLimit(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	ir := &importRecorder{}
	mt.RegisterResponder("POST", testBase+"/api/addJsonOfAsync", ir.respond)
	res, err := c.Tasks.ImportInBatches(context.Background(), batchRequest(0, contacts(MaxImportRows+1)...))
	require.NoError(t, err)
	assert.Equal(t, []int{MaxImportRows, 1}, ir.sizes)
	assert.Equal(t, MaxImportRows+1, res.Sent)
}

func TestImportInBatchesReportsProgressOnFailure(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	ir := &importRecorder{failAt: 3}
	mt.RegisterResponder("POST", testBase+"/api/addJsonOfAsync", ir.respond)
	res, err := c.Tasks.ImportInBatches(context.Background(), batchRequest(100, contacts(450)...))
	require.ErrorIs(t, err, ErrImport)
	assert.Contains(t, err.Error(), "digelao: batch 3 (contacts 201 to 300): POST /api/addJsonOfAsync: ", "counted from 1")
	assert.Equal(t, 1, strings.Count(err.Error(), "digelao: "), "the prefix once: %v", err)
	require.NotNil(t, res)
	assert.Equal(t, 200, res.Sent)
	assert.Equal(t, 2, res.Batches)
	assert.Equal(t, "dial_task_main_sn|new", res.Task.SN)
	assert.Len(t, ir.sizes, 3, "nothing is sent after the failing batch")
}

func TestImportInBatchesChecksEveryRowFirst(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	list := contacts(250)
	list[240].Phone = "none"
	_, err := c.Tasks.ImportInBatches(context.Background(), batchRequest(100, list...))
	assertNothingSent(t, mt, err)
	assert.True(t, strings.Contains(err.Error(), "Contacts[240]"), err)
}

// TestImportBatchesYieldsEachBatch: each batch is yielded once the platform accepted it, before
// the next is sent; what was yielded stays as it was; breaking out sends no more batches.
func TestImportBatchesYieldsEachBatch(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	ir := &importRecorder{}
	mt.RegisterResponder("POST", testBase+"/api/addJsonOfAsync", ir.respond)
	var got []*BatchImport
	for res, err := range c.Tasks.ImportBatches(context.Background(), batchRequest(100, contacts(250)...)) {
		require.NoError(t, err)
		assert.Len(t, ir.sizes, len(got)+1, "yielded before the next batch is sent")
		got = append(got, res)
	}
	require.Len(t, got, 3)
	for i, res := range got {
		assert.Equal(t, i+1, res.Batches)
		assert.Equal(t, []int{100, 200, 250}[i], res.Sent)
		assert.Equal(t, int64(1001), res.Task.ID, "the task the first batch created")
	}

	ir = &importRecorder{}
	mt.RegisterResponder("POST", testBase+"/api/addJsonOfAsync", ir.respond)
	for range c.Tasks.ImportBatches(context.Background(), batchRequest(100, contacts(250)...)) {
		break
	}
	assert.Equal(t, []int{100}, ir.sizes, "nothing is sent after the loop stops")

	n := 0
	for res, err := range c.Tasks.ImportBatches(context.Background(), batchRequest(-1, contacts(250)...)) {
		n++
		assert.Nil(t, res)
		var ve *ValidationError
		assert.ErrorAs(t, err, &ve)
	}
	assert.Equal(t, 1, n, "a bad batch size is yielded once")
}

func TestImportInBatchesNeedsTheNewTaskSN(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	mt.RegisterResponder("POST", testBase+"/api/addJsonOfAsync", httpmock.NewStringResponder(200, `{"code":0,"msg":"导入中"}`))
	res, err := c.Tasks.ImportInBatches(context.Background(), batchRequest(2, contacts(3)...))
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 2, res.Sent, "the first batch went out but cannot be followed")
	assert.NotNil(t, res.Task)
	assert.Equal(t, 1, mt.GetTotalCallCount())
}

func TestTasksCreateIsNotRetried(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithRetries(3, time.Millisecond))
	mt.RegisterResponder("POST", testBase+"/api/addJsonOfAsync", httpmock.NewStringResponder(503, "busy"))
	_, err := c.Tasks.CreateAsync(context.Background(), createRequest(Contact{Phone: "13800138000"}))
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 1, mt.GetTotalCallCount(), "a second task must not be created by a retry")
	_, err = c.Tasks.CreateAsync(AllowRetry(context.Background()), createRequest(Contact{Phone: "13800138000"}))
	require.Error(t, err)
	assert.Equal(t, 1+4, mt.GetTotalCallCount())
}

func TestTasksCreateNamesTheFieldThatIsNotUTF8(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	req := createRequest(Contact{Phone: "13800138000"}, Contact{Phone: "13900139000", Fields: map[string]string{"地址": "深圳\xff"}})
	var ve *ValidationError
	require.ErrorAs(t, req.Validate(), &ve, "Validate checks the encoding too")
	assert.Equal(t, "Contacts[1].地址", ve.Field)
	_, err := c.Tasks.Create(context.Background(), req)
	assertNothingSent(t, mt, err)
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, "Contacts[1].地址", ve.Field)
}

func TestTasksCreateFromExcel(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	var got form
	mt.RegisterResponder("POST", testBase+"/api/addExcelOfAsync", multipartResponder(t, &got, true, 200, readReply(t, "admin_excel_task.json")))
	task, err := c.Tasks.CreateFromExcel(context.Background(), &ExcelTaskRequest{Name: "十一月(回访)", ProjectSN: "projects|1",
		SeatSN: "SYSUSER|2", AutoStart: true, Recall: &Recall{Times: 2, Interval: 5 * time.Minute, Reasons: []string{"关机", "无人应答"}},
		File: File{Name: "contacts.xlsx", Content: strings.NewReader("workbook")}})
	require.NoError(t, err)
	assert.Equal(t, int64(1423), task.ID)
	assert.Equal(t, "dial_task_main_sn|1427a04cae36a5b7161c0b04b9206fa4", task.SN)
	fields := [][2]string{{"user_sn", testUserSN}, {"api_key", testAPIKey}, {"project_sn", "projects|1"}, {"source", "十一月(回访)"},
		{"ai_user_sn", "SYSUSER|2"}, {"is_zidong", "on"}, {"is_auto_fail_recall", "1"}, {"total_fail_recall_times", "2"},
		{"fail_recall_interval", "5"}, {"fail_recall_of_reason", "关机,无人应答"}}
	signed := commonJSON + `,"project_sn":"projects|1","source":"\u5341\u4e00\u6708(\u56de\u8bbf)","ai_user_sn":"SYSUSER|2",` +
		`"is_zidong":"on","is_auto_fail_recall":"1","total_fail_recall_times":"2","fail_recall_interval":"5",` +
		`"fail_recall_of_reason":"\u5173\u673a,\u65e0\u4eba\u5e94\u7b54"}`
	assert.Equal(t, append(fields, [2]string{"url", urlOf(signed)}), got.fields)
	assert.Equal(t, "upload", got.fileField)
	assert.Equal(t, "contacts.xlsx", got.fileName)
	assert.Equal(t, "workbook", string(got.file))
}

func TestTasksCreateFromExcelAppends(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	var got form
	mt.RegisterResponder("POST", testBase+"/api/addExcelOfAsync", multipartResponder(t, &got, false, 200, readReply(t, "admin_excel_task.json")))
	_, err := c.Tasks.CreateFromExcel(context.Background(), &ExcelTaskRequest{Name: "t1", ProjectSN: "p", SeatSN: "s",
		AppendTo: "dial_task_main_sn|x", File: File{Name: "a.xlsx", Content: strings.NewReader("w")}})
	require.NoError(t, err)
	assert.Equal(t, [2]string{"dial_task_main_sn", "dial_task_main_sn|x"}, got.fields[len(got.fields)-2])
}

func TestTasksCreateBatch(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	var got form
	mt.RegisterResponder("POST", testBase+"/api/addBatch", multipartResponder(t, &got, true, 200, readReply(t, "admin_batch.json")))
	res, err := c.Tasks.CreateBatch(context.Background(), &BatchRequest{Name: "批次1", ProjectSN: "projects|1", SeatSN: "SYSUSER|2",
		SeatName: "seat", Days: 30, File: File{Name: "b.xls", Content: strings.NewReader("rows")}})
	require.NoError(t, err)
	signed := commonJSON + `,"project_sn":"projects|1","ai_user_sn":"SYSUSER|2","ai_user_name":"seat","batch_name":"\u6279\u6b211","term_value":"30"}`
	assert.Equal(t, [][2]string{{"user_sn", testUserSN}, {"api_key", testAPIKey}, {"project_sn", "projects|1"}, {"ai_user_sn", "SYSUSER|2"},
		{"ai_user_name", "seat"}, {"batch_name", "批次1"}, {"term_value", "30"}, {"url", urlOf(signed)}}, got.fields)
	assert.Equal(t, "application/vnd.ms-excel", got.fileType)
	assert.Equal(t, int64(1424), res.ID)
	require.NotNil(t, res.Counts)
	assert.Equal(t, ImportCounts{Total: 3, Fail: 1, Blacklist: 1, Success: 1}, *res.Counts)
	assert.Equal(t, []RejectedRow{{"姓名": "王五", "电话": "123"}}, res.Rejected, "partial failure, row by row")
}

func TestTasksCreateBatchWhereEveryRowFailed(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	var got form
	mt.RegisterResponder("POST", testBase+"/api/addBatch", multipartResponder(t, &got, false, 200, readReply(t, "admin_batch_none.json")))
	res, err := c.Tasks.CreateBatch(context.Background(), &BatchRequest{Name: "b", ProjectSN: "p", SeatSN: "s", SeatName: "n",
		File: File{Name: "b.xlsx", Content: strings.NewReader("rows")}})
	require.ErrorIs(t, err, ErrAllRejected)
	require.NotNil(t, res)
	assert.Equal(t, []RejectedRow{{"姓名": "", "电话": "abc"}}, res.Rejected)
}

func TestTasksUploadsRefuseBadInput(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	ctx := context.Background()
	file := File{Name: "a.xlsx", Content: strings.NewReader("x")}
	for name, req := range map[string]*ExcelTaskRequest{
		"nil":         nil,
		"bad name":    {Name: "a b", ProjectSN: "p", SeatSN: "s", File: file},
		"no template": {Name: "a", SeatSN: "s", File: file},
		"no seat":     {Name: "a", ProjectSN: "p", File: file},
		"bad recall":  {Name: "a", ProjectSN: "p", SeatSN: "s", Recall: &Recall{Times: 1}, File: file},
		"no file":     {Name: "a", ProjectSN: "p", SeatSN: "s"},
	} {
		_, err := c.Tasks.CreateFromExcel(ctx, req)
		assertNothingSent(t, mt, err, name)
	}
	for name, req := range map[string]*BatchRequest{
		"nil":       nil,
		"no name":   {ProjectSN: "p", SeatSN: "s", SeatName: "n", File: file},
		"no seat":   {Name: "b", ProjectSN: "p", SeatName: "n", File: file},
		"no seatnm": {Name: "b", ProjectSN: "p", SeatSN: "s", File: file},
		"days":      {Name: "b", ProjectSN: "p", SeatSN: "s", SeatName: "n", Days: -1, File: file},
		"pdf":       {Name: "b", ProjectSN: "p", SeatSN: "s", SeatName: "n", File: File{Name: "a.pdf", Content: strings.NewReader("")}},
	} {
		_, err := c.Tasks.CreateBatch(ctx, req)
		assertNothingSent(t, mt, err, name)
	}
}
