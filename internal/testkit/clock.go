package testkit

import (
	"slices"
	"sync"
	"time"
)

// Clock is a simulated clock: it stands still until Advance moves it, and runs the functions
// scheduled with AfterFunc that fall due, in order, on the goroutine that advances it. A test that
// drives everything from one goroutine replays exactly.
type Clock struct {
	mu    sync.Mutex
	now   time.Time
	seq   uint64
	timer []*clockTimer
}

type clockTimer struct {
	at  time.Time
	seq uint64
	f   func()
}

// NewClock returns a Clock at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc schedules f at d from now; stop unschedules it, reporting whether it was still
// scheduled.
func (c *Clock) AfterFunc(d time.Duration, f func()) (stop func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &clockTimer{at: c.now.Add(d), seq: c.seq, f: f}
	c.timer = append(c.timer, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		i := slices.Index(c.timer, t)
		if i < 0 {
			return false
		}
		c.timer = slices.Delete(c.timer, i, i+1)
		return true
	}
}

// Advance moves the clock by d, running each function that falls due at its own time, in order
// of time and then of scheduling. A function may schedule more, which run too when due.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	for {
		i := c.next(end)
		if i < 0 {
			break
		}
		t := c.timer[i]
		c.timer = slices.Delete(c.timer, i, i+1)
		c.now = t.at
		c.mu.Unlock()
		t.f()
		c.mu.Lock()
	}
	c.now = end
	c.mu.Unlock()
}

// next returns the index of the earliest timer due by end, or -1.
func (c *Clock) next(end time.Time) int {
	best := -1
	for i, t := range c.timer {
		if t.at.After(end) {
			continue
		}
		if best < 0 || t.at.Before(c.timer[best].at) || (t.at.Equal(c.timer[best].at) && t.seq < c.timer[best].seq) {
			best = i
		}
	}
	return best
}

// Pending returns how many functions are scheduled.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timer)
}
