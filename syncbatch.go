package digelao

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// pushBatches groups the pushes a RecordSync on a CommitStore takes at once: those that arrive
// while a delivery of pushes runs wait for it to end, and are then delivered together, in one
// CommitStore.Deliver — one transaction for many pushes, as a sweep delivers a page — up to
// maxPushBatch at a time. No goroutine of its own runs them: the push that finds none running
// delivers its batch, then hands the next batch to the first push waiting, the way a database's
// group commit hands its leadership on. A push alone is delivered at once, by itself.
type pushBatches struct {
	mu      sync.Mutex
	running bool        // a push is delivering a batch
	waiting []*pushCall // the pushes that arrived meanwhile, in order
}

// maxPushBatch bounds the pushes of one Deliver: a sweep's page, by default.
const maxPushBatch = DefaultAllPageSize

// pushCall is one push waiting in pushBatches.
type pushCall struct {
	ctx  context.Context
	rec  *CallRecord
	res  result
	err  error
	done chan struct{} // closed once res and err are set
	lead chan struct{} // closed when this push is to deliver the next batch; guarded by mu
}

// inBatchKey marks the context a batch's sink runs with: a push the sink makes itself, to the same
// sync, is delivered apart — it would otherwise wait for the batch that waits for it.
type inBatchKey struct{ rs *RecordSync }

// pushBatched delivers r with the pushes that arrive with it, and returns its result.
func (rs *RecordSync) pushBatched(ctx context.Context, r *CallRecord) (result, error) {
	if ctx.Value(inBatchKey{rs}) != nil || rs.keyOf(r) == "" {
		return rs.deliverOne(ctx, r) // the error of a record without a key is its own
	}
	b := &rs.pushes
	c := &pushCall{ctx: ctx, rec: r, done: make(chan struct{}), lead: make(chan struct{})}
	b.mu.Lock()
	b.waiting = append(b.waiting, c)
	if !b.running {
		b.running = true
		b.mu.Unlock()
		rs.deliverBatch()
		<-c.done // its own push was in the batch: the first of the queue
		return c.res, c.err
	}
	b.mu.Unlock()
	select {
	case <-c.done:
		return c.res, c.err
	case <-c.lead:
	case <-ctx.Done():
		b.mu.Lock()
		if i := slices.Index(b.waiting, c); i >= 0 && !isClosed(c.lead) {
			b.waiting = slices.Delete(b.waiting, i, i+1) // not taken yet, nor leading: it leaves
			b.mu.Unlock()
			return result{}, ctx.Err()
		}
		b.mu.Unlock()
		select { // taken into a batch, or made to deliver the next one
		case <-c.done:
			return c.res, c.err
		case <-c.lead:
		}
	}
	rs.deliverBatch()
	<-c.done
	return c.res, c.err
}

// deliverBatch delivers the first maxPushBatch pushes waiting, in one Deliver, and hands the rest
// to the first of them left, or ends the running when none is.
func (rs *RecordSync) deliverBatch() {
	b := &rs.pushes
	b.mu.Lock()
	n := min(len(b.waiting), maxPushBatch)
	batch := slices.Clone(b.waiting[:n])
	b.waiting = slices.Delete(b.waiting, 0, n)
	b.mu.Unlock()

	ctx, stop := batchContext(batch)
	ctx = context.WithValue(ctx, inBatchKey{rs}, true)
	recs := make([]*CallRecord, len(batch))
	for i, c := range batch {
		recs[i] = c.rec
	}
	res, err := rs.deliverRecovered(ctx, recs)
	stop()
	for i, c := range batch {
		if err != nil {
			c.err = err
		} else {
			c.res = res[i]
		}
		close(c.done)
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.waiting) == 0 {
		b.running = false
		return
	}
	close(b.waiting[0].lead)
}

// deliverOne delivers r by itself.
func (rs *RecordSync) deliverOne(ctx context.Context, r *CallRecord) (result, error) {
	res, err := rs.deliver(ctx, []*CallRecord{r}, nil)
	if err != nil {
		return result{}, err
	}
	return res[0], nil
}

// deliverRecovered delivers recs, turning a panic of the store into the batch's error: the pushes
// waiting for the batch, and those after it, must not wait for ever.
func (rs *RecordSync) deliverRecovered(ctx context.Context, recs []*CallRecord) (res []result, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, fmt.Errorf("digelao: sync store delivery panicked: %v", p)
		}
	}()
	return rs.deliver(ctx, recs, nil)
}

// batchContext is the context of a batch: the values of its first push's, ending once the
// contexts of all its pushes ended — a push whose client went away does not fail the others.
func batchContext(batch []*pushCall) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(batch[0].ctx))
	var live atomic.Int64
	live.Store(int64(len(batch)))
	stops := make([]func() bool, len(batch))
	for i, c := range batch {
		stops[i] = context.AfterFunc(c.ctx, func() {
			if live.Add(-1) == 0 {
				cancel(context.Cause(c.ctx))
			}
		})
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel(nil)
	}
}

// isClosed reports whether ch is closed.
func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
