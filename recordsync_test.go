package digelao_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/digelaotest"
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
