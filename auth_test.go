package digelao_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/internal/testkit"
)

func TestEndToEndReloginAfterKeyExpires(t *testing.T) {
	t.Parallel()
	var logs testkit.SyncBuffer
	srv, c := fakeClient(t, &logs)
	ctx := context.Background()
	params := digelao.NewParams().Set("pageIndex", 0)
	require.NoError(t, c.Do(ctx, "POST", "/api/index", params, nil))

	srv.FailNext(1, digelao.CodeAPIKeyExpired)
	require.NoError(t, c.Do(ctx, "POST", "/api/index", params, nil))
	assert.Len(t, srv.Logins(), 2, "one re-login, then the call is repeated once")

	// Another instance logs in with the same account: this client's key is cancelled.
	other, err := srv.Client()
	require.NoError(t, err)
	_, err = other.Login(ctx)
	require.NoError(t, err)
	require.NoError(t, c.Do(ctx, "POST", "/api/index", params, nil))
	assert.Len(t, srv.Logins(), 4)
}
