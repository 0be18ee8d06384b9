package digelao

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao/internal/flex"
	"github.com/digelao-go/digelao/internal/testkit"
)

// fakeLogin is a login endpoint plus one API endpoint that accepts only the newest key, as the
// platform does: every login cancels the key issued before it.
type fakeLogin struct {
	logins  atomic.Int64
	mu      sync.Mutex
	current string
	expire  string        // api_key_expire to report, as JSON; "" leaves it out
	delay   time.Duration // how long each login takes
	hangs   atomic.Int64  // how many logins, from the next, get no reply until their caller gives up
	reply   string        // a reply to send instead of a successful login
	lastReq map[string]any
}

func (f *fakeLogin) register(mt *httpmock.MockTransport) {
	mt.RegisterResponder("POST", testBase+"/api/login", func(r *http.Request) (*http.Response, error) {
		n := f.logins.Add(1)
		if f.hangs.Add(-1) >= 0 {
			<-r.Context().Done()
			return nil, r.Context().Err()
		}
		time.Sleep(f.delay)
		var body map[string]any
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &body)
		f.mu.Lock()
		defer f.mu.Unlock()
		f.lastReq = body
		if f.reply != "" {
			return httpmock.NewStringResponse(200, f.reply), nil
		}
		f.current = fmt.Sprintf("key%05d", n)
		exp := ""
		if f.expire != "" {
			exp = `,"api_key_expire":` + f.expire
		}
		return httpmock.NewStringResponse(200, fmt.Sprintf(`{"code":0,"msg":"login success","data":{"id":3635,`+
			`"user_sn":"SYSUSER|b3397882e26ba9e7fb8f01f1af345bde","user_name":"zzh","team_name":"\u4eba\u5de5",`+
			`"api_key":"%s","ai_count":"15","expired":"2027-07-11","parent_sn":null%s}}`, f.current, exp)), nil
	})
	mt.RegisterResponder("POST", testBase+"/api/index", func(r *http.Request) (*http.Response, error) {
		var body struct {
			APIKey string `json:"api_key"`
		}
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &body)
		f.mu.Lock()
		defer f.mu.Unlock()
		if body.APIKey != f.current {
			return httpmock.NewStringResponse(200, `{"code":20005,"msg":"api_key验证失败"}`), nil
		}
		return httpmock.NewStringResponse(200, `{"code":0,"data":{"list":[],"total":0}}`), nil
	})
}

// relogin simulates another instance logging in: the key this client holds stops working.
func (f *fakeLogin) relogin() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.current = "someone-else"
}

func newLoginClient(t *testing.T, opts ...Option) (*Client, *fakeLogin, *httpmock.MockTransport) {
	t.Helper()
	mt := httpmock.NewMockTransport()
	f := &fakeLogin{}
	f.register(mt)
	c, err := New(testBase, append([]Option{WithPassword("demo_user", `p@ss/w0rd+1`), WithTransport(mt)}, opts...)...)
	require.NoError(t, err)
	return c, f, mt
}

func callIndex(ctx context.Context, c *Client) error {
	return c.Do(ctx, "POST", "/api/index", NewParams().Set("pageIndex", 0), nil)
}

func TestPasswordLoginRequest(t *testing.T) {
	t.Parallel()
	c, _, mt := newLoginClient(t)
	var got captured
	mt.RegisterResponder("POST", testBase+"/api/login", capture(&got, 200,
		`{"code":0,"data":{"user_sn":"SYSUSER|x","api_key":"AbCd1234","api_key_expire":"1686824884"}}`))
	c.auth.now = func() time.Time { return time.Unix(1686824884-7200, 0) }
	s, err := c.Login(context.Background())
	require.NoError(t, err)
	// Vector "password login": PHP signs {"username":…,"password":"p@ss\/w0rd+1","from":"2"} as 03e0466e.
	assert.Equal(t, `{"username":"demo_user","password":"p@ss\/w0rd+1","from":"2","url":"03e0466e"}`, got.body)
	assert.Equal(t, "AbCd1234", s.APIKey.Value())
	assert.True(t, time.Unix(1686824884, 0).Equal(s.ExpiresAt), "expires at %s", s.ExpiresAt)
}

func TestAccessKeyLoginUsesChinaTime(t *testing.T) {
	t.Parallel()
	mt := httpmock.NewMockTransport()
	f := &fakeLogin{}
	f.register(mt)
	c, err := New(testBase, WithAccessKey("a655f309e7d7b404f4b6b898688ff50d", "secret"), WithTransport(mt))
	require.NoError(t, err)
	// 01:34:25 UTC is 09:34:25 in China, whatever the host's zone.
	c.auth.now = func() time.Time { return time.Date(2024, 9, 24, 1, 34, 25, 0, time.UTC) }
	_, err = c.Login(context.Background())
	require.NoError(t, err)
	sum := md5.Sum([]byte("a655f309e7d7b404f4b6b898688ff50d" + "secret" + "2024-09-24 09:34:25"))
	assert.Equal(t, "a655f309e7d7b404f4b6b898688ff50d", f.lastReq["api_access_id"])
	assert.Equal(t, "1", f.lastReq["from"])
	assert.Equal(t, "2024-09-24 09:34:25", f.lastReq["timestamp"])
	assert.Equal(t, hex.EncodeToString(sum[:]), f.lastReq["sign"])
	// Like every call, 1.2 also sends url, which its page does not list [inferred].
	url, err := Sign(NewParams().Set("api_access_id", "a655f309e7d7b404f4b6b898688ff50d").Set("from", "1").
		Set("sign", hex.EncodeToString(sum[:])).Set("timestamp", "2024-09-24 09:34:25"))
	require.NoError(t, err)
	assert.Equal(t, url, f.lastReq["url"])

	utc, err := New(testBase, WithLoginTimeZone(time.UTC), WithAccessKey("id", "s"), WithTransport(mt))
	require.NoError(t, err)
	utc.auth.now = c.auth.now
	_, err = utc.Login(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "2024-09-24 01:34:25", f.lastReq["timestamp"])
}

func TestLoginReplyFields(t *testing.T) {
	t.Parallel()
	c, _, _ := newLoginClient(t)
	s, err := c.Login(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "SYSUSER|b3397882e26ba9e7fb8f01f1af345bde", s.UserSN)
	assert.Equal(t, "人工", s.TeamName)
	assert.Equal(t, 15, s.AICount)
	assert.EqualValues(t, 3635, s.UserID)
	assert.Equal(t, "2027-07-11", s.AccountExpires)
	assert.WithinDuration(t, time.Now().Add(2*time.Hour), s.ExpiresAt, time.Minute, "two hours when the reply has no api_key_expire")
	key := s.APIKey.Value()
	require.NotEmpty(t, key)
	assert.NotContains(t, fmt.Sprintf("%v %+v %#v %s %q %x %d", s, s, s, s.APIKey, s.APIKey, s.APIKey, s.APIKey), key)
	// A Session value, alone or inside the caller's own structs (exported field or not), hides it too.
	holder := struct{ S Session }{*s}
	hidden := struct{ s Session }{*s}
	assert.NotContains(t, fmt.Sprintf("%v %+v %#v %v %+v %#v %v %+v %#v", *s, *s, *s, holder, holder, holder,
		hidden, hidden, hidden), key)
	var logs strings.Builder
	slog.New(slog.NewTextHandler(&logs, nil)).Info("x", "session", *s, "pointer", s)
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "session", *s, "pointer", s)
	assert.NotContains(t, logs.String(), key)
	assert.Contains(t, logs.String(), s.UserSN)
	js, err := json.Marshal(s)
	require.NoError(t, err)
	assert.NotContains(t, string(js), key)
}

func TestColdClientLogsInOnceForManyGoroutines(t *testing.T) {
	t.Parallel()
	c, f, _ := newLoginClient(t)
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for range 1000 {
		wg.Go(func() { errs <- callIndex(context.Background(), c) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.EqualValues(t, 1, f.logins.Load())
}

func TestKeyIsReusedUntilShortlyBeforeExpiry(t *testing.T) {
	t.Parallel()
	c, f, _ := newLoginClient(t)
	now := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	c.auth.now = func() time.Time { return now }
	f.expire = strconv.FormatInt(now.Add(time.Hour).Unix(), 10)
	ctx := context.Background()
	require.NoError(t, callIndex(ctx, c))
	require.NoError(t, callIndex(ctx, c))
	assert.EqualValues(t, 1, f.logins.Load())

	now = now.Add(time.Hour - refreshMargin + time.Second) // inside the refresh margin
	require.NoError(t, callIndex(ctx, c))
	assert.EqualValues(t, 2, f.logins.Load())
}

func TestRejectedKeyLogsInOnceAndRetriesOnce(t *testing.T) {
	t.Parallel()
	c, f, mt := newLoginClient(t)
	ctx := context.Background()
	require.NoError(t, callIndex(ctx, c))
	f.relogin() // another instance logged in

	require.NoError(t, callIndex(ctx, c))
	assert.EqualValues(t, 2, f.logins.Load())
	assert.Equal(t, 5, mt.GetTotalCallCount(), "login, call, rejected call, login, call")

	// A platform that keeps refusing: one re-login, one retry, then the error — never a loop.
	mt.RegisterResponder("POST", testBase+"/api/index",
		httpmock.NewStringResponder(200, `{"code":20006,"msg":"api_key已过期"}`))
	err := callIndex(ctx, c)
	require.ErrorIs(t, err, ErrAPIKeyExpired)
	assert.EqualValues(t, 3, f.logins.Load())
}

// Two instances share a store; a third party (a command without the store) logs in twice. A,
// refused, takes the key B stored — cancelled too — and, refused again, logs in itself: the call
// succeeds with one login of A's, instead of failing with the stored key's 20005.
func TestRejectedStoredKeyIsFollowedByALogin(t *testing.T) {
	t.Parallel()
	mt := httpmock.NewMockTransport()
	f := &fakeLogin{}
	f.register(mt)
	store := NewMemoryStore()
	var logs bytes.Buffer
	newClient := func(log *slog.Logger) *Client {
		c, err := New(testBase, WithPassword("u", "p"), WithTransport(mt), WithTokenStore(store), WithLogger(log))
		require.NoError(t, err)
		return c
	}
	a, b := newClient(slog.New(slog.NewTextHandler(&logs, nil))), newClient(slog.New(slog.DiscardHandler))
	ctx := t.Context()
	require.NoError(t, callIndex(ctx, a))
	f.relogin()
	require.NoError(t, callIndex(ctx, b)) // B logs in and stores its key
	f.relogin()
	require.NoError(t, callIndex(ctx, a))
	assert.EqualValues(t, 3, f.logins.Load(), "A's first, B's, and A's own after B's stored key was refused")
	assert.Equal(t, 2, strings.Count(logs.String(), "digelao api_key rejected"), logs.String())

	// A key of its own login that is refused at once ends the call: one login, never a loop.
	mt.RegisterResponder("POST", testBase+"/api/index",
		httpmock.NewStringResponder(200, `{"code":20005,"msg":"api_key验证失败"}`))
	require.ErrorIs(t, callIndex(ctx, a), ErrAPIKeyInvalid)
	assert.EqualValues(t, 4, f.logins.Load())
}

func TestRejectedKeyKeepsANewerKey(t *testing.T) {
	t.Parallel()
	c, f, _ := newLoginClient(t)
	ctx := context.Background()
	old, err := c.auth.session(ctx)
	require.NoError(t, err)
	newer, err := c.Login(ctx) // e.g. another goroutine already replaced the key
	require.NoError(t, err)
	got, err := c.auth.renew(ctx, old)
	require.NoError(t, err)
	assert.Equal(t, newer.APIKey, got.APIKey, "the newer key is kept")
	assert.EqualValues(t, 2, f.logins.Load(), "no login for the stale failure")
}

func TestManyCallersRejectedTogetherLogInOnce(t *testing.T) {
	t.Parallel()
	c, f, _ := newLoginClient(t)
	ctx := context.Background()
	require.NoError(t, callIndex(ctx, c))
	f.relogin()
	var wg sync.WaitGroup
	for range 200 {
		wg.Go(func() { assert.NoError(t, callIndex(ctx, c)) })
	}
	wg.Wait()
	assert.EqualValues(t, 2, f.logins.Load())
}

func TestWrongCredentialsAreNotRetried(t *testing.T) {
	t.Parallel()
	c, f, _ := newLoginClient(t)
	f.reply = `{"code":20004,"msg":"用户名或者密码错误"}`
	err := callIndex(context.Background(), c)
	require.ErrorIs(t, err, ErrInvalidCredentials)
	assert.EqualValues(t, 1, f.logins.Load())
	assert.NotContains(t, err.Error(), "p@ss")
}

func TestStaticKeyNeverLogsIn(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	var logins atomic.Int64
	mt.RegisterResponder("POST", testBase+"/api/login", func(*http.Request) (*http.Response, error) {
		logins.Add(1)
		return httpmock.NewStringResponse(200, `{"code":0}`), nil
	})
	mt.RegisterResponder("POST", testBase+"/api/index",
		httpmock.NewStringResponder(200, `{"code":20006,"msg":"api_key已过期"}`))
	require.ErrorIs(t, callIndex(context.Background(), c), ErrAPIKeyExpired)
	s, err := c.Login(context.Background())
	require.NoError(t, err)
	assert.Equal(t, testAPIKey, s.APIKey.Value())
	assert.Zero(t, logins.Load())
	assert.Equal(t, 1, mt.GetTotalCallCount())
}

func TestClientsSharingAStoreShareOneLogin(t *testing.T) {
	t.Parallel()
	mt := httpmock.NewMockTransport()
	f := &fakeLogin{}
	f.register(mt)
	store := NewMemoryStore()
	var wg sync.WaitGroup
	for range 10 {
		c, err := New(testBase, WithPassword("u", "p"), WithTransport(mt), WithTokenStore(store))
		require.NoError(t, err)
		for range 20 {
			wg.Go(func() { assert.NoError(t, callIndex(context.Background(), c)) })
		}
	}
	wg.Wait()
	assert.EqualValues(t, 1, f.logins.Load())
}

func TestSessionWaitRespectsContext(t *testing.T) {
	t.Parallel()
	c, _, _ := newLoginClient(t)
	store := NewMemoryStore()
	c.auth.store = store
	unlock, ok, err := store.Lock(context.Background(), c.StoreKey(), time.Minute) // another instance is logging in
	require.NoError(t, err)
	require.True(t, ok)
	defer unlock(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err = callIndex(ctx, c)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, "digelao: waiting for another login: context deadline exceeded", err.Error())
}

func TestMemoryStoreLock(t *testing.T) {
	t.Parallel()
	m := NewMemoryStore()
	ctx := context.Background()
	unlock, ok, err := m.Lock(ctx, "k", time.Hour)
	require.NoError(t, err)
	require.True(t, ok)
	_, ok, _ = m.Lock(ctx, "k", time.Hour)
	assert.False(t, ok, "held")
	require.NoError(t, unlock(ctx))
	unlock2, ok, _ := m.Lock(ctx, "k", time.Nanosecond)
	require.True(t, ok)
	time.Sleep(time.Millisecond)
	unlock3, ok, _ := m.Lock(ctx, "k", time.Hour)
	require.True(t, ok, "an expired lock can be taken")
	require.NoError(t, unlock2(ctx)) // the old owner's unlock must not release the new owner's lock
	_, ok, _ = m.Lock(ctx, "k", time.Hour)
	assert.False(t, ok)
	require.NoError(t, unlock3(ctx))
}

// failingPut is a TokenStore whose writes fail, as when Redis drops a connection mid-way.
type failingPut struct{ *MemoryStore }

func (failingPut) Put(context.Context, string, *Session) error { return errors.New("connection reset") }

func TestFailedStoreWriteKeepsTheNewKey(t *testing.T) {
	t.Parallel()
	c, f, _ := newLoginClient(t, WithTokenStore(failingPut{NewMemoryStore()}))
	ctx := context.Background()
	require.NoError(t, callIndex(ctx, c), "the login cancelled older keys: its key is used even if it cannot be shared")
	require.NoError(t, callIndex(ctx, c))
	assert.EqualValues(t, 1, f.logins.Load())
}

func TestLoginAlwaysReturnsANewKey(t *testing.T) {
	t.Parallel()
	c, f, _ := newLoginClient(t)
	ctx := context.Background()
	first, err := c.Login(ctx)
	require.NoError(t, err)
	second, err := c.Login(ctx)
	require.NoError(t, err)
	assert.NotEqual(t, first.APIKey, second.APIKey)
	assert.EqualValues(t, 2, f.logins.Load())
	require.NoError(t, callIndex(ctx, c), "the newest key is the one in use")
	assert.EqualValues(t, 2, f.logins.Load())
}

// TestSessionLogsInOnlyWithoutAUsableKey: Session takes the store's key as calls do, and logs in
// only when there is none; Login always logs in.
func TestSessionLogsInOnlyWithoutAUsableKey(t *testing.T) {
	t.Parallel()
	mt := httpmock.NewMockTransport()
	f := &fakeLogin{}
	f.register(mt)
	store := NewMemoryStore()
	ctx := context.Background()
	service, err := New(testBase, WithPassword("u", "p"), WithTransport(mt), WithTokenStore(store))
	require.NoError(t, err)
	require.NoError(t, callIndex(ctx, service))
	require.EqualValues(t, 1, f.logins.Load())

	c, err := New(testBase, WithPassword("u", "p"), WithTransport(mt), WithTokenStore(store))
	require.NoError(t, err)
	s, err := c.Session(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 1, f.logins.Load(), "the stored key is taken")
	stored, err := store.Get(ctx, c.auth.key)
	require.NoError(t, err)
	assert.True(t, s.APIKey.Equal(stored.APIKey))
	assert.Equal(t, "zzh", s.UserName, "the account fields come with it")

	cold, err := New(testBase, WithPassword("u", "p"), WithTransport(mt))
	require.NoError(t, err)
	_, err = cold.Session(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 2, f.logins.Load(), "no key anywhere: one login")
	_, err = cold.Session(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 2, f.logins.Load(), "and then its own")
	_, err = cold.Login(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 3, f.logins.Load(), "Login always logs in")
}

func TestRefreshLockOutlivesTheLogin(t *testing.T) {
	t.Parallel()
	c, _, _ := newLoginClient(t, WithTimeout(time.Minute))
	assert.Greater(t, c.auth.lockTTL, time.Minute)
}

// clock is a settable time for authenticator.now.
type clock struct{ at atomic.Int64 }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.at.Store(t.UnixNano())
	return c
}

func (c *clock) now() time.Time      { return time.Unix(0, c.at.Load()) }
func (c *clock) add(d time.Duration) { c.at.Add(int64(d)) }

// concurrently makes n calls of fn, all released at once, and returns their errors.
func concurrently(n int, fn func() error) []error {
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, n)
	for i := range errs {
		wg.Go(func() {
			<-start
			errs[i] = fn()
		})
	}
	close(start)
	wg.Wait()
	return errs
}

func countErrors(errs []error) (n int) {
	for _, err := range errs {
		if err != nil {
			n++
		}
	}
	return n
}

// TestRefusedLoginIsSharedThenNotRepeated: a wrong password is one login for every caller waiting
// for it, and then a few seconds of no login at all.
func TestRefusedLoginIsSharedThenNotRepeated(t *testing.T) {
	t.Parallel()
	c, f, _ := newLoginClient(t)
	clk := newClock(time.Now())
	c.auth.now = clk.now
	f.reply = `{"code":20004,"msg":"用户名或者密码错误"}`
	f.delay = 100 * time.Millisecond // every caller comes while the login runs
	ctx := context.Background()

	for _, err := range concurrently(30, func() error { return callIndex(ctx, c) }) {
		require.ErrorIs(t, err, ErrInvalidCredentials)
		assert.NotContains(t, err.Error(), "p@ss")
	}
	first := f.logins.Load()
	for _, err := range concurrently(30, func() error { return callIndex(ctx, c) }) {
		require.ErrorIs(t, err, ErrInvalidCredentials)
		assert.ErrorContains(t, err, "login refused less than 5s ago; not tried again yet")
	}
	t.Logf("MEASURED: 30 concurrent calls with a wrong password: %d login(s); 30 more within %s: %d more",
		first, refusalBackoff, f.logins.Load()-first)
	assert.EqualValues(t, 1, first, "one login for all 30 callers")
	assert.EqualValues(t, 1, f.logins.Load(), "no login while the refusal is fresh")

	_, err := c.Login(ctx)
	require.ErrorIs(t, err, ErrInvalidCredentials)
	assert.EqualValues(t, 2, f.logins.Load(), "Client.Login always tries")

	clk.add(refusalBackoff - time.Millisecond)
	require.ErrorIs(t, callIndex(ctx, c), ErrInvalidCredentials)
	assert.EqualValues(t, 2, f.logins.Load(), "the refusal of Login starts the backoff again")
	clk.add(time.Millisecond)
	f.mu.Lock()
	f.reply = "" // the password was fixed on the platform
	f.mu.Unlock()
	require.NoError(t, callIndex(ctx, c))
	assert.EqualValues(t, 3, f.logins.Load(), "after the backoff a call logs in again")
}

// TestHangingLoginIsSharedUnderTimeout: callers waiting for a login that never answers give up
// with it, after one timeout, not one timeout each in turn.
func TestHangingLoginIsSharedUnderTimeout(t *testing.T) {
	t.Parallel()
	c, f, _ := newLoginClient(t, WithTimeout(300*time.Millisecond))
	f.hangs.Store(1 << 30)
	var slowest atomic.Int64
	errs := concurrently(10, func() error {
		start := time.Now()
		err := callIndex(context.Background(), c)
		d := int64(time.Since(start))
		for old := slowest.Load(); d > old && !slowest.CompareAndSwap(old, d); old = slowest.Load() {
		}
		return err
	})
	t.Logf("MEASURED: 10 concurrent calls on a hanging login under WithTimeout(300ms): %d login(s), %d failed, slowest returned after %s",
		f.logins.Load(), countErrors(errs), time.Duration(slowest.Load()).Round(time.Millisecond))
	for _, err := range errs {
		require.ErrorContains(t, err, "300ms")
	}
	assert.EqualValues(t, 1, f.logins.Load())
	assert.Less(t, time.Duration(slowest.Load()), time.Second)
}

// TestLoginWaitersHonourTheirOwnContext: a caller waiting for another caller's login returns when
// its own context ends, and does not inherit the context error of the caller that led the login.
func TestLoginWaitersHonourTheirOwnContext(t *testing.T) {
	t.Parallel()
	c, f, _ := newLoginClient(t)
	f.hangs.Store(1) // the first login answers only when its caller gives up
	leaderCtx, cancelLeader := context.WithCancel(context.Background())
	leaderErr := make(chan error, 1)
	go func() { leaderErr <- callIndex(leaderCtx, c) }()
	require.Eventually(t, func() bool { return f.logins.Load() == 1 }, 5*time.Second, time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := callIndex(ctx, c)
	waited := time.Since(start)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, "digelao: waiting for another login: context deadline exceeded", err.Error())
	assert.Less(t, waited, time.Second)

	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, callIndex(ctx, c), context.Canceled)

	waiterErr := make(chan error, 1)
	go func() { waiterErr <- callIndex(context.Background(), c) }()
	time.Sleep(100 * time.Millisecond) // the waiter is now waiting for the leader's login
	cancelLeader()
	require.ErrorIs(t, <-leaderErr, context.Canceled)
	require.NoError(t, <-waiterErr, "the leader's cancellation is not the waiter's: it logs in itself")
	t.Logf("MEASURED: a waiter under a 50ms context returned after %s; the leader's cancellation gave its waiter no error, %d login requests",
		waited.Round(time.Millisecond), f.logins.Load())
	assert.EqualValues(t, 2, f.logins.Load())
}

// TestOddKeyExpiryMeansTwoHours: an api_key_expire that is past, too close or implausible is
// taken as the documented two hours, never as "log in again now".
func TestOddKeyExpiryMeansTwoHours(t *testing.T) {
	t.Parallel()
	now := time.Now()
	unix := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).Unix(), 10) }
	for _, tc := range []struct {
		name, expire string
		warn         bool
	}{
		{"90s ahead", unix(90 * time.Second), true},
		{"past", unix(-time.Hour), true},
		{"relative 7200", "7200", true},
		{"25h ahead", unix(25 * time.Hour), true},
		{"date-time years ahead", `"2030-01-01 00:00:00"`, true},
		{"not a time", `"soon"`, true},
		{"zero", "0", true},
		{"null", "null", false},
		{"empty", `""`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs testkit.SyncBuffer
			c, f, _ := newLoginClient(t, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			f.expire = tc.expire
			ctx := context.Background()
			failed := countErrors(concurrently(20, func() error { return callIndex(ctx, c) }))
			for range 10 {
				if callIndex(ctx, c) != nil {
					failed++
				}
			}
			t.Logf("MEASURED: api_key_expire %s (%s): 20 concurrent then 10 sequential calls: %d login(s), %d failed",
				tc.name, tc.expire, f.logins.Load(), failed)
			assert.EqualValues(t, 1, f.logins.Load())
			assert.Zero(t, failed)
			s := c.auth.cur.Load()
			require.NotNil(t, s)
			assert.WithinDuration(t, time.Now().Add(keyLifetime), s.ExpiresAt, time.Minute)

			_, err := c.Login(ctx)
			require.NoError(t, err)
			want := 0
			if tc.warn {
				want = 1
			}
			assert.Equal(t, want, strings.Count(logs.String(), "api_key_expire is implausible"), "once per client")
		})
	}
}

// TestLoginNeedsOnlyUserSNAndAPIKey: members other than user_sn and api_key never fail a login.
func TestLoginNeedsOnlyUserSNAndAPIKey(t *testing.T) {
	t.Parallel()
	now := time.Now()
	inAnHour := now.Add(time.Hour).Truncate(time.Second)
	for _, tc := range []struct {
		data string
		want Session
	}{
		{`{"user_sn":"SYSUSER|x","api_key":"AbCd1234","api_key_expire":"2030-01-01 00:00:00","ai_count":15}`,
			Session{UserSN: "SYSUSER|x", ExpiresAt: now.Add(keyLifetime), AICount: 15}},
		{`{"id":"abc","user_sn":"SYSUSER|x","api_key":"AbCd1234","user_name":"zzh"}`,
			Session{UserSN: "SYSUSER|x", ExpiresAt: now.Add(keyLifetime), UserName: "zzh"}},
		{`{"ai_count":"15个","user_sn":"SYSUSER|x","api_key":"AbCd1234","id":3635,"team_name":{"a":1},"job":[1],"expired":false}`,
			Session{UserSN: "SYSUSER|x", ExpiresAt: now.Add(keyLifetime), UserID: 3635, AccountExpires: "false"}},
		{`{"user_sn":12345,"api_key":"AbCd1234","id":"7","ai_count":"15","api_key_expire":"` +
			inAnHour.In(chinaTime).Format(time.DateTime) + `"}`,
			Session{UserSN: "12345", ExpiresAt: inAnHour, UserID: 7, AICount: 15}},
	} {
		c, _, mt := newLoginClient(t)
		c.auth.now = func() time.Time { return now }
		mt.RegisterResponder("POST", testBase+"/api/login",
			httpmock.NewStringResponder(200, `{"code":0,"msg":"login success","data":`+tc.data+`}`))
		s, err := c.Login(context.Background())
		require.NoError(t, err, tc.data)
		assert.Equal(t, "AbCd1234", s.APIKey.Value())
		assert.True(t, tc.want.ExpiresAt.Equal(s.ExpiresAt), "%s: expires at %s", tc.data, s.ExpiresAt)
		tc.want.APIKey, tc.want.ExpiresAt = s.APIKey, s.ExpiresAt
		assert.Equal(t, tc.want, *s, tc.data)
	}
}

// TestLoginReplyNotUnderstoodHidesTheIssuedKey: an error about a login reply never shows the
// api_key the reply carries.
func TestLoginReplyNotUnderstoodHidesTheIssuedKey(t *testing.T) {
	t.Parallel()
	const key = "NEWKEY1234567890"
	// A reply cut in its error excerpt (256 bytes) right inside the key.
	head := `{"code":"ok","data":{"user_sn":"SYSUSER|x","pad":"`
	tail := `","api_key":"`
	cut := head + strings.Repeat("x", maxExcerpt-len(head)-len(tail)-6) + tail + key + `"}}`
	for _, tc := range []struct {
		status int
		reply  string
	}{
		{200, `{"code":0,"data":{"user_sn":"","api_key":"` + key + `"}}`},
		{200, `{"code":0,"data":{"user_sn":{"x":1},"api_key":"` + key + `"}}`},
		{200, `{"code":0,"data":{"user_sn":"SYSUSER|x","api_key":["` + key + `"]}}`},
		{200, `{"code":0,"data":{"user_sn":"SYSUSER|x","api_key":{"v":"` + key + `"}}}`},
		{200, `{"code":0,"data":{"user_sn":"SYSUSER|x","api_key":true}}`},
		{200, `{"code":0,"data":[]}`},
		{200, `{"code":"ok","data":{"user_sn":"SYSUSER|x","api_key":"` + key + `"}}`},
		{500, `{"code":0,"data":{"user_sn":"SYSUSER|x","api_key":"` + key + `"}}`},
		{200, cut},
	} {
		c, _, mt := newLoginClient(t)
		mt.RegisterResponder("POST", testBase+"/api/login", httpmock.NewStringResponder(tc.status, tc.reply))
		_, err := c.Login(context.Background())
		require.ErrorIs(t, err, ErrBadReply, tc.reply)
		assert.NotContains(t, err.Error(), key[:6], tc.reply)
	}
}

// neverFree is a TokenStore whose refresh lock is held by someone who never lets go: a lock
// without an expiry, left by a crash or another tool.
type neverFree struct{ *MemoryStore }

func (neverFree) Lock(context.Context, string, time.Duration) (func(context.Context) error, bool, error) {
	return nil, false, nil
}

// TestStuckRefreshLockIsWaitedForBoundedly: a refresh lock that is never released holds a cold
// call back no longer than a login could take, then the call logs in.
func TestStuckRefreshLockIsWaitedForBoundedly(t *testing.T) {
	t.Parallel()
	for name, store := range map[string]TokenStore{"held for a day": NewMemoryStore(), "never free": neverFree{NewMemoryStore()}} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var logs testkit.SyncBuffer
			c, f, _ := newLoginClient(t, WithTokenStore(store), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			c.auth.lockTTL = 300 * time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, _, err := store.Lock(ctx, c.StoreKey(), 24*time.Hour)
			require.NoError(t, err)

			start := time.Now()
			failed := countErrors(concurrently(5, func() error { return callIndex(ctx, c) }))
			waited := time.Since(start)
			t.Logf("MEASURED: stuck refresh lock (%s), lock TTL 300ms: 5 cold calls: %d login(s), %d failed, done after %s",
				name, f.logins.Load(), failed, waited.Round(time.Millisecond))
			assert.Zero(t, failed)
			assert.EqualValues(t, 1, f.logins.Load())
			assert.GreaterOrEqual(t, waited, c.auth.lockTTL)
			assert.Less(t, waited, 2*time.Second)
			assert.Contains(t, logs.String(), "held longer than a login takes")
			require.NoError(t, callIndex(ctx, c))
			assert.EqualValues(t, 1, f.logins.Load())
		})
	}
}

// TestStaleAccessKeyTimestampIsBackedOff: login 1.2 from a host whose clock is off by more than
// the platform's five minutes is refused (20004, as the fake answers) once for all callers, then
// not tried again for the backoff.
func TestStaleAccessKeyTimestampIsBackedOff(t *testing.T) {
	t.Parallel()
	mt := httpmock.NewMockTransport()
	var logins atomic.Int64
	mt.RegisterResponder("POST", testBase+"/api/login", func(r *http.Request) (*http.Response, error) {
		logins.Add(1)
		time.Sleep(50 * time.Millisecond)
		var body struct{ Timestamp string }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			return nil, err
		}
		at, err := time.ParseInLocation(time.DateTime, body.Timestamp, chinaTime)
		if err != nil || time.Since(at).Abs() > 5*time.Minute {
			return httpmock.NewStringResponse(200, `{"code":20004,"msg":"用户名或者密码错误"}`), nil
		}
		return httpmock.NewStringResponse(200, `{"code":0,"data":{"user_sn":"SYSUSER|x","api_key":"AbCd1234"}}`), nil
	})
	c, err := New(testBase, WithAccessKey("a655f309e7d7b404f4b6b898688ff50d", "secret"), WithTransport(mt))
	require.NoError(t, err)
	c.auth.now = func() time.Time { return time.Now().Add(-10 * time.Minute) }
	ctx := context.Background()
	for range 2 {
		for _, err := range concurrently(20, func() error { return callIndex(ctx, c) }) {
			require.ErrorIs(t, err, ErrInvalidCredentials)
		}
	}
	t.Logf("MEASURED: login 1.2 with a clock 10 min slow, 2 x 20 concurrent calls: %d login(s)", logins.Load())
	assert.EqualValues(t, 1, logins.Load())
}

// twoScanLogin is the login reply as readLogin read it before it decoded the reply once:
// encoding/json into a map for user_sn, api_key and api_key_expire, then a Codec for the rest.
type twoScanLogin struct {
	ID           int64     `json:"id"`
	APIKeyExpire time.Time `json:"api_key_expire"`
	UserName     string    `json:"user_name"`
	TeamName     string    `json:"team_name"`
	TeamSN       string    `json:"team_sn"`
	ParentSN     string    `json:"parent_sn"`
	Job          string    `json:"job"`
	CallerGroup  string    `json:"caller_group"`
	AICount      int       `json:"ai_count"`
	Expired      string    `json:"expired"`

	Extra map[string]json.RawMessage `json:"-"`
}

var twoScanLoginCodec = flex.NewCodec[twoScanLogin]()

// FuzzLoginReplyAgreesWithTwoScans pins readLogin, which decodes a login reply once, to the two
// scans it replaced: the same session (or both refuse the reply), and the same members dropped.
func FuzzLoginReplyAgreesWithTwoScans(f *testing.F) {
	for _, s := range []string{`{"user_sn":"u","api_key":"k","api_key_expire":1719903804,"id":"7","ai_count":"3"}`,
		`{"user_sn":12,"api_key":"k","api_key_expire":"2024-07-02 15:03:24","team_name":null,"x":[1]}`,
		`{"user_sn":"u","api_key":"k","api_key_expire":"0000-00-00 00:00:00"}`, `{"user_sn":"u","api_key":"k","api_key_expire":" "}`,
		`{"user_sn":"u","api_key":"k","api_key_expire":{"a":1},"id":[1]}`, `{"user_sn":"u","api_key":""}`, `[]`, `null`, `"u"`,
		`{"user_sn":"u","api_key":"a","api_key":"b","user\u005fsn":"v","api_key_expire":true}`, `{"user_sn":{},"api_key":"k"}`} {
		f.Add([]byte(s))
	}
	now := time.Date(2024, 7, 2, 7, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) { // the envelope check passes only valid JSON on
			return
		}
		var logs bytes.Buffer
		a := &authenticator{log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
		got, err := a.readLogin(t.Context(), &reply{data: data, body: data}, now)

		var members map[string]json.RawMessage
		_ = json.Unmarshal(data, &members)
		userSN, okSN := loginText(members["user_sn"])
		key, okKey := loginText(members["api_key"])
		if !okSN || !okKey {
			require.Error(t, err, "%q", data)
			return
		}
		require.NoError(t, err, "%q", data)
		var lr twoScanLogin
		_ = twoScanLoginCodec.Decode(data, &lr)
		var dropped []string
		for name := range lr.Extra {
			if twoScanLoginCodec.Has(name) {
				dropped = append(dropped, name)
			}
		}
		slices.Sort(dropped)
		ref := &authenticator{log: slog.New(slog.DiscardHandler)}
		want := &Session{
			UserSN: userSN, APIKey: NewSecret(key), ExpiresAt: ref.keyExpiry(t.Context(), members["api_key_expire"], lr.APIKeyExpire, now),
			UserID: lr.ID, UserName: lr.UserName, TeamName: lr.TeamName, TeamSN: lr.TeamSN, ParentSN: lr.ParentSN,
			Job: lr.Job, CallerGroup: lr.CallerGroup, AICount: lr.AICount, AccountExpires: lr.Expired,
		}
		assert.True(t, want.ExpiresAt.Equal(got.ExpiresAt), "%q: expiry %s, want %s", data, got.ExpiresAt, want.ExpiresAt)
		want.ExpiresAt = got.ExpiresAt
		assert.Equal(t, want, got, "%q", data)
		var gotDropped []string
		if m := regexp.MustCompile(`members="?\[([^\]]*)\]`).FindStringSubmatch(logs.String()); m != nil {
			gotDropped = strings.Fields(m[1])
		}
		slices.Sort(gotDropped)
		assert.Equal(t, dropped, gotDropped, "%q: members dropped", data)
	})
}
