package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/digelaotest"
	"github.com/digelao-go/digelao/internal/redistest"
	"github.com/digelao-go/digelao/internal/testkit"
	"github.com/digelao-go/digelao/redisstore"
)

// service is a service on the account, configured as the README says: WithPassword and
// redisstore on the shared Redis, under prefix.
func service(t *testing.T, srv *digelaotest.Server, prefix string) *digelao.Client {
	t.Helper()
	c, err := srv.Client(digelao.WithTokenStore(sharedStore(t, prefix)))
	require.NoError(t, err)
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// sharedStore is a redisstore on the shared Redis, under prefix.
func sharedStore(t *testing.T, prefix string) *redisstore.Store {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: redistest.Addr(t)})
	t.Cleanup(func() { _ = rdb.Close() })
	store, err := redisstore.New(rdb, redisstore.WithPrefix(prefix))
	require.NoError(t, err)
	return store
}

// TestRedisSharesTheServicesKey: a service holds a key in Redis; a command with --redis takes it,
// and the service's next call goes through on it, without a login. Where the command finds no key
// (another prefix), and without --redis, it logs in, which cancels the service's key, and says so
// once.
func TestRedisSharesTheServicesKey(t *testing.T) {
	ctx := context.Background()
	srv, vars := fake(t)
	prefix := "test:" + rand.Text()[:8] + ":"
	svc := service(t, srv, prefix)
	_, err := svc.Templates.Names(ctx)
	require.NoError(t, err)
	require.Len(t, srv.Logins(), 1, "the service logged in")

	shared := with(vars, "DIGELAO_REDIS_URL", "redis://"+redistest.Addr(t)+"/0", "DIGELAO_REDIS_PREFIX", prefix)
	e := cacheIn(t.TempDir())
	for _, args := range [][]string{{"templates", "list"}, {"tasks", "list"}, {"login"}} {
		r := cliIn(ctx, e, shared, args...)
		require.Equal(t, exitOK, r.code, "%q: %s", args, r.stderr)
		assert.Empty(t, r.stderr, "%q: no login, nothing to warn of", args)
		if args[0] == "login" {
			assert.Regexp(t, `^demo \(SYSUSER\|\w+\), 5 AI calls at once \(ai_count\); api_key valid until .*; the services' key, from Redis \(--redis\)\n$`, r.stdout)
		}
	}
	_, err = svc.Templates.Names(ctx)
	require.NoError(t, err, "the service's next call")
	assert.Len(t, srv.Logins(), 1, "nobody logged in again")
	entries, err := os.ReadDir(filepath.Join(testDir(e), "digelao", "sessions"))
	assert.True(t, os.IsNotExist(err) || len(entries) == 0, "with --redis nothing is cached in a file")

	// The same with the flag, and a --redis-prefix that is not the service's: another key space,
	// with no key in it. The command logs in, and says so, naming where it looked.
	r := cliIn(ctx, e, vars, "templates", "list", "--redis", "redis://"+redistest.Addr(t), "--redis-prefix", prefix+"other:")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Len(t, srv.Logins(), 2, "nothing under that prefix: a login")
	assert.Equal(t, 1, strings.Count(r.stderr, "cancels the api_key of every other holder"), r.stderr)
	for _, want := range []string{`prefix "` + prefix + `other:"`, srv.URL, "password login of demo", "--redis-prefix"} {
		assert.Contains(t, r.stderr, want, "the notice names where the command looked")
	}

	// Without --redis: a login of its own, said once, and the service must log in again.
	r = cliIn(ctx, cacheIn(t.TempDir()), vars, "templates", "list")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, 1, strings.Count(r.stderr, "warning: logging in cancels the api_key of every other holder"), r.stderr)
	assert.Contains(t, r.stderr, "--redis URL (DIGELAO_REDIS_URL)")
	_, err = svc.Templates.Names(ctx)
	require.NoError(t, err)
	assert.Len(t, srv.Logins(), 4, "the service's key was cancelled: it logged in again")
	assertNoSecrets(t, srv, r)
}

// A service and the command that spell one address differently — the host in capitals, the
// scheme's default port, a trailing slash — share one key: the SDK keeps sessions under the
// address written one way.
func TestRedisSharesTheKeyUnderAnySpellingOfTheAddress(t *testing.T) {
	ctx := context.Background()
	srv, vars := fake(t)
	prefix := "test:" + rand.Text()[:8] + ":"
	store := sharedStore(t, prefix)
	local := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	svc, err := digelao.New(strings.Replace(local, "http://localhost", "HTTP://LOCALHOST", 1)+"/",
		digelao.WithPassword(digelaotest.Username, digelaotest.Password), digelao.WithTokenStore(store))
	require.NoError(t, err)
	t.Cleanup(svc.CloseIdleConnections)
	_, err = svc.Templates.Names(ctx)
	require.NoError(t, err)
	require.Len(t, srv.Logins(), 1)

	r := cliIn(ctx, cacheIn(t.TempDir()), with(vars, "DIGELAO_BASE_URL", local, "DIGELAO_REDIS_URL", "redis://"+redistest.Addr(t),
		"DIGELAO_REDIS_PREFIX", prefix), "templates", "list")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Empty(t, r.stderr, "the service's key was found: no login, nothing to warn of")
	_, err = svc.Templates.Names(ctx)
	require.NoError(t, err)
	assert.Len(t, srv.Logins(), 1, "nobody logged in again")
}

// testDir is the cache directory of e.
func testDir(e *env) string {
	dir, _ := e.cacheDir()
	return dir
}

func TestRedisSettingsAreChecked(t *testing.T) {
	ctx := context.Background()
	srv, vars := fake(t)
	r := cli(ctx, with(vars, "DIGELAO_REDIS_URL", "redis://:pa55-word@host:port/x"), "templates", "list")
	assertUsage(t, r, "invalid --redis (DIGELAO_REDIS_URL): want redis://")
	assert.NotContains(t, r.stderr, "pa55-word")
	assertUsage(t, cli(ctx, vars, "templates", "list", "--redis", "ftp://x"), "invalid --redis")

	// Redis down: the call fails instead of logging in, which would cancel the services' key.
	down := redistest.Start(t)
	addr := down.Addr
	down.Stop()
	r = cli(ctx, with(vars, "DIGELAO_REDIS_URL", "redis://"+addr, "DIGELAO_TIMEOUT", "2s"), "templates", "list")
	assert.Equal(t, exitPlatform, r.code, r.stderr)
	assert.Contains(t, r.stderr, "token store")
	assert.Empty(t, srv.Logins(), "no login")
}

// TestSessionCache: the first command logs in (and says what that does), the next ones take its
// key from a 0600 file until it expires; logout removes it.
func TestSessionCache(t *testing.T) {
	ctx := context.Background()
	srv, vars := fake(t)
	e := cacheIn(t.TempDir())
	first := cliIn(ctx, e, vars, "login")
	require.Equal(t, exitOK, first.code, first.stderr)
	assert.Contains(t, first.stdout, "logged in as demo")
	assert.Equal(t, 1, strings.Count(first.stderr, "warning: logging in cancels"), first.stderr)
	assert.Contains(t, first.stderr, "cached for the next commands")

	dir := filepath.Join(testDir(e), "digelao", "sessions")
	name := sessionFile(dir, srv.URL, "user:"+digelaotest.Username)
	fi, err := os.Stat(name)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the file holds the api_key")
	di, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), di.Mode().Perm())
	assert.NotContains(t, name, digelaotest.Username, "the file name holds no account name")

	for _, args := range [][]string{{"templates", "list"}, {"tasks", "list"}, {"login"}} {
		r := cliIn(ctx, e, vars, args...)
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.Empty(t, r.stderr, "%q", args)
	}
	assert.Len(t, srv.Logins(), 1, "one login for four commands")
	again := cliIn(ctx, e, vars, "login")
	assert.Regexp(t, `^demo \(SYSUSER\|\w+\), 5 AI calls at once \(ai_count\); api_key valid until .*; the cached key \(login --new logs in again\)\n$`, again.stdout)

	// Another account or base URL has a file of its own.
	assert.NotEqual(t, name, sessionFile(dir, srv.URL, "access:"+digelaotest.Username))
	assert.NotEqual(t, name, sessionFile(dir, "http://127.0.0.1:1", "user:"+digelaotest.Username))
	assert.Equal(t, name, sessionFile(dir, srv.URL+"/", "user:"+digelaotest.Username), "the same address")
	assert.Equal(t, sessionFile(dir, "https://ai1.example.com", "a"), sessionFile(dir, " HTTPS://AI1.Example.com:443/ ", "a"),
		"scheme and host in any case, the default port written or not")
	assert.Equal(t, sessionFile(dir, "http://[::1]", "a"), sessionFile(dir, "http://[::1]:80", "a"))
	assert.NotEqual(t, sessionFile(dir, "http://ai1.example.com", "a"), sessionFile(dir, "http://ai1.example.com:8080", "a"))
	upper := cliIn(ctx, e, with(vars, "DIGELAO_BASE_URL", strings.Replace(srv.URL, "http://", "HTTP://", 1)), "templates", "list")
	require.Equal(t, exitOK, upper.code, upper.stderr)
	assert.Empty(t, upper.stderr, "HTTP:// is the same account: its cached key")
	assert.Len(t, srv.Logins(), 1)

	// --new logs in, and the next command takes the new key.
	fresh := cliIn(ctx, e, vars, "login", "--new")
	require.Equal(t, exitOK, fresh.code, fresh.stderr)
	assert.Contains(t, fresh.stdout, "logged in as demo")
	require.Equal(t, exitOK, cliIn(ctx, e, vars, "templates", "list").code)
	assert.Len(t, srv.Logins(), 2)

	out := cliIn(ctx, e, vars, "logout")
	require.Equal(t, exitOK, out.code, out.stderr)
	assert.Contains(t, out.stdout, "removed the cached session")
	_, err = os.Stat(name)
	assert.ErrorIs(t, err, os.ErrNotExist)
	_, err = os.Stat(name + ".lock")
	assert.ErrorIs(t, err, os.ErrNotExist, "nor its lock file")
	assert.Contains(t, cliIn(ctx, e, vars, "logout").stdout, "no cached session")
	require.Equal(t, exitOK, cliIn(ctx, e, vars, "templates", "list").code)
	assert.Len(t, srv.Logins(), 3, "logged out: the next command logs in")
	all := cliIn(ctx, e, vars, "logout", "--all")
	require.Equal(t, exitOK, all.code, all.stderr)
	_, err = os.Stat(dir)
	assert.ErrorIs(t, err, os.ErrNotExist)
	assertUsage(t, cliIn(ctx, e, nil, "logout"), "pass --all")
	assertNoSecrets(t, srv, first, again, fresh, out)
}

func TestSessionCacheFile(t *testing.T) {
	ctx := context.Background()
	c := &sessionCache{path: filepath.Join(t.TempDir(), "s", "x.json")}
	got, err := c.Get(ctx, "session:a")
	require.NoError(t, err)
	assert.Nil(t, got, "none yet")

	live := &digelao.Session{UserSN: "SYSUSER|1", APIKey: digelao.NewSecret("key-one"), ExpiresAt: time.Now().Add(time.Hour)}
	require.NoError(t, c.Put(ctx, "session:a", live))
	got, err = c.Get(ctx, "session:a")
	require.NoError(t, err)
	require.NotNil(t, got)
	assert.True(t, got.APIKey.Equal(live.APIKey))
	got, err = c.Get(ctx, "session:b")
	require.NoError(t, err)
	assert.Nil(t, got, "another client's key")

	require.NoError(t, c.Delete(ctx, "session:a", "key-two"))
	got, _ = c.Get(ctx, "session:a")
	assert.NotNil(t, got, "a newer key survives the delete of an older one")
	require.NoError(t, c.Delete(ctx, "session:a", "key-one"))
	got, _ = c.Get(ctx, "session:a")
	assert.Nil(t, got)

	expired := &digelao.Session{UserSN: "SYSUSER|1", APIKey: digelao.NewSecret("key-old"), ExpiresAt: time.Now().Add(-time.Second)}
	require.NoError(t, c.Put(ctx, "session:a", expired))
	got, err = c.Get(ctx, "session:a")
	require.NoError(t, err)
	assert.Nil(t, got)
	_, err = os.Stat(c.path)
	assert.ErrorIs(t, err, os.ErrNotExist, "an expired key is not kept")

	require.NoError(t, os.WriteFile(c.path, []byte("{not json"), 0o600))
	got, err = c.Get(ctx, "session:a")
	require.NoError(t, err)
	assert.Nil(t, got, "a file that does not read is no session; the next Put replaces it")
	b, err := json.Marshal(cachedSession{Key: "session:a", Session: json.RawMessage(`{"user_sn":"x","api_key":""}`)})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(c.path, b, 0o600))
	got, _ = c.Get(ctx, "session:a")
	assert.Nil(t, got, "no api_key, no session")

	// One login at a time: the lock is held until released.
	unlock, ok, err := c.Lock(ctx, "session:a", time.Second)
	require.NoError(t, err)
	require.True(t, ok)
	_, ok, err = (&sessionCache{path: c.path}).Lock(ctx, "session:a", time.Second)
	require.NoError(t, err)
	assert.False(t, ok, "held by the first")
	require.NoError(t, unlock(ctx))
	unlock, ok, err = (&sessionCache{path: c.path}).Lock(ctx, "session:a", time.Second)
	require.NoError(t, err)
	assert.True(t, ok, "released")
	require.NoError(t, unlock(ctx))
}

func TestLoginNoticeIsSaidOnce(t *testing.T) {
	var w testkit.SyncBuffer
	l := &loginWatch{TokenStore: digelao.NewMemoryStore(), w: &w, notice: func() string { return "warning: x" }}
	ctx := context.Background()
	for range 3 {
		unlock, ok, err := l.Lock(ctx, "k", time.Second)
		require.NoError(t, err)
		require.True(t, ok)
		require.NoError(t, unlock(ctx))
	}
	assert.Equal(t, "warning: x\n", w.String())
	assert.True(t, l.loggedIn.Load())
}

// TestTemplateSNsComplete: "templates columns <TAB>" offers the account's template sns, with the
// cached key; without one it offers nothing rather than log in.
func TestTemplateSNsComplete(t *testing.T) {
	ctx := context.Background()
	srv, vars := fake(t)
	e := cacheIn(t.TempDir())
	r := cliIn(ctx, e, vars, cobra.ShellCompRequestCmd, "templates", "columns", "")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.NotContains(t, r.stdout, digelaotest.TemplateSN)
	assert.Empty(t, srv.Logins(), "completion never logs in")

	require.Equal(t, exitOK, cliIn(ctx, e, vars, "login").code)
	for _, args := range [][]string{{"templates", "columns", ""}, {"templates", "columns", "projects"},
		{"tasks", "create", "--template", ""}} {
		r = cliIn(ctx, e, vars, append([]string{cobra.ShellCompRequestCmd}, args...)...)
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.Contains(t, r.stdout, digelaotest.TemplateSN+"\t"+digelaotest.TemplateName, "%q", args)
	}
	r = cliIn(ctx, e, vars, cobra.ShellCompRequestCmd, "templates", "columns", "nope")
	assert.NotContains(t, r.stdout, digelaotest.TemplateSN, "filtered by what is typed")
	assert.Len(t, srv.Logins(), 1)
}

// TestRedisLoginUnderOtherCredentialsIsSaidAloud: the services keep their key in Redis under their
// credentials (here an access key, as the README recommends); an operator runs the command with
// --redis and a password. The command finds no key under its own credentials and logs in, which
// cancels the services' key: it says so, and where it looked.
func TestRedisLoginUnderOtherCredentialsIsSaidAloud(t *testing.T) {
	ctx := context.Background()
	srv, vars := fake(t)
	prefix := "test:" + rand.Text()[:8] + ":"
	store := sharedStore(t, prefix)
	svc, err := digelao.New(srv.URL, digelao.WithAccessKey(digelaotest.AccessID, digelaotest.AccessSecret),
		digelao.WithTokenStore(store))
	require.NoError(t, err)
	t.Cleanup(svc.CloseIdleConnections)
	_, err = svc.Templates.Names(ctx)
	require.NoError(t, err)
	require.Len(t, srv.Logins(), 1, "the service logged in")

	shared := with(vars, "DIGELAO_REDIS_URL", "redis://"+redistest.Addr(t), "DIGELAO_REDIS_PREFIX", prefix)
	r := cliIn(ctx, cacheIn(t.TempDir()), shared, "templates", "list")
	require.Equal(t, exitOK, r.code, r.stderr)
	require.Len(t, srv.Logins(), 2, "no key under the command's credentials: a login")
	assert.Equal(t, 1, strings.Count(r.stderr, "cancels the api_key of every other holder"), r.stderr)
	assert.Contains(t, r.stderr, "password login of demo (--username)")
	assert.Contains(t, r.stderr, "a password login and an access-key login are kept apart")
	assertNoSecrets(t, srv, r)
}

// TestUnusableCacheDirectory: a cache directory that cannot be used (here a file where the
// directory should be) does not stop the command: it keeps its key in memory, as with no cache
// directory at all, and says so once.
func TestUnusableCacheDirectory(t *testing.T) {
	ctx := context.Background()
	srv, vars := fake(t)
	file := writeFile(t, "cache", nil)
	for range 2 {
		r := cliIn(ctx, cacheIn(file), vars, "templates", "list")
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.NotContains(t, r.stderr, "token store")
		assert.Equal(t, 1, strings.Count(r.stderr, "notice: the session cache cannot be used ("), r.stderr)
		assert.Contains(t, r.stderr, "not a directory", "why")
		assert.Contains(t, r.stderr, "No usable cache directory: every command logs in again.", "the login notice says no cache")
		assert.NotContains(t, r.stderr, "cached for the next commands")
	}
	assert.Len(t, srv.Logins(), 2, "each command logged in")
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Empty(t, b, "the file in the way is left as it was")
}

// TestSessionFileOthersCanReadIsMadePrivate: a session file that others can read (0644: copied,
// restored from a backup, written by hand) holds an api_key every user of the machine could take:
// the command makes it 0600 before using it, and says so.
func TestSessionFileOthersCanReadIsMadePrivate(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix modes")
	}
	ctx := context.Background()
	srv, vars := fake(t)
	e := cacheIn(t.TempDir())
	require.Equal(t, exitOK, cliIn(ctx, e, vars, "login").code)
	name := sessionFile(filepath.Join(testDir(e), "digelao", "sessions"), srv.URL, "user:"+digelaotest.Username)
	require.NoError(t, os.Chmod(name, 0o644))
	r := cliIn(ctx, e, vars, "templates", "list")
	require.Equal(t, exitOK, r.code, r.stderr)
	fi, err := os.Stat(name)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	assert.Equal(t, "notice: "+name+", which holds the api_key, was readable by others (mode 0644); it is now 0600\n", r.stderr)
	assert.Len(t, srv.Logins(), 1, "the key was used")
	r = cliIn(ctx, e, vars, "templates", "list")
	assert.Empty(t, r.stderr, "said once")
}

// TestLoginChecksTheKeyItShows: another login cancelled the cached key; "digelao login" asks the
// platform once before it shows the key, finds it cancelled, and logs in (saying so) instead of
// showing a key that no longer works as valid.
func TestLoginChecksTheKeyItShows(t *testing.T) {
	ctx := context.Background()
	srv, vars := fake(t)
	e := cacheIn(t.TempDir())
	require.Equal(t, exitOK, cliIn(ctx, e, vars, "login").code)
	before := len(srv.Requests())
	r := cliIn(ctx, e, vars, "login")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Len(t, srv.Requests(), before+1, "one read checks the key")
	assert.Contains(t, r.stdout, "; the cached key")

	other, err := srv.Client()
	require.NoError(t, err)
	t.Cleanup(other.CloseIdleConnections)
	_, err = other.Login(ctx) // cancels the cached key
	require.NoError(t, err)
	r = cliIn(ctx, e, vars, "login")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.NotContains(t, r.stdout, "; the cached key", "the cached key was cancelled: %s", r.stdout)
	assert.Contains(t, r.stdout, "logged in as demo")
	assert.Contains(t, r.stderr, "warning: logging in cancels the api_key")
	assert.Len(t, srv.Logins(), 3)
}
