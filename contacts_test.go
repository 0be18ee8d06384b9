package digelao

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testColumns are the default template's columns, as 5.11's example lists them.
var testColumns = parseColumns([]string{"姓名", "*电话", "地址", "公司名称", "备注"})

func createRequest(contacts ...Contact) *CreateTaskRequest {
	return &CreateTaskRequest{Name: "七月回访(一)", ProjectSN: "projects|4a92", SeatSN: "SYSUSER|317d",
		Columns: testColumns, Contacts: contacts}
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
	_, err := c.Tasks.ImportInBatches(context.Background(), createRequest(ok), -1)
	assertNothingSent(t, mt, err)
	_, err = c.Tasks.ImportInBatches(context.Background(), createRequest(ok), MaxImportRows+1)
	assertNothingSent(t, mt, err)

	var ve *ValidationError
	_, err = c.Tasks.Create(context.Background(), createRequest(ok, ok, Contact{Phone: "x"}))
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, "Contacts[2].Phone", ve.Field, "the error names the row")
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

func contacts(n int) []Contact {
	out := make([]Contact, n)
	for i := range out {
		out[i] = Contact{Phone: fmt.Sprintf("138%08d", i)}
	}
	return out
}

func TestImportInBatches(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	ir := &importRecorder{}
	mt.RegisterResponder("POST", testBase+"/api/addJsonOfAsync", ir.respond)

	res, err := c.Tasks.ImportInBatches(context.Background(), createRequest(contacts(2500)...), 1000)
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
	res, err := c.Tasks.ImportInBatches(context.Background(), createRequest(contacts(MaxImportRows+1)...), 0)
	require.NoError(t, err)
	assert.Equal(t, []int{MaxImportRows, 1}, ir.sizes)
	assert.Equal(t, MaxImportRows+1, res.Sent)
}

func TestImportInBatchesReportsProgressOnFailure(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	ir := &importRecorder{failAt: 3}
	mt.RegisterResponder("POST", testBase+"/api/addJsonOfAsync", ir.respond)
	res, err := c.Tasks.ImportInBatches(context.Background(), createRequest(contacts(450)...), 100)
	require.ErrorIs(t, err, ErrImport)
	assert.Contains(t, err.Error(), "batch 3 (contacts 200 to 299)")
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
	_, err := c.Tasks.ImportInBatches(context.Background(), createRequest(list...), 100)
	assertNothingSent(t, mt, err)
	assert.True(t, strings.Contains(err.Error(), "Contacts[240]"), err)
}

func TestImportInBatchesNeedsTheNewTaskSN(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	mt.RegisterResponder("POST", testBase+"/api/addJsonOfAsync", httpmock.NewStringResponder(200, `{"code":0,"msg":"导入中"}`))
	res, err := c.Tasks.ImportInBatches(context.Background(), createRequest(contacts(3)...), 2)
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
