package digelao_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/digelaotest"
	"github.com/digelao-go/digelao/internal/testkit"
)

const (
	importContacts   = 30000    // a full import: MaxImportRows
	importAllocLimit = 3        // bytes allocated per byte sent
	importRSSLimit   = 48 << 20 // peak resident set of the whole process, the contacts included
)

// importFixture is a loopback platform that reads each import's body into io.Discard and counts
// it, a client for it, and a request for importContacts contacts with typed-in phone numbers
// ("138 0000 0000") and Chinese text in every column.
type importFixture struct {
	client *digelao.Client
	req    *digelao.CreateTaskRequest
	sent   atomic.Int64 // request body bytes received
}

func newImportFixture(tb testing.TB) *importFixture {
	f := &importFixture{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		f.sent.Add(n)
		_, _ = io.WriteString(w, `{"code":0,"msg":"导入中","data":{"dial_task_main_id":1426,"dial_task_main_sn":"dial_task_main_sn|3c69"}}`)
	}))
	tb.Cleanup(srv.Close)
	c, err := digelao.New(srv.URL, digelao.WithAPIKey("SYSUSER|cb31d43bc89487492bb0e0dd720705e0", "MUOm4NH1"))
	require.NoError(tb, err)
	tb.Cleanup(c.CloseIdleConnections)
	f.client = c
	contacts := make([]digelao.Contact, importContacts)
	for i := range contacts {
		contacts[i] = digelao.Contact{
			Phone: fmt.Sprintf("138 %04d %04d", i/10000, i%10000),
			Name:  fmt.Sprintf("客户%d", i),
			Fields: map[string]string{
				"地址":   fmt.Sprintf("广东省深圳市南山区科技园南区%d号", i%500),
				"公司名称": fmt.Sprintf("深圳市第%d科技有限公司", i%200),
				"备注":   "回访/VIP",
			},
		}
	}
	f.req = &digelao.CreateTaskRequest{Name: "七月老客户满意度回访(一)", ProjectSN: "projects|4a92e5c1d0b34f6a8e7d9c2b1a0f3e5d",
		SeatSN: "SYSUSER|317d8c2a9b4e4f1d8a6c5b3e2d1f0a9c", AutoStart: true,
		Recall:   &digelao.Recall{Times: 2, Interval: 30 * time.Minute, Reasons: []string{"关机", "停机", "无人接听", "用户忙"}},
		Columns:  digelao.Columns{{Name: "姓名"}, {Name: "电话", Required: true}, {Name: "地址"}, {Name: "公司名称"}, {Name: "备注"}},
		Contacts: contacts}
	return f
}

// importAll imports every contact in one batch (the default size) and returns the bytes allocated
// meanwhile and the request body bytes sent.
func (f *importFixture) importAll(tb testing.TB) (alloc, sent int64) {
	var before, after runtime.MemStats
	f.sent.Store(0)
	runtime.ReadMemStats(&before)
	res, err := f.client.Tasks.ImportInBatches(context.Background(), f.req)
	runtime.ReadMemStats(&after)
	require.NoError(tb, err)
	require.Equal(tb, importContacts, res.Sent)
	return int64(after.TotalAlloc - before.TotalAlloc), f.sent.Load()
}

// TestImportInBatchesMemory imports 30,000 contacts in a fresh child process: the bytes allocated
// (by the whole process, the loopback server included) stay within 3× the bytes sent, and the
// process's peak resident set under 48 MiB. A -race build's shadow memory makes its resident set
// meaningless: there, only the allocations are checked.
func TestImportInBatchesMemory(t *testing.T) {
	out, child := inChild(t)
	if child {
		f := newImportFixture(t)
		runtime.GC()
		alloc, sent := f.importAll(t)
		fmt.Printf("IMPORT_RESULT sent=%d alloc=%d vmhwm_kb=%s\n", sent, alloc, peakRSSKB(t))
		return
	}
	m := regexp.MustCompile(`IMPORT_RESULT sent=(\d+) alloc=(\d+) vmhwm_kb=(\d+)`).FindSubmatch(out)
	require.NotNil(t, m, "child output:\n%s", out)
	sent, _ := strconv.ParseInt(string(m[1]), 10, 64)
	alloc, _ := strconv.ParseInt(string(m[2]), 10, 64)
	hwmKB, _ := strconv.ParseInt(string(m[3]), 10, 64)
	ratio := float64(alloc) / float64(sent)
	t.Logf("sent %.1f MiB, allocated %.1f MiB (%.2f×), peak RSS %.1f MiB",
		float64(sent)/(1<<20), float64(alloc)/(1<<20), ratio, float64(hwmKB)/1024)
	assert.LessOrEqual(t, ratio, float64(importAllocLimit), "bytes allocated per byte sent")
	if !testkit.RaceBuild() {
		assert.Less(t, hwmKB*1024, int64(importRSSLimit), "peak RSS")
	}
}

// BenchmarkImportInBatches imports 30,000 contacts into a loopback server per op; alloc/sent is
// the bytes allocated per request body byte.
func BenchmarkImportInBatches(b *testing.B) {
	f := newImportFixture(b)
	b.ReportAllocs()
	var alloc, sent int64
	for b.Loop() {
		a, s := f.importAll(b)
		alloc, sent = alloc+a, sent+s
	}
	b.SetBytes(sent / int64(b.N))
	b.ReportMetric(float64(alloc)/float64(sent), "alloc/sent")
}

func TestEndToEndTaskUploads(t *testing.T) {
	t.Parallel()
	var logs testkit.SyncBuffer
	srv, c := fakeClient(t, &logs)
	ctx := context.Background()
	header := []string{"姓名", "*电话", "地址", "公司名称", "备注"}

	created, err := c.Tasks.CreateFromExcel(ctx, &digelao.ExcelTaskRequest{Name: "表格任务", ProjectSN: digelaotest.TemplateSN,
		SeatSN: digelaotest.SeatSN, File: workbook("任务.xlsx", header, []string{"张三", "13800138000"}, []string{"李四", "13800138001"})})
	require.NoError(t, err)
	require.NotEmpty(t, created.SN)
	require.NoError(t, srv.WaitIdle(ctx))
	info, err := c.Tasks.ImportInfo(ctx, created.ID)
	require.NoError(t, err)
	assert.Equal(t, 2, info.Counts.Success)

	batch, err := c.Tasks.CreateBatch(ctx, &digelao.BatchRequest{Name: "批次一", ProjectSN: digelaotest.TemplateSN,
		SeatSN: digelaotest.SeatSN, SeatName: digelaotest.SeatName, Days: 7,
		File: workbook("批次.xlsx", header, []string{"王五", "13900139000"}, []string{"坏号", "12"})})
	require.NoError(t, err)
	require.NotNil(t, batch.Counts)
	assert.Equal(t, 1, batch.Counts.Success)
	assert.Equal(t, 1, batch.Counts.Fail)
	require.Len(t, batch.Rejected, 1, "the rejected row, with its columns")
	assert.Equal(t, "12", batch.Rejected[0]["电话"])
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
	req := demoTask(cols, false, "13700000000", "13700000002", "13700000004", "13700000006", "13700000008")
	req.BatchSize = 2
	res, err := c.Tasks.ImportInBatches(ctx, req)
	require.NoError(t, err)
	assert.Equal(t, 5, res.Sent)
	assert.Equal(t, 3, res.Batches)
	require.NoError(t, srv.Flush(ctx))
	tasks := srv.Tasks()
	require.Len(t, tasks, 1, "one task: later batches were appended")
	assert.Equal(t, 5, tasks[0].Numbers)
	assert.Equal(t, res.Task.SN, tasks[0].SN)
}
