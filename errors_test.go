package digelao

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao/internal/testkit"
)

// echoPasswords are passwords whose characters json_encode escapes one way or another, depending
// on its flags.
var echoPasswords = []string{
	"密码/Ab1x",
	`pa"ss<wörd>`,
	`a&b'c<d>e"f`,
	"x😀/y🀄z",
	`back\slash"q/`,
	"tab\there é",
	"p a+b%2F&c=d",
	"it's \\ \"q\"",
}

// TestExcerptHidesEveryPHPEcho: however PHP echoes a login's password — json_encode under every
// combination of the flags that change escaping, HTML-escaped, inside another JSON string,
// percent-encoded — no form of it that PHP wrote is left in an error's excerpt.
func TestExcerptHidesEveryPHPEcho(t *testing.T) {
	t.Parallel()
	in, err := json.Marshal(echoPasswords)
	require.NoError(t, err)
	cmd := exec.Command(testkit.PHP(t), "-n", "testdata/php/echoes.php")
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	require.NoError(t, err)
	var echoes []struct{ Flags, Password, Shape, Form, Echo string }
	require.NoError(t, json.Unmarshal(out, &echoes))
	require.Len(t, echoes, len(echoPasswords)*(64*5+5))
	leaked := 0
	for _, e := range echoes {
		name := fmt.Sprintf("%s %q [%s]: %s", e.Shape, e.Password, e.Flags, e.Echo)
		require.Contains(t, e.Echo, e.Form, name) // the script's own check
		got := excerpt([]byte(e.Echo), e.Password)
		if strings.Contains(got, e.Form) || strings.Contains(got, e.Password) {
			leaked++
			t.Errorf("%s\n\tleaks in %s", name, got)
			continue
		}
		assert.Contains(t, got, "[REDACTED]", name)
		assert.Contains(t, got, "demo", "%s: only the password is removed", name)
	}
	t.Logf("%d echoes, %d leaked", len(echoes), leaked)
}

// TestLoginEchoedByPHPShowsNoPassword: a PHP login endpoint that fails and echoes the request it
// decoded — re-encoded with ThinkPHP's JSON_UNESCAPED_UNICODE and other flags — in a JSON error,
// in its msg, or on an HTML debug page.
func TestLoginEchoedByPHPShowsNoPassword(t *testing.T) {
	t.Parallel()
	base := testkit.ServePHP(t, "testdata/php/echo_login.php")
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}} // see TestPHPAcceptsSignedRequests
	const (
		unicode = 256 // JSON_UNESCAPED_UNICODE
		slashes = 64  // JSON_UNESCAPED_SLASHES
		quot    = 8   // JSON_HEX_QUOT
		tag     = 1   // JSON_HEX_TAG
	)
	for _, flags := range []int{0, unicode, slashes, quot, unicode | slashes, unicode | quot | tag} {
		for _, shape := range []string{"json", "msg", "html"} {
			for _, p := range echoPasswords {
				pw := "Kx7Q" + p // the marker survives every escaping: no form of pw is left if it is gone
				c, err := New(base, WithPassword(fmt.Sprintf("%d:%s", flags, shape), pw), WithHTTPClient(hc))
				require.NoError(t, err)
				_, err = c.Login(context.Background())
				require.Error(t, err)
				assert.NotContains(t, err.Error(), "Kx7Q", "flags %d, %s, %q", flags, shape, pw)
				assert.Contains(t, err.Error(), "[REDACTED]", "flags %d, %s, %q", flags, shape, pw)
				if flags == unicode && p == echoPasswords[0] {
					t.Logf("%s: %v", shape, err)
				}
			}
		}
	}
}

func TestExcerptRedactsBeforeCutting(t *testing.T) {
	t.Parallel()
	const password = "Zq8-secret-pass-12345" // 21 characters
	// An error page echoing the login body, the password straddling the excerpt's cut.
	base := newServer(t, func(<-chan struct{}) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			w.WriteHeader(500)
			_, _ = io.WriteString(w, strings.Repeat("x", maxExcerpt-17-len(`{"username":"demo","password":"`))+string(b))
		}
	})
	c, err := New(base, WithPassword("demo", password))
	require.NoError(t, err)
	t.Cleanup(c.CloseIdleConnections)
	_, err = c.Login(context.Background())
	require.Error(t, err)
	for k := 4; k <= len(password); k++ {
		require.NotContains(t, err.Error(), password[:k], "no part of the password is shown")
	}
	assert.Contains(t, err.Error(), "[REDACTED]")
}

// An error page that echoes the login's body HTML-escaped, as a PHP debug page does, still shows
// no part of the password.
func TestHTMLEchoedPasswordIsRedacted(t *testing.T) {
	t.Parallel()
	const pw = `Tr0ub4dor&3<x>"y'z`
	mt := httpmock.NewMockTransport()
	var logs bytes.Buffer
	c, err := New(testBase, WithPassword("demo_user", pw), WithTransport(mt),
		WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	require.NoError(t, err)
	mt.RegisterResponder("POST", testBase+"/api/login", func(r *http.Request) (*http.Response, error) {
		b, _ := io.ReadAll(r.Body)
		return httpmock.NewStringResponse(500, "<html><body>Whoops! request: "+html.EscapeString(string(b))+"</body></html>"), nil
	})
	_, err = c.Login(context.Background())
	require.Error(t, err)
	for _, text := range []string{err.Error(), logs.String()} {
		assert.NotContains(t, text, "Tr0ub4dor")
	}
}

func TestErrorCodesMapToSentinels(t *testing.T) {
	t.Parallel()
	cases := []struct {
		code     string
		sentinel error
	}{
		{`10001`, ErrSignature}, {`100001`, ErrSignature}, {`"10001"`, ErrSignature},
		{`20001`, ErrTransportMethod}, {`20002`, ErrBadData}, {`20003`, ErrClientType},
		{`20004`, ErrInvalidCredentials}, {`20005`, ErrAPIKeyInvalid}, {`"20006"`, ErrAPIKeyExpired},
		{`20007`, ErrPermission}, {`30001`, ErrImport}, {`30002`, ErrImport}, {`30003`, ErrImport},
		{`30004`, ErrImport}, {`30005`, ErrImport}, {`30006`, ErrImport},
	}
	all := []error{ErrSignature, ErrTransportMethod, ErrBadData, ErrClientType, ErrInvalidCredentials,
		ErrAPIKeyInvalid, ErrAPIKeyExpired, ErrPermission, ErrImport}
	for _, tc := range cases {
		c, mt := newMockClient(t)
		mt.RegisterResponder("POST", testBase+"/api/x",
			httpmock.NewStringResponder(200, `{"code":`+tc.code+`,"msg":"失败"}`))
		err := c.Do(context.Background(), "POST", "/api/x", nil, nil)
		var apiErr *APIError
		require.ErrorAs(t, err, &apiErr, tc.code)
		assert.Equal(t, "失败", apiErr.Msg)
		assert.Equal(t, "/api/x", apiErr.Path)
		for _, s := range all {
			assert.Equal(t, errors.Is(tc.sentinel, s), errors.Is(err, s), "code %s vs %v", tc.code, s)
		}
		assert.NotContains(t, err.Error(), testAPIKey)
	}
}

func TestErrorTextSaysThePlatformsMessageOnce(t *testing.T) {
	t.Parallel()
	for msg, want := range map[string]string{
		"用户名或者密码错误": "code 20004 用户名或者密码错误 (wrong credentials)",
		"账号已停用":     "code 20004 用户名或者密码错误 (wrong credentials): 账号已停用",
		"":          "code 20004 用户名或者密码错误 (wrong credentials)",
	} {
		e := &APIError{Code: CodeInvalidCredential, Msg: msg, Method: "POST", Path: "/api/login"}
		assert.Equal(t, "digelao: POST /api/login: "+want, e.Error())
	}
}

func TestUnknownCodeIsStillAnAPIError(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	mt.RegisterResponder("POST", testBase+"/api/x", httpmock.NewStringResponder(200, `{"code":40404,"msg":"奇怪"}`))
	err := c.Do(context.Background(), "POST", "/api/x", nil, nil)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 40404, apiErr.Code)
	assert.Nil(t, apiErr.Unwrap())
	assert.Contains(t, err.Error(), "code 40404")
}
