package digelao

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeLogin is a login endpoint plus one API endpoint that accepts only the newest key, as the
// platform does: every login cancels the key issued before it.
type fakeLogin struct {
	logins  atomic.Int64
	mu      sync.Mutex
	current string
	expire  int64 // api_key_expire to report; 0 leaves it out
	reply   string
	lastReq map[string]any
}

func (f *fakeLogin) register(mt *httpmock.MockTransport) {
	mt.RegisterResponder("POST", testBase+"/api/login", func(r *http.Request) (*http.Response, error) {
		n := f.logins.Add(1)
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
		if f.expire != 0 {
			exp = fmt.Sprintf(`,"api_key_expire":%d`, f.expire)
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
	s, err := c.Login(context.Background())
	require.NoError(t, err)
	// Vector "password login": PHP signs {"username":…,"password":"p@ss\/w0rd+1","from":"2"} as 03e0466e.
	assert.Equal(t, `{"username":"demo_user","password":"p@ss\/w0rd+1","from":"2","url":"03e0466e"}`, got.body)
	assert.Equal(t, "AbCd1234", s.APIKey.Value())
	assert.Equal(t, time.Unix(1686824884, 0), s.ExpiresAt)
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
	f.expire = now.Add(time.Hour).Unix()
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

	// Waiting for this process's own login in progress.
	c.auth.turn <- struct{}{}
	defer func() { <-c.auth.turn }()
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	err = callIndex(ctx, c)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, "digelao: waiting for another login: context canceled", err.Error())
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

func TestRefreshLockOutlivesTheLogin(t *testing.T) {
	t.Parallel()
	c, _, _ := newLoginClient(t, WithTimeout(time.Minute))
	assert.Greater(t, c.auth.lockTTL, time.Minute)
}
