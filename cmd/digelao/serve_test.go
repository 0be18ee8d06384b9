package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/digelaotest"
	"github.com/digelao-go/digelao/internal/testkit"
)

// started runs a long-running command until the returned stop is called, and waits for its output
// to match want; it returns the first submatch.
func started(t *testing.T, e *env, want *regexp.Regexp, args ...string) (string, *testkit.SyncBuffer, *testkit.SyncBuffer, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut testkit.SyncBuffer
	if e.stdout == nil {
		e.stdout = &out
	}
	e.stderr = &errOut
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, e) }()
	stopped := false
	stop := func() int {
		if stopped {
			return -1
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() { stop() })
	var m []string
	require.Eventually(t, func() bool {
		m = want.FindStringSubmatch(out.String() + errOut.String())
		return m != nil
	}, 5*time.Second, 10*time.Millisecond, "not started: %s", errOut.String())
	return m[1], &out, &errOut, stop
}

func vars(kv ...string) func(string) string {
	m := with(nil, kv...)
	return func(k string) string { return m[k] }
}

var listening = regexp.MustCompile(`listening on (http://\S+/)`)

func post(t *testing.T, url string, body []byte) int {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return resp.StatusCode
}

func TestListenPrintsEachPushAndLogsEachRefusal(t *testing.T) {
	const token = "tok-5c1e9a"
	base, out, errOut, stop := started(t, &env{getenv: vars("DIGELAO_PUSH_TOKEN", token)}, listening,
		"listen", "--addr", "127.0.0.1:0")
	assert.Equal(t, http.StatusUnauthorized, post(t, base+"push?token=wrong-"+token, digelaotest.SampleCallRecordPush("account|abc", "13800138000")))
	assert.Equal(t, http.StatusOK, post(t, base+"push?token="+token, digelaotest.SampleCallRecordPush("account|abc", "13800138000")))
	assert.Equal(t, http.StatusBadRequest, post(t, base+"push?token="+token, []byte("{not json")))
	assert.Equal(t, exitOK, stop())

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 1, "one event printed")
	var line struct {
		Kind       string          `json:"kind"`
		ReceivedAt string          `json:"received_at"`
		Event      json.RawMessage `json:"event"`
	}
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &line))
	assert.Equal(t, "call_record", line.Kind)
	at, err := time.ParseInLocation(time.DateTime, line.ReceivedAt, chinaTime)
	require.NoError(t, err, "received_at is China time as the events' times are written: %q", line.ReceivedAt)
	assert.WithinDuration(t, time.Now(), at, time.Minute)
	assert.Contains(t, string(line.Event), "account|abc")
	var event map[string]any
	require.NoError(t, json.Unmarshal(line.Event, &event))
	assert.Regexp(t, `^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$`, event["created_at"], "one time format in the line")

	logged := errOut.String()
	assert.Regexp(t, `(?m)^time="\d{4}-\d\d-\d\d \d\d:\d\d:\d\d" level=`, logged, "and in the log")
	assert.Regexp(t, `push refused.* status=401 reason="missing or wrong token".* remote=127\.0\.0\.1:\d+|remote=127\.0\.0\.1:\d+.* status=401 reason="missing or wrong token"`, logged)
	assert.Regexp(t, `push refused.*status=400`, logged)
	assert.NotContains(t, out.String()+logged, token)
}

func TestListenLogsAFailedPush(t *testing.T) {
	base, _, errOut, stop := started(t, &env{stdout: failingWriter{}, getenv: vars()}, listening, "listen", "--addr", "127.0.0.1:0")
	assert.Contains(t, errOut.String(), "DIGELAO_PUSH_TOKEN is not set")
	assert.Equal(t, http.StatusInternalServerError, post(t, base, digelaotest.SampleCallRecordPush("account|abc", "13800138000")))
	assert.Equal(t, exitPlatform, stop(), "its output failed")
	assert.Regexp(t, `level=ERROR msg="digelao: push callback failed".*remote=127\.0\.0\.1`, errOut.String())
}

// A connection that never sent a request — a client's spare, dialled ahead of need — does not
// hold the stop: net/http would wait five seconds for it, past the shutdown's own bound.
func TestListenStopsPromptlyWithAnUnusedConnection(t *testing.T) {
	base, _, errOut, stop := started(t, &env{getenv: vars()}, listening, "listen", "--addr", "127.0.0.1:0")
	u, err := url.Parse(base)
	require.NoError(t, err)
	conn, err := net.Dial("tcp", u.Host)
	require.NoError(t, err)
	defer conn.Close()                //nolint:errcheck // closed by the server
	time.Sleep(50 * time.Millisecond) // accepted
	start := time.Now()
	assert.Equal(t, exitOK, stop(), errOut.String())
	assert.Less(t, time.Since(start), 2*time.Second)
}

// TestListenClosesSlowBodies: a sender that announces a body and then stalls is dropped after the
// read timeout; one refused for its token at once, without waiting for the body.
func TestListenClosesSlowBodies(t *testing.T) {
	timeouts := serverTimeouts{readHeader: time.Second, read: 2 * time.Second, write: 3 * time.Second, idle: time.Second}
	base, _, _, stop := started(t, &env{getenv: vars("DIGELAO_PUSH_TOKEN", "tok"), timeouts: timeouts}, listening,
		"listen", "--addr", "127.0.0.1:0")
	addr := strings.TrimSuffix(strings.TrimPrefix(base, "http://"), "/")
	const n = 50
	var wg sync.WaitGroup
	closedAfter := make([]time.Duration, n)
	errs := make([]error, n)
	began := time.Now()
	for i := range n {
		token := "tok"
		if i%2 == 1 {
			token = "wrong"
		}
		c, err := (&net.Dialer{}).DialContext(context.Background(), "tcp", addr)
		require.NoError(t, err)
		_, err = fmt.Fprintf(c, "POST /push?token=%s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
			"Content-Length: 1000\r\n\r\n{\"sn\":", token)
		require.NoError(t, err)
		wg.Go(func() {
			defer c.Close()
			_ = c.SetReadDeadline(began.Add(timeouts.read + 3*time.Second))
			_, errs[i] = io.Copy(io.Discard, c) // until the server closes the connection
			closedAfter[i] = time.Since(began)
		})
	}
	wg.Wait()
	for i := range n {
		var ne net.Error
		require.False(t, errors.As(errs[i], &ne) && ne.Timeout(), "connection %d still open after %s", i, closedAfter[i])
		if i%2 == 1 {
			assert.Less(t, closedAfter[i], timeouts.read, "refused connection %d held until the read timeout", i)
		}
	}
	assert.Equal(t, exitOK, stop())
}

func TestSetCallbackAddsThePushToken(t *testing.T) {
	ctx := context.Background()
	srv, env := fake(t)
	const token = "tok-83d1f0"
	r := cli(ctx, with(env, "DIGELAO_PUSH_TOKEN", token), "set-callback", "--url", "http://127.0.0.1:8090/")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, "http://127.0.0.1:8090/?token="+token, srv.Callback().CallbackURL)
	assert.Equal(t, "call-record push on: http://127.0.0.1:8090/ (with ?token= from DIGELAO_PUSH_TOKEN)\n", r.stdout)
	assert.NotContains(t, r.stdout+r.stderr, token)

	before := len(srv.Requests())
	r = cli(ctx, env, "set-callback", "--url", "http://127.0.0.1:8090/")
	assertUsage(t, r, "DIGELAO_PUSH_TOKEN is not set")
	assert.Contains(t, r.stderr, "--no-token")
	assertUsage(t, cli(ctx, with(env, "DIGELAO_PUSH_TOKEN", token), "set-callback", "--url", "ftp://x"),
		"invalid --url: must be an absolute http:// or https:// URL")
	assertUsage(t, cli(ctx, with(env, "DIGELAO_PUSH_TOKEN", token), "set-callback", "--url", "http://x/?token=a"),
		"invalid --url: carries a token parameter already")
	assert.Len(t, srv.Requests(), before, "nothing sent")

	r = cli(ctx, env, "set-callback", "--url", "http://127.0.0.1:8090/", "--no-token", "--off")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, digelao.CallbackRequest{CallbackURL: "http://127.0.0.1:8090/"}, srv.Callback())
	assert.Contains(t, r.stdout, "call-record push off: http://127.0.0.1:8090/ (without a token)")
}

var exported = regexp.MustCompile(`(?m)^export DIGELAO_BASE_URL=(\S+) .*$`)

func TestMockPrintsWhatTheExampleNeeds(t *testing.T) {
	base, out, _, stop := started(t, &env{getenv: vars(), pid: 4242}, exported, "mock", "--addr", "127.0.0.1:0")
	assert.Contains(t, out.String(), "pid 4242")
	line := exported.FindString(out.String())
	for _, want := range []string{"DIGELAO_USERNAME=" + digelaotest.Username, "DIGELAO_PASSWORD=" + digelaotest.Password,
		"DIGELAO_TEMPLATE_SN='" + digelaotest.TemplateSN + "'", "DIGELAO_SEAT_SN='" + digelaotest.SeatSN + "'"} {
		assert.Contains(t, line, want)
	}
	login := cli(context.Background(), map[string]string{"DIGELAO_BASE_URL": base,
		"DIGELAO_USERNAME": digelaotest.Username, "DIGELAO_PASSWORD": digelaotest.Password}, "login")
	assert.Equal(t, exitOK, login.code, login.stderr)
	assert.EqualValues(t, 10001, unsignedCall(t, base), "the url check is on by default")
	assert.Equal(t, exitOK, stop())
}

func TestMockWithoutURLCheck(t *testing.T) {
	base, out, _, stop := started(t, &env{getenv: vars()}, exported, "mock", "--addr", "127.0.0.1:0", "--no-url-check")
	assert.Contains(t, out.String(), "(--no-url-check)")
	assert.EqualValues(t, 0, unsignedCall(t, base))
	assert.Equal(t, exitOK, stop())
}

// unsignedCall lists tasks on the platform at base without the "url" parameter, as some clients
// do, and returns the reply's code.
func unsignedCall(t *testing.T, base string) float64 {
	t.Helper()
	c, err := digelao.New(base, digelao.WithPassword(digelaotest.Username, digelaotest.Password))
	require.NoError(t, err)
	defer c.CloseIdleConnections()
	s, err := c.Login(context.Background())
	require.NoError(t, err)
	body, err := json.Marshal(map[string]string{"user_sn": s.UserSN, "api_key": s.APIKey.Value()})
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, base+"/api/index", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var reply struct{ Code float64 }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&reply))
	return reply.Code
}

func TestMockRefusesABusyAddress(t *testing.T) {
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	r := cli(context.Background(), nil, "mock", "--addr", l.Addr().String())
	assert.Equal(t, exitPlatform, r.code)
	assert.Contains(t, r.stderr, "--addr (DIGELAO_MOCK_ADDR): ")
	assert.Contains(t, r.stderr, "address already in use")
}

// TestDebugLogTimes: every time the command writes is China time "YYYY-MM-DD hh:mm:ss", the
// times inside a log line (a login's expires_at) included.
func TestDebugLogTimes(t *testing.T) {
	ctx := context.Background()
	_, vars := fake(t)
	r := cliIn(ctx, cacheIn(t.TempDir()), vars, "login", "--new", "--debug")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Regexp(t, ` expires_at="\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"`, r.stderr)
	assert.NotRegexp(t, `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d`, r.stderr)
}
