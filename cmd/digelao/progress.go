package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// meterTick is how often a meter rewrites its line.
const meterTick = 200 * time.Millisecond

// startMeter shows status() on w at once, then rewrites the line every meterTick, until the returned stop is
// called — when on, that is when w is a terminal: piped or redirected, long work shows nothing.
// A status of "" shows nothing yet. stop(true) shows the last status and ends its line; stop(false)
// clears the line — a phase over, or a failure, which shows no total; a second stop does nothing.
func startMeter(w io.Writer, on bool, status func() string) (stop func(final bool)) {
	if !on {
		return func(bool) {}
	}
	width := 0 // of the line shown, which a shorter one must cover
	show := func() {
		if s := status(); s != "" {
			fmt.Fprintf(w, "\r%s%s", s, strings.Repeat(" ", max(0, width-displayWidth(s))))
			width = displayWidth(s)
		}
	}
	show()
	done, finished := make(chan bool), make(chan struct{})
	var once sync.Once
	go func() {
		defer close(finished)
		t := time.NewTicker(meterTick)
		defer t.Stop()
		for {
			select {
			case final := <-done:
				if final {
					show()
				}
				switch {
				case width == 0:
				case final:
					fmt.Fprintln(w)
				default:
					fmt.Fprintf(w, "\r%s\r", strings.Repeat(" ", width))
				}
				return
			case <-t.C:
				show()
			}
		}
	}()
	return func(final bool) { once.Do(func() { done <- final; <-finished }) }
}

// byteCount counts the bytes written through it, for a meter.
type byteCount struct{ n atomic.Int64 }

func (c *byteCount) Write(b []byte) (int, error) {
	c.n.Add(int64(len(b)))
	return len(b), nil
}

// rate is a download's status: the bytes so far and their rate since began.
func (c *byteCount) rate(began time.Time) func() string {
	return func() string {
		n := c.n.Load()
		if n == 0 {
			return ""
		}
		return fmt.Sprintf("%s downloaded, %s/s", size(n), size(int64(float64(n)/max(time.Since(began).Seconds(), 0.001))))
	}
}

// statusText is a status that work sets as it goes, for a meter.
type statusText struct{ p atomic.Pointer[string] }

func (s *statusText) set(format string, args ...any) {
	t := fmt.Sprintf(format, args...)
	s.p.Store(&t)
}

func (s *statusText) get() string {
	if t := s.p.Load(); t != nil {
		return *t
	}
	return ""
}
