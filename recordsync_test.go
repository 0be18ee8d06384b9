package digelao_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"hash/fnv"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/digelaotest"
	"github.com/digelao-go/digelao/internal/redistest"
	"github.com/digelao-go/digelao/internal/testkit"
	"github.com/digelao-go/digelao/redisstore"
)

// sinkDB is a sink that counts every delivery by sn, and can be made to fail.
type sinkDB struct {
	mu    sync.Mutex
	bySN  map[string]int
	fail  func(*digelao.CallRecord) error
	calls int
}

func newSinkDB() *sinkDB { return &sinkDB{bySN: map[string]int{}} }

func (db *sinkDB) upsert(_ context.Context, r *digelao.CallRecord) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.calls++
	if db.fail != nil {
		if err := db.fail(r); err != nil {
			return err
		}
	}
	db.bySN[r.SN]++
	return nil
}

// counts returns the records stored and how many were stored more than once.
func (db *sinkDB) counts() (records, repeated int) {
	db.mu.Lock()
	defer db.mu.Unlock()
	for _, n := range db.bySN {
		records++
		if n > 1 {
			repeated++
		}
	}
	return records, repeated
}

// syncFake is a fake platform in manual time with a task of n contacts, its pushes going to a
// PushHandler through rs (once rs is set) that is wrapped by intercept.
type syncFake struct {
	srv   *digelaotest.Server
	c     *digelao.Client
	clock *digelaotest.Clock
	push  http.Handler // what the receiver serves; set before Flush
	mu    sync.Mutex
}

func newSyncFake(t testing.TB, opts ...digelaotest.Option) *syncFake {
	t.Helper()
	f := &syncFake{clock: digelaotest.NewClock(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))}
	f.srv = digelaotest.NewServer(append([]digelaotest.Option{digelaotest.WithManualTime(),
		digelaotest.WithClock(f.clock.Now)}, opts...)...)
	t.Cleanup(f.srv.Close)
	c, err := f.srv.Client()
	require.NoError(t, err)
	t.Cleanup(c.CloseIdleConnections)
	f.c = c
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		h := f.push
		f.mu.Unlock()
		if h == nil {
			http.Error(w, "receiver down", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(rcv.Close)
	require.NoError(t, c.SetCallback(context.Background(), &digelao.CallbackRequest{Open: true, CallbackURL: rcv.URL}))
	return f
}

// receive makes the receiver serve h (nil: down).
func (f *syncFake) receive(h http.Handler) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.push = h
}

// call creates a task calling n numbers and runs it to the end, pushes included.
func (f *syncFake) call(t testing.TB, name string, n int) {
	t.Helper()
	ctx := context.Background()
	cols, err := f.c.Tasks.ImportColumns(ctx, digelaotest.TemplateSN)
	require.NoError(t, err)
	contacts := make([]digelao.Contact, n)
	for i := range contacts {
		contacts[i] = digelao.Contact{Phone: phoneNumber(name, i)}
	}
	_, err = f.c.Tasks.Create(ctx, &digelao.CreateTaskRequest{Name: name, ProjectSN: digelaotest.TemplateSN,
		SeatSN: digelaotest.SeatSN, AutoStart: true, Columns: cols, Contacts: contacts})
	require.NoError(t, err)
	require.NoError(t, f.srv.Flush(ctx))
}

func phoneNumber(name string, i int) string {
	h := 0
	for _, c := range name {
		h = h*31 + int(c)
	}
	return "13" + string(rune('0'+h%10)) + string(rune('0'+(h/10)%10)) + pad8(i)
}

func pad8(i int) string {
	s := []byte("00000000")
	for j := 7; j >= 0 && i > 0; j-- {
		s[j] = byte('0' + i%10)
		i /= 10
	}
	return string(s)
}

// simNow is the fake's simulated now: after the last event Flush ran.
func (f *syncFake) simNow() time.Time {
	var last time.Time
	for _, r := range f.srv.CallRecords() {
		if r.EndedAt.After(last) {
			last = r.EndedAt
		}
	}
	return last.Add(time.Hour) // past every push, with room for the lag
}

func TestSyncDeliversEachRecordOnceFromPushesAndSweeps(t *testing.T) {
	t.Parallel()
	f := newSyncFake(t)
	db := newSinkDB()
	rs, err := digelao.NewRecordSync(f.c, db.upsert, digelao.WithSyncClock(f.simNow))
	require.NoError(t, err)

	// Half of the pushes fail at the receiver: some on every try, so that the platform gives up.
	h := &digelao.PushHandler{OnCallRecord: rs.Push}
	var mu sync.Mutex
	n := 0
	f.receive(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		drop := n%2 == 0
		mu.Unlock()
		if drop {
			http.Error(w, "busy", http.StatusBadGateway)
			return
		}
		h.ServeHTTP(w, r)
	}))
	f.call(t, "回访一", 40)
	records := f.srv.CallRecords()
	require.Len(t, records, 40)
	pushedOK := 0
	for _, p := range f.srv.Pushes() {
		if p.Kind == digelaotest.PushCall && p.OK {
			pushedOK++
		}
	}
	t.Logf("%d of 40 records pushed through", pushedOK)
	require.Positive(t, pushedOK)
	require.Less(t, pushedOK, 40)
	assert.Equal(t, pushedOK, int(rs.Stats().Pushed))

	st, err := rs.Sweep(context.Background(), records[0].EndedAt.Add(-time.Minute), f.simNow())
	require.NoError(t, err)
	got, repeated := db.counts()
	assert.Equal(t, 40, got, "every record, exactly once")
	assert.Zero(t, repeated)
	assert.Equal(t, 40, st.Found)
	assert.Equal(t, 40-pushedOK, st.GapsFilled, "the sweep delivers exactly what the pushes did not")
	assert.Equal(t, pushedOK, st.Duplicates)

	// A second sweep delivers nothing again.
	st, err = rs.Sweep(context.Background(), records[0].EndedAt.Add(-time.Minute), f.simNow())
	require.NoError(t, err)
	assert.Zero(t, st.GapsFilled)
	assert.Equal(t, 40, st.Duplicates)
	got, repeated = db.counts()
	assert.Equal(t, 40, got)
	assert.Zero(t, repeated)
}

func TestSyncSplitsLargeWindows(t *testing.T) {
	t.Parallel()
	f := newSyncFake(t)
	f.call(t, "回访二", 35)
	db := newSinkDB()
	rs, err := digelao.NewRecordSync(f.c, db.upsert, digelao.WithWindowLimit(8), digelao.WithSyncPageSize(3))
	require.NoError(t, err)
	records := f.srv.CallRecords()
	st, err := rs.Sweep(context.Background(), records[0].StartedAt.Add(-time.Hour), f.simNow())
	require.NoError(t, err)
	got, repeated := db.counts()
	assert.Equal(t, 35, got)
	assert.Zero(t, repeated)
	assert.Greater(t, st.Windows, 4, "no window holds more than 8 records")
	assert.Equal(t, 35, st.GapsFilled)
}

func TestSyncSinkFailures(t *testing.T) {
	t.Parallel()
	f := newSyncFake(t)
	f.call(t, "回访三", 6)
	db := newSinkDB()
	boom := errors.New("database down")
	db.fail = func(r *digelao.CallRecord) error {
		if r.Phone == f.srv.CallRecords()[2].Phone {
			return boom
		}
		return nil
	}
	rs, err := digelao.NewRecordSync(f.c, db.upsert)
	require.NoError(t, err)
	from, to := f.srv.CallRecords()[0].StartedAt.Add(-time.Hour), f.simNow()
	_, err = rs.Sweep(context.Background(), from, to)
	require.ErrorIs(t, err, boom, "a sink error stops the sweep")
	assert.EqualValues(t, 1, rs.Stats().SinkFailures)

	db.fail = nil
	st, err := rs.Sweep(context.Background(), from, to)
	require.NoError(t, err)
	got, repeated := db.counts()
	assert.Equal(t, 6, got, "the failed record is delivered by the next sweep")
	assert.Zero(t, repeated)
	assert.Equal(t, 6-st.GapsFilled, st.Duplicates)
}

func TestNewRecordSyncValidates(t *testing.T) {
	t.Parallel()
	c, err := digelao.New("https://h", digelao.WithAPIKey("u", "k"))
	require.NoError(t, err)
	sink := func(context.Context, *digelao.CallRecord) error { return nil }
	_, err = digelao.NewRecordSync(nil, sink)
	assert.Error(t, err)
	_, err = digelao.NewRecordSync(c, nil)
	assert.Error(t, err)
	for _, opt := range []digelao.SyncOption{nil, digelao.WithSweepInterval(0), digelao.WithSweepLag(-1),
		digelao.WithLeaseTTL(0), digelao.WithWindowLimit(0), digelao.WithSyncStore(nil), digelao.WithSyncClock(nil)} {
		_, err := digelao.NewRecordSync(c, sink, opt)
		var ve *digelao.ValidationError
		assert.ErrorAs(t, err, &ve)
	}
}

func TestSyncRunResumesFromItsCheckpoint(t *testing.T) {
	t.Parallel()
	f := newSyncFake(t)
	f.call(t, "回访四", 10)
	store := digelao.MemSyncStore(t, 1000)
	db := newSinkDB()
	now := f.simNow()
	f.clock.Set(now) // the platform's clock, which its replies' Date carry
	opts := []digelao.SyncOption{digelao.WithSyncStore(store), digelao.WithSweepInterval(time.Hour),
		digelao.WithSweepLag(0), digelao.WithSweepOverlap(3 * time.Hour)}
	run := func() *digelao.RecordSync {
		rs, err := digelao.NewRecordSync(f.c, db.upsert, opts...)
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- rs.Run(ctx) }()
		require.Eventually(t, func() bool { return rs.Stats().Sweeps == 1 }, 5*time.Second, 5*time.Millisecond)
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
		return rs
	}
	first := run()
	assert.EqualValues(t, 10, first.Stats().GapsFilled, "nothing was pushed: the first sweep delivers all")
	mark, err := store.Checkpoint(context.Background(), "")
	require.NoError(t, err)
	assert.True(t, mark.IsZero(), "the checkpoint is kept under the account's name, not an empty one")
	assert.WithinDuration(t, now, first.Stats().Checkpoint, time.Second, "the platform's now: the lag is 0")

	// A restart sweeps from the checkpoint back by the overlap: the same records, none delivered again.
	now = now.Add(time.Hour)
	f.clock.Set(now)
	second := run()
	assert.GreaterOrEqual(t, second.Stats().Found, int64(10), "the overlap reaches the records")
	assert.Equal(t, second.Stats().Found, second.Stats().Duplicates, "every record found was delivered before")
	assert.Zero(t, second.Stats().GapsFilled)
	got, repeated := db.counts()
	assert.Equal(t, 10, got)
	assert.Zero(t, repeated)
}

// countingStore counts the calls a sync or a handler makes to its store.
type countingStore struct {
	*digelao.MemorySyncStore
	mu    sync.Mutex
	calls map[string]int
}

func newCountingStore(t *testing.T) *countingStore {
	return &countingStore{MemorySyncStore: digelao.MemSyncStore(t, 100), calls: map[string]int{}}
}

func (s *countingStore) count(op string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[op]++
}

func (s *countingStore) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		n += c
	}
	return n
}

func (s *countingStore) Claim(ctx context.Context, key, token string) (digelao.ClaimState, error) {
	s.count("claim")
	return s.MemorySyncStore.Claim(ctx, key, token)
}

func (s *countingStore) Complete(ctx context.Context, key, token string) error {
	s.count("complete")
	return s.MemorySyncStore.Complete(ctx, key, token)
}

func (s *countingStore) Release(ctx context.Context, key, token string) error {
	s.count("release")
	return s.MemorySyncStore.Release(ctx, key, token)
}

// Issue 19 item 7: one exactly-once layer. Wired the old way, a push is claimed and completed
// twice — by the handler's store and the sync's; through rs.Handler, once.
func TestSyncHandlerClaimsAPushOnce(t *testing.T) {
	t.Parallel()
	srv := digelaotest.NewServer(digelaotest.WithManualTime())
	t.Cleanup(srv.Close)
	c, err := srv.Client()
	require.NoError(t, err)
	roundTrips := func(handler func(*digelao.RecordSync, digelao.DedupStore) http.Handler) (int, int) {
		store, db := newCountingStore(t), newSinkDB()
		rs, err := digelao.NewRecordSync(c, db.upsert, digelao.WithSyncStore(store))
		require.NoError(t, err)
		h := handler(rs, store)
		body := digelaotest.SampleCallRecordPush("account|0123456789abcdef0123456789abcdef", "13800000000")
		for range 2 { // the platform pushes the same record twice
			w := httptest.NewRecorder()
			h.ServeHTTP(w, digelaotest.NewPushRequest("/push", body))
			require.Equal(t, http.StatusOK, w.Code)
			require.Equal(t, "SUCCESS", w.Body.String())
		}
		records, _ := db.counts()
		require.Equal(t, 1, db.calls, "delivered once")
		require.Equal(t, 1, records)
		return store.total(), int(rs.Stats().Pushed)
	}
	before, pushed := roundTrips(func(rs *digelao.RecordSync, store digelao.DedupStore) http.Handler {
		return &digelao.PushHandler{OnCallRecord: rs.Push, Dedup: store}
	})
	assert.Equal(t, 1, pushed)
	after, pushed := roundTrips(func(rs *digelao.RecordSync, _ digelao.DedupStore) http.Handler { return rs.Handler(digelao.Secret{}) })
	assert.Equal(t, 1, pushed)
	t.Logf("MEASURED: store round trips for a push delivered and its redelivery: %d wired as OnCallRecord, %d through rs.Handler", before, after)
	assert.Equal(t, 5, before, "claim and complete by each layer, then the handler's duplicate claim")
	assert.Equal(t, 3, after, "claim and complete by the sync, then its duplicate claim")
}

// A sync's Handler refuses to take an OnCallRecord of its own: its call records go to the sync.
func TestSyncHandlerRefusesItsOwnOnCallRecord(t *testing.T) {
	t.Parallel()
	srv := digelaotest.NewServer(digelaotest.WithManualTime())
	t.Cleanup(srv.Close)
	c, err := srv.Client()
	require.NoError(t, err)
	db := newSinkDB()
	rs, err := digelao.NewRecordSync(c, db.upsert)
	require.NoError(t, err)
	h := rs.Handler(digelao.Secret{})
	h.OnCallRecord = db.upsert
	w := httptest.NewRecorder()
	h.ServeHTTP(w, digelaotest.NewPushRequest("/push", digelaotest.SampleCallRecordPush("account|1", "13800000000")))
	assert.Equal(t, http.StatusInternalServerError, w.Code)
	assert.Zero(t, db.calls)
}

// TestSyncEveryRecordExactlyOnce is issue 15's proof: more than a thousand calls over several
// tasks; the receiver fails 30% of the pushes on every try (the platform gives up on them) and is
// down for a whole task; two replicas share one Redis store, both receive pushes and run the sweep,
// and one of them is cancelled in the middle of a sweep. In the end the sink holds every call record exactly once,
// and the sweeps filled every push that never got through.
func TestSyncEveryRecordExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("a thousand simulated calls")
	}
	t.Parallel()
	ctx := context.Background()
	clock := digelaotest.NewClock(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	srv := digelaotest.NewServer(digelaotest.WithManualTime(), digelaotest.WithClock(clock.Now))
	t.Cleanup(srv.Close)

	rdb := redis.NewClient(&redis.Options{Addr: redistest.Start(t).Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	store, err := redisstore.New(rdb, redisstore.WithPrefix("e2e-sync-"+t.Name()+":"))
	require.NoError(t, err)

	// The platform's now, which its replies' Date carry: moved by the test past each task's last
	// call, as wall time would.
	setNow := clock.Set
	db := newSinkDB()

	type replica struct {
		rs     *digelao.RecordSync
		h      *digelao.PushHandler
		cancel context.CancelFunc
		done   chan error
	}
	// The second replica is cancelled in the middle of a sweep: at its 150th delivery.
	var second atomic.Pointer[replica]
	var secondDelivered atomic.Int64
	newReplica := func(stopAt int64) *replica {
		c, err := srv.Client(digelao.WithTokenStore(store))
		require.NoError(t, err)
		t.Cleanup(c.CloseIdleConnections)
		sink := db.upsert
		if stopAt > 0 {
			sink = func(ctx context.Context, r *digelao.CallRecord) error {
				if secondDelivered.Add(1) == stopAt {
					second.Load().cancel()
				}
				return db.upsert(ctx, r)
			}
		}
		rs, err := digelao.NewRecordSync(c, sink, digelao.WithSyncStore(store),
			digelao.WithSweepInterval(5*time.Millisecond), digelao.WithLeaseTTL(300*time.Millisecond),
			digelao.WithSyncPageSize(200))
		require.NoError(t, err)
		runCtx, cancel := context.WithCancel(ctx)
		r := &replica{rs: rs, h: &digelao.PushHandler{OnCallRecord: rs.Push, Dedup: store}, cancel: cancel,
			done: make(chan error, 1)}
		go func() { r.done <- rs.Run(runCtx) }()
		return r
	}
	replicas := []*replica{newReplica(0), newReplica(150)}
	second.Store(replicas[1])

	// The receiver: spreads pushes over the replicas, fails 30% of the records on every try, and
	// is down while down is set.
	var down atomic.Bool
	var turn atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "unreadable", http.StatusBadRequest)
			return
		}
		var rec struct {
			SN string `json:"sn"`
		}
		_ = json.Unmarshal(body, &rec)
		if down.Load() || failsAlways(rec.SN) {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		replicas[turn.Add(1)%2].h.ServeHTTP(w, r)
	}))
	t.Cleanup(rcv.Close)
	client, err := srv.Client(digelao.WithTokenStore(store)) // one account: one shared session
	require.NoError(t, err)
	t.Cleanup(client.CloseIdleConnections)
	require.NoError(t, client.SetCallback(ctx, &digelao.CallbackRequest{Open: true, CallbackURL: rcv.URL}))
	cols, err := client.Tasks.ImportColumns(ctx, digelaotest.TemplateSN)
	require.NoError(t, err)

	// Three tasks of 350 calls; the receiver is down for the second; one replica is cancelled
	// after it.
	for task := range 3 {
		contacts := make([]digelao.Contact, 350)
		for i := range contacts {
			contacts[i] = digelao.Contact{Phone: phoneNumber("e2e", task*1000+i)}
		}
		down.Store(task == 1)
		_, err := client.Tasks.Create(ctx, &digelao.CreateTaskRequest{Name: "任务" + string(rune('A'+task)),
			ProjectSN: digelaotest.TemplateSN, SeatSN: digelaotest.SeatSN, AutoStart: true, Columns: cols, Contacts: contacts})
		require.NoError(t, err)
		require.NoError(t, srv.Flush(ctx)) // every call, and every push with its retries
		down.Store(false)
		var last time.Time
		for _, r := range srv.CallRecords() {
			last = maxTime(last, r.EndedAt)
		}
		setNow(last.Add(digelao.DefaultSweepLag + time.Second)) // the lag has passed for every record so far
		waitSwept(t, replicas[0].rs, replicas[1].rs, last)
		if task == 1 {
			// Should the first replica's sweeps have taken most records before their pushes, the
			// second has not reached its 150th delivery: it is cancelled now, between two tasks.
			replicas[1].cancel()
		}
	}
	require.ErrorIs(t, <-replicas[1].done, context.Canceled, "the second replica was cancelled")
	t.Logf("the second replica was cancelled after %d deliveries (at its 150th, when it got so far)", secondDelivered.Load())
	require.Positive(t, secondDelivered.Load())
	// After the fake is flushed, one more sweep.
	require.NoError(t, srv.Flush(ctx))
	records := srv.CallRecords()
	_, err = replicas[0].rs.Sweep(ctx, records[0].EndedAt.Add(-time.Minute), clock.Now())
	require.NoError(t, err)
	replicas[0].cancel()
	require.ErrorIs(t, <-replicas[0].done, context.Canceled)

	require.GreaterOrEqual(t, len(records), 1000)
	stored, repeated := db.counts()
	assert.Equal(t, len(records), stored, "every record of the platform")
	assert.Zero(t, repeated, "exactly once")
	for _, r := range records {
		assert.Equal(t, 1, db.bySN[r.SN], r.SN)
	}
	pushed := map[string]bool{}
	for _, p := range srv.Pushes() {
		var rec struct {
			SN string `json:"sn"`
		}
		if p.Kind == digelaotest.PushCall && p.OK && json.Unmarshal(p.Body, &rec) == nil {
			pushed[rec.SN] = true
		}
	}
	var filled, delivered int64
	for _, r := range replicas {
		st := r.rs.Stats()
		filled += st.GapsFilled
		delivered += st.Pushed
		t.Logf("replica: %+v", st)
	}
	t.Logf("%d records, %d pushed through, %d gaps filled by sweeps", len(records), len(pushed), filled)
	// Each record came by one path. The fake's Flush creates a task's records ahead of its clock,
	// and the sync follows the records' clock, so a sweep may take a record before its push.
	assert.EqualValues(t, len(records), filled+delivered, "each record delivered once, by a push or a sweep")
	assert.GreaterOrEqual(t, filled, int64(len(records)-len(pushed)), "the sweeps filled every push that never got through")
	assert.LessOrEqual(t, delivered, int64(len(pushed)))
	assert.Greater(t, filled, int64(350), "the down task and 30% of the others")
}

// failsAlways picks 30% of the records, by sn, whose pushes the receiver fails on every try.
func failsAlways(sn string) bool {
	h := fnv.New32a()
	_, _ = h.Write([]byte(sn))
	return h.Sum32()%10 < 3
}

// waitSwept waits until a replica has stored a checkpoint at or past t.
func waitSwept(t *testing.T, a, b *digelao.RecordSync, at time.Time) {
	t.Helper()
	require.Eventually(t, func() bool {
		return !a.Stats().Checkpoint.Before(at) || !b.Stats().Checkpoint.Before(at)
	}, 30*time.Second, 5*time.Millisecond)
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// The regressions of issue 19, each on the simulation's platform model, one situation at a time.

// syncBench is a platform with records, a store, and a way to make syncs of it.
type syncBench struct {
	t        *testing.T
	clock    simClock
	platform *simPlatform
	store    *sharedStore // that may forget, as a flushed Redis does
	logs     *bytes.Buffer
}

func newSyncBench(t *testing.T) *syncBench {
	clock := simClock{testkit.NewClock(simStart)}
	fresh := func() digelao.SyncStore { return digelao.MemSyncStore(t, 1000, digelao.WithMemoryClock(clock.now)) }
	return &syncBench{t: t, clock: clock, platform: newSimPlatform(clock, 0), logs: &bytes.Buffer{},
		store: &sharedStore{cur: fresh(), fresh: fresh}}
}

// calls creates n records that hung up every gap from at on, listed at once.
func (b *syncBench) calls(n int, at time.Time, gap time.Duration) []*simRecord {
	rs := make([]*simRecord, n)
	for i := range rs {
		rs[i] = b.platform.create(at.Add(time.Duration(i)*gap), 1)
		b.platform.list(rs[i])
	}
	return rs
}

// sync returns a RecordSync of the bench's account into sink, on the bench's clock and store.
func (b *syncBench) sync(sink func(context.Context, *digelao.CallRecord) error, opts ...digelao.SyncOption) *digelao.RecordSync {
	b.t.Helper()
	return b.syncVia(b.platform, sink, opts...)
}

// syncVia is sync, with the platform reached through rt.
func (b *syncBench) syncVia(rt http.RoundTripper, sink func(context.Context, *digelao.CallRecord) error, opts ...digelao.SyncOption) *digelao.RecordSync {
	b.t.Helper()
	c, err := digelao.New(simBase, digelao.WithAPIKey(simUser, simKey), digelao.WithTransport(rt))
	require.NoError(b.t, err)
	var ops atomic.Int64
	rs, err := digelao.NewRecordSync(c, sink, append([]digelao.SyncOption{digelao.WithSyncStore(b.store.view(&ops)),
		digelao.WithSyncClock(b.clock.now), digelao.WithSyncTimers(b.clock),
		digelao.WithSyncLogger(slog.New(slog.NewTextHandler(b.logs, nil)))}, opts...)...)
	require.NoError(b.t, err)
	return rs
}

// steps runs n steps of Run, every interval, and returns the errors they returned.
func (b *syncBench) steps(rs *digelao.RecordSync, n int, interval time.Duration) []error {
	var errs []error
	for range n {
		if _, err := rs.SweepOnce(context.Background()); err != nil {
			errs = append(errs, err)
		}
		b.clock.advance(b.clock.now().Add(interval))
	}
	return errs
}

// Item 1. Ten records paged five a page; one of the first page is deleted before the second page
// is read: the rows after it shift back, and the first of the second page was never seen. The
// sweep reads the window again instead of returning nil over it.
func TestSyncReadsAgainAListThatShrankWhilePaged(t *testing.T) {
	t.Parallel()
	b := newSyncBench(t)
	recs := b.calls(10, simStart, time.Minute)
	b.clock.advance(simStart.Add(time.Hour))
	deleted := false
	b.platform.beforePage = func(q crmQuery, rows []*simRecord) {
		if !deleted && q.page == 1 && len(rows) == 10 {
			deleted = true
			b.platform.remove(rows[1]) // the second newest: everything after it shifts back one row
		}
	}
	db := newSinkDB()
	rs := b.sync(db.upsert, digelao.WithSyncPageSize(5), digelao.WithSweepLag(0))
	_, err := rs.SweepOnce(context.Background())
	require.NoError(t, err)
	require.True(t, deleted)
	for _, r := range recs {
		if r.exists() {
			assert.Equal(t, 1, db.bySN[r.sn], "%s, listed all along, delivered once", r.sn)
		}
	}
	assert.Contains(t, b.logs.String(), "reading the window again")
}

// A removal before the offset that an insertion further down makes up for, and more: the pages add
// up to the total, which grew, and one record was skipped. A total that moves between pages is a
// list that changed: the window is read again.
func TestSyncReadsAgainAListThatGrewWhilePaged(t *testing.T) {
	t.Parallel()
	b := newSyncBench(t)
	recs := b.calls(10, simStart.Add(time.Minute), time.Minute)
	b.clock.advance(simStart.Add(time.Hour))
	changed := false
	b.platform.beforePage = func(q crmQuery, rows []*simRecord) {
		if !changed && q.page == 1 && len(rows) == 10 {
			changed = true
			b.platform.remove(rows[1]) // a row already paged: the next page starts one row later
			for i := range 2 {         // two records listed late, older than every other
				b.platform.list(b.platform.create(simStart.Add(time.Duration(i)*time.Second), 1))
			}
		}
	}
	db := newSinkDB()
	rs := b.sync(db.upsert, digelao.WithSyncPageSize(5), digelao.WithSweepLag(0))
	_, err := rs.SweepOnce(context.Background())
	require.NoError(t, err)
	require.True(t, changed)
	for _, r := range recs {
		if r.exists() {
			assert.Equal(t, 1, db.bySN[r.sn], "%s, listed all along, delivered once", r.sn)
		}
	}
	assert.Contains(t, b.logs.String(), "reading the window again")
}

// Item 2. One record the sink always refuses does not hold the others back: they are delivered,
// the checkpoint waits at the refused one, which is offered again and again with a growing wait,
// then quarantined — named at error level, counted, listed — and the checkpoint moves on. Once the
// sink takes it, Redeliver delivers it.
func TestSyncQuarantinesARecordTheSinkAlwaysRefuses(t *testing.T) {
	t.Parallel()
	b := newSyncBench(t)
	recs := b.calls(10, simStart, time.Minute)
	b.clock.advance(simStart.Add(time.Hour))
	bad := recs[6]
	refuse := true
	db := newSinkDB()
	db.fail = func(r *digelao.CallRecord) error {
		if refuse && r.SN == bad.sn {
			return errors.New("value too long for column mark")
		}
		return nil
	}
	rs := b.sync(db.upsert, digelao.WithSweepLag(0), digelao.WithQuarantineAfter(3))
	st, err := rs.SweepOnce(context.Background())
	require.NoError(t, err)
	records, _ := db.counts()
	assert.Equal(t, 9, records, "every other record is delivered")
	assert.True(t, st.Checkpoint.Before(bad.created), "the checkpoint waits at the refused record: %s", st.Checkpoint)
	assert.Equal(t, 1, st.Failed)

	for range 12 { // a record is offered again, each time later: 5, 10 minutes …
		b.clock.advance(b.clock.now().Add(5 * time.Minute))
		b.calls(1, b.clock.now().Add(-time.Second), 0) // traffic: the sink is seen taking records
		_, err := rs.SweepOnce(context.Background())
		require.NoError(t, err)
	}
	assert.EqualValues(t, 1, rs.Stats().Quarantined)
	q, err := rs.Quarantined(context.Background())
	require.NoError(t, err)
	require.Len(t, q, 1)
	assert.Equal(t, bad.sn, q[0].SN)
	assert.Equal(t, 3, q[0].Tries)
	assert.Contains(t, q[0].Err, "value too long")
	assert.Regexp(t, `level=ERROR msg="digelao sync: the sink refused a record on every try; quarantined.*sn=`+bad.sn, b.logs.String())
	mark, err := b.store.store().Checkpoint(context.Background(), rs.SyncName())
	require.NoError(t, err)
	assert.True(t, mark.After(bad.created), "past the quarantined record, the checkpoint moves on")

	refuse = false
	require.NoError(t, rs.Redeliver(context.Background(), q[0].Key))
	assert.Equal(t, 1, db.bySN[bad.sn])
	q, err = rs.Quarantined(context.Background())
	require.NoError(t, err)
	assert.Empty(t, q)
}

// A sink that refuses every record (its database is down) stops the sweep at once, and counts no
// try against the records: none is quarantined however long it stays down.
func TestSyncStopsAtOnceWhenTheSinkIsDown(t *testing.T) {
	t.Parallel()
	b := newSyncBench(t)
	b.calls(10, simStart, time.Minute)
	b.clock.advance(simStart.Add(time.Hour))
	db := newSinkDB()
	db.fail = func(*digelao.CallRecord) error { return errors.New("connection refused") }
	rs := b.sync(db.upsert, digelao.WithSweepLag(0), digelao.WithQuarantineAfter(2))
	errs := b.steps(rs, 30, 5*time.Minute)
	require.Len(t, errs, 30, "every sweep fails")
	assert.ErrorContains(t, errs[0], "taken for down")
	assert.LessOrEqual(t, db.calls, 30*3, "three sink calls a sweep at most")
	assert.Zero(t, rs.Stats().Quarantined)

	db.fail = nil // the database is back
	require.Empty(t, b.steps(rs, 1, time.Minute))
	records, repeated := db.counts()
	assert.Equal(t, 10, records)
	assert.Zero(t, repeated)
}

// Item 3. A record the platform lists 50 minutes after its created_at, past the 30-minute
// overlap, is delivered within the hour by the count of its hour, which changed.
func TestSyncDeliversARecordListedLate(t *testing.T) {
	t.Parallel()
	b := newSyncBench(t)
	b.calls(5, simStart, time.Minute)
	late := b.platform.create(simStart.Add(10*time.Minute), 1) // not listed yet
	db := newSinkDB()
	rs := b.sync(db.upsert) // the defaults: lag 10 minutes, overlap 30, every 5
	var listedAt time.Time
	for i := range 40 { // 200 minutes of calls, one a sweep
		if i == 12 { // an hour on: 50 minutes after its created_at
			b.platform.list(late)
			listedAt = b.clock.now()
		}
		b.calls(1, b.clock.now().Add(-time.Minute), 0)
		b.steps(rs, 1, 5*time.Minute)
		if db.bySN[late.sn] > 0 {
			break
		}
	}
	require.Equal(t, 1, db.bySN[late.sn], "the late record is delivered")
	assert.LessOrEqual(t, b.clock.now().Sub(listedAt), time.Hour+5*time.Minute, "within the hour of its listing")
	assert.EqualValues(t, 1, rs.Stats().Late)
}

// Item 4. A replica whose clock runs 45 minutes ahead of the platform's sweeps on the platform's
// clock, read from its replies' Date: nothing is lost, and the difference is logged once.
func TestSyncRunsOnThePlatformsClock(t *testing.T) {
	t.Parallel()
	for _, skew := range []time.Duration{45 * time.Minute, -45 * time.Minute, 25 * time.Hour, -25 * time.Hour} {
		b := newSyncBench(t)
		db := newSinkDB()
		rs := b.sync(db.upsert, digelao.WithSyncClock(func() time.Time { return b.clock.now().Add(skew) }))
		for range 30 { // a record a minute for half an hour, a sweep every 5 minutes
			b.calls(1, b.clock.now(), 0)
			if b.clock.now().Minute()%5 == 0 {
				b.steps(rs, 1, 0)
			}
			b.clock.advance(b.clock.now().Add(time.Minute))
		}
		b.steps(rs, 12, 5*time.Minute) // an hour more
		records, _ := db.counts()
		assert.Equal(t, 30, records, "skew %s", skew)
		assert.Equal(t, 1, strings.Count(b.logs.String(), "the local clock differs from the platform's"), "skew %s", skew)
		assert.InDelta(t, -skew, rs.Stats().ClockSkew, float64(time.Second), "skew %s", skew)
	}
}

// Item 4 too. RecordSync works against digelaotest out of the box: the fake's simulated time runs
// ahead of the wall clock, and its replies' Date say so.
func TestSyncAgainstTheFakeOutOfTheBox(t *testing.T) {
	t.Parallel()
	srv := digelaotest.NewServer()
	t.Cleanup(srv.Close)
	c, err := srv.Client()
	require.NoError(t, err)
	ctx := t.Context()
	cols, err := c.Tasks.ImportColumns(ctx, digelaotest.TemplateSN)
	require.NoError(t, err)
	contacts := make([]digelao.Contact, 20)
	for i := range contacts {
		contacts[i] = digelao.Contact{Phone: phoneNumber("fake", i)}
	}
	_, err = c.Tasks.Create(ctx, &digelao.CreateTaskRequest{Name: "回访", ProjectSN: digelaotest.TemplateSN,
		SeatSN: digelaotest.SeatSN, AutoStart: true, Columns: cols, Contacts: contacts})
	require.NoError(t, err)
	require.NoError(t, srv.WaitIdle(ctx))
	db := newSinkDB()
	rs, err := digelao.NewRecordSync(c, db.upsert, digelao.WithSweepInterval(20*time.Millisecond))
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- rs.Run(runCtx) }()
	assert.Eventually(t, func() bool { n, _ := db.counts(); return n == 20 }, 10*time.Second, 10*time.Millisecond,
		"every record of the fake, with the default lag")
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
}

// Item 5. A store that lost its checkpoint after the sync was down two days: a sync configured
// for a deployment past its first start says so (ErrNoCheckpoint) instead of sweeping a day back;
// without that option the fallback to the look-back is logged and counted; and a replica that
// stored a checkpoint itself resumes from it.
func TestSyncSaysWhenItsCheckpointIsLost(t *testing.T) {
	t.Parallel()
	b := newSyncBench(t)
	b.calls(3, simStart, time.Minute)
	b.clock.advance(simStart.Add(time.Hour))
	db := newSinkDB()
	rs := b.sync(db.upsert)
	mark, err := rs.Checkpoint(context.Background())
	require.NoError(t, err)
	assert.True(t, mark.IsZero(), "none before the first sweep")
	require.Empty(t, b.steps(rs, 1, 0))
	mark, err = rs.Checkpoint(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rs.Stats().Checkpoint, mark, "the one the sweep stored")

	old := b.calls(1, b.clock.now().Add(-time.Minute), 0)[0] // created, then the sync is down two days
	b.clock.advance(b.clock.now().Add(48 * time.Hour))
	b.store.forget() // Redis flushed, or restarted without persistence
	mark, err = rs.Checkpoint(context.Background())
	require.NoError(t, err)
	assert.True(t, mark.IsZero(), "Checkpoint says it is lost")

	strict := b.sync(db.upsert, digelao.WithRequireCheckpoint())
	_, err = strict.SweepOnce(context.Background())
	require.ErrorIs(t, err, digelao.ErrNoCheckpoint)
	assert.EqualValues(t, 1, strict.Stats().CheckpointsMissing)
	assert.Zero(t, db.bySN[old.sn])

	b.clock.advance(b.clock.now().Add(time.Minute)) // the strict one stopped; its lease lapsed
	lenient := b.sync(db.upsert)
	_, err = lenient.SweepOnce(context.Background())
	require.NoError(t, err)
	assert.EqualValues(t, 1, lenient.Stats().CheckpointsMissing)
	assert.Contains(t, b.logs.String(), `level=WARN msg="digelao sync: no checkpoint in the store`)
	assert.Contains(t, b.logs.String(), "look_back=24h0m0s")
	assert.Zero(t, db.bySN[old.sn], "two days old: before the look-back, as the warning says")

	// The replica that stored a checkpoint before the store forgot resumes from its own.
	b.store.forget()
	_, err = rs.SweepOnce(context.Background())
	require.NoError(t, err)
	assert.EqualValues(t, 2, rs.Stats().CheckpointsMissing, "its first start, and now")
	assert.Equal(t, 1, db.bySN[old.sn], "delivered from the replica's own checkpoint")
	assert.Contains(t, b.logs.String(), `level=ERROR msg="digelao sync: the store holds no checkpoint, though this replica stored one`)
}

// BenchmarkSweepAgainstTheFake sweeps 2,000 call records (four tasks of 500) from digelaotest, the
// fake platform, into a sink that keeps nothing: records/s of a whole sync — paging crmList over
// loopback, the fake's own work, a claim and a completion per record — as a user's first sweep
// would see them. Each iteration is a new RecordSync with a store of its own, so that every record
// is new. The ratio against a plain Records.All is BenchmarkRecordSync (BENCHMARKS.md).
func BenchmarkSweepAgainstTheFake(b *testing.B) {
	f := newSyncFake(b)
	for _, name := range []string{"回访一", "回访二", "回访三", "回访四"} {
		f.call(b, name, 500)
	}
	records := f.srv.CallRecords()
	if len(records) != 2000 {
		b.Fatalf("the fake holds %d call records, not 2,000", len(records))
	}
	from, to := records[0].StartedAt.Add(-time.Hour), f.simNow()
	sink := func(context.Context, *digelao.CallRecord) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		rs, err := digelao.NewRecordSync(f.c, sink, digelao.WithSyncStore(digelao.MemSyncStore(b, len(records))))
		if err != nil {
			b.Fatal(err)
		}
		st, err := rs.Sweep(b.Context(), from, to)
		if err != nil || st.GapsFilled != len(records) {
			b.Fatalf("%d of %d records delivered: %v", st.GapsFilled, len(records), err)
		}
	}
	b.ReportMetric(float64(b.N*len(records))/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(0, "ns/op") // an op is a whole sweep: records/s says it
}
