package digelaotest_test

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/digelaotest"
	"github.com/digelao-go/digelao/internal/flex"
)

// connectOdd connects numbers ending in an odd digit, grade A, talk 20s; the rest are 关机.
func connectOdd(call digelaotest.Call) digelaotest.Outcome {
	if (call.Phone[len(call.Phone)-1]-'0')%2 == 1 {
		return digelaotest.Outcome{Connected: true, Talk: 20 * time.Second, Grade: "A"}
	}
	return digelaotest.Outcome{Reason: "关机"}
}

func TestAsyncImportAndPushes(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, always("SUCCESS"))
	srv := newServer(t) // real (scaled) time: 1 simulated minute = 50ms
	c := newClient(t, srv)
	ctx := testCtx(t)
	require.NoError(t, c.SetCallback(ctx, &digelao.CallbackRequest{Open: true, CallbackURL: rc.URL + "/call", TaskCallbackURL: rc.URL + "/task"}))

	id, sn := createTask(t, c, "/api/addJsonOfAsync", "异步任务1", true, "13800000001", "13800000002", "13800000003")
	require.NoError(t, srv.WaitIdle(ctx))

	imports := rc.received("/task")
	require.Len(t, imports, 1)
	assert.Equal(t, `{"dial_task_main_sn":"`+strings.ReplaceAll(sn, "/", `\/`)+`","import_mark":{"totalCount":3,"failCount":0,`+
		`"blacklistCount":0,"repeatCount":0,"successCount":3,"filterCount":0,"shiCount":0,"kongCount":0,"tingjiCount":0,`+
		`"kuwuCount":0,"chenmoCount":0,"fenxianCount":0,"chaopinCount":0}}`, imports[0])

	calls := rc.received("/call")
	require.Len(t, calls, 3)
	phones := map[string]bool{}
	for _, body := range calls {
		var row map[string]any
		require.NoError(t, json.Unmarshal([]byte(body), &row), body)
		assert.Regexp(t, `^account\|[0-9a-f]{32}$`, row["sn"])
		assert.Equal(t, sn, row["dial_task_main_sn"])
		assert.Equal(t, "异步任务1", row["source"])
		assert.Contains(t, []any{"A", "B", "C", "D", "E", "F"}, row["status"])
		assert.NotContains(t, row, "code", "a push is the bare record, no envelope")
		phones[row["phone"].(string)] = true
	}
	assert.Len(t, phones, 3)
	for _, r := range srv.CallRecords() {
		assert.True(t, r.Pushed)
	}

	var list struct {
		Total int              `json:"total"`
		List  []map[string]any `json:"list"`
	}
	require.NoError(t, c.Do(ctx, "POST", "/api/crmList", nil, &list))
	assert.Equal(t, 3, list.Total)

	var info struct {
		Percent int            `json:"import_percent"`
		Mark    map[string]int `json:"import_mark"`
	}
	require.NoError(t, c.Do(ctx, "POST", "/api/getImportTaskInfo", digelao.NewParams().Set("dial_task_main_id", id), &info))
	assert.Equal(t, 100, info.Percent)
	assert.Equal(t, 3, info.Mark["successCount"])

	var tasks struct {
		Total int              `json:"total"`
		List  []map[string]any `json:"list"`
	}
	require.NoError(t, c.Do(ctx, "POST", "/api/index", nil, &tasks))
	require.Equal(t, 1, tasks.Total)
	assert.Equal(t, "已发送", tasks.List[0]["status"])
	assert.EqualValues(t, 3, tasks.List[0]["total_count"])
	assert.Equal(t, "0", tasks.List[0]["stops"], "counts as strings, as captured")
}

func TestPushRetries(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		reply func(int) string
		tries int
		ok    bool
	}{
		"always failing: three tries": {always("FAIL"), 3, false},
		"lowercase is not SUCCESS":    {always("success"), 3, false},
		"trailing newline is not":     {always("SUCCESS\n"), 3, false},
		"second try succeeds": {func(n int) string {
			if n == 2 {
				return "SUCCESS"
			}
			return "busy"
		}, 2, true},
		"first try succeeds": {always("SUCCESS"), 1, true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t, tc.reply)
			srv := newServer(t, digelaotest.WithManualTime(), digelaotest.WithOutcomes(connectOdd))
			c := newClient(t, srv)
			ctx := testCtx(t)
			require.NoError(t, c.SetCallback(ctx, &digelao.CallbackRequest{Open: true, CallbackURL: rc.URL}))
			createTask(t, c, "/api/addJson", "重试", true, "13900000001")
			require.NoError(t, srv.Flush(ctx))

			assert.Len(t, rc.received("/"), tc.tries)
			pushes := srv.Pushes()
			require.Len(t, pushes, tc.tries)
			for i, p := range pushes {
				assert.Equal(t, i+1, p.Attempt)
				assert.Equal(t, digelaotest.PushCall, p.Kind)
				assert.Equal(t, tc.ok && i == tc.tries-1, p.OK)
				if i > 0 {
					assert.Equal(t, time.Minute, p.At.Sub(pushes[i-1].At), "a simulated minute between tries")
				}
			}
			rec := srv.CallRecords()[0]
			assert.Equal(t, tc.ok, rec.Pushed)
			assert.Equal(t, time.Minute, pushes[0].At.Sub(rec.EndedAt), "first push a minute after hang-up")
		})
	}
}

func TestPushesOnlyWhenOpen(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, always("SUCCESS"))
	srv := newServer(t, digelaotest.WithManualTime())
	c := newClient(t, srv)
	ctx := testCtx(t)
	require.NoError(t, c.SetCallback(ctx, &digelao.CallbackRequest{Open: false, CallbackURL: rc.URL}))
	createTask(t, c, "/api/addJsonOfAsync", "关闭推送", true, "13900000001", "13900000002")
	require.NoError(t, srv.Flush(ctx))
	assert.Len(t, srv.CallRecords(), 2)
	assert.Empty(t, srv.Pushes())
}

func TestStopAndKeepOn(t *testing.T) {
	t.Parallel()
	srv := newServer(t, digelaotest.WithManualTime(), digelaotest.WithOutcomes(connectOdd))
	c := newClient(t, srv)
	ctx := testCtx(t)
	phones := []string{"13700000001", "13700000002", "13700000003", "13700000004", "13700000005", "13700000006", "13700000007"}
	id, _ := createTask(t, c, "/api/addJson", "暂停继续", true, phones...)
	operate := func(oper string) {
		p := digelao.NewParams().Set("project_type", 2).Set("pkeys", id).Set("oper", oper)
		require.NoError(t, c.Do(ctx, "POST", "/api/operateTask", p, nil))
	}
	// 5.2's documented reply, which has no data.
	stop := digelao.NewParams().Set("project_type", "2").Set("pkeys", fmt.Sprint(id)).Set("oper", "stop")
	assert.Equal(t, map[string]any{"code": 0.0, "msg": "操作成功"}, callerFor(t, srv, c).post("/api/operateTask", stop))
	require.NoError(t, srv.Flush(ctx))
	assert.Empty(t, srv.CallRecords(), "stopped before any call")
	assert.Equal(t, 4, srv.Tasks()[0].Status)

	operate("keepOn")
	require.NoError(t, srv.Flush(ctx))
	assert.Len(t, srv.CallRecords(), 7)
	task := srv.Tasks()[0]
	assert.Equal(t, 1, task.Status)
	assert.Equal(t, 4, task.Connected)
	assert.False(t, task.StoppedAt.IsZero())

	operate("failRe") // the three failed numbers again
	require.NoError(t, srv.Flush(ctx))
	assert.Len(t, srv.CallRecords(), 10)

	operate("delete")
	assert.True(t, srv.Tasks()[0].Deleted)
	err := c.Do(ctx, "POST", "/api/operateTask", digelao.NewParams().Set("project_type", 2).Set("pkeys", id).Set("oper", "keepOn"), nil)
	assert.ErrorIs(t, err, digelao.ErrBadData, "a deleted task is gone")
}

func TestTaskWaitsForKeepOnWithoutIsZidong(t *testing.T) {
	t.Parallel()
	srv := newServer(t, digelaotest.WithManualTime())
	c := newClient(t, srv)
	ctx := testCtx(t)
	id, sn := createTask(t, c, "/api/addJsonOfAsync", "手动启动", false, "13600000001", "13600000002", "13600000003")
	require.NoError(t, srv.Flush(ctx))
	assert.Empty(t, srv.CallRecords())

	var details struct {
		Total int              `json:"total"`
		Info  map[string]any   `json:"info"`
		List  []map[string]any `json:"list"`
	}
	require.NoError(t, c.Do(ctx, "POST", "/api/getDetailsList", digelao.NewParams().Set("dial_task_main_id", id), &details))
	require.Equal(t, 3, details.Total)
	assert.Equal(t, sn, details.Info["dial_task_main_sn"])
	var out struct{ Total, Success, Fail int }
	p := digelao.NewParams().Set("dial_task_main_sn", sn).
		Set("sn", []string{details.List[0]["sn"].(string), "dial_task_detail|unknown"}).Set("detail_type", []string{"0", "0"})
	require.NoError(t, c.Do(ctx, "POST", "/api/cancelCall", p, &out))
	assert.Equal(t, struct{ Total, Success, Fail int }{2, 1, 1}, out)
	p = digelao.NewParams().Set("dial_task_main_sn", sn).Set("callee", "13600000002")
	require.NoError(t, c.Do(ctx, "POST", "/api/cancelCallCallee", p, &out))
	assert.Equal(t, struct{ Total, Success, Fail int }{1, 1, 0}, out)

	p = digelao.NewParams().Set("project_type", 2).Set("pkeys", sn).Set("oper", "keepOn")
	require.NoError(t, c.Do(ctx, "POST", "/api/operateTask", p, nil))
	require.NoError(t, srv.Flush(ctx))
	recs := srv.CallRecords()
	require.Len(t, recs, 1)
	assert.Equal(t, "13600000003", recs[0].Phone)
	assert.Equal(t, 2, srv.Tasks()[0].Cancelled)
}

func TestAppendAndAutoRecall(t *testing.T) {
	t.Parallel()
	srv := newServer(t, digelaotest.WithManualTime(), digelaotest.WithOutcomes(func(call digelaotest.Call) digelaotest.Outcome {
		return digelaotest.Outcome{Connected: call.Attempt == 3, Reason: "无人应答"} // answers the third call
	}))
	c := newClient(t, srv)
	ctx := testCtx(t)
	p := digelao.NewParams().Set("source", "自动重呼").Set("project_sn", digelaotest.TemplateSN).
		Set("ai_user_sn", digelaotest.SeatSN).Set("is_zidong", "on").Set("client_info_json", rows("13500000001")).
		Set("is_auto_fail_recall", 1).Set("total_fail_recall_times", 2).Set("fail_recall_interval", 5).
		Set("fail_recall_of_reason", "关机,无人应答")
	var out struct {
		SN string `json:"dial_task_main_sn"`
	}
	require.NoError(t, c.Do(ctx, "POST", "/api/addJson", p, &out))
	require.NoError(t, srv.Flush(ctx))
	recs := srv.CallRecords()
	require.Len(t, recs, 3, "first call and two recalls")
	assert.True(t, recs[2].Connected)
	assert.GreaterOrEqual(t, recs[1].StartedAt.Sub(recs[0].EndedAt), 5*time.Minute)
	assert.Equal(t, 1, srv.Tasks()[0].Status)

	// Appending to a finished task pauses it until keepOn (5.7.2).
	p = digelao.NewParams().Set("dial_task_main_sn", out.SN).Set("client_info_json", rows("13500000002", "13500000001"))
	var mark struct {
		Mark map[string]int `json:"import_mark"`
	}
	require.NoError(t, c.Do(ctx, "POST", "/api/addJson", p, &mark))
	assert.Equal(t, 1, mark.Mark["repeatCount"])
	assert.Equal(t, 1, mark.Mark["successCount"])
	assert.Equal(t, 4, srv.Tasks()[0].Status)
}

func TestImportValidation(t *testing.T) {
	t.Parallel()
	srv := newServer(t, digelaotest.WithManualTime())
	c := newClient(t, srv)
	ctx := testCtx(t)
	base := func() *digelao.Params {
		return digelao.NewParams().Set("source", "校验").Set("project_sn", digelaotest.TemplateSN).Set("ai_user_sn", digelaotest.SeatSN)
	}
	t.Run("too many rows", func(t *testing.T) {
		list := make([]*digelao.Params, 30001)
		for i := range list {
			list[i] = digelao.NewParams().Set("电话", fmt.Sprintf("138%08d", i))
		}
		err := c.Do(ctx, "POST", "/api/addJsonOfAsync", base().Set("client_info_json", digelao.NewParams().Set("data", list)), nil)
		var apiErr *digelao.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, digelao.CodeImportTooMany, apiErr.Code)
	})
	t.Run("no rows", func(t *testing.T) {
		err := c.Do(ctx, "POST", "/api/addJsonOfAsync", base().Set("client_info_json", "{}"), nil)
		var apiErr *digelao.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, digelao.CodeImportNoData, apiErr.Code)
	})
	t.Run("bad task name, template, seat", func(t *testing.T) {
		for _, p := range []*digelao.Params{
			base().Set("source", "含 空格"), base().Set("project_sn", "projects|nope"), base().Set("ai_user_sn", "SYSUSER|nope"),
		} {
			assert.ErrorIs(t, c.Do(ctx, "POST", "/api/addJson", p.Set("client_info_json", rows("13800000000")), nil), digelao.ErrBadData)
		}
	})
	t.Run("required columns and numbers, as a JSON string", func(t *testing.T) {
		// The second template requires 姓名 and 电话.
		p := digelao.NewParams().Set("source", "必填列").Set("project_sn", "project|9ac4e1b27d5f3a8c6e0b4d2f1a9c7e35").
			Set("ai_user_sn", digelaotest.SeatSN).
			Set("client_info_json", `{"data":[{"姓名":"张三","电话":"13800000001"},{"电话":"13800000002"},{"姓名":"王五","电话":"12ab"}]}`)
		var out struct {
			ID int64 `json:"dial_task_main_id"`
		}
		require.NoError(t, c.Do(ctx, "POST", "/api/addJsonOfAsync", p, &out))
		var info struct {
			Percent int                 `json:"import_percent"`
			Mark    map[string]int      `json:"import_mark"`
			Fails   []map[string]string `json:"import_fail_data"`
		}
		require.NoError(t, c.Do(ctx, "POST", "/api/getImportTaskInfo", digelao.NewParams().Set("dial_task_main_id", out.ID), &info))
		assert.Less(t, info.Percent, 100, "manual time: still importing")
		require.NoError(t, srv.Flush(ctx))
		require.NoError(t, c.Do(ctx, "POST", "/api/getImportTaskInfo", digelao.NewParams().Set("dial_task_main_id", out.ID), &info))
		assert.Equal(t, 100, info.Percent)
		assert.Equal(t, 3, info.Mark["totalCount"])
		assert.Equal(t, 2, info.Mark["failCount"])
		assert.Equal(t, 1, info.Mark["successCount"])
		assert.Equal(t, []map[string]string{
			{"姓名": "", "电话": "13800000002", "欠费金额": "", "备注": ""},
			{"姓名": "王五", "电话": "12ab", "欠费金额": "", "备注": ""},
		}, info.Fails)
	})
}

func TestDailyTaskLimit(t *testing.T) {
	t.Parallel()
	srv := newServer(t, digelaotest.WithManualTime())
	c := newClient(t, srv)
	ctx := testCtx(t)
	for i := range 100 {
		createTask(t, c, "/api/addJson", fmt.Sprintf("任务%d", i), false, "13800000000")
	}
	p := digelao.NewParams().Set("source", "任务100").Set("project_sn", digelaotest.TemplateSN).
		Set("ai_user_sn", digelaotest.SeatSN).Set("client_info_json", rows("13800000000"))
	err := c.Do(ctx, "POST", "/api/addJson", p, nil)
	var apiErr *digelao.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, digelaotest.CodeTaskLimit, apiErr.Code)
	assert.Equal(t, "新建外呼任务每天有限量100次调用", apiErr.Msg)
	// Appending is not creating.
	p = digelao.NewParams().Set("dial_task_main_sn", srv.Tasks()[0].SN).Set("client_info_json", rows("13800000001"))
	require.NoError(t, c.Do(ctx, "POST", "/api/addJson", p, nil))
}

func TestCRMListFilters(t *testing.T) {
	t.Parallel()
	clock := digelaotest.NewClock(time.Date(2024, 10, 22, 9, 30, 0, 0, time.UTC))
	classified := func(call digelaotest.Call) digelaotest.Outcome {
		out := connectOdd(call)
		if call.Phone == "13100000001" {
			out.ManualGrade, out.ScreenPop = "B", 2
		}
		return out
	}
	srv := newServer(t, digelaotest.WithManualTime(), digelaotest.WithClock(clock.Now), digelaotest.WithOutcomes(classified))
	c := newClient(t, srv)
	ctx := testCtx(t)
	_, sn1 := createTask(t, c, "/api/addJson", "甲", true, "13100000001", "13100000002", "13100000003")
	createTask(t, c, "/api/addJson", "乙", true, "13200000001", "13200000002")
	require.NoError(t, srv.Flush(ctx))

	type page struct {
		Total int              `json:"total"`
		List  []map[string]any `json:"list"`
	}
	list := func(p *digelao.Params) page {
		var out page
		require.NoError(t, c.Do(ctx, "POST", "/api/crmList", p, &out))
		return out
	}
	all := list(nil)
	assert.Equal(t, 5, all.Total)
	assert.Greater(t, all.List[0]["id"].(float64), all.List[4]["id"].(float64), "newest first")
	assert.Equal(t, 1, list(digelao.NewParams().Set("phone", "13100000002")).Total)
	assert.Equal(t, 3, list(digelao.NewParams().Set("dial_task_main_sn", sn1)).Total)
	assert.Equal(t, 3, list(digelao.NewParams().Set("status_search", "status").Set("status", "A,B")).Total)
	assert.Equal(t, 3, list(digelao.NewParams().Set("status_search", "status").Set("status_value", []string{"A"})).Total)
	assert.Equal(t, 0, list(digelao.NewParams().Set("status_search", "status_manual").Set("status_value", []string{"A"})).Total)
	assert.Equal(t, 1, list(digelao.NewParams().Set("status_search", "status_manual").Set("status_value", []string{"A", "B"})).Total)
	assert.Equal(t, 2, list(digelao.NewParams().Set("namephone", "客户B")).Total)
	assert.Equal(t, 3, list(digelao.NewParams().Set("talktimes_min", 1)).Total)
	assert.Equal(t, 5, list(digelao.NewParams().Set("start_create_at", "2024-10-22").Set("end_create_at", "2024-10-22")).Total)
	assert.Equal(t, 0, list(digelao.NewParams().Set("start_create_at", "2024-10-23 00:00:00")).Total)

	p2 := list(digelao.NewParams().Set("pageIndex", 1).Set("pageSize", 2))
	assert.Equal(t, 5, p2.Total)
	require.Len(t, p2.List, 2)
	assert.Equal(t, all.List[2]["sn"], p2.List[0]["sn"])
	assert.Empty(t, list(digelao.NewParams().Set("pageIndex", 9).Set("pageSize", 2)).List)
	assert.ErrorIs(t, c.Do(ctx, "POST", "/api/crmList", digelao.NewParams().Set("pageSize", "x"), nil), digelao.ErrBadData)

	row := list(digelao.NewParams().Set("phone", "13100000001")).List[0]
	assert.Equal(t, "2024-10-22 17:30", row["created_at"].(string)[:16], "China time; the task started at the clock")
	for _, k := range []string{"id", "sn", "user_sn", "user_name", "parent_sn", "team_sn", "team_name", "created_at",
		"updated_at", "name", "phone", "address", "unit", "unit_phone", "project_sn", "project_caption", "dial_task_main_sn",
		"source", "started_at", "connected_at", "disconnected_at", "talktimes", "status", "status_manual", "operator",
		"mark", "is_transfertoagent", "recordpath", "recordfile", "fs_push_screens"} {
		assert.Contains(t, row, k)
	}
	assert.EqualValues(t, 20, row["talktimes"])
	assert.Equal(t, "B", row["status_manual"])
	assert.EqualValues(t, 2, row["fs_push_screens"])
	assert.Nil(t, list(digelao.NewParams().Set("phone", "13100000002")).List[0]["connected_at"], "not connected")
}

func TestRecordingsAndDialogue(t *testing.T) {
	t.Parallel()
	srv := newServer(t, digelaotest.WithManualTime(), digelaotest.WithOutcomes(func(digelaotest.Call) digelaotest.Outcome {
		return digelaotest.Outcome{Connected: true, Talk: 40 * time.Second}
	}))
	c := newClient(t, srv)
	ctx := testCtx(t)
	createTask(t, c, "/api/addJson", "录音", true, "13400001234")
	require.NoError(t, srv.Flush(ctx))
	rec := srv.CallRecords()[0]
	assert.Equal(t, "/mnt/record", rec.RecordPath)
	assert.Regexp(t, `^/mnt/record/\d{8}/\d{4}/\d{14}_demo_demo001_[0-9a-f-]{36}_1234\.wav$`, rec.RecordFile)

	var dlg struct {
		Fragment [][]map[string]any `json:"fragment"`
	}
	// The platform reads connected_at as China time: format it there, or the day is wrong from
	// 16:00 UTC on.
	connected := rec.ConnectedAt.In(flex.China).Format(time.DateTime)
	require.NoError(t, c.Do(ctx, "POST", "/api/cdrshow", digelao.NewParams().Set("accounts_sn", rec.SN).Set("connected_at", connected), &dlg))
	require.Len(t, dlg.Fragment, 2) // 40s: two rounds
	assert.Equal(t, "01问候语+开场白", dlg.Fragment[0][0]["title"])
	segment := dlg.Fragment[0][1]["fenduanluyin"].(string)
	assert.Contains(t, segment, "segmental_record")
	other := rec.ConnectedAt.In(flex.China).AddDate(0, 0, 1).Format(time.DateTime)
	require.NoError(t, c.Do(ctx, "POST", "/api/cdrshow", digelao.NewParams().Set("accounts_sn", rec.SN).Set("connected_at", other), &dlg))
	assert.Empty(t, dlg.Fragment, "looked up on the wrong day")

	cl := newCaller(t, srv)
	resp, audio := cl.get("/api/cdrDownload", digelao.NewParams().Set("recordpath", rec.RecordPath).Set("recordfile", rec.RecordFile))
	assert.Equal(t, "audio/wav", resp.Header.Get("Content-Type"))
	checkWAV(t, audio, 30) // capped
	_, again := cl.get("/api/cdrDownload", digelao.NewParams().Set("recordpath", rec.RecordPath).Set("recordfile", rec.RecordFile))
	assert.Equal(t, audio, again, "deterministic")

	resp, seg := cl.get("/api/cdrFragmentDownload", digelao.NewParams().Set("recordfile", segment))
	assert.Equal(t, 200, resp.StatusCode)
	checkWAV(t, seg, 2)
	resp, _ = cl.get("/api/cdrDownload", digelao.NewParams().Set("recordpath", "/mnt/record").Set("recordfile", "/nope.wav"))
	assert.Equal(t, 404, resp.StatusCode)

	t.Run("6.9 multiServerCdrDownload", func(t *testing.T) {
		ts := fmt.Sprint(time.Now().Unix())
		secret := md5Slice(cl.apiKey + ts)
		p := func(secret string) *digelao.Params {
			return digelao.NewParams().Set("timestamp", ts).Set("secret", secret).
				Set("recordpath", "/mnt/record").Set("recordfile", rec.RecordFile)
		}
		resp, body := cl.get("/api/multiServerCdrDownload", p(secret))
		assert.Equal(t, "audio/wav", resp.Header.Get("Content-Type"))
		assert.Equal(t, audio, body)
		_, body = cl.get("/api/multiServerCdrDownload", p("00000000"))
		assert.JSONEq(t, `{"code":10001,"msg":"url验证失败"}`, string(body))
		// Like every call it carries url (REFERENCE §1.3): without one, or with a wrong one, 10001.
		q := "?api_key=" + cl.apiKey + "&timestamp=" + ts + "&secret=" + secret + "&recordpath=/mnt/record&recordfile=" + rec.RecordFile
		for _, u := range []string{"", "&url=00000000"} {
			_, body = get(t, srv.URL+"/api/multiServerCdrDownload"+q+u)
			assert.JSONEq(t, `{"code":10001,"msg":"url验证失败"}`, string(body), u)
		}
	})
}

func md5Slice(s string) string {
	return fmt.Sprintf("%x", md5.Sum([]byte(s)))[1:9]
}

func checkWAV(t *testing.T, b []byte, seconds int) {
	t.Helper()
	require.Greater(t, len(b), 44)
	assert.Equal(t, "RIFF", string(b[0:4]))
	assert.Equal(t, "WAVEfmt ", string(b[8:16]))
	assert.Equal(t, uint32(len(b)-8), binary.LittleEndian.Uint32(b[4:]))
	assert.Equal(t, uint16(1), binary.LittleEndian.Uint16(b[20:]), "PCM")
	assert.Equal(t, uint32(8000), binary.LittleEndian.Uint32(b[24:]))
	assert.Equal(t, "data", string(b[36:40]))
	assert.Equal(t, uint32(2*8000*seconds), binary.LittleEndian.Uint32(b[40:]))
}

func TestDeterministic(t *testing.T) {
	t.Parallel()
	run := func() ([]digelaotest.CallRecord, []digelaotest.Task, string) {
		clock := digelaotest.NewClock(time.Date(2024, 7, 2, 7, 3, 24, 0, time.UTC))
		srv := newServer(t, digelaotest.WithManualTime(), digelaotest.WithClock(clock.Now), digelaotest.WithSeed(42))
		cl := newCaller(t, srv)
		for i := range 3 {
			p := digelao.NewParams().Set("source", fmt.Sprintf("任务%d", i)).Set("project_sn", digelaotest.TemplateSN).
				Set("ai_user_sn", digelaotest.SeatSN).Set("is_zidong", "on").
				Set("client_info_json", rows("13800000001", "13800000002", "13800000003", "13800000004", "13800000005", "13800000006"))
			require.EqualValues(t, 0, cl.post("/api/addJsonOfAsync", p)["code"])
		}
		require.NoError(t, srv.Flush(testCtx(t)))
		b, err := json.Marshal(cl.post("/api/crmList", digelao.NewParams().Set("pageSize", 100)))
		require.NoError(t, err)
		return srv.CallRecords(), srv.Tasks(), cl.apiKey + string(b)
	}
	r1, t1, l1 := run()
	r2, t2, l2 := run()
	assert.Len(t, r1, 18)
	assert.Equal(t, r1, r2)
	assert.Equal(t, t1, t2)
	assert.Equal(t, l1, l2)
	grades := map[string]int{}
	for _, r := range r1 {
		grades[r.Grade]++
	}
	assert.Greater(t, len(grades), 2, "the seeded default varies outcomes: %v", grades)
	manual, pops := 0, 0
	for _, r := range r1 {
		if r.ManualGrade != "" {
			manual++
		}
		if r.ScreenPop != 0 {
			pops++
		}
	}
	assert.Positive(t, manual, "the seeded default has calls a person classified")
	assert.Positive(t, pops, "the seeded default has calls that popped up on an agent's screen")
}

func TestCloseStopsEverything(t *testing.T) {
	// Not parallel: it counts goroutines.
	var hits atomic.Int32
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // lets the server notice the client leaving
		hits.Add(1)
		<-r.Context().Done() // never answers; the fake must give up on Close
	}))
	defer rc.Close()
	settle := func() int {
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
		return runtime.NumGoroutine()
	}
	before := settle()

	srv := digelaotest.NewServer(digelaotest.WithTimeScale(time.Millisecond), digelaotest.WithPushDelay(0))
	c, err := srv.Client()
	require.NoError(t, err)
	ctx := testCtx(t)
	require.NoError(t, c.SetCallback(ctx, &digelao.CallbackRequest{Open: true, CallbackURL: rc.URL, TaskCallbackURL: rc.URL}))
	createTask(t, c, "/api/addJsonOfAsync", "关闭", true, "13000000001", "13000000002", "13000000003", "13000000004")
	require.Eventually(t, func() bool { return hits.Load() > 0 }, 10*time.Second, time.Millisecond,
		"a push is in flight, blocked by the receiver")
	c.CloseIdleConnections()

	done := make(chan struct{})
	go func() { srv.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return while a push was blocked")
	}
	assert.ErrorIs(t, srv.Flush(ctx), digelaotest.ErrClosed)
	assert.ErrorIs(t, srv.WaitIdle(ctx), digelaotest.ErrClosed)
	srv.Close() // idempotent

	deadline := time.Now().Add(5 * time.Second)
	n := settle()
	for n > before && time.Now().Before(deadline) {
		n = settle()
	}
	if n > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines before, %d after Close:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

func TestWaitIdleHonoursContext(t *testing.T) {
	t.Parallel()
	srv := newServer(t, digelaotest.WithManualTime())
	c := newClient(t, srv)
	createTask(t, c, "/api/addJsonOfAsync", "等待", true, "13800000001")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, srv.WaitIdle(ctx), context.DeadlineExceeded, "manual time: nothing runs by itself")
	require.NoError(t, srv.Flush(testCtx(t)))
	require.NoError(t, srv.WaitIdle(testCtx(t)))
}

func TestFailRecall(t *testing.T) {
	t.Parallel()
	srv := newServer(t, digelaotest.WithManualTime(), digelaotest.WithOutcomes(func(call digelaotest.Call) digelaotest.Outcome {
		if call.Attempt > 1 || strings.HasSuffix(call.Phone, "1") {
			return digelaotest.Outcome{Connected: true}
		}
		if strings.HasSuffix(call.Phone, "2") {
			return digelaotest.Outcome{Reason: "关机"}
		}
		return digelaotest.Outcome{Reason: "空号"}
	}))
	c := newClient(t, srv)
	ctx := testCtx(t)
	_, sn := createTask(t, c, "/api/addJson", "原任务", true, "13800000001", "13800000002", "13800000003")
	require.NoError(t, srv.Flush(ctx))
	recall := func(manual string) (string, int) {
		p := digelao.NewParams().Set("dial_task_main_sn", sn).Set("recall_manual", manual).
			Set("fail_recall_of_reason", "关机,停机").Set("total_fail_recall_times", 1).Set("fail_recall_interval", 1).
			Set("task_name", "重呼任务")
		var out struct {
			SN    string `json:"dial_task_main_sn"`
			Total int    `json:"total"`
		}
		require.NoError(t, c.Do(ctx, "POST", "/api/failRecall", p, &out))
		return out.SN, out.Total
	}
	newSN, n := recall("0")
	assert.NotEqual(t, sn, newSN)
	assert.Equal(t, 1, n, "only 关机 matches")
	require.NoError(t, srv.Flush(ctx))
	recs := srv.CallRecords()
	require.Len(t, recs, 5, "the new task's first call fails (关机) and its recall policy calls again")
	for _, r := range recs[3:] {
		assert.Equal(t, newSN, r.TaskSN)
		assert.Equal(t, "13800000002", r.Phone)
	}
	assert.True(t, recs[4].Connected)
	assert.GreaterOrEqual(t, recs[4].StartedAt.Sub(recs[3].EndedAt), time.Minute, "fail_recall_interval")

	for i := 1; i < len(recs); i++ {
		assert.False(t, recs[i].EndedAt.Before(recs[i-1].EndedAt), "manual time never runs backwards")
	}

	sameSN, n := recall("1")
	assert.Equal(t, sn, sameSN)
	assert.Equal(t, 1, n)
	require.NoError(t, srv.Flush(ctx))
	recs = srv.CallRecords()
	require.Len(t, recs, 6)
	assert.Equal(t, sn, recs[5].TaskSN)
	assert.True(t, recs[5].Connected)
	assert.ErrorIs(t, c.Do(ctx, "POST", "/api/failRecall", digelao.NewParams().Set("dial_task_main_sn", sn), nil), digelao.ErrBadData)
}

func TestPushOptions(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, always("no"))
	var logs strings.Builder
	var mu sync.Mutex
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	srv := newServer(t, digelaotest.WithManualTime(), digelaotest.WithPushRetry(2, 10*time.Second),
		digelaotest.WithPushDelay(30*time.Second), digelaotest.WithHTTPClient(hc),
		digelaotest.WithLogger(slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	c := newClient(t, srv)
	ctx := testCtx(t)
	require.NoError(t, c.SetCallback(ctx, &digelao.CallbackRequest{Open: true, CallbackURL: rc.URL}))
	createTask(t, c, "/api/addJson", "推送选项", true, "13800000001")
	require.NoError(t, srv.Flush(ctx))
	pushes := srv.Pushes()
	require.Len(t, pushes, 2)
	assert.Equal(t, 30*time.Second, pushes[0].At.Sub(srv.CallRecords()[0].EndedAt))
	assert.Equal(t, 10*time.Second, pushes[1].At.Sub(pushes[0].At))
	assert.Equal(t, "no", pushes[1].Reply)
	mu.Lock()
	defer mu.Unlock()
	assert.Contains(t, logs.String(), "digelaotest push")
	assert.Contains(t, logs.String(), "path=/api/addJson")
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func TestWithListener(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := newServer(t, digelaotest.WithListener(l))
	assert.Equal(t, "http://"+l.Addr().String(), srv.URL)
	_, err = newClient(t, srv).Login(testCtx(t))
	require.NoError(t, err)
}
