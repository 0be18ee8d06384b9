package digelao_test

import (
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/digelaotest"
	"github.com/digelao-go/digelao/internal/testkit"
)

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
	added, err := c.Blacklist.Import(ctx, &digelao.BlacklistImportRequest{File: workbook("a.xlsx", []string{"电话"}, []string{"13600136000"})})
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
	_, err := c.Blacklist.Import(ctx, &digelao.BlacklistImportRequest{File: file()})
	var apiErr *digelao.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 502, apiErr.HTTPStatus)

	srv.Inject(digelaotest.Fault{Path: "/api/importsExcelapi", Times: 1, Status: 502})
	added, err := c.Blacklist.Import(digelao.AllowRetry(ctx), &digelao.BlacklistImportRequest{File: file()})
	require.NoError(t, err)
	assert.Equal(t, 1, added.Added)

	srv.Inject(digelaotest.Fault{Path: "/api/importsExcelapi", Times: 1, Status: 502})
	plain := file()
	plain.Content = io.MultiReader(plain.Content) // not a seeker
	_, err = c.Blacklist.Import(digelao.AllowRetry(ctx), &digelao.BlacklistImportRequest{File: plain})
	require.ErrorAs(t, err, &apiErr, "cannot rewind: not retried")
}
