// Package storetest is the contract of digelao.SyncStore — with its DedupStore — and of
// digelao.CommitStore, as a suite of tests that every store runs: MemorySyncStore, redisstore and
// sqlstore on each dialect.
//
//	storetest.Run(t, func(t *testing.T) digelao.SyncStore { return newStore(t) })
//
// Each subtest asks for a new, empty store, with a claim TTL of ClaimTTL: the suite waits for
// claims to lapse. Assertions on how long a claim or lease lives are made only when the machine
// kept to the timing they need (a loaded machine may sleep far longer than asked), so that they
// cannot fail for a slow machine — only for a store that keeps a claim too long or too short.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
)

// ClaimTTL is the claim TTL the stores given to Run must have.
const ClaimTTL = time.Second

// Run runs the contract of digelao.SyncStore against the stores newStore makes, each subtest on a
// new store; and, when the stores are digelao.CommitStores, the contract of CommitStore too.
func Run(t *testing.T, newStore func(t *testing.T) digelao.SyncStore) {
	t.Helper()
	sub := func(name string, f func(t *testing.T, s digelao.SyncStore)) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			require.Equal(t, ClaimTTL, s.ClaimTTL(), "the factory must give stores a claim TTL of storetest.ClaimTTL")
			f(t, s)
		})
	}
	sub("ClaimNewInProgressDone", testClaim)
	sub("ClaimLapses", testClaimLapses)
	sub("RenewKeepsTheClaim", testRenew)
	sub("ReleaseOnlyByItsToken", testRelease)
	sub("CompleteByAnyToken", testComplete)
	sub("ConcurrentClaims", testConcurrentClaims)
	sub("LeaseExclusive", testLease)
	sub("ConcurrentLeases", testConcurrentLeases)
	sub("LeaseLapses", testLeaseLapses)
	sub("Checkpoint", testCheckpoint)
	sub("SyncState", testSyncState)
	sub("Quarantine", testQuarantine)

	probe := newStore(t)
	if _, ok := probe.(digelao.CommitStore); !ok {
		return
	}
	commit := func(name string, f func(t *testing.T, s digelao.CommitStore)) {
		sub("Commit/"+name, func(t *testing.T, s digelao.SyncStore) { f(t, s.(digelao.CommitStore)) })
	}
	commit("DeliverMarks", testDeliver)
	commit("FailingKeyLeavesTheOthers", testDeliverFailing)
	commit("SharesMarksWithClaims", testDeliverClaims)
	commit("ConcurrentDeliversDeliverOnce", testDeliverConcurrent)
	commit("WaitsForTheHolder", testDeliverWaits)
	commit("FailedTransactionCommitsNothing", testDeliverTxFails)
	commit("KeyTwice", testDeliverTwice)
}

// Account is the account Deliver is given.
const Account = "SYSUSER|b3397882e26ba9e7fb8f01f1af345bde"

func key(t *testing.T, n int) string { return "sync:" + t.Name() + ":record:" + strconv.Itoa(n) }

func testClaim(t *testing.T, s digelao.SyncStore) {
	ctx := t.Context()
	k := key(t, 1)
	st, err := s.Claim(ctx, k, "a")
	require.NoError(t, err)
	assert.Equal(t, digelao.ClaimNew, st)
	st, err = s.Claim(ctx, k, "b")
	require.NoError(t, err)
	assert.Equal(t, digelao.ClaimInProgress, st, "another token finds the claim")
	st, err = s.Claim(ctx, key(t, 2), "b")
	require.NoError(t, err)
	assert.Equal(t, digelao.ClaimNew, st, "keys are apart")
	require.NoError(t, s.Complete(ctx, k, "a"))
	st, err = s.Claim(ctx, k, "c")
	require.NoError(t, err)
	assert.Equal(t, digelao.ClaimDone, st)
}

// timed runs f and returns when it started and ended.
func timed(f func()) (start, end time.Time) {
	start = time.Now()
	f()
	return start, time.Now()
}

func testClaimLapses(t *testing.T, s digelao.SyncStore) {
	ctx := t.Context()
	k := key(t, 1)
	var st digelao.ClaimState
	var err error
	_, claimed := timed(func() { st, err = s.Claim(ctx, k, "a") })
	require.NoError(t, err)
	require.Equal(t, digelao.ClaimNew, st)
	time.Sleep(time.Until(claimed.Add(ClaimTTL + ClaimTTL/2)))
	bStart, _ := timed(func() { st, err = s.Claim(ctx, k, "b") })
	require.NoError(t, err)
	assert.Equal(t, digelao.ClaimNew, st, "a claim not renewed lapses after its TTL")
	held, err := s.Renew(ctx, k, "a")
	require.NoError(t, err)
	assert.False(t, held, "the lapsed claim's token renews nothing")
	require.NoError(t, s.Release(ctx, k, "a"))
	_, end := timed(func() { st, err = s.Claim(ctx, k, "c") })
	require.NoError(t, err)
	if end.Sub(bStart) < ClaimTTL {
		assert.Equal(t, digelao.ClaimInProgress, st, "the lapsed claim's token releases nothing: b holds it")
	}
	_, end = timed(func() { held, err = s.Renew(ctx, k, "b") })
	require.NoError(t, err)
	if end.Sub(bStart) < ClaimTTL {
		assert.True(t, held, "b's claim renews")
	}
}

func testRenew(t *testing.T, s digelao.SyncStore) {
	ctx := t.Context()
	k := key(t, 1)
	var st digelao.ClaimState
	var err error
	claimStart, claimEnd := timed(func() { st, err = s.Claim(ctx, k, "a") })
	require.NoError(t, err)
	require.Equal(t, digelao.ClaimNew, st)

	held, err := s.Renew(ctx, k, "b")
	require.NoError(t, err)
	assert.False(t, held, "another token renews nothing")

	time.Sleep(time.Until(claimStart.Add(ClaimTTL * 6 / 10)))
	var renewStart time.Time
	renewStart, renewEnd := timed(func() { held, err = s.Renew(ctx, k, "a") })
	require.NoError(t, err)
	if renewEnd.Sub(claimStart) < ClaimTTL {
		assert.True(t, held, "the holder renews its claim before it lapses")
	}
	// Past the claim's first expiry, but within the renewal's.
	time.Sleep(time.Until(claimEnd.Add(ClaimTTL + ClaimTTL/10)))
	start, end := timed(func() { st, err = s.Claim(ctx, k, "b") })
	require.NoError(t, err)
	if held && end.Sub(renewStart) < ClaimTTL && start.After(claimEnd.Add(ClaimTTL)) {
		assert.Equal(t, digelao.ClaimInProgress, st, "the renewal moved the claim's expiry")
	}

	k2 := key(t, 2)
	_, err = s.Claim(ctx, k2, "a")
	require.NoError(t, err)
	require.NoError(t, s.Complete(ctx, k2, "a"))
	held, err = s.Renew(ctx, k2, "a")
	require.NoError(t, err)
	assert.False(t, held, "a completed key renews nothing")
}

func testRelease(t *testing.T, s digelao.SyncStore) {
	ctx := t.Context()
	k := key(t, 1)
	_, err := s.Claim(ctx, k, "a")
	require.NoError(t, err)
	require.NoError(t, s.Release(ctx, k, "b"))
	st, err := s.Claim(ctx, k, "c")
	require.NoError(t, err)
	assert.Equal(t, digelao.ClaimInProgress, st, "another token releases nothing")
	require.NoError(t, s.Release(ctx, k, "a"))
	held, err := s.Renew(ctx, k, "a")
	require.NoError(t, err)
	assert.False(t, held, "a released claim renews nothing")
	st, err = s.Claim(ctx, k, "c")
	require.NoError(t, err)
	assert.Equal(t, digelao.ClaimNew, st, "released by its token: free")

	require.NoError(t, s.Complete(ctx, k, "c"))
	require.NoError(t, s.Release(ctx, k, "c"))
	st, err = s.Claim(ctx, k, "d")
	require.NoError(t, err)
	assert.Equal(t, digelao.ClaimDone, st, "a completed key stays completed")

	require.NoError(t, s.Release(ctx, key(t, 2), "x"), "releasing a key never claimed is no error")
}

func testComplete(t *testing.T, s digelao.SyncStore) {
	ctx := t.Context()
	require.NoError(t, s.Complete(ctx, key(t, 1), "a"), "a key never claimed")
	st, err := s.Claim(ctx, key(t, 1), "b")
	require.NoError(t, err)
	assert.Equal(t, digelao.ClaimDone, st)

	k := key(t, 2)
	_, err = s.Claim(ctx, k, "a")
	require.NoError(t, err)
	require.NoError(t, s.Complete(ctx, k, "b"), "another token completes it: the delivery happened")
	st, err = s.Claim(ctx, k, "c")
	require.NoError(t, err)
	assert.Equal(t, digelao.ClaimDone, st)
	held, err := s.Renew(ctx, k, "a")
	require.NoError(t, err)
	assert.False(t, held)
	require.NoError(t, s.Complete(ctx, k, "c"), "completing twice")
	st, err = s.Claim(ctx, k, "d")
	require.NoError(t, err)
	assert.Equal(t, digelao.ClaimDone, st)
}

// concurrently runs f(i) for n goroutines at once, and returns how many returned true.
func concurrently(n int, f func(i int) bool) int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			if f(i) {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	return wins
}

func testConcurrentClaims(t *testing.T, s digelao.SyncStore) {
	ctx := t.Context()
	for k := range 3 {
		var mu sync.Mutex
		var wins [][2]time.Time // when each Claim that took the key began, and when it returned
		concurrently(16, func(i int) bool {
			began := time.Now()
			st, err := s.Claim(ctx, key(t, k), "token"+strconv.Itoa(i))
			assert.NoError(t, err)
			assert.NotEqual(t, digelao.ClaimDone, st)
			if st == digelao.ClaimNew {
				mu.Lock()
				wins = append(wins, [2]time.Time{began, time.Now()})
				mu.Unlock()
			}
			return st == digelao.ClaimNew
		})
		require.NotEmpty(t, wins, "one of 16 concurrent claims of a key takes it")
		// Two may take it only when the first lapsed in between, on a machine so loaded that the
		// claims took longer than ClaimTTL.
		for i, a := range wins {
			for _, b := range wins[i+1:] {
				// Whichever took it second returned ClaimTTL after the other began, at the least.
				assert.GreaterOrEqual(t, max(b[1].Sub(a[0]), a[1].Sub(b[0])), ClaimTTL,
					"two of 16 concurrent claims of a key took it, within the claim TTL of each other")
			}
		}
	}
}

func testConcurrentLeases(t *testing.T, s digelao.SyncStore) {
	ctx := t.Context()
	wins := concurrently(16, func(i int) bool {
		ok, err := s.Lease(ctx, "sync:"+t.Name(), "owner"+strconv.Itoa(i), time.Minute)
		assert.NoError(t, err)
		return ok
	})
	assert.Equal(t, 1, wins, "one of 16 concurrent replicas takes the lease")
}

func testLease(t *testing.T, s digelao.SyncStore) {
	ctx := t.Context()
	n, other := "sync:"+t.Name(), "sync:"+t.Name()+":other"
	const ttl = time.Minute
	lease := func(name, owner string) bool {
		ok, err := s.Lease(ctx, name, owner, ttl)
		require.NoError(t, err)
		return ok
	}
	assert.True(t, lease(n, "A"))
	assert.False(t, lease(n, "B"), "held by A")
	assert.True(t, lease(n, "A"), "A extends its own")
	assert.True(t, lease(other, "B"), "names are apart")
	require.NoError(t, s.Unlease(ctx, n, "B"))
	assert.False(t, lease(n, "B"), "B gives up nothing it does not hold")
	require.NoError(t, s.Unlease(ctx, n, "A"))
	assert.True(t, lease(n, "B"), "A gave it up")
	assert.False(t, lease(n, "A"))
	assert.False(t, lease(other, "A"), "the other name is still B's")
}

func testLeaseLapses(t *testing.T, s digelao.SyncStore) {
	ctx := t.Context()
	n := "sync:" + t.Name()
	const ttl = time.Second
	var ok bool
	var err error
	start, end := timed(func() { ok, err = s.Lease(ctx, n, "A", ttl) })
	require.NoError(t, err)
	require.True(t, ok)
	time.Sleep(time.Until(start.Add(ttl * 6 / 10)))
	renewStart, renewEnd := timed(func() { ok, err = s.Lease(ctx, n, "A", ttl) })
	require.NoError(t, err)
	if renewEnd.Sub(start) < ttl {
		assert.True(t, ok, "A extends its lease before it lapses")
	}
	time.Sleep(time.Until(end.Add(ttl + ttl/10)))
	bStart, bEnd := timed(func() { ok, err = s.Lease(ctx, n, "B", ttl) })
	require.NoError(t, err)
	if bEnd.Sub(renewStart) < ttl && bStart.After(end.Add(ttl)) {
		assert.False(t, ok, "the extension outlived the lease's first expiry")
	}
	time.Sleep(time.Until(renewEnd.Add(ttl + ttl/2)))
	bStart, _ = timed(func() { ok, err = s.Lease(ctx, n, "B", ttl) })
	require.NoError(t, err)
	assert.True(t, ok, "a lease not extended lapses after its TTL")
	_, aEnd := timed(func() { ok, err = s.Lease(ctx, n, "A", time.Minute) })
	require.NoError(t, err)
	if aEnd.Sub(bStart) < ttl {
		assert.False(t, ok, "B holds it now")
	}
}

func testCheckpoint(t *testing.T, s digelao.SyncStore) {
	ctx := t.Context()
	n, other := "sync:"+t.Name(), "sync:"+t.Name()+":other"
	got, err := s.Checkpoint(ctx, n)
	require.NoError(t, err)
	assert.True(t, got.IsZero(), "none yet")
	china := time.FixedZone("CST", 8*3600)
	t1 := time.Date(2026, 3, 4, 5, 6, 7, 123456789, china)
	require.NoError(t, s.SetCheckpoint(ctx, n, t1))
	got, err = s.Checkpoint(ctx, n)
	require.NoError(t, err)
	assert.True(t, t1.Equal(got), "round trip to the nanosecond: %s, want %s", got, t1)
	got, err = s.Checkpoint(ctx, other)
	require.NoError(t, err)
	assert.True(t, got.IsZero(), "names are apart")
	t2 := t1.Add(-time.Hour) // a checkpoint may move back (an operator, a clock that ran ahead)
	require.NoError(t, s.SetCheckpoint(ctx, n, t2))
	got, err = s.Checkpoint(ctx, n)
	require.NoError(t, err)
	assert.True(t, t2.Equal(got), "replaced: %s, want %s", got, t2)
}

func testSyncState(t *testing.T, s digelao.SyncStore) {
	ctx := t.Context()
	n, other := "sync:"+t.Name(), "sync:"+t.Name()+":other"
	got, err := s.SyncState(ctx, n)
	require.NoError(t, err)
	assert.Empty(t, got, "none yet")
	state := []byte(`{"hours":[{"start":"2026-03-04T05:00:00+08:00","count":3}],"failing":{}}`)
	require.NoError(t, s.SetSyncState(ctx, n, state))
	want := string(state)
	state[0] = 'X' // the caller's slice is the caller's
	got, err = s.SyncState(ctx, n)
	require.NoError(t, err)
	assert.Equal(t, want, string(got))
	got, err = s.SyncState(ctx, other)
	require.NoError(t, err)
	assert.Empty(t, got, "names are apart")
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i % 251) // any bytes
	}
	require.NoError(t, s.SetSyncState(ctx, n, big))
	got, err = s.SyncState(ctx, n)
	require.NoError(t, err)
	assert.Equal(t, big, got, "replaced, a MiB of any bytes")
}

func testQuarantine(t *testing.T, s digelao.SyncStore) {
	ctx := t.Context()
	n, other := "sync:"+t.Name(), "sync:"+t.Name()+":other"
	qs, err := s.Quarantined(ctx, n)
	require.NoError(t, err)
	assert.Empty(t, qs)
	china := time.FixedZone("CST", 8*3600)
	t1 := time.Date(2026, 3, 4, 5, 6, 7, 0, china)
	t2 := t1.Add(time.Minute)
	rec := func(sn string) []byte {
		return []byte(`{"id":7,"sn":"` + sn + `","phone":"13800000000","name":"张三"}`)
	}
	q := func(k, sn string, at time.Time, tries int) digelao.QuarantinedRecord {
		return digelao.QuarantinedRecord{Key: k, SN: sn, ID: 7, CreatedAt: t1.Add(-time.Hour), Record: rec(sn),
			Err: "sink: refused " + sn, Tries: tries, At: at}
	}
	for _, x := range []digelao.QuarantinedRecord{q("k3", "sn3", t2, 5), q("k2", "sn2", t1, 5), q("k1", "sn1", t1, 5)} {
		require.NoError(t, s.Quarantine(ctx, n, x))
	}
	require.NoError(t, s.Quarantine(ctx, n, q("k2", "sn2", t1, 9)), "the same key again replaces it")
	require.NoError(t, s.Quarantine(ctx, other, q("k9", "sn9", t1, 5)))
	qs, err = s.Quarantined(ctx, n)
	require.NoError(t, err)
	require.Len(t, qs, 3)
	for i, want := range []digelao.QuarantinedRecord{q("k1", "sn1", t1, 5), q("k2", "sn2", t1, 9), q("k3", "sn3", t2, 5)} {
		got := qs[i]
		assert.Equal(t, want.Key, got.Key, "oldest first, then by key")
		assert.Equal(t, want.SN, got.SN)
		assert.Equal(t, want.ID, got.ID)
		assert.True(t, want.CreatedAt.Equal(got.CreatedAt))
		assert.True(t, want.At.Equal(got.At))
		assert.JSONEq(t, string(want.Record), string(got.Record))
		assert.Equal(t, want.Err, got.Err)
		assert.Equal(t, want.Tries, got.Tries)
	}
	require.NoError(t, s.Unquarantine(ctx, n, "k2"))
	require.NoError(t, s.Unquarantine(ctx, n, "k2"), "a key not there is no error")
	require.NoError(t, s.Unquarantine(ctx, n, "k9"), "another name's key is not this name's")
	qs, err = s.Quarantined(ctx, n)
	require.NoError(t, err)
	require.Len(t, qs, 2)
	assert.Equal(t, "k1", qs[0].Key)
	assert.Equal(t, "k3", qs[1].Key)
	qs, err = s.Quarantined(ctx, other)
	require.NoError(t, err)
	require.Len(t, qs, 1, "names are apart")
	assert.Equal(t, "k9", qs[0].Key)
}

// calls records which indexes deliver was called with.
type calls struct {
	mu sync.Mutex
	is []int
}

func (c *calls) add(i int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.is = append(c.is, i)
}

func (c *calls) get() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.is...)
}

func keys(t *testing.T, n int) []string {
	ks := make([]string, n)
	for i := range ks {
		ks[i] = key(t, n-i) // not in order
	}
	return ks
}

type ctxKey struct{}

func testDeliver(t *testing.T, s digelao.CommitStore) {
	ctx := context.WithValue(t.Context(), ctxKey{}, "caller's")
	ks := keys(t, 3)
	var c calls
	ds, err := s.Deliver(ctx, Account, ks, func(ctx context.Context, i int) error {
		assert.Equal(t, "caller's", ctx.Value(ctxKey{}), "deliver's context carries the caller's")
		c.add(i)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, []int{0, 1, 2}, c.get(), "each key once, in order")
	require.Len(t, ds, 3)
	for i, d := range ds {
		assert.Equal(t, digelao.ClaimNew, d.State, i)
		assert.NoError(t, d.Err, i)
	}
	ds, err = s.Deliver(ctx, Account, ks, func(context.Context, int) error {
		t.Error("deliver called for a delivered key")
		return nil
	})
	require.NoError(t, err)
	for i, d := range ds {
		assert.Equal(t, digelao.ClaimDone, d.State, i)
	}
	ds, err = s.Deliver(ctx, Account, nil, func(context.Context, int) error { return nil })
	require.NoError(t, err)
	assert.Empty(t, ds)
}

var errRefused = errors.New("refused by the test")

func testDeliverFailing(t *testing.T, s digelao.CommitStore) {
	ctx := t.Context()
	ks := keys(t, 4)
	var c calls
	ds, err := s.Deliver(ctx, Account, ks, func(_ context.Context, i int) error {
		c.add(i)
		if i == 1 {
			return fmt.Errorf("key 1: %w", errRefused)
		}
		return nil
	})
	require.NoError(t, err, "a key's failure is not the transaction's")
	assert.Equal(t, []int{0, 1, 2, 3}, c.get(), "the keys after the failing one are delivered too")
	for i, d := range ds {
		assert.Equal(t, digelao.ClaimNew, d.State, i)
		if i == 1 {
			assert.ErrorIs(t, d.Err, errRefused)
		} else {
			assert.NoError(t, d.Err, i)
		}
	}
	c = calls{}
	ds, err = s.Deliver(ctx, Account, ks, func(_ context.Context, i int) error { c.add(i); return nil })
	require.NoError(t, err)
	assert.Equal(t, []int{1}, c.get(), "only the failed key is delivered again")
	for i, d := range ds {
		want := digelao.ClaimDone
		if i == 1 {
			want = digelao.ClaimNew
		}
		assert.Equal(t, want, d.State, i)
		assert.NoError(t, d.Err, i)
	}
}

func testDeliverClaims(t *testing.T, s digelao.CommitStore) {
	ctx := t.Context()
	completed, claimed, delivered := key(t, 1), key(t, 2), key(t, 3)
	require.NoError(t, s.Complete(ctx, completed, "a"))
	st, err := s.Claim(ctx, claimed, "a")
	require.NoError(t, err)
	require.Equal(t, digelao.ClaimNew, st)
	var c calls
	ks := []string{completed, claimed, delivered}
	ds, err := s.Deliver(ctx, Account, ks, func(_ context.Context, i int) error { c.add(i); return nil })
	require.NoError(t, err)
	assert.Equal(t, []int{2}, c.get(), "a completed key and a claimed one are not delivered")
	assert.Equal(t, digelao.ClaimDone, ds[0].State, "completed by Complete")
	assert.Equal(t, digelao.ClaimInProgress, ds[1].State, "held by a live Claim")
	assert.Equal(t, digelao.ClaimNew, ds[2].State)
	st, err = s.Claim(ctx, delivered, "b")
	require.NoError(t, err)
	assert.Equal(t, digelao.ClaimDone, st, "Claim sees what Deliver delivered")
	held, err := s.Renew(ctx, claimed, "a")
	require.NoError(t, err)
	assert.True(t, held, "Deliver left the claim alone")

	require.NoError(t, s.Release(ctx, claimed, "a"))
	c = calls{}
	ds, err = s.Deliver(ctx, Account, ks, func(_ context.Context, i int) error { c.add(i); return nil })
	require.NoError(t, err)
	assert.Equal(t, []int{1}, c.get(), "released: delivered now")
	assert.Equal(t, digelao.ClaimNew, ds[1].State)
}

func testDeliverConcurrent(t *testing.T, s digelao.CommitStore) {
	ctx := t.Context()
	ks := []string{key(t, 1), key(t, 2)}
	var c calls
	const n = 8
	results := make([][]digelao.Delivery, n)
	var wg sync.WaitGroup
	for g := range n {
		wg.Go(func() {
			ds, err := s.Deliver(ctx, Account, ks, func(_ context.Context, i int) error {
				c.add(i)
				time.Sleep(20 * time.Millisecond) // hold the transaction open a while
				return nil
			})
			assert.NoError(t, err, g)
			results[g] = ds
		})
	}
	wg.Wait()
	assert.ElementsMatch(t, []int{0, 1}, c.get(), "each key delivered once in all")
	for i := range ks {
		news := 0
		for g := range n {
			require.Len(t, results[g], len(ks))
			d := results[g][i]
			assert.NoError(t, d.Err)
			switch d.State {
			case digelao.ClaimNew:
				news++
			case digelao.ClaimDone:
			default:
				t.Errorf("key %d: a concurrent Deliver found it %v: it must wait, then find it delivered", i, d.State)
			}
		}
		assert.Equal(t, 1, news, "key %d delivered by one Deliver", i)
	}
}

func testDeliverWaits(t *testing.T, s digelao.CommitStore) {
	for _, holderFails := range []bool{true, false} {
		t.Run(fmt.Sprintf("holder fails %v", holderFails), func(t *testing.T) {
			ctx := t.Context()
			ks := []string{key(t, 1)}
			entered, release := make(chan struct{}), make(chan struct{})
			held := make(chan error, 1)
			go func() {
				_, err := s.Deliver(ctx, Account, ks, func(context.Context, int) error {
					close(entered)
					<-release
					if holderFails {
						return errRefused
					}
					return nil
				})
				held <- err
			}()
			<-entered
			type result struct {
				ds  []digelao.Delivery
				err error
			}
			var called calls
			second := make(chan result, 1)
			go func() {
				ds, err := s.Deliver(ctx, Account, ks, func(_ context.Context, i int) error { called.add(i); return nil })
				second <- result{ds, err}
			}()
			select {
			case r := <-second:
				t.Fatalf("the second Deliver returned %v, %v while the first held the key: it must wait", r.ds, r.err)
			case <-time.After(200 * time.Millisecond):
			}
			close(release)
			require.NoError(t, <-held)
			r := <-second
			require.NoError(t, r.err)
			require.Len(t, r.ds, 1)
			if holderFails {
				assert.Equal(t, digelao.ClaimNew, r.ds[0].State, "the holder failed: free")
				assert.Equal(t, []int{0}, called.get())
			} else {
				assert.Equal(t, digelao.ClaimDone, r.ds[0].State, "the holder delivered it")
				assert.Empty(t, called.get())
			}
		})
	}
}

func testDeliverTxFails(t *testing.T, s digelao.CommitStore) {
	ks := keys(t, 3)
	ctx, cancel := context.WithCancel(t.Context())
	ds, err := s.Deliver(ctx, Account, ks, func(_ context.Context, i int) error {
		if i == 1 {
			cancel() // the transaction ends with its context
		}
		return nil
	})
	require.Error(t, err, "a transaction that failed is an error, got %v", ds)
	var c calls
	ds, err = s.Deliver(t.Context(), Account, ks, func(_ context.Context, i int) error { c.add(i); return nil })
	require.NoError(t, err)
	assert.Equal(t, []int{0, 1, 2}, c.get(), "nothing of the failed transaction counts, not even the key delivered before the failure")
	for i, d := range ds {
		assert.Equal(t, digelao.ClaimNew, d.State, i)
	}
}

func testDeliverTwice(t *testing.T, s digelao.CommitStore) {
	ctx := t.Context()
	k := key(t, 1)
	var c calls
	ds, err := s.Deliver(ctx, Account, []string{k, k}, func(_ context.Context, i int) error { c.add(i); return nil })
	require.NoError(t, err)
	assert.Equal(t, []int{0}, c.get(), "a key given twice is delivered once")
	assert.Equal(t, digelao.ClaimNew, ds[0].State)
	assert.Equal(t, digelao.ClaimDone, ds[1].State)
}
