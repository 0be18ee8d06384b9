package redisstore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/digelao-go/digelao"
)

// Defaults of the options.
const (
	DefaultPrefix     = "digelao:"
	DefaultSessionTTL = 2 * time.Hour      // lifetime of a session stored without ExpiresAt
	DefaultClaimTTL   = 5 * time.Minute    // how long a claim (a push, a sync delivery) blocks redeliveries
	DefaultDoneTTL    = 7 * 24 * time.Hour // how long a handled push or delivered record is remembered
)

var _ digelao.TokenStore = (*Store)(nil)

// Store is a digelao.TokenStore (and digelao.DedupStore) on Redis, shared by every process that
// uses the same Redis and prefix. It is safe for concurrent use.
type Store struct {
	rdb redis.UniversalClient
	cfg config

	deleteIf  *redis.Script // compare-and-delete of a session by api_key
	lock      *redis.Script // take a lock, or give one without an expiry its expiry
	unlockIf  *redis.Script // compare-and-delete of a lock by owner token
	claim     *redis.Script
	releaseIf *redis.Script // delete a de-duplication key only while it is claimed
}

type config struct {
	prefix     string
	sessionTTL time.Duration
	claimTTL   time.Duration
	doneTTL    time.Duration
	log        *slog.Logger
}

// Option configures a Store. New reports the first invalid one.
type Option func(*config) error

// WithPrefix sets the prefix of every Redis key the Store uses. Default "digelao:"; "" uses the
// keys as they are. Every process using the same platform account must use the same Redis and
// prefix, or their logins cancel one another's keys; the session key already names the account, so
// applications on different accounts do not collide under one prefix.
func WithPrefix(prefix string) Option {
	return func(c *config) error {
		c.prefix = prefix
		return nil
	}
}

// WithSessionTTL sets how long a session without ExpiresAt stays in Redis (sessions from a login
// always have one; they expire with their api_key). Default DefaultSessionTTL; at least 1ms.
func WithSessionTTL(d time.Duration) Option {
	return withTTL("WithSessionTTL", d, func(c *config) *time.Duration { return &c.sessionTTL })
}

// WithClaimTTL sets how long a claim stays in progress without Complete or Release — the longest a
// crashed handler can block a redelivery. Make it longer than handling a push, or a RecordSync's
// sink call, takes. Default DefaultClaimTTL; at least 1ms.
func WithClaimTTL(d time.Duration) Option {
	return withTTL("WithClaimTTL", d, func(c *config) *time.Duration { return &c.claimTTL })
}

// WithDoneTTL sets how long a completed key is remembered, so that a later redelivery is reported
// as ClaimDone. Default DefaultDoneTTL; at least 1ms.
func WithDoneTTL(d time.Duration) Option {
	return withTTL("WithDoneTTL", d, func(c *config) *time.Duration { return &c.doneTTL })
}

// withTTL is an option that sets the TTL field returns to d, which Redis keeps in milliseconds.
func withTTL(name string, d time.Duration, field func(*config) *time.Duration) Option {
	return func(c *config) error {
		if d < time.Millisecond {
			return fmt.Errorf("redisstore: %s: must be at least 1ms (Redis expiries are milliseconds), got %s", name, d)
		}
		*field(c) = d
		return nil
	}
}

// WithLogger sets where the Store reports what it repaired: a push key it found corrupt (see
// Claim). Default: nowhere.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("redisstore: WithLogger: nil *slog.Logger")
		}
		c.log = l
		return nil
	}
}

// New returns a Store on rdb (a *redis.Client, *redis.ClusterClient, *redis.Ring, or failover
// client). The Store does not close rdb. Nothing is sent to Redis by New.
func New(rdb redis.UniversalClient, opts ...Option) (*Store, error) {
	if rdb == nil {
		return nil, wrap("new", errNilClient)
	}
	cfg := config{prefix: DefaultPrefix, sessionTTL: DefaultSessionTTL, claimTTL: DefaultClaimTTL, doneTTL: DefaultDoneTTL,
		log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("redisstore: nil Option")
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	return &Store{
		rdb:       rdb,
		cfg:       cfg,
		deleteIf:  redis.NewScript(deleteIfScript),
		lock:      redis.NewScript(lockScript),
		unlockIf:  redis.NewScript(unlockIfScript),
		claim:     redis.NewScript(claimScript),
		releaseIf: redis.NewScript(releaseIfScript),
	}, nil
}

// deleteIfScript deletes KEYS[1] if it holds a session whose api_key is ARGV[1]. A value that is
// not a session is left alone: the next Put replaces it.
const deleteIfScript = `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local ok, s = pcall(cjson.decode, v)
if ok and type(s) == 'table' and s['api_key'] == ARGV[1] then
	return redis.call('DEL', KEYS[1])
end
return 0`

// lockScript takes the lock KEYS[1] for the owner token ARGV[1] for ARGV[2] milliseconds. A lock
// held without an expiry — which this Store never sets: left by another tool, or by hand — is given
// that expiry instead, so that it ends like any other. It returns 1 when the lock was taken.
const lockScript = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('PTTL', KEYS[1]) == -1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`

// unlockIfScript deletes the lock KEYS[1] if its owner token is still ARGV[1].
const unlockIfScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('DEL', KEYS[1])
end
return 0`

var errNilClient = errors.New("nil redis client")

// check reports a Store that cannot run op on key.
func (s *Store) check(op, key string) error {
	switch {
	case s == nil || s.rdb == nil:
		return wrap(op, errNilClient)
	case key == "":
		return wrap(op, errors.New("empty key"))
	}
	return nil
}

func wrap(op string, err error) error { return fmt.Errorf("redisstore: %s: %w", op, err) }

func (s *Store) sessionKey(key string) string { return s.cfg.prefix + key }
func (s *Store) lockKey(key string) string    { return s.cfg.prefix + key + ":lock" }

// Get implements digelao.TokenStore. It returns nil when no session is stored, and also when the
// stored value is not a session (the next Put replaces it).
func (s *Store) Get(ctx context.Context, key string) (*digelao.Session, error) {
	if err := s.check("get", key); err != nil {
		return nil, err
	}
	b, err := s.rdb.Get(ctx, s.sessionKey(key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap("get", err)
	}
	var sess digelao.Session
	if sess.UnmarshalBinary(b) != nil || sess.APIKey.IsZero() || sess.UserSN == "" {
		return nil, nil
	}
	return &sess, nil
}

// Put implements digelao.TokenStore. The session expires from Redis at its ExpiresAt (after the
// session TTL when ExpiresAt is zero); a session that has already expired removes the stored one.
func (s *Store) Put(ctx context.Context, key string, sess *digelao.Session) error {
	if err := s.check("put", key); err != nil {
		return err
	}
	if sess == nil {
		return wrap("put", errors.New("nil session"))
	}
	ttl := s.cfg.sessionTTL
	if !sess.ExpiresAt.IsZero() {
		ttl = time.Until(sess.ExpiresAt)
	}
	if ttl <= 0 {
		if err := s.rdb.Del(ctx, s.sessionKey(key)).Err(); err != nil {
			return wrap("put", err)
		}
		return nil
	}
	b, err := sess.MarshalBinary()
	if err != nil {
		return wrap("put", err)
	}
	if err := s.rdb.Set(ctx, s.sessionKey(key), b, max(ttl, time.Millisecond)).Err(); err != nil {
		return wrap("put", err)
	}
	return nil
}

// Delete implements digelao.TokenStore: it removes the stored session only if its api_key is
// apiKey, atomically, so a newer session stored by another process survives.
func (s *Store) Delete(ctx context.Context, key, apiKey string) error {
	if err := s.check("delete", key); err != nil {
		return err
	}
	if err := s.deleteIf.Run(ctx, s.rdb, []string{s.sessionKey(key)}, apiKey).Err(); err != nil {
		return wrap("delete", err)
	}
	return nil
}

// Lock implements digelao.TokenStore with SET NX PX and a random owner token. The lock expires
// after ttl (rounded up to a millisecond) even if its holder dies; unlock releases it only while
// the token still matches, so a holder whose lock expired cannot release its successor's.
// Releasing twice, or after expiry, is not an error. A lock key found without an expiry (never set
// so by a Store) is given ttl, so it is free again after ttl at the latest.
func (s *Store) Lock(ctx context.Context, key string, ttl time.Duration) (unlock func(context.Context) error, ok bool, err error) {
	if err := s.check("lock", key); err != nil {
		return nil, false, err
	}
	if ttl <= 0 {
		return nil, false, wrap("lock", fmt.Errorf("ttl must be positive, got %s", ttl))
	}
	lk, token := s.lockKey(key), rand.Text()
	got, err := s.lock.Run(ctx, s.rdb, []string{lk}, token, max(ttl, time.Millisecond).Milliseconds()).Int()
	if err != nil {
		return nil, false, wrap("lock", err)
	}
	if got != 1 {
		return nil, false, nil
	}
	return func(ctx context.Context) error {
		if err := s.unlockIf.Run(ctx, s.rdb, []string{lk}, token).Err(); err != nil {
			return wrap("unlock", err)
		}
		return nil
	}, true, nil
}
