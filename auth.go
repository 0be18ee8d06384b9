package digelao

import (
	"bytes"
	"context"
	"crypto/md5" //nolint:gosec // login 1.2's sign is md5 by definition
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/digelao-go/digelao/internal/flex"
	"github.com/digelao-go/digelao/internal/transport"
)

// Session is the result of a login: the common parameters user_sn and api_key, when the key
// expires, and the account fields of the login reply (REFERENCE §3).
type Session struct {
	UserSN    string    `json:"user_sn"`
	APIKey    Secret    `json:"api_key"`    // printed and marshalled as [REDACTED]; see MarshalBinary
	ExpiresAt time.Time `json:"expires_at"` // zero for a fixed WithAPIKey session

	UserID         int64  `json:"id,omitempty"`
	UserName       string `json:"user_name,omitempty"`
	TeamName       string `json:"team_name,omitempty"`
	TeamSN         string `json:"team_sn,omitempty"`
	ParentSN       string `json:"parent_sn,omitempty"`
	Job            string `json:"job,omitempty"`
	CallerGroup    string `json:"caller_group,omitempty"`
	AICount        int    `json:"ai_count,omitempty"`        // AI calls the account places at once [inferred]
	AccountExpires string `json:"account_expires,omitempty"` // the account's own expiry date, "Y-m-d"
}

// sessionWire is a Session as a TokenStore keeps it: with its api_key in clear.
type sessionWire struct {
	Session
	APIKey string `json:"api_key"` // shadows Session.APIKey, which json.Marshal redacts
}

// MarshalBinary encodes s for a TokenStore, api_key included, as a JSON object with the json tags
// of Session. (json.Marshal of a Session writes its api_key as "[REDACTED]".)
func (s Session) MarshalBinary() ([]byte, error) {
	return json.Marshal(sessionWire{Session: s, APIKey: s.APIKey.Value()})
}

// UnmarshalBinary decodes what MarshalBinary wrote.
func (s *Session) UnmarshalBinary(b []byte) error {
	var w sessionWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*s = w.Session
	s.APIKey = NewSecret(w.APIKey)
	return nil
}

// fresh reports whether s can still be used at now, leaving margin before it expires.
func (s *Session) fresh(now time.Time) bool {
	return s != nil && (s.ExpiresAt.IsZero() || now.Add(refreshMargin).Before(s.ExpiresAt))
}

const (
	// keyLifetime is the documented api_key lifetime, used when a login reply has no api_key_expire.
	keyLifetime = 2 * time.Hour
	// refreshMargin is how long before expiry a key is replaced.
	refreshMargin = 2 * time.Minute
	// lockMargin is how much longer the refresh lock lives than the login it guards may take.
	lockMargin = 10 * time.Second
	// seenKeys is how many of the latest api_keys a client keeps out of its error texts.
	seenKeys = 4
	// minKeyLife and maxKeyLife bound a plausible api_key_expire, counted from the login. Outside
	// them (already past, too close to be worth a login, a relative 7200 read as 1970, years
	// ahead) the key is taken to live keyLifetime: a wrong guess costs one refused call and a
	// re-login, where believing it would cost a login per call or a key used long after it expired.
	minKeyLife = 5 * time.Minute
	maxKeyLife = 24 * time.Hour
	// refusalBackoff is how long a login the platform refused is not tried again: callers get the
	// refusal instead. Client.Login always tries.
	refusalBackoff = 5 * time.Second
)

// chinaTime is the platform's time zone, used for login 1.2's timestamp.
var chinaTime = flex.China

// TokenStore keeps sessions so that every Client — in this process or in others — uses the same
// api_key: a new login cancels the key every other caller holds, so logins must be shared.
// NewMemoryStore is the default; package redisstore shares sessions across processes.
//
// Keys are opaque strings derived from the base URL and the account.
type TokenStore interface {
	// Get returns the stored session, or nil (and no error) when there is none.
	Get(ctx context.Context, key string) (*Session, error)
	// Put stores s, replacing any session under key.
	Put(ctx context.Context, key string, s *Session) error
	// Delete removes the session under key only if its api_key is apiKey, so that a newer key
	// stored meanwhile by another caller survives.
	Delete(ctx context.Context, key, apiKey string) error
	// Lock tries to take the refresh lock for key for at most ttl. It returns ok=false when another
	// holder has it. unlock releases the lock only if this caller still holds it.
	Lock(ctx context.Context, key string, ttl time.Duration) (unlock func(context.Context) error, ok bool, err error)
}

// credentials obtain a session.
type credentials interface {
	// account names the account for the store key; it holds no secret.
	account() string
	// login obtains a new session.
	login(ctx context.Context, c *Client, now time.Time) (*Session, error)
}

// staticKey is a fixed WithAPIKey session; it never logs in.
type staticKey struct{ s Session }

func (k staticKey) account() string { return "static:" + k.s.UserSN }
func (k staticKey) login(context.Context, *Client, time.Time) (*Session, error) {
	s := k.s
	return &s, nil
}

// WithAPIKey makes the client use a fixed user_sn and api_key, for example one obtained elsewhere.
// Such a client never logs in; when the key expires calls fail with ErrAPIKeyExpired.
func WithAPIKey(userSN, apiKey string) Option {
	return func(s *settings) error {
		if userSN == "" || apiKey == "" {
			return invalid("WithAPIKey", "user_sn and api_key must both be set")
		}
		return s.setCreds(staticKey{Session{UserSN: userSN, APIKey: NewSecret(apiKey)}})
	}
}

// WithAccessKey makes the client log in with the account's api_access_id and api_access_secret
// (platform 1.2, "获取api_key(api_access_id方式)", server version 6.6 and later), found in the web
// console under 账户信息 → 个人设置. The client logs in on first use and again before the key expires.
func WithAccessKey(accessID, accessSecret string) Option {
	return func(s *settings) error {
		if accessID == "" || accessSecret == "" {
			return invalid("WithAccessKey", "api_access_id and api_access_secret must both be set")
		}
		return s.setCreds(accessKey{id: accessID, secret: NewSecret(accessSecret), zone: &s.loginZone})
	}
}

// WithPassword makes the client log in with the account's username and password (platform 1.3,
// "获取api_key(账号密码方式)"). The client logs in on first use and again before the key expires.
func WithPassword(username, password string) Option {
	return func(s *settings) error {
		if username == "" || password == "" {
			return invalid("WithPassword", "username and password must both be set")
		}
		return s.setCreds(userPassword{user: username, pass: NewSecret(password)})
	}
}

// WithLoginTimeZone sets the zone of login 1.2's timestamp. The platform checks the timestamp
// within five minutes of its own clock, which is China time (UTC+8) — the default — whatever the
// host's zone. Change it only for a deployment that runs on another zone.
func WithLoginTimeZone(loc *time.Location) Option {
	return func(s *settings) error {
		if loc == nil {
			return invalid("WithLoginTimeZone", "nil *time.Location")
		}
		s.loginZone = loc
		return nil
	}
}

// WithTokenStore makes the client keep its session in store, shared with every other client that
// uses the same store, base URL and account. Default: a store of the client's own.
func WithTokenStore(store TokenStore) Option {
	return func(s *settings) error {
		if store == nil {
			return invalid("WithTokenStore", "nil TokenStore")
		}
		s.store = store
		return nil
	}
}

type accessKey struct {
	id     string
	secret Secret
	zone   **time.Location // resolved at login, so option order does not matter
}

func (k accessKey) account() string { return "access:" + k.id }

// login implements platform 1.2: sign = md5(api_access_id + api_access_secret + timestamp). Like
// every call it also sends url, which the 1.2 page does not list; the platform ignores a parameter
// it does not read, so it is kept [inferred].
func (k accessKey) login(ctx context.Context, c *Client, now time.Time) (*Session, error) {
	ts := now.In(*k.zone).Format(time.DateTime)
	sum := md5.Sum([]byte(k.id + k.secret.Value() + ts)) //nolint:gosec // see import
	p := NewParams().Set("api_access_id", k.id).Set("from", "1").
		Set("sign", hex.EncodeToString(sum[:])).Set("timestamp", ts)
	return c.login(ctx, p, now)
}

type userPassword struct {
	user string
	pass Secret
}

func (p userPassword) account() string { return "user:" + p.user }

// login implements platform 1.3.
func (p userPassword) login(ctx context.Context, c *Client, now time.Time) (*Session, error) {
	return c.login(ctx, NewParams().Set("username", p.user).Set("password", p.pass.Value()).Set("from", "2"), now)
}

// loginReply is the data member of a login reply; fields vary by server version. user_sn, api_key
// and api_key_expire are kept as received, for readLogin and keyExpiry to read. A member its field
// cannot read lands in Extra, and is dropped.
type loginReply struct {
	UserSN       json.RawMessage `json:"user_sn"`
	APIKey       json.RawMessage `json:"api_key"`
	APIKeyExpire json.RawMessage `json:"api_key_expire"` // Unix seconds, or a date-time in China time
	ID           int64           `json:"id"`
	UserName     string          `json:"user_name"`
	TeamName     string          `json:"team_name"`
	TeamSN       string          `json:"team_sn"`
	ParentSN     string          `json:"parent_sn"`
	Job          string          `json:"job"`
	CallerGroup  string          `json:"caller_group"`
	AICount      int             `json:"ai_count"`
	Expired      string          `json:"expired"`

	Extra map[string]json.RawMessage `json:"-"`
}

var (
	loginEndpoint   = endpoint{method: http.MethodPost, path: "/api/login", noAuth: true}
	loginReplyCodec = flex.NewCodec[loginReply]()
	// apiKeyMember finds the value of an api_key member in a reply excerpt, also one cut short.
	apiKeyMember = regexp.MustCompile(`("api_key"\s*:\s*)("(?:[^"\\]|\\.)*"?|[^,}\s]*)`)
)

func (c *Client) login(ctx context.Context, p *Params, now time.Time) (*Session, error) {
	r, err := c.call(ctx, loginEndpoint, p)
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) { // a reply not understood is quoted, maybe with the key it issued
			ae.Body = hideAPIKeys(ae.Body)
		}
		return nil, err
	}
	return c.auth.readLogin(ctx, r, now)
}

// readLogin reads a login reply. Only user_sn and api_key are essential: each must be a non-empty
// string (or a number, as text). Every other member is read leniently, or dropped when it cannot
// be; api_key_expire is then checked by keyExpiry.
func (a *authenticator) readLogin(ctx context.Context, r *reply, now time.Time) (*Session, error) {
	var lr loginReply
	_ = loginReplyCodec.Decode(r.data, &lr) // data that is not an object lacks the essentials below
	userSN, okSN := loginText(lr.UserSN)
	key, okKey := loginText(lr.APIKey)
	if !okSN || !okKey {
		body := excerpt(r.body, append(a.seenKeys(), key)...)
		return nil, &APIError{HTTPStatus: http.StatusOK, Method: loginEndpoint.method, Path: loginEndpoint.path,
			Msg: "login reply lacks user_sn or api_key", Body: hideAPIKeys(body)}
	}
	var dropped []string
	for name := range lr.Extra {
		if loginReplyCodec.Has(name) {
			dropped = append(dropped, name)
		}
	}
	expire, err := flex.Time(lr.APIKeyExpire)
	if err != nil && !isEmpty(lr.APIKeyExpire) {
		dropped = append(dropped, "api_key_expire")
	}
	if len(dropped) > 0 {
		slices.Sort(dropped)
		a.log.DebugContext(ctx, "digelao login reply: members not understood were dropped", "members", dropped)
	}
	return &Session{
		UserSN: userSN, APIKey: NewSecret(key), ExpiresAt: a.keyExpiry(ctx, lr.APIKeyExpire, expire, now),
		UserID: lr.ID, UserName: lr.UserName, TeamName: lr.TeamName, TeamSN: lr.TeamSN, ParentSN: lr.ParentSN,
		Job: lr.Job, CallerGroup: lr.CallerGroup, AICount: lr.AICount, AccountExpires: lr.Expired,
	}, nil
}

// hideAPIKeys redacts the value of every api_key member in s, an excerpt of a reply.
func hideAPIKeys(s string) string { return apiKeyMember.ReplaceAllString(s, `${1}"`+redacted+`"`) }

// loginText reads an essential member of a login reply: a JSON string, or a number as its text.
// ok is false for anything else and for empty text.
func loginText(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || (raw[0] != '"' && raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return "", false
	}
	s, err := flex.Text(raw)
	return s, err == nil && s != ""
}

// keyExpiry returns when a key issued at now expires: t, the reply's api_key_expire (raw as sent),
// when it lies between minKeyLife and maxKeyLife after now; otherwise the documented keyLifetime
// after now, with a warning — once per client — unless the reply simply had no api_key_expire.
func (a *authenticator) keyExpiry(ctx context.Context, raw json.RawMessage, t, now time.Time) time.Time {
	if !t.Before(now.Add(minKeyLife)) && !t.After(now.Add(maxKeyLife)) {
		return t
	}
	absent := t.IsZero() && (isEmpty(raw) || string(bytes.TrimSpace(raw)) == `""`)
	if !absent && a.oddExpiry.CompareAndSwap(false, true) {
		a.log.WarnContext(ctx, "digelao login reply's api_key_expire is implausible; taking the documented two-hour lifetime (logged once per client)",
			"api_key_expire", fmt.Sprintf("%.40s", raw), "now", now)
	}
	return now.Add(keyLifetime)
}

// Login logs in now and stores the new session for every client sharing the token store, even if
// a valid one is stored. Calls log in by themselves when needed, so Login is only for checking
// credentials early or reading the account fields. A WithAPIKey client returns its fixed session.
func (c *Client) Login(ctx context.Context) (*Session, error) {
	return c.auth.refresh(ctx, c.auth.cur.Load(), true)
}

// Session returns the session the client's calls use: its own, the one the token store shares,
// or — only when neither is usable — a new login. Unlike Login it never replaces a usable key, so
// it reads the account fields without cancelling the key of every other holder.
func (c *Client) Session(ctx context.Context) (*Session, error) {
	return c.auth.session(ctx)
}

// authenticator hands out the session for a client: from its own cache, from the shared store,
// or by logging in — once per process at a time, and once across processes through the store's
// lock.
type authenticator struct {
	c     *Client
	creds credentials
	store TokenStore
	key   string
	now   func() time.Time
	log   *slog.Logger
	// lockTTL bounds how long a crashed holder keeps the refresh lock, and how long a caller waits
	// for another holder. It outlives the login it guards (one attempt, bounded by the client's
	// timeout), so no second login can start while the first is still running and cancel its key.
	lockTTL time.Duration

	cur  atomic.Pointer[Session] // the warm path reads only this
	mine atomic.Pointer[Session] // the session of this client's latest login

	mu          sync.Mutex
	flight      *flight   // the refresh in progress, shared by every caller meanwhile
	refused     error     // the platform's last refusal of a login
	refusedTill time.Time // until when refused is answered instead of logging in

	oddExpiry atomic.Bool // an implausible api_key_expire was logged

	seenMu sync.Mutex
	seen   [seenKeys]string // the last api_keys this client used, newest at seenAt-1
	seenAt int
}

// flight is one refresh: its leader runs it, every caller that needs a session meanwhile waits
// for its result, each under its own context.
type flight struct {
	done   chan struct{} // closed when the fields below are set
	forced bool          // a login even if a session is stored (Client.Login)
	s      *Session
	err    error
	// abandoned reports that the leader's own context ended: err is the leader's, not a waiter's.
	abandoned bool
}

func newAuthenticator(c *Client, s *settings) *authenticator {
	a := &authenticator{c: c, creds: s.creds, store: s.store, now: time.Now, log: s.logger,
		lockTTL: s.timeout + lockMargin}
	if a.store == nil {
		a.store = NewMemoryStore()
	}
	sum := sha256.Sum256([]byte(c.base + "\x00" + a.creds.account()))
	a.key = "session:" + hex.EncodeToString(sum[:12])
	return a
}

// session returns a usable session, logging in when there is none.
func (a *authenticator) session(ctx context.Context) (*Session, error) {
	if s := a.cur.Load(); s.fresh(a.now()) {
		return s, nil
	}
	return a.refresh(ctx, nil, false)
}

// renewable reports whether err means the api_key was refused and a login can fix it.
func (a *authenticator) renewable(err error) bool {
	_, static := a.creds.(staticKey)
	return !static && (errors.Is(err, ErrAPIKeyInvalid) || errors.Is(err, ErrAPIKeyExpired))
}

// ownLogin reports whether s is the session of this client's latest login, not one it took from
// its store.
func (a *authenticator) ownLogin(s *Session) bool {
	m := a.mine.Load()
	return m != nil && m.APIKey.Equal(s.APIKey)
}

// renew replaces the session failed, which the platform refused, and returns its successor.
func (a *authenticator) renew(ctx context.Context, failed *Session) (*Session, error) {
	return a.refresh(ctx, failed, false)
}

// refresh returns a session that is fresh and is not failed. It logs in when force is set or when
// neither this process nor the store has one. Callers that come while a refresh is running share
// its result, success or failure; after the platform refused a login, callers get that refusal for
// refusalBackoff instead of a new login (force, from Client.Login, tries anyway).
func (a *authenticator) refresh(ctx context.Context, failed *Session, force bool) (*Session, error) {
	if k, static := a.creds.(staticKey); static {
		s := k.s
		a.use(&s)
		return &s, nil
	}
	usable := func(s *Session) bool { return s.fresh(a.now()) && (failed == nil || !s.APIKey.Equal(failed.APIKey)) }
	for {
		a.mu.Lock()
		if s := a.cur.Load(); !force && usable(s) {
			a.mu.Unlock()
			return s, nil // another caller refreshed meanwhile
		}
		if !force && a.refused != nil && a.now().Before(a.refusedTill) {
			err := a.refused
			a.mu.Unlock()
			return nil, fmt.Errorf("digelao: login refused less than %s ago; not tried again yet: %w", refusalBackoff, err)
		}
		f := a.flight
		if f == nil {
			f = &flight{done: make(chan struct{}), forced: force}
			a.flight = f
			a.mu.Unlock()
			return a.lead(ctx, f, failed, usable)
		}
		a.mu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, errWaitingForLogin(transport.ContextErr(ctx))
		}
		switch {
		case f.abandoned: // the leader's context ended, not this caller's: try again
			if ctx.Err() != nil {
				return nil, errWaitingForLogin(transport.ContextErr(ctx))
			}
		case f.err != nil:
			return nil, f.err
		case (f.forced || !force) && usable(f.s):
			return f.s, nil
		}
		// A session this caller cannot take (the one it failed with, or a stored one where it must
		// log in): its own refresh follows.
	}
}

// lead runs the refresh f and hands its result to every caller waiting for it.
func (a *authenticator) lead(ctx context.Context, f *flight, failed *Session, usable func(*Session) bool) (s *Session, err error) {
	defer func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		f.s, f.err, f.abandoned = s, err, err != nil && ctx.Err() != nil
		switch {
		case err == nil:
			a.refused = nil
		case refusal(err):
			a.refused, a.refusedTill = err, a.now().Add(refusalBackoff)
		}
		a.flight = nil
		close(f.done)
	}()
	if failed != nil {
		a.cur.CompareAndSwap(failed, nil)
		if err := a.store.Delete(ctx, a.key, failed.APIKey.Value()); err != nil {
			return nil, storeErr("delete", err)
		}
	}
	force, start := f.forced, time.Now()
	for wait := 50 * time.Millisecond; ; wait = min(wait*2, time.Second) {
		if !force {
			s, err := a.store.Get(ctx, a.key)
			if err != nil {
				return nil, storeErr("get", err)
			}
			if usable(s) {
				return a.adopt(ctx, s), nil
			}
		}
		unlock, ok, err := a.store.Lock(ctx, a.key, a.lockTTL)
		if err != nil {
			return nil, storeErr("lock", err)
		}
		if ok {
			return a.loginLocked(ctx, unlock, usable, force)
		}
		if held := time.Since(start); held >= a.lockTTL {
			// No login takes this long: the holder is gone and left a lock that does not expire.
			a.log.WarnContext(ctx, "digelao the refresh lock is held longer than a login takes; logging in without it",
				"waited", held, "key", a.key)
			return a.loginLocked(ctx, func(context.Context) error { return nil }, usable, false)
		}
		force = false // another holder is logging in: take its session instead
		a.log.DebugContext(ctx, "digelao waiting for another instance's login", "wait", wait)
		if err := transport.Sleep(ctx, min(wait, a.lockTTL-time.Since(start))); err != nil {
			return nil, errWaitingForLogin(err)
		}
	}
}

// refusal reports whether err is the platform refusing a login with a result code, which trying
// again at once cannot change: 20004 (wrong credentials or access key — and, as the fake answers,
// a 1.2 timestamp off the platform's clock [inferred]: the code for that is not documented), 20003,
// or any other. A network error, an HTTP 429 or 5xx, or a reply not understood is no refusal.
func refusal(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Code != 0 && !ae.Retryable()
}

// loginLocked logs in while holding the store's refresh lock, unless a session appeared meanwhile.
func (a *authenticator) loginLocked(ctx context.Context, unlock func(context.Context) error, usable func(*Session) bool, force bool) (*Session, error) {
	defer func() {
		if err := unlock(context.WithoutCancel(ctx)); err != nil {
			a.log.WarnContext(ctx, "digelao releasing the refresh lock failed", "error", err)
		}
	}()
	if !force {
		// The lock holder before us may have stored a session just before releasing.
		if s, err := a.store.Get(ctx, a.key); err != nil {
			return nil, storeErr("get", err)
		} else if usable(s) {
			return a.adopt(ctx, s), nil
		}
	}
	s, err := a.creds.login(ctx, a.c, a.now())
	if err != nil {
		return nil, err
	}
	a.log.InfoContext(ctx, "digelao logged in", "user_sn", s.UserSN, "expires_at", s.ExpiresAt)
	a.mine.Store(s)
	// The login already cancelled every older key: keep using the new one even if it cannot be
	// shared, rather than fail every call until the store is back.
	a.use(s)
	if err := a.store.Put(ctx, a.key, s); err != nil {
		a.log.WarnContext(ctx, "digelao cannot share the new session; other instances will log in again",
			"error", storeErr("put", err))
	}
	return s, nil
}

// adopt makes s, a session the store holds (another instance's login, or an earlier one of this
// client's), the client's session.
func (a *authenticator) adopt(ctx context.Context, s *Session) *Session {
	a.use(s)
	a.log.DebugContext(ctx, "digelao using the session in the token store", "key", a.key, "expires_at", s.ExpiresAt)
	return s
}

// use makes s the client's session and remembers its api_key as a secret.
func (a *authenticator) use(s *Session) {
	a.cur.Store(s)
	key := s.APIKey.Value()
	a.seenMu.Lock()
	defer a.seenMu.Unlock()
	if a.seen[(a.seenAt+seenKeys-1)%seenKeys] != key {
		a.seen[a.seenAt%seenKeys] = key
		a.seenAt++
	}
}

// seenKeys returns the api_keys the client used lately: secrets for every error text, also those
// quoting a reply that echoes an older key.
func (a *authenticator) seenKeys() []string {
	a.seenMu.Lock()
	defer a.seenMu.Unlock()
	return append([]string(nil), a.seen[:min(a.seenAt, seenKeys)]...)
}

func errWaitingForLogin(err error) error {
	return fmt.Errorf("digelao: waiting for another login: %w", err)
}

func storeErr(op string, err error) error {
	return fmt.Errorf("digelao: token store %s: %w", op, err)
}

// MemoryStore is a TokenStore for one process. It is the default store of every logging-in client.
type MemoryStore struct {
	mu       sync.Mutex
	sessions map[string]*Session
	locks    map[string]memLock
}

type memLock struct {
	owner string
	until time.Time
}

// NewMemoryStore returns an empty in-process TokenStore. Clients share sessions by sharing it.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{sessions: map[string]*Session{}, locks: map[string]memLock{}}
}

// Get implements TokenStore.
func (m *MemoryStore) Get(_ context.Context, key string) (*Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sessions[key], nil
}

// Put implements TokenStore.
func (m *MemoryStore) Put(_ context.Context, key string, s *Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sessions[key] = s
	return nil
}

// Delete implements TokenStore.
func (m *MemoryStore) Delete(_ context.Context, key, apiKey string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.sessions[key]; s != nil && s.APIKey.Value() == apiKey {
		delete(m.sessions, key)
	}
	return nil
}

// Lock implements TokenStore.
func (m *MemoryStore) Lock(_ context.Context, key string, ttl time.Duration) (func(context.Context) error, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	if l, held := m.locks[key]; held && now.Before(l.until) {
		return nil, false, nil
	}
	owner := rand.Text()
	m.locks[key] = memLock{owner: owner, until: now.Add(ttl)}
	return func(context.Context) error {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.locks[key].owner == owner {
			delete(m.locks, key)
		}
		return nil
	}, true, nil
}
