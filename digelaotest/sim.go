package digelaotest

import (
	"container/heap"
	"context"
	"errors"
	"hash/fnv"
	"math/rand/v2"
	"time"
)

// The simulation is a queue of events, each with a simulated time (what timestamps show) and a
// real due time (the simulated delay times the scale). A runner goroutine runs events as they fall
// due; Flush runs them all at once. Events run with s.mu held; pushes run on their own goroutines.

// ErrClosed is returned by Flush and WaitIdle once the Server is closed.
var ErrClosed = errors.New("digelaotest: server closed")

type event struct {
	at  time.Time // simulated time
	due time.Time // real time, for the runner
	seq uint64
	run func(at time.Time)
}

type scheduler struct {
	queue    eventQueue
	seq      uint64
	now      time.Time     // simulated time of the latest event run
	ranAt    time.Time     // real time it ran at (not in manual time)
	dated    time.Time     // the latest Now, which never goes back
	inflight int           // pushes being delivered
	closed   bool          // Close has begun: start no more goroutines
	wake     chan struct{} // the queue changed
	progress chan struct{} // closed (and replaced) whenever events ran or a push finished
}

func (q *scheduler) init(manual bool) {
	q.queue.bySim = manual
	q.wake = make(chan struct{}, 1)
	q.progress = make(chan struct{})
}

// notify wakes everyone waiting in Flush or WaitIdle.
func (q *scheduler) notify() {
	close(q.progress)
	q.progress = make(chan struct{})
}

func (q *scheduler) idle() bool { return len(q.queue.evs) == 0 && q.inflight == 0 }

// eventQueue is a heap of events: by simulated time in manual mode, so runs are reproducible, and
// by real due time otherwise.
type eventQueue struct {
	evs   []*event
	bySim bool
}

func (q *eventQueue) Len() int { return len(q.evs) }
func (q *eventQueue) Less(i, j int) bool {
	a, b := q.evs[i], q.evs[j]
	ta, tb := a.due, b.due
	if q.bySim {
		ta, tb = a.at, b.at
	}
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	return a.seq < b.seq
}
func (q *eventQueue) Swap(i, j int) { q.evs[i], q.evs[j] = q.evs[j], q.evs[i] }
func (q *eventQueue) Push(x any)    { q.evs = append(q.evs, x.(*event)) }
func (q *eventQueue) Pop() any {
	ev := q.evs[len(q.evs)-1]
	q.evs = q.evs[:len(q.evs)-1]
	return ev
}

// after schedules run at simulated time from+d. With manual time, a timeline a request starts
// begins no earlier than the simulation has got to, so simulated time never runs backwards.
// Called with s.mu held.
func (s *Server) after(from time.Time, d time.Duration, run func(at time.Time)) {
	q := &s.sched
	if q.queue.bySim && from.Before(q.now) {
		from = q.now
	}
	q.seq++
	heap.Push(&q.queue, &event{at: from.Add(d), due: time.Now().Add(s.realTime(d)), seq: q.seq, run: run})
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// simTime is how much simulated time real d is at the Server's scale.
func (s *Server) simTime(d time.Duration) time.Duration {
	return time.Duration(float64(d) * float64(time.Minute) / float64(s.cfg.perMinute))
}

// realTime is how long simulated d takes in real time at the Server's scale.
func (s *Server) realTime(d time.Duration) time.Duration {
	return time.Duration(float64(d) * float64(s.cfg.perMinute) / float64(time.Minute))
}

// run is the runner goroutine: it runs events as they fall due, until Close.
func (s *Server) run() {
	defer s.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		var timeout <-chan time.Time
		s.mu.Lock()
		ran := false
		for !s.cfg.manual && s.sched.queue.Len() > 0 {
			ev := s.sched.queue.evs[0]
			if d := time.Until(ev.due); d > 0 {
				timer.Reset(d)
				timeout = timer.C
				break
			}
			heap.Pop(&s.sched.queue)
			s.sched.now, s.sched.ranAt = ev.at, time.Now()
			ev.run(ev.at)
			ran = true
		}
		if ran {
			s.sched.notify()
		}
		s.mu.Unlock()
		select {
		case <-s.ctx.Done():
			return
		case <-s.sched.wake:
		case <-timeout:
		}
	}
}

// Flush runs everything the simulation has pending — imports, calls, pushes and their retries,
// and whatever those start — without waiting for simulated time to pass, and returns once nothing
// is pending. Paused tasks stay paused. Use it to make a test independent of timing.
func (s *Server) Flush(ctx context.Context) error {
	for {
		s.mu.Lock()
		if s.sched.closed {
			s.mu.Unlock()
			return ErrClosed
		}
		for s.sched.queue.Len() > 0 {
			ev := heap.Pop(&s.sched.queue).(*event)
			s.sched.now = ev.at
			ev.run(ev.at)
		}
		s.sched.notify()
		idle := s.sched.idle()
		progress := s.sched.progress
		s.mu.Unlock()
		if idle {
			return nil
		}
		if err := s.await(ctx, progress); err != nil {
			return err
		}
	}
}

// WaitIdle waits, letting simulated time pass at its scale, until nothing is pending: every
// running task has dialled all its numbers and every push has succeeded or used its tries. With
// WithManualTime nothing runs by itself; use Flush.
func (s *Server) WaitIdle(ctx context.Context) error {
	for {
		s.mu.Lock()
		if s.sched.closed {
			s.mu.Unlock()
			return ErrClosed
		}
		idle := s.sched.idle()
		progress := s.sched.progress
		s.mu.Unlock()
		if idle {
			return nil
		}
		if err := s.await(ctx, progress); err != nil {
			return err
		}
	}
}

func (s *Server) await(ctx context.Context, progress <-chan struct{}) error {
	select {
	case <-progress:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.ctx.Done():
		return ErrClosed
	}
}

// Simulated durations.
const (
	lineStagger  = time.Second     // between the first calls of a task's lines
	callGap      = 2 * time.Second // between a line's hang-up and its next call
	importBase   = 3 * time.Second // an import's fixed cost
	importPerRow = 20 * time.Millisecond
)

// start sets a task dialling, if it is running: one line per AI seat of the account.
func (s *Server) start(t *task, at time.Time) {
	if t.status != taskRunning || t.deleted || t.importing {
		return
	}
	if t.startedAt.IsZero() {
		t.startedAt = at
	}
	for i := 0; t.lines < t.owner.acct.AICount && t.lines < len(t.queue); i++ {
		t.lines++
		s.after(at, time.Duration(i)*lineStagger, func(at time.Time) { s.dialNext(t, at) })
	}
	s.maybeFinish(t, at)
}

// dialNext places a line's next call, or ends the line when the task has none or stopped.
func (s *Server) dialNext(t *task, at time.Time) {
	var ct *contact
	for t.status == taskRunning && !t.deleted && len(t.queue) > 0 && ct == nil {
		if t.queue[0].state == contactPending {
			ct = t.queue[0]
		}
		t.queue = t.queue[1:]
	}
	if ct == nil {
		t.lines--
		s.maybeFinish(t, at)
		return
	}
	ct.state = contactDialling
	ct.attempts++
	t.dialling++
	out := s.outcome(t, ct)
	length := out.Ring
	if out.Connected {
		length += out.Talk
	}
	s.after(at, length, func(end time.Time) {
		s.hangUp(t, ct, out, at, end)
		s.after(end, callGap, func(at time.Time) { s.dialNext(t, at) })
	})
}

// hangUp ends a call: it writes the call record, schedules its push and any automatic recall.
func (s *Server) hangUp(t *task, ct *contact, out Outcome, started, end time.Time) {
	t.dialling--
	t.modified = end
	ct.state = contactDone
	ct.connected, ct.reason = out.Connected, out.Reason
	rec := s.newRecord(t, ct, out, started, end)
	if cb := t.owner.callback; cb.Open && cb.CallbackURL != "" {
		s.after(end, s.cfg.pushDelay, func(at time.Time) {
			s.dispatch(&pushJob{kind: PushCall, t: t.owner, url: cb.CallbackURL, rec: rec, attempt: 1, at: at})
		})
	}
	if p := t.recall; !out.Connected && p.on && ct.attempts <= p.times && p.matches(out.Reason) {
		t.recalls++
		s.after(end, p.interval, func(at time.Time) {
			t.recalls--
			if ct.state == contactDone && !t.deleted && t.status != taskEnded {
				s.requeue(t, ct, 1)
				s.start(t, at)
			}
			s.maybeFinish(t, at)
		})
	}
}

// maybeFinish marks a running task 已发送 once nothing is left to dial.
func (s *Server) maybeFinish(t *task, at time.Time) {
	if t.status != taskRunning || t.lines > 0 || t.dialling > 0 || t.recalls > 0 || t.importing {
		return
	}
	for _, ct := range t.queue {
		if ct.state == contactPending {
			return
		}
	}
	t.status = taskDone
	t.stoppedAt, t.modified = at, at
}

// outcome decides how the call to ct ends: WithOutcomes' func, or a draw seeded by the Server's
// seed and the contact, so the same seed gives the same calls whatever the order of requests.
func (s *Server) outcome(t *task, ct *contact) Outcome {
	if f := s.cfg.outcome; f != nil {
		cols := map[string]string{}
		for i, k := range ct.row.keys {
			cols[k] = scalarText(ct.row.vals[i])
		}
		out := f(Call{TaskSN: t.sn, Phone: ct.phone, Name: ct.name, Attempt: ct.attempts, Columns: cols})
		if out.Ring <= 0 {
			out.Ring = 5 * time.Second
		}
		if out.Connected && out.Talk <= 0 {
			out.Talk = 30 * time.Second
		}
		switch {
		case out.Connected:
			out.Reason = ""
			if out.Grade == "" {
				out.Grade = "C"
			}
		case out.Grade == "":
			out.Grade = "F"
		}
		if !out.Connected && out.Reason == "" {
			out.Reason = "无人应答"
		}
		return out
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(ct.sn))
	r := rand.New(rand.NewPCG(s.cfg.seed, h.Sum64()+uint64(ct.attempts))) //nolint:gosec // seeded on purpose: reproducible
	sec := func(lo, hi int) time.Duration { return time.Duration(lo+r.IntN(hi-lo+1)) * time.Second }
	if r.IntN(3) < 2 {
		grades := "AABBBCCCCDDDDEEEEEEE"
		out := Outcome{Connected: true, Ring: sec(3, 20), Talk: sec(10, 150), Grade: string(grades[r.IntN(len(grades))])}
		if r.IntN(2) == 0 {
			out.ManualGrade = out.Grade
			if r.IntN(3) == 0 {
				out.ManualGrade = string("ABCDE"[r.IntN(5)])
			}
		}
		if out.Grade <= "B" {
			out.ScreenPop = 1
			if r.IntN(4) == 0 {
				out.ScreenPop = 2
			}
		}
		return out
	}
	// The 6.5 call results of calls that did not connect.
	reasons := [...]string{"关机", "空号", "停机", "正在通话中", "用户拒接", "无法接通", "暂停服务", "用户正忙", "无人应答"}
	return Outcome{Ring: sec(15, 45), Grade: "F", Reason: reasons[r.IntN(len(reasons))]}
}
