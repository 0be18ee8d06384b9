package digelao_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/internal/sqltest"
	"github.com/digelao-go/digelao/internal/testkit"
	"github.com/digelao-go/digelao/sqlstore"
)

// simClock is the platform's time in the simulation: it moves only when the driver, or a fault,
// moves it, and runs the renewals the replicas scheduled on it (digelao.WithSyncTimers) as it
// passes their times. Replicas read it through their own skew.
type simClock struct{ *testkit.Clock }

func (c simClock) now() time.Time { return c.Now() }

// advance moves the clock to t; it never goes back.
func (c simClock) advance(t time.Time) {
	if d := t.Sub(c.Now()); d > 0 {
		c.Advance(d)
	}
}

// simClaimTTL is how long a claim of the simulated stores lives: redisstore's default.
const simClaimTTL = 5 * time.Minute

// newStoreUnderTest returns an empty store of the kind -sim.store names, on the simulated clock:
// memory, or sqlite — sqlstore on an SQLite file of t's, which commits the sink's writes with the
// marks (a CommitStore), its sink the simulation's (see sim.sink).
func newStoreUnderTest(t testing.TB, kind string, clock simClock) (digelao.SyncStore, error) {
	switch kind {
	case "memory":
		return digelao.NewMemorySyncStore(100_000, digelao.WithMemoryClock(clock.now), digelao.WithMemoryClaimTTL(simClaimTTL))
	case "sqlite":
		db, err := sql.Open(sqltest.Driver(sqlstore.SQLite), "file:"+filepath.Join(t.TempDir(), "sim.db")+"?_pragma=journal_mode(MEMORY)&_pragma=synchronous(OFF)") // a simulation needs no durability
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { _ = db.Close() })
		st, err := sqlstore.New(db, sqlstore.SQLite, sqlstore.WithClock(clock.now), sqlstore.WithClaimTTL(simClaimTTL))
		if err == nil {
			err = st.Migrate(t.Context())
		}
		return st, err
	}
	return nil, fmt.Errorf("-sim.store %q: no such store (have: memory, sqlite)", kind)
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

// storeView is one replica's connection to the shared store: it counts the replica's round trips
// of the exactly-once layer — claims, completions, releases, deliveries — not the renewals of
// claims held.
type storeView struct {
	s   *sharedStore
	ops *atomic.Int64
}

// view returns a replica's view of s: a CommitStore when s's stores are.
func (s *sharedStore) view(ops *atomic.Int64) digelao.SyncStore {
	v := storeView{s: s, ops: ops}
	if _, ok := s.store().(digelao.CommitStore); ok {
		return commitView{v}
	}
	return v
}

func (v storeView) Claim(ctx context.Context, key, token string) (digelao.ClaimState, error) {
	v.ops.Add(1)
	return v.s.store().Claim(ctx, key, token)
}

func (v storeView) Renew(ctx context.Context, key, token string) (bool, error) {
	return v.s.store().Renew(ctx, key, token)
}

func (v storeView) Complete(ctx context.Context, key, token string) error {
	v.ops.Add(1)
	return v.s.store().Complete(ctx, key, token)
}

func (v storeView) Release(ctx context.Context, key, token string) error {
	v.ops.Add(1)
	return v.s.store().Release(ctx, key, token)
}

func (v storeView) ClaimTTL() time.Duration { return v.s.store().ClaimTTL() }

func (v storeView) Checkpoint(ctx context.Context, name string) (time.Time, error) {
	return v.s.store().Checkpoint(ctx, name)
}

func (v storeView) SetCheckpoint(ctx context.Context, name string, t time.Time) error {
	return v.s.store().SetCheckpoint(ctx, name, t)
}

func (v storeView) Lease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	return v.s.store().Lease(ctx, name, owner, ttl)
}

func (v storeView) Unlease(ctx context.Context, name, owner string) error {
	return v.s.store().Unlease(ctx, name, owner)
}

func (v storeView) SyncState(ctx context.Context, name string) ([]byte, error) {
	return v.s.store().SyncState(ctx, name)
}

func (v storeView) SetSyncState(ctx context.Context, name string, state []byte) error {
	return v.s.store().SetSyncState(ctx, name, state)
}

func (v storeView) Quarantine(ctx context.Context, name string, q digelao.QuarantinedRecord) error {
	return v.s.store().Quarantine(ctx, name, q)
}

func (v storeView) Quarantined(ctx context.Context, name string) ([]digelao.QuarantinedRecord, error) {
	return v.s.store().Quarantined(ctx, name)
}

func (v storeView) Unquarantine(ctx context.Context, name, key string) error {
	return v.s.store().Unquarantine(ctx, name, key)
}

// commitView is a storeView of CommitStores.
type commitView struct{ storeView }

func (v commitView) Deliver(ctx context.Context, account string, keys []string, deliver func(context.Context, int) error) ([]digelao.Delivery, error) {
	v.ops.Add(1)
	return v.s.store().(digelao.CommitStore).Deliver(ctx, account, keys, deliver)
}
