package digelao

import (
	"testing"
	"time"
)

// StoreKey returns the key under which the client's session is kept in its TokenStore.
func (c *Client) StoreKey() string { return c.auth.key }

// MemDedup is NewMemoryDedup for tests: it fails tb on an error.
func MemDedup(tb testing.TB, capacity int, opts ...MemoryOption) *MemoryDedup {
	tb.Helper()
	m, err := NewMemoryDedup(capacity, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// MemSyncStore is NewMemorySyncStore for tests: it fails tb on an error.
func MemSyncStore(tb testing.TB, capacity int, opts ...MemoryOption) *MemorySyncStore {
	tb.Helper()
	m, err := NewMemorySyncStore(capacity, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// WithMemoryClock makes a memory store read now for its claims and leases.
func WithMemoryClock(now func() time.Time) MemoryOption {
	return func(c *memoryConfig) error {
		c.now = now
		return nil
	}
}

// Timers schedules renewals; a simulated clock implements it.
type Timers = timers

// WithSyncTimers makes a RecordSync schedule its renewals — of its lease and of its claims — on t.
func WithSyncTimers(t Timers) SyncOption {
	return func(c *syncSettings) error {
		c.timers = t
		return nil
	}
}

// WithSyncSpawn makes a RecordSync run the reading of a page ahead — while the page before it is
// delivered — with spawn instead of on a goroutine of its own: a simulation on one goroutine runs it
// at once, before the page before it is delivered.
func WithSyncSpawn(spawn func(func())) SyncOption {
	return func(c *syncSettings) error {
		c.spawn = spawn
		return nil
	}
}

// SyncName is the name under which rs keeps its state in its store.
func (rs *RecordSync) SyncName() string { return rs.name }
