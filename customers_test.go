package digelao_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/digelaotest"
	"github.com/digelao-go/digelao/internal/testkit"
)

func TestEndToEndCustomers(t *testing.T) {
	t.Parallel()
	var logs testkit.SyncBuffer
	_, c := fakeClient(t, &logs)
	ctx := context.Background()

	res, err := c.Customers.AddPrivate(ctx, &digelao.AddPrivateRequest{Rows: []digelao.CustomerRow{
		{Phone: "13800138000", Name: "张三", Fields: map[string]string{"备注": "老客户"}},
		{Phone: "13800138001", Name: "李四"},
	}, OwnerSNs: []string{digelaotest.SeatSN}})
	require.NoError(t, err)
	assert.Equal(t, &digelao.CustomerImport{Total: 2, Added: 2, Msg: "导入成功"}, res)

	res, err = c.Customers.AddPublic(ctx, &digelao.AddPublicRequest{Rows: []digelao.CustomerRow{{Phone: "13900139000"}, {Phone: "13900139000"}}, ReleasePrivate: true})
	require.NoError(t, err)
	assert.Equal(t, 1, res.Added)
	assert.Equal(t, 1, res.Repeated, "partial: the duplicate is counted")

	res, err = c.Customers.ImportPublic(ctx, &digelao.ImportPublicRequest{File: workbook("公海.xlsx", []string{"姓名", "电话"},
		[]string{"王五", "13700137000"}, []string{"坏号", "12ab"}), Origin: digelao.OriginManual})
	require.NoError(t, err)
	assert.Equal(t, &digelao.CustomerImport{Total: 2, Added: 1, Failed: 1, Msg: "导入成功"}, res)

	_, err = c.Customers.ImportPublic(ctx, &digelao.ImportPublicRequest{File: workbook("bad.xlsx", []string{"姓名", "电话"}, []string{"x", "no"}), Origin: digelao.OriginManual})
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
