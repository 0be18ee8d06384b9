package digelao

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/digelao-go/digelao/internal/transport"
)

// How RecordSync sweeps: one step of Run (runStep), the windows it lists, the deliveries of their
// pages, the records the sink refuses, and the past hours it sweeps again.

// maxRefusedInARow is how many records in a row the sink may refuse before a sweep takes it for
// down (a database that is unreachable) and stops, counting none of them against the records.
const maxRefusedInARow = 3

// maxReads bounds how often a sweep reads a window whose list changed while it was paged.
const maxReads = 3

// runStep is one step of Run, under the lease: it learns the platform's clock, sweeps from the
// checkpoint, sweeps again the past hours that are due, and stores the bookkeeping and the new
// checkpoint. An error of the sweep from the checkpoint stores nothing; one of the past hours is
// returned after the checkpoint was stored.
func (rs *RecordSync) runStep(ctx context.Context) (SweepStats, error) {
	var st SweepStats
	state, err := rs.loadState(ctx)
	if err != nil {
		return st, err
	}
	mark, err := rs.store.Checkpoint(ctx, rs.name)
	if err != nil {
		return st, fmt.Errorf("digelao: sync store checkpoint: %w", err)
	}
	newest, err := rs.probe(ctx)
	if err != nil {
		return st, err
	}
	now := rs.clock.now()
	state.heal(now)
	fresh := mark.IsZero() && rs.stats.checkpoint.Load() == nil // a first start, or one that lost it all
	stored := mark
	if mark, err = rs.resolveCheckpoint(ctx, mark, now); err != nil {
		return st, err
	}
	from, gap := mark, time.Duration(0)
	if !newest.IsZero() && newest.Before(mark) && now.Sub(newest) <= rs.cfg.horizon {
		// The checkpoint is past the newest record: a quiet account, or a Date ahead of the
		// records' clock. Sweep from the newest record, so that the records created next are in
		// the window whatever the gap between the two clocks, and keep past hours that much longer.
		from, gap = newest, now.Sub(newest)
	}
	st.From, st.To = from.Add(-rs.cfg.overlap).Truncate(time.Second), now.Add(-rs.cfg.lag)
	sw := rs.newSweep(&st, state)
	sw.now, sw.gap = now, gap
	sw.tookBefore, rs.sinkOKAtStep = rs.sinkOKAtStep, rs.sinkOK.Load()
	sw.loadQuarantine(ctx)
	next, stepErr := mark, error(nil)
	if !st.To.Before(st.From) {
		if _, stepErr = sw.window(ctx, st.From, st.To, true); stepErr == nil {
			next = st.To
		}
	}
	var lateErr error
	if stepErr == nil {
		lateErr = sw.reconcile(ctx, fresh)
	}
	if err := sw.end(ctx, stepErr != nil); stepErr == nil {
		stepErr = err
	}
	if !st.HeldAt.IsZero() && st.HeldAt.Before(next) {
		next = st.HeldAt.Add(-time.Second)
	}
	// Only the holder of the lease stores anything: renew it once more first. The bookkeeping is
	// stored also after a failed sweep (the records it refused); the checkpoint only after a
	// complete one.
	if ok, err := rs.store.Lease(ctx, rs.name, rs.owner, rs.cfg.leaseTTL); err != nil || !ok {
		return st, errors.Join(stepErr, fmt.Errorf("digelao: sync lease lost before the checkpoint was stored: %w", cmpErr(err, ErrLeaseHeld)))
	}
	if err := rs.saveState(ctx, state); err != nil || stepErr != nil {
		return st, errors.Join(stepErr, err)
	}
	if !next.Equal(stored) {
		if err := rs.store.SetCheckpoint(ctx, rs.name, next); err != nil {
			return st, fmt.Errorf("digelao: sync store checkpoint: %w", err)
		}
		rs.stats.checkpoint.Store(&next)
	}
	st.Checkpoint = next
	return st, lateErr
}

// resolveCheckpoint returns where a step sweeps from, the overlap aside: the stored checkpoint
// mark — or, when the store holds none, the checkpoint this replica stored last, an error
// (WithRequireCheckpoint), or the look-back from the first such step (so that retries of a first
// start that failed do not slide past its oldest records); each logged — or now less the lag for
// a checkpoint in the future.
func (rs *RecordSync) resolveCheckpoint(ctx context.Context, mark, now time.Time) (time.Time, error) {
	switch {
	case mark.IsZero():
		rs.stats.missing.Add(1)
		if last := rs.stats.checkpoint.Load(); last != nil {
			rs.cfg.log.ErrorContext(ctx, "digelao sync: the store holds no checkpoint, though this replica stored one: "+
				"the store lost its state; resuming from this replica's last checkpoint", "checkpoint", platformTime(*last))
			return *last, nil
		}
		if rs.cfg.requireCheckpoint {
			return time.Time{}, fmt.Errorf("%w (WithRequireCheckpoint): the store lost its state, or this is a first start; "+
				"run once without WithRequireCheckpoint, with a look-back (WithSweepLookBack) reaching the sync's last run", ErrNoCheckpoint)
		}
		from := now.Add(-rs.cfg.lookBack)
		if first := rs.lookedBack.Load(); first != nil {
			from = *first // a first start that failed: the look-back does not slide with the retries
		} else {
			rs.lookedBack.Store(&from)
		}
		rs.cfg.log.WarnContext(ctx, "digelao sync: no checkpoint in the store: a first start, or a store that lost its state; "+
			"sweeping the look-back only, and records created before it are not swept (WithRequireCheckpoint makes this an error)",
			"look_back", rs.cfg.lookBack, "from", platformTime(from))
		return from, nil
	case mark.After(now):
		// Stored while a clock ran ahead: waiting for the platform's to catch up would leave
		// every record created meanwhile unswept.
		rs.cfg.log.WarnContext(ctx, "digelao sync: the stored checkpoint is in the platform's future (stored by a clock that ran ahead); sweeping from now less the lag",
			"checkpoint", platformTime(mark), "now", platformTime(now))
		return now.Add(-rs.cfg.lag), nil
	}
	return mark, nil
}

// sweep is what the windows of one step, or of one Sweep, share.
type sweep struct {
	rs          *RecordSync
	st          *SweepStats
	state       *syncState      // the bookkeeping; nil for Sweep, which keeps none
	now         time.Time       // the platform's, at the start
	quarantined map[string]bool // the keys in quarantine, read once a step
	holds       map[string]time.Time
	tried       map[string]bool  // the keys offered to the sink, or found delivered, in this step
	deferred    map[string]bool  // the keys of later
	ids         map[string]int64 // the id of each sn listed in this step; 0 once two were said
	later       []*CallRecord    // records refused before whose next try has come: offered at the end
	run         []rejection      // records the sink refused since it last took one
	inARow      int              // sink calls in a row that failed, in this step
	took        bool             // the sink took a record in this step
	tookBefore  int64            // the sink calls that had succeeded when the step before this one began
	newestDone  time.Time        // the creation time of the newest record found delivered: the sink took it since
	gap         time.Duration    // how far the platform's now is past its newest record, within the horizon
	refused     []rejection      // for Sweep: every record the sink refused
}

// rejection is a record the sink refused, and why.
type rejection struct {
	r   *CallRecord
	key string
	err error
}

func (rs *RecordSync) newSweep(st *SweepStats, state *syncState) *sweep {
	return &sweep{rs: rs, st: st, state: state, now: rs.clock.now(), holds: map[string]time.Time{}, tried: map[string]bool{},
		deferred: map[string]bool{}, ids: map[string]int64{}}
}

// window sweeps the records created from from to to, split in two while it holds more than the
// window limit, and returns how many the platform counted in it. main is the sweep from the
// checkpoint, whose records left for later hold the checkpoint back.
func (sw *sweep) window(ctx context.Context, from, to time.Time, main bool) (int, error) {
	rs := sw.rs
	first, err := rs.list(ctx, from, to, rs.cfg.pageSize)
	if err != nil {
		return 0, err
	}
	// A window that holds the limit or more is split: a platform that caps its counts and its
	// paging at some depth answers a larger window with just that number.
	if first.counted && first.total >= rs.cfg.windowLimit && to.Sub(from) >= time.Second {
		mid := from.Add(to.Sub(from) / 2).Truncate(time.Second)
		left, err := rs.list(ctx, from, mid, 1)
		if err != nil {
			return 0, err
		}
		right, err := rs.list(ctx, mid.Add(time.Second), to, 1)
		if err != nil {
			return 0, err
		}
		if outside(left, from, mid) || outside(right, mid.Add(time.Second), to) {
			// The halves list records outside themselves: halving down to single seconds would
			// page the whole account in each.
			return 0, fmt.Errorf("digelao: call records: %w: a window of %s–%s lists records created outside it: "+
				"the platform does not filter by start_create_at and end_create_at", ErrBadReply, platformTime(from), platformTime(mid))
		}
		n, err := sw.window(ctx, from, mid, main)
		if err != nil {
			return n, err
		}
		m, err := sw.window(ctx, mid.Add(time.Second), to, main)
		return n + m, err
	}
	if first.counted && first.total >= rs.cfg.windowLimit {
		rs.cfg.log.WarnContext(ctx, "digelao sync: one second holds as many records as the window limit, or more; paging it whole",
			"at", platformTime(from), "records", first.total)
	}
	sw.st.Windows++
	for read := 1; ; read++ {
		total, err := sw.pages(ctx, from, to, first, main)
		if err == nil || !errors.Is(err, ErrIncomplete) || read == maxReads {
			return total, err
		}
		rs.cfg.log.WarnContext(ctx, "digelao sync: the list changed while it was paged; reading the window again",
			"from", platformTime(from), "to", platformTime(to), "error", err)
		if first, err = rs.list(ctx, from, to, rs.cfg.pageSize); err != nil {
			return 0, err
		}
	}
}

// outside reports whether pg lists a record created outside from–to.
func outside(pg page[*CallRecord], from, to time.Time) bool {
	for _, r := range pg.items {
		if !r.CreatedAt.IsZero() && (r.CreatedAt.Before(from) || r.CreatedAt.After(to)) {
			return true
		}
	}
	return false
}

// pages delivers the pages of the window from–to, the first of which is read already, and
// returns the window's latest total.
func (sw *sweep) pages(ctx context.Context, from, to time.Time, first page[*CallRecord], main bool) (int, error) {
	rs := sw.rs
	opts := RecordListOptions{CreatedFrom: from, CreatedTo: to, ListOptions: ListOptions{PerPage: rs.cfg.pageSize}}
	total := first.total
	var next *ahead // the page read while the one before it is delivered
	defer func() {
		if v := recover(); v != nil { // the delivery's panic: it goes on, not the reading's
			next.stop()
			panic(v)
		}
		next.stop()
		next.repanic()
	}()
	read := func(ctx context.Context, lo *ListOptions) (pg page[*CallRecord], err error) {
		o := opts
		o.ListOptions = *lo
		switch {
		case lo.Page == 0:
			pg = first
		case next != nil && next.page == lo.Page:
			pg, err = next.result(ctx)
			next.stop()
			next = nil
		default:
			pg, err = rs.fetch(ctx, &o)
		}
		if err == nil && len(pg.items) == lo.PerPage { // a short page ends the list
			o.Page++
			next = rs.readAhead(ctx, o)
		}
		return pg, err
	}
	for pg, err := range pages(ctx, "call records", &opts.ListOptions, read, recordKey) {
		if err != nil {
			return total, err
		}
		if pg.counted {
			total = pg.total
		}
		if err := sw.page(ctx, pg.items, from, to, main); err != nil {
			return total, err
		}
	}
	return total, nil
}

// ahead is a page of a window read in the background while the page before it is delivered: the
// platform's time to answer and the decoding overlap the sink's.
type ahead struct {
	page   int
	done   chan struct{}
	pg     page[*CallRecord]
	err    error
	panic  *aheadPanic // a panic of the reading (the caller's RoundTripper, its log handler)
	cancel context.CancelFunc
}

// aheadPanic is a panic of a page's reading ahead, with the stack it had, raised again on the
// sweep's goroutine: a panic there must reach the caller of the sweep, as it did when pages were
// read on its goroutine, not end the process.
type aheadPanic struct {
	value any
	stack []byte
}

func (p *aheadPanic) Error() string {
	return fmt.Sprintf("digelao: panic reading a page ahead: %v\n\n%s", p.value, p.stack)
}

// Unwrap returns the value of the panic when it is an error (http.ErrAbortHandler, a
// runtime.Error), for errors.Is and errors.As.
func (p *aheadPanic) Unwrap() error {
	err, _ := p.value.(error)
	return err
}

// readAhead starts reading the page o names.
func (rs *RecordSync) readAhead(ctx context.Context, o RecordListOptions) *ahead {
	ctx, cancel := context.WithCancel(ctx)
	a := &ahead{page: o.Page, done: make(chan struct{}), cancel: cancel}
	rs.cfg.spawn(func() {
		defer close(a.done)
		returned := false
		defer func() {
			if v := recover(); v != nil || !returned {
				if v == nil { // nothing to recover: the reading's goroutine was ended
					v = "runtime.Goexit (t.FailNow, say) or panic(nil)"
				}
				a.panic = &aheadPanic{value: v, stack: debug.Stack()}
			}
		}()
		a.pg, a.err = rs.fetch(ctx, &o)
		returned = true
	})
	return a
}

// result waits for the page, or for ctx to end.
func (a *ahead) result(ctx context.Context) (page[*CallRecord], error) {
	select {
	case <-a.done:
		a.repanic()
		return a.pg, a.err
	case <-ctx.Done():
		return page[*CallRecord]{}, transport.ContextErr(ctx)
	}
}

// stop ends the reading, if it is under way, and waits for it. a may be nil.
func (a *ahead) stop() {
	if a != nil {
		a.cancel()
		<-a.done
	}
}

// repanic raises again, once, a panic of the reading (or its goroutine's end), on the caller's
// goroutine, even for a page dropped. a may be nil.
func (a *ahead) repanic() {
	if a == nil {
		return
	}
	if p := a.panic; p != nil {
		a.panic = nil
		panic(p)
	}
}

// list reads the first page, of perPage records, of the window from–to.
func (rs *RecordSync) list(ctx context.Context, from, to time.Time, perPage int) (page[*CallRecord], error) {
	return rs.fetch(ctx, &RecordListOptions{CreatedFrom: from, CreatedTo: to, ListOptions: ListOptions{PerPage: perPage}})
}

// fetch reads a page of call records and learns the platform's clock from its Date.
func (rs *RecordSync) fetch(ctx context.Context, o *RecordListOptions) (page[*CallRecord], error) {
	pg, err := rs.c.Records.page(ctx, o)
	if err == nil {
		rs.clock.learn(ctx, pg.date, rs.cfg.log)
	}
	return pg, err
}

// probe asks for the newest record of the account — one request of one record — to learn the
// platform's clock before a step computes where it sweeps to, checks the clock against the
// record, and returns its creation time (zero for an empty account).
func (rs *RecordSync) probe(ctx context.Context) (time.Time, error) {
	pg, err := rs.list(ctx, time.Time{}, time.Time{}, 1)
	if err != nil || len(pg.items) == 0 {
		return time.Time{}, err
	}
	newest := pg.items[0].CreatedAt
	rs.clock.check(ctx, newest, rs.cfg.log)
	return newest, nil
}

// page delivers the records of a page that are due, and notes the others: a record not final,
// or refused before, is held; one refused before whose next try has come is offered again at the
// end of the step, once the sink has taken others (see end).
func (sw *sweep) page(ctx context.Context, recs []*CallRecord, from, to time.Time, main bool) error {
	rs, st := sw.rs, sw.st
	todo := recs[:0:0]
	for _, r := range recs {
		st.Found++
		rs.stats.found.Add(1)
		key := rs.keyOf(r)
		sw.sameSN(ctx, r)
		switch {
		case r.DisconnectedAt.IsZero():
			st.NotFinal++
			rs.stats.notFinal.Add(1)
			sw.hold(ctx, r, key, from, to, main)
		case sw.quarantined[key]:
		case sw.state != nil && sw.state.Failing[key] != nil:
			sw.hold(ctx, r, key, from, to, main)
			if sw.now.Before(sw.state.Failing[key].Next) {
				st.Waiting++
			} else if !sw.deferred[key] {
				sw.deferred[key] = true
				sw.later = append(sw.later, r)
			}
		default:
			todo = append(todo, r)
		}
	}
	res, err := rs.deliver(ctx, todo, sw.refusedInARow)
	for i, r := range todo {
		if i >= len(res) { // not offered: the store failed
			sw.hold(ctx, r, "", from, to, main)
			continue
		}
		if res[i].out == failed || res[i].out == skipped {
			sw.hold(ctx, r, res[i].key, from, to, main)
		}
		if res[i].out == inProgress {
			sw.hold(ctx, r, res[i].key, from, to, main)
		}
		if res[i].out == failed {
			sw.run = append(sw.run, rejection{r: r, key: res[i].key, err: res[i].err})
		}
		if err := sw.note(ctx, r, res[i], main); err != nil {
			return err
		}
	}
	if err != nil && sw.state != nil {
		sw.park(sw.run) // the sink was taken for down: these count against no record
		sw.run = nil
	}
	return err
}

// sameSN warns, once per sn, of two records listed with one sn and different ids: they share a
// delivery key, and the sink, an upsert by sn, keeps one of them.
func (sw *sweep) sameSN(ctx context.Context, r *CallRecord) {
	if r.SN == "" || r.ID == 0 {
		return
	}
	if id, ok := sw.ids[r.SN]; ok && id != r.ID && id != 0 {
		sw.rs.cfg.log.WarnContext(ctx, "digelao sync: two records with one sn and different ids: they are one record to the sync, "+
			"and only one of them is delivered", "sn", r.SN, "id", id, "other_id", r.ID)
		sw.ids[r.SN] = 0 // said once
		return
	}
	if _, ok := sw.ids[r.SN]; !ok {
		sw.ids[r.SN] = r.ID
	}
}

// note counts a record's outcome; a delivery judges the refusals before it, now that the sink is
// known to take records.
func (sw *sweep) note(ctx context.Context, r *CallRecord, res result, main bool) error {
	rs, st := sw.rs, sw.st
	if res.out != skipped {
		sw.tried[res.key] = true
	}
	switch res.out {
	case delivered:
		st.GapsFilled++
		rs.stats.filled.Add(1)
		if !main {
			rs.stats.late.Add(1)
			rs.cfg.log.InfoContext(ctx, "digelao sync: a record listed late was delivered", "sn", r.SN,
				"created_at", platformTime(r.CreatedAt))
		}
		sw.took = true
		sw.forget(res.key)
		return sw.judge(ctx)
	case duplicate:
		st.Duplicates++
		sw.forget(res.key)
		if r.CreatedAt.After(sw.newestDone) {
			sw.newestDone = r.CreatedAt
		}
	case inProgress:
		st.Pending++
	case failed:
		st.Failed++
		sw.refused = append(sw.refused, rejection{r: r, key: res.key, err: res.err})
		rs.cfg.log.WarnContext(ctx, "digelao sync: the sink refused a record; it is tried again later", "sn", r.SN,
			"id", r.ID, "error", res.err)
	}
	return nil
}

// refusedInARow counts the sink's failures in a row, and reports when the sink is to be taken for
// down.
func (sw *sweep) refusedInARow(err error) bool {
	if err == nil {
		sw.inARow = 0
		return false
	}
	sw.inARow++
	return sw.inARow >= maxRefusedInARow
}

// hold notes a record a later sweep must see again, at its creation time — or at the window's
// start when it has none or was listed outside the window, since the platform may list it there
// again only. Only the sweep from the checkpoint holds it back. A record older than maxHold is not
// waited for any longer: it is logged, and holds nothing back.
func (sw *sweep) hold(ctx context.Context, r *CallRecord, key string, from, to time.Time, main bool) {
	if !main {
		return
	}
	at := r.CreatedAt
	if at.IsZero() || at.Before(from) || at.After(to) {
		at = from
	}
	if sw.now.Sub(at) >= maxHold {
		sw.rs.cfg.log.WarnContext(ctx, "digelao sync: a record not final, refused, or being delivered elsewhere for longer than the hold; the checkpoint no longer waits for it",
			"sn", r.SN, "id", r.ID, "created_at", platformTime(r.CreatedAt), "hold", maxHold)
		return
	}
	if key == "" {
		key = sw.rs.keyOf(r)
	}
	if old, ok := sw.holds[key]; !ok || at.Before(old) {
		sw.holds[key] = at
	}
}

// forget drops key from the records held and retried: it was delivered.
func (sw *sweep) forget(key string) {
	delete(sw.holds, key)
	if sw.state != nil {
		delete(sw.state.Failing, key)
	}
}

// park notes refused records against which nothing is counted — the sink may have been down —
// so that they are offered again, at the end of a step in which the sink is seen up. Next is when
// a record was first parked.
func (sw *sweep) park(run []rejection) {
	for _, f := range run {
		e := sw.failing(f)
		if e.Next.IsZero() {
			e.Next = sw.now
		}
		e.Err = f.err.Error()
	}
}

// failing returns the bookkeeping of a refused record, made when there is none.
func (sw *sweep) failing(f rejection) *failing {
	e := sw.state.Failing[f.key]
	if e == nil {
		e = &failing{SN: f.r.SN, ID: f.r.ID, CreatedAt: f.r.CreatedAt}
		sw.state.Failing[f.key] = e
	}
	return e
}

// judge counts the refusals of the run against their records, now that the sink took a record and
// is not down; see refuse.
func (sw *sweep) judge(ctx context.Context) error {
	run := sw.run
	sw.run = nil
	for _, f := range run {
		if err := sw.refuse(ctx, f); err != nil {
			return err
		}
	}
	return nil
}

// refuse counts a refusal against its record: it is tried again later, waiting longer each time,
// and quarantined after WithQuarantineAfter tries.
func (sw *sweep) refuse(ctx context.Context, f rejection) error {
	if sw.state == nil || sw.quarantined[f.key] {
		return nil
	}
	e := sw.failing(f)
	e.Tries++
	e.Err = f.err.Error()
	if e.Tries < sw.rs.cfg.quarantineAfter {
		e.Next = sw.now.Add(min(sw.rs.cfg.interval<<(e.Tries-1), time.Hour))
		return nil
	}
	return sw.quarantine(ctx, f, e)
}

// quarantine keeps a record the sink refused on every try in the store's quarantine.
func (sw *sweep) quarantine(ctx context.Context, f rejection, e *failing) error {
	rs := sw.rs
	rec := f.r.Raw
	if len(rec) == 0 || rec[0] != '{' {
		var err error
		if rec, err = f.r.MarshalJSON(); err != nil {
			return fmt.Errorf("digelao: sync quarantine of %s: %w", f.r.SN, err)
		}
	}
	q := QuarantinedRecord{Key: f.key, SN: f.r.SN, ID: f.r.ID, CreatedAt: f.r.CreatedAt, Record: rec, Err: e.Err,
		Tries: e.Tries, At: sw.now}
	if err := rs.store.Quarantine(ctx, rs.name, q); err != nil {
		return fmt.Errorf("digelao: sync store quarantine: %w", err)
	}
	sw.forget(f.key)
	sw.quarantined[f.key] = true
	sw.st.Quarantine++
	rs.stats.quarantined.Add(1)
	rs.cfg.log.ErrorContext(ctx, "digelao sync: the sink refused a record on every try; quarantined (RecordSync.Quarantined lists it, Redeliver delivers it)",
		"sn", f.r.SN, "id", f.r.ID, "key", f.key, "created_at", platformTime(f.r.CreatedAt), "tries", e.Tries, "error", e.Err)
	return nil
}

// end closes a step, or a Sweep. When the sink is known to be up — it took a record in this step,
// or since the step before began (a push) — the refusals since its last delivery count against
// their records. When it is not, and it refused records, it may be down: they are parked, and the
// step fails. Then the records refused before whose next try has come are offered again (so that
// a quiet account quarantines them too, and delivers those parked while the sink was down).
// stopped is a step whose sweep failed: it offers nothing more. The earliest hold becomes HeldAt; a
// Sweep's refusals become its error.
func (sw *sweep) end(ctx context.Context, stopped bool) error {
	defer sw.heldAt()
	rs := sw.rs
	if sw.state == nil {
		if len(sw.refused) == 0 {
			return nil
		}
		sns := make([]string, 0, min(len(sw.refused), 10))
		for _, f := range sw.refused[:cap(sns)] {
			sns = append(sns, f.r.SN)
		}
		return fmt.Errorf("digelao: sync sink refused %d records (%s…): %w", len(sw.refused), strings.Join(sns, ", "), sw.refused[0].err)
	}
	if stopped {
		return nil
	}
	up := sw.took || rs.sinkTookSince(sw.tookBefore)
	if !up && len(sw.run) > 0 {
		sw.park(sw.run)
		return fmt.Errorf("digelao: sync sink refused every record it was offered (%d) and took none since the sweep before, "+
			"taken for down; the sweep stops: %w", len(sw.run), sw.run[len(sw.run)-1].err)
	}
	if err := sw.judge(ctx); err != nil {
		return err
	}
	// The records refused while the sink took others are offered again, each refusal counting.
	// So are the records parked while it may have been down, once it is seen up: it took a record,
	// or a record created after one was parked is found delivered (by any process: a push). Without
	// such a sign, the first of them is offered alone, and its refusal fails the step uncounted.
	known, parked := []*CallRecord{}, []*CallRecord{}
	for _, r := range sw.later {
		if e := sw.state.Failing[rs.keyOf(r)]; e.Tries > 0 || up || sw.newestDone.After(e.Next) {
			known = append(known, r)
		} else {
			parked = append(parked, r)
		}
	}
	if err := sw.offer(ctx, known); err != nil {
		return err
	}
	if len(parked) > 0 && !sw.took {
		res, err := rs.deliver(ctx, parked[:1], nil)
		if err != nil {
			return err
		}
		if res[0].out == failed {
			sw.park([]rejection{{r: parked[0], key: res[0].key, err: res[0].err}})
			return fmt.Errorf("digelao: sync sink refused again the record %s, which it refused while it may have been down, "+
				"and took none since the sweep before; the sweep stops: %w", parked[0].SN, res[0].err)
		}
		if err := sw.note(ctx, parked[0], res[0], true); err != nil {
			return err
		}
		parked = parked[1:]
	}
	return sw.offer(ctx, parked)
}

// offer offers the sink records refused before, each refusal counting against its record.
func (sw *sweep) offer(ctx context.Context, recs []*CallRecord) error {
	res, err := sw.rs.deliver(ctx, recs, nil)
	for i, r := range recs[:len(res)] {
		if res[i].out == failed {
			if err := sw.refuse(ctx, rejection{r: r, key: res[i].key, err: res[i].err}); err != nil {
				return err
			}
		}
		if err := sw.note(ctx, r, res[i], true); err != nil {
			return err
		}
	}
	return err
}

// heldAt sets the stats' HeldAt to the earliest hold.
func (sw *sweep) heldAt() {
	for _, at := range sw.holds {
		if sw.st.HeldAt.IsZero() || at.Before(sw.st.HeldAt) {
			sw.st.HeldAt = at
		}
	}
}

// sinkTookSince reports whether a sink call succeeded after n had.
func (rs *RecordSync) sinkTookSince(n int64) bool { return rs.sinkOK.Load() > n }

// account returns the user_sn of the sync's account, from the client's session: logged in once,
// then remembered.
func (rs *RecordSync) account(ctx context.Context) (string, error) {
	if a := rs.userSN.Load(); a != nil {
		return *a, nil
	}
	s, err := rs.c.auth.session(ctx)
	if err != nil {
		return "", err
	}
	rs.userSN.Store(&s.UserSN)
	return s.UserSN, nil
}

// keyOf returns r's delivery key: the sync's name — its account's — and the record's digest, so that
// accounts sharing a store never share a key.
func (rs *RecordSync) keyOf(r *CallRecord) string { return r.key(rs.name + ":record:") }

// outcome is what a delivery did with a record.
type outcome int

const (
	delivered  outcome = iota
	duplicate          // delivered before
	inProgress         // another delivery is handling it
	failed             // the sink refused it
	skipped            // not offered: the sink was taken for down
)

// result is a record's outcome, with its key and the sink's error.
type result struct {
	out outcome
	key string
	err error
}

// errSinkDown answers, in a CommitStore's transaction, for the records after the sink was taken
// for down: they are skipped.
var errSinkDown = errors.New("digelao: the sink was taken for down")

// deliver delivers recs in order, each at most once across every delivery sharing the store: the
// one path of pushes and sweeps. stop, when set, is told each sink call's error and ends the
// delivery when it reports true: the records after are skipped. The error is the store's (the
// results then cover the records before it), or the sink's when stop ended the delivery.
func (rs *RecordSync) deliver(ctx context.Context, recs []*CallRecord, stop func(error) bool) ([]result, error) {
	res := make([]result, len(recs))
	var stopErr error
	offer := func(ctx context.Context, i int) error {
		if stopErr != nil {
			return errSinkDown
		}
		err := rs.callSink(ctx, recs[i])
		if err != nil {
			rs.stats.sinkFailures.Add(1)
		} else {
			rs.sinkOK.Add(1)
		}
		if stop != nil && stop(err) {
			stopErr = fmt.Errorf("digelao: sync sink refused %d records in a row, taken for down; the sweep stops: %w", maxRefusedInARow, err)
		}
		return err
	}
	keys := make([]string, len(recs))
	for i, r := range recs {
		if keys[i] = rs.keyOf(r); keys[i] == "" {
			return nil, fmt.Errorf("digelao: call record %q does not encode: it cannot be synced exactly once", r.SN)
		}
		res[i].key = keys[i]
		if r.SN == "" && r.ID == 0 {
			rs.cfg.log.WarnContext(ctx, "digelao sync: a call record with neither sn nor id, known by its number, task and times "+
				"(or its whole content, without them): should they change, it is delivered again", "phone", r.Phone,
				"created_at", platformTime(r.CreatedAt))
		}
	}
	if ctx.Err() != nil { // a sweep that was stopped, or lost its lease, delivers nothing more
		return nil, transport.ContextErr(ctx)
	}
	if rs.commit != nil {
		account, err := rs.account(ctx)
		if err != nil {
			return nil, err
		}
		ds, err := rs.commit.Deliver(ctx, account, keys, offer)
		if err != nil {
			return nil, fmt.Errorf("digelao: sync store delivery: %w", err)
		}
		for i, d := range ds {
			res[i].out, res[i].err = rs.outcomeOf(d.State, d.Err)
		}
		return res, stopErr
	}
	for i, r := range recs {
		if ctx.Err() != nil {
			return res[:i], transport.ContextErr(ctx)
		}
		state, claimErr, err := rs.once.deliver(ctx, keys[i], slog.String("sn", r.SN), func(ctx context.Context) error {
			return offer(ctx, i)
		})
		if claimErr != nil {
			return res[:i], fmt.Errorf("digelao: sync store claim: %w", claimErr)
		}
		res[i].out, res[i].err = rs.outcomeOf(state, err)
	}
	return res, stopErr
}

// outcomeOf turns what a store did with a record into its outcome, counting duplicates.
func (rs *RecordSync) outcomeOf(state ClaimState, err error) (outcome, error) {
	switch {
	case state == ClaimDone:
		rs.stats.duplicates.Add(1)
		return duplicate, nil
	case state == ClaimInProgress:
		return inProgress, nil
	case errors.Is(err, errSinkDown):
		return skipped, nil
	case err != nil:
		return failed, err
	}
	return delivered, nil
}

// callSink calls the sink, turning a panic into an error.
func (rs *RecordSync) callSink(ctx context.Context, r *CallRecord) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("sink panicked: %v", p)
		}
	}()
	return rs.sink(ctx, r)
}

// syncState is the bookkeeping a RecordSync keeps in its store beside the checkpoint.
type syncState struct {
	Hours     []*hourCount        `json:"hours"`      // the past hours within the horizon, oldest first
	CountedAt time.Time           `json:"counted_at"` // the platform's time of the last count of them
	Failing   map[string]*failing `json:"failing"`    // the records the sink refused, by key
	Horizon   time.Duration       `json:"horizon"`    // the widest reconciliation horizon of the syncs sharing it
}

// hourCount is a past hour: how many records the platform counted in it when it was last swept.
type hourCount struct {
	Start time.Time `json:"start"`
	Count int       `json:"count"`
	Ages  int       `json:"ages"` // how many of the re-sweep ages are done
}

// failing is a record the sink refused, and when it is tried again.
type failing struct {
	SN        string    `json:"sn"`
	ID        int64     `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	Tries     int       `json:"tries"`
	Next      time.Time `json:"next"` // the platform's time of the next try
	Err       string    `json:"error"`
}

// loadState reads the bookkeeping. A missing one starts afresh (logged when a checkpoint exists:
// the store forgot it); one that does not decode too, with a warning.
func (rs *RecordSync) loadState(ctx context.Context) (*syncState, error) {
	b, err := rs.store.SyncState(ctx, rs.name)
	if err != nil {
		return nil, fmt.Errorf("digelao: sync store state: %w", err)
	}
	st := &syncState{}
	if len(b) > 0 {
		if err := json.Unmarshal(b, st); err != nil {
			rs.cfg.log.WarnContext(ctx, "digelao sync: the stored bookkeeping does not decode; starting it afresh", "error", err)
			st = &syncState{}
		}
	}
	st.Hours = slices.DeleteFunc(st.Hours, func(h *hourCount) bool { return h == nil }) // JSON null
	maps.DeleteFunc(st.Failing, func(_ string, f *failing) bool { return f == nil })
	if st.Failing == nil {
		st.Failing = map[string]*failing{}
	}
	return st, nil
}

// heal drops what the bookkeeping holds in the platform's future — stored by a step whose clock
// jumped ahead — so that those hours are counted again.
func (st *syncState) heal(now time.Time) {
	st.Hours = slices.DeleteFunc(st.Hours, func(h *hourCount) bool { return h.Start.After(now) })
	if st.CountedAt.After(now) {
		st.CountedAt = time.Time{}
	}
}

func (rs *RecordSync) saveState(ctx context.Context, st *syncState) error {
	b, err := json.Marshal(st)
	if err == nil {
		err = rs.store.SetSyncState(ctx, rs.name, b)
	}
	if err != nil {
		return fmt.Errorf("digelao: sync store state: %w", err)
	}
	return nil
}

// reconcile sweeps again the past hours that are due — whose count changed, or that reached a
// re-sweep age — after noting the hours the step completed, then tries again the refused records
// that are due and lie outside the sweep from the checkpoint. It goes on past an error, and
// returns them all.
func (sw *sweep) reconcile(ctx context.Context, fresh bool) error {
	var errs []error
	if sw.rs.cfg.horizon > 0 {
		errs = append(errs, sw.hours(ctx, fresh)...)
	}
	errs = append(errs, sw.retry(ctx)...)
	return errors.Join(errs...)
}

// hours keeps the counts of the past hours within the horizon, and sweeps again each one whose
// count changed since it was swept (checked every reconcile interval) or that reached an age, the
// last of which is the horizon. The
// hours a step completed are counted as they complete. Hours missing from the bookkeeping before
// the step's sweep — it was lost — are swept again when they reached an age, unless the step is a
// first start (fresh): its hours begin with the look-back.
func (sw *sweep) hours(ctx context.Context, fresh bool) []error {
	rs, state, now := sw.rs, sw.state, sw.now
	state.Horizon = max(state.Horizon, rs.cfg.horizon) // replicas sharing the store keep the widest
	oldest := now.Add(-state.Horizon - sw.gap).Truncate(time.Hour)
	// The first hour to count: the one after the last counted — after an outage, past the horizon
	// too, but no earlier than a horizon before the sweep, which holds every record created since
	// that the platform may still list late.
	next := sw.st.From.Add(-state.Horizon - time.Hour).Truncate(time.Hour)
	if n := len(state.Hours); n > 0 && state.Hours[n-1].Start.Add(time.Hour).After(next) {
		next = state.Hours[n-1].Start.Add(time.Hour)
	} else if n == 0 {
		next = oldest
		if start := sw.st.From.Add(time.Hour - 1).Truncate(time.Hour); fresh && start.After(next) {
			next = start
		}
	}
	known := len(state.Hours)
	var errs []error
	for h := next; !h.Add(time.Hour).After(sw.st.To.Add(time.Second)); h = h.Add(time.Hour) {
		if !h.Before(sw.st.From) && h.Before(oldest) {
			continue // swept whole just now, and past the horizon: nothing to keep
		}
		n, err := rs.count(ctx, h)
		if err != nil {
			errs = append(errs, err)
			break
		}
		hc := &hourCount{Start: h, Count: n}
		if !h.Before(sw.st.From) { // swept whole just now: the ages passed need no re-sweep
			hc.Ages = sw.agesPassed(h)
		}
		state.Hours = append(state.Hours, hc)
	}
	check := now.Sub(state.CountedAt) >= rs.cfg.reconcile
	for i, h := range state.Hours {
		changed := false
		if check && i < known {
			n, err := rs.count(ctx, h.Start)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if changed = n != h.Count; changed {
				rs.cfg.log.InfoContext(ctx, "digelao sync: a past hour's count changed; sweeping it again",
					"hour", platformTime(h.Start), "was", h.Count, "now", n)
			}
		}
		due := sw.agesPassed(h.Start)
		if !changed && due <= h.Ages {
			continue
		}
		n, err := sw.window(ctx, h.Start, h.Start.Add(time.Hour-time.Second), false)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		h.Count, h.Ages = n, max(h.Ages, due)
		sw.st.Resweeps++
		rs.stats.resweeps.Add(1)
	}
	if check {
		state.CountedAt = now
	}
	// An hour goes once past the horizon and swept at every age: a sync that was down longer than
	// the horizon sweeps its hours once more when it is back, for the records listed meanwhile.
	state.Hours = slices.DeleteFunc(state.Hours, func(h *hourCount) bool {
		return h.Start.Before(oldest) && h.Ages >= len(rs.cfg.ages)
	})
	return errs
}

// agesPassed returns how many re-sweep ages the hour starting at h has reached.
func (sw *sweep) agesPassed(h time.Time) int {
	end := h.Add(time.Hour)
	n := 0
	for _, a := range sw.rs.cfg.ages {
		if !end.Add(a).After(sw.now) {
			n++
		}
	}
	return n
}

// count asks the platform how many records were created in the hour starting at h.
func (rs *RecordSync) count(ctx context.Context, h time.Time) (int, error) {
	pg, err := rs.list(ctx, h, h.Add(time.Hour-time.Second), 1)
	return pg.total, err
}

// retry lists again, in windows of their second, the refused records that are due and were not
// listed in this step (they lie before the sweep from the checkpoint), for end to offer them. A
// record no longer listed is dropped, with a warning.
func (sw *sweep) retry(ctx context.Context) []error {
	var errs []error
	for _, key := range slices.Sorted(maps.Keys(sw.state.Failing)) {
		f := sw.state.Failing[key]
		if f == nil || sw.tried[key] || sw.deferred[key] || sw.now.Before(f.Next) || f.CreatedAt.IsZero() {
			continue
		}
		at := f.CreatedAt.Truncate(time.Second)
		if _, err := sw.window(ctx, at, at, false); err != nil {
			errs = append(errs, err)
			continue
		}
		if !sw.deferred[key] {
			sw.rs.cfg.log.WarnContext(ctx, "digelao sync: a record the sink refused is no longer listed; no longer tried",
				"sn", f.SN, "id", f.ID, "created_at", platformTime(f.CreatedAt), "tries", f.Tries)
			delete(sw.state.Failing, key)
		}
	}
	return errs
}

// loadQuarantine reads the keys in quarantine, which sweeps leave alone. A quarantine the store
// cannot read is logged, and taken for empty: its records are offered again, and quarantined anew
// when refused — the store's entry replaced by one it can read.
func (sw *sweep) loadQuarantine(ctx context.Context) {
	sw.quarantined = map[string]bool{}
	qs, err := sw.rs.Quarantined(ctx)
	if err != nil {
		sw.rs.cfg.log.ErrorContext(ctx, "digelao sync: the quarantine does not read; its records are offered again", "error", err)
		return
	}
	for _, q := range qs {
		sw.quarantined[q.Key] = true
	}
}

// platformClock is the platform's clock as a sync knows it: the local clock, and the difference
// between the two that the latest reply's Date showed.
type platformClock struct {
	local                                               func() time.Time
	offset                                              atomic.Int64 // the platform's clock less the local one, in nanoseconds
	warnedSkew, warnedNoDate, warnedAhead, warnedBehind atomic.Bool
}

func (c *platformClock) now() time.Time      { return c.local().Add(c.skew()).Truncate(time.Second) }
func (c *platformClock) skew() time.Duration { return time.Duration(c.offset.Load()) }

// learn takes the platform's clock from a reply's Date. Date counts whole seconds, and the reply
// took time to come: the clock learnt runs behind the platform's, never ahead, so that no sweep
// reaches past the platform's now. A reply without a Date leaves the clock as it was, with a
// warning the first time; a difference of more than a minute from the local clock is logged once.
func (c *platformClock) learn(ctx context.Context, date time.Time, log *slog.Logger) {
	if date.IsZero() {
		if c.warnedNoDate.CompareAndSwap(false, true) {
			log.WarnContext(ctx, "digelao sync: the platform's replies carry no Date header; sweeping on the local clock, which must then be right")
		}
		return
	}
	skew := date.Sub(c.local())
	c.offset.Store(int64(skew))
	if skew.Abs() > time.Minute && c.warnedSkew.CompareAndSwap(false, true) {
		log.WarnContext(ctx, "digelao sync: the local clock differs from the platform's (its replies' Date) by more than a minute; sweeping on the platform's",
			"platform_minus_local", skew.Round(time.Second))
	}
}

// check compares the creation time of the newest record of the account with the platform's clock.
// A record created after the platform's now says its Date runs behind its records' clock (a node
// whose clock is wrong, a header written in local time): the clock is moved to the record, so that
// no sweep stops short of it, and this is logged once. A record more than a day ahead of both
// clocks is taken for bad data: logged once, and the clock stays.
func (c *platformClock) check(ctx context.Context, newest time.Time, log *slog.Logger) {
	now := c.now()
	if !newest.After(now.Add(time.Minute)) {
		return
	}
	if local := c.local(); newest.After(now.Add(24*time.Hour)) && newest.After(local.Add(24*time.Hour)) {
		if c.warnedAhead.CompareAndSwap(false, true) {
			log.WarnContext(ctx, "digelao sync: the newest record is created more than a day after both the platform's and the local clock: "+
				"its created_at is taken for bad data", "created_at", platformTime(newest), "platform_now", platformTime(now))
		}
		return
	}
	c.offset.Store(int64(newest.Sub(c.local())))
	if c.warnedBehind.CompareAndSwap(false, true) {
		log.WarnContext(ctx, "digelao sync: the platform lists a record created after its own clock's now (its Date): "+
			"sweeping by its records' clock; its created_at are not in China time, or its Date is wrong",
			"created_at", platformTime(newest), "platform_now", platformTime(now))
	}
}
