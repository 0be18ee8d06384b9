package digelao_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/internal/testkit"
)

func TestEndToEndAccounts(t *testing.T) {
	t.Parallel()
	var logs testkit.SyncBuffer
	_, c := fakeClient(t, &logs)
	ctx := context.Background()

	roles, err := c.Accounts.Roles(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, roles)

	in := &digelao.SubAccountRequest{UserName: "seat-e2e", Contact: "王五", Password: "pw-1", OrganizationID: 1, RoleID: roles[0].ID, MaxCalls: 3}
	created, err := c.Accounts.Create(ctx, in)
	require.NoError(t, err)
	sn := created.UserSN
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
