package digelao_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/digelaotest"
	"github.com/digelao-go/digelao/internal/testkit"
)

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
	c, err := digelao.New(simBase, digelao.WithAPIKey(simUser, simKey), digelao.WithTransport(b.platform))
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
	for i := range 40 { // 200 minutes
		if i == 12 { // an hour on: 50 minutes after its created_at
			b.platform.list(late)
			listedAt = b.clock.now()
		}
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
	require.Empty(t, b.steps(rs, 1, 0))

	old := b.calls(1, b.clock.now().Add(-time.Minute), 0)[0] // created, then the sync is down two days
	b.clock.advance(b.clock.now().Add(48 * time.Hour))
	b.store.forget() // Redis flushed, or restarted without persistence

	strict := b.sync(db.upsert, digelao.WithRequireCheckpoint())
	_, err := strict.SweepOnce(context.Background())
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
