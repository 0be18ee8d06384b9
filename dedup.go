package digelao

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// ClaimState is what DedupStore.Claim found for a push.
type ClaimState int

const (
	// ClaimNew means the push was not seen: the caller now handles it, then calls Complete or
	// Release with the token it claimed with.
	ClaimNew ClaimState = iota
	// ClaimInProgress means another delivery of the same push is being handled right now.
	ClaimInProgress
	// ClaimDone means the push was already handled.
	ClaimDone
)

// DedupStore remembers which pushes were handled, so that a push the platform delivers more than
// once ("同样的通知可能会多次发送", 6.6.1) is handled once. NewMemoryDedup keeps it in one process;
// redisstore shares it between replicas.
//
// Each delivery claims with a token of its own: a non-empty string no other delivery uses, in this
// process or any other sharing the store. It ties the delivery's Renew and Release to its claim: a
// delivery slower than the claim's lifetime loses it to a redelivery, and must then leave the
// redelivery's claim alone. Tokens need not be secret.
//
// A claim lives ClaimTTL unless renewed: the SDK renews it every third of that while the handler
// runs, and cancels the handler's context when the claim is lost, so that a slow handler and a
// redelivery never both run.
type DedupStore interface {
	// Claim marks key as being handled by token's delivery for ClaimTTL, unless it is being
	// handled or was handled already.
	Claim(ctx context.Context, key, token string) (ClaimState, error)
	// Renew extends the claim of token's delivery on key to ClaimTTL from now. It reports false,
	// changing nothing, when token no longer holds the claim (it lapsed, and maybe another
	// delivery took it) or key was completed.
	Renew(ctx context.Context, key, token string) (bool, error)
	// Complete records key as handled for good, whoever holds its claim now: the delivery did
	// happen. token is the completing delivery's, for a store that logs it; it restricts nothing.
	Complete(ctx context.Context, key, token string) error
	// Release forgets the claim of token's delivery, which failed, so that a redelivery is
	// handled. It does nothing once token no longer holds the claim: a claim that lapsed and
	// was taken by another delivery stays that delivery's.
	Release(ctx context.Context, key, token string) error
	// ClaimTTL is how long a claim lives without renewal: how long a crashed handler's claim
	// holds its redeliveries back.
	ClaimTTL() time.Duration
}

// claimTokens makes the claim tokens of a PushHandler or a RecordSync: a random prefix drawn once,
// which no other process shares, and a count, so that a token costs no read of crypto/rand.
type claimTokens struct {
	prefix string
	n      atomic.Uint64
}

func newClaimTokens() *claimTokens { return &claimTokens{prefix: rand.Text() + "-"} }

// next returns a token no other call returns.
func (t *claimTokens) next() string {
	var buf [48]byte // the prefix (27 bytes) and a count: one allocation, the string
	return string(strconv.AppendUint(append(buf[:0], t.prefix...), t.n.Add(1), 36))
}

// once delivers each key at most once across every delivery sharing its store: the one path by
// which PushHandler and RecordSync hand a record to its handler.
type once struct {
	store  DedupStore
	tokens *claimTokens
	timers timers
	log    *slog.Logger
}

// deliver runs do for key unless another delivery handled it or is handling it: it claims key with
// a token of its own, runs do when the claim is new — renewing the claim every third of its TTL,
// and cancelling do's context with ErrClaimLost when it is lost — then completes key, or releases
// the claim when do failed so that a redelivery runs it. It returns the state the claim found
// (ClaimInProgress also when the claim was lost while do ran and do failed), the store's error
// when the claim failed (do did not run), and do's error.
//
// The store is called on contexts ctx's end does not cancel, each given its whole settleTimeout —
// the settling ones after do, however long it took: a claim taken whose reply was lost to a
// cancelled context would refuse every redelivery until it lapsed (see settle). A failed claim is
// released, since its reply may be what was lost. A failed completion or release is logged with
// id; the outcome stands.
func (o *once) deliver(ctx context.Context, key string, id slog.Attr, do func(context.Context) error) (state ClaimState, claimErr, err error) {
	kept, token := ctx, o.tokens.next()
	if mayWait(o.store) {
		kept = context.WithoutCancel(ctx)
	}
	release := func(ctx context.Context, key string) error { return o.store.Release(ctx, key, token) }
	if claimErr = settle(kept, o.store, key, func(ctx context.Context, key string) error {
		state, claimErr = o.store.Claim(ctx, key, token)
		return claimErr
	}); claimErr != nil {
		if rerr := settle(kept, o.store, key, release); rerr != nil {
			o.log.LogAttrs(ctx, slog.LevelDebug, "digelao: releasing a claim that failed failed too", id, slog.Any("error", rerr))
		}
		return state, claimErr, nil
	}
	if state != ClaimNew {
		return state, nil, nil
	}
	lost, err := o.renewing(ctx, key, token, do)
	switch {
	case lost && err != nil:
		return ClaimInProgress, nil, nil // the record is another delivery's now
	case lost:
		o.log.LogAttrs(ctx, slog.LevelError, "digelao: delivered after its claim was lost; another delivery may repeat it",
			id, slog.Duration("claim_ttl", o.store.ClaimTTL()))
	case err != nil:
		if rerr := settle(kept, o.store, key, release); rerr != nil {
			o.log.LogAttrs(ctx, slog.LevelError, "digelao: releasing a failed delivery failed; redeliveries wait for its claim to lapse",
				id, slog.Any("error", rerr))
		}
		return state, nil, err
	}
	if cerr := settle(kept, o.store, key, func(ctx context.Context, key string) error {
		return o.store.Complete(ctx, key, token)
	}); cerr != nil {
		o.log.LogAttrs(ctx, slog.LevelError, "digelao: delivered but not recorded as delivered; a later delivery may repeat it",
			id, slog.Any("error", cerr))
	}
	return state, nil, nil
}

// renewing runs do while keeping token's claim on key alive (keepAlive), and reports whether the
// claim was lost meanwhile, which ends do's context with ErrClaimLost.
func (o *once) renewing(ctx context.Context, key, token string, do func(context.Context) error) (lost bool, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var gone atomic.Bool
	stop := keepAlive(o.timers, o.store.ClaimTTL(), func(ctx context.Context) (bool, error) {
		return o.store.Renew(ctx, key, token)
	}, func(error) {
		gone.Store(true)
		cancel(ErrClaimLost)
	})
	err = do(ctx)
	stop()
	return gone.Load(), err
}

// settleTimeout bounds each call of deliverOnce to its store.
const settleTimeout = 10 * time.Second

// settle makes one call to store for key (or name) on a context ctx's end does not cancel, bounded
// by settleTimeout. A store whose calls never wait (mayWait) is called on ctx: it has nothing to
// cut short.
func settle(ctx context.Context, store any, key string, call func(context.Context, string) error) error {
	if !mayWait(store) {
		return call(ctx, key)
	}
	if ctx.Done() != nil {
		ctx = context.WithoutCancel(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, settleTimeout)
	defer cancel()
	return call(ctx, key)
}

// instantStore is a store whose calls never wait: the in-memory ones, which only take a mutex that
// no I/O holds. instant returns the store itself.
type instantStore interface{ instant() any }

// mayWait reports whether a call to store may wait (on a network, a disk, a lock held across I/O):
// for every store but an in-memory one itself. A type that embeds one, and may do I/O in its own
// methods, inherits instant, which then returns the embedded store, not it.
func mayWait(store any) bool {
	s, ok := store.(instantStore)
	return !ok || s.instant() != store
}

func (m *MemoryDedup) instant() any { return m }

// DefaultClaimTTL is how long a claim of the in-memory stores lives without renewal.
const DefaultClaimTTL = 5 * time.Minute

// MemoryOption configures NewMemoryDedup and NewMemorySyncStore.
type MemoryOption func(*memoryConfig) error

type memoryConfig struct {
	claimTTL time.Duration
	now      func() time.Time
}

// WithMemoryClaimTTL sets how long a claim lives without renewal: how long a handler that crashed
// holds the redeliveries of its record back. Renewals come every third of it. Default
// DefaultClaimTTL; at least a millisecond.
func WithMemoryClaimTTL(d time.Duration) MemoryOption {
	return func(c *memoryConfig) error {
		if d < time.Millisecond {
			return invalid("WithMemoryClaimTTL", "must be at least 1ms, got %s", d)
		}
		c.claimTTL = d
		return nil
	}
}

func newMemoryConfig(capacity int, opts []MemoryOption) (memoryConfig, error) {
	cfg := memoryConfig{claimTTL: DefaultClaimTTL, now: time.Now}
	if capacity < 1 {
		return cfg, invalid("capacity", "must be at least 1, got %d", capacity)
	}
	for _, opt := range opts {
		if opt == nil {
			return cfg, invalid("options", "nil MemoryOption")
		}
		if err := opt(&cfg); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

// MemoryDedup is a DedupStore for one process, bounded to a number of remembered pushes: when full
// it forgets the oldest handled ones. Claims in progress are never evicted. It keeps a 16-byte
// digest of each key (the first half of its SHA-256), never the key itself, so its memory does not
// grow with the keys' length: full at PushHandler's 100,000 it holds about 6.5 MiB, whatever keys
// it was given. Only claims in progress keep their token.
type MemoryDedup struct {
	mu       sync.Mutex
	capacity int
	done     map[digest]struct{} // handled keys
	order    []digest            // handled keys, oldest first from next on once full
	next     int                 // the oldest in order, once it is full
	claims   map[digest]claim    // keys in progress
	cfg      memoryConfig
}

// claim is a key in progress: the token that claimed it, and when the claim lapses.
type claim struct {
	token string
	until time.Time
}

// digest stands for a key in MemoryDedup.
type digest [16]byte

func digestOf(key string) digest {
	var buf [64]byte // on the stack for a key of PushHandler or RecordSync ("call:" and 32 hex digits)
	sum := sha256.Sum256(append(buf[:0], key...))
	return digest(sum[:16])
}

// NewMemoryDedup returns a MemoryDedup that remembers up to capacity handled pushes (at least 1;
// PushHandler uses 100,000).
func NewMemoryDedup(capacity int, opts ...MemoryOption) (*MemoryDedup, error) {
	cfg, err := newMemoryConfig(capacity, opts)
	if err != nil {
		return nil, err
	}
	return newMemoryDedup(capacity, cfg), nil
}

func newMemoryDedup(capacity int, cfg memoryConfig) *MemoryDedup {
	return &MemoryDedup{capacity: capacity, done: map[digest]struct{}{}, claims: map[digest]claim{}, cfg: cfg}
}

// Claim implements DedupStore.
func (m *MemoryDedup) Claim(_ context.Context, key, token string) (ClaimState, error) {
	d := digestOf(key)
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.done[d]; ok {
		return ClaimDone, nil
	}
	now := m.cfg.now()
	if c, ok := m.claims[d]; ok && now.Before(c.until) {
		return ClaimInProgress, nil
	}
	m.claims[d] = claim{token: token, until: now.Add(m.cfg.claimTTL)}
	return ClaimNew, nil
}

// Renew implements DedupStore.
func (m *MemoryDedup) Renew(_ context.Context, key, token string) (bool, error) {
	d := digestOf(key)
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.cfg.now()
	c, ok := m.claims[d]
	if !ok || c.token != token || !now.Before(c.until) {
		return false, nil
	}
	m.claims[d] = claim{token: token, until: now.Add(m.cfg.claimTTL)}
	return true, nil
}

// ClaimTTL implements DedupStore.
func (m *MemoryDedup) ClaimTTL() time.Duration { return m.cfg.claimTTL }

// Complete implements DedupStore.
func (m *MemoryDedup) Complete(_ context.Context, key, _ string) error {
	d := digestOf(key)
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.claims, d)
	if _, ok := m.done[d]; ok {
		return nil
	}
	if len(m.order) < m.capacity {
		m.order = append(m.order, d)
	} else {
		delete(m.done, m.order[m.next])
		m.order[m.next] = d
		m.next = (m.next + 1) % m.capacity
	}
	m.done[d] = struct{}{}
	return nil
}

// Release implements DedupStore.
func (m *MemoryDedup) Release(_ context.Context, key, token string) error {
	d := digestOf(key)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.claims[d].token == token {
		delete(m.claims, d)
	}
	return nil
}
