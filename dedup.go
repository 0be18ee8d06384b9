package digelao

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// ClaimState is what DedupStore.Claim found for a push.
type ClaimState int

const (
	// ClaimNew means the push was not seen: the caller now handles it, then calls Complete or
	// Release.
	ClaimNew ClaimState = iota
	// ClaimInProgress means another delivery of the same push is being handled right now.
	ClaimInProgress
	// ClaimDone means the push was already handled.
	ClaimDone
)

// DedupStore remembers which pushes were handled, so that a push the platform delivers more than
// once ("同样的通知可能会多次发送", 6.6.1) is handled once. NewMemoryDedup keeps it in one process;
// redisstore shares it between replicas.
type DedupStore interface {
	// Claim marks key as being handled, unless it is being handled or was handled already.
	Claim(ctx context.Context, key string) (ClaimState, error)
	// Complete records key as handled for good.
	Complete(ctx context.Context, key string) error
	// Release forgets a claim whose handling failed, so that a redelivery is handled.
	Release(ctx context.Context, key string) error
}

// claimTTL is how long a claim stays in progress before it is considered abandoned (a handler
// that crashed), so that a redelivery is handled.
const claimTTL = 5 * time.Minute

// MemoryDedup is a DedupStore for one process, bounded to a number of remembered pushes: when full
// it forgets the oldest handled ones. Claims in progress are never evicted.
type MemoryDedup struct {
	mu       sync.Mutex
	capacity int
	done     *list.List               // handled keys, oldest first
	index    map[string]*list.Element // handled keys
	claims   map[string]time.Time     // keys in progress, with the time their claim expires
	now      func() time.Time
}

// NewMemoryDedup returns a MemoryDedup that remembers up to capacity handled pushes (at least 1;
// PushHandler uses 100,000).
func NewMemoryDedup(capacity int) *MemoryDedup {
	return &MemoryDedup{capacity: max(capacity, 1), done: list.New(), index: map[string]*list.Element{},
		claims: map[string]time.Time{}, now: time.Now}
}

// Claim implements DedupStore.
func (m *MemoryDedup) Claim(_ context.Context, key string) (ClaimState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.index[key]; ok {
		return ClaimDone, nil
	}
	now := m.now()
	if until, ok := m.claims[key]; ok && now.Before(until) {
		return ClaimInProgress, nil
	}
	m.claims[key] = now.Add(claimTTL)
	return ClaimNew, nil
}

// Complete implements DedupStore.
func (m *MemoryDedup) Complete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.claims, key)
	if _, ok := m.index[key]; ok {
		return nil
	}
	m.index[key] = m.done.PushBack(key)
	for m.done.Len() > m.capacity {
		oldest := m.done.Front()
		m.done.Remove(oldest)
		delete(m.index, oldest.Value.(string))
	}
	return nil
}

// Release implements DedupStore.
func (m *MemoryDedup) Release(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.claims, key)
	return nil
}
