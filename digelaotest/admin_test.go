package digelaotest_test

import (
	"archive/zip"
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/digelaotest"
)

func TestTemplates(t *testing.T) {
	t.Parallel()
	srv := newServer(t, digelaotest.WithTemplate(digelaotest.Template{SN: "projects|extra", Name: "额外话术", Columns: []string{"*手机号"}}))
	c := newClient(t, srv)
	ctx := testCtx(t)

	var list []map[string]any
	require.NoError(t, c.Do(ctx, "POST", "/api/templatelist", nil, &list))
	require.Len(t, list, 3)
	assert.Equal(t, digelaotest.TemplateSN, list[0]["sn"])
	assert.Equal(t, digelaotest.TemplateName, list[0]["project_caption"])
	require.NoError(t, c.Do(ctx, "POST", "/api/templatelist", digelao.NewParams().Set("project_name", "额外"), &list))
	require.Len(t, list, 1)
	require.NoError(t, c.Do(ctx, "POST", "/api/templatelist", digelao.NewParams().Set("pageIndex", 1).Set("pageSize", 2), &list))
	require.Len(t, list, 1)

	var projects []map[string]any
	require.NoError(t, c.Do(ctx, "POST", "/api/getProjects", nil, &projects))
	assert.Len(t, projects, 3)
	assert.Contains(t, projects[1]["project_sn"], "project|", "both prefixes occur")

	cl := newCaller(t, srv)
	reply := cl.post("/api/templatedata", digelao.NewParams().Set("parent_sn", digelaotest.TemplateSN))
	assert.EqualValues(t, 0, reply["code"])
	assert.Equal(t, digelaotest.TemplateSN, reply["task"].(map[string]any)["sn"])
	assert.NotEmpty(t, reply["data"])

	resp, body := cl.get("/api/exportModel", digelao.NewParams().Set("project_sn", digelaotest.TemplateSN))
	assert.Equal(t, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", resp.Header.Get("Content-Type"))
	assert.Contains(t, resp.Header.Get("Content-Disposition"), "attachment")
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	require.NoError(t, err)
	var sheet string
	for _, f := range zr.File {
		if f.Name == "xl/worksheets/sheet1.xml" {
			rc, err := f.Open()
			require.NoError(t, err)
			b, _ := io.ReadAll(rc)
			rc.Close()
			sheet = string(b)
		}
	}
	assert.Contains(t, sheet, "<t xml:space=\"preserve\">*电话</t>")
	_, again := cl.get("/api/exportModel", digelao.NewParams().Set("project_sn", digelaotest.TemplateSN))
	assert.Equal(t, body, again, "deterministic")
}

// xlsxFrom fills the template's xlsx (from exportModel) with rows, by editing its sheet.
func xlsxFrom(t *testing.T, template []byte, rows ...[]string) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(template), int64(len(template)))
	require.NoError(t, err)
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		rc, err := f.Open()
		require.NoError(t, err)
		b, err := io.ReadAll(rc)
		require.NoError(t, err)
		rc.Close()
		if f.Name == "xl/worksheets/sheet1.xml" {
			var extra strings.Builder
			for i, row := range rows {
				r := string(rune('2' + i))
				extra.WriteString(`<row r="` + r + `">`)
				for j, v := range row {
					// Numbers as numbers, text as inline strings, as Excel would.
					ref := string(rune('A'+j)) + r
					if v != "" && strings.Trim(v, "0123456789") == "" {
						extra.WriteString(`<c r="` + ref + `"><v>` + v + `</v></c>`)
					} else {
						extra.WriteString(`<c r="` + ref + `" t="inlineStr"><is><t>` + v + `</t></is></c>`)
					}
				}
				extra.WriteString(`</row>`)
			}
			b = []byte(strings.Replace(string(b), "</sheetData>", extra.String()+"</sheetData>", 1))
		}
		w, err := zw.Create(f.Name)
		require.NoError(t, err)
		_, err = w.Write(b)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return out.Bytes()
}

func TestExcelImports(t *testing.T) {
	t.Parallel()
	srv := newServer(t, digelaotest.WithManualTime())
	cl := newCaller(t, srv)
	_, tpl := cl.get("/api/exportModel", digelao.NewParams().Set("project_sn", digelaotest.TemplateSN))
	file := xlsxFrom(t, tpl, []string{"张三", "13800000001", "深圳"}, []string{"", "", ""}, []string{"李四", "13800000002"})

	fields := digelao.NewParams().Set("project_sn", digelaotest.TemplateSN).Set("source", "表格导入").
		Set("ai_user_sn", digelaotest.SeatSN).Set("is_zidong", "on")
	reply := cl.multipart("/api/addExcelOfAsync", fields, "名单.xlsx", file)
	require.EqualValues(t, 0, reply["code"], reply)
	require.NoError(t, srv.Flush(testCtx(t)))
	recs := srv.CallRecords()
	require.Len(t, recs, 2, "the blank row is skipped")
	assert.ElementsMatch(t, []string{"张三", "李四"}, []string{recs[0].Name, recs[1].Name})
	var found bool
	for _, r := range srv.Requests() {
		if r.Path == "/api/addExcelOfAsync" {
			found = true
			assert.Equal(t, []string{"upload"}, r.Files)
			assert.NotContains(t, r.Signed, "upload")
			assert.Equal(t, 0, r.Code)
		}
	}
	assert.True(t, found)

	t.Run("errors", func(t *testing.T) {
		assert.EqualValues(t, 30001, cl.multipart("/api/addExcelOfAsync", fields, "", nil)["code"])
		assert.EqualValues(t, 30002, cl.multipart("/api/addExcelOfAsync", fields, "名单.csv", []byte("a,b"))["code"])
		assert.EqualValues(t, 30002, cl.multipart("/api/addExcelOfAsync", fields, "名单.xlsx", []byte("not a zip"))["code"])
		assert.EqualValues(t, 30001, cl.multipart("/api/addExcelOfAsync", fields, "名单.xlsx", tpl)["code"], "header only")
		tampered := fields.Clone().Set("source", "改")
		reply := cl.multipart("/api/addExcelOfAsync", tampered, "名单.xlsx", file)
		assert.EqualValues(t, 0, reply["code"], "signed over the fields actually sent")
	})

	t.Run("addBatch and batch status", func(t *testing.T) {
		p := digelao.NewParams().Set("project_sn", digelaotest.TemplateSN).Set("ai_user_sn", digelaotest.SeatSN).
			Set("ai_user_name", digelaotest.SeatName).Set("batch_name", "批次A").Set("term_value", "0")
		reply := cl.multipart("/api/addBatch", p, "批次.xlsx", xlsxFrom(t, tpl, []string{"王五", "13900000009"}))
		require.EqualValues(t, 0, reply["code"], reply)
		status := cl.post("/api/taskBatchImportStatus", digelao.NewParams())
		assert.Equal(t, map[string]any{"code": 0.0, "msg": "未全部呼叫完成", "status": 0.0}, status)
		require.NoError(t, srv.Flush(testCtx(t)))
		status = cl.post("/api/taskBatchImportStatus", digelao.NewParams().Set("user_name", digelaotest.SeatName))
		assert.EqualValues(t, 1, status["status"])
	})
}

func TestImportResultPath(t *testing.T) {
	t.Parallel()
	srv := newServer(t, digelaotest.WithManualTime(), digelaotest.WithImportResultPath("/api/getImportResult"))
	c := newClient(t, srv)
	ctx := testCtx(t)
	id, _ := createTask(t, c, "/api/addJsonOfAsync", "结果", false, "13800000001")
	cl := newCaller(t, srv)
	reply := cl.post("/api/getImportResult", digelao.NewParams().Set("dial_task_main_id", id))
	assert.Equal(t, map[string]any{"code": 200.0, "msg": "请求成功", "data": map[string]any{"status": 1.0, "desc": "导入中", "import_percent": "0%"}}, reply)
	require.NoError(t, srv.Flush(ctx))
	reply = cl.post("/api/getImportResult", digelao.NewParams().Set("dial_task_main_id", id))
	assert.Equal(t, map[string]any{"status": 20.0, "desc": "任务未发送", "import_percent": "100%"}, reply["data"])
	// The SDK takes code 200 as success.
	var data map[string]any
	require.NoError(t, c.Do(ctx, "POST", "/api/getImportResult", digelao.NewParams().Set("dial_task_main_id", id), &data))
	assert.EqualValues(t, 20, data["status"])
}

func TestSubAccounts(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	cl := newCaller(t, srv)
	list := cl.post("/api/aiUserDatasapi", digelao.NewParams().Set("pageIndex", "0").Set("pageSize", "5"))
	assert.EqualValues(t, 1, list["total"])
	assert.NotContains(t, list, "code", "2.1.1 answers {total, data}")
	item := list["data"].([]any)[0].(map[string]any)
	assert.Equal(t, digelaotest.SeatSN, item["user_sn"])
	assert.Equal(t, digelaotest.Username, item["parent_sn"])

	save := digelao.NewParams().Set("user_name", "seat2").Set("contact", "二号").Set("password", "pw").
		Set("re_password", "pw").Set("organization_id", 216).Set("role_id", 2).Set("max_call_count", 3)
	assert.EqualValues(t, 0, cl.post("/api/aiUserSaveapi", save)["code"])
	assert.EqualValues(t, 20002, cl.post("/api/aiUserSaveapi", save)["code"], "taken name")
	assert.EqualValues(t, 20002, cl.post("/api/aiUserSaveapi", digelao.NewParams().Set("user_name", "seat3"))["code"])
	assert.EqualValues(t, 0, cl.post("/api/aiUserUpdateapi", digelao.NewParams().Set("user_name", "seat2").Set("max_call_count", 9))["code"])
	list = cl.post("/api/aiUserDatasapi", digelao.NewParams().Set("user_name", "seat2"))
	assert.EqualValues(t, 9, list["data"].([]any)[0].(map[string]any)["max_call_count"])

	del := cl.post("/api/aiUserDeleteapi", digelao.NewParams().Set("pkey", "user_name").Set("entityInstanceId", []string{"seat2", "ghost"}))
	assert.Equal(t, map[string]any{"rst": "200", "msg": "", "success_num": 1.0, "not_allowed": 0.0, "fail_num": 1.0}, del)

	roles := cl.post("/api/roleGetapi", digelao.NewParams())
	assert.NotEmpty(t, roles["data"])
}

func TestCallTimes(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	c := newClient(t, srv)
	ctx := testCtx(t)
	var times map[string]any
	require.NoError(t, c.Do(ctx, "POST", "/api/callTimeList", nil, &times))
	assert.Equal(t, "08:30-12:00,13:30-20:30", times["week1"])
	p := digelao.NewParams()
	for _, d := range []string{"1", "2", "3", "4", "5", "6", "7"} {
		p.Set("week"+d, "09:00-12:00")
	}
	p.Set("week7", "").Set("holiday_status", 0)
	require.NoError(t, c.Do(ctx, "POST", "/api/timeSave", p, nil))
	require.NoError(t, c.Do(ctx, "POST", "/api/callTimeList", nil, &times))
	assert.Equal(t, "", times["week7"])
	assert.EqualValues(t, 0, times["holiday_status"])
	assert.ErrorIs(t, c.Do(ctx, "POST", "/api/timeSave", p.Clone().Set("week1", "9点"), nil), digelao.ErrBadData)
	assert.ErrorIs(t, c.Do(ctx, "POST", "/api/timeSave", digelao.NewParams().Set("week1", "09:00-12:00"), nil), digelao.ErrBadData)
}

func TestCustomers(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	c := newClient(t, srv)
	ctx := testCtx(t)
	cl := callerFor(t, srv, c) // one login shared: a second would cancel the first key
	// GET with a nested add_json: the SDK sends add_json[data][0][姓名]=… and PHP rebuilds the object.
	var ignored any
	require.NoError(t, c.Do(ctx, "GET", "/api/addCustomerJson", digelao.NewParams().Set("add_json", rows("13800000001", "13800000001", "x")).
		Set("user_sn_input", digelaotest.SeatSN), &ignored))
	resp, body := cl.get("/api/addPublicCustomerJson", digelao.NewParams().Set("add_json", `{"data":[{"姓名":"公海","电话":"13800000009"}]}`).Set("auto_ignore", "1"))
	assert.Equal(t, 200, resp.StatusCode)
	assert.JSONEq(t, `{"total":1,"success_count":1,"fail":"0","repeat":"0","msg":"导入成功","rst":"200"}`, string(body))
	for _, r := range srv.Requests() {
		if r.Path == "/api/addCustomerJson" {
			assert.Contains(t, r.Signed, `"add_json":{"data":[{"\u59d3\u540d":"\u5ba2\u6237A","\u7535\u8bdd":"13800000001"`)
			assert.Equal(t, 0, r.Code)
		}
	}

	var list struct {
		Total int              `json:"total"`
		List  []map[string]any `json:"list"`
	}
	require.NoError(t, c.Do(ctx, "GET", "/api/customerList", digelao.NewParams().Set("isPrivate", 1), &list))
	assert.Equal(t, 1, list.Total, "one added, one repeated, one without a number")
	assert.Equal(t, digelaotest.SeatSN, list.List[0]["user_sn"])
	require.NoError(t, c.Do(ctx, "GET", "/api/customerList", digelao.NewParams().Set("isPrivate", 0).
		Set("data", `{"namephone":"公海"}`), &list))
	assert.Equal(t, 1, list.Total)
	assert.ErrorIs(t, c.Do(ctx, "GET", "/api/customerList", nil, nil), digelao.ErrBadData)

	_, tpl := cl.get("/api/exportModel", digelao.NewParams().Set("project_sn", digelaotest.TemplateSN))
	reply := cl.multipart("/api/importPublicCustomerExcle", digelao.NewParams().Set("auto_ignore", "1").Set("follow_set_id", "-1"),
		"公海.xlsx", xlsxFrom(t, tpl, []string{"赵六", "13800000010"}, []string{"钱七", "13800000009"}))
	assert.Equal(t, map[string]any{"total": 2.0, "success_count": 1.0, "fail": "0", "repeat": "1", "msg": "导入成功", "rst": "200"}, reply)
}

func TestBlacklist(t *testing.T) {
	t.Parallel()
	srv := newServer(t, digelaotest.WithManualTime())
	cl := newCaller(t, srv)
	add := cl.post("/api/importsExcelapi", digelao.NewParams().Set("phone", "13800000001").Set("term_value", "15").Set("remark", "投诉"))
	assert.Equal(t, map[string]any{"code": 0.0, "msg": "导入成功", "success": 1.0, "fail": 0.0}, add)

	list := cl.post("/api/BlackListListsDataapi", digelao.NewParams())
	assert.EqualValues(t, 1, list["total"])
	assert.NotContains(t, list, "code")
	entry := list["datas"].([]any)[0].(map[string]any)
	assert.Equal(t, "15", entry["term_value"])
	assert.Nil(t, entry["name"])
	assert.NotNil(t, entry["term_time"])

	p := digelao.NewParams().Set("source", "黑名单").Set("project_sn", digelaotest.TemplateSN).
		Set("ai_user_sn", digelaotest.SeatSN).Set("client_info_json", rows("13800000001", "13800000002"))
	reply := cl.post("/api/addJson", p)
	mark := reply["data"].(map[string]any)["import_mark"].(map[string]any)
	assert.EqualValues(t, 1, mark["blacklistCount"])
	assert.EqualValues(t, 1, mark["successCount"])

	resp, body := cl.get("/api/downloadBlacklistapi", digelao.NewParams())
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "PK", string(body[:2]))

	del := cl.post("/api/BlackListDelete", digelao.NewParams().Set("phone_str", "13800000001,13800000009"))
	assert.Equal(t, map[string]any{"code": 0.0, "msg": "移除成功", "success": 1.0, "fail": 1.0}, del)
	assert.EqualValues(t, 0, cl.post("/api/BlackListListsDataapi", digelao.NewParams())["total"])
	assert.EqualValues(t, 20002, cl.post("/api/BlackListDelete", digelao.NewParams())["code"])
}
