package digelao

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBlacklistList(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	got := serveReply(t, mt, "POST", "/api/BlackListListsDataapi", "admin_blacklist.json")
	list, total, err := c.Blacklist.List(context.Background(), nil)
	require.NoError(t, err)
	assertPost(t, got, "/api/BlackListListsDataapi", commonJSON+`}`)
	assert.Equal(t, 32, total)
	require.Len(t, list, 2)
	b := list[0]
	assert.Equal(t, int64(108), b.ID)
	assert.Equal(t, "18027465792", b.Phone)
	assert.Empty(t, b.Name, "null")
	assert.Equal(t, "某公司", b.Unit)
	assert.Equal(t, "投诉", b.Remark)
	assert.Equal(t, 15, b.Days, "term_value as a string")
	assert.Equal(t, "人工导入", b.Origin)
	assert.Equal(t, china("2019-05-06 19:08:05"), b.CreatedAt)
	assert.Equal(t, china("2019-05-21 19:08:05"), b.ExpiresAt)
	assert.Equal(t, int64(109), list[1].ID)
	assert.Zero(t, list[1].Days)
	assert.True(t, list[1].ExpiresAt.IsZero())

	_, _, err = c.Blacklist.List(context.Background(), &ListOptions{Page: 2, PerPage: 50})
	require.NoError(t, err)
	assertPost(t, got, "/api/BlackListListsDataapi", commonJSON+`,"pageIndex":"2","pageSize":"50"}`)
}

func TestBlacklistRemove(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	got := serveReply(t, mt, "POST", "/api/BlackListDelete", "admin_blacklist_delete.json")
	res, err := c.Blacklist.Remove(context.Background(), 88, 12)
	require.NoError(t, err)
	assertPost(t, got, "/api/BlackListDelete", commonJSON+`,"ids_json":["88","12"]}`)
	assert.Equal(t, &RemoveResult{Removed: 1, Failed: 1}, res)

	phones := []string{" 18027465792", "020-8888 6666"}
	_, err = c.Blacklist.RemovePhones(context.Background(), phones...)
	require.NoError(t, err)
	assertPost(t, got, "/api/BlackListDelete", commonJSON+`,"phone_str":"18027465792,02088886666"}`)
	assert.Equal(t, " 18027465792", phones[0], "the caller's slice is left alone")
}

func TestBlacklistRemoveNothingIsAnError(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	serveReply(t, mt, "POST", "/api/BlackListDelete", "admin_blacklist_delete_none.json")
	res, err := c.Blacklist.Remove(context.Background(), 1, 2)
	require.ErrorIs(t, err, ErrAllRejected)
	assert.Equal(t, &RemoveResult{Failed: 2}, res)
}

func TestBlacklistDownload(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	var query string
	mt.RegisterResponder("GET", testBase+"/api/downloadBlacklistapi", func(r *http.Request) (*http.Response, error) {
		query = r.URL.RawQuery
		resp := httpmock.NewBytesResponse(200, []byte("PK\x03\x04xlsx"))
		resp.Header.Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
		return resp, nil
	})
	var buf bytes.Buffer
	n, err := c.Blacklist.Download(context.Background(), []int64{88, 12}, &buf)
	require.NoError(t, err)
	assert.Equal(t, int64(8), n)
	assert.Equal(t, "PK\x03\x04xlsx", buf.String())
	assert.Equal(t, commonQuery+"&ids_json[0]=88&ids_json[1]=12&url="+urlOf(commonJSON+`,"ids_json":["88","12"]}`), query)

	_, err = c.Blacklist.Download(context.Background(), nil, &buf)
	require.NoError(t, err)
	assert.Equal(t, commonQuery+"&url="+urlOf(commonJSON+`}`), query)
	query = ""
	_, err = c.Blacklist.Download(context.Background(), []int64{}, &buf)
	require.NoError(t, err)
	assert.Equal(t, commonQuery+"&url="+urlOf(commonJSON+`}`), query, "no ids: the whole list")
}

func TestBlacklistDownloadGetsAnErrorReply(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	var got captured
	mt.RegisterResponder("GET", testBase+"/api/downloadBlacklistapi", capture(&got, 200, `{"code":20007,"msg":"没有接口访问权限"}`))
	var buf bytes.Buffer
	_, err := c.Blacklist.Download(context.Background(), nil, &buf)
	require.ErrorIs(t, err, ErrPermission)
	assert.Zero(t, buf.Len())
}

func TestBlacklistAdd(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	got := serveReply(t, mt, "POST", "/api/importsExcelapi", "admin_blacklist_add.json")
	res, err := c.Blacklist.Add(context.Background(), &BlacklistAddRequest{Phone: " 138-0013-8000", Name: "张三", Remark: "投诉"})
	require.NoError(t, err)
	assertPost(t, got, "/api/importsExcelapi", commonJSON+`,"phone":"13800138000","term_value":"0","name":"\u5f20\u4e09","remark":"\u6295\u8bc9"}`)
	assert.Equal(t, &AddResult{Added: 1}, res)
}

func TestBlacklistAddRefusedIsAnError(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	var got captured
	mt.RegisterResponder("POST", testBase+"/api/importsExcelapi", capture(&got, 200, `{"code":0,"msg":"导入成功","success":0,"fail":1}`))
	res, err := c.Blacklist.Add(context.Background(), &BlacklistAddRequest{Phone: "13800138000", Days: 7})
	require.ErrorIs(t, err, ErrAllRejected)
	assert.Equal(t, &AddResult{Failed: 1}, res)
}

func TestBlacklistRefusesBadInput(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	ctx := context.Background()
	_, err := c.Blacklist.Add(ctx, &BlacklistAddRequest{Phone: "12"})
	assertNothingSent(t, mt, err)
	_, err = c.Blacklist.Add(ctx, &BlacklistAddRequest{Phone: "13800138000", Days: -1})
	assertNothingSent(t, mt, err)
	_, err = c.Blacklist.Add(ctx, nil)
	assertNothingSent(t, mt, err)
	_, err = c.Blacklist.Import(ctx, &BlacklistImportRequest{File: File{Name: "a.xlsx", Content: strings.NewReader("x")}, Days: -1})
	assertNothingSent(t, mt, err)
	_, err = c.Blacklist.Add(ctx, &BlacklistAddRequest{Phone: "13800138000", Days: MaxBlockDays + 1})
	assertNothingSent(t, mt, err, "a term past a hundred years")
	_, err = c.Blacklist.Import(ctx, &BlacklistImportRequest{File: File{Name: "a.xlsx", Content: strings.NewReader("x")},
		Days: 99999999999})
	assertNothingSent(t, mt, err)
	_, err = c.Blacklist.Remove(ctx)
	assertNothingSent(t, mt, err)
	_, err = c.Blacklist.Remove(ctx, 0)
	assertNothingSent(t, mt, err)
	_, err = c.Blacklist.RemovePhones(ctx, "abc")
	assertNothingSent(t, mt, err)
	_, err = c.Blacklist.Download(ctx, []int64{-5}, &bytes.Buffer{})
	assertNothingSent(t, mt, err)
	_, err = c.Blacklist.Download(ctx, nil, nil)
	assertNothingSent(t, mt, err)
}
