package digelao_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/digelaotest"
	"github.com/digelao-go/digelao/internal/testkit"
)

// The end-to-end tests that cross areas, against digelaotest, and the helpers that start it for
// every area's end-to-end tests.

// fakeClient starts the fake platform and a client that logs at debug level into logs.
func fakeClient(t *testing.T, logs *testkit.SyncBuffer, opts ...digelao.Option) (*digelaotest.Server, *digelao.Client) {
	t.Helper()
	srv := digelaotest.NewServer()
	t.Cleanup(srv.Close)
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := srv.Client(append([]digelao.Option{digelao.WithLogger(logger), digelao.WithRetries(1, time.Millisecond)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(c.CloseIdleConnections)
	return srv, c
}

func TestEndToEndAgainstTheFake(t *testing.T) {
	t.Parallel()
	var logs testkit.SyncBuffer
	srv, c := fakeClient(t, &logs)
	ctx := context.Background()

	s, err := c.Login(ctx)
	require.NoError(t, err)
	assert.Equal(t, digelaotest.UserSN, s.UserSN)
	assert.True(t, s.ExpiresAt.After(time.Now().Add(time.Hour)))

	require.NoError(t, c.SetCallback(ctx, &digelao.CallbackRequest{Open: true,
		CallbackURL: "https://crm.example.com/push?token=t0k3n", TaskCallbackURL: "https://crm.example.com/import"}))
	assert.Equal(t, digelao.CallbackRequest{Open: true, CallbackURL: "https://crm.example.com/push?token=t0k3n",
		TaskCallbackURL: "https://crm.example.com/import"}, srv.Callback())

	// GET with a query the fake parses like PHP's $_GET, and a signature it recomputes.
	var cols [][]string
	require.NoError(t, c.Do(ctx, "GET", "/api/exportModel",
		digelao.NewParams().Set("project_sn", digelaotest.TemplateSN).Set("type", "json"), &cols))
	require.NotEmpty(t, cols)
	assert.Contains(t, cols[0], "*电话")

	// POST JSON.
	var list struct {
		Total int `json:"total"`
	}
	require.NoError(t, c.Do(ctx, "POST", "/api/index", digelao.NewParams().Set("pageIndex", 0).Set("pageSize", 20), &list))
	assert.Equal(t, 1, len(srv.Logins()), "one login for every call so far")
}

func TestEndToEndFaults(t *testing.T) {
	t.Parallel()
	var logs testkit.SyncBuffer
	srv, c := fakeClient(t, &logs)
	ctx := context.Background()
	require.NoError(t, c.SetCallback(ctx, &digelao.CallbackRequest{CallbackURL: "http://h/p"}))

	srv.FailNextHTTP(1, 502)
	var apiErr *digelao.APIError
	require.ErrorAs(t, c.SetCallback(ctx, &digelao.CallbackRequest{CallbackURL: "http://h/p"}), &apiErr)
	assert.Equal(t, 502, apiErr.HTTPStatus, "a write is not retried")

	srv.FailNextHTTP(1, 503)
	require.NoError(t, c.Do(digelao.AllowRetry(ctx), "GET", "/api/exportModel",
		digelao.NewParams().Set("project_sn", digelaotest.TemplateSN).Set("type", "json"), nil), "a read is retried")

	srv.FailNext(1, digelao.CodePermission)
	require.ErrorIs(t, c.SetCallback(ctx, &digelao.CallbackRequest{CallbackURL: "http://h/p"}), digelao.ErrPermission)
}

// TestNoSecretInLogsOrErrors runs the client's calls at debug level against the fake — successes,
// platform errors, re-logins and transport failures — and checks that no api_key, password,
// access secret or signature appears in any log line or error.
func TestNoSecretInLogsOrErrors(t *testing.T) {
	t.Parallel()
	for _, login := range []string{"password", "access key"} {
		t.Run(login, func(t *testing.T) {
			t.Parallel()
			var logs testkit.SyncBuffer
			opt := digelao.WithPassword(digelaotest.Username, digelaotest.Password)
			if login == "access key" {
				opt = digelao.WithAccessKey(digelaotest.AccessID, digelaotest.AccessSecret)
			}
			srv := digelaotest.NewServer(digelaotest.WithImportResultPath(importResultPath))
			defer srv.Close()
			logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			c, err := digelao.New(srv.URL, opt, digelao.WithLogger(logger), digelao.WithRetries(1, time.Millisecond),
				digelao.WithImportStatePath(importResultPath))
			require.NoError(t, err)
			defer c.CloseIdleConnections()
			ctx := context.Background()

			var errs []error
			record := func(err error) {
				if err != nil {
					errs = append(errs, err)
				}
			}
			for _, call := range publicCalls() {
				record(call(ctx, c))
				srv.FailNext(1, digelao.CodeAPIKeyInvalid)
				record(call(ctx, c))
				srv.FailNextHTTP(2, 500)
				record(call(ctx, c))
			}
			// A transport failure on a GET, whose URL carries the api_key in its query.
			srv.Inject(digelaotest.Fault{Times: 2, Drop: true})
			record(c.Do(ctx, "GET", "/api/exportModel", digelao.NewParams().Set("project_sn", digelaotest.TemplateSN), nil))

			secrets := []string{digelaotest.Password, digelaotest.AccessSecret}
			for _, req := range srv.Requests() {
				for _, p := range req.Params {
					if p.Key == "api_key" || p.Key == "sign" || p.Key == "password" || p.Key == "secret" {
						secrets = append(secrets, p.Value)
					}
				}
				if req.URL != "" {
					secrets = append(secrets, req.URL)
				}
			}
			require.NotEmpty(t, logs.String())
			require.NotEmpty(t, errs, "the faults produced errors to inspect")
			for i, s := range secrets {
				if s == "" {
					continue
				}
				// Report which secret leaked by its position, never by its value.
				assert.False(t, strings.Contains(logs.String(), s), "secret #%d appears in the logs", i)
				for _, err := range errs {
					assert.False(t, strings.Contains(err.Error(), s), "secret #%d appears in an error", i)
				}
			}
			assert.False(t, strings.Contains(logs.String(), "url="), "no query string in logs")
		})
	}
}

// publicCalls lists a call for every public client method that talks to the platform.
func publicCalls() []func(context.Context, *digelao.Client) error {
	return slices.Concat(coreCalls(), serviceCalls(), adminCalls())
}

// coreCalls covers the client's own methods.
func coreCalls() []func(context.Context, *digelao.Client) error {
	return []func(context.Context, *digelao.Client) error{
		func(ctx context.Context, c *digelao.Client) error { _, err := c.Login(ctx); return err },
		func(ctx context.Context, c *digelao.Client) error {
			return c.SetCallback(ctx, &digelao.CallbackRequest{Open: true, CallbackURL: "https://h/p?token=x"})
		},
		func(ctx context.Context, c *digelao.Client) error {
			return c.Do(ctx, "POST", "/api/index", digelao.NewParams().Set("pageIndex", 0), nil)
		},
		func(ctx context.Context, c *digelao.Client) error {
			return c.Do(ctx, "GET", "/api/exportModel", digelao.NewParams().Set("project_sn", digelaotest.TemplateSN).Set("type", "json"), nil)
		},
	}
}

// workbook is an upload of rows (header first) built by the fake's xlsx writer.
func workbook(name string, rows ...[]string) digelao.File {
	return digelao.File{Name: name, Content: bytes.NewReader(digelaotest.Workbook(rows...))}
}

// adminCalls lists one call for every public method of the administrative API, for the
// redaction test.
func adminCalls() []func(context.Context, *digelao.Client) error {
	rows := []digelao.CustomerRow{{Phone: "13800138000", Name: "张三"}}
	xlsx := func() digelao.File {
		return workbook("a.xlsx", []string{"姓名", "*电话"}, []string{"张三", "13800138000"})
	}
	return []func(context.Context, *digelao.Client) error{
		func(ctx context.Context, c *digelao.Client) error {
			_, _, err := c.Accounts.List(ctx, nil)
			return err
		},
		func(ctx context.Context, c *digelao.Client) error {
			_, err := c.Accounts.Create(ctx, &digelao.SubAccountRequest{UserName: "redact", Contact: "x", Password: "sub-secret-pw",
				OrganizationID: 1, RoleID: 2, MaxCalls: 1})
			return err
		},
		func(ctx context.Context, c *digelao.Client) error {
			return c.Accounts.Update(ctx, &digelao.SubAccountRequest{UserName: "redact", Contact: "y", Password: "sub-secret-pw",
				OrganizationID: 1, RoleID: 2, MaxCalls: 2})
		},
		func(ctx context.Context, c *digelao.Client) error {
			_, err := c.Accounts.Delete(ctx, "redact")
			return err
		},
		func(ctx context.Context, c *digelao.Client) error { _, err := c.Accounts.Roles(ctx); return err },
		func(ctx context.Context, c *digelao.Client) error { _, err := c.CallTimes.Get(ctx); return err },
		func(ctx context.Context, c *digelao.Client) error {
			h := digelao.CallingHours{Monday: digelao.TimeRanges{{From: "09:00", To: "18:00"}}}
			return c.CallTimes.Set(ctx, &h)
		},
		func(ctx context.Context, c *digelao.Client) error {
			_, err := c.Customers.AddPrivate(ctx, &digelao.AddPrivateRequest{Rows: rows})
			return err
		},
		func(ctx context.Context, c *digelao.Client) error {
			_, err := c.Customers.AddPublic(ctx, &digelao.AddPublicRequest{Rows: rows})
			return err
		},
		func(ctx context.Context, c *digelao.Client) error {
			_, err := c.Customers.ImportPublic(ctx, &digelao.ImportPublicRequest{File: xlsx(), Origin: digelao.OriginManual})
			return err
		},
		func(ctx context.Context, c *digelao.Client) error {
			_, _, err := c.Customers.List(ctx, &digelao.CustomerListOptions{Search: "张"})
			return err
		},
		func(ctx context.Context, c *digelao.Client) error {
			_, _, err := c.Blacklist.List(ctx, nil)
			return err
		},
		func(ctx context.Context, c *digelao.Client) error { _, err := c.Blacklist.Remove(ctx, 1); return err },
		func(ctx context.Context, c *digelao.Client) error {
			_, err := c.Blacklist.RemovePhones(ctx, "13800138000")
			return err
		},
		func(ctx context.Context, c *digelao.Client) error {
			_, err := c.Blacklist.Download(ctx, nil, io.Discard)
			return err
		},
		func(ctx context.Context, c *digelao.Client) error {
			_, err := c.Blacklist.Add(ctx, &digelao.BlacklistAddRequest{Phone: "13800138000", Days: 1})
			return err
		},
		func(ctx context.Context, c *digelao.Client) error {
			_, err := c.Blacklist.Import(ctx, &digelao.BlacklistImportRequest{File: xlsx(), Days: 1})
			return err
		},
		func(ctx context.Context, c *digelao.Client) error {
			_, err := c.Tasks.CreateFromExcel(ctx, &digelao.ExcelTaskRequest{Name: "redact", ProjectSN: digelaotest.TemplateSN,
				SeatSN: digelaotest.SeatSN, File: xlsx()})
			return err
		},
		func(ctx context.Context, c *digelao.Client) error {
			_, err := c.Tasks.CreateBatch(ctx, &digelao.BatchRequest{Name: "redact", ProjectSN: digelaotest.TemplateSN,
				SeatSN: digelaotest.SeatSN, SeatName: digelaotest.SeatName, File: xlsx()})
			return err
		},
	}
}

// TestAdminCallsAgainstTheFake runs every adminCalls entry once against a fresh fake; each must
// succeed or fail only with ErrAllRejected (a repeat of the same data).
func TestAdminCallsAgainstTheFake(t *testing.T) {
	t.Parallel()
	var logs testkit.SyncBuffer
	_, c := fakeClient(t, &logs)
	for i, call := range adminCalls() {
		err := call(context.Background(), c)
		if err != nil {
			assert.ErrorIs(t, err, digelao.ErrAllRejected, "call #%d", i)
		}
	}
	assert.NotContains(t, logs.String(), "sub-secret-pw")
}

// importResultPath is where the fake serves 5.7.3, whose real path is not published.
const importResultPath = "/api/importResult"

// servicesFake starts a fake whose simulation runs only in Flush, where numbers ending in 1 do
// not connect ("关机") and the others talk for 40s with intent grade A.
func servicesFake(t *testing.T) (*digelaotest.Server, *digelao.Client) {
	t.Helper()
	srv := digelaotest.NewServer(digelaotest.WithManualTime(), digelaotest.WithImportResultPath(importResultPath),
		digelaotest.WithOutcomes(func(call digelaotest.Call) digelaotest.Outcome {
			if strings.HasSuffix(call.Phone, "1") {
				return digelaotest.Outcome{Reason: digelao.ResultPowerOff.String()}
			}
			return digelaotest.Outcome{Connected: true, Talk: 40 * time.Second, Grade: "A"}
		}))
	t.Cleanup(srv.Close)
	c, err := srv.Client(digelao.WithRetries(1, time.Millisecond), digelao.WithImportStatePath(importResultPath))
	require.NoError(t, err)
	t.Cleanup(c.CloseIdleConnections)
	return srv, c
}

// demoTask is a request against the fake's default template and seat.
func demoTask(cols digelao.Columns, autoStart bool, phones ...string) *digelao.CreateTaskRequest {
	req := &digelao.CreateTaskRequest{Name: "回访(演示)", ProjectSN: digelaotest.TemplateSN, SeatSN: digelaotest.SeatSN,
		AutoStart: autoStart, Columns: cols}
	for i, ph := range phones {
		req.Contacts = append(req.Contacts, digelao.Contact{Phone: ph, Name: "客户" + string(rune('A'+i)),
			Fields: map[string]string{"地址": "深圳", "备注": "e2e"}})
	}
	return req
}

func TestServicesEndToEnd(t *testing.T) {
	t.Parallel()
	srv, c := servicesFake(t)
	ctx := context.Background()

	// Templates → columns.
	tpls, _, err := c.Templates.List(ctx, nil)
	require.NoError(t, err)
	require.NotEmpty(t, tpls)
	assert.Equal(t, digelaotest.TemplateSN, tpls[0].SN)
	all, err := c.Templates.Names(ctx)
	require.NoError(t, err)
	assert.True(t, slices.ContainsFunc(all, func(t *digelao.Template) bool { return strings.HasPrefix(t.SN, "project|") }),
		"the fake's second template uses the singular prefix")
	details, err := c.Templates.Get(ctx, digelaotest.TemplateSN)
	require.NoError(t, err)
	assert.Equal(t, digelaotest.TemplateName, details.Template.Name)
	assert.NotEmpty(t, details.Questions)
	cols, err := c.Tasks.ImportColumns(ctx, digelaotest.TemplateSN)
	require.NoError(t, err)
	assert.Equal(t, digelao.Column{Name: "电话", Required: true}, cols[cols.Index("电话")])
	var xlsx bytes.Buffer
	_, err = c.Tasks.DownloadImportTemplate(ctx, digelaotest.TemplateSN, &xlsx)
	require.NoError(t, err)
	assert.True(t, bytes.HasPrefix(xlsx.Bytes(), []byte("PK")), "an xlsx is a zip archive")

	// Create an asynchronous task and follow its import.
	created, err := c.Tasks.CreateAsync(ctx, demoTask(cols, true, "13800000000", "13800000001", "13800000002"))
	require.NoError(t, err)
	require.NotZero(t, created.ID)
	state, err := c.Tasks.ImportState(ctx, created.ID)
	require.NoError(t, err)
	assert.Equal(t, digelao.ImportRunning, state.Status)
	require.NoError(t, srv.Flush(ctx)) // the import, then every call
	info, err := c.Tasks.ImportInfo(ctx, created.ID)
	require.NoError(t, err)
	assert.InDelta(t, 100.0, info.Percent, 1e-9)
	assert.Equal(t, 3, info.Counts.Success)
	state, err = c.Tasks.ImportState(ctx, created.ID)
	require.NoError(t, err)
	assert.True(t, state.Status.Done(), state.Status.String())

	tasks, total, err := c.Tasks.List(ctx, nil)
	require.NoError(t, err)
	require.Equal(t, 1, total)
	assert.Equal(t, created.SN, tasks[0].SN)
	assert.Equal(t, digelao.TaskFinished, tasks[0].Status)
	assert.Equal(t, []int{3, 3, 2, 1}, []int{tasks[0].Total, tasks[0].Sent, tasks[0].Success, tasks[0].Fail})

	// Records → dialogue → recordings.
	recs, total, err := c.Records.List(ctx, &digelao.RecordListOptions{TaskSN: created.SN, Intents: []digelao.IntentGrade{digelao.IntentA}})
	require.NoError(t, err)
	assert.Equal(t, 2, total)
	var swept []*digelao.CallRecord
	for r, err := range c.Records.All(ctx, &digelao.RecordListOptions{ListOptions: digelao.ListOptions{PerPage: 2}}) {
		require.NoError(t, err)
		swept = append(swept, r)
	}
	assert.Len(t, swept, 3)
	rec := recs[0]
	require.True(t, rec.Connected())
	dlg, err := c.Records.Dialogue(ctx, rec.SN, rec.ConnectedAt)
	require.NoError(t, err)
	turns := dlg.Turns()
	require.NotEmpty(t, turns)
	i := slices.IndexFunc(turns, func(t digelao.DialogueTurn) bool { return t.Customer })
	require.GreaterOrEqual(t, i, 0)

	var wav, seg, multi bytes.Buffer
	n, err := c.Records.Download(ctx, rec.RecordPath, rec.RecordFile, &wav)
	require.NoError(t, err)
	assert.Equal(t, int64(wav.Len()), n)
	assert.Equal(t, "RIFF", string(wav.Bytes()[:4]))
	assert.Equal(t, "WAVE", string(wav.Bytes()[8:12]))
	_, err = c.Records.DownloadMultiServer(ctx, rec.RecordPath, rec.RecordFile, &multi)
	require.NoError(t, err)
	assert.Equal(t, wav.Bytes(), multi.Bytes(), "the same recording through 6.9")
	_, err = c.Records.DownloadSegment(ctx, turns[i].Segment, &seg)
	require.NoError(t, err)
	assert.Equal(t, "RIFF", string(seg.Bytes()[:4]))
	_, err = c.Records.Download(ctx, rec.RecordPath, "/mnt/record/missing.wav", io.Discard)
	var apiErr *digelao.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 404, apiErr.HTTPStatus)

	// Redial the failure in place.
	redial, err := c.Tasks.RedialFailed(ctx, created.SN, &digelao.RedialRequest{InPlace: true, NewTaskName: "重呼",
		Recall: digelao.Recall{Times: 1, Interval: time.Minute, Reasons: []string{digelao.ResultPowerOff.String()}}})
	require.NoError(t, err)
	assert.Equal(t, 1, redial.Total)
	done, err := c.Tasks.BatchesCalled(ctx, "")
	require.NoError(t, err)
	assert.True(t, done, "no batch tasks")
}

func TestServiceCallsReachThePlatform(t *testing.T) {
	t.Parallel()
	_, c := servicesFake(t)
	for i, call := range serviceCalls() {
		err := call(context.Background(), c)
		var apiErr *digelao.APIError
		if err != nil && !errors.As(err, &apiErr) {
			t.Errorf("call #%d was not sent: %v", i, err)
		}
	}
}

// serviceCalls has one call per public method of the Tasks, Records and Templates services, with
// arguments that pass validation, for tests that run every call (such as the redaction test).
// Against a fresh fake some answer a platform error (no such task or recording); that is expected.
func serviceCalls() []func(context.Context, *digelao.Client) error {
	cols := digelao.Columns{{Name: "姓名"}, {Name: "电话", Required: true}, {Name: "地址"}, {Name: "公司名称"}, {Name: "备注"}}
	recall := digelao.Recall{Times: 1, Interval: time.Minute, Reasons: []string{"关机"}}
	const taskSN = "dial_task_main_sn|00000000000000000000000000000000"
	const file = "/mnt/record/20240101/0000/none.wav"
	return []func(context.Context, *digelao.Client) error{
		func(ctx context.Context, c *digelao.Client) error { _, _, err := c.Tasks.List(ctx, nil); return err },
		func(ctx context.Context, c *digelao.Client) error {
			return c.Tasks.Operate(ctx, 1001, digelao.TaskPause)
		},
		func(ctx context.Context, c *digelao.Client) error {
			_, err := c.Tasks.Details(ctx, 1001, nil)
			return err
		},
		func(ctx context.Context, c *digelao.Client) error {
			_, err := c.Tasks.CancelCalls(ctx, taskSN, &digelao.TaskDetail{SN: "dial_task_detail|x"})
			return err
		},
		func(ctx context.Context, c *digelao.Client) error {
			_, err := c.Tasks.CancelByPhone(ctx, taskSN, "13800138000")
			return err
		},
		func(ctx context.Context, c *digelao.Client) error {
			_, err := c.Tasks.RedialFailed(ctx, taskSN, &digelao.RedialRequest{NewTaskName: "重呼", Recall: recall})
			return err
		},
		func(ctx context.Context, c *digelao.Client) error {
			_, err := c.Tasks.ImportState(ctx, 1001)
			return err
		},
		func(ctx context.Context, c *digelao.Client) error {
			_, err := c.Tasks.ImportInfo(ctx, 1001)
			return err
		},
		func(ctx context.Context, c *digelao.Client) error {
			_, err := c.Tasks.BatchesCalled(ctx, "")
			return err
		},
		func(ctx context.Context, c *digelao.Client) error {
			_, err := c.Tasks.ImportColumns(ctx, digelaotest.TemplateSN)
			return err
		},
		func(ctx context.Context, c *digelao.Client) error {
			_, err := c.Tasks.DownloadImportTemplate(ctx, digelaotest.TemplateSN, io.Discard)
			return err
		},
		func(ctx context.Context, c *digelao.Client) error {
			_, err := c.Tasks.Create(ctx, demoTask(cols, false, "13800138000"))
			return err
		},
		func(ctx context.Context, c *digelao.Client) error {
			_, err := c.Tasks.CreateAsync(ctx, demoTask(cols, false, "13800138000"))
			return err
		},
		func(ctx context.Context, c *digelao.Client) error {
			req := demoTask(cols, false, "13800138000", "13800138002")
			req.BatchSize = 1
			_, err := c.Tasks.ImportInBatches(ctx, req)
			return err
		},
		func(ctx context.Context, c *digelao.Client) error { _, _, err := c.Records.List(ctx, nil); return err },
		func(ctx context.Context, c *digelao.Client) error {
			for _, err := range c.Records.All(ctx, nil) {
				if err != nil {
					return err
				}
			}
			return nil
		},
		func(ctx context.Context, c *digelao.Client) error {
			_, err := c.Records.Dialogue(ctx, "account|00000000000000000000000000000000", time.Now())
			return err
		},
		func(ctx context.Context, c *digelao.Client) error {
			_, err := c.Records.Download(ctx, "/mnt/record", file, io.Discard)
			return err
		},
		func(ctx context.Context, c *digelao.Client) error {
			_, err := c.Records.DownloadSegment(ctx, file, io.Discard)
			return err
		},
		func(ctx context.Context, c *digelao.Client) error {
			_, err := c.Records.DownloadMultiServer(ctx, "/mnt/record", file, io.Discard)
			return err
		},
		func(ctx context.Context, c *digelao.Client) error {
			_, _, err := c.Templates.List(ctx, nil)
			return err
		},
		func(ctx context.Context, c *digelao.Client) error {
			_, err := c.Templates.Get(ctx, digelaotest.TemplateSN)
			return err
		},
		func(ctx context.Context, c *digelao.Client) error { _, err := c.Templates.Names(ctx); return err },
	}
}
