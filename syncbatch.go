package digelao

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/digelao-go/digelao/internal/transport"
)

// maxPushBatch bounds the pushes of one Deliver: a sweep's page, by default.
const maxPushBatch = DefaultAllPageSize

// batchTime bounds the time a batch is expected to take, by the time its pushes took of late: so
// that a sink slow per record makes small batches, which end before the platform gives up on them.
// A batch whose pushes have deadlines is bounded by half the time the nearest leaves, too.
const batchTime = 250 * time.Millisecond

// firstBatch bounds the batches before one was timed.
const firstBatch = 16

// WithPushBatching delivers the pushes of a RecordSync on a CommitStore in at most lanes
// transactions at once: a push that finds every lane busy waits, and is then delivered with the
// pushes that waited with it, in one CommitStore.Deliver — a database's group commit, many pushes
// a commit. Under 64 concurrent posters into PostgreSQL, 4 lanes take more pushes a second than a
// handler doing one bare upsert each (BENCHMARKS.md); without it every push is a transaction of its
// own, and pushes wait for the connections of the store's pool instead.
//
// What a batch changes for the sink: the pushes of a batch are offered in turn, so one slow record
// holds the others of its batch (not those of the other lanes); the sink's ctx carries the values
// of the batch's first push's ctx, and the latest deadline of its pushes when they all have one,
// and ends once all of them ended. A push delivered alone keeps its own ctx. Each record commits
// with its own mark, and a record refused fails its own push alone; a failure of the transaction
// fails every push in it. A sink must not push to a sync and wait for it: with every lane busy,
// the push waits for a batch that waits for the sink (the record reaches the sweeps anyway); nor
// end its goroutine (runtime.Goexit): it serves another push of the batch. Batches help a sink that does
// little a record, as Store.Sink(nil) does: a batch is bounded by what its pushes took of late (a
// quarter of a second's worth, and half the time their nearest deadline leaves), so that a slow
// sink makes batches of a few pushes, but each waits for those before it in the batch.
func WithPushBatching(lanes int) SyncOption {
	return func(c *syncSettings) error {
		if lanes < 1 || lanes > 1024 {
			return invalid("WithPushBatching", "lanes must be 1–1024, got %d", lanes)
		}
		c.lanes = lanes
		return nil
	}
}

// pushBatches queues the pushes of a RecordSync with WithPushBatching. No goroutine of its own
// delivers them: the push that finds a lane free delivers its batch, then hands the lane to the
// first push waiting, if any.
type pushBatches struct {
	mu      sync.Mutex
	running int          // lanes busy; every one is, while pushes wait
	waiting []*pushCall  // in order of arrival
	perPush atomic.Int64 // the time a push of a batch took of late, in nanoseconds; 0: none yet
}

// pushCall is one push in pushBatches.
type pushCall struct {
	ctx  context.Context
	rec  *CallRecord
	res  result
	err  error
	done chan struct{} // closed once res and err are set
	lead chan struct{} // closed, once it left the queue, when this push is to deliver the next batch
}

// inBatchKey marks the context a batch's sink runs with: a push the sink makes with it, to the
// same sync, is delivered apart.
type inBatchKey struct{ rs *RecordSync }

// pushBatched delivers r in a lane, with the pushes that waited for it with r.
func (rs *RecordSync) pushBatched(ctx context.Context, r *CallRecord) (result, error) {
	if ctx.Value(inBatchKey{rs}) != nil || rs.keyOf(r) == "" {
		return rs.deliverOne(ctx, r) // the error of a record without a key is its own
	}
	b := &rs.pushes
	b.mu.Lock()
	if b.running < rs.cfg.lanes {
		b.running++
		b.mu.Unlock()
		defer rs.handOn()
		return rs.deliverOne(context.WithValue(ctx, inBatchKey{rs}, true), r)
	}
	c := &pushCall{ctx: ctx, rec: r, done: make(chan struct{}), lead: make(chan struct{})}
	b.waiting = append(b.waiting, c)
	b.mu.Unlock()
	select {
	case <-c.done:
		return c.res, c.err
	case <-c.lead:
	case <-ctx.Done():
		b.mu.Lock()
		if i := slices.Index(b.waiting, c); i >= 0 {
			b.waiting = slices.Delete(b.waiting, i, i+1) // not taken yet, nor leading: it leaves
			b.mu.Unlock()
			return result{}, transport.ContextErr(ctx)
		}
		b.mu.Unlock()
		select { // taken into a batch, or made to deliver the next one
		case <-c.done:
			return c.res, c.err
		case <-c.lead:
		}
	}
	rs.deliverBatch(c)
	return c.res, c.err
}

// handOn ends the delivery of a lane: it hands the lane to the first push waiting, taking it out
// of the queue, or frees it.
func (rs *RecordSync) handOn() {
	b := &rs.pushes
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.waiting) == 0 {
		b.running--
		return
	}
	next := b.waiting[0]
	b.waiting = slices.Delete(b.waiting, 0, 1)
	close(next.lead)
}

// deliverBatch delivers, in one Deliver, lead and the pushes waiting after it — their share when
// other lanes will take the rest, and maxPushBatch in all at most — and hands the lane on. The
// pushes of the batch are answered whatever happens to the delivery: an error, a panic, a sink
// that ends its goroutine.
func (rs *RecordSync) deliverBatch(lead *pushCall) {
	b := &rs.pushes
	b.mu.Lock()
	share := (len(b.waiting) + rs.cfg.lanes) / rs.cfg.lanes // of lead and the waiting, rounded up
	batch := append([]*pushCall{lead}, b.waiting[:min(share, maxPushBatch)-1]...)
	batch = batch[:b.fits(batch)]
	b.waiting = slices.Delete(b.waiting, 0, len(batch)-1)
	b.mu.Unlock()
	start := time.Now()
	err := fmt.Errorf("digelao: sync store delivery of %d pushes did not return", len(batch))
	var res []result
	defer func() {
		b.took(time.Since(start), len(batch)) // before the lane is handed on: the next batch reads it
		for i, c := range batch {
			if err != nil {
				c.err = err
			} else {
				c.res = res[i]
			}
			close(c.done)
		}
		rs.handOn()
	}()
	ctx, stop := batchContext(batch)
	defer stop()
	recs := make([]*CallRecord, len(batch))
	for i, c := range batch {
		recs[i] = c.rec
	}
	res, err = rs.deliverRecovered(context.WithValue(ctx, inBatchKey{rs}, true), recs)
}

// fits returns how many of the pushes of batch, from the first, one batch should hold: batchTime's
// worth by the time a push of a batch took of late, and half the time the nearest deadline among
// them leaves — one at least; firstBatch until a batch was timed.
func (b *pushBatches) fits(batch []*pushCall) int {
	per := time.Duration(b.perPush.Load())
	if per <= 0 {
		return min(len(batch), firstBatch)
	}
	budget := batchTime
	for _, c := range batch {
		if d, ok := c.ctx.Deadline(); ok {
			budget = min(budget, time.Until(d)/2)
		}
	}
	return min(len(batch), max(1, int(budget/per)))
}

// took notes that a batch of n pushes took d.
func (b *pushBatches) took(d time.Duration, n int) {
	sample := int64(d) / int64(n)
	if old := b.perPush.Load(); old > 0 {
		sample = (3*old + sample) / 4
	}
	b.perPush.Store(sample)
}

// deliverOne delivers r by itself.
func (rs *RecordSync) deliverOne(ctx context.Context, r *CallRecord) (result, error) {
	res, err := rs.deliver(ctx, []*CallRecord{r}, nil)
	if err != nil {
		return result{}, err
	}
	return res[0], nil
}

// deliverRecovered delivers recs, turning a panic of the store into the batch's error.
func (rs *RecordSync) deliverRecovered(ctx context.Context, recs []*CallRecord) (res []result, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, fmt.Errorf("digelao: sync store delivery panicked: %v", p)
		}
	}()
	return rs.deliver(ctx, recs, nil)
}

// batchContext is the context of a batch: a push's own, for a batch of one; else the values of
// its first push's, with the latest deadline of its pushes when they all have one, ending once
// the contexts of all its pushes ended — a push whose client went away does not fail the others.
func batchContext(batch []*pushCall) (context.Context, func()) {
	if len(batch) == 1 {
		return batch[0].ctx, func() {}
	}
	ctx := context.WithoutCancel(batch[0].ctx)
	var latest time.Time
	for _, c := range batch {
		d, ok := c.ctx.Deadline()
		if !ok {
			latest = time.Time{}
			break
		}
		if d.After(latest) {
			latest = d
		}
	}
	cancelDeadline := func() {}
	if !latest.IsZero() {
		ctx, cancelDeadline = context.WithDeadline(ctx, latest)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	var live atomic.Int64
	live.Store(int64(len(batch)))
	stops := make([]func() bool, len(batch))
	for i, c := range batch {
		stops[i] = context.AfterFunc(c.ctx, func() {
			if live.Add(-1) == 0 && (latest.IsZero() || time.Now().Before(latest)) {
				cancel(context.Cause(c.ctx)) // else the deadline ends it, as DeadlineExceeded
			}
		})
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel(nil)
		cancelDeadline()
	}
}
