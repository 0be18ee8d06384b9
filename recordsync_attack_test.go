package digelao_test

// Attacks on RecordSync's contract (README, "Keeping every call record"), as a hostile platform,
// pusher and operator would make them. Each test asserts what the contract promises; those that
// found a violation are skipped with the reason ("issue: …") until it is fixed.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
)

// dateLie is the bench's platform behind a front that rewrites the Date of its replies while lie
// is set, as a platform node with a wrong clock (or a PHP header written in local time) does.
type dateLie struct {
	p   *simPlatform
	lie atomic.Pointer[func(time.Time) time.Time]
}

func (d *dateLie) set(lie func(time.Time) time.Time) {
	if lie == nil {
		d.lie.Store(nil)
		return
	}
	d.lie.Store(&lie)
}

func (d *dateLie) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := d.p.RoundTrip(req)
	if lie := d.lie.Load(); err == nil && lie != nil {
		date, _ := http.ParseTime(resp.Header.Get("Date"))
		resp.Header.Set("Date", (*lie)(date).UTC().Format(http.TimeFormat))
	}
	return resp, err
}

// errorLines returns the bench's log lines at error level.
func (b *syncBench) errorLines() string {
	var lines []string
	for l := range strings.Lines(b.logs.String()) {
		if strings.Contains(l, "level=ERROR") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "")
}

// One step whose replies carry a Date a year ahead (a platform node whose clock jumped) moves the
// bookkeeping of past hours a year ahead: the hours after it are never counted or swept again, and
// the counts are not checked for a year. A record the platform lists two hours late — well within
// the 24-hour horizon — is then never delivered, and nothing names it.
func TestAttackADateAYearAheadStopsLateRecords(t *testing.T) {
	t.Parallel()
	b := newSyncBench(t)
	b.calls(5, simStart, 10*time.Minute)
	front := &dateLie{p: b.platform}
	db := newSinkDB()
	rs := b.syncVia(front, db.upsert)
	require.Empty(t, b.steps(rs, 24, 5*time.Minute), "two hours on the truth")

	front.set(func(d time.Time) time.Time { return d.AddDate(1, 0, 0) })
	b.steps(rs, 1, 5*time.Minute)
	front.set(nil)
	errs := b.steps(rs, 12, 5*time.Minute) // an hour on the truth again
	require.Empty(t, errs)

	late := b.platform.create(b.clock.now().Add(-2*time.Hour), 1)
	b.platform.list(late) // two hours late: past the overlap, well within the horizon
	errs = b.steps(rs, 24, 5*time.Minute)
	assert.Empty(t, errs)
	assert.Equal(t, 1, db.bySN[late.sn], "a record listed 2h late is delivered within the reconcile interval (README)")
	if db.bySN[late.sn] == 0 {
		assert.Contains(t, b.errorLines(), late.sn, "or an error names it")
	}
}

// One step whose replies carry a Date a year behind (the same node, its clock the other way) moves
// the stored checkpoint a year back — on a busy account the probe lists records newer than that
// Date, and only warns: the next step sweeps a whole year again. A store that remembers more than
// a day of deliveries — what NewMemorySyncStore asks for, since a sync sweeps a day back at most —
// has forgotten them, and every record older than that is delivered a second time.
func TestAttackADateAYearBehindDeliversTheYearAgain(t *testing.T) {
	t.Parallel()
	b := newSyncBench(t)
	fresh := func() digelao.SyncStore {
		return digelao.MemSyncStore(t, 20, digelao.WithMemoryClock(b.clock.now)) // two days of this account's records
	}
	b.store = &sharedStore{cur: fresh(), fresh: fresh}
	b.clock.advance(simStart.Add(30 * 24 * time.Hour))
	recs := b.calls(120, simStart, 6*time.Hour) // four a day for a month, all delivered by their pushes
	front := &dateLie{p: b.platform}
	db := newSinkDB()
	rs := b.syncVia(front, db.upsert)
	ctx := context.Background()
	for _, r := range recs {
		cr := new(digelao.CallRecord)
		require.NoError(t, cr.UnmarshalJSON(r.row))
		require.NoError(t, rs.Push(ctx, cr))
	}
	require.NoError(t, b.store.store().SetCheckpoint(ctx, rs.SyncName(), b.clock.now().Add(-digelao.DefaultSweepLag)))
	require.Empty(t, b.steps(rs, 1, 5*time.Minute), "caught up")

	front.set(func(d time.Time) time.Time { return d.AddDate(-1, 0, 0) })
	b.steps(rs, 1, 5*time.Minute)
	front.set(nil)
	require.Empty(t, b.steps(rs, 1, 5*time.Minute))
	twice := 0
	for _, r := range recs {
		if db.bySN[r.sn] > 1 {
			twice++
		}
	}
	assert.Zero(t, twice, "records delivered twice, none of them within a day of a sweep's window")
}

// A platform whose Date runs 8 hours ahead of the clock its created_at are written with (a PHP
// header written with date() instead of gmdate(), labelled GMT): the sync takes the Date for the
// platform's clock, its checkpoint runs 8 hours ahead of every record created since, and the sweep
// from the checkpoint never lists them. A record whose push was lost is delivered only by the
// hourly count of its hour, up to an hour later, not by the next sweep past the lag.
func TestAttackADateAheadOfCreatedAt(t *testing.T) {
	t.Parallel()
	b := newSyncBench(t)
	front := &dateLie{p: b.platform}
	front.set(func(d time.Time) time.Time { return d.Add(8 * time.Hour) })
	db := newSinkDB()
	rs := b.syncVia(front, db.upsert)
	b.calls(3, simStart, time.Minute)
	b.clock.advance(simStart.Add(time.Hour))
	require.Empty(t, b.steps(rs, 12, 5*time.Minute)) // an hour: the first step counted the hours, the next count is due now
	require.Empty(t, b.steps(rs, 1, 5*time.Minute))  // the hourly count ran

	lost := b.calls(1, b.clock.now(), 0)[0] // its push is lost
	var took time.Duration
	for i := range 24 {
		b.steps(rs, 1, 5*time.Minute)
		if db.bySN[lost.sn] > 0 {
			took = time.Duration(i+1) * 5 * time.Minute
			break
		}
	}
	require.Equal(t, 1, db.bySN[lost.sn], "delivered in the end, by the count of its hour")
	assert.LessOrEqual(t, took, digelao.DefaultSweepLag+digelao.DefaultSweepInterval,
		"a lost push is delivered by the next sweep past the lag (README); it took %s", took)
}

// The same platform, its Date 8 hours ahead of created_at: the sync drops a past hour from its
// bookkeeping 24 hours after the Date's now, 16 hours after the hour by created_at's clock. A
// record listed 20 hours late, within the 24-hour horizon, is never delivered, and nothing names
// it.
func TestAttackADateAheadOfCreatedAtShortensTheHorizon(t *testing.T) {
	t.Parallel()
	b := newSyncBench(t)
	front := &dateLie{p: b.platform}
	front.set(func(d time.Time) time.Time { return d.Add(8 * time.Hour) })
	db := newSinkDB()
	rs := b.syncVia(front, db.upsert)
	late := b.platform.create(simStart.Add(90*time.Minute), 1)
	var errs []error
	for range 12 * 30 { // 30 hours, a record every 5 minutes
		b.calls(1, b.clock.now(), 0)
		if late.listedV == 0 && b.clock.now().Sub(late.created) >= 20*time.Hour {
			b.platform.list(late)
		}
		errs = append(errs, b.steps(rs, 1, 5*time.Minute)...)
	}
	assert.Empty(t, errs)
	assert.Equal(t, 1, db.bySN[late.sn], "listed 20h late, within the 24h horizon")
	if db.bySN[late.sn] == 0 {
		assert.Contains(t, b.errorLines(), late.sn, "or an error names it")
	}
}

// newStepSync is a sync on the bench whose store holds state as its bookkeeping and a checkpoint
// ten minutes back, with the platform behind rt.
func newStepSync(t *testing.T, b *syncBench, rt http.RoundTripper, state string) *digelao.RecordSync {
	rs := b.syncVia(rt, newSinkDB().upsert)
	ctx := context.Background()
	require.NoError(t, b.store.store().SetCheckpoint(ctx, rs.SyncName(), b.clock.now().Add(-10*time.Minute)))
	require.NoError(t, b.store.store().SetSyncState(ctx, rs.SyncName(), []byte(state)))
	return rs
}

// The store answers bookkeeping that decodes but holds a null hour (a hand-edited key, a store's
// bug): the step panics instead of starting the bookkeeping afresh with a warning, as it does for
// bookkeeping that does not decode. Run, in its own goroutine, takes the process down, and every
// restart panics again.
func TestAttackANullHourInTheStoredState(t *testing.T) {
	t.Parallel()
	b := newSyncBench(t)
	b.calls(3, simStart, time.Minute)
	b.clock.advance(simStart.Add(time.Hour))
	rs := newStepSync(t, b, b.platform, `{"hours":[null]}`)
	var err error
	require.NotPanics(t, func() { _, err = rs.SweepOnce(context.Background()) })
	assert.NoError(t, err, "bookkeeping it cannot use starts afresh, with a warning")
}

// countingFront counts the requests that reach the platform, and refuses every one after limit
// with an error the client does not retry: a bound on a runaway step.
type countingFront struct {
	p     *simPlatform
	n     atomic.Int64
	limit int64
}

func (f *countingFront) RoundTrip(req *http.Request) (*http.Response, error) {
	if f.n.Add(1) > f.limit {
		_ = req.Body.Close()
		return f.p.reply(req, http.StatusOK, []byte(`{"code":20002,"msg":"too many requests"}`)), nil
	}
	return f.p.RoundTrip(req)
}

// The store answers bookkeeping whose last hour is 26 years old (a key restored from an old
// backup, a store's bug): the step counts every hour since, one request each — 230,000 — before
// it sweeps anything else. A sync down for weeks has its checkpoint as far back and skips those
// hours; nothing bounds the count by the checkpoint here.
func TestAttackAnAncientHourInTheStoredState(t *testing.T) {
	t.Parallel()
	b := newSyncBench(t)
	b.calls(3, simStart, time.Minute)
	b.clock.advance(simStart.Add(time.Hour))
	front := &countingFront{p: b.platform, limit: 5000}
	rs := newStepSync(t, b, front, `{"hours":[{"start":"2000-01-01T00:00:00Z","count":0,"ages":3}],"counted_at":"2026-11-02T00:00:00Z"}`)
	_, err := rs.SweepOnce(context.Background())
	n := front.n.Load()
	assert.Less(t, n, int64(200), "a step asks for the counts of the hours of its horizon, a day")
	if err != nil {
		t.Errorf("the step failed after %d requests (its error is %d bytes): %.200s…", n, len(err.Error()), err)
	}
}

// cappedPlatform is the bench's platform behind a search engine's limits, as Elasticsearch sets
// them by default: the total it reports stops at cap (track_total_hits), and rows past depth
// are not served (max_result_window).
type cappedPlatform struct {
	p          *simPlatform
	cap, depth int
}

func (c *cappedPlatform) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	_ = req.Body.Close()
	if err != nil {
		return nil, err
	}
	q, err := readCRMQuery(body)
	if err != nil {
		return nil, err
	}
	rows := c.p.match(q)
	total := min(len(rows), c.cap)
	rows = rows[:min(len(rows), c.depth)]
	rows = rows[min(q.page*q.size, len(rows)):min((q.page+1)*q.size, len(rows))]
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"code":0,"msg":"ok","data":{"total":%d,"list":[`, total)
	for i, r := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(r.row)
	}
	b.WriteString("]}}")
	return c.p.reply(req, http.StatusOK, b.Bytes()), nil
}

// A platform that reports at most 10 records and serves no row past the 10th (the default
// WithWindowLimit of 10,000 is Elasticsearch's default for both, scaled down): a window of 15
// records reports 10, equal to the window limit, so it is not split; its pages end at the 10th
// row, where the total says they end, and the sweep returns nil. Five records are never delivered,
// and nothing names them — the counts of their hour never change either.
func TestAttackATotalCappedAtTheWindowLimit(t *testing.T) {
	t.Parallel()
	b := newSyncBench(t)
	recs := b.calls(15, simStart, time.Minute)
	b.clock.advance(simStart.Add(time.Hour))
	db := newSinkDB()
	rs := b.syncVia(&cappedPlatform{p: b.platform, cap: 10, depth: 10}, db.upsert,
		digelao.WithWindowLimit(10), digelao.WithSyncPageSize(5))
	errs := b.steps(rs, 36, 5*time.Minute) // three hours: the counts, and the first re-sweep age
	missing := 0
	for _, r := range recs {
		if db.bySN[r.sn] == 0 {
			missing++
		}
	}
	if missing > 0 {
		assert.NotEmpty(t, errs, "%d of 15 records never delivered, and no sweep failed", missing)
	}
	assert.Zero(t, missing)
}

// A record with neither sn nor id (a platform row that lost them) is known by its content. Its
// push, and its row once an agent added a mark (备注) in the console, differ in one member: the
// sweep delivers it a second time. The README's contract lists no such window for a second
// delivery; only a warning says it.
func TestAttackARecordWithoutKeyDeliveredTwice(t *testing.T) {
	t.Parallel()
	b := newSyncBench(t)
	at := simStart.Add(5 * time.Minute)
	push := fmt.Appendf(nil, `{"phone":"13800000001","created_at":%q,"connected_at":%q,"disconnected_at":%q,"talktimes":30}`,
		simTime(at), simTime(at.Add(-30*time.Second)), simTime(at))
	r := &simRecord{ord: 0, sn: "", created: at, row: bytes.Replace(push, []byte(`}`), []byte(`,"mark":"已回访"}`), 1)}
	b.platform.records = append(b.platform.records, r)
	b.platform.list(r)
	b.clock.advance(simStart.Add(time.Hour))
	var calls atomic.Int64
	rs := b.sync(func(context.Context, *digelao.CallRecord) error { calls.Add(1); return nil })
	h := rs.Handler(digelao.NewSecret(simPushToken))
	req := httptest.NewRequest(http.MethodPost, "/push?token="+simPushToken, bytes.NewReader(push))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	require.Equal(t, http.StatusOK, w.Code)
	require.EqualValues(t, 1, calls.Load())
	require.Empty(t, b.steps(rs, 1, 5*time.Minute))
	assert.EqualValues(t, 1, calls.Load(), "delivered twice: by its push, and by the sweep")
}

// The platform pushes a record before its call ended (disconnected_at empty: a platform bug, or
// a push of the 6.6.2 test kind): the sync delivers it at once. When the call ends and the sweep
// lists the final record, it is taken for a duplicate: the sink never sees the final record, and
// nothing says so. The README promises records "delivered once final".
func TestAttackAPushBeforeTheCallEnded(t *testing.T) {
	t.Parallel()
	b := newSyncBench(t)
	rec := b.calls(1, simStart.Add(5*time.Minute), 0)[0]
	b.clock.advance(simStart.Add(time.Hour))
	early := bytes.Replace(rec.row, fmt.Appendf(nil, `"disconnected_at":%q`, simTime(rec.created)), []byte(`"disconnected_at":""`), 1)
	require.NotEqual(t, rec.row, early)
	var final atomic.Int64
	rs := b.sync(func(_ context.Context, r *digelao.CallRecord) error {
		if !r.DisconnectedAt.IsZero() {
			final.Add(1)
		}
		return nil
	})
	h := rs.Handler(digelao.NewSecret(simPushToken))
	req := httptest.NewRequest(http.MethodPost, "/push?token="+simPushToken, bytes.NewReader(early))
	req.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(httptest.NewRecorder(), req)
	require.Empty(t, b.steps(rs, 2, 5*time.Minute))
	assert.EqualValues(t, 1, final.Load(), "the record is delivered once final")
}

// Two replicas share the store with different horizons — a rolling deploy that widens it to two
// days. The replica with the day's horizon deletes from the shared bookkeeping every hour older
// than a day, and the one with two days never counts those hours again: a record the platform
// lists 30 hours late, within the horizon of the replica that promises it, is never delivered.
func TestAttackReplicasWithDifferentHorizons(t *testing.T) {
	t.Parallel()
	b := newSyncBench(t)
	b.calls(3, simStart, 10*time.Minute)
	db := newSinkDB()
	wide := b.sync(db.upsert, digelao.WithReconcileHorizon(48*time.Hour),
		digelao.WithResweepAges(time.Hour, 6*time.Hour, 48*time.Hour))
	day := b.sync(db.upsert) // the defaults: a day
	late := b.platform.create(simStart.Add(30*time.Minute), 1)
	var errs []error
	for i := range 12 * 33 { // 33 hours, the replicas taking turns
		if i == 12*31 {
			b.platform.list(late) // 30 hours after its created_at
		}
		rs := wide
		if i%2 == 1 {
			rs = day
		}
		errs = append(errs, b.steps(rs, 1, 5*time.Minute)...)
	}
	assert.Empty(t, errs)
	assert.Equal(t, 1, db.bySN[late.sn], "listed 30h late, within the 48h horizon of the replica that reconciles it")
}

// hangingRenewals is a store whose Renew hangs until release is closed (or the call's own
// timeout), as a call to a Redis that went silent — a network partition, a blackholed route —
// does: the claim is neither renewed nor found lost.
type hangingRenewals struct {
	*digelao.MemorySyncStore
	release chan struct{}
}

func (s *hangingRenewals) Renew(ctx context.Context, _, _ string) (bool, error) {
	select {
	case <-ctx.Done():
		return false, ctx.Err()
	case <-s.release:
		return false, errors.New("hangingRenewals: unreachable")
	}
}

// A sink slower than the claim's TTL while the store is unreachable: the renewal does not come
// back (the store's calls are given settleTimeout, 10 s, far more than the claim's TTL), so the
// claim lapses while the sink's context stays live. The platform's retry reaches another replica,
// which claims the record and delivers it; the first sink, checking its context before it commits
// as a careful sink does, finds it live and commits too. Two deliveries, no error, no log line.
// The README: "if it is lost all the same (the store unreachable), the sink's context ends with
// ErrClaimLost". Push then returns only when the stuck renewal does, up to 10 s later.
func TestAttackARenewalStuckInTheStore(t *testing.T) {
	t.Parallel()
	const ttl = 100 * time.Millisecond
	shared := digelao.MemSyncStore(t, 10, digelao.WithMemoryClaimTTL(ttl))
	hung := &hangingRenewals{MemorySyncStore: shared, release: make(chan struct{})}
	c, err := digelao.New(simBase, digelao.WithAPIKey(simUser, simKey), digelao.WithTransport(newSimPlatform(simClock{}, 0)))
	require.NoError(t, err)
	var stored atomic.Int64
	var logs bytes.Buffer
	started, proceed := make(chan struct{}), make(chan struct{})
	slow, err := digelao.NewRecordSync(c, func(ctx context.Context, _ *digelao.CallRecord) error {
		close(started)
		<-proceed
		if err := ctx.Err(); err != nil { // a careful sink: it does not commit once its claim is lost
			return err
		}
		stored.Add(1)
		return nil
	}, digelao.WithSyncStore(hung), digelao.WithSyncLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	require.NoError(t, err)
	other, err := digelao.NewRecordSync(c, func(context.Context, *digelao.CallRecord) error { stored.Add(1); return nil },
		digelao.WithSyncStore(shared))
	require.NoError(t, err)

	at := simStart
	rec := &digelao.CallRecord{SN: "account|0123456789abcdef0123456789abcdef", CreatedAt: at, DisconnectedAt: at}
	done := make(chan error, 1)
	go func() { done <- slow.Push(context.Background(), rec) }()
	<-started
	time.Sleep(3 * ttl) // the claim lapsed: its renewal hangs in the store
	require.NoError(t, other.Push(context.Background(), rec), "the platform's retry, on another replica")
	close(proceed)
	close(hung.release)
	<-done
	assert.EqualValues(t, 1, stored.Load(), "delivered by two replicas; the log says: %q", logs.String())
}

// A quarantine entry whose record the store returns as JSON null (a sqlstore column left NULL, a
// hand-edited Redis field): Redeliver decodes it into an empty record, hands that to the sink —
// no sn, no id, no times — and takes the entry out of the quarantine as delivered. The record the
// entry stood for is gone from the quarantine, never delivered, and nothing says so.
func TestAttackRedeliverOfAQuarantinedNull(t *testing.T) {
	t.Parallel()
	b := newSyncBench(t)
	var got []*digelao.CallRecord
	rs := b.sync(func(_ context.Context, r *digelao.CallRecord) error { got = append(got, r); return nil })
	ctx := context.Background()
	sn := "account|0123456789abcdef0123456789abcdef"
	key := rs.SyncName() + ":record:whatever-the-sync-made" // its key, as the quarantine lists it
	require.NoError(t, b.store.store().Quarantine(ctx, rs.SyncName(), digelao.QuarantinedRecord{Key: key, SN: sn,
		CreatedAt: simStart, Record: []byte(`null`), Err: "value too long", Tries: 5, At: simStart}))
	err := rs.Redeliver(ctx, key)
	assert.Error(t, err, "a quarantined record that is not a record is not redelivered")
	assert.Empty(t, got, "the sink was given %d empty records", len(got))
	q, qerr := rs.Quarantined(ctx)
	require.NoError(t, qerr)
	assert.Len(t, q, 1, "the entry stays until its record is delivered")
}

// Two records listed with one sn and different ids (a platform that reused an sn): the second is
// taken for a delivery of the first, counted as a duplicate, and never delivered — nothing names
// it. The sink's upsert by sn could not keep both; the sync can at least say so.
func TestAttackTwoRecordsWithOneSN(t *testing.T) {
	t.Parallel()
	b := newSyncBench(t)
	first := b.calls(1, simStart.Add(5*time.Minute), 0)[0]
	second := b.platform.create(simStart.Add(6*time.Minute), 1)
	second.row = bytes.Replace(second.row, []byte(second.sn), []byte(first.sn), 1) // its own id and phone, the first's sn
	b.platform.list(second)
	b.clock.advance(simStart.Add(time.Hour))
	var ids []int64
	rs := b.sync(func(_ context.Context, r *digelao.CallRecord) error { ids = append(ids, r.ID); return nil })
	require.Empty(t, b.steps(rs, 1, 5*time.Minute))
	if len(ids) < 2 {
		assert.Contains(t, b.logs.String(), first.sn, "the record left out (ids delivered: %v) is named", ids)
	}
}
