package digelao_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/digelaotest"
	"github.com/digelao-go/digelao/internal/testkit"
)

// workbook is an upload of rows (header first) built by the fake's xlsx writer.
func workbook(name string, rows ...[]string) digelao.File {
	return digelao.File{Name: name, Content: bytes.NewReader(digelaotest.Workbook(rows...))}
}

func TestEndToEndAccounts(t *testing.T) {
	t.Parallel()
	var logs testkit.SyncBuffer
	_, c := fakeClient(t, &logs)
	ctx := context.Background()

	roles, err := c.Accounts.Roles(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, roles)

	in := &digelao.SubAccountInput{UserName: "seat-e2e", Contact: "王五", Password: "pw-1", OrganizationID: 1, RoleID: roles[0].ID, MaxCalls: 3}
	sn, err := c.Accounts.Create(ctx, in)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(sn, "SYSUSER|"), sn)

	in.Contact, in.MaxCalls = "赵六", 8
	require.NoError(t, c.Accounts.Update(ctx, in))

	list, total, err := c.Accounts.List(ctx, &digelao.SubAccountListOptions{Name: "seat-e2e"})
	require.NoError(t, err)
	require.Equal(t, 1, total)
	assert.Equal(t, sn, list[0].UserSN)
	assert.Equal(t, "赵六", list[0].Contact)
	assert.Equal(t, 8, list[0].MaxCalls)

	all, total, err := c.Accounts.List(ctx, &digelao.SubAccountListOptions{ListOptions: digelao.ListOptions{PerPage: 1}})
	require.NoError(t, err)
	assert.Equal(t, 2, total, "the default seat and the new one")
	assert.Len(t, all, 1, "one per page")

	res, err := c.Accounts.Delete(ctx, "seat-e2e")
	require.NoError(t, err)
	assert.Equal(t, 1, res.Deleted)
	res, err = c.Accounts.Delete(ctx, "seat-e2e")
	require.ErrorIs(t, err, digelao.ErrAllRejected)
	assert.Equal(t, 1, res.Failed)
}

func TestEndToEndCallTimes(t *testing.T) {
	t.Parallel()
	var logs testkit.SyncBuffer
	_, c := fakeClient(t, &logs)
	ctx := context.Background()

	h, err := c.CallTimes.Get(ctx)
	require.NoError(t, err)
	assert.Equal(t, digelao.TimeRanges{{From: "08:30", To: "12:00"}, {From: "13:30", To: "20:30"}}, h.Monday)

	h.Sunday = nil
	h.Saturday = digelao.TimeRanges{{From: "09:00", To: "11:30"}}
	h.HolidayOn = false
	require.NoError(t, c.CallTimes.Set(ctx, h))
	got, err := c.CallTimes.Get(ctx)
	require.NoError(t, err)
	assert.Equal(t, h, got)
}

func TestEndToEndCustomers(t *testing.T) {
	t.Parallel()
	var logs testkit.SyncBuffer
	_, c := fakeClient(t, &logs)
	ctx := context.Background()

	res, err := c.Customers.AddPrivate(ctx, []digelao.CustomerRow{
		{Phone: "13800138000", Name: "张三", Fields: map[string]string{"备注": "老客户"}},
		{Phone: "13800138001", Name: "李四"},
	}, digelaotest.SeatSN)
	require.NoError(t, err)
	assert.Equal(t, &digelao.CustomerImport{Total: 2, Added: 2, Msg: "导入成功"}, res)

	res, err = c.Customers.AddPublic(ctx, []digelao.CustomerRow{{Phone: "13900139000"}, {Phone: "13900139000"}}, true)
	require.NoError(t, err)
	assert.Equal(t, 1, res.Added)
	assert.Equal(t, 1, res.Repeated, "partial: the duplicate is counted")

	res, err = c.Customers.ImportPublic(ctx, workbook("公海.xlsx", []string{"姓名", "电话"}, []string{"王五", "13700137000"},
		[]string{"坏号", "12ab"}), false, digelao.OriginManual)
	require.NoError(t, err)
	assert.Equal(t, &digelao.CustomerImport{Total: 2, Added: 1, Failed: 1, Msg: "导入成功"}, res)

	_, err = c.Customers.ImportPublic(ctx, workbook("bad.xlsx", []string{"姓名", "电话"}, []string{"x", "no"}), false, digelao.OriginManual)
	require.ErrorIs(t, err, digelao.ErrAllRejected)

	private, total, err := c.Customers.List(ctx, &digelao.CustomerListOptions{Private: true, Search: "张"})
	require.NoError(t, err)
	require.Equal(t, 1, total)
	assert.Equal(t, "13800138000", private[0].Phone)
	assert.Equal(t, digelaotest.SeatSN, private[0].OwnerSN)
	assert.True(t, private[0].Private)
	assert.JSONEq(t, `"老客户"`, string(private[0].Extra["备注"]))

	public, total, err := c.Customers.List(ctx, &digelao.CustomerListOptions{ListOptions: digelao.ListOptions{PerPage: 50}})
	require.NoError(t, err)
	assert.Equal(t, 2, total)
	assert.Len(t, public, 2)
}

func TestEndToEndBlacklist(t *testing.T) {
	t.Parallel()
	var logs testkit.SyncBuffer
	srv, c := fakeClient(t, &logs)
	ctx := context.Background()

	added, err := c.Blacklist.Add(ctx, &digelao.BlockEntry{Phone: "18027465792", Name: "张三", Remark: "投诉"}, 15)
	require.NoError(t, err)
	assert.Equal(t, 1, added.Added)
	_, err = c.Blacklist.Add(ctx, &digelao.BlockEntry{Phone: "18027465792"}, 0)
	require.ErrorIs(t, err, digelao.ErrAllRejected, "already listed")

	added, err = c.Blacklist.Import(ctx, workbook("名单.xls", []string{"姓名", "电话"}, []string{"a", "02088886666"},
		[]string{"b", "13500135000"}, []string{"c", "bad"}), 0)
	require.NoError(t, err)
	assert.Equal(t, &digelao.AddResult{Added: 2, Failed: 1}, added)
	var up digelaotest.Request
	for _, r := range srv.Requests() {
		if r.Path == "/api/importsExcelapi" {
			up = r
		}
	}
	assert.Equal(t, []string{"upload"}, up.Files)
	assert.Equal(t, 0, up.Code, "the fake checked the multipart signature and accepted it")

	list, total, err := c.Blacklist.List(ctx, nil)
	require.NoError(t, err)
	require.Equal(t, 3, total)
	byPhone := map[string]*digelao.BlockedNumber{}
	for _, b := range list {
		byPhone[b.Phone] = b
	}
	require.Contains(t, byPhone, "18027465792")
	assert.Equal(t, 15, byPhone["18027465792"].Days)
	assert.Equal(t, "投诉", byPhone["18027465792"].Remark)
	assert.Equal(t, byPhone["18027465792"].CreatedAt.AddDate(0, 0, 15), byPhone["18027465792"].ExpiresAt)

	var file bytes.Buffer
	n, err := c.Blacklist.Download(ctx, &file, byPhone["02088886666"].ID)
	require.NoError(t, err)
	assert.Equal(t, int64(file.Len()), n)
	assert.True(t, bytes.HasPrefix(file.Bytes(), []byte("PK")), "an xlsx (zip) file")

	removed, err := c.Blacklist.Remove(ctx, byPhone["02088886666"].ID)
	require.NoError(t, err)
	assert.Equal(t, 1, removed.Removed)
	removed, err = c.Blacklist.RemovePhones(ctx, "13500135000", "13000000000")
	require.NoError(t, err)
	assert.Equal(t, &digelao.RemoveResult{Removed: 1, Failed: 1}, removed)
	_, total, err = c.Blacklist.List(ctx, nil)
	require.NoError(t, err)
	assert.Equal(t, 1, total)
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
	info, err := c.Tasks.ImportResult(ctx, created.ID)
	require.NoError(t, err)
	assert.Equal(t, 2, info.Counts.Success)

	batch, err := c.Tasks.CreateBatch(ctx, &digelao.BatchRequest{Name: "批次一", ProjectSN: digelaotest.TemplateSN,
		SeatSN: digelaotest.SeatSN, SeatName: digelaotest.SeatName, Days: 7,
		File: workbook("批次.xlsx", header, []string{"王五", "13900139000"}, []string{"坏号", "12"})})
	require.NoError(t, err)
	require.NotNil(t, batch.Task.Counts)
	assert.Equal(t, 1, batch.Task.Counts.Success)
	assert.Equal(t, 1, batch.Task.Counts.Fail)
	require.Len(t, batch.Rejected, 1, "the rejected row, with its columns")
	assert.Equal(t, "12", batch.Rejected[0]["电话"])
}

// TestEndToEndUploadRelogin: the platform refuses the api_key of an upload; the client logs in
// again and sends the file once more, from its start.
func TestEndToEndUploadRelogin(t *testing.T) {
	t.Parallel()
	var logs testkit.SyncBuffer
	srv, c := fakeClient(t, &logs)
	ctx := context.Background()
	_, err := c.Login(ctx)
	require.NoError(t, err)
	srv.Inject(digelaotest.Fault{Path: "/api/importsExcelapi", Times: 1, Code: digelao.CodeAPIKeyExpired})
	added, err := c.Blacklist.Import(ctx, workbook("a.xlsx", []string{"电话"}, []string{"13600136000"}), 0)
	require.NoError(t, err)
	assert.Equal(t, 1, added.Added)
	assert.Len(t, srv.Logins(), 2)
}

// TestEndToEndUploadNotRetriedUnlessAllowed: a 5xx on an upload is returned as it is, unless the
// call is under AllowRetry and the content can seek back.
func TestEndToEndUploadNotRetriedUnlessAllowed(t *testing.T) {
	t.Parallel()
	var logs testkit.SyncBuffer
	srv, c := fakeClient(t, &logs)
	ctx := context.Background()
	file := func() digelao.File { return workbook("a.xlsx", []string{"电话"}, []string{"13600136000"}) }

	srv.Inject(digelaotest.Fault{Path: "/api/importsExcelapi", Times: 1, Status: 502})
	_, err := c.Blacklist.Import(ctx, file(), 0)
	var apiErr *digelao.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 502, apiErr.HTTPStatus)

	srv.Inject(digelaotest.Fault{Path: "/api/importsExcelapi", Times: 1, Status: 502})
	added, err := c.Blacklist.Import(digelao.AllowRetry(ctx), file(), 0)
	require.NoError(t, err)
	assert.Equal(t, 1, added.Added)

	srv.Inject(digelaotest.Fault{Path: "/api/importsExcelapi", Times: 1, Status: 502})
	plain := file()
	plain.Content = io.MultiReader(plain.Content) // not a seeker
	_, err = c.Blacklist.Import(digelao.AllowRetry(ctx), plain, 0)
	require.ErrorAs(t, err, &apiErr, "cannot rewind: not retried")
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
			_, err := c.Accounts.Create(ctx, &digelao.SubAccountInput{UserName: "redact", Contact: "x", Password: "sub-secret-pw",
				OrganizationID: 1, RoleID: 2, MaxCalls: 1})
			return err
		},
		func(ctx context.Context, c *digelao.Client) error {
			return c.Accounts.Update(ctx, &digelao.SubAccountInput{UserName: "redact", Contact: "y", Password: "sub-secret-pw",
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
			_, err := c.Customers.AddPrivate(ctx, rows)
			return err
		},
		func(ctx context.Context, c *digelao.Client) error {
			_, err := c.Customers.AddPublic(ctx, rows, false)
			return err
		},
		func(ctx context.Context, c *digelao.Client) error {
			_, err := c.Customers.ImportPublic(ctx, xlsx(), false, digelao.OriginManual)
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
			_, err := c.Blacklist.Download(ctx, io.Discard)
			return err
		},
		func(ctx context.Context, c *digelao.Client) error {
			_, err := c.Blacklist.Add(ctx, &digelao.BlockEntry{Phone: "13800138000"}, 1)
			return err
		},
		func(ctx context.Context, c *digelao.Client) error {
			_, err := c.Blacklist.Import(ctx, xlsx(), 1)
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
