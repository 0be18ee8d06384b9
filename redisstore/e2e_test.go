package redisstore_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/internal/redistest"
	"github.com/digelao-go/digelao/redisstore"
)

const (
	fakeUser = "demo_user"
	fakePass = "p@ss/w0rd"
)

// fakePlatform serves login 1.3 and /api/index as the platform does: every login issues a new
// api_key and cancels the one before, which /api/index then refuses with 20005.
type fakePlatform struct {
	URL    string
	logins atomic.Int64 // logins through /api/login
	calls  atomic.Int64 // /api/index calls that succeeded

	mu     sync.Mutex
	userSN string
	latest string // the only api_key accepted
}

func newFakePlatform(t *testing.T) *fakePlatform {
	t.Helper()
	f := &fakePlatform{userSN: "SYSUSER|" + hex.EncodeToString([]byte(rand.Text()[:16]))}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/login", f.login)
	mux.HandleFunc("POST /api/index", f.index)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

func (f *fakePlatform) login(w http.ResponseWriter, r *http.Request) {
	var p map[string]any
	if json.NewDecoder(r.Body).Decode(&p) != nil || p["from"] != "2" {
		fmt.Fprint(w, `{"code":20003,"msg":"客户端类型不存在"}`)
		return
	}
	if p["username"] != fakeUser || p["password"] != fakePass {
		fmt.Fprint(w, `{"code":20004,"msg":"用户名或者密码错误"}`)
		return
	}
	f.logins.Add(1)
	key := f.rotate()
	fmt.Fprintf(w, `{"code":0,"msg":"login success","data":{"id":3635,"user_sn":%q,"user_name":"zzh",`+
		`"api_key":%q,"api_key_expire":%d,"ai_count":15,"expired":"2027-07-11","parent_sn":null}}`,
		f.userSN, key, time.Now().Unix()+7200)
}

// rotate issues a new api_key, canceling the current one — what any login does, including one
// made by a system outside the test.
func (f *fakePlatform) rotate() string {
	key := rand.Text()[:8]
	f.mu.Lock()
	defer f.mu.Unlock()
	f.latest = key
	return key
}

func (f *fakePlatform) index(w http.ResponseWriter, r *http.Request) {
	var p struct {
		UserSN string `json:"user_sn"`
		APIKey string `json:"api_key"`
	}
	_ = json.NewDecoder(r.Body).Decode(&p)
	f.mu.Lock()
	ok := p.APIKey != "" && p.APIKey == f.latest && p.UserSN == f.userSN
	f.mu.Unlock()
	if !ok {
		fmt.Fprint(w, `{"code":20005,"msg":"api_key验证失败"}`)
		return
	}
	f.calls.Add(1)
	fmt.Fprint(w, `{"code":0,"data":{"list":[],"total":0}}`)
}

func newSDKClient(t testing.TB, baseURL string, store digelao.TokenStore) *digelao.Client {
	t.Helper()
	c, err := digelao.New(baseURL, digelao.WithPassword(fakeUser, fakePass), digelao.WithTokenStore(store))
	require.NoError(t, err)
	return c
}

func callIndex(ctx context.Context, c *digelao.Client) error {
	var out struct {
		List  []json.RawMessage `json:"list"`
		Total int               `json:"total"`
	}
	return c.Do(ctx, http.MethodPost, "/api/index", digelao.NewParams().Set("pageIndex", 0), &out)
}

// hammer makes perClient concurrent calls through each client, all released at once, and returns
// the errors.
func hammer(ctx context.Context, clients []*digelao.Client, perClient int) []error {
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, len(clients)*perClient)
	for i := range errs {
		wg.Go(func() {
			<-start
			errs[i] = callIndex(ctx, clients[i%len(clients)])
		})
	}
	close(start)
	wg.Wait()
	return errs
}

const (
	e2eClients   = 8
	e2ePerClient = 25 // 200 goroutines in all
)

func TestManyClientsColdLogInOnce(t *testing.T) {
	t.Parallel()
	f := newFakePlatform(t)
	store, _, _ := newStore(t)
	clients := make([]*digelao.Client, e2eClients)
	for i := range clients {
		clients[i] = newSDKClient(t, f.URL, store)
	}
	for _, err := range hammer(t.Context(), clients, e2ePerClient) {
		require.NoError(t, err)
	}
	t.Logf("MEASURED: %d concurrent cold calls through %d clients sharing one redisstore.Store: %d login(s)",
		e2eClients*e2ePerClient, e2eClients, f.logins.Load())
	assert.EqualValues(t, 1, f.logins.Load())
	assert.EqualValues(t, e2eClients*e2ePerClient, f.calls.Load())
}

func TestInvalidatedKeyReloginOnce(t *testing.T) {
	t.Parallel()
	f := newFakePlatform(t)
	// A Store per client, each on its own connections: as separate replicas.
	stores := sharedStores(t, e2eClients)
	clients := make([]*digelao.Client, e2eClients)
	for i := range clients {
		clients[i] = newSDKClient(t, f.URL, stores[i])
	}
	for _, err := range hammer(t.Context(), clients, 1) {
		require.NoError(t, err)
	}
	require.EqualValues(t, 1, f.logins.Load(), "warm-up")

	f.rotate() // another system logs in on the account: every client's key is now refused
	for _, err := range hammer(t.Context(), clients, e2ePerClient) {
		require.NoError(t, err)
	}
	t.Logf("MEASURED: key invalidated by another login, then %d concurrent calls through %d clients: %d re-login(s)",
		e2eClients*e2ePerClient, e2eClients, f.logins.Load()-1)
	assert.EqualValues(t, 2, f.logins.Load(), "one login in all to replace the refused key")

	for _, err := range hammer(t.Context(), clients, 2) {
		require.NoError(t, err)
	}
	assert.EqualValues(t, 2, f.logins.Load(), "and they keep working on it")
	assert.EqualValues(t, e2eClients*(1+e2ePerClient+2), f.calls.Load())
}

func TestRedisDownFailsWithoutLogin(t *testing.T) {
	t.Parallel()
	f := newFakePlatform(t)
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	store, err := redisstore.New(rdb)
	require.NoError(t, err)
	warm := newSDKClient(t, f.URL, store)
	require.NoError(t, callIndex(t.Context(), warm))

	srv.Stop()
	cold := newSDKClient(t, f.URL, store)
	err = callIndex(t.Context(), cold)
	require.Error(t, err)
	assert.Regexp(t, `^digelao: token store get: redisstore: get: `, err.Error())
	assert.NotContains(t, err.Error(), fakePass)
	require.NoError(t, callIndex(t.Context(), warm), "a client holding a valid key keeps using it")

	f.rotate() // the warm client's key is refused: it cannot replace it without Redis
	err = callIndex(t.Context(), warm)
	require.Error(t, err)
	assert.Regexp(t, `^digelao: token store delete: redisstore: delete: `, err.Error())
	assert.EqualValues(t, 1, f.logins.Load(), "no login without the shared store")

	closed, err := redisstore.New(newClient(t, redistest.ClosedAddr(t)))
	require.NoError(t, err)
	err = callIndex(t.Context(), newSDKClient(t, f.URL, closed))
	assert.Regexp(t, `^digelao: token store get: redisstore: get: dial tcp 127\.0\.0\.1:\d+: connect: connection refused$`, err.Error())
	assert.EqualValues(t, 1, f.logins.Load())
}

// TestStuckLockDelaysColdCallsBoundedly: a refresh lock without a TTL holds cold calls back no
// longer than the lock TTL (the client's timeout plus 10s), then they log in once.
func TestStuckLockDelaysColdCallsBoundedly(t *testing.T) {
	t.Parallel()
	f := newFakePlatform(t)
	store, rdb, prefix := newStore(t)
	newClient := func() *digelao.Client {
		c, err := digelao.New(f.URL, digelao.WithPassword(fakeUser, fakePass), digelao.WithTokenStore(store),
			digelao.WithTimeout(500*time.Millisecond))
		require.NoError(t, err)
		t.Cleanup(c.CloseIdleConnections)
		return c
	}
	// Find the account's session key by a login, then leave its refresh lock behind without a TTL.
	_, err := newClient().Login(t.Context())
	require.NoError(t, err)
	keys, err := rdb.Keys(t.Context(), prefix+"*").Result()
	require.NoError(t, err)
	require.Len(t, keys, 1, "one session stored")
	require.NoError(t, rdb.Del(t.Context(), keys[0]).Err())
	require.NoError(t, rdb.Set(t.Context(), keys[0]+":lock", "left-by-a-crash", 0).Err())
	c := newClient()

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	start := time.Now()
	errs := hammer(ctx, []*digelao.Client{c}, 10)
	waited := time.Since(start)
	failed := 0
	for _, err := range errs {
		if err != nil {
			failed++
		}
	}
	t.Logf("MEASURED: refresh lock without TTL in Redis, lock TTL 10.5s: 10 cold calls: %d login(s), %d failed, done after %s",
		f.logins.Load(), failed, waited.Round(time.Millisecond))
	assert.Zero(t, failed)
	assert.EqualValues(t, 2, f.logins.Load(), "the login that found the key, then one for the 10 cold calls")
	assert.Less(t, waited, 15*time.Second)
}

// Environment of the helper processes of TestManyProcessesLogInOnce.
const (
	envHelperURL    = "REDISSTORE_TEST_HELPER_URL"
	envHelperPrefix = "REDISSTORE_TEST_HELPER_PREFIX"
	envHelperCalls  = "REDISSTORE_TEST_HELPER_CALLS"
)

const (
	e2eProcesses  = 4
	e2ePerProcess = 50
)

func TestManyProcessesLogInOnce(t *testing.T) {
	t.Parallel()
	f := newFakePlatform(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	env := append(os.Environ(), envHelperURL+"="+f.URL, envHelperPrefix+"="+uniquePrefix(t),
		envHelperCalls+"="+strconv.Itoa(e2ePerProcess), redistest.EnvAddr+"="+redistest.Addr(t))

	type child struct {
		cmd    *exec.Cmd
		stdin  io.WriteCloser
		stdout *bufio.Reader
		stderr bytes.Buffer
	}
	children := make([]*child, e2eProcesses)
	for i := range children {
		c := &child{cmd: exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")}
		c.cmd.Env = env
		c.cmd.Stderr = &c.stderr
		var err error
		c.stdin, err = c.cmd.StdinPipe()
		require.NoError(t, err)
		out, err := c.cmd.StdoutPipe()
		require.NoError(t, err)
		c.stdout = bufio.NewReader(out)
		require.NoError(t, c.cmd.Start())
		t.Cleanup(func() { _ = c.cmd.Process.Kill() }) // a no-op once it has exited
		children[i] = c
	}
	// Start every process's calls at once, after all of them are up: the key is cold for all.
	for _, c := range children {
		line, err := c.stdout.ReadString('\n')
		require.NoError(t, err, "child stderr: %s", &c.stderr)
		require.Equal(t, "ready\n", line)
	}
	for _, c := range children {
		_, err := io.WriteString(c.stdin, "go\n")
		require.NoError(t, err)
	}
	for i, c := range children {
		rest, _ := io.ReadAll(c.stdout)
		err := c.cmd.Wait()
		assert.NoError(t, err, "child %d:\n%s%s", i, rest, &c.stderr)
	}
	t.Logf("MEASURED: %d processes x %d concurrent cold calls, each with its own client and redisstore: %d login(s)",
		e2eProcesses, e2ePerProcess, f.logins.Load())
	assert.EqualValues(t, 1, f.logins.Load())
	assert.EqualValues(t, e2eProcesses*e2ePerProcess, f.calls.Load())
}

// TestHelperProcess is one replica of TestManyProcessesLogInOnce; outside it, it does nothing.
func TestHelperProcess(t *testing.T) {
	baseURL := os.Getenv(envHelperURL)
	if baseURL == "" {
		return
	}
	calls, err := strconv.Atoi(os.Getenv(envHelperCalls))
	require.NoError(t, err)
	store, err := redisstore.New(newClient(t, redistest.Addr(t)), redisstore.WithPrefix(os.Getenv(envHelperPrefix)))
	require.NoError(t, err)
	c := newSDKClient(t, baseURL, store)

	fmt.Println("ready")
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "go\n", line)
	for i, err := range hammer(t.Context(), []*digelao.Client{c}, calls) {
		require.NoError(t, err, "call %d", i)
	}
}
