package digelao_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/digelaotest"
)

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
	c, err := srv.Client(digelao.WithRetries(1, time.Millisecond))
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
	tpls, err := c.Templates.List(ctx, nil)
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
	state, err := c.Tasks.ImportState(ctx, importResultPath, created.ID)
	require.NoError(t, err)
	assert.Equal(t, digelao.ImportRunning, state.Status)
	require.NoError(t, srv.Flush(ctx)) // the import, then every call
	info, err := c.Tasks.ImportResult(ctx, created.ID)
	require.NoError(t, err)
	assert.InDelta(t, 100.0, info.Percent, 1e-9)
	assert.Equal(t, 3, info.Counts.Success)
	state, err = c.Tasks.ImportState(ctx, importResultPath, created.ID)
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
	redial, err := c.Tasks.RedialFailed(ctx, &digelao.RedialRequest{TaskSN: created.SN, InPlace: true, NewTaskName: "重呼",
		Recall: digelao.Recall{Times: 1, Interval: time.Minute, Reasons: []string{digelao.ResultPowerOff.String()}}})
	require.NoError(t, err)
	assert.Equal(t, 1, redial.Total)
	done, err := c.Tasks.BatchesCalled(ctx, "")
	require.NoError(t, err)
	assert.True(t, done, "no batch tasks")
}

func TestServicesOperateAndCancel(t *testing.T) {
	t.Parallel()
	srv, c := servicesFake(t)
	ctx := context.Background()
	cols, err := c.Tasks.ImportColumns(ctx, digelaotest.TemplateSN)
	require.NoError(t, err)

	// A synchronous task that waits to be started.
	created, err := c.Tasks.Create(ctx, demoTask(cols, false, "13900000000", "13900000002", "13900000004", "13900000006"))
	require.NoError(t, err)
	require.NotNil(t, created.Counts)
	assert.Equal(t, 4, created.Counts.Success)
	status := func() int {
		for _, tk := range srv.Tasks() {
			if tk.SN == created.SN {
				return tk.Status
			}
		}
		return -1
	}
	assert.Equal(t, 4, status())

	d, err := c.Tasks.Details(ctx, created.ID, &digelao.ListOptions{PerPage: 10})
	require.NoError(t, err)
	require.Len(t, d.Numbers, 4)
	res, err := c.Tasks.CancelCalls(ctx, created.SN, d.Numbers[0])
	require.NoError(t, err)
	assert.Equal(t, 1, res.Success)
	res, err = c.Tasks.CancelByPhone(ctx, created.SN, d.Numbers[1].Phone, "13999999999")
	require.NoError(t, err)
	assert.Equal(t, digelao.CancelResult{Total: 2, Success: 1, Fail: 1}, *res)

	require.NoError(t, c.Tasks.Operate(ctx, created.ID, digelao.TaskResume))
	assert.Equal(t, 0, status())
	require.NoError(t, c.Tasks.Operate(ctx, created.ID, digelao.TaskPause))
	assert.Equal(t, 4, status())
	require.NoError(t, c.Tasks.Operate(ctx, created.ID, digelao.TaskEnd))
	assert.Equal(t, 6, status())
	require.NoError(t, c.Tasks.Operate(ctx, created.ID, digelao.TaskDelete))
	err = c.Tasks.Operate(ctx, created.ID, digelao.TaskResume)
	require.ErrorIs(t, err, digelao.ErrBadData, "a deleted task is gone")
}

func TestServicesImportInBatches(t *testing.T) {
	t.Parallel()
	srv, c := servicesFake(t)
	ctx := context.Background()
	cols, err := c.Tasks.ImportColumns(ctx, digelaotest.TemplateSN)
	require.NoError(t, err)
	res, err := c.Tasks.ImportInBatches(ctx, demoTask(cols, false, "13700000000", "13700000002", "13700000004",
		"13700000006", "13700000008"), 2)
	require.NoError(t, err)
	assert.Equal(t, 5, res.Sent)
	assert.Equal(t, 3, res.Batches)
	require.NoError(t, srv.Flush(ctx))
	tasks := srv.Tasks()
	require.Len(t, tasks, 1, "one task: later batches were appended")
	assert.Equal(t, 5, tasks[0].Numbers)
	assert.Equal(t, res.Task.SN, tasks[0].SN)
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
			_, err := c.Tasks.RedialFailed(ctx, &digelao.RedialRequest{TaskSN: taskSN, NewTaskName: "重呼", Recall: recall})
			return err
		},
		func(ctx context.Context, c *digelao.Client) error {
			_, err := c.Tasks.ImportState(ctx, importResultPath, 1001)
			return err
		},
		func(ctx context.Context, c *digelao.Client) error {
			_, err := c.Tasks.ImportResult(ctx, 1001)
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
			_, err := c.Tasks.ImportInBatches(ctx, demoTask(cols, false, "13800138000", "13800138002"), 1)
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
		func(ctx context.Context, c *digelao.Client) error { _, err := c.Templates.List(ctx, nil); return err },
		func(ctx context.Context, c *digelao.Client) error {
			_, err := c.Templates.Get(ctx, digelaotest.TemplateSN)
			return err
		},
		func(ctx context.Context, c *digelao.Client) error { _, err := c.Templates.Names(ctx); return err },
	}
}
