package digelao_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// The kinds of violation the checker reports.
const (
	vSkipped    = "skipped"     // a sweep returned nil over a window it did not read whole
	vLost       = "lost"        // a record never delivered, and never named by an error
	vTwice      = "twice"       // a record delivered more than once, the store never having forgotten
	vStuck      = "stuck"       // no sweep completed at the end of the quiet period
	vRoundTrips = "round-trips" // a push cost more store round trips than one claim and its completion
	vPlatform   = "platform"    // the platform got a request it does not serve, or the sink a record it never had
	vRunaway    = "runaway"     // the sweeps read more pages than a run may: the run was stopped
)

// simPushRoundTrips is what delivering a new pushed record may cost in store round trips: one
// exactly-once layer claims and completes once.
const simPushRoundTrips = 2

// violation is one thing the checker found wrong.
type violation struct {
	kind string
	msg  string
}

func (v violation) String() string { return v.kind + ": " + v.msg }

// simLoud collects what the SDK said loudly: the sn every error-level log line and every error a
// sweep returned named.
type simLoud struct {
	mu    sync.Mutex
	named map[string]bool
	trace func(format string, args ...any)
}

// note records the sns text names.
func (l *simLoud) note(text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for rest := text; ; {
		i := strings.Index(rest, "account|")
		if i < 0 {
			return
		}
		rest = rest[i:]
		if len(rest) >= len("account|")+32 {
			l.named[rest[:len("account|")+32]] = true
		}
		rest = rest[len("account|"):]
	}
}

// names reports whether text names a record.
func (l *simLoud) names(text string) bool { return strings.Contains(text, "account|") }

func (l *simLoud) said(sn string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.named[sn]
}

// simLogHandler is a slog.Handler that traces every error-level line and, when it counts, hands
// the line, its attributes included, to a simLoud.
type simLogHandler struct {
	loud   *simLoud
	counts bool   // the lines name records to the checker
	attrs  string // of With, formatted
}

func (h *simLogHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }

func (h *simLogHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	b.WriteString(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	h.loud.trace("log %s: %s", r.Level, r.Message)
	if h.counts {
		h.loud.note(b.String())
	}
	return nil
}

func (h *simLogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(h.attrs)
	for _, a := range attrs {
		b.WriteString(" " + a.String())
	}
	return &simLogHandler{loud: h.loud, counts: h.counts, attrs: b.String()}
}

func (h *simLogHandler) WithGroup(string) slog.Handler { return h }

// simDelivery is one call of the sink that returned nil.
type simDelivery struct {
	at      time.Time
	epoch   int // how many times the store had forgotten by then
	replica int
}

// simWindow is the window of a sweep, and when it ran.
type simWindow struct {
	at, from, to time.Time
}

// checkSweep checks one sweep that returned nil: every record listed all through it whose
// creation time its window holds came back in one of its pages — unless the list's changes left
// no sign in the pages (a removal and an insertion before the offset between the same two pages),
// which no pager can notice: the re-sweeps of its hour must deliver that one, as check verifies.
func (s *sim) checkSweep(obs *sweepObs, from, to time.Time) {
	from, to = from.Truncate(time.Second), to.Truncate(time.Second)
	for _, r := range s.platform.records {
		if r.created.Before(from) || r.created.After(to) || !r.listedThrough(obs.v0, s.platform.version) || obs.returned[r.sn] {
			continue
		}
		if obs.hidden(r.created) {
			// No pager could see it: the re-sweep of its hour must deliver it (checked at the end).
			s.tracef("skipped unseen: %s, by replica %d's sweep of %s–%s (%s, each removal hidden by an insertion)",
				r.sn, obs.replica.idx, simTime(from), simTime(to), s.changes(obs))
			continue
		}
		s.violate(vSkipped, "replica %d's sweep of %s–%s at %s returned nil, but never received %s (created %s), "+
			"listed all through it (%s)", obs.replica.idx, simTime(from), simTime(to), s.ago(s.clock.now()),
			r.sn, simTime(r.created), s.changes(obs))
	}
}

// changes says how the list changed during a sweep.
func (s *sim) changes(obs *sweepObs) string {
	if d := s.platform.version - obs.v0; d > 0 {
		return fmt.Sprintf("the list changed %d times while it paged", d)
	}
	return "the list did not change while it paged"
}

// check runs after the quiet period: every record on the platform was delivered once or named
// loudly, none twice unless the store forgot in between, and sweeps complete again.
func (s *sim) check() {
	for _, q := range s.platform.unexpected {
		s.violate(vPlatform, "the platform was sent %s", q)
	}
	for _, r := range s.platform.records {
		ds := s.delivered[r.sn]
		for i := 1; i < len(ds); i++ {
			if ds[i].epoch == ds[i-1].epoch {
				s.violate(vTwice, "%s (created %s) delivered %d times: by replica %d at %s and by replica %d at %s, "+
					"the store not having forgotten in between", r.sn, simTime(r.created), len(ds),
					ds[i-1].replica, s.ago(ds[i-1].at), ds[i].replica, s.ago(ds[i].at))
				break
			}
		}
		if len(ds) == 0 && r.exists() && !s.loud.said(r.sn) && r.listed.Sub(r.created) <= simHorizon {
			// A record listed later than the horizon is not delivered, as the README says.
			s.violate(vLost, "%s never delivered, and no error named it: %s", r.sn, s.history(r))
		}
	}
	// A sync whose every sweep fails naming the record it cannot get past is stuck loudly: a sink
	// refusing a record in a quiet account cannot be told from a sink that is down.
	if last := s.lastCompleted; last.Before(s.end.Add(-2*time.Hour)) && !s.loud.names(fmt.Sprint(s.lastErr)) {
		s.violate(vStuck, "no sweep completed in the last 2h of the quiet period (the last at %s); the last error: %v",
			s.ago(last), s.lastErr)
	}
}

// history tells what happened to r, for a lost record.
func (s *sim) history(r *simRecord) string {
	var b strings.Builder
	fmt.Fprintf(&b, "created %s", simTime(r.created))
	if late := r.listed.Sub(r.created); late > 0 {
		fmt.Fprintf(&b, ", listed %s later", late)
	}
	if r.refused {
		b.WriteString(", refused by the sink")
	}
	fmt.Fprintf(&b, "; %d push tries reached a replica, %d answered SUCCESS", r.tries, r.ok)
	fmt.Fprintf(&b, "; after it was listed, %d sweeps that completed and %d that failed had it in their window",
		r.heldBy(s.windows), r.heldBy(s.failed))
	return b.String()
}

// heldBy returns how many of ws ran after r was listed with r in their window.
func (r *simRecord) heldBy(ws []simWindow) int {
	n := 0
	for _, w := range ws {
		if !w.at.Before(r.listed) && !r.created.Before(w.from.Truncate(time.Second)) && !r.created.After(w.to) {
			n++
		}
	}
	return n
}

// violate records a violation; round trips are reported once a run.
func (s *sim) violate(kind, format string, args ...any) {
	if kind == vRoundTrips && s.reported[kind] {
		return
	}
	if s.reported == nil {
		s.reported = map[string]bool{}
	}
	s.reported[kind] = true
	v := violation{kind: kind, msg: fmt.Sprintf(format, args...)}
	s.violations = append(s.violations, v)
	s.tracef("VIOLATION %s", v)
}
