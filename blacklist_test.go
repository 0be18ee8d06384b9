package digelao_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/digelaotest"
	"github.com/digelao-go/digelao/internal/testkit"
)

func TestEndToEndBlacklist(t *testing.T) {
	t.Parallel()
	var logs testkit.SyncBuffer
	srv, c := fakeClient(t, &logs)
	ctx := context.Background()

	added, err := c.Blacklist.Add(ctx, &digelao.BlacklistAddRequest{Phone: "18027465792", Name: "张三", Remark: "投诉", Days: 15})
	require.NoError(t, err)
	assert.Equal(t, 1, added.Added)
	_, err = c.Blacklist.Add(ctx, &digelao.BlacklistAddRequest{Phone: "18027465792"})
	require.ErrorIs(t, err, digelao.ErrAllRejected, "already listed")

	added, err = c.Blacklist.Import(ctx, &digelao.BlacklistImportRequest{File: workbook("名单.xls", []string{"姓名", "电话"},
		[]string{"a", "02088886666"}, []string{"b", "13500135000"}, []string{"c", "bad"})})
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
	n, err := c.Blacklist.Download(ctx, []int64{byPhone["02088886666"].ID}, &file)
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
