package digelao_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
)

// A sweep reads a window's next page while it delivers the page before: the sink of page 0 waits
// until page 1 has been asked for. Read one after the other, it would wait for ever.
func TestSyncReadsThePageAheadWhileItDelivers(t *testing.T) {
	t.Parallel()
	b := newSyncBench(t)
	b.calls(10, simStart, time.Minute)
	b.clock.advance(simStart.Add(time.Hour))
	asked := make(chan struct{})
	b.platform.beforePage = func(q crmQuery, _ []*simRecord) {
		if q.page == 1 && q.size == 5 {
			close(asked)
		}
	}
	db := newSinkDB()
	rs := b.sync(func(ctx context.Context, r *digelao.CallRecord) error {
		if db.calls == 0 {
			select {
			case <-asked:
			case <-time.After(10 * time.Second):
				return errors.New("page 1 was not asked for while page 0 was delivered")
			}
		}
		return db.upsert(ctx, r)
	}, digelao.WithSyncPageSize(5), digelao.WithSweepLag(0))
	_, err := rs.SweepOnce(t.Context())
	require.NoError(t, err)
	records, repeated := db.counts()
	assert.Equal(t, 10, records)
	assert.Zero(t, repeated)
}

// pageGate stands between a sync and the platform: on a request for page 1 of a window it runs
// page1, whose error fails the request (it may also wait, panic or end the goroutine); with
// uncount it strips the total from every crmList reply, as a platform that answers without one.
// ended counts the requests for page 1 that returned.
type pageGate struct {
	next    http.RoundTripper
	page1   func(context.Context) error
	uncount bool
	asked   atomic.Int32
	ended   atomic.Int32
}

var totalMember = regexp.MustCompile(`"total":\d+,`)

func (g *pageGate) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	if q, err := readCRMQuery(body); err == nil && q.page == 1 && g.page1 != nil {
		g.asked.Add(1)
		defer g.ended.Add(1)
		if err := g.page1(req.Context()); err != nil {
			return nil, err
		}
	}
	resp, err := g.next.RoundTrip(req)
	if err != nil || !g.uncount {
		return resp, err
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	b = totalMember.ReplaceAll(b, nil)
	resp.Body, resp.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
	return resp, nil
}

// hang is a page1 that waits for its request to end.
func hang(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

// A page read ahead whose request hangs ends with the sweep: a sweep cancelled while it waits
// returns at once, and the request has returned before the sweep does — nothing outlives it.
func TestSyncEndsThePageReadAheadWithTheSweep(t *testing.T) {
	t.Parallel()
	b := newSyncBench(t)
	b.calls(10, simStart, time.Minute)
	b.clock.advance(simStart.Add(time.Hour))
	gate := &pageGate{next: b.platform, page1: hang}
	ctx, cancel := context.WithCancel(t.Context())
	db := newSinkDB()
	rs := b.syncVia(gate, func(ctx context.Context, r *digelao.CallRecord) error {
		if db.calls == 4 { // page 0's last record: the sweep will wait for page 1
			cancel()
		}
		return db.upsert(ctx, r)
	}, digelao.WithSyncPageSize(5), digelao.WithSweepLag(0))
	_, err := rs.SweepOnce(ctx)
	require.ErrorIs(t, err, context.Canceled)
	assert.EqualValues(t, 1, gate.ended.Load(), "the request of page 1 returned before the sweep")
	assert.Equal(t, 5, db.calls, "page 0 only")
}

// A page read ahead that fails fails the sweep after the page before it is delivered, and the
// checkpoint waits: the next sweep delivers the rest, and nothing twice.
func TestSyncFailsWhenThePageReadAheadFails(t *testing.T) {
	t.Parallel()
	b := newSyncBench(t)
	b.calls(10, simStart, time.Minute)
	b.clock.advance(simStart.Add(time.Hour))
	down := true
	gate := &pageGate{next: b.platform, page1: func(context.Context) error {
		if down {
			return errors.New("connection reset by peer")
		}
		return nil
	}}
	db := newSinkDB()
	rs := b.syncVia(gate, db.upsert, digelao.WithSyncPageSize(5), digelao.WithSweepLag(0))
	_, err := rs.SweepOnce(t.Context())
	require.ErrorContains(t, err, "connection reset by peer")
	records, _ := db.counts()
	assert.Equal(t, 5, records, "page 0, delivered before page 1 was needed")

	down = false
	b.clock.advance(b.clock.now().Add(5 * time.Minute))
	_, err = rs.SweepOnce(t.Context())
	require.NoError(t, err)
	records, repeated := db.counts()
	assert.Equal(t, 10, records)
	assert.Zero(t, repeated)
}

// A panic of the caller's RoundTripper as it reads a page ahead reaches the caller of the sweep, as
// when pages were read on its goroutine — not the process, which it would end — with the stack of
// the reading, and an error value (a runtime.Error, http.ErrAbortHandler) that errors.Is finds.
func TestSyncRaisesAPanicOfThePageReadAheadOnItsCaller(t *testing.T) {
	t.Parallel()
	for _, value := range []any{"instrumentation bug", http.ErrAbortHandler} {
		b := newSyncBench(t)
		b.calls(10, simStart, time.Minute)
		b.clock.advance(simStart.Add(time.Hour))
		gate := &pageGate{next: b.platform, page1: func(context.Context) error { panic(value) }}
		rs := b.syncVia(gate, newSinkDB().upsert, digelao.WithSyncPageSize(5), digelao.WithSweepLag(0))
		var got any
		func() {
			defer func() { got = recover() }()
			_, _ = rs.SweepOnce(t.Context())
		}()
		require.NotNil(t, got, "the sweep returned")
		assert.Contains(t, fmt.Sprint(got), fmt.Sprint(value))
		assert.Contains(t, fmt.Sprint(got), "pageGate", "with the stack of the reading")
		if err, ok := value.(error); ok {
			assert.ErrorIs(t, got.(error), err)
		}
	}
}

// A sink that is down stops the sweep at page 0: the page read ahead is dropped, none of its
// records offered.
func TestSyncDropsThePageReadAheadWhenTheSinkIsDown(t *testing.T) {
	t.Parallel()
	b := newSyncBench(t)
	recs := b.calls(10, simStart, time.Minute)
	b.clock.advance(simStart.Add(time.Hour))
	asked := make(chan struct{})
	b.platform.beforePage = func(q crmQuery, _ []*simRecord) {
		if q.page == 1 {
			close(asked)
		}
	}
	var offered []string
	rs := b.sync(func(_ context.Context, r *digelao.CallRecord) error {
		<-asked // page 1 is read
		offered = append(offered, r.SN)
		return errors.New("connection refused")
	}, digelao.WithSyncPageSize(5), digelao.WithSweepLag(0))
	_, err := rs.SweepOnce(t.Context())
	require.ErrorContains(t, err, "taken for down")
	older := map[string]bool{} // page 1: the five oldest
	for _, r := range recs[:5] {
		older[r.sn] = true
	}
	require.NotEmpty(t, offered)
	for _, sn := range offered {
		assert.False(t, older[sn], "%s, of the page read ahead, was offered", sn)
	}
}

// A RoundTripper that ends the goroutine reading a page ahead (runtime.Goexit: t.FailNow in an
// instrumented transport) leaves no page and no error: taken for an empty page, it would end a
// list that comes without a total, and the sweep would store a checkpoint past records never
// offered. The sweep raises it as a panic on its caller instead, and stores nothing past them.
func TestSyncRaisesTheEndOfThePageReadAheadsGoroutine(t *testing.T) {
	t.Parallel()
	b := newSyncBench(t)
	b.calls(10, simStart, time.Minute)
	b.clock.advance(simStart.Add(time.Hour))
	var once atomic.Bool
	front := &pageGate{next: b.platform, uncount: true, page1: func(context.Context) error {
		if once.CompareAndSwap(false, true) {
			runtime.Goexit()
		}
		return nil
	}}
	db := newSinkDB()
	rs := b.syncVia(front, db.upsert, digelao.WithSyncPageSize(5), digelao.WithSweepLag(0))
	var got any
	func() {
		defer func() { got = recover() }()
		_, _ = rs.SweepOnce(t.Context())
	}()
	require.EqualValues(t, 1, front.asked.Load(), "page 1 was asked for once")
	require.NotNil(t, got, "the sweep returned")
	assert.Contains(t, fmt.Sprint(got), "runtime.Goexit")
	st, err := rs.SweepOnce(t.Context()) // page 1 read on the sweep's goroutine this time
	require.NoError(t, err)
	assert.Len(t, db.bySN, 10, "every record delivered, checkpoint %s", st.Checkpoint)
}

// panicOn is a slog.Handler that panics on a message holding substr, on whatever goroutine logs it.
type panicOn struct {
	slog.Handler
	substr string
	raised *atomic.Int32
}

func (h panicOn) Handle(ctx context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.substr) {
		h.raised.Add(1)
		panic("log handler bug")
	}
	return h.Handler.Handle(ctx, r)
}

// A panic on the sweep's goroutine (here the caller's log handler, as the sink's refusal is logged)
// while the page read ahead panicked too: the caller that recovers sees the panic that stopped
// the sweep, not the reading's in its place.
func TestSyncRaisesItsOwnPanicOverThePageReadAheads(t *testing.T) {
	t.Parallel()
	b := newSyncBench(t)
	b.calls(10, simStart, time.Minute)
	b.clock.advance(simStart.Add(time.Hour))
	front := &pageGate{next: b.platform, page1: func(context.Context) error { panic("instrumentation bug") }}
	c, err := digelao.New(simBase, digelao.WithAPIKey(simUser, simKey), digelao.WithTransport(front))
	require.NoError(t, err)
	var raised atomic.Int32
	log := slog.New(panicOn{Handler: slog.NewTextHandler(io.Discard, nil), substr: "the sink refused a record", raised: &raised})
	rs, err := digelao.NewRecordSync(c, func(context.Context, *digelao.CallRecord) error {
		return errors.New("constraint violation")
	}, digelao.WithSyncStore(digelao.MemSyncStore(t, 100, digelao.WithMemoryClock(b.clock.now))),
		digelao.WithSyncClock(b.clock.now), digelao.WithSyncTimers(b.clock), digelao.WithSyncLogger(log),
		digelao.WithSyncPageSize(5), digelao.WithSweepLag(0))
	require.NoError(t, err)
	var got any
	func() {
		defer func() { got = recover() }()
		_, _ = rs.SweepOnce(t.Context())
	}()
	require.NotNil(t, got)
	require.EqualValues(t, 1, raised.Load(), "the log handler panicked on the sweep's goroutine")
	assert.Contains(t, fmt.Sprint(got), "log handler bug", "the panic that stopped the sweep reaches its caller")
}

// Pages of one and two records, each read ahead on a goroutine of its own, of a list that changes
// between pages (rows removed, rows listed late before and after the offset) for two hours; then
// a day and more of steps. Every record that exists at the end is delivered exactly once, and no
// record ever twice.
func TestSyncReadsAheadAChangingListExactlyOnce(t *testing.T) {
	t.Parallel()
	for _, size := range []int{1, 2} {
		for seed := range uint64(4) {
			t.Run(fmt.Sprintf("size%d/seed%d", size, seed), func(t *testing.T) {
				t.Parallel()
				b := newSyncBench(t)
				b.calls(30, simStart, 4*time.Minute)
				b.clock.advance(simStart.Add(2 * time.Hour))
				rng := rand.New(rand.NewPCG(seed, uint64(size)))
				var mu sync.Mutex
				mutating, changes := true, 0
				b.platform.beforePage = func(q crmQuery, rows []*simRecord) {
					mu.Lock()
					defer mu.Unlock()
					if !mutating || len(rows) == 0 {
						return
					}
					switch rng.IntN(6) {
					case 0:
						changes++
						b.platform.remove(rows[rng.IntN(len(rows))])
					case 1, 2: // listed late, anywhere in the window
						changes++
						at := rows[rng.IntN(len(rows))].created.Add(-time.Duration(rng.IntN(60)) * time.Second)
						b.platform.list(b.platform.create(at, 7))
					}
				}
				db := newSinkDB()
				rs := b.sync(db.upsert, digelao.WithSyncPageSize(size), digelao.WithSweepLag(0))
				for i := range 400 {
					if i == 30 {
						mu.Lock()
						mutating = false
						mu.Unlock()
					}
					_, _ = rs.SweepOnce(t.Context())
					b.clock.advance(b.clock.now().Add(5 * time.Minute))
				}
				db.mu.Lock()
				defer db.mu.Unlock()
				require.NotZero(t, changes)
				t.Logf("%d changes while paged, %d records", changes, len(b.platform.records))
				for _, r := range b.platform.records {
					n := db.bySN[r.sn]
					if n > 1 || r.exists() && n != 1 {
						t.Errorf("%s (exists %v, created %s): delivered %d times", r.sn, r.exists(), r.created, n)
					}
				}
			})
		}
	}
}
