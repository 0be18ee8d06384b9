package digelao

import (
	"context"
	"encoding/json"
	"errors"
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

// TestImportBatchesYieldsEachBatch: each batch is yielded once the platform accepted it, before
// the next is sent; what was yielded stays as it was; breaking out sends no more batches.
func TestImportBatchesYieldsEachBatch(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	ir := &importRecorder{}
	mt.RegisterResponder("POST", testBase+"/api/addJsonOfAsync", ir.respond)
	var got []*BatchImport
	for res, err := range c.Tasks.ImportBatches(context.Background(), createRequest(contacts(250)...), 100) {
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
	for range c.Tasks.ImportBatches(context.Background(), createRequest(contacts(250)...), 100) {
		break
	}
	assert.Equal(t, []int{100}, ir.sizes, "nothing is sent after the loop stops")

	n := 0
	for res, err := range c.Tasks.ImportBatches(context.Background(), createRequest(contacts(250)...), -1) {
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

// TestImportBodyIsSizedExactly checks that an import's body is allocated once, at its length,
// when the parameters around the contacts pass the 512 bytes a typical call is given.
func TestImportBodyIsSizedExactly(t *testing.T) {
	t.Parallel()
	req := createRequest(contacts(100)...)
	req.Name = "七月第一批老客户满意度回访任务(一)"
	req.AutoStart = true
	req.Recall = &Recall{Times: 3, Interval: 30 * time.Minute, Reasons: []string{"关机", "停机", "空号", "无人接听", "用户忙", "拒接", "无法接通"}}
	req.AppendTo = "dial_task_main_sn|3c69a4b1d2e35f7a9b0c1d2e3f4a5b6c"
	rows, err := req.rows()
	require.NoError(t, err)
	p := NewParams().Set("user_sn", testUserSN).Set("api_key", testAPIKey)
	call := req.params(rowBatch{rows, 0})
	for i, k := range call.keys {
		p.Set(k, call.vals[i])
	}
	body, err := signedBody(p)
	require.NoError(t, err)
	assert.Greater(t, len(body)-rows.sizes[0], 512, "the parameters besides the contacts")
	assert.Equal(t, len(body), cap(body))
}

func TestContactsAreNotAQueryValue(t *testing.T) {
	t.Parallel()
	rows, err := testColumns.rows(contacts(1), 1)
	require.NoError(t, err)
	_, err = signedQuery(NewParams().Set("client_info_json", rowBatch{rows, 0}))
	assert.ErrorContains(t, err, "unsupported parameter type")
}

// FuzzImportRows checks the contacts' encoding against referenceRows: the same contact fails, or
// every batch's body is the same bytes, allocated at its length. header is the columns, separated
// by commas; contacts holds a contact a line: phone, name and column=value, separated by tabs.
func FuzzImportRows(f *testing.F) {
	f.Add("姓名,*电话,地址,公司名称,备注", "138 0013-8000\t张三\t地址=深圳/南山\t备注=VIP\n13900139000", uint8(0))
	f.Add("*手机,姓名", "13800138000\t张三\n139-0013-9000\t李四\n 13700137000 \t王五\n1360013600x", uint8(1))
	f.Add("备注,*电话,备注,0", "13800138000\t\t备注=x\t*0=\"\\/\x01", uint8(0))
	f.Add("*姓名,*电话", "13800138000\t ", uint8(0))
	f.Add("*电话,地址", "13800138000\t\t地址=a\xffb", uint8(0))
	f.Add("*电话,\xff", "13800138000", uint8(0))
	f.Add("*电话,地址", "13800138000\t张三\t年龄=30\t电话=1", uint8(0))
	f.Fuzz(func(t *testing.T, header, contacts string, batch uint8) {
		cols := parseColumns(strings.Split(header, ","))
		var list []Contact
		for line := range strings.SplitSeq(contacts, "\n") {
			cells := strings.Split(line, "\t")
			ct := Contact{Phone: cells[0]}
			if len(cells) > 1 {
				ct.Name = cells[1]
			}
			for _, cell := range cells[min(2, len(cells)):] {
				k, v, _ := strings.Cut(cell, "=")
				if ct.Fields == nil {
					ct.Fields = map[string]string{}
				}
				ct.Fields[k] = v
			}
			list = append(list, ct)
		}
		size := int(batch)%len(list) + 1
		want, wantErr := referenceRows(cols, list)
		rows, err := cols.rows(list, size)
		if err != nil || wantErr != nil {
			if err == nil || wantErr == nil || failedAt(err) != failedAt(wantErr) {
				t.Fatalf("rows: %v; reference: %v", err, wantErr)
			}
			return
		}
		for b := range rows.sizes {
			call := func(info any) *Params {
				return NewParams().Set("user_sn", testUserSN).Set("client_info_json", info).Set("ai_user_sn", "SYSUSER|317d")
			}
			wantBody, err := signedBody(call(NewParams().Set("data", want[b*size:min((b+1)*size, len(want))])))
			if err != nil {
				t.Fatal(err)
			}
			body, err := signedBody(call(rowBatch{rows, b}))
			if err != nil || string(body) != string(wantBody) {
				t.Fatalf("batch %d: %v\n got %s\nwant %s", b, err, body, wantBody)
			}
			if len(body) != cap(body) {
				t.Fatalf("batch %d: %d bytes in a buffer of %d", b, len(body), cap(body))
			}
		}
	})
}

// failedAt names what a validation error is about: the contact ("Contacts[3]"), whichever of its
// fields, since a contact's bad fields are found in map order; or the whole error.
func failedAt(err error) string {
	var ve *ValidationError
	if errors.As(err, &ve) {
		if contact, _, ok := strings.Cut(ve.Field, "]"); ok && strings.HasPrefix(contact, "Contacts[") {
			return contact + "]"
		}
	}
	return err.Error()
}

// referenceRows is the plain form of Columns.rows, the code it replaced: each contact's row is a
// *Params, encoded by the Params encoder, and phone numbers are cleaned by a strings.Replacer. The
// first contact that fails its checks or its encoding makes the error.
func referenceRows(cs Columns, contacts []Contact) ([]*Params, error) {
	if len(cs) == 0 {
		return nil, invalid("Columns", "are required: get them with ImportColumns")
	}
	phoneCol, nameCol := cs.phoneIndex(), cs.Index(nameColumn)
	if phoneCol < 0 {
		return nil, invalid("Columns", "have no phone column (电话 or 手机)")
	}
	if len(contacts) == 0 {
		return nil, invalid("Contacts", "at least one is required")
	}
	out := make([]*Params, len(contacts))
	for i, ct := range contacts {
		field := func(col string) string { return fmt.Sprintf("Contacts[%d].%s", i, col) }
		phone := strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(ct.Phone))
		if len(phone) < 5 || len(phone) > 20 || strings.Trim(phone, "0123456789") != "" {
			return nil, invalid(field("Phone"), "%q is not a phone number (5 to 20 digits)", ct.Phone)
		}
		if ct.Name != "" && nameCol < 0 {
			return nil, invalid(field("Name"), "the template has no %s column", nameColumn)
		}
		for k := range ct.Fields {
			switch cs.Index(k) {
			case -1:
				return nil, invalid(field(k), "is not a column of the template")
			case phoneCol, nameCol:
				return nil, invalid(field(k), "set Contact.Phone or Contact.Name instead")
			}
		}
		row := NewParams()
		for j, col := range cs {
			var v string
			switch j {
			case phoneCol:
				v = phone
			case nameCol:
				v = ct.Name
			default:
				var ok bool
				if v, ok = ct.Fields[col.Name]; !ok {
					v = ct.Fields["*"+col.Name]
				}
			}
			if col.Required && strings.TrimSpace(v) == "" {
				return nil, invalid(field(col.Name), "is a required column")
			}
			row.Set(col.Name, v)
		}
		if _, err := row.MarshalJSON(); err != nil {
			return nil, invalid(fmt.Sprintf("Contacts[%d]", i), "%v", err)
		}
		out[i] = row
	}
	return out, nil
}
