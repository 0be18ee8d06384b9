package digelao

import (
	"cmp"
	"context"
	"encoding/json"
	"maps"
	"slices"
	"sync"
	"time"
)

// SyncStore keeps what a RecordSync shares between its replicas and across restarts: which
// records were delivered (the DedupStore methods, keyed "record:" and a digest of the sn), the
// checkpoint, the sweep lease, the sync's own bookkeeping, and the records it quarantined.
// NewMemorySyncStore keeps it in one process; redisstore.Store and sqlstore.Store share it between
// replicas. Every method takes the sync's name: several accounts may share one store.
//
// A store that forgets (a restart without persistence, an eviction) repeats deliveries, and a
// checkpoint it lost is logged and counted (SyncStats.CheckpointsMissing); see RecordSync.
type SyncStore interface {
	DedupStore
	// Checkpoint returns the checkpoint stored under name, or the zero time when there is none.
	Checkpoint(ctx context.Context, name string) (time.Time, error)
	// SetCheckpoint stores t as the checkpoint of name.
	SetCheckpoint(ctx context.Context, name string, t time.Time) error
	// Lease takes the lease name for owner for ttl, or extends it when owner holds it already. It
	// reports false while another owner holds it (a store may then repair a lease that would
	// never lapse, giving it ttl). A lease is not a fence: a holder that stalls past its TTL may
	// still finish what it was doing; deliveries stay exactly once through the claims.
	Lease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error)
	// Unlease gives the lease name up if owner holds it.
	Unlease(ctx context.Context, name, owner string) error
	// SyncState returns the bookkeeping the sync stored under name (JSON of its own: the counts of
	// past hours, the records it is retrying), or nil when there is none.
	SyncState(ctx context.Context, name string) ([]byte, error)
	// SetSyncState stores state as the bookkeeping of name, replacing what was there.
	SetSyncState(ctx context.Context, name string, state []byte) error
	// Quarantine keeps q among name's quarantined records, replacing one with the same Key.
	Quarantine(ctx context.Context, name string, q QuarantinedRecord) error
	// Quarantined returns name's quarantined records, oldest first.
	Quarantined(ctx context.Context, name string) ([]QuarantinedRecord, error)
	// Unquarantine removes the record key from name's quarantine; a key not there is no error.
	Unquarantine(ctx context.Context, name, key string) error
}

// QuarantinedRecord is a call record the sink refused on every try a RecordSync gave it: kept in
// the store, with why, until RecordSync.Redeliver delivers it.
type QuarantinedRecord struct {
	Key       string          `json:"key"` // the record's delivery key: what Redeliver takes
	SN        string          `json:"sn"`
	ID        int64           `json:"id"`
	CreatedAt time.Time       `json:"created_at"`
	Record    json.RawMessage `json:"record"` // the record as the platform listed it (6.1's JSON)
	Err       string          `json:"error"`  // the sink's last error
	Tries     int             `json:"tries"`
	At        time.Time       `json:"at"` // when it was quarantined
}

// CommitStore is a SyncStore that commits what the sink writes together with the marks of the
// records it delivered, in one transaction of the store's (sqlstore.Store): a crash at any instant
// leaves both or neither, so that a record is delivered exactly once with no duplicate window. A
// RecordSync whose store is a CommitStore delivers through Deliver — a page of a sweep, or a push,
// at a time (pushes that waited together, with WithPushBatching) — instead of Claim, Complete and
// Release; its sink writes through the transaction that Deliver's context carries
// (sqlstore.Store.Sink).
//
// To implement one, Deliver begins a transaction and, for each key in order, takes the key's mark
// inside it — a concurrent Deliver of the same key waits for this transaction to end, then finds
// the key delivered or free — skips a key marked delivered, and otherwise calls deliver(ctx, i)
// with ctx carrying the transaction, inside a savepoint: on nil it marks the key delivered, on an
// error it rolls the savepoint back, leaving that key alone undelivered. Then it commits. What
// holds a key — a row lock, the transaction — must end with ctx and with the process (a database
// connection does), so that a crashed delivery holds nothing for long.
type CommitStore interface {
	SyncStore
	// Deliver delivers the records of keys in one transaction, calling deliver for each one not
	// delivered yet. account is the user_sn of the account the records are of, for a store that
	// keeps the records beside their marks (the keys are the account's already). It returns what
	// it did with each key, and the error that failed the transaction as a whole, when nothing of
	// it was committed.
	Deliver(ctx context.Context, account string, keys []string, deliver func(ctx context.Context, i int) error) ([]Delivery, error)
}

// Delivery is what CommitStore.Deliver did with one key.
type Delivery struct {
	// State is ClaimDone for a key delivered before (deliver was not called), else ClaimNew.
	State ClaimState
	// Err is deliver's error, for ClaimNew: nil means delivered, with the transaction's commit.
	Err error
}

// MemorySyncStore is a SyncStore for one process: a MemoryDedup of delivered records, and the
// checkpoints, leases, bookkeeping and quarantine of its syncs. It is the default store of a
// RecordSync.
type MemorySyncStore struct {
	*MemoryDedup

	mu          sync.Mutex
	checkpoints map[string]time.Time
	leases      map[string]memLock
	states      map[string][]byte
	quarantine  map[string]map[string]QuarantinedRecord
}

// NewMemorySyncStore returns a MemorySyncStore that remembers up to capacity delivered records
// (a RecordSync's default store remembers 100,000): make it hold more than a day's records, since
// the sync sweeps past hours again for a day (WithReconcileHorizon).
func NewMemorySyncStore(capacity int, opts ...MemoryOption) (*MemorySyncStore, error) {
	cfg, err := newMemoryConfig(capacity, opts)
	if err != nil {
		return nil, err
	}
	return &MemorySyncStore{MemoryDedup: newMemoryDedup(capacity, cfg), checkpoints: map[string]time.Time{},
		leases: map[string]memLock{}, states: map[string][]byte{}, quarantine: map[string]map[string]QuarantinedRecord{}}, nil
}

func (m *MemorySyncStore) instant() any { return m }

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
	now := m.cfg.now()
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

// SyncState implements SyncStore.
func (m *MemorySyncStore) SyncState(_ context.Context, name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.states[name], nil
}

// SetSyncState implements SyncStore.
func (m *MemorySyncStore) SetSyncState(_ context.Context, name string, state []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.states[name] = slices.Clone(state)
	return nil
}

// Quarantine implements SyncStore.
func (m *MemorySyncStore) Quarantine(_ context.Context, name string, q QuarantinedRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.quarantine[name] == nil {
		m.quarantine[name] = map[string]QuarantinedRecord{}
	}
	q.Record = slices.Clone(q.Record)
	m.quarantine[name][q.Key] = q
	return nil
}

// Quarantined implements SyncStore.
func (m *MemorySyncStore) Quarantined(_ context.Context, name string) ([]QuarantinedRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	qs := slices.Collect(maps.Values(m.quarantine[name]))
	for i := range qs {
		qs[i].Record = slices.Clone(qs[i].Record)
	}
	slices.SortFunc(qs, func(a, b QuarantinedRecord) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.Key, b.Key))
	})
	return qs, nil
}

// Unquarantine implements SyncStore.
func (m *MemorySyncStore) Unquarantine(_ context.Context, name, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.quarantine[name], key)
	return nil
}
