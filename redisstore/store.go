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

// Store is a digelao.TokenStore, digelao.DedupStore and digelao.SyncStore on Redis, shared by
// every process that uses the same Redis and prefix. It is safe for concurrent use.
type Store struct {
	rdb redis.UniversalClient
	cfg config

	deleteIf      *redis.Script // compare-and-delete of a session by api_key
	lease         *redis.Script // take or extend a lock or lease; repair one without an expiry
	deleteIfValue *redis.Script // compare-and-delete of a lock, lease or claim by its value
	expireIfValue *redis.Script // renewal of a claim by its value
	claim         *redis.Script
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
// as ClaimDone. A RecordSync sweeps records again for a while (its overlap, and up to a day behind
// a record that is not final yet): keep it longer than that. Default DefaultDoneTTL; at least 1ms.
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

// WithLogger sets where the Store reports what it repaired: a de-duplication key it found corrupt
// (see Claim), a lock or lease without expiry (Lock, Lease). Default: nowhere.
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
		rdb:           rdb,
		cfg:           cfg,
		deleteIf:      redis.NewScript(deleteIfScript),
		lease:         redis.NewScript(leaseScript),
		deleteIfValue: redis.NewScript(deleteIfValueScript),
		expireIfValue: redis.NewScript(expireIfValueScript),
		claim:         redis.NewScript(claimScript),
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

// leaseScript takes the lock or lease KEYS[1] for the owner ARGV[1] for ARGV[2] milliseconds, or
// moves its expiry to ARGV[2] milliseconds from now when ARGV[1] holds it already, and returns 1. While another owner holds
// it, it changes nothing and returns 0 — unless the key has no expiry, which this Store never
// leaves (another tool, or a hand): then it is given ARGV[2] instead, so that it ends like any
// other, and the script returns 2.
const leaseScript = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('TYPE', KEYS[1]).ok == 'string' and redis.call('GET', KEYS[1]) == ARGV[1] then
	redis.call('PEXPIRE', KEYS[1], ARGV[2])
	return 1
end
if redis.call('PTTL', KEYS[1]) == -1 then
	redis.call('PEXPIRE', KEYS[1], ARGV[2])
	return 2
end
return 0`

// deleteIfValueScript deletes KEYS[1] while it is the string ARGV[1], and leaves anything else.
const deleteIfValueScript = `
if redis.call('TYPE', KEYS[1]).ok == 'string' and redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('DEL', KEYS[1])
end
return 0`

// expireIfValueScript moves the expiry of KEYS[1] to ARGV[2] milliseconds from now while it is the
// string ARGV[1], returning 1, and leaves anything else, returning 0.
const expireIfValueScript = `
if redis.call('TYPE', KEYS[1]).ok == 'string' and redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('PEXPIRE', KEYS[1], ARGV[2])
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
// so by a Store) is given ttl, and logged (WithLogger), so it is free again after ttl at the latest.
func (s *Store) Lock(ctx context.Context, key string, ttl time.Duration) (unlock func(context.Context) error, ok bool, err error) {
	if err := s.check("lock", key); err != nil {
		return nil, false, err
	}
	lk, token := s.lockKey(key), rand.Text()
	if ok, err := s.take(ctx, "lock", lk, token, ttl); err != nil || !ok {
		return nil, false, err
	}
	return func(ctx context.Context) error {
		if err := s.deleteIfValue.Run(ctx, s.rdb, []string{lk}, token).Err(); err != nil {
			return wrap("unlock", err)
		}
		return nil
	}, true, nil
}

// take takes the lock or lease k for owner for ttl, or extends it when owner holds it (leaseScript),
// for op. It logs a key it repaired.
func (s *Store) take(ctx context.Context, op, k, owner string, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, wrap(op, fmt.Errorf("ttl must be positive, got %s", ttl))
	}
	px := ttl.Milliseconds()
	if ttl%time.Millisecond != 0 {
		px++ // Redis expiries are milliseconds: round up
	}
	got, err := s.lease.Run(ctx, s.rdb, []string{k}, owner, px).Int()
	if err != nil {
		return false, wrap(op, err)
	}
	if got == 2 {
		s.cfg.log.WarnContext(ctx, "redisstore: "+op+" key held without expiry, which no Store sets; it now lapses after the ttl",
			"key", k, "ttl", ttl)
	}
	return got == 1, nil
}
