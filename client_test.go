package digelao

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao/internal/testkit"
	"github.com/digelao-go/digelao/internal/transport"
)

const (
	testUserSN = "SYSUSER|cb31d43bc89487492bb0e0dd720705e0"
	testAPIKey = "MUOm4NH1"
	testBase   = "https://ai.example.com/prefix"
)

// A reply past the limit names the limit and the option that raises it.
func TestReplyTooLargeNamesTheOption(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithMaxResponseBytes(1000))
	mt.RegisterResponder("POST", testBase+"/api/crmList", httpmock.NewStringResponder(200,
		`{"code":0,"data":{"total":1,"list":[{"sn":"`+strings.Repeat("x", 2000)+`"}]}}`))
	_, _, err := c.Records.List(context.Background(), nil)
	require.ErrorContains(t, err, "reply body too large: more than the 1000 bytes limit")
	require.ErrorContains(t, err, "WithMaxResponseBytes")
}

// newMockClient returns a client with a fixed key whose requests go to a mock transport of its own,
// so tests can run in parallel.
func newMockClient(t *testing.T, opts ...Option) (*Client, *httpmock.MockTransport) {
	t.Helper()
	mt := httpmock.NewMockTransport()
	c, err := New(testBase, append([]Option{WithAPIKey(testUserSN, testAPIKey), WithTransport(mt)}, opts...)...)
	require.NoError(t, err)
	return c, mt
}

// captured records the last request a responder saw.
type captured struct {
	method, path, rawQuery, body, contentType, userAgent string
}

func capture(c *captured, status int, reply string) httpmock.Responder {
	return func(r *http.Request) (*http.Response, error) {
		c.method, c.path, c.rawQuery = r.Method, r.URL.Path, r.URL.RawQuery
		c.contentType, c.userAgent = r.Header.Get("Content-Type"), r.Header.Get("User-Agent")
		if r.Body != nil {
			b, _ := io.ReadAll(r.Body)
			c.body = string(b)
		}
		resp := httpmock.NewStringResponse(status, reply)
		resp.Header.Set("Content-Type", "application/json")
		return resp, nil
	}
}

func TestDoGetSendsSignedQueryInOrder(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	var got captured
	mt.RegisterResponder("GET", testBase+"/api/exportModel", capture(&got, 200, `{"code":0,"data":[["姓名","*电话"]]}`))

	p := NewParams().Set("project_sn", "projects|4a92 +&#%").Set("type", "json")
	var cols [][]string
	require.NoError(t, c.Do(context.Background(), "GET", "/api/exportModel", p, &cols))
	assert.Equal(t, [][]string{{"姓名", "*电话"}}, cols)

	want := NewParams().Set("user_sn", testUserSN).Set("api_key", testAPIKey).
		Set("project_sn", "projects|4a92 +&#%").Set("type", "json")
	sig, err := Sign(want)
	require.NoError(t, err)
	assert.Equal(t, "user_sn=SYSUSER%7Ccb31d43bc89487492bb0e0dd720705e0&api_key=MUOm4NH1"+
		"&project_sn=projects%7C4a92%20%2B%26%23%25&type=json&url="+sig, got.rawQuery)
	assert.Empty(t, got.body)
}

func TestDoPostPutsCommonParamsFirst(t *testing.T) {
	t.Parallel()
	mt := httpmock.NewMockTransport()
	c, err := New(testBase, WithAPIKey(testUserSN, "TEcAVs9a"), WithTransport(mt))
	require.NoError(t, err)
	var got captured
	mt.RegisterResponder("POST", testBase+"/api/operateTask", capture(&got, 200, `{"code":0,"msg":"操作成功"}`))
	p := NewParams().Set("pkeys", 1423).Set("project_type", 2).Set("oper", "failRe")
	require.NoError(t, c.Do(context.Background(), "post", "/api/operateTask", p, nil))
	// The 5.2 example (vector "doc 5.2 operateTask example").
	assert.Equal(t, `{"user_sn":"SYSUSER|cb31d43bc89487492bb0e0dd720705e0","api_key":"TEcAVs9a","pkeys":"1423",`+
		`"project_type":"2","oper":"failRe","url":"181d8875"}`, got.body)
}

func TestNewRejectsTwoCredentials(t *testing.T) {
	t.Parallel()
	_, err := New(testBase, WithAPIKey("a", "b"), WithPassword("u", "p"))
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
}

func TestDoRejectsBadInputBeforeSending(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	mt.RegisterNoResponder(httpmock.NewStringResponder(200, `{"code":0}`))
	ctx := context.Background()
	for name, call := range map[string]func() error{
		"method":         func() error { return c.Do(ctx, "PUT", "/api/index", nil, nil) },
		"relative path":  func() error { return c.Do(ctx, "POST", "api/index", nil, nil) },
		"query in path":  func() error { return c.Do(ctx, "POST", "/api/index?a=1", nil, nil) },
		"user_sn param":  func() error { return c.Do(ctx, "POST", "/api/index", NewParams().Set("user_sn", "x"), nil) },
		"api_key param":  func() error { return c.Do(ctx, "POST", "/api/index", NewParams().Set("api_key", "x"), nil) },
		"url param":      func() error { return c.Do(ctx, "GET", "/api/index", NewParams().Set("url", "x"), nil) },
		"float value":    func() error { return c.Do(ctx, "POST", "/api/index", NewParams().Set("n", 1.5), nil) },
		"bad utf8":       func() error { return c.Do(ctx, "GET", "/api/index", NewParams().Set("n", "\xff"), nil) },
		"empty GET list": func() error { return c.Do(ctx, "GET", "/api/index", NewParams().Set("n", []string{}), nil) },
	} {
		var ve *ValidationError
		assert.ErrorAs(t, call(), &ve, name)
	}
	assert.Zero(t, mt.GetTotalCallCount())
}

func TestSuccessShapes(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"code 0":            `{"code":0,"msg":"ok","data":{"n":"7"}}`,
		"code as string":    `{"code":"0","data":{"n":7}}`,
		"code 200 (5.7.3)":  `{"code":200,"msg":"请求成功","data":{"n":7}}`,
		"rst 200 (2.1.3)":   `{"rst":"200","msg":"","data":{"n":7}}`,
		"whitespace around": " \n{\"code\":0,\"data\":{\"n\":7}}\n",
	} {
		c, mt := newMockClient(t)
		mt.RegisterResponder("POST", testBase+"/api/x", httpmock.NewStringResponder(200, body))
		var out struct{ N json.Number }
		require.NoError(t, c.Do(context.Background(), "POST", "/api/x", nil, &out), name)
		assert.Equal(t, json.Number("7"), out.N, name)
	}
}

// Replies a PHP server sends that the SDK reads as PHP would: a UTF-8 BOM before the JSON (a PHP
// file saved with one, as some Windows editors do; one per included file), and a code that PHP's
// $r['code'] == 0 takes for zero because it is numerically zero.
func TestPHPSuccessShapes(t *testing.T) {
	t.Parallel()
	const bom = "\xef\xbb\xbf"
	for name, body := range map[string]string{
		"BOM":                   bom + `{"code":0,"data":{"n":7}}`,
		"BOMs and whitespace":   bom + "\r\n" + bom + bom + ` {"code":0,"data":{"n":7}}`,
		"code 0.0":              `{"code":0.0,"data":{"n":7}}`,
		"code 0e0":              `{"code":0e0,"data":{"n":7}}`,
		"code -0":               `{"code":-0,"data":{"n":7}}`,
		"code -0.0E+5":          `{"code":-0.0E+5,"data":{"n":7}}`,
		`code "0.0"`:            `{"code":"0.0","data":{"n":7}}`,
		`code "0e0"`:            `{"code":"0e0","data":{"n":7}}`,
		`code " 0 "`:            `{"code":" 0 ","data":{"n":7}}`,
		`code "+0"`:             `{"code":"+0","data":{"n":7}}`,
		`code ".0"`:             `{"code":".0","data":{"n":7}}`,
		`code "00"`:             `{"code":"00","data":{"n":7}}`,
		`code "0."`:             `{"code":"0.","data":{"n":7}}`,
		`code "\u0030" escaped`: `{"code":"\u0030","data":{"n":7}}`,
		"code 200.0 (5.7.3)":    `{"code":200.0,"data":{"n":7}}`,
		`rst "2e2" (2.1.3)`:     `{"rst":"2e2","data":{"n":7}}`,
		"BOM, code 0.0":         bom + `{"code":0.0,"data":{"n":7}}`,
	} {
		c, mt := newMockClient(t)
		mt.RegisterResponder("POST", testBase+"/api/x", httpmock.NewStringResponder(200, body))
		var out struct{ N json.Number }
		require.NoError(t, c.Do(context.Background(), "POST", "/api/x", nil, &out), name)
		assert.Equal(t, json.Number("7"), out.N, name)
	}

	// A reply read whole (2.1.3's, without data) and a login reply, after a BOM.
	c, mt := newMockClient(t)
	mt.RegisterResponder("POST", testBase+"/api/aiUserDeleteapi", httpmock.NewStringResponder(200,
		bom+`{"rst":"200","success_num":1,"not_allowed":0,"fail_num":0}`))
	res, err := c.Accounts.Delete(context.Background(), "xiaolily")
	require.NoError(t, err)
	assert.Equal(t, 1, res.Deleted)
	mt = httpmock.NewMockTransport()
	c, err = New(testBase, WithPassword("demo", "pw"), WithTransport(mt))
	require.NoError(t, err)
	mt.RegisterResponder("POST", testBase+"/api/login", httpmock.NewStringResponder(200,
		bom+`{"code":"0.0","msg":"login success","data":{"user_sn":"SYSUSER|1","api_key":"K3Y"}}`))
	sess, err := c.Login(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "K3Y", sess.APIKey.Value())
}

// A code that PHP compares as a whole number other than zero is that code; everything that is not
// a number PHP reads (is_numeric), or not a whole one, is no code and fails closed — also where
// PHP's loose == would take it for 0 (null, false) or would round it to 0 (1e-400).
func TestCodesAsPHPComparesThem(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]error{
		`{"code":20004.0}`:   ErrInvalidCredentials,
		`{"code":"20005.0"}`: ErrAPIKeyInvalid,
		`{"code":2.0006e4}`:  ErrAPIKeyExpired,
		`{"rst":" 20002 "}`:  ErrBadData,
	} {
		c, mt := newMockClient(t, WithRetries(0, 0))
		mt.RegisterResponder("POST", testBase+"/api/x", httpmock.NewStringResponder(200, body))
		require.ErrorIs(t, c.Do(context.Background(), "POST", "/api/x", nil, nil), want, body)
	}
	for _, code := range []string{`0.5`, `-0.5`, `1e-400`, `"1e-400"`, `0.0000000000000000000001`, `1e400`, `-1e400`,
		`1e19`, `9.3e18`, `""`, `" "`, `null`, `true`, `false`, `[]`, `{}`, `[0]`, `"abc"`, `"0abc"`, `"0x0"`, `"0 0"`,
		`"٠"`, `"1_0"`, `"Inf"`, `"NaN"`, `"0x1p-2"`, `"--0"`, `"+-0"`, `"0e"`, `"e0"`, `"."`} {
		body := `{"code":` + code + `,"data":{"n":7}}`
		c, mt := newMockClient(t, WithRetries(0, 0))
		mt.RegisterResponder("POST", testBase+"/api/x", httpmock.NewStringResponder(200, body))
		err := c.Do(context.Background(), "POST", "/api/x", nil, nil)
		require.ErrorIs(t, err, ErrBadReply, body)
		assert.Contains(t, err.Error(), "no usable code", body)
	}
}

// TestParseCodeAgreesWithPHP: a code string that PHP's is_numeric takes and whose value is a whole
// number is that number, and zero exactly when PHP's $code == 0 says so — but for a value PHP
// only rounds to zero (1e-400), which fails closed; anything else is no code.
func TestParseCodeAgreesWithPHP(t *testing.T) {
	t.Parallel()
	var codes []string
	for _, ws := range []string{"", " ", "\t\n"} {
		for _, sign := range []string{"", "+", "-", "--"} {
			for _, m := range []string{"0", "00", "7", "20004", ".0", "0.", ".", "0.5", "200.0", "0.000", "1_0", "0x0", "", "١"} {
				for _, exp := range []string{"", "e0", "E+2", "e-400", "e", "e+", "e400", "e-1"} {
					for _, end := range []string{"", " ", "x"} {
						codes = append(codes, ws+sign+m+exp+end)
					}
				}
			}
		}
	}
	in, err := json.Marshal(codes)
	require.NoError(t, err)
	cmd := exec.Command(testkit.PHP(t), "-n", "-r", `
		foreach (json_decode(stream_get_contents(STDIN)) as $s) {
			$whole = is_numeric($s) && ($f = (float)$s) == floor($f) && abs($f) < 1e18;
			echo json_encode([is_numeric($s), $s == 0, $whole ? (int)(float)$s : null]), "\n";
		}`)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.Len(t, lines, len(codes))
	taken := 0
	for i, code := range codes {
		var php struct {
			numeric, zero bool
			whole         *int
		}
		require.NoError(t, json.Unmarshal([]byte(lines[i]), &[]any{&php.numeric, &php.zero, &php.whole}))
		raw, err := json.Marshal(code)
		require.NoError(t, err)
		assert.Equal(t, php.numeric, phpNumeric(strings.Trim(code, " \t\n")), "is_numeric(%q)", code)
		n, ok := parseCode(raw)
		if ok {
			taken++
		}
		switch {
		case php.whole == nil:
			assert.False(t, ok, "%q is no whole number to PHP, got %d", code, n)
		case php.zero && !ok:
			assert.Regexp(t, `[1-9].*e-400`, code, "only a number PHP rounds to 0 is refused")
		default:
			assert.True(t, ok, "%q", code)
			assert.Equal(t, *php.whole, n, "%q", code)
			assert.Equal(t, php.zero, n == 0, "%q", code)
		}
	}
	t.Logf("%d of %d codes taken", taken, len(codes))
}

// A page larger than the reply limit fails with an error that names the limit and the option that
// raises it, not only "too large".
func TestPageLargerThanTheLimitNamesWithMaxResponseBytes(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithMaxResponseBytes(1<<20))
	record := `{"sn":"account|%06d","phone":"13800138000","status":"A","created_at":"2026-11-25 10:00:00"},`
	var page strings.Builder
	page.WriteString(`{"code":0,"data":{"total":20000,"list":[`)
	for i := range 20000 {
		fmt.Fprintf(&page, record, i)
	}
	page.WriteString(`{}]}}`)
	mt.RegisterResponder("POST", testBase+"/api/crmList", httpmock.NewStringResponder(200, page.String()))
	_, _, err := c.Records.List(context.Background(), &RecordListOptions{ListOptions: ListOptions{PerPage: 20000}})
	require.ErrorIs(t, err, transport.ErrBodyTooLarge)
	assert.Contains(t, err.Error(), "more than the 1 MiB limit")
	assert.Contains(t, err.Error(), "WithMaxResponseBytes")
}

func TestMalformedAndHostileReplies(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 10_000)
	cases := []struct {
		name   string
		status int
		body   string
		check  func(t *testing.T, e *APIError)
	}{
		{"html 502", 502, "<html><body>502 Bad Gateway</body></html>", func(t *testing.T, e *APIError) {
			assert.Equal(t, 502, e.HTTPStatus)
			assert.Contains(t, e.Body, "502 Bad Gateway")
			assert.True(t, e.Retryable())
		}},
		{"empty 200", 200, "", func(t *testing.T, e *APIError) { assert.Equal(t, "empty reply", e.Msg) }},
		{"json array", 200, `[1,2]`, func(t *testing.T, e *APIError) { assert.Equal(t, "reply is not a JSON object", e.Msg) }},
		{"truncated json", 200, `{"code":0,"data":{`, func(t *testing.T, e *APIError) { assert.NotEmpty(t, e.Body) }},
		{"huge text", 200, long, func(t *testing.T, e *APIError) { assert.LessOrEqual(t, len(e.Body), maxExcerpt) }},
		{"bad utf8", 200, "\xff\xfe{", func(t *testing.T, e *APIError) { assert.NotContains(t, e.Body, "\xff") }},
		{"404 json ok code", 404, `{"code":0}`, func(t *testing.T, e *APIError) { assert.Equal(t, 404, e.HTTPStatus) }},
		{"code object", 200, `{"code":{"a":1}}`, func(t *testing.T, e *APIError) { assert.Equal(t, 200, e.HTTPStatus) }},
		{"code float", 200, `{"code":1e400}`, func(t *testing.T, e *APIError) { assert.Equal(t, 200, e.HTTPStatus) }},
		{"echoes key", 500, `{"code":20005,"msg":"bad key MUOm4NH1"}`, func(t *testing.T, e *APIError) {
			assert.NotContains(t, e.Error(), testAPIKey)
			assert.Equal(t, CodeAPIKeyInvalid, e.Code)
		}},
		{"negative code", 200, `{"code":-1,"msg":"系统繁忙"}`, func(t *testing.T, e *APIError) {
			assert.Equal(t, -1, e.Code)
			assert.Equal(t, "digelao: POST /api/x: code -1: 系统繁忙", e.Error())
		}},
		{"negative rst", 200, `{"rst":"-2","msg":"失败"}`, func(t *testing.T, e *APIError) { assert.Equal(t, -2, e.Code) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t, WithRetries(0, 0))
			mt.RegisterResponder("POST", testBase+"/api/x", httpmock.NewStringResponder(tc.status, tc.body))
			var out map[string]any
			err := c.Do(context.Background(), "POST", "/api/x", nil, &out)
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			tc.check(t, apiErr)
		})
	}
}

func TestUndecodableDataIsAnError(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	mt.RegisterResponder("POST", testBase+"/api/x", httpmock.NewStringResponder(200, `{"code":0,"data":"text"}`))
	var out struct{ N int }
	var apiErr *APIError
	require.ErrorAs(t, c.Do(context.Background(), "POST", "/api/x", nil, &out), &apiErr)
}

func TestTransportErrorsHideTheQuery(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithRetries(0, 0))
	mt.RegisterResponder("GET", testBase+"/api/cdrDownload", httpmock.NewErrorResponder(errors.New("connection reset")))
	err := c.Do(context.Background(), "GET", "/api/cdrDownload", NewParams().Set("recordfile", "a.wav"), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "connection reset")
	assert.NotContains(t, err.Error(), testAPIKey)
	assert.NotContains(t, err.Error(), "url=")
}

func TestTimeoutIsEnforced(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithTimeout(20*time.Millisecond), WithRetries(0, 0))
	mt.RegisterResponder("POST", testBase+"/api/x", func(r *http.Request) (*http.Response, error) {
		<-r.Context().Done()
		return nil, r.Context().Err()
	})
	err := c.Do(context.Background(), "POST", "/api/x", nil, nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestNewValidatesOptions(t *testing.T) {
	t.Parallel()
	for name, opts := range map[string][]Option{
		"zero timeout":     {WithTimeout(0)},
		"negative timeout": {WithTimeout(-time.Second)},
		"nil http client":  {WithHTTPClient(nil)},
		"nil transport":    {WithTransport(nil)},
		"nil logger":       {WithLogger(nil)},
		"empty UA":         {WithUserAgent("")},
		"blank UA":         {WithUserAgent("  ")},
		"UA with newline":  {WithUserAgent("app/1\r\nX-Injected: 1")},
		"UA with NUL":      {WithUserAgent("app/1\x00")},
		"UA padded":        {WithUserAgent(" app/1")},
		"empty key":        {WithAPIKey("", "k")},
		"nil option":       {nil},
		"empty password":   {WithPassword("u", "")},
		"empty access":     {WithAccessKey("", "s")},
		"negative retries": {WithRetries(-1, 0)},
		"nil store":        {WithTokenStore(nil)},
		"nil zone":         {WithLoginTimeZone(nil)},
		"max body":         {WithMaxResponseBytes(0)},
	} {
		_, err := New(testBase, opts...)
		var ve *ValidationError
		assert.ErrorAs(t, err, &ve, name)
	}
	for _, base := range []string{"", "ai.example.com", "ftp://h", "https://h?x=1", "https://h/?", "https://h#f", "https://u:p@h", "http://", "http://:80", "https://:"} {
		_, err := New(base, WithAPIKey("u", "k"))
		assert.ErrorContains(t, err, "baseURL", base)
	}
	c, err := New("https://h/p/", WithAPIKey("u", "k"))
	require.NoError(t, err)
	assert.Equal(t, "https://h/p", c.BaseURL())
}

func TestWithHTTPClientIsCopied(t *testing.T) {
	t.Parallel()
	mt := httpmock.NewMockTransport()
	mt.RegisterResponder("POST", testBase+"/api/x", httpmock.NewStringResponder(200, `{"code":0}`))
	hc := &http.Client{Transport: mt, Timeout: time.Minute}
	before := *hc
	c, err := New(testBase, WithAPIKey(testUserSN, testAPIKey), WithHTTPClient(hc), WithTimeout(time.Second))
	require.NoError(t, err)
	require.NoError(t, c.Do(context.Background(), "POST", "/api/x", nil, nil))
	assert.Equal(t, 1, mt.GetTotalCallCount(), "the caller's transport is used")
	assert.Equal(t, before, *hc, "the caller's client is not changed")

	// With WithTransport too, the copy's transport is replaced, never the caller's.
	other := httpmock.NewMockTransport()
	other.RegisterResponder("POST", testBase+"/api/x", httpmock.NewStringResponder(200, `{"code":0}`))
	c, err = New(testBase, WithAPIKey(testUserSN, testAPIKey), WithHTTPClient(hc), WithTransport(other))
	require.NoError(t, err)
	require.NoError(t, c.Do(context.Background(), "POST", "/api/x", nil, nil))
	assert.Equal(t, 1, other.GetTotalCallCount())
	assert.Equal(t, 1, mt.GetTotalCallCount())
	assert.Equal(t, before, *hc)
}

func TestNewRefusesNoCredentials(t *testing.T) {
	t.Parallel()
	for _, opts := range [][]Option{nil, {WithTokenStore(NewMemoryStore())}} {
		c, err := New(testBase, opts...)
		assert.Nil(t, c)
		var ve *ValidationError
		require.ErrorAs(t, err, &ve)
		assert.Equal(t, "credentials", ve.Field)
		require.ErrorIs(t, err, ErrInvalidCredentials)
		for _, option := range []string{"WithPassword", "WithAccessKey", "WithAPIKey"} {
			assert.Contains(t, err.Error(), option, "the error names the options to use")
		}
	}
}

// urlQuotingTransport fails quoting the whole request, as some RoundTripper wrappers do.
type urlQuotingTransport struct{}

func (urlQuotingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
	}
	return nil, fmt.Errorf("proxy refused %s %s", r.URL, body)
}

// TestSecretsNeverLeaveTheRequest sends calls whose RoundTripper fails quoting the URL and the
// body, and whose replies echo the request: no secret parameter and no url value may appear in
// an error or a log line.
func TestSecretsNeverLeaveTheRequest(t *testing.T) {
	t.Parallel()
	const password, sign, secret = "pa55-w0rd-x", "5ign-5ign-5ign", "6.9-5ecret"
	p := NewParams().Set("api_key", testAPIKey).Set("password", password).Set("re_password", password).
		Set("sign", sign).Set("secret", secret).Set("n", 1)
	sig, err := Sign(p)
	require.NoError(t, err)
	secrets := []string{testAPIKey, password, sign, secret, sig}
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		for _, reply := range []string{"", "echo"} {
			var logs strings.Builder
			logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			rt := http.RoundTripper(urlQuotingTransport{})
			if reply == "echo" {
				mt := httpmock.NewMockTransport()
				mt.RegisterNoResponder(func(r *http.Request) (*http.Response, error) {
					b, _ := io.ReadAll(r.Body)
					echo := strings.ReplaceAll(r.URL.RawQuery+string(b), `"`, `'`)
					return httpmock.NewStringResponse(500, `{"code":10001,"msg":"`+echo+`"}`), nil
				})
				rt = mt
			}
			c, err := New(testBase, WithAPIKey(testUserSN, testAPIKey), WithTransport(rt), WithLogger(logger), WithRetries(0, 0))
			require.NoError(t, err)
			// The login endpoint takes its secrets as parameters, as 6.9 does.
			_, err = c.call(context.Background(), endpoint{method: method, path: "/api/x", noAuth: true}, p)
			require.Error(t, err)
			for i, s := range secrets {
				assert.NotContains(t, err.Error(), s, "%s %s: secret #%d in the error", method, reply, i)
				assert.NotContains(t, logs.String(), s, "%s %s: secret #%d in the logs", method, reply, i)
			}
		}
	}
}

// newServer starts h and returns its URL and a channel closed before the server closes, for
// handlers that block until the test ends.
func newServer(t *testing.T, h func(release <-chan struct{}) http.HandlerFunc) string {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(h(release))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	return srv.URL
}

// newRealClient returns a client of the server at base, over a real connection.
func newRealClient(t *testing.T, base string, opts ...Option) *Client {
	t.Helper()
	c, err := New(base, append([]Option{WithAPIKey(testUserSN, testAPIKey)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	t.Parallel()
	var stolen atomic.Int64
	evil := newServer(t, func(<-chan struct{}) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			stolen.Add(1)
			_, _ = io.WriteString(w, `{"code":0,"msg":"login success","data":{"user_sn":"u","api_key":"k"}}`)
		}
	})
	evilHost := strings.TrimPrefix(evil, "http://")
	for _, status := range []int{301, 302, 303, 307, 308} {
		platform := newServer(t, func(<-chan struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, evil+r.URL.Path+"?x=1", status)
			}
		})
		// A login: 307/308 would resend the password to the other host.
		c, err := New(platform, WithPassword("demo", "p@ssw0rd-0123456789"))
		require.NoError(t, err)
		_, err = c.Login(context.Background())
		var apiErr *APIError
		require.ErrorAs(t, err, &apiErr, "status %d", status)
		require.ErrorIs(t, err, ErrBadReply)
		assert.Equal(t, status, apiErr.HTTPStatus)
		assert.Contains(t, err.Error(), evilHost, "the error names where the platform redirected")
		assert.NotContains(t, err.Error(), "p@ssw0rd")
		c.CloseIdleConnections()

		// A write: a 302 followed as a GET to another host answering code 0 was taken for success.
		c = newRealClient(t, platform)
		require.ErrorIs(t, c.Tasks.Operate(context.Background(), 7, TaskDelete), ErrBadReply, "status %d", status)
	}
	assert.Zero(t, stolen.Load(), "nothing reached the redirect's host")
}

func TestRepliesWithoutAUsableCodeAreErrors(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		`{}`, `{"msg":"系统繁忙"}`, `{"code":null,"msg":"操作失败"}`, `{"code":""}`, `{"error":"Unauthorized"}`,
		`{"Code":0}`, `{"code":"0.5"}`, `{"code":false}`, `{"code":true}`, `{"code":[0]}`, `{"rst":null}`, `{"data":{"n":1}}`,
	} {
		c, mt := newMockClient(t)
		mt.RegisterResponder("POST", testBase+"/api/setCallback", httpmock.NewStringResponder(200, body))
		mt.RegisterResponder("POST", testBase+"/api/operateTask", httpmock.NewStringResponder(200, body))
		err := c.SetCallback(context.Background(), &CallbackRequest{CallbackURL: "https://crm.example.com/push"})
		require.ErrorIs(t, err, ErrBadReply, "SetCallback, reply %s", body)
		var apiErr *APIError
		require.ErrorAs(t, err, &apiErr)
		assert.NotEmpty(t, apiErr.Body, "the error quotes the reply")
		require.ErrorIs(t, c.Tasks.Operate(context.Background(), 7, TaskDelete), ErrBadReply, "Operate, reply %s", body)
	}
}

// The endpoints whose documented reply has no code accept one only with their result member.
func TestCodelessEndpointsNeedTheirResult(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	mt.RegisterResponder("POST", testBase+"/api/BlackListListsDataapi", httpmock.NewStringResponder(200, `{"total":3}`))
	_, _, err := c.Blacklist.List(context.Background(), nil)
	require.ErrorIs(t, err, ErrBadReply)
	mt.RegisterResponder("POST", testBase+"/api/BlackListListsDataapi", httpmock.NewStringResponder(200, `{"total":0,"datas":[]}`))
	list, total, err := c.Blacklist.List(context.Background(), nil)
	require.NoError(t, err)
	assert.Empty(t, list)
	assert.Zero(t, total)
	mt.RegisterResponder("POST", testBase+"/api/aiUserDatasapi", httpmock.NewStringResponder(200, `{"error":"Unauthorized"}`))
	_, _, err = c.Accounts.List(context.Background(), nil)
	require.ErrorIs(t, err, ErrBadReply)
}

func TestAnnouncedLengthIsNotAllocatedUpFront(t *testing.T) {
	var arrived sync.WaitGroup
	const calls = 20
	arrived.Add(calls)
	base := newServer(t, func(release <-chan struct{}) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(64<<20))
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
			arrived.Done()
			<-release
		}
	})
	c := newRealClient(t, base, WithTimeout(time.Minute))
	ctx, cancel := context.WithCancel(context.Background())
	var before, during runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var done sync.WaitGroup
	for range calls {
		done.Go(func() { _ = c.Do(ctx, "POST", "/api/index", nil, nil) })
	}
	arrived.Wait()
	time.Sleep(50 * time.Millisecond) // let every client reach its read
	runtime.ReadMemStats(&during)
	cancel()
	done.Wait()
	grown := int64(during.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap grew by %d KiB for %d replies announcing 64 MiB", grown>>10, calls)
	assert.Less(t, grown, int64(32<<20), "the announced 1,280 MiB is not allocated")
}

func TestStalledRepliesFail(t *testing.T) {
	t.Parallel()
	// A 200 error page that starts and then stalls: bounded by WithTimeout like any reply.
	base := newServer(t, func(release <-chan struct{}) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = io.WriteString(w, "<html><body>")
			w.(http.Flusher).Flush()
			<-release
		}
	})
	c := newRealClient(t, base, WithTimeout(200*time.Millisecond), WithRetries(0, 0))
	err := within(t, 5*time.Second, func() error {
		_, err := c.Tasks.DownloadImportTemplate(context.Background(), "projects|x", io.Discard)
		return err
	})
	require.ErrorIs(t, err, context.DeadlineExceeded)

	// A file that starts and then stalls: the idle timeout ends it, whatever the context.
	base = newServer(t, func(release <-chan struct{}) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "audio/wav")
			_, _ = io.WriteString(w, wavBytes+strings.Repeat("\x00", 1000))
			w.(http.Flusher).Flush()
			<-release
		}
	})
	c = newRealClient(t, base, WithIdleTimeout(200*time.Millisecond))
	var buf bytes.Buffer
	err = within(t, 5*time.Second, func() error {
		_, err := c.Records.Download(context.Background(), "/r", "/r/a.wav", &buf)
		return err
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no byte for 200ms")
	assert.Equal(t, len(wavBytes)+1000, buf.Len(), "what arrived was written")
}

// within runs fn and fails the test if it has not returned after d.
func within(t *testing.T, d time.Duration, fn func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("still blocked after %s", d)
		return nil
	}
}

func TestDownloadsAreToldByTheirBytes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		contentType, body string
		file              bool
		want              error // for an error
	}{
		{"text/html; charset=UTF-8", wavBytes, true, nil}, // PHP's default type
		{"text/plain", wavBytes, true, nil},
		{"", "ID3\x04\x00mp3 frames", true, nil},
		{"audio/mpeg", "\xff\xfb\x90\x64mp3", true, nil},
		{"audio/wav", `{"code":20005,"msg":"api_key验证失败"}`, false, ErrAPIKeyInvalid},
		{"application/octet-stream", "  \n{\"code\":0,\"msg\":\"no such file\"}", false, ErrBadReply},
		{"text/html", "<html><body>404</body></html>", false, ErrBadReply},
		{"audio/wav", "", false, ErrBadReply},
	} {
		c, mt := newMockClient(t, WithRetries(0, 0))
		mt.RegisterResponder("GET", testBase+"/api/cdrDownload", func(*http.Request) (*http.Response, error) {
			resp := httpmock.NewStringResponse(200, tc.body)
			if tc.contentType != "" {
				resp.Header.Set("Content-Type", tc.contentType)
			}
			return resp, nil
		})
		var buf bytes.Buffer
		n, err := c.Records.Download(context.Background(), "/r", "/r/a.wav", &buf)
		if tc.file {
			require.NoError(t, err, "%q %q", tc.contentType, tc.body)
			assert.Equal(t, tc.body, buf.String())
			assert.EqualValues(t, len(tc.body), n)
			continue
		}
		require.ErrorIs(t, err, tc.want, "%q %q", tc.contentType, tc.body)
		assert.Zero(t, buf.Len(), "nothing written for %q", tc.body)
	}
}

func TestEchoedSecretsAreRedacted(t *testing.T) {
	t.Parallel()
	// The push token inside callback_url, echoed back by an error page and by a message.
	token := NewSecret("tok-9f8e7d6c5b4a")
	for _, reply := range []func(body string) (int, string){
		func(body string) (int, string) { return 500, "<pre>" + body + "</pre>" },
		func(body string) (int, string) {
			u := body[strings.Index(body, "http"):]
			return 200, `{"code":20002,"msg":"callback_url invalid: ` + u[:strings.Index(u, `"`)] + `"}`
		},
	} {
		c, mt := newMockClient(t)
		mt.RegisterResponder("POST", testBase+"/api/setCallback", func(r *http.Request) (*http.Response, error) {
			b, _ := io.ReadAll(r.Body)
			status, text := reply(string(b))
			return httpmock.NewStringResponse(status, text), nil
		})
		err := c.SetCallback(context.Background(), &CallbackRequest{CallbackURL: "https://crm.example.com/push", Token: token})
		require.Error(t, err)
		assert.NotContains(t, err.Error(), token.Value())
		assert.NotContains(t, err.Error(), "9f8e7d6c")
	}

	// An api_key the client used before a re-login, echoed later, is still a secret.
	c, f, mt := newLoginClient(t)
	require.NoError(t, callIndex(context.Background(), c))
	old := f.current
	f.relogin()
	require.NoError(t, callIndex(context.Background(), c))
	require.NotEqual(t, old, f.current)
	mt.RegisterResponder("POST", testBase+"/api/x", httpmock.NewStringResponder(200,
		`{"code":20002,"msg":"stale key `+old+`"}`))
	err := c.Do(context.Background(), "POST", "/api/x", nil, nil)
	require.ErrorIs(t, err, ErrBadData)
	assert.NotContains(t, err.Error(), old)
	mt.RegisterResponder("POST", testBase+"/api/x", httpmock.NewStringResponder(200,
		`{"code":0,"data":{"n":"`+old+`"}}`))
	var out struct{ N int }
	err = c.Do(context.Background(), "POST", "/api/x", nil, &out)
	require.ErrorIs(t, err, ErrBadReply, "a decode error quoting the reply")
	assert.NotContains(t, err.Error(), old)
}

// rawServer accepts one connection at a time and answers every request with reply, written as is.
func rawServer(t *testing.T, reply string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = l.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = http.ReadRequest(bufio.NewReader(conn))
			_, _ = io.WriteString(conn, reply)
			_ = conn.Close()
		}
	})
	return "http://" + l.Addr().String()
}

func TestTruncatedDownloadsAreErrors(t *testing.T) {
	t.Parallel()
	file := wavBytes + strings.Repeat("\x01", 50_000)
	for name, reply := range map[string]string{
		"chunked, cut before the last chunk": "HTTP/1.1 200 OK\r\nContent-Type: audio/wav\r\nTransfer-Encoding: chunked\r\n\r\n" +
			strconv.FormatInt(int64(len(file)), 16) + "\r\n" + file + "\r\n",
		"shorter than Content-Length": "HTTP/1.1 200 OK\r\nContent-Type: audio/wav\r\nContent-Length: 100000\r\n\r\n" + file,
	} {
		c := newRealClient(t, rawServer(t, reply), WithRetries(0, 0))
		n, err := c.Records.Download(context.Background(), "/r", "/r/a.wav", io.Discard)
		require.ErrorIs(t, err, io.ErrUnexpectedEOF, name)
		assert.EqualValues(t, len(file), n, name)
	}
}

// A base URL that is refused is not echoed with a password it carries.
func TestBadBaseURLHidesItsPassword(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{"htp://user:s3cr3t-pw@host", "http://user:s3cr3t-pw@[::1", "//user:s3cr3t-pw@host/x"} {
		_, err := New(raw, WithAPIKey(testUserSN, testAPIKey))
		var invalid *ValidationError
		require.ErrorAs(t, err, &invalid, raw)
		assert.NotContains(t, err.Error(), "s3cr3t-pw", raw)
	}
}

// FuzzParseEnvelope feeds arbitrary replies to the envelope check and to parseEnvelopeReference,
// its plain form on encoding/json: they must agree on every reply — the data returned, or the
// error's code and status — and an error must hold no secret and no more than a bounded excerpt.
func FuzzParseEnvelope(f *testing.F) {
	for _, s := range []string{`{"code":0,"data":[]}`, `{"code":"20006"}`, `{"rst":"200"}`, `<html>`, ``,
		`{"code":1e999}`, `{"code":null,"msg":{"a":1}}`, `{"total":1,"datas":[]}`, `{"code":0,"code":1}`,
		`{"\u0063ode":0,"data":{"a":1}}`, `{"Code":0}`, `{"code":0,"data":1} x`} {
		f.Add(200, []byte(s), false)
		f.Add(200, []byte(s), true)
	}
	f.Fuzz(func(t *testing.T, status int, body []byte, codeless bool) {
		ep := endpoint{}
		if codeless { // as 8.1's reply, which carries its result in datas and no code
			ep.codeless = "datas"
		}
		data, apiErr := parseEnvelope(ep, status, body, []string{"SECRETKEY"})
		wantData, wantErr := parseEnvelopeReference(ep, status, body)
		if (apiErr == nil) != (wantErr == nil) {
			t.Fatalf("%q (status %d): error %v, reference %v", body, status, apiErr, wantErr)
		}
		if apiErr == nil {
			if string(data) != string(wantData) {
				t.Fatalf("%q: data %q, reference %q", body, data, wantData)
			}
			return
		}
		if apiErr.Code != wantErr.Code || apiErr.HTTPStatus != wantErr.HTTPStatus {
			t.Fatalf("%q: %+v, reference %+v", body, apiErr, wantErr)
		}
		if len(apiErr.Body) > maxExcerpt {
			t.Fatalf("excerpt of %d bytes", len(apiErr.Body))
		}
		if strings.Contains(apiErr.Error(), "SECRETKEY") {
			t.Fatalf("secret in %q", apiErr.Error())
		}
	})
}

// parseEnvelopeReference is the envelope check in its plain form: encoding/json decodes the reply
// into a map of its members (exact names, the last of a repeated one winning).
func parseEnvelopeReference(ep endpoint, status int, body []byte) (json.RawMessage, *APIError) {
	var members map[string]json.RawMessage
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' || json.Unmarshal(trimmed, &members) != nil {
		return nil, &APIError{HTTPStatus: status}
	}
	raw, named := members["code"]
	if !named {
		raw, named = members["rst"]
	}
	code, ok := parseCode(raw)
	_, result := members[ep.codeless]
	switch {
	case named && !ok:
		return nil, &APIError{HTTPStatus: status}
	case !named && status < 300 && ep.codeless != "" && result:
		return members["data"], nil
	case !named && status < 300:
		return nil, &APIError{HTTPStatus: status}
	case !named || code == CodeOK || code == 200:
		if status < 300 {
			return members["data"], nil
		}
		return nil, &APIError{HTTPStatus: status}
	}
	return nil, &APIError{HTTPStatus: status, Code: code}
}
