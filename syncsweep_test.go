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

// aheadFront stands between a sync and the simulated platform: it can strip the total from
// crmList replies (a platform that answers without one, which pages() supports), and run act
// on a request for page 1 of a window.
type aheadFront struct {
	next     http.RoundTripper
	uncount  bool
	onPage1  func()
	page1Hit atomic.Int32
}

var totalMember = regexp.MustCompile(`"total":\d+,`)

func (f *aheadFront) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	if q, err := readCRMQuery(body); err == nil && q.page == 1 && f.onPage1 != nil {
		f.page1Hit.Add(1)
		f.onPage1()
	}
	resp, err := f.next.RoundTrip(req)
	if err != nil || !f.uncount {
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
	front := &aheadFront{next: b.platform, uncount: true, onPage1: func() {
		if once.CompareAndSwap(false, true) {
			runtime.Goexit()
		}
	}}
	db := newSinkDB()
	rs := b.syncVia(front, db.upsert, digelao.WithSyncPageSize(5), digelao.WithSweepLag(0))
	var got any
	func() {
		defer func() { got = recover() }()
		_, _ = rs.SweepOnce(t.Context())
	}()
	require.EqualValues(t, 1, front.page1Hit.Load(), "page 1 was asked for once")
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
	front := &aheadFront{next: b.platform, onPage1: func() { panic("instrumentation bug") }}
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
