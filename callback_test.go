package digelao

import (
	"context"
	"testing"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSetCallbackSendsTheDocumentedBytes(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	var got captured
	mt.RegisterResponder("POST", testBase+"/api/setCallback", capture(&got, 200, `{"code":0,"msg":"SUCCESS"}`))

	err := c.SetCallback(context.Background(), &CallbackRequest{CallbackURL: "http://120.78.227.216:81/api/testPush"})
	require.NoError(t, err)
	// The 9.1 example, signed as PHP signs it (vector "doc 9.1 setCallback example").
	assert.Equal(t, `{"user_sn":"SYSUSER|cb31d43bc89487492bb0e0dd720705e0","api_key":"MUOm4NH1","open_callback":"0",`+
		`"callback_url":"http:\/\/120.78.227.216:81\/api\/testPush","url":"ef333344"}`, got.body)
	assert.Equal(t, "application/json", got.contentType)
	assert.Equal(t, "/prefix/api/setCallback", got.path)
	assert.Equal(t, DefaultUserAgent, got.userAgent)
}

func TestSetCallbackWithTaskURL(t *testing.T) {
	t.Parallel()
	mt := httpmock.NewMockTransport()
	c, err := New(testBase, WithAPIKey(testUserSN, "Kpd2vKYC"), WithTransport(mt))
	require.NoError(t, err)
	var got captured
	mt.RegisterResponder("POST", testBase+"/api/setCallback", capture(&got, 200, `{"code":0,"msg":"SUCCESS"}`))
	err = c.SetCallback(context.Background(), &CallbackRequest{Open: true,
		CallbackURL:     "https://crm.example.com/hooks/call?token=a1b2&x=1",
		TaskCallbackURL: "https://crm.example.com/hooks/import"})
	require.NoError(t, err)
	assert.Contains(t, got.body, `"url":"f43d1a39"}`) // vector "setCallback with task url, https and query"
}

func TestSetCallbackRefusesBadURLsBeforeSending(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	mt.RegisterNoResponder(httpmock.NewStringResponder(200, `{"code":0}`))
	for name, cfg := range map[string]CallbackRequest{
		"empty":         {Open: true},
		"relative":      {CallbackURL: "/api/push"},
		"ftp":           {CallbackURL: "ftp://h/p"},
		"no host":       {CallbackURL: "http:///p"},
		"bad task url":  {CallbackURL: "https://h/p", TaskCallbackURL: "mailto:x@y"},
		"unparseable":   {CallbackURL: "http://h/%zz"},
		"scheme only":   {CallbackURL: "https:"},
		"host but junk": {CallbackURL: "javascript:alert(1)"},
	} {
		err := c.SetCallback(context.Background(), &cfg)
		var ve *ValidationError
		assert.ErrorAs(t, err, &ve, name)
	}
	assert.Zero(t, mt.GetTotalCallCount(), "nothing may be sent")

	// Any absolute http(s) URL is fine, non-ASCII path and query included.
	mt.RegisterResponder("POST", testBase+"/api/setCallback", httpmock.NewStringResponder(200, `{"code":0,"msg":"SUCCESS"}`))
	require.NoError(t, c.SetCallback(context.Background(), &CallbackRequest{CallbackURL: "https://例子.cn/回调?名=值"}))
}
