package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/digelaotest"
	"github.com/digelao-go/digelao/internal/redistest"
	"github.com/digelao-go/digelao/redisstore"
)

// withRedis runs the tests with a throwaway redis-server (internal/redistest), as the redisstore
// tests do.
type withRedis struct{ m *testing.M }

func (w withRedis) Run() int { return redistest.Main(w.m) }

// TestMain fails the run when the walk-through leaves a goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(withRedis{m})
}

var (
	steps = []string{
		"1. Logging in", "2. Starting a local push receiver", "3. Reading the script template's import columns",
		"4. Creating a task with 3 contacts", "5. Waiting for the import-result push",
		"6. Waiting for a call-record push per contact", "7. Listing the task's call records", "8. Summary",
	}
	summary = regexp.MustCompile(`: (\d+) numbers imported, (\d+) call records pushed, (\d+) calls connected, a recording of (\d+) bytes downloaded`)
)

// walk runs the quickstart with cfg and returns what it printed.
func walk(t *testing.T, cfg config) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if cfg.wait == 0 {
		cfg.wait = 30 * time.Second // far more than the fake needs; reached only when a push is lost
	}
	var out bytes.Buffer
	require.NoError(t, run(ctx, &out, cfg), out.String())
	return out.String()
}

// result parses the summary: numbers imported, call records pushed, calls connected, recording bytes.
func result(t *testing.T, out string) (imported, pushed, connected, size int) {
	t.Helper()
	m := summary.FindStringSubmatch(out)
	require.NotNil(t, m, "no summary in:\n%s", out)
	n := make([]int, 4)
	for i := range n {
		n[i], _ = strconv.Atoi(m[i+1])
	}
	return n[0], n[1], n[2], n[3]
}

// assertNoSecret checks out for the fake's secrets, the push token, and any given secret.
func assertNoSecret(t *testing.T, out string, secrets ...string) {
	t.Helper()
	for _, s := range append(secrets, digelaotest.Password, digelaotest.AccessSecret) {
		require.NotEmpty(t, s)
		assert.NotContains(t, out, s)
	}
	assert.NotRegexp(t, `token=[^…]`, out, "the push token is printed")
}

// TestOffline runs the README's main command, offline, against the fake platform.
func TestOffline(t *testing.T) {
	out := walk(t, config{})
	for _, s := range steps {
		assert.Contains(t, out, "\n"+s, "step missing")
	}
	imported, pushed, connected, size := result(t, out)
	assert.Equal(t, 3, imported)
	assert.Equal(t, 3, pushed, "one call-record push per contact")
	assert.Equal(t, 2, connected, "sampleOutcome connects two of the three")
	assert.Positive(t, size, "recording bytes")
	assert.Contains(t, out, "intent grade A  talked 48s")
	assert.Contains(t, out, "13700137000  not connected")
	assert.Contains(t, out, "customer: ")
	assertNoSecret(t, out)
}

// realFake starts a fake platform to point the quickstart at as if it were a real one.
func realFake(t *testing.T) (*digelaotest.Server, config) {
	t.Helper()
	srv := digelaotest.NewServer(digelaotest.WithOutcomes(sampleOutcome))
	t.Cleanup(srv.Close)
	return srv, config{baseURL: srv.URL, user: digelaotest.Username, pass: digelaotest.Password,
		template: digelaotest.TemplateSN, real: true}
}

// TestRealModeNeedsConsent: DIGELAO_BASE_URL and credentials, as a shell set up for the digelao
// command has them, are not enough to touch the account: without DIGELAO_QUICKSTART_REAL=1 the
// walk-through says what it would do, and sends nothing.
func TestRealModeNeedsConsent(t *testing.T) {
	srv, cfg := realFake(t)
	cfg.real = false
	cfg.seat, cfg.phones = digelaotest.SeatSN, []string{"13800138000"}
	var out bytes.Buffer
	err := run(t.Context(), &out, cfg)
	require.Error(t, err)
	for _, want := range []string{"real account at " + srv.URL, "DIGELAO_QUICKSTART_REAL=1", "cancels the api_key of every other holder",
		"point the account's pushes at this program", "digelao set-callback", "unset DIGELAO_BASE_URL to run offline"} {
		assert.Contains(t, err.Error(), want)
	}
	assert.Empty(t, out.String())
	assert.Empty(t, srv.Requests(), "nothing sent")
}

// TestRealModeSaysWhatItDoesToTheAccount: against a real account the walk-through logs in, which
// cancels the key of every service on the account, and points the account's pushes at its own
// listener, where they stay when it ends: it says both, and prints the command that sets the pushes
// back.
func TestRealModeSaysWhatItDoesToTheAccount(t *testing.T) {
	srv, cfg := realFake(t)
	svc, err := srv.Client() // a service on the account, holding a key
	require.NoError(t, err)
	t.Cleanup(svc.CloseIdleConnections)
	_, err = svc.Templates.Names(t.Context())
	require.NoError(t, err)

	cfg.seat, cfg.phones = digelaotest.SeatSN, []string{"13800138000"}
	out := walk(t, cfg)
	_, err = svc.Templates.Names(t.Context())
	require.NoError(t, err)
	assert.Len(t, srv.Logins(), 3, "the walk-through's login cancelled the service's key")
	assert.Equal(t, 1, strings.Count(out, "warning: logging in, since no DIGELAO_REDIS_URL"), out)
	assert.Contains(t, out, "cancels the api_key of every other holder of the account")
	assert.Contains(t, out, "warning: the account's pushes now come here, not to your receiver")
	assert.True(t, strings.HasSuffix(out, "\n   digelao set-callback --url YOUR_CALL_RECORD_URL --task-url YOUR_IMPORT_RESULT_URL\n"),
		"the last words say how to set the pushes back:\n%s", out)
}

// TestRealModeSharesTheServicesKey: with DIGELAO_REDIS_URL and DIGELAO_REDIS_PREFIX naming where
// the services keep their key (redisstore), the walk-through takes it: no login, no warning, and
// the service's next call goes through on its key.
func TestRealModeSharesTheServicesKey(t *testing.T) {
	srv, cfg := realFake(t)
	cfg.redisURL, cfg.redisPrefix = "redis://"+redistest.Addr(t), "test:"+rand.Text()[:8]+":"
	rdb := redis.NewClient(&redis.Options{Addr: redistest.Addr(t)})
	t.Cleanup(func() { _ = rdb.Close() })
	store, err := redisstore.New(rdb, redisstore.WithPrefix(cfg.redisPrefix))
	require.NoError(t, err)
	svc, err := srv.Client(digelao.WithTokenStore(store))
	require.NoError(t, err)
	t.Cleanup(svc.CloseIdleConnections)
	_, err = svc.Templates.Names(t.Context())
	require.NoError(t, err)

	out := walk(t, cfg)
	assert.NotContains(t, out, "warning: logging in")
	_, err = svc.Templates.Names(t.Context())
	require.NoError(t, err)
	assert.Len(t, srv.Logins(), 1, "one login, the service's")

	// Under another prefix there is no key: a login, said aloud, naming where it looked.
	cfg.redisPrefix += "other:"
	out = walk(t, cfg)
	assert.Contains(t, out, "warning: logging in, since Redis (DIGELAO_REDIS_URL) holds no usable key")
	assert.Len(t, srv.Logins(), 2)
}

// requested returns the requests srv received to path.
func requested(srv *digelaotest.Server, path string) []digelaotest.Request {
	var out []digelaotest.Request
	for _, r := range srv.Requests() {
		if r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// TestRealModeCallsThePhones runs against an account given by config, with numbers to call, and
// checks the platform's side: the pushes the receiver acknowledged, and the api_key kept secret.
func TestRealModeCallsThePhones(t *testing.T) {
	srv, cfg := realFake(t)
	cfg.seat, cfg.phones = digelaotest.SeatSN, []string{"13800138000", "13900139000"}
	out := walk(t, cfg)

	assert.Contains(t, out, "template "+digelaotest.TemplateSN+"\n")
	imported, pushed, connected, size := result(t, out)
	assert.Equal(t, []int{2, 2, 2}, []int{imported, pushed, connected})
	assert.Positive(t, size)

	require.NoError(t, srv.WaitIdle(t.Context())) // the fake notes a push's outcome after the reply
	ok := map[digelaotest.PushKind]int{}
	for _, p := range srv.Pushes() {
		if p.OK {
			ok[p.Kind]++
		}
	}
	assert.Equal(t, map[digelaotest.PushKind]int{digelaotest.PushImport: 1, digelaotest.PushCall: 2}, ok)

	set := requested(srv, "/api/setCallback")
	require.Len(t, set, 1)
	u, _ := set[0].Get("callback_url")
	assert.Regexp(t, `^http://127\.0\.0\.1:\d+/push\?token=.{20,}$`, u)
	tu, _ := set[0].Get("task_callback_url")
	assert.Equal(t, u, tu)

	key, _ := requested(srv, "/api/crmList")[0].Get("api_key")
	assertNoSecret(t, out, key)
}

// TestRealModeWithoutPhones logs in and reads the template, but neither touches the account's
// push setting nor creates a task.
func TestRealModeWithoutPhones(t *testing.T) {
	srv, cfg := realFake(t)
	cfg.template, cfg.seat = "", digelaotest.SeatSN // the first template listed
	out := walk(t, cfg)

	assert.Contains(t, out, "template "+digelaotest.TemplateName+" ("+digelaotest.TemplateSN+")")
	assert.Contains(t, out, "columns: 姓名, 电话 (required), 地址, 公司名称, 备注")
	assert.Contains(t, out, "Steps 4–7 skipped: set DIGELAO_PHONES")
	assert.Contains(t, out, "logged in and read the template; no task created")
	assert.NotContains(t, out, "4. Creating")
	for _, path := range []string{"/api/setCallback", "/api/addJsonOfAsync", "/api/addJson"} {
		assert.Empty(t, requested(srv, path), path)
	}
	key, _ := requested(srv, "/api/exportModel")[0].Get("api_key")
	assertNoSecret(t, out, key)
}

// TestPushesLost points the pushes at a URL that refuses them: the import result is then asked
// for, and the wait for call records ends without failing the walk-through.
func TestPushesLost(t *testing.T) {
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "gone", http.StatusGone)
	}))
	defer refuse.Close()
	srv, cfg := realFake(t)
	cfg.user, cfg.pass = "", ""
	cfg.accessID, cfg.accessSecret = digelaotest.AccessID, digelaotest.AccessSecret
	cfg.seat, cfg.phones = digelaotest.SeatSN, []string{"13800138000"}
	cfg.callbackURL, cfg.wait = refuse.URL+"/push", 500*time.Millisecond
	out := walk(t, cfg)

	assert.Contains(t, out, "pushed to "+refuse.URL+"/push?token=…")
	assert.Contains(t, out, "no push within 500ms: asking for the result instead")
	assert.Contains(t, out, "imported 1 of 1")
	assert.Contains(t, out, "0 of 1 call records pushed within 500ms")
	imported, pushed, _, _ := result(t, out)
	assert.Equal(t, []int{1, 0}, []int{imported, pushed})
	assert.NotEmpty(t, requested(srv, "/api/getImportTaskInfo"))
	require.NotEmpty(t, srv.Pushes())
	for _, p := range srv.Pushes() {
		assert.True(t, strings.HasPrefix(p.URL, refuse.URL), p.URL)
		assert.False(t, p.OK)
	}
	assertNoSecret(t, out)
}

// interrupter is the output of a run that is interrupted once mark is printed.
type interrupter struct {
	bytes.Buffer
	mark   string
	cancel context.CancelFunc
}

func (w *interrupter) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte(w.mark)) {
		w.cancel()
	}
	return w.Buffer.Write(p)
}

// TestInterrupt cancels the walk-through while it waits for the call records, as Ctrl-C does:
// it returns at once, and TestMain checks that the receiver and the fake left no goroutine.
func TestInterrupt(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out := &interrupter{mark: "6. Waiting", cancel: cancel}
	err := run(ctx, out, config{wait: time.Minute})
	require.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, out.String(), "6. Waiting")
	assert.NotContains(t, out.String(), "7. Listing")
}

// TestReceiverBoundsItsConnections: the receiver sets every server timeout, so that a sender that
// stalls mid-body, or an idle connection, cannot hold a connection for good.
func TestReceiverBoundsItsConnections(t *testing.T) {
	r, err := startReceiver(t.Context(), "")
	require.NoError(t, err)
	defer r.close()
	for name, d := range map[string]time.Duration{"ReadHeaderTimeout": r.srv.ReadHeaderTimeout,
		"ReadTimeout": r.srv.ReadTimeout, "WriteTimeout": r.srv.WriteTimeout, "IdleTimeout": r.srv.IdleTimeout} {
		assert.Positive(t, d, name)
	}
	assert.Greater(t, r.srv.WriteTimeout, r.srv.ReadTimeout, "the write deadline also covers reading the body")
}
