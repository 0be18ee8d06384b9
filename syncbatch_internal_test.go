package digelao

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// batchStore is a CommitStore in memory whose Deliver can be held at a gate, fail, or panic, and
// which notes the keys of every Deliver. A Deliver holds its keys until it returns, as a database
// transaction holds their rows: another Deliver of one of them waits.
type batchStore struct {
	*MemorySyncStore
	mu      sync.Mutex
	locks   map[string]*sync.Mutex
	done    map[string]bool
	batches [][]string
	ctxs    []context.Context
	gate    chan struct{} // when set, each Deliver waits for it to be closed
	fail    error
	panics  bool
	delay   func() time.Duration
}

func (s *batchStore) Deliver(ctx context.Context, _ string, keys []string, deliver func(context.Context, int) error) ([]Delivery, error) {
	s.mu.Lock()
	s.batches = append(s.batches, keys)
	s.ctxs = append(s.ctxs, ctx)
	gate, fail, panics, delay := s.gate, s.fail, s.panics, s.delay
	s.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if delay != nil {
		time.Sleep(delay())
	}
	if panics {
		panic("the store broke")
	}
	if fail != nil {
		return nil, fail
	}
	for _, k := range slices.Compact(slices.Sorted(slices.Values(keys))) {
		s.mu.Lock()
		if s.locks[k] == nil {
			s.locks[k] = &sync.Mutex{}
		}
		l := s.locks[k]
		s.mu.Unlock()
		l.Lock()
		defer l.Unlock()
	}
	ds := make([]Delivery, len(keys))
	for i, k := range keys {
		s.mu.Lock()
		done := s.done[k]
		s.mu.Unlock()
		if done {
			ds[i].State = ClaimDone
			continue
		}
		if ds[i].Err = deliver(ctx, i); ds[i].Err == nil {
			s.mu.Lock()
			s.done[k] = true
			s.mu.Unlock()
		}
	}
	return ds, nil
}

func (s *batchStore) set(f func(s *batchStore)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

func (s *batchStore) deliveries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.batches)
}

// batchSync is a RecordSync on a batchStore whose sink counts its calls per sn, refuses the sns in
// refuse, and runs also, when set, for every record.
type batchSync struct {
	rs     *RecordSync
	store  *batchStore
	mu     sync.Mutex
	calls  map[string]int
	refuse map[string]bool
	also   func(ctx context.Context, r *CallRecord)
}

func newBatchSync(t *testing.T, lanes int) *batchSync {
	t.Helper()
	c, err := New("https://h", WithAPIKey("u", "k"))
	require.NoError(t, err)
	mem, err := NewMemorySyncStore(1000)
	require.NoError(t, err)
	b := &batchSync{store: &batchStore{MemorySyncStore: mem, locks: map[string]*sync.Mutex{}, done: map[string]bool{}}, calls: map[string]int{}, refuse: map[string]bool{}}
	b.rs, err = NewRecordSync(c, func(ctx context.Context, r *CallRecord) error {
		b.mu.Lock()
		b.calls[r.SN]++
		refused, also := b.refuse[r.SN], b.also
		b.mu.Unlock()
		if also != nil {
			also(ctx, r)
		}
		if refused {
			return errors.New("refused")
		}
		return nil
	}, WithSyncStore(b.store), WithPushBatching(lanes))
	require.NoError(t, err)
	return b
}

func (b *batchSync) called(sn string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls[sn]
}

func finalRecord(i int) *CallRecord {
	return &CallRecord{SN: fmt.Sprintf("account|%032x", i), DisconnectedAt: time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)}
}

// waiting waits until n pushes wait for the batch running.
func (b *batchSync) waiting(t *testing.T, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		b.rs.pushes.mu.Lock()
		defer b.rs.pushes.mu.Unlock()
		return len(b.rs.pushes.waiting) == n
	}, 10*time.Second, time.Millisecond, "%d pushes waiting", n)
}

// pushAll pushes recs at once, each from a goroutine, and returns their errors once all returned.
func (b *batchSync) pushAll(ctx context.Context, recs []*CallRecord) chan []error {
	out := make(chan []error, 1)
	errs := make([]error, len(recs))
	var wg sync.WaitGroup
	for i, r := range recs {
		wg.Go(func() { errs[i] = b.rs.Push(ctx, r) })
	}
	go func() { wg.Wait(); out <- errs }()
	return out
}

// hold makes the next Deliver wait at a gate, pushes first, waits until it is there, and returns
// the push's result and the gate's opening.
func (b *batchSync) hold(t *testing.T, ctx context.Context, first *CallRecord) (chan []error, func()) {
	t.Helper()
	gate := make(chan struct{})
	b.store.set(func(s *batchStore) { s.gate = gate })
	before := b.store.deliveries()
	res := b.pushAll(ctx, []*CallRecord{first})
	require.Eventually(t, func() bool { return b.store.deliveries() == before+1 }, 10*time.Second, time.Millisecond)
	return res, func() {
		b.store.set(func(s *batchStore) {
			if s.gate == gate { // not replaced for the next Deliver
				s.gate = nil
			}
		})
		close(gate)
	}
}

func TestPushesThatArriveTogetherShareOneDeliver(t *testing.T) {
	t.Parallel()
	b := newBatchSync(t, 1)
	ctx := t.Context()
	first, open := b.hold(t, ctx, finalRecord(0))
	recs := make([]*CallRecord, firstBatch-1) // with the first: as many as the first batch takes
	for i := range recs {
		recs[i] = finalRecord(i + 1)
	}
	recs[5] = finalRecord(3) // the platform pushes one record twice at once
	b.refuse[recs[7].SN] = true
	rest := b.pushAll(ctx, recs)
	b.waiting(t, len(recs))
	open()
	require.Equal(t, []error{nil}, <-first)
	errs := <-rest
	for i, err := range errs {
		if i == 7 {
			assert.ErrorContains(t, err, "refused", "the record the sink refused fails its own push alone")
		} else {
			assert.NoError(t, err, "push %d", i)
		}
	}
	require.Len(t, b.store.batches, 2, "the first push alone, then those that came meanwhile in one Deliver")
	assert.Len(t, b.store.batches[1], len(recs))
	for _, r := range recs {
		assert.Equal(t, 1, b.called(r.SN), "%s offered to the sink once", r.SN)
	}
	assert.EqualValues(t, 1, b.rs.Stats().Duplicates, "the second push of a record in the batch is a duplicate")
}

func TestPushBatchThatFailsFailsItsPushesAndNoOthers(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"error", "panic"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			b := newBatchSync(t, 1)
			ctx := t.Context()
			first, open := b.hold(t, ctx, finalRecord(0))
			b.store.set(func(s *batchStore) {
				s.fail, s.panics = errors.New("the database is gone"), how == "panic"
			})
			rest := b.pushAll(ctx, []*CallRecord{finalRecord(1), finalRecord(2), finalRecord(3)})
			b.waiting(t, 3)
			open()
			require.Equal(t, []error{nil}, <-first, "the batch before")
			for _, err := range <-rest {
				if how == "panic" {
					assert.ErrorContains(t, err, "panicked: the store broke")
				} else {
					assert.ErrorContains(t, err, "the database is gone")
				}
			}
			b.store.set(func(s *batchStore) { s.fail, s.panics = nil, false })
			require.NoError(t, b.rs.Push(ctx, finalRecord(1)), "the next push is delivered: nothing is left running")
			assert.Equal(t, 1, b.called(finalRecord(1).SN))
		})
	}
}

func TestPushWaitingWhoseContextEndsLeavesTheBatch(t *testing.T) {
	t.Parallel()
	b := newBatchSync(t, 1)
	ctx := t.Context()
	first, open := b.hold(t, ctx, finalRecord(0))
	gone, cancel := context.WithCancel(ctx)
	left := b.pushAll(gone, []*CallRecord{finalRecord(1)})
	stays := b.pushAll(ctx, []*CallRecord{finalRecord(2)})
	b.waiting(t, 2)
	cancel()
	assert.ErrorIs(t, (<-left)[0], context.Canceled, "it returns while the batch before it still runs")
	open()
	require.Equal(t, []error{nil}, <-first)
	require.Equal(t, []error{nil}, <-stays)
	assert.Zero(t, b.called(finalRecord(1).SN), "a push that left is not delivered")
	assert.Equal(t, []string{b.rs.keyOf(finalRecord(2))}, b.store.batches[1])
}

// TestPushBatchContextEndsWithAllItsPushes: the batch's delivery goes on while one of its pushes'
// clients went away, and ends once all did.
func TestPushBatchContextEndsWithAllItsPushes(t *testing.T) {
	t.Parallel()
	b := newBatchSync(t, 1)
	ctx := t.Context()
	first, open := b.hold(t, ctx, finalRecord(0))
	ctxA, cancelA := context.WithCancel(ctx)
	ctxB, cancelB := context.WithCancel(ctx)
	resA := b.pushAll(ctxA, []*CallRecord{finalRecord(1)})
	resB := b.pushAll(ctxB, []*CallRecord{finalRecord(2)})
	b.waiting(t, 2)
	gate := make(chan struct{})
	b.store.set(func(s *batchStore) { s.gate = gate })
	open()
	require.Equal(t, []error{nil}, <-first)
	require.Eventually(t, func() bool { return b.store.deliveries() == 2 }, 10*time.Second, time.Millisecond)
	batchCtx := b.store.ctxs[1]
	cancelA()
	time.Sleep(20 * time.Millisecond)
	assert.NoError(t, batchCtx.Err(), "one client of the two went away: the batch goes on")
	cancelB()
	require.Eventually(t, func() bool { return batchCtx.Err() != nil }, 10*time.Second, time.Millisecond,
		"both went away: the batch's context ends")
	b.store.set(func(s *batchStore) { s.gate = nil })
	close(gate)
	<-resA
	<-resB
}

func TestPushFromTheSinkToItsOwnSyncDoesNotWaitForItsBatch(t *testing.T) {
	t.Parallel()
	b := newBatchSync(t, 1)
	inner := finalRecord(99)
	var innerErr error
	b.also = func(ctx context.Context, r *CallRecord) {
		if r.SN != inner.SN {
			innerErr = b.rs.Push(ctx, inner)
		}
	}
	done := b.pushAll(t.Context(), []*CallRecord{finalRecord(1)})
	select {
	case errs := <-done:
		require.Equal(t, []error{nil}, errs)
	case <-time.After(10 * time.Second):
		t.Fatal("the push waits for the push its sink made")
	}
	require.NoError(t, innerErr)
	assert.Equal(t, 1, b.called(inner.SN))
}

// TestPushBatchesUnderLoad: many pushes at once, some pushed twice, some whose clients go away,
// a store that takes its time: every push that returned nil was delivered, every record at most
// once, and no push waits for ever.
func TestPushBatchesUnderLoad(t *testing.T) {
	t.Parallel()
	b := newBatchSync(t, 3)
	b.store.set(func(s *batchStore) {
		var mu sync.Mutex
		rng := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // delays, not secrets
		s.delay = func() time.Duration {
			mu.Lock()
			defer mu.Unlock()
			return time.Duration(rng.IntN(2000)) * time.Microsecond
		}
	})
	const pushes = 600
	errs := make([]error, pushes)
	var wg sync.WaitGroup
	for i := range pushes {
		wg.Go(func() {
			ctx := t.Context()
			if i%7 == 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, time.Duration(i%5)*time.Millisecond)
				defer cancel()
			}
			errs[i] = b.rs.Push(ctx, finalRecord(i%400))
		})
	}
	wg.Wait()
	delivered := 0
	for i, err := range errs {
		if err == nil {
			assert.Equal(t, 1, b.called(finalRecord(i%400).SN), "push %d returned nil: its record was delivered once", i)
			delivered++
		} else {
			assert.ErrorIs(t, err, context.DeadlineExceeded, "push %d", i)
		}
	}
	for i := range 400 {
		assert.LessOrEqual(t, b.called(finalRecord(i).SN), 1)
	}
	assert.Less(t, b.store.deliveries(), pushes, "pushes were batched")
	t.Logf("%d pushes, %d delivered without an error, in %d Delivers", pushes, delivered, b.store.deliveries())
}

func TestWithPushBatchingNeedsACommitStoreAndLanes(t *testing.T) {
	t.Parallel()
	c, err := New("https://h", WithAPIKey("u", "k"))
	require.NoError(t, err)
	sink := func(context.Context, *CallRecord) error { return nil }
	_, err = NewRecordSync(c, sink, WithPushBatching(2))
	assert.ErrorContains(t, err, "is no CommitStore")
	mem, err := NewMemorySyncStore(10)
	require.NoError(t, err)
	for _, n := range []int{0, -1, 1025} {
		_, err = NewRecordSync(c, sink, WithSyncStore(&batchStore{MemorySyncStore: mem}), WithPushBatching(n))
		assert.ErrorContains(t, err, "WithPushBatching", "%d lanes", n)
	}
}

// TestPushBatchingSharesTheWaitingAmongTheLanes: a lane that frees takes its share of the pushes
// waiting, and a push that finds a lane free goes at once, past one slow in another lane.
func TestPushBatchingSharesTheWaitingAmongTheLanes(t *testing.T) {
	t.Parallel()
	b := newBatchSync(t, 2)
	ctx := t.Context()
	gate := make(chan struct{})
	b.store.set(func(s *batchStore) { s.gate = gate })
	held := b.pushAll(ctx, []*CallRecord{finalRecord(0), finalRecord(1)}) // both lanes held
	require.Eventually(t, func() bool { return b.store.deliveries() == 2 }, 10*time.Second, time.Millisecond)
	recs := make([]*CallRecord, 10)
	for i := range recs {
		recs[i] = finalRecord(i + 2)
	}
	rest := b.pushAll(ctx, recs)
	b.waiting(t, 10)
	b.store.set(func(s *batchStore) { s.gate = nil })
	close(gate)
	require.Equal(t, []error{nil, nil}, <-held)
	require.Equal(t, make([]error, 10), <-rest)
	sizes := []int{}
	for _, keys := range b.store.batches[2:] {
		sizes = append(sizes, len(keys))
	}
	assert.Equal(t, 10, sizes[0]+sizes[1]+func() int {
		n := 0
		for _, s := range sizes[2:] {
			n += s
		}
		return n
	}())
	assert.LessOrEqual(t, sizes[0], 5, "the first lane to free takes its half of the ten waiting, not all: %v", sizes)

	// One record slow in a lane: a push that finds the other free is not held.
	slow := make(chan struct{})
	b.also = func(_ context.Context, r *CallRecord) {
		if r.SN == finalRecord(50).SN {
			<-slow
		}
	}
	held = b.pushAll(ctx, []*CallRecord{finalRecord(50)})
	require.Eventually(t, func() bool { return b.called(finalRecord(50).SN) == 1 }, 10*time.Second, time.Millisecond)
	quick, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	require.NoError(t, b.rs.Push(quick, finalRecord(51)), "the other lane is free")
	close(slow)
	require.Equal(t, []error{nil}, <-held)
}

// TestPushBatchingSurvivesASinkThatEndsItsGoroutine: a sink that calls runtime.Goexit (a test's
// t.FailNow) fails its pushes, and the lanes go on.
func TestPushBatchingSurvivesASinkThatEndsItsGoroutine(t *testing.T) {
	t.Parallel()
	b := newBatchSync(t, 1)
	ctx := t.Context()
	bad := finalRecord(7)
	b.also = func(_ context.Context, r *CallRecord) {
		if r.SN == bad.SN {
			runtime.Goexit()
		}
	}
	for _, batched := range []bool{false, true} {
		var first chan []error
		var open func()
		if batched {
			first, open = b.hold(t, ctx, finalRecord(100))
		}
		done := make(chan struct{})
		go func() { defer close(done); _ = b.rs.Push(ctx, bad) }()
		if batched {
			b.waiting(t, 1)
			open()
			require.Equal(t, []error{nil}, <-first)
		}
		<-done
		quick, cancel := context.WithTimeout(ctx, 5*time.Second)
		require.NoError(t, b.rs.Push(quick, finalRecord(8+len(first))), "batched %v: the lane was handed on", batched)
		cancel()
	}
}

// TestPushBatchingKeepsALonePushsContext: a push delivered alone gives the sink its own context —
// its values, its deadline, and DeadlineExceeded at its end.
func TestPushBatchingKeepsALonePushsContext(t *testing.T) {
	t.Parallel()
	b := newBatchSync(t, 1)
	type key struct{}
	var hasDeadline bool
	var value any
	var atEnd error
	b.also = func(ctx context.Context, _ *CallRecord) {
		_, hasDeadline = ctx.Deadline()
		value = ctx.Value(key{})
		<-ctx.Done()
		atEnd = ctx.Err()
	}
	ctx, cancel := context.WithTimeout(context.WithValue(t.Context(), key{}, "req-1"), 50*time.Millisecond)
	defer cancel()
	_ = b.rs.Push(ctx, finalRecord(1))
	assert.True(t, hasDeadline)
	assert.Equal(t, "req-1", value)
	assert.ErrorIs(t, atEnd, context.DeadlineExceeded)
}

// TestPushBatchesFitTheTimeTheirPushesTake: a sink slow per record makes small batches — what
// its pushes took of late, and half their nearest deadline — so that a batch ends before its
// clients give up on it.
func TestPushBatchesFitTheTimeTheirPushesTake(t *testing.T) {
	t.Parallel()
	b := newBatchSync(t, 1)
	ctx := t.Context()
	b.also = func(context.Context, *CallRecord) { time.Sleep(20 * time.Millisecond) }
	first, open := b.hold(t, ctx, finalRecord(0))
	recs := make([]*CallRecord, 60)
	for i := range recs {
		recs[i] = finalRecord(i + 1)
	}
	rest := b.pushAll(ctx, recs)
	b.waiting(t, len(recs))
	open()
	require.Equal(t, []error{nil}, <-first)
	require.Equal(t, make([]error, len(recs)), <-rest)
	sizes := []int{}
	for _, keys := range b.store.batches[1:] {
		sizes = append(sizes, len(keys))
	}
	assert.Equal(t, firstBatch, sizes[0], "before a batch was timed: %v", sizes)
	for _, n := range sizes[1:] {
		assert.LessOrEqual(t, n, int(batchTime/(20*time.Millisecond)), "20 ms a push: a quarter of a second's worth at most: %v", sizes)
	}

	// Pushes whose clients wait 200 ms: batches of what half of it holds.
	recs = recs[:20]
	for i := range recs {
		recs[i] = finalRecord(i + 100)
	}
	first, open = b.hold(t, ctx, finalRecord(99))
	waits := make(chan []error, 1)
	go func() {
		errs := make([]error, len(recs))
		var wg sync.WaitGroup
		for i, r := range recs {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
				defer cancel()
				errs[i] = b.rs.Push(ctx, r)
			})
		}
		wg.Wait()
		waits <- errs
	}()
	b.waiting(t, len(recs))
	before := len(b.store.batches)
	open()
	require.Equal(t, []error{nil}, <-first)
	<-waits
	for _, keys := range b.store.batches[before:] {
		assert.LessOrEqual(t, len(keys), 5, "20 ms a push, 100 ms left at most: five pushes a batch at most")
	}
}
