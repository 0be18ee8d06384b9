package digelao

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAccountsList(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	got := serveReply(t, mt, "POST", "/api/aiUserDatasapi", "admin_subaccounts.json")
	list, total, err := c.Accounts.List(context.Background(), &SubAccountListOptions{ListOptions: ListOptions{Page: 1, PerPage: 20}, Name: "ssss"})
	require.NoError(t, err)
	assertPost(t, got, "/api/aiUserDatasapi", commonJSON+`,"pageIndex":"1","pageSize":"20","user_name":"ssss"}`)
	assert.Equal(t, 2, total)
	require.Len(t, list, 2)
	a := list[0]
	assert.Equal(t, "SYSUSER|108c5de495480208f59162173b327f46", a.UserSN)
	assert.Equal(t, "ssss123456", a.UserName)
	assert.Equal(t, "张三", a.Contact)
	assert.Equal(t, "坐席", a.Job)
	assert.Equal(t, 5, a.MaxCalls, "a number sent as a string")
	assert.Equal(t, 3, a.OrganizationID)
	assert.Equal(t, []string{"projects|4a92e0c3b1f24d9e8c7a6b5d4e3f2a1b", "projects|d98f0a1b2c3d4e5f60718293a4b5c6d7"}, a.TemplateSNs())
	assert.Equal(t, china("2026-11-20 09:12:44"), a.LastLoginAt)
	assert.Equal(t, china("2026-12-31"), a.ExpiresOn)
	assert.JSONEq(t, `"8001"`, string(a.Extra["ext"]))
	assert.NotContains(t, a.Extra, "user_sn")
	assert.Contains(t, string(a.Raw), `"sipname":"ssss123456"`)
	b := list[1]
	assert.Empty(t, b.Contact, "null")
	assert.Nil(t, b.TemplateSNs())
	assert.True(t, b.LastLoginAt.IsZero())
}

func TestAccountsListPaginatorReply(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	got := serveReply(t, mt, "POST", "/api/aiUserDatasapi", "admin_subaccounts_paginator.json")
	list, total, err := c.Accounts.List(context.Background(), nil)
	require.NoError(t, err)
	assertPost(t, got, "/api/aiUserDatasapi", commonJSON+`,"pageIndex":"0"}`)
	assert.Equal(t, 1, total, "no total: the items counted")
	require.Len(t, list, 1)
	assert.Equal(t, "zzh1", list[0].UserName)
}

func validSubAccount() *SubAccountRequest {
	return &SubAccountRequest{UserName: "seat7", Contact: "王五", Password: "pa/ss", OrganizationID: 3, RoleID: 2, MaxCalls: 4}
}

func TestAccountsCreateAndUpdate(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	created := `{"code":0,"msg":"添加成功","data":{"user_sn":"SYSUSER|aa"}}`
	var gotCreate, gotUpdate captured
	mt.RegisterResponder("POST", testBase+"/api/aiUserSaveapi", capture(&gotCreate, 200, created))
	mt.RegisterResponder("POST", testBase+"/api/aiUserUpdateapi", capture(&gotUpdate, 200, `{"code":0,"msg":"修改成功"}`))
	want := commonJSON + `,"user_name":"seat7","contact":"\u738b\u4e94","password":"pa\/ss","re_password":"pa\/ss",` +
		`"organization_id":"3","role_id":"2","max_call_count":"4"}`

	res, err := c.Accounts.Create(context.Background(), validSubAccount())
	require.NoError(t, err)
	assert.Equal(t, "SYSUSER|aa", res.UserSN)
	assert.JSONEq(t, `{"user_sn":"SYSUSER|aa"}`, string(res.Raw))
	assertPost(t, &gotCreate, "/api/aiUserSaveapi", want)

	require.NoError(t, c.Accounts.Update(context.Background(), validSubAccount()))
	assertPost(t, &gotUpdate, "/api/aiUserUpdateapi", want)
}

func TestAccountsRefuseBadInput(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	ctx := context.Background()
	for name, edit := range map[string]func(*SubAccountRequest){
		"no name":     func(in *SubAccountRequest) { in.UserName = " " },
		"no contact":  func(in *SubAccountRequest) { in.Contact = "" },
		"no password": func(in *SubAccountRequest) { in.Password = "" },
		"no org":      func(in *SubAccountRequest) { in.OrganizationID = 0 },
		"no role":     func(in *SubAccountRequest) { in.RoleID = -1 },
		"no calls":    func(in *SubAccountRequest) { in.MaxCalls = 0 },
	} {
		in := validSubAccount()
		edit(in)
		_, err := c.Accounts.Create(ctx, in)
		assertNothingSent(t, mt, err, name)
		assertNothingSent(t, mt, c.Accounts.Update(ctx, in), name)
	}
	_, err := c.Accounts.Create(ctx, nil)
	assertNothingSent(t, mt, err)
	assertNothingSent(t, mt, c.Accounts.Update(ctx, nil))
	_, err = c.Accounts.Delete(ctx)
	assertNothingSent(t, mt, err)
	_, err = c.Accounts.Delete(ctx, "a", "")
	assertNothingSent(t, mt, err)
	_, _, err = c.Accounts.List(ctx, &SubAccountListOptions{ListOptions: ListOptions{Page: -1}})
	assertNothingSent(t, mt, err)
}

func TestAccountsDelete(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	got := serveReply(t, mt, "POST", "/api/aiUserDeleteapi", "admin_subaccount_delete.json")
	res, err := c.Accounts.Delete(context.Background(), "xiaolily", "busy")
	require.NoError(t, err)
	assertPost(t, got, "/api/aiUserDeleteapi", commonJSON+`,"pkey":"user_name","entityInstanceId":["xiaolily","busy"]}`)
	assert.Equal(t, &DeleteResult{Deleted: 1, NotAllowed: 1}, res)
}

func TestAccountsDeleteNothingIsAnError(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	serveReply(t, mt, "POST", "/api/aiUserDeleteapi", "admin_subaccount_delete_none.json")
	res, err := c.Accounts.Delete(context.Background(), "x", "y")
	require.ErrorIs(t, err, ErrAllRejected)
	assert.Contains(t, err.Error(), "/api/aiUserDeleteapi")
	assert.Equal(t, &DeleteResult{Failed: 2}, res, "the counts come with the error")
}

func TestAccountsRoles(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	got := serveReply(t, mt, "POST", "/api/roleGetapi", "admin_roles.json")
	roles, err := c.Accounts.Roles(context.Background())
	require.NoError(t, err)
	assertPost(t, got, "/api/roleGetapi", commonJSON+`}`)
	require.Len(t, roles, 2)
	assert.Equal(t, 1, roles[0].ID)
	assert.Equal(t, "管理员", roles[0].Name)
	assert.JSONEq(t, `"admin"`, string(roles[0].Extra["guard_name"]))
	assert.Contains(t, string(roles[0].Raw), `"guard_name"`, "Raw keeps the role as received")
	assert.Equal(t, 7, roles[1].ID, "an id sent as a string")
}
