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
// process or any other sharing the store. It ties the delivery's Release to its claim: a delivery
// slower than the claim's lifetime loses it to a redelivery, and its Release must then leave the
// redelivery's claim alone. Tokens need not be secret.
type DedupStore interface {
	// Claim marks key as being handled by token's delivery, unless it is being handled or was
	// handled already.
	Claim(ctx context.Context, key, token string) (ClaimState, error)
	// Complete records key as handled for good, whoever holds its claim now: the delivery did
	// happen. token is the completing delivery's, for a store that logs it; it restricts nothing.
	Complete(ctx context.Context, key, token string) error
	// Release forgets the claim of token's delivery, which failed, so that a redelivery is
	// handled. It does nothing once token no longer holds the claim: a claim that lapsed and
	// was taken by another delivery stays that delivery's.
	Release(ctx context.Context, key, token string) error
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

// deliverOnce runs do for key at most once across every delivery sharing store: it claims key
// with a token of tokens, runs do when the claim is new, then completes key — or releases its
// claim when do failed, so that a redelivery runs it, and when the claim failed, which may have
// taken it all the same. It returns the state the claim found, the
// store's error when the claim failed (do did not run), and do's error. The store is called on
// contexts ctx's end does not cancel, each given its whole settleTimeout — the settling ones
// after do, however long it took: a claim taken whose reply was lost to a cancelled context
// would refuse every redelivery until it lapsed. A failed completion or release is logged with
// id; the outcome stands.
func deliverOnce(ctx context.Context, store DedupStore, tokens *claimTokens, key string, log *slog.Logger, id slog.Attr,
	do func(context.Context) error) (state ClaimState, claimErr, err error) {
	kept, token := context.WithoutCancel(ctx), tokens.next()
	release := func(ctx context.Context, key string) error { return store.Release(ctx, key, token) }
	if claimErr = settle(kept, key, func(ctx context.Context, key string) error {
		state, claimErr = store.Claim(ctx, key, token)
		return claimErr
	}); claimErr != nil {
		// The claim may have been taken, its reply lost: give it up, or it would refuse every
		// redelivery until it lapsed. The token frees no one else's claim.
		if rerr := settle(kept, key, release); rerr != nil {
			log.LogAttrs(ctx, slog.LevelDebug, "digelao: releasing a claim that failed failed too", id, slog.Any("error", rerr))
		}
		return state, claimErr, nil
	}
	if state != ClaimNew {
		return state, nil, nil
	}
	if err = do(ctx); err != nil {
		if rerr := settle(kept, key, release); rerr != nil {
			log.LogAttrs(ctx, slog.LevelError, "digelao: releasing a failed delivery failed; redeliveries wait for its claim to lapse",
				id, slog.Any("error", rerr))
		}
		return state, nil, err
	}
	if cerr := settle(kept, key, func(ctx context.Context, key string) error {
		return store.Complete(ctx, key, token)
	}); cerr != nil {
		log.LogAttrs(ctx, slog.LevelError, "digelao: delivered but not recorded as delivered; a later delivery may repeat it",
			id, slog.Any("error", cerr))
	}
	return state, nil, nil
}

// settleTimeout bounds each call of deliverOnce to its store.
const settleTimeout = 10 * time.Second

// settle makes one store call for key (or name) on a context ctx's end does not cancel.
func settle(ctx context.Context, key string, call func(context.Context, string) error) error {
	if ctx.Done() != nil {
		ctx = context.WithoutCancel(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, settleTimeout)
	defer cancel()
	return call(ctx, key)
}

// claimTTL is how long a claim stays in progress before it is considered abandoned (a handler
// that crashed), so that a redelivery is handled.
const claimTTL = 5 * time.Minute

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
	now      func() time.Time
}

// claim is a key in progress: the token that claimed it, and when the claim lapses.
type claim struct {
	token string
	until time.Time
}

// digest stands for a key in MemoryDedup.
type digest [16]byte

func digestOf(key string) digest {
	sum := sha256.Sum256([]byte(key))
	return digest(sum[:16])
}

// NewMemoryDedup returns a MemoryDedup that remembers up to capacity handled pushes (at least 1;
// PushHandler uses 100,000).
func NewMemoryDedup(capacity int) *MemoryDedup {
	return &MemoryDedup{capacity: max(capacity, 1), done: map[digest]struct{}{}, claims: map[digest]claim{},
		now: time.Now}
}

// Claim implements DedupStore.
func (m *MemoryDedup) Claim(_ context.Context, key, token string) (ClaimState, error) {
	d := digestOf(key)
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.done[d]; ok {
		return ClaimDone, nil
	}
	now := m.now()
	if c, ok := m.claims[d]; ok && now.Before(c.until) {
		return ClaimInProgress, nil
	}
	m.claims[d] = claim{token: token, until: now.Add(claimTTL)}
	return ClaimNew, nil
}

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

// MemorySyncStore is a SyncStore for one process: a MemoryDedup of delivered records, and the
// checkpoints and leases of its syncs. It is the default store of a RecordSync.
type MemorySyncStore struct {
	*MemoryDedup

	mu          sync.Mutex
	checkpoints map[string]time.Time
	leases      map[string]memLock
}

// NewMemorySyncStore returns a MemorySyncStore that remembers up to capacity delivered records
// (at least 1; a RecordSync uses 100,000): make it hold more than a sweep's overlap sees.
func NewMemorySyncStore(capacity int) *MemorySyncStore {
	return &MemorySyncStore{MemoryDedup: NewMemoryDedup(capacity), checkpoints: map[string]time.Time{},
		leases: map[string]memLock{}}
}

// Checkpoint implements SyncStore.
func (m *MemorySyncStore) Checkpoint(_ context.Context, name string) (time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.checkpoints[name], nil
}

// SetCheckpoint implements SyncStore.
func (m *MemorySyncStore) SetCheckpoint(_ context.Context, name string, t time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.checkpoints[name] = t
	return nil
}

// Lease implements SyncStore.
func (m *MemorySyncStore) Lease(_ context.Context, name, owner string, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if l, held := m.leases[name]; held && l.owner != owner && now.Before(l.until) {
		return false, nil
	}
	m.leases[name] = memLock{owner: owner, until: now.Add(ttl)}
	return true, nil
}

// Unlease implements SyncStore.
func (m *MemorySyncStore) Unlease(_ context.Context, name, owner string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.leases[name].owner == owner {
		delete(m.leases, name)
	}
	return nil
}
