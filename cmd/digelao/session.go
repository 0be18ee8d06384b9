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
	"strings"
	"sync/atomic"
	"time"

	"github.com/gofrs/flock"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/redisstore"
)

// sessionCache is a digelao.TokenStore in a file of the user's cache directory: the command's
// session, api_key included, until it expires, so that the next command takes the key instead of
// logging in again — a login cancels the key of every other holder. One file per base URL and
// account, mode 0600, beside a lock file that lets one command at a time log in.
type sessionCache struct {
	path string
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
	sum := sha256.Sum256([]byte(strings.TrimRight(strings.TrimSpace(baseURL), "/") + "\x00" + account))
	return filepath.Join(dir, hex.EncodeToString(sum[:12])+".json")
}

// Get implements digelao.TokenStore: the stored session, or nil when there is none, it is
// another key's, it does not read, or it expired (then the file is removed).
func (c *sessionCache) Get(_ context.Context, key string) (*digelao.Session, error) {
	b, err := os.ReadFile(c.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
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

// Put implements digelao.TokenStore: it replaces the file in one rename, mode 0600.
func (c *sessionCache) Put(_ context.Context, key string, s *digelao.Session) error {
	b, err := s.MarshalBinary()
	if err != nil {
		return err
	}
	if b, err = json.Marshal(cachedSession{Key: key, Session: b}); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(c.path), 0o700); err != nil {
		return err
	}
	return replaceFile("session cache", c.path, 0o600, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// Delete implements digelao.TokenStore: it removes the file while it holds apiKey.
func (c *sessionCache) Delete(ctx context.Context, key, apiKey string) error {
	s, err := c.Get(ctx, key)
	if err != nil || s == nil || s.APIKey.Value() != apiKey {
		return err
	}
	if err := os.Remove(c.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Lock implements digelao.TokenStore with a lock on a file beside the session's, which the system
// releases when the process ends, however it ends. A lock that cannot be taken at all (a cache
// directory that cannot be written) lets the login go on: it only keeps two of the user's own
// commands from logging in at once.
func (c *sessionCache) Lock(context.Context, string, time.Duration) (func(context.Context) error, bool, error) {
	l := flock.New(c.path+".lock", flock.SetPermissions(0o600))
	ok, err := false, os.MkdirAll(filepath.Dir(c.path), 0o700)
	if err == nil {
		ok, err = l.TryLock()
	}
	switch {
	case err != nil:
		return func(context.Context) error { return nil }, true, nil
	case !ok:
		return nil, false, nil
	}
	return func(context.Context) error { return l.Unlock() }, true, nil
}

// loginWatch is a TokenStore that sees the command log in — a login takes the store's lock
// first — and says notice, if there is one, on w before the first.
type loginWatch struct {
	digelao.TokenStore
	w        io.Writer
	notice   string
	loggedIn atomic.Bool
}

// Lock implements digelao.TokenStore.
func (l *loginWatch) Lock(ctx context.Context, key string, ttl time.Duration) (func(context.Context) error, bool, error) {
	unlock, ok, err := l.TokenStore.Lock(ctx, key, ttl)
	if ok && !l.loggedIn.Swap(true) && l.notice != "" {
		fmt.Fprintln(l.w, l.notice)
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

// loginNotice is what the command says before it logs in without a shared key.
func loginNotice(cached bool) string {
	keep := "The new key is cached for the next commands until it expires (\"digelao logout\" removes it)."
	if !cached {
		keep = "No cache directory: every command logs in again."
	}
	return "warning: logging in cancels the api_key of every other holder of this account (a service, " +
		"another shell), which must then log in again. To use theirs instead, pass --redis URL " +
		"(DIGELAO_REDIS_URL) with the Redis they share it through (redisstore). " + keep
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
