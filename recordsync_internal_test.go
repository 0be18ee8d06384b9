package digelao

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao/internal/flex"
)

// A record listed before its call ended is not delivered, and holds the checkpoint back so that a
// later sweep sees it again; once final, it is delivered.
func TestSyncHoldsBackRecordsNotFinal(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	at := time.Date(2026, 11, 2, 10, 0, 0, 0, flex.China)
	var ended atomic.Bool
	mt.RegisterResponder("POST", testBase+"/api/crmList", func(*http.Request) (*http.Response, error) {
		rows := []string{
			fmt.Sprintf(`{"id":1,"sn":"account|1","created_at":%q,"disconnected_at":%q}`, platformTime(at), platformTime(at)),
			fmt.Sprintf(`{"id":2,"sn":"account|2","created_at":%q,"disconnected_at":""}`, platformTime(at.Add(time.Minute))),
		}
		if ended.Load() {
			rows[1] = strings.Replace(rows[1], `"disconnected_at":""`, fmt.Sprintf(`"disconnected_at":%q`, platformTime(at.Add(2*time.Minute))), 1)
		}
		return httpmock.NewStringResponse(200, `{"code":0,"data":{"total":2,"list":[`+strings.Join(rows, ",")+`]}}`), nil
	})
	var got []string
	sink := func(_ context.Context, r *CallRecord) error { got = append(got, r.SN); return nil }
	store := MemSyncStore(t, 100)
	now := at.Add(time.Hour)
	rs, err := NewRecordSync(c, sink, WithSyncStore(store), WithSweepLag(0), WithSweepOverlap(0),
		WithSyncClock(func() time.Time { return now }), WithSweepLookBack(2*time.Hour))
	require.NoError(t, err)

	st, err := rs.SweepOnce(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{"account|1"}, got)
	assert.EqualValues(t, 1, rs.Stats().NotFinal)
	mark, err := store.Checkpoint(context.Background(), rs.name)
	require.NoError(t, err)
	assert.Equal(t, at.Add(time.Minute-time.Second), mark, "held back to just before the record not final")
	assert.Equal(t, mark, st.Checkpoint)

	ended.Store(true)
	st, err = rs.SweepOnce(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{"account|1", "account|2"}, got, "delivered once final")
	mark, err = store.Checkpoint(context.Background(), rs.name)
	require.NoError(t, err)
	assert.Equal(t, now, mark)
	assert.Equal(t, now, st.Checkpoint)
}

// Among syncs sharing a store, one sweeps at a time; one that loses its lease stops.
func TestSyncLease(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	release := make(chan struct{})
	var listed atomic.Int64
	mt.RegisterResponder("POST", testBase+"/api/crmList", func(*http.Request) (*http.Response, error) {
		listed.Add(1)
		<-release
		return httpmock.NewStringResponse(200, `{"code":0,"data":{"total":0,"list":[]}}`), nil
	})
	store := MemSyncStore(t, 10)
	sink := func(context.Context, *CallRecord) error { return nil }
	newSync := func() *RecordSync {
		rs, err := NewRecordSync(c, sink, WithSyncStore(store), WithLeaseTTL(300*time.Millisecond))
		require.NoError(t, err)
		return rs
	}
	a, b := newSync(), newSync()
	done := make(chan error, 1)
	go func() { _, err := a.SweepOnce(context.Background()); done <- err }()
	require.Eventually(t, func() bool { return listed.Load() == 1 }, 5*time.Second, time.Millisecond)
	_, err := b.SweepOnce(context.Background())
	require.ErrorIs(t, err, ErrLeaseHeld, "b does not sweep while a does")
	assert.EqualValues(t, 1, listed.Load())
	time.Sleep(400 * time.Millisecond) // past a's TTL: a renews its lease while it sweeps
	_, err = b.SweepOnce(context.Background())
	require.ErrorIs(t, err, ErrLeaseHeld)
	assert.EqualValues(t, 1, listed.Load(), "a's lease was renewed")

	// a loses its lease (another owner takes it over): its sweep stops.
	store.mu.Lock()
	store.leases[a.name] = memLock{owner: "someone else", until: time.Now().Add(time.Hour)}
	store.mu.Unlock()
	err = <-done
	close(release)
	require.ErrorIs(t, err, ErrLeaseHeld)
}

// settleStore notes how long a store call had left when it was made.
type settleStore struct {
	*MemorySyncStore
	left []time.Duration
}

func (s *settleStore) note(ctx context.Context) {
	dl, _ := ctx.Deadline()
	s.left = append(s.left, time.Until(dl))
}

func (s *settleStore) Complete(ctx context.Context, key, token string) error {
	s.note(ctx)
	return s.MemorySyncStore.Complete(ctx, key, token)
}

func (s *settleStore) Release(ctx context.Context, key, token string) error {
	s.note(ctx)
	return s.MemorySyncStore.Release(ctx, key, token)
}

// A slow sink does not eat into the time the store has to record its outcome: the store is given
// its whole settle time after the sink returns, delivered or failed.
func TestSyncSettlesAfterASlowSink(t *testing.T) {
	t.Parallel()
	c, _ := newMockClient(t)
	store := &settleStore{MemorySyncStore: MemSyncStore(t, 10)}
	const slow = 300 * time.Millisecond
	fail := errors.New("crm down")
	sink := func(_ context.Context, r *CallRecord) error {
		time.Sleep(slow)
		if r.SN == "account|2" {
			return fail
		}
		return nil
	}
	rs, err := NewRecordSync(c, sink, WithSyncStore(store))
	require.NoError(t, err)
	at := time.Date(2026, 11, 2, 10, 0, 0, 0, flex.China)
	require.NoError(t, rs.Push(t.Context(), &CallRecord{SN: "account|1", CreatedAt: at, DisconnectedAt: at}))
	require.ErrorIs(t, rs.Push(t.Context(), &CallRecord{SN: "account|2", CreatedAt: at, DisconnectedAt: at}), fail)
	require.Len(t, store.left, 2, "one completion, one release")
	for _, left := range store.left {
		assert.Greater(t, left, settleTimeout-slow/2, "the settle time starts after the sink")
	}
}

// crmRequest is what a crmList responder was asked.
type crmRequest struct {
	From, To time.Time // zero when not sent
}

// readCRMRequest reads a crmList request; it runs in the transport's goroutine, so it reports
// what it cannot read as a zero request rather than failing the test there.
func readCRMRequest(r *http.Request) crmRequest {
	var p struct {
		From string `json:"start_create_at"`
		To   string `json:"end_create_at"`
	}
	b, _ := io.ReadAll(r.Body)
	_ = json.Unmarshal(b, &p)
	var q crmRequest
	q.From, _ = flex.ParseTime(p.From)
	q.To, _ = flex.ParseTime(p.To)
	return q
}

// crmRow is a 6.1 row; ended zero leaves disconnected_at empty (a call not over yet).
func crmRow(id int, created, ended time.Time) string {
	end := ""
	if !ended.IsZero() {
		end = platformTime(ended)
	}
	return fmt.Sprintf(`{"id":%d,"sn":"account|%d","created_at":%q,"disconnected_at":%q}`, id, id, platformTime(created), end)
}

func crmReply(total int, rows []string) *http.Response {
	return httpmock.NewStringResponse(200, fmt.Sprintf(`{"code":0,"data":{"total":%d,"list":[%s]}}`, total, strings.Join(rows, ",")))
}

// A record the platform lists in a window, though its created_at lies after the window's end (the
// platform filters by another time, or its created_at is bad data: more than a day ahead of every
// clock, so the sync's does not follow it), and that is not final yet: the next sweep must list that
// window again, so the checkpoint must not pass the window's start.
func TestSyncHoldsARecordListedOutsideItsWindow(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	now := time.Date(2026, 11, 2, 12, 0, 0, 0, flex.China)
	mt.RegisterResponder("POST", testBase+"/api/crmList", func(*http.Request) (*http.Response, error) {
		return crmReply(1, []string{crmRow(1, now.Add(25*time.Hour), time.Time{})}), nil
	})
	store := MemSyncStore(t, 10)
	rs, err := NewRecordSync(c, func(context.Context, *CallRecord) error { return nil }, WithSyncStore(store),
		WithSweepLag(0), WithSweepOverlap(0), WithSweepLookBack(time.Hour), WithSyncClock(func() time.Time { return now }))
	require.NoError(t, err)
	_, err = rs.SweepOnce(context.Background())
	require.NoError(t, err)
	mark, err := store.Checkpoint(context.Background(), rs.name)
	require.NoError(t, err)
	assert.False(t, mark.After(now.Add(-time.Hour)),
		"checkpoint %s passed the window [%s, %s] in which a record not final was listed", mark, now.Add(-time.Hour), now)
}

// A checkpoint in the future — stored while the clock ran ahead, or by a replica whose clock does —
// must not stop the sweeps until the clock catches up: the records created meanwhile would be
// swept by no one.
func TestSyncCheckpointInTheFuture(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	now := time.Date(2026, 11, 2, 12, 0, 0, 0, flex.China)
	var asked []crmRequest
	var mu sync.Mutex
	mt.RegisterResponder("POST", testBase+"/api/crmList", func(r *http.Request) (*http.Response, error) {
		q := readCRMRequest(r)
		mu.Lock()
		asked = append(asked, q)
		mu.Unlock()
		return crmReply(1, []string{crmRow(1, now.Add(-20*time.Minute), now.Add(-20*time.Minute))}), nil
	})
	var logs bytes.Buffer
	store := MemSyncStore(t, 10)
	require.NoError(t, store.SetCheckpoint(context.Background(), "sync:x", time.Time{}))
	var got atomic.Int64
	rs, err := NewRecordSync(c, func(context.Context, *CallRecord) error { got.Add(1); return nil }, WithSyncStore(store),
		WithSyncClock(func() time.Time { return now }), WithSyncLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	require.NoError(t, err)
	future := now.Add(365 * 24 * time.Hour)
	require.NoError(t, store.SetCheckpoint(context.Background(), rs.name, future))

	_, err = rs.SweepOnce(context.Background())
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	i := slices.IndexFunc(asked, func(q crmRequest) bool { return !q.To.IsZero() }) // the probe asks with no end
	require.GreaterOrEqual(t, i, 0, "no sweep while the checkpoint is in the future")
	assert.False(t, asked[i].From.After(now.Add(-DefaultSweepLag-DefaultSweepOverlap)), "swept from %s", asked[i].From)
	assert.EqualValues(t, 1, got.Load(), "the record of 20 minutes ago is delivered")
	mark, err := store.Checkpoint(context.Background(), rs.name)
	require.NoError(t, err)
	assert.False(t, mark.After(now), "checkpoint %s repaired", mark)
	assert.Contains(t, logs.String(), "checkpoint", "the repair is logged")
}

// A record that stays not final past the hold's bound falls behind the checkpoint undelivered:
// that must at least be said, once per record, not left to a counter that every sweep adds to.
func TestSyncSaysWhenItGivesUpOnARecord(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	now := time.Date(2026, 11, 2, 12, 0, 0, 0, flex.China)
	created := now.Add(-maxHold - time.Hour)
	mt.RegisterResponder("POST", testBase+"/api/crmList", func(*http.Request) (*http.Response, error) {
		return crmReply(1, []string{crmRow(7, created, time.Time{})}), nil
	})
	var logs bytes.Buffer
	store := MemSyncStore(t, 10)
	rs, err := NewRecordSync(c, func(context.Context, *CallRecord) error { return nil }, WithSyncStore(store),
		WithSyncClock(func() time.Time { return now }), WithSweepLookBack(2*maxHold),
		WithSyncLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	require.NoError(t, err)
	_, err = rs.SweepOnce(context.Background())
	require.NoError(t, err)
	mark, err := store.Checkpoint(context.Background(), rs.name)
	require.NoError(t, err)
	require.True(t, mark.After(created), "past the bound, the checkpoint moves on")
	assert.Contains(t, logs.String(), "level=WARN", "a record left behind undelivered is logged")
	assert.Contains(t, logs.String(), "account|7", "naming it")
}

// A platform that ignores the creation-time filter answers every window with the whole account:
// splitting it must stop soon, with an error, rather than halve down to single seconds and page
// the whole account in each — also on a busy account, which counts a record more with every
// request, so that its halves never count exactly the parent's total, though each counts as many.
func TestSyncPlatformIgnoringTheTimeFilter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 2, 12, 0, 0, 0, flex.China)
	for name, growth := range map[string]int64{"a quiet account": 0, "records arriving": 1} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t)
			var calls atomic.Int64
			mt.RegisterResponder("POST", testBase+"/api/crmList", func(*http.Request) (*http.Response, error) {
				n := calls.Add(1)
				if n > 50 { // a storm: end it
					return httpmock.NewStringResponse(200, `{"code":10001,"msg":"storm"}`), nil
				}
				var rows []string // the whole account, whatever the window
				for id := range 3 + growth*n {
					rows = append(rows, crmRow(int(id)+1, now, now))
				}
				return crmReply(len(rows), rows), nil
			})
			rs, err := NewRecordSync(c, func(context.Context, *CallRecord) error { return nil }, WithWindowLimit(2))
			require.NoError(t, err)
			_, err = rs.Sweep(context.Background(), now.Add(-time.Hour), now)
			require.ErrorIs(t, err, ErrBadReply)
			assert.ErrorContains(t, err, "does not filter by start_create_at")
			assert.EqualValues(t, 3, calls.Load(), "the window and its two halves")
		})
	}
}

// One record that stays not final past the hold's bound must not take the others with it: a
// record not final for an hour, listed in the same sweep, is still waited for.
func TestSyncAStaleRecordDoesNotDropTheOtherHolds(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	now := time.Date(2026, 11, 2, 12, 0, 0, 0, flex.China)
	recent := now.Add(-time.Hour)
	mt.RegisterResponder("POST", testBase+"/api/crmList", func(*http.Request) (*http.Response, error) {
		return crmReply(2, []string{crmRow(2, recent, time.Time{}), crmRow(1, now.Add(-maxHold-time.Hour), time.Time{})}), nil
	})
	store := MemSyncStore(t, 10)
	rs, err := NewRecordSync(c, func(context.Context, *CallRecord) error { return nil }, WithSyncStore(store),
		WithSyncClock(func() time.Time { return now }), WithSweepLookBack(2*maxHold))
	require.NoError(t, err)
	_, err = rs.SweepOnce(context.Background())
	require.NoError(t, err)
	mark, err := store.Checkpoint(context.Background(), rs.name)
	require.NoError(t, err)
	assert.True(t, mark.Before(recent), "checkpoint %s passed a record not final for an hour (%s)", mark, recent)
}

// One listed row with neither sn nor id (a hostile or broken platform) cannot be delivered exactly
// once; it must not stop every sweep for ever, leaving every record after it undelivered and the
// checkpoint where it was.
func TestSyncARowWithoutKeyDoesNotStopEverySweep(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	now := time.Date(2026, 11, 2, 12, 0, 0, 0, flex.China)
	at := now.Add(-time.Hour)
	mt.RegisterResponder("POST", testBase+"/api/crmList", func(*http.Request) (*http.Response, error) {
		bad := fmt.Sprintf(`{"phone":"1","created_at":%q,"disconnected_at":%q}`, platformTime(at), platformTime(at))
		return crmReply(2, []string{bad, crmRow(1, at, at)}), nil
	})
	var got atomic.Int64
	store := MemSyncStore(t, 10)
	rs, err := NewRecordSync(c, func(context.Context, *CallRecord) error { got.Add(1); return nil }, WithSyncStore(store),
		WithSyncClock(func() time.Time { return now }))
	require.NoError(t, err)
	_, err = rs.SweepOnce(context.Background())
	require.NoError(t, err)
	assert.EqualValues(t, 2, got.Load(), "the row without a key, known by its content, and the record after it")
	_, err = rs.Sweep(context.Background(), at.Add(-time.Hour), now)
	require.NoError(t, err)
	assert.EqualValues(t, 2, got.Load(), "each once: the row without a key is known again")
}

// stallingLeases is a SyncStore whose first lease renewal blocks until its context ends, as a
// call on a connection that went silent does; the calls after it are answered.
type stallingLeases struct {
	*MemorySyncStore
	calls atomic.Int64
}

func (s *stallingLeases) Lease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	if s.calls.Add(1) == 2 {
		<-ctx.Done()
		return false, ctx.Err()
	}
	return s.MemorySyncStore.Lease(ctx, name, owner, ttl)
}

// A lease renewal stuck in the store must hold neither the sweep's return until the caller's
// context ends nor the sweep past its lease: with no renewal confirmed before the lease would
// lapse, another replica may sweep, and this one stops with ErrLeaseHeld.
func TestSyncStuckRenewalDoesNotHoldTheSweep(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	mt.RegisterResponder("POST", testBase+"/api/crmList", func(*http.Request) (*http.Response, error) {
		time.Sleep(100 * time.Millisecond) // long enough for a renewal to start
		return crmReply(0, nil), nil
	})
	store := &stallingLeases{MemorySyncStore: MemSyncStore(t, 10)}
	rs, err := NewRecordSync(c, func(context.Context, *CallRecord) error { return nil }, WithSyncStore(store),
		WithLeaseTTL(30*time.Millisecond), WithReconcileHorizon(0)) // a step of three requests, not of the horizon's counts
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	_, err = rs.SweepOnce(ctx)
	require.ErrorIs(t, err, ErrLeaseHeld, "the lease lapsed unrenewed: the sweep stopped")
	assert.Less(t, time.Since(start), 2*time.Second, "the sweep returned only when its caller's context ended")
}

// A sweep whose lease is lost while the sink writes ends with ErrLeaseHeld, as SweepOnce says,
// also when the sink's own error is all that comes back (a database driver answers a cancelled
// context with context.Canceled, not with its cause).
func TestSyncLeaseLostDuringTheSink(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	now := time.Date(2026, 11, 2, 12, 0, 0, 0, flex.China)
	at := now.Add(-time.Hour)
	mt.RegisterResponder("POST", testBase+"/api/crmList", func(*http.Request) (*http.Response, error) {
		return crmReply(1, []string{crmRow(1, at, at)}), nil
	})
	store := MemSyncStore(t, 10)
	var rs *RecordSync
	sink := func(ctx context.Context, _ *CallRecord) error {
		store.mu.Lock()
		store.leases[rs.name] = memLock{owner: "someone else", until: time.Now().Add(time.Hour)}
		store.mu.Unlock()
		<-ctx.Done()
		return ctx.Err()
	}
	var err error
	rs, err = NewRecordSync(c, sink, WithSyncStore(store), WithLeaseTTL(60*time.Millisecond),
		WithSyncClock(func() time.Time { return now }))
	require.NoError(t, err)
	_, err = rs.SweepOnce(t.Context())
	require.ErrorIs(t, err, ErrLeaseHeld)
}

// The lease is lost while page 0 is delivered and page 1's read ahead hangs (honouring its
// context): the sweep stops with ErrLeaseHeld, and page 1's request has returned before
// SweepOnce does; nothing of page 1 is offered.
func TestSyncLeaseLostWhileAPageReadAheadHangs(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 2, 12, 0, 0, 0, flex.China)
	at := now.Add(-time.Hour)
	var inFlight, returned atomic.Int32
	rt := callerRT(func(r *http.Request) (*http.Response, error) {
		b, _ := io.ReadAll(r.Body)
		var q struct {
			Page json.Number `json:"pageIndex"`
			Size json.Number `json:"pageSize"`
		}
		_ = json.Unmarshal(b, &q)
		if q.Page.String() == "1" {
			inFlight.Add(1)
			defer returned.Add(1)
			<-r.Context().Done()
			return nil, r.Context().Err()
		}
		if q.Size.String() == "2" {
			return crmReply(4, []string{crmRow(4, at, at), crmRow(3, at, at)}), nil
		}
		return crmReply(4, []string{crmRow(4, at, at)}), nil
	})
	c, err := New(testBase, WithAPIKey(testUserSN, testAPIKey), WithTransport(rt))
	require.NoError(t, err)
	store := MemSyncStore(t, 10)
	var rs *RecordSync
	var offered atomic.Int32
	sink := func(ctx context.Context, r *CallRecord) error {
		offered.Add(1)
		store.mu.Lock()
		store.leases[rs.name] = memLock{owner: "someone else", until: time.Now().Add(time.Hour)}
		store.mu.Unlock()
		<-ctx.Done()
		return ctx.Err()
	}
	rs, err = NewRecordSync(c, sink, WithSyncStore(store), WithLeaseTTL(60*time.Millisecond),
		WithSyncClock(func() time.Time { return now }), WithSyncPageSize(2))
	require.NoError(t, err)
	_, err = rs.SweepOnce(t.Context())
	require.ErrorIs(t, err, ErrLeaseHeld)
	require.NotZero(t, inFlight.Load(), "page 1 was read ahead")
	assert.Equal(t, inFlight.Load(), returned.Load(), "every page-1 request returned before SweepOnce")
	assert.EqualValues(t, 1, offered.Load(), "nothing offered after the lease was lost")
}

// callerRT answers on the caller's goroutine (httpmock runs a responder on a goroutine of its own,
// which outlives a cancelled request).
type callerRT func(*http.Request) (*http.Response, error)

func (f callerRT) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := f(r)
	if resp != nil {
		resp.Request = r
	}
	return resp, err
}
