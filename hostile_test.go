package digelao

// Hostile servers: replies built to make the client report success where it must not, leak a
// secret, hold memory, or hang (issue "trust", items 5–9 and 14–21).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
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
)

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

// crmPager serves /api/crmList over n records the way a hostile or limited platform might.
type crmPager struct {
	n       int  // records that exist
	limit   int  // most records a page holds, whatever pageSize asks (0: no limit)
	stopAt  int  // pages from this index on are empty (0: never)
	ignore  bool // pageIndex is ignored: always the first page
	total   int  // the total reported (0: n)
	fetches atomic.Int64
}

func (p *crmPager) respond(r *http.Request) (*http.Response, error) {
	p.fetches.Add(1)
	var req struct {
		PageIndex string `json:"pageIndex"`
		PageSize  string `json:"pageSize"`
	}
	b, _ := io.ReadAll(r.Body)
	_ = json.Unmarshal(b, &req) // the client sends numbers as strings
	page, _ := strconv.Atoi(req.PageIndex)
	size, _ := strconv.Atoi(req.PageSize)
	if p.limit > 0 && size > p.limit {
		size = p.limit
	}
	if p.ignore {
		page = 0
	}
	var rows []string
	if p.stopAt == 0 || page < p.stopAt {
		for i := page * size; i < min((page+1)*size, p.n); i++ {
			rows = append(rows, fmt.Sprintf(`{"id":%d,"sn":"account|%032d"}`, i+1, i+1))
		}
	}
	total := p.total
	if total == 0 {
		total = p.n
	}
	return httpmock.NewStringResponse(200, fmt.Sprintf(`{"code":0,"data":{"total":"%d","list":[%s]}}`,
		total, strings.Join(rows, ","))), nil
}

func allRecords(c *Client, opts *RecordListOptions) (map[int64]bool, error) {
	got := map[int64]bool{}
	for r, err := range c.Records.All(context.Background(), opts) {
		if err != nil {
			return got, err
		}
		got[r.ID] = true
	}
	return got, nil
}

func TestRecordsAllPagesByTotal(t *testing.T) {
	t.Parallel()
	// A platform that caps pageSize at 100: every record still comes.
	c, mt := newMockClient(t)
	capped := &crmPager{n: 1200, limit: 100}
	mt.RegisterResponder("POST", testBase+"/api/crmList", capped.respond)
	got, err := allRecords(c, nil)
	require.NoError(t, err)
	assert.Len(t, got, 1200)
	assert.EqualValues(t, 12, capped.fetches.Load())

	// Pages that end before the total: an error, with what came.
	c, mt = newMockClient(t)
	mt.RegisterResponder("POST", testBase+"/api/crmList", (&crmPager{n: 1200, limit: 100, stopAt: 3}).respond)
	got, err = allRecords(c, nil)
	require.ErrorIs(t, err, ErrIncomplete)
	assert.Len(t, got, 300)
	assert.Contains(t, err.Error(), "300 of 1200")

	// A platform that ignores pageIndex: detected, not looped on.
	c, mt = newMockClient(t)
	same := &crmPager{n: 1200, limit: 100, ignore: true}
	mt.RegisterResponder("POST", testBase+"/api/crmList", same.respond)
	_, err = allRecords(c, nil)
	require.ErrorIs(t, err, ErrIncomplete)
	assert.EqualValues(t, 2, same.fetches.Load())
}

func TestEmptyListsInEveryPHPShape(t *testing.T) {
	t.Parallel()
	for _, data := range []string{`[]`, `{}`, `null`, `{"total":0,"list":[]}`, `{"total":"0","list":{}}`,
		`{"total":0,"list":null}`} {
		c, mt := newMockClient(t)
		mt.RegisterResponder("POST", testBase+"/api/crmList",
			httpmock.NewStringResponder(200, `{"code":0,"msg":"获取成功","data":`+data+`}`))
		list, total, err := c.Records.List(context.Background(), nil)
		require.NoError(t, err, data)
		assert.Empty(t, list, data)
		assert.Zero(t, total, data)
		n := 0
		for _, err := range c.Records.All(context.Background(), nil) {
			require.NoError(t, err, data)
			n++
		}
		assert.Zero(t, n, data)
	}
	// A PHP array with holes is written as an object: its values are the items.
	c, mt := newMockClient(t)
	mt.RegisterResponder("POST", testBase+"/api/crmList", httpmock.NewStringResponder(200,
		`{"code":0,"data":{"total":2,"list":{"0":{"id":1,"sn":"account|a"},"2":{"id":3,"sn":"account|c"}}}}`))
	list, _, err := c.Records.List(context.Background(), nil)
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, "account|c", list[1].SN)
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

func TestPrintersNeverReachASecret(t *testing.T) {
	t.Parallel()
	const tok = "push-token-0123456789"
	h := PushHandler{Token: NewSecret(tok)}
	cfg := CallbackRequest{CallbackURL: "https://crm.example.com/push", Token: NewSecret(tok)}
	sess := Session{UserSN: "SYSUSER|x", APIKey: NewSecret(tok)}
	values := []any{
		&struct{ Push PushHandler }{}, // filled below: printing a handler by value is what leaked
		&struct{ push *PushHandler }{&h},
		cfg, &cfg, struct{ c CallbackRequest }{cfg}, struct{ C *CallbackRequest }{&cfg},
		sess, &sess, struct{ s Session }{sess}, struct{ S []Session }{[]Session{sess}},
		map[string]Secret{"k": NewSecret(tok)},
	}
	values[0].(*struct{ Push PushHandler }).Push.Token = NewSecret(tok)
	var out strings.Builder
	for _, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			fmt.Fprintf(&out, verb+"\n", v)
		}
	}
	logger := slog.New(slog.NewTextHandler(&out, nil))
	jsonLogger := slog.New(slog.NewJSONHandler(&out, nil))
	for _, v := range values {
		logger.Info("x", "v", v)
		jsonLogger.Info("x", "v", v)
	}
	assert.NotContains(t, out.String(), tok)
	assert.NotContains(t, out.String(), fmt.Sprintf("%x", tok))
	assert.Contains(t, out.String(), "[REDACTED]")

	// What a marshalled Secret reads back as is refused, not taken for a credential.
	var back Secret
	require.Error(t, back.UnmarshalJSON([]byte(`"[REDACTED]"`)))
	require.NoError(t, back.UnmarshalJSON([]byte(`"from-a-config-file"`)))
	assert.Equal(t, "from-a-config-file", back.Value())
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

// Every list reads PHP's empty array, an empty object and null as an empty list, end to end
// through its service (item 16): for the lists with a code, as their data; for the codeless ones
// (2.1.1, 8.1), as their list member.
func TestEveryListReadsPHPEmptiesAsEmpty(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, empty := range []string{`[]`, `{}`, `null`} {
		c, mt := newMockClient(t)
		mt.RegisterNoResponder(httpmock.NewStringResponder(200,
			`{"code":0,"total":0,"data":`+empty+`,"datas":`+empty+`}`))
		lists := map[string]func() (int, error){
			"records":   func() (int, error) { l, _, err := c.Records.List(ctx, nil); return len(l), err },
			"tasks":     func() (int, error) { l, _, err := c.Tasks.List(ctx, nil); return len(l), err },
			"customers": func() (int, error) { l, _, err := c.Customers.List(ctx, nil); return len(l), err },
			"blacklist": func() (int, error) { l, _, err := c.Blacklist.List(ctx, nil); return len(l), err },
			"accounts":  func() (int, error) { l, _, err := c.Accounts.List(ctx, nil); return len(l), err },
			"templates": func() (int, error) { l, err := c.Templates.List(ctx, nil); return len(l), err },
		}
		for name, list := range lists {
			n, err := list()
			require.NoError(t, err, "%s, data %s", name, empty)
			assert.Zero(t, n, "%s, data %s", name, empty)
		}
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
