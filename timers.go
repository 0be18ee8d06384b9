package digelao

import (
	"sync"
	"time"
)

// timers schedules what a RecordSync and a PushHandler renew while they work — the sweep lease,
// the claim of a delivery under way: time.AfterFunc, or a simulated clock in the tests, which runs
// what falls due as it is advanced.
type timers interface {
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// realTimers are the wall clock's.
type realTimers struct{}

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
