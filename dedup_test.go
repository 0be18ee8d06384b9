package digelao

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao/internal/testkit"
)

func TestMemoryDedupStates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := MemDedup(t, 10)
	st, err := m.Claim(ctx, "a", "A")
	require.NoError(t, err)
	assert.Equal(t, ClaimNew, st)
	st, _ = m.Claim(ctx, "a", "B")
	assert.Equal(t, ClaimInProgress, st)

	require.NoError(t, m.Release(ctx, "a", "B")) // not B's claim: nothing changes
	st, _ = m.Claim(ctx, "a", "C")
	assert.Equal(t, ClaimInProgress, st)
	require.NoError(t, m.Release(ctx, "a", "A")) // the handler failed: a redelivery is handled
	st, _ = m.Claim(ctx, "a", "D")
	assert.Equal(t, ClaimNew, st)
	require.NoError(t, m.Complete(ctx, "a", "D"))
	st, _ = m.Claim(ctx, "a", "E")
	assert.Equal(t, ClaimDone, st)
	require.NoError(t, m.Release(ctx, "a", "D"))
	st, _ = m.Claim(ctx, "a", "F")
	assert.Equal(t, ClaimDone, st, "a release after the completion keeps it")
}

func TestMemoryDedupIsBoundedAndKeepsClaims(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := MemDedup(t, 3)
	st, _ := m.Claim(ctx, "in-progress", "A")
	require.Equal(t, ClaimNew, st)
	for i := range 10 {
		k := fmt.Sprint(i)
		_, _ = m.Claim(ctx, k, k)
		require.NoError(t, m.Complete(ctx, k, k))
	}
	assert.Len(t, m.done, 3)
	assert.Len(t, m.order, 3)
	st, _ = m.Claim(ctx, "0", "B")
	assert.Equal(t, ClaimNew, st, "the oldest handled key was forgotten")
	st, _ = m.Claim(ctx, "9", "B")
	assert.Equal(t, ClaimDone, st)
	st, _ = m.Claim(ctx, "in-progress", "B")
	assert.Equal(t, ClaimInProgress, st, "claims are never evicted")
}

// An abandoned claim lapses after the claim TTL; a delivery whose claim lapsed did deliver when it
// completes: the key is done, whoever holds it.
func TestMemoryDedupLapsedClaimCompleteMarksDone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := MemDedup(t, 10)
	now := time.Now()
	m.cfg.now = func() time.Time { return now }
	_, _ = m.Claim(ctx, "a", "A")
	now = now.Add(DefaultClaimTTL + time.Second)
	st, _ := m.Claim(ctx, "a", "B")
	require.Equal(t, ClaimNew, st, "the claim lapsed")
	require.NoError(t, m.Complete(ctx, "a", "A"))
	st, _ = m.Claim(ctx, "a", "C")
	assert.Equal(t, ClaimDone, st)
	require.NoError(t, m.Release(ctx, "a", "B")) // B's sink fails
	st, _ = m.Claim(ctx, "a", "C")
	assert.Equal(t, ClaimDone, st, "the key stays done")
	assert.Empty(t, m.claims, "no claim is left behind")
}

// once.deliver releases with the token it claimed with, a token of its own: a delivery whose
// claim lapsed and then fails leaves the claim of the redelivery that took it over.
func TestDeliverOnceReleasesOnlyItsOwnClaim(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := MemDedup(t, 10)
	var mu sync.Mutex
	now := time.Now()
	m.cfg.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	o := &once{store: m, tokens: newClaimTokens(), timers: realTimers{}, log: slog.New(slog.DiscardHandler)}
	var ran atomic.Int32
	deliver := func(do func(context.Context) error) ClaimState {
		state, claimErr, _ := o.deliver(ctx, "k", slog.Attr{}, func(ctx context.Context) error {
			ran.Add(1)
			return do(ctx)
		})
		assert.NoError(t, claimErr) // also on B's goroutine
		return state
	}
	bRunning, bDone := make(chan struct{}), make(chan struct{})
	bFinished := make(chan ClaimState)
	a := deliver(func(context.Context) error { // A hangs past its claim, and fails
		mu.Lock()
		now = now.Add(DefaultClaimTTL + time.Second)
		mu.Unlock()
		go func() {
			bFinished <- deliver(func(context.Context) error { close(bRunning); <-bDone; return nil })
		}()
		<-bRunning
		return errors.New("sink failed")
	})
	assert.Equal(t, ClaimNew, a)
	assert.Equal(t, ClaimInProgress, deliver(func(context.Context) error { return nil }), "B is still delivering")
	close(bDone)
	assert.Equal(t, ClaimNew, <-bFinished)
	assert.Equal(t, ClaimDone, deliver(func(context.Context) error { return nil }))
	assert.EqualValues(t, 2, ran.Load(), "A and B ran, nothing beside B")
}

func TestClaimTokensAreDistinct(t *testing.T) {
	t.Parallel()
	a, b := newClaimTokens(), newClaimTokens()
	seen := map[string]bool{}
	for range 1000 {
		for _, tok := range []string{a.next(), b.next()} {
			require.NotEmpty(t, tok)
			require.False(t, seen[tok], "token %q made twice", tok)
			seen[tok] = true
		}
	}
	assert.NotEqual(t, a.prefix, b.prefix, "each user of a store draws its own prefix")
}

func TestMemoryDedupOneClaimUnderConcurrency(t *testing.T) {
	t.Parallel()
	m := MemDedup(t, 100)
	var fresh atomic.Int64
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			if st, _ := m.Claim(context.Background(), "sn", strconv.Itoa(i)); st == ClaimNew {
				fresh.Add(1)
			}
		})
	}
	wg.Wait()
	assert.EqualValues(t, 1, fresh.Load())
}

// TestMemoryDedupMemoryCeiling measures the default store full and churning: 300,000 handled
// pushes through its 100,000 places, each key 1 KiB long. It keeps a fixed-size digest per key, so
// the keys' length does not count (keeping the keys, it grew by 107 MiB after 101,000 of them).
func TestMemoryDedupMemoryCeiling(t *testing.T) { // not parallel: it reads the heap
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	ctx := context.Background()
	before := heap()
	m := MemDedup(t, defaultDedupCapacity)
	key := []byte(strings.Repeat("k", 1024))
	for i := range 3 * defaultDedupCapacity {
		k := strconv.AppendInt(key[:1000], int64(i), 10)
		_, _ = m.Claim(ctx, string(k), "token")
		require.NoError(t, m.Complete(ctx, string(k), "token"))
	}
	grown := heap() - min(before, heap())
	runtime.KeepAlive(m)
	t.Logf("MemoryDedup full with %d keys: %.1f MiB", defaultDedupCapacity, float64(grown)/(1<<20))
	assert.Less(t, grown, uint64(10<<20), "the documented ceiling: about 6.5 MiB")
}

// Issue 19 item 6. A sink slower than the claim's TTL keeps its claim: it is renewed while the
// sink runs, so that a redelivery meanwhile finds it in progress rather than delivering again.
func TestClaimRenewedWhileTheSinkRuns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := testkit.NewClock(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	m := MemDedup(t, 10, WithMemoryClaimTTL(300*time.Millisecond), WithMemoryClock(clock.Now))
	o := &once{store: m, tokens: newClaimTokens(), timers: clock, log: slog.New(slog.DiscardHandler)}
	var delivered atomic.Int32
	var second ClaimState
	state, claimErr, err := o.deliver(ctx, "k", slog.Attr{}, func(ctx context.Context) error {
		clock.Advance(time.Second) // the sink takes a second: more than three TTLs
		second, _, _ = o.deliver(ctx, "k", slog.Attr{}, func(context.Context) error { delivered.Add(1); return nil })
		if ctx.Err() != nil {
			return ctx.Err()
		}
		delivered.Add(1)
		return nil
	})
	require.NoError(t, claimErr)
	require.NoError(t, err)
	assert.Equal(t, ClaimNew, state)
	assert.Equal(t, ClaimInProgress, second, "the claim was renewed: the redelivery waits")
	assert.EqualValues(t, 1, delivered.Load())
	assert.Zero(t, clock.Pending(), "the renewals stopped with the sink")
	st, _ := m.Claim(ctx, "k", "later")
	assert.Equal(t, ClaimDone, st)
}

// A claim lost while the sink runs — the store renewed it no more, and a redelivery took it once it
// lapsed — ends the sink's context with ErrClaimLost before it lapses; a sink that stops is not a
// delivery, and the redelivery's claim stays.
func TestClaimLostEndsTheSinksContext(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := testkit.NewClock(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	m := MemDedup(t, 10, WithMemoryClaimTTL(300*time.Millisecond), WithMemoryClock(clock.Now))
	store := &unrenewable{MemoryDedup: m}
	o := &once{store: store, tokens: newClaimTokens(), timers: clock, log: slog.New(slog.DiscardHandler)}
	var cause error
	var redelivery ClaimState
	state, _, err := o.deliver(ctx, "k", slog.Attr{}, func(ctx context.Context) error {
		clock.Advance(280 * time.Millisecond) // no renewal confirmed by nine tenths of the TTL: given up
		cause = context.Cause(ctx)
		clock.Advance(time.Second)
		redelivery, _ = m.Claim(ctx, "k", "redelivery") // it lapsed: a redelivery takes it
		return ctx.Err()
	})
	assert.Equal(t, ClaimNew, redelivery)
	require.ErrorIs(t, cause, ErrClaimLost)
	assert.NoError(t, err, "the record is another delivery's now, not a failure")
	assert.Equal(t, ClaimInProgress, state)
	st, _ := m.Claim(ctx, "k", "third")
	assert.Equal(t, ClaimInProgress, st, "the redelivery's claim is left alone")
}

// unrenewable is a store whose renewals fail, as an unreachable store's do.
type unrenewable struct{ *MemoryDedup }

func (*unrenewable) Renew(context.Context, string, string) (bool, error) {
	return false, errors.New("store unreachable")
}

func TestMemoryStoresValidateTheirOptions(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		n    int
		opts []MemoryOption
		want string
	}{
		{0, nil, "capacity"},
		{1, []MemoryOption{WithMemoryClaimTTL(0)}, "WithMemoryClaimTTL"},
		{1, []MemoryOption{nil}, "options"},
	} {
		_, err := NewMemoryDedup(c.n, c.opts...)
		assert.ErrorContains(t, err, c.want)
		_, err = NewMemorySyncStore(c.n, c.opts...)
		assert.ErrorContains(t, err, c.want)
	}
	s := MemSyncStore(t, 1, WithMemoryClaimTTL(time.Minute))
	assert.Equal(t, time.Minute, s.ClaimTTL())
	assert.Equal(t, DefaultClaimTTL, MemDedup(t, 1).ClaimTTL())
}

// A store call is bounded by settleTimeout on a context its caller's end does not cancel — but for
// the in-memory stores themselves, whose calls never wait and are made on the caller's context as
// it is. A type embedding one may wait in its own methods: it is bounded.
func TestSettleBoundsTheStoresThatMayWait(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	type embedding struct{ *MemoryDedup }
	for _, tc := range []struct {
		name    string
		store   any
		bounded bool
	}{
		{"MemoryDedup", MemDedup(t, 1), false},
		{"MemorySyncStore", MemSyncStore(t, 1), false},
		{"a type embedding MemoryDedup", embedding{MemDedup(t, 1)}, true},
		{"a type embedding MemorySyncStore", &settleStore{MemorySyncStore: MemSyncStore(t, 1)}, true},
		{"another store", &failingDedup{}, true},
	} {
		require.NoError(t, settle(ctx, tc.store, "k", func(got context.Context, key string) error {
			deadline, bounded := got.Deadline()
			assert.Equal(t, tc.bounded, bounded, tc.name)
			if bounded {
				assert.NoError(t, got.Err(), "%s: the caller's end does not cancel the store call", tc.name)
				assert.WithinDuration(t, time.Now().Add(settleTimeout), deadline, time.Second, tc.name)
			} else {
				assert.Equal(t, ctx, got, tc.name)
			}
			return nil
		}), tc.name)
	}
}

// A delivery slower than the claim TTL loses its claim to a redelivery; when it then fails, its
// Release must not end the redelivery's claim, or a third delivery runs beside the second.
func TestLapsedClaimReleaseSparesItsSuccessor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := MemDedup(t, 10)
	now := time.Now()
	m.cfg.now = func() time.Time { return now }
	st, _ := m.Claim(ctx, "k", "A") // delivery A, whose sink then hangs
	assert.Equal(t, ClaimNew, st)
	now = now.Add(DefaultClaimTTL + time.Second)
	st, _ = m.Claim(ctx, "k", "B") // delivery B: A's claim lapsed
	assert.Equal(t, ClaimNew, st)
	_ = m.Release(ctx, "k", "A") // A's sink fails at last
	st, _ = m.Claim(ctx, "k", "C")
	assert.Equal(t, ClaimInProgress, st, "B is still delivering")
}
