package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofrs/flock"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/internal/baseurl"
	"github.com/digelao-go/digelao/redisstore"
)

// sessionCache is a digelao.TokenStore in a file of the user's cache directory: the command's
// session, api_key included, until it expires, so that the next command takes the key instead of
// logging in again — a login cancels the key of every other holder. One file per base URL and
// account, mode 0600, beside a lock file that lets one command at a time log in. A cache that
// cannot be used (a file where its directory should be, a read-only home) is given up with a
// notice on w: the command then keeps its session in memory, as with no cache directory at all.
type sessionCache struct {
	path string
	w    io.Writer

	mu  sync.Mutex
	mem *digelao.MemoryStore // the session once the file was given up; nil before
}

// cachedSession is a session file's content.
type cachedSession struct {
	Key     string          `json:"key"`     // the client's store key, which names the base URL and the account
	Session json.RawMessage `json:"session"` // digelao.Session.MarshalBinary, api_key included
}

// sessionDir is where the session files are: the user's cache directory, then digelao/sessions.
func sessionDir(e *env) (string, error) {
	if e.cacheDir == nil {
		return "", errors.New("no cache directory")
	}
	dir, err := e.cacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "digelao", "sessions"), nil
}

// sessionFile is the session file of the account at baseURL, in dir.
func sessionFile(dir, baseURL, account string) string {
	sum := sha256.Sum256([]byte(canonicalURL(baseURL) + "\x00" + account))
	return filepath.Join(dir, hex.EncodeToString(sum[:12])+".json")
}

// canonicalURL writes a base URL one way for one address, as the SDK keeps it (and the services'
// sessions under it): scheme and host in lower case, without the scheme's default port or a
// trailing slash. One that does not parse is left to the SDK, which refuses it.
func canonicalURL(raw string) string {
	raw = strings.TrimSpace(raw)
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return strings.TrimRight(raw, "/")
	}
	return baseurl.Canonical(u)
}

// memory returns the store the cache turned to, or nil while the file is used.
func (c *sessionCache) memory() *digelao.MemoryStore {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mem
}

// giveUp turns the cache to memory for the rest of the command, saying why once.
func (c *sessionCache) giveUp(err error) *digelao.MemoryStore {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mem == nil {
		c.mem = digelao.NewMemoryStore()
		fmt.Fprintf(c.w, "notice: the session cache cannot be used (%v): this command keeps its api_key in memory, "+
			"and the next one logs in again\n", err)
	}
	return c.mem
}

// Get implements digelao.TokenStore: the stored session, or nil when there is none, it is
// another key's, it does not read, or it expired (then the file is removed). A file that others
// can read is made private first.
func (c *sessionCache) Get(ctx context.Context, key string) (*digelao.Session, error) {
	if m := c.memory(); m != nil {
		return m.Get(ctx, key)
	}
	b, err := c.read()
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return c.giveUp(err).Get(ctx, key)
	}
	var cs cachedSession
	var s digelao.Session
	if json.Unmarshal(b, &cs) != nil || cs.Key != key || s.UnmarshalBinary(cs.Session) != nil || s.APIKey.IsZero() {
		return nil, nil // the next Put replaces it
	}
	if !s.ExpiresAt.IsZero() && !time.Now().Before(s.ExpiresAt) {
		if now, err := os.ReadFile(c.path); err == nil && bytes.Equal(now, b) { // not a newer key stored meanwhile
			_ = os.Remove(c.path)
		}
		return nil, nil
	}
	return &s, nil
}

// read returns the session file's content, after making it private (0600) if others can read it:
// it holds the api_key.
func (c *sessionCache) read() ([]byte, error) {
	f, err := os.Open(c.path)
	if err != nil {
		return nil, err
	}
	defer f.Close() //nolint:errcheck // read-only
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if mode := fi.Mode().Perm(); runtime.GOOS != "windows" && mode&0o077 != 0 {
		if err := f.Chmod(0o600); err != nil {
			return nil, fmt.Errorf("%s holds the api_key and others can read it (mode %#o), and its mode cannot be "+
				"changed: %w", c.path, mode, underlying(err))
		}
		fmt.Fprintf(c.w, "notice: %s, which holds the api_key, was readable by others (mode %#o); it is now 0600\n", c.path, mode)
	}
	return io.ReadAll(f)
}

// Put implements digelao.TokenStore: it replaces the file in one rename, mode 0600.
func (c *sessionCache) Put(ctx context.Context, key string, s *digelao.Session) error {
	if m := c.memory(); m != nil {
		return m.Put(ctx, key, s)
	}
	b, err := s.MarshalBinary()
	if err != nil {
		return err
	}
	if b, err = json.Marshal(cachedSession{Key: key, Session: b}); err != nil {
		return err
	}
	err = os.MkdirAll(filepath.Dir(c.path), 0o700)
	if err == nil {
		err = replaceFile("session cache", c.path, 0o600, func(w io.Writer) error {
			_, err := w.Write(b)
			return err
		})
	}
	if err != nil {
		return c.giveUp(err).Put(ctx, key, s)
	}
	return nil
}

// Delete implements digelao.TokenStore: it removes the file while it holds apiKey.
func (c *sessionCache) Delete(ctx context.Context, key, apiKey string) error {
	if m := c.memory(); m != nil {
		return m.Delete(ctx, key, apiKey)
	}
	s, err := c.Get(ctx, key)
	if err != nil || s == nil || s.APIKey.Value() != apiKey {
		return err
	}
	if err := os.Remove(c.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return c.giveUp(err).Delete(ctx, key, apiKey)
	}
	return nil
}

// Lock implements digelao.TokenStore with a lock on a file beside the session's, which the system
// releases when the process ends, however it ends.
func (c *sessionCache) Lock(ctx context.Context, key string, ttl time.Duration) (func(context.Context) error, bool, error) {
	if m := c.memory(); m != nil {
		return m.Lock(ctx, key, ttl)
	}
	l := flock.New(c.path+".lock", flock.SetPermissions(0o600))
	ok, err := false, os.MkdirAll(filepath.Dir(c.path), 0o700)
	if err == nil {
		ok, err = l.TryLock()
	}
	switch {
	case err != nil:
		return c.giveUp(err).Lock(ctx, key, ttl)
	case !ok:
		return nil, false, nil
	}
	return func(context.Context) error { return l.Unlock() }, true, nil
}

// loginWatch is a TokenStore that sees the command log in — a login takes the store's lock
// first — and says notice() on w before the first.
type loginWatch struct {
	digelao.TokenStore
	w        io.Writer
	notice   func() string
	loggedIn atomic.Bool
}

// Lock implements digelao.TokenStore.
func (l *loginWatch) Lock(ctx context.Context, key string, ttl time.Duration) (func(context.Context) error, bool, error) {
	unlock, ok, err := l.TokenStore.Lock(ctx, key, ttl)
	if ok && !l.loggedIn.Swap(true) {
		fmt.Fprintln(l.w, l.notice())
	}
	return unlock, ok, err
}

// errNoLogin is the answer of a store that must not let the command log in (shell completion).
var errNoLogin = errors.New("no session to share, and this does not log in")

// noLogin is a TokenStore that refuses to let the client log in: it only shares a session.
type noLogin struct{ digelao.TokenStore }

// Lock implements digelao.TokenStore.
func (noLogin) Lock(context.Context, string, time.Duration) (func(context.Context) error, bool, error) {
	return nil, false, errNoLogin
}

// redisStore connects to the Redis at rawURL and returns the services' store on it, with prefix.
func redisStore(rawURL, prefix string) (*redisstore.Store, func(), error) {
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) { // it quotes the URL, which may hold a password
			err = ue.Err
		}
		return nil, nil, usagef("invalid --redis (DIGELAO_REDIS_URL): want redis://[user:password@]host:port[/db] "+
			"or rediss://…: %v", err)
	}
	rdb := redis.NewClient(opts)
	store, err := redisstore.New(rdb, redisstore.WithPrefix(prefix))
	if err != nil {
		_ = rdb.Close()
		return nil, nil, usagef("invalid --redis-prefix (DIGELAO_REDIS_PREFIX): %v", err)
	}
	return store, func() { _ = rdb.Close() }, nil
}

// cancels is what every login notice says a login does.
const cancels = "logging in cancels the api_key of every other holder of this account (a service, another shell), " +
	"which must then log in again."

// loginNotice is what the command says before it logs in without a shared key.
func loginNotice(cached bool) string {
	keep := "The new key is cached for the next commands until it expires (\"digelao logout\" removes it)."
	if !cached {
		keep = "No usable cache directory: every command logs in again."
	}
	return "warning: " + cancels + " To use theirs instead, pass --redis URL (DIGELAO_REDIS_URL) with the Redis " +
		"they share it through (redisstore). " + keep
}

// redisLoginNotice is what the command says before it logs in under --redis: Redis held no usable
// key where it looked, which may be another key space than the services'.
func redisLoginNotice(prefix, baseURL, account string) string {
	return fmt.Sprintf("warning: Redis (--redis) holds no usable api_key under the prefix %q for %s and the %s, "+
		"so the command logs in: %s A service's key is found only under its own prefix (--redis-prefix, "+
		"DIGELAO_REDIS_PREFIX), base URL and credentials (a password login and an access-key login are kept "+
		"apart); if the services use others, pass theirs next time. The new key is stored there, for them to share.",
		prefix, baseURL, describeAccount(account), cancels)
}

// describeAccount says which credentials an account name of accountName stands for.
func describeAccount(account string) string {
	if id, ok := strings.CutPrefix(account, "access:"); ok {
		return "access key " + id + " (--access-id)"
	}
	return "password login of " + strings.TrimPrefix(account, "user:") + " (--username)"
}

func logoutCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "logout", Short: "remove the cached session (the api_key) of this account", Args: cobra.NoArgs,
		Long: `Remove the session that commands cached for the account --base-url and --username (or
--access-id) name: the next command logs in again. --all removes every cached session. The
platform has no logout: the api_key stays valid until it expires or another login cancels it.
A session shared through --redis is the services' and is left alone.`}
	var baseURL, username, accessID string
	flags := cmd.Flags()
	flags.StringVar(&baseURL, "base-url", "", "the account's console address")
	flags.StringVar(&username, "username", "", "account user name")
	flags.StringVar(&accessID, "access-id", "", "api_access_id")
	all := flags.Bool("all", false, "remove the cached sessions of every account")
	for flag, v := range map[string]string{"base-url": "DIGELAO_BASE_URL", "username": "DIGELAO_USERNAME", "access-id": "DIGELAO_ACCESS_ID"} {
		bindEnv(flags, flag, v)
	}
	cmd.RunE = action(func(context.Context, []string) error {
		dir, err := sessionDir(e)
		if err != nil {
			return &fileError{flag: "session cache", err: err}
		}
		if *all {
			if err := os.RemoveAll(dir); err != nil {
				return &fileError{flag: "session cache", err: err}
			}
			fmt.Fprintf(e.stdout, "removed every cached session (%s)\n", dir)
			return nil
		}
		account, err := accountName(username, accessID)
		if baseURL == "" || err != nil {
			return usagef("set --base-url and --username or --access-id (or their variables) for the account to log out of, or pass --all")
		}
		name := sessionFile(dir, baseURL, account)
		_ = os.Remove(name + ".lock") // nothing to keep a login from; the next one makes it again
		switch err := os.Remove(name); {
		case errors.Is(err, fs.ErrNotExist):
			fmt.Fprintln(e.stdout, "no cached session for this account")
		case err != nil:
			return &fileError{flag: "session cache", err: err}
		default:
			fmt.Fprintln(e.stdout, "removed the cached session; the next command logs in again")
		}
		return nil
	})
	return cmd
}

// accountName names the account a login is for in the session cache; it holds no secret.
func accountName(username, accessID string) (string, error) {
	switch {
	case accessID != "":
		return "access:" + accessID, nil
	case username != "":
		return "user:" + username, nil
	}
	return "", errors.New("no account")
}
