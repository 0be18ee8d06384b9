package digelao

import (
	"context"
	"errors"
	"sync"
	"time"
)

// timers schedules what a RecordSync and a PushHandler renew while they work — the sweep lease,
// the claim of a delivery under way: time.AfterFunc, or a simulated clock in the tests, which runs
// what falls due as it is advanced.
type timers interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// realTimers are the wall clock's.
type realTimers struct{}

func (realTimers) Now() time.Time                                  { return time.Now() }
func (realTimers) AfterFunc(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }

// every calls f each d (at least a millisecond) until stop is called. stop waits for a call under
// way, so that nothing f does outlives it.
func every(t timers, d time.Duration, f func()) (stop func()) {
	d = max(d, time.Millisecond)
	var (
		mu      sync.Mutex
		stopped bool
		cancel  func() bool
		busy    sync.WaitGroup
		run     func()
	)
	run = func() {
		mu.Lock()
		if stopped {
			mu.Unlock()
			return
		}
		busy.Add(1)
		mu.Unlock()
		defer busy.Done()
		f()
		mu.Lock()
		if !stopped {
			cancel = t.AfterFunc(d, run)
		}
		mu.Unlock()
	}
	mu.Lock()
	cancel = t.AfterFunc(d, run)
	mu.Unlock()
	return func() {
		mu.Lock()
		stopped = true
		c := cancel
		mu.Unlock()
		c()
		busy.Wait()
	}
}

// keepAlive keeps what lives ttl without renewal — a claim, a lease, taken just now — until stop:
// it renews it every third of ttl, each renewal bounded by that third, and calls lost once, the
// moment it is known lost: a renewal says another holds it (with err, or nil), or nine tenths of
// ttl have passed since the latest renewal that was confirmed was sent (the store unreachable, or
// slow) — before the store would let another take it.
func keepAlive(t timers, ttl time.Duration, renew func(context.Context) (bool, error), lost func(err error)) (stop func()) {
	var (
		mu       sync.Mutex
		gone     bool
		deadline func() bool
	)
	give := func(err error) {
		mu.Lock()
		if gone {
			mu.Unlock()
			return
		}
		gone = true
		mu.Unlock()
		lost(err)
	}
	arm := func(from time.Time) { // under mu
		if deadline != nil {
			deadline()
		}
		deadline = t.AfterFunc(from.Add(ttl*9/10).Sub(t.Now()), func() { give(errUnconfirmed) })
	}
	mu.Lock()
	arm(t.Now())
	mu.Unlock()
	renewals := every(t, ttl/3, func() {
		sent := t.Now()
		ctx, cancel := context.WithTimeout(context.Background(), max(ttl/3, time.Millisecond))
		held, err := renew(ctx)
		cancel()
		switch {
		case err == nil && held:
			mu.Lock()
			if !gone {
				arm(sent)
			}
			mu.Unlock()
		case err == nil:
			give(nil)
		}
	})
	return func() {
		renewals()
		mu.Lock()
		gone = true
		deadline()
		mu.Unlock()
	}
}

// errUnconfirmed is why keepAlive gave up what it kept: no renewal was confirmed in time.
var errUnconfirmed = errors.New("no renewal confirmed before it would lapse")
