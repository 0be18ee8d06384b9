package digelao_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/digelao-go/digelao"
)

// simClock is the platform's time in the simulation: it moves only when the driver, or a fault,
// moves it. Replicas read it through their own skew.
type simClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *simClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// advance moves the clock to t; it never goes back.
func (c *simClock) advance(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.t) {
		c.t = t
	}
}

// simClaimTTL is how long a claim of the simulated stores lives: redisstore's default.
const simClaimTTL = 5 * time.Minute

// newStoreUnderTest returns an empty store of the kind -sim.store names, on the simulated clock.
// More kinds go here: a MemorySyncStore once it takes a clock, sqlstore on SQLite.
func newStoreUnderTest(kind string, now func() time.Time) (digelao.SyncStore, error) {
	switch kind {
	case "sim":
		return newSimStore(now, simClaimTTL), nil
	}
	return nil, fmt.Errorf("-sim.store %q: no such store (have: sim)", kind)
}

// simStore is a SyncStore on the simulated clock, kept as redisstore keeps it: claims that lapse
// after their TTL, completed keys kept for good, leases, checkpoints.
type simStore struct {
	mu          sync.Mutex
	now         func() time.Time
	claimTTL    time.Duration
	done        map[string]bool
	claims      map[string]simHold // by key; the holder is the claim's token
	leases      map[string]simHold // by name; the holder is the owner
	checkpoints map[string]time.Time
}

// simHold is a claim or a lease: who holds it, until when.
type simHold struct {
	by    string
	until time.Time
}

func newSimStore(now func() time.Time, claimTTL time.Duration) *simStore {
	return &simStore{now: now, claimTTL: claimTTL, done: map[string]bool{}, claims: map[string]simHold{},
		leases: map[string]simHold{}, checkpoints: map[string]time.Time{}}
}

func (s *simStore) Claim(_ context.Context, key, token string) (digelao.ClaimState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done[key] {
		return digelao.ClaimDone, nil
	}
	now := s.now()
	if c, ok := s.claims[key]; ok && now.Before(c.until) {
		return digelao.ClaimInProgress, nil
	}
	s.claims[key] = simHold{by: token, until: now.Add(s.claimTTL)}
	return digelao.ClaimNew, nil
}

func (s *simStore) Complete(_ context.Context, key, _ string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.claims, key)
	s.done[key] = true
	return nil
}

func (s *simStore) Release(_ context.Context, key, token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.claims[key].by == token {
		delete(s.claims, key)
	}
	return nil
}

func (s *simStore) Checkpoint(_ context.Context, name string) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.checkpoints[name], nil
}

func (s *simStore) SetCheckpoint(_ context.Context, name string, t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checkpoints[name] = t
	return nil
}

func (s *simStore) Lease(_ context.Context, name, owner string, ttl time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if l, ok := s.leases[name]; ok && l.by != owner && now.Before(l.until) {
		return false, nil
	}
	s.leases[name] = simHold{by: owner, until: now.Add(ttl)}
	return true, nil
}

func (s *simStore) Unlease(_ context.Context, name, owner string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.leases[name].by == owner {
		delete(s.leases, name)
	}
	return nil
}

// sharedStore is the one store every replica shares. Its forget fault swaps it for an empty one,
// as a Redis FLUSHDB or a restart without persistence does: checkpoint, marks, claims and leases
// all go. epoch counts the times it forgot.
type sharedStore struct {
	mu    sync.Mutex
	fresh func() digelao.SyncStore
	cur   digelao.SyncStore
	epoch int
}

func (s *sharedStore) store() digelao.SyncStore {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

func (s *sharedStore) forget() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur, s.epoch = s.fresh(), s.epoch+1
}

// storeView is one replica's connection to the shared store: it counts the replica's round trips.
type storeView struct {
	s   *sharedStore
	ops *atomic.Int64
}

func (v storeView) Claim(ctx context.Context, key, token string) (digelao.ClaimState, error) {
	v.ops.Add(1)
	return v.s.store().Claim(ctx, key, token)
}

func (v storeView) Complete(ctx context.Context, key, token string) error {
	v.ops.Add(1)
	return v.s.store().Complete(ctx, key, token)
}

func (v storeView) Release(ctx context.Context, key, token string) error {
	v.ops.Add(1)
	return v.s.store().Release(ctx, key, token)
}

func (v storeView) Checkpoint(ctx context.Context, name string) (time.Time, error) {
	v.ops.Add(1)
	return v.s.store().Checkpoint(ctx, name)
}

func (v storeView) SetCheckpoint(ctx context.Context, name string, t time.Time) error {
	v.ops.Add(1)
	return v.s.store().SetCheckpoint(ctx, name, t)
}

func (v storeView) Lease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	v.ops.Add(1)
	return v.s.store().Lease(ctx, name, owner, ttl)
}

func (v storeView) Unlease(ctx context.Context, name, owner string) error {
	v.ops.Add(1)
	return v.s.store().Unlease(ctx, name, owner)
}
