package digelao

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/digelao-go/digelao/internal/transport"
)

// RecordSync delivers every call record of an account to a sink exactly once, from the two
// sources the platform offers: pushes, which are fast but not complete (the platform gives up
// after three tries, and a receiver may be down), and sweeps of the call-record list (6.1
// /api/crmList), which are complete but slow and see records again. The platform itself asks
// integrators to do both (6.6.1: sync through the 流水 list "以防数据缺失").
//
//	rs, err := digelao.NewRecordSync(c, func(ctx context.Context, r *digelao.CallRecord) error {
//		return db.UpsertCallRecord(ctx, r) // idempotent, by r.SN
//	})
//	h := &digelao.PushHandler{Token: token, OnCallRecord: rs.Push} // pushes go through the sync
//	go rs.Run(ctx)                                                  // and sweeps fill the gaps
//
// # Exactly once
//
// Both sources meet in one delivery: the record's key (its sn) is claimed in the SyncStore, the
// sink is called, and the key is completed — or released when the sink failed, so that the record
// is delivered again later. A record delivered by a push is not delivered again by a sweep, and
// the other way round, and replicas sharing one store (redisstore) never deliver a record twice.
// The sink must still be an idempotent upsert by r.SN: a store that forgets (its capacity, its
// TTL) or a crash between the sink's commit and the store's can repeat a record. Delivering
// counts as done when the sink returned nil.
//
// # Final records
//
// Records are delivered once, final: the platform creates a call's record when the call ends
// (created_at equals disconnected_at in every sample [inferred]) and pushes it about a minute after
// hang-up, so a push is final by definition. A listed record without disconnected_at is not final:
// a sweep skips it and holds its checkpoint back, so that a later sweep delivers it once it is —
// for a day at most, after which a warning names it and the checkpoint moves on.
// Changes made to a record after it was delivered (a person grading the call later) are not
// delivered again.
//
// # Sweeps and the checkpoint
//
// Run sweeps [checkpoint − overlap, now − lag] every interval, and after each complete sweep
// stores its end as the new checkpoint (in the SyncStore, so that a restart resumes from it); a
// first start sweeps the look-back. The lag leaves time for pushes to arrive first; the overlap
// covers records the platform lists late. A window with more records than the window limit is
// split in two by time, recursively, so that no page limit truncates it; pages are read by total
// (see RecordsService.All).
//
// # Replicas
//
// Every replica accepts pushes; Run sweeps on one replica at a time: it holds a lease in the
// SyncStore, renewed while it sweeps, which a crashed replica's lease outlives only by its TTL.
// A replica that loses its lease stops sweeping before its next delivery. The lease is not a
// fence — a replica that stalls past its TTL may overlap with the next for a moment — and needs
// not be: every delivery is claimed in the store.
//
// A sink error on a push answers 5xx (the platform retries); on a sweep it stops the sweep
// without moving the checkpoint, and the next sweep tries again.
type RecordSync struct {
	c     *Client
	sink  func(context.Context, *CallRecord) error
	store SyncStore
	cfg   syncSettings
	name  string // the account's sync in the store
	owner string // this replica, for the lease

	stats syncCounters

	tokens *claimTokens // of its claims in the store
}

// SyncStore keeps what a RecordSync shares between its replicas and across restarts: which
// records were delivered (the DedupStore methods, keyed "record:" and a digest of the sn), the
// checkpoint, and the sweep lease. NewMemorySyncStore keeps it in one process; redisstore.Store
// shares it between replicas.
type SyncStore interface {
	DedupStore
	// Checkpoint returns the checkpoint stored under name, or the zero time when there is none.
	Checkpoint(ctx context.Context, name string) (time.Time, error)
	// SetCheckpoint stores t as the checkpoint of name.
	SetCheckpoint(ctx context.Context, name string, t time.Time) error
	// Lease takes the lease name for owner for ttl, or extends it when owner holds it already. It
	// reports false while another owner holds it (a store may then repair a lease that would
	// never lapse, giving it ttl). A lease is not a fence: a holder that stalls past its TTL may
	// still finish what it was doing; deliveries stay exactly once through the claims.
	Lease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error)
	// Unlease gives the lease name up if owner holds it.
	Unlease(ctx context.Context, name, owner string) error
}

// SyncOption configures a RecordSync. NewRecordSync reports the first invalid one.
type SyncOption func(*syncSettings) error

type syncSettings struct {
	store       SyncStore
	interval    time.Duration
	lag         time.Duration
	overlap     time.Duration
	lookBack    time.Duration
	leaseTTL    time.Duration
	windowLimit int
	pageSize    int
	now         func() time.Time
	log         *slog.Logger
}

// Defaults of the sync's options.
const (
	DefaultSweepInterval = 5 * time.Minute
	DefaultSweepLag      = 10 * time.Minute
	DefaultSweepOverlap  = 30 * time.Minute
	DefaultSweepLookBack = 24 * time.Hour
	DefaultLeaseTTL      = time.Minute
	DefaultWindowLimit   = 10_000
	// maxHold bounds how far a record that stays pending holds a checkpoint back.
	maxHold = 24 * time.Hour
)

// WithSyncStore sets the store of deliveries, checkpoint and lease. Give every replica the same
// one (redisstore.Store). Default: a NewMemorySyncStore of the sync's own, for one process.
func WithSyncStore(s SyncStore) SyncOption {
	return func(c *syncSettings) error {
		if s == nil {
			return invalid("WithSyncStore", "nil SyncStore")
		}
		c.store = s
		return nil
	}
}

// WithSweepInterval sets how often Run sweeps. Default DefaultSweepInterval.
func WithSweepInterval(d time.Duration) SyncOption {
	return durationOption("WithSweepInterval", d, time.Millisecond, func(c *syncSettings) *time.Duration { return &c.interval })
}

// WithSweepLag sets how old a record must be before a sweep takes it, so that its push has come
// first: the platform pushes about a minute after hang-up and retries for a while. Default
// DefaultSweepLag; 0 sweeps up to now.
func WithSweepLag(d time.Duration) SyncOption {
	return durationOption("WithSweepLag", d, 0, func(c *syncSettings) *time.Duration { return &c.lag })
}

// WithSweepOverlap sets how far before the checkpoint each sweep starts again, for records the
// platform lists late. Default DefaultSweepOverlap.
func WithSweepOverlap(d time.Duration) SyncOption {
	return durationOption("WithSweepOverlap", d, 0, func(c *syncSettings) *time.Duration { return &c.overlap })
}

// WithSweepLookBack sets how far back the first sweep reaches, when the store holds no checkpoint
// yet. Default DefaultSweepLookBack.
func WithSweepLookBack(d time.Duration) SyncOption {
	return durationOption("WithSweepLookBack", d, time.Second, func(c *syncSettings) *time.Duration { return &c.lookBack })
}

// WithLeaseTTL sets how long the sweep lease lives without renewal: how soon another replica
// sweeps when the sweeping one dies. It is renewed every third of it. Default DefaultLeaseTTL.
func WithLeaseTTL(d time.Duration) SyncOption {
	return durationOption("WithLeaseTTL", d, 30*time.Millisecond, func(c *syncSettings) *time.Duration { return &c.leaseTTL })
}

// WithWindowLimit sets how many records a sweep reads in one time window at most: a window with
// more is split in two. Default DefaultWindowLimit. Set it below the deployment's own limit on how
// deep a list may be paged, if it has one.
func WithWindowLimit(n int) SyncOption {
	return func(c *syncSettings) error {
		if n < 1 {
			return invalid("WithWindowLimit", "must be at least 1, got %d", n)
		}
		c.windowLimit = n
		return nil
	}
}

// WithSyncPageSize sets the records a sweep asks for per page. Default DefaultAllPageSize.
func WithSyncPageSize(n int) SyncOption {
	return func(c *syncSettings) error {
		if n < 1 {
			return invalid("WithSyncPageSize", "must be at least 1, got %d", n)
		}
		c.pageSize = n
		return nil
	}
}

// WithSyncClock sets what the sync reads as now, for sweeping a simulated platform (digelaotest).
// Default time.Now.
func WithSyncClock(now func() time.Time) SyncOption {
	return func(c *syncSettings) error {
		if now == nil {
			return invalid("WithSyncClock", "nil func")
		}
		c.now = now
		return nil
	}
}

// WithSyncLogger sends a line per sweep, and every failure, to l. Default: the client's logger.
func WithSyncLogger(l *slog.Logger) SyncOption {
	return func(c *syncSettings) error {
		if l == nil {
			return invalid("WithSyncLogger", "nil *slog.Logger")
		}
		c.log = l
		return nil
	}
}

// durationOption sets the duration field returns to d, which must be at least least.
func durationOption(name string, d, least time.Duration, field func(*syncSettings) *time.Duration) SyncOption {
	return func(c *syncSettings) error {
		if d < least {
			return invalid(name, "must be at least %s, got %s", least, d)
		}
		*field(c) = d
		return nil
	}
}

// NewRecordSync returns a sync of c's account into sink. sink must be an idempotent upsert by
// r.SN; it is called once per record in the normal case, from pushes and sweeps concurrently.
func NewRecordSync(c *Client, sink func(ctx context.Context, r *CallRecord) error, opts ...SyncOption) (*RecordSync, error) {
	if c == nil {
		return nil, invalid("c", "nil *Client")
	}
	if sink == nil {
		return nil, invalid("sink", "nil func")
	}
	cfg := syncSettings{interval: DefaultSweepInterval, lag: DefaultSweepLag, overlap: DefaultSweepOverlap,
		lookBack: DefaultSweepLookBack, leaseTTL: DefaultLeaseTTL, windowLimit: DefaultWindowLimit,
		pageSize: DefaultAllPageSize, now: time.Now, log: c.log}
	for _, opt := range opts {
		if opt == nil {
			return nil, invalid("options", "nil SyncOption")
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.store == nil {
		cfg.store = NewMemorySyncStore(defaultDedupCapacity)
	}
	return &RecordSync{c: c, sink: sink, store: cfg.store, cfg: cfg,
		name: "sync:" + c.auth.key[len("session:"):], owner: rand.Text(), tokens: newClaimTokens()}, nil
}

// SyncStats counts what a RecordSync did in this process since it was made.
type SyncStats struct {
	Pushed       int64     // records delivered from pushes
	Found        int64     // records sweeps listed
	GapsFilled   int64     // records delivered by sweeps: found by a sweep, never delivered by a push
	Duplicates   int64     // deliveries left out: the record was delivered already
	NotFinal     int64     // records sweeps listed before their call ended, left for a later sweep
	SinkFailures int64     // sink calls that failed (from pushes and sweeps)
	Sweeps       int64     // sweeps completed
	Checkpoint   time.Time // the checkpoint this process stored last; zero before its first sweep
}

// syncCounters are SyncStats as they are kept.
type syncCounters struct {
	pushed, found, filled, duplicates, notFinal, sinkFailures, sweeps atomic.Int64
	checkpoint                                                        atomic.Pointer[time.Time]
}

// Stats returns the running counts.
func (rs *RecordSync) Stats() SyncStats {
	s := &rs.stats
	st := SyncStats{Pushed: s.pushed.Load(), Found: s.found.Load(), GapsFilled: s.filled.Load(),
		Duplicates: s.duplicates.Load(), NotFinal: s.notFinal.Load(), SinkFailures: s.sinkFailures.Load(),
		Sweeps: s.sweeps.Load()}
	if t := s.checkpoint.Load(); t != nil {
		st.Checkpoint = *t
	}
	return st
}

// SweepStats is what one sweep did. A sweep stops at once when its context ends or its lease is
// lost: the record at hand is not delivered.
type SweepStats struct {
	From, To   time.Time     // the creation times swept
	Windows    int           // time windows read (more than one when the sweep was split)
	Found      int           // records listed
	GapsFilled int           // records delivered: none of them had been delivered by a push
	Duplicates int           // records delivered already
	NotFinal   int           // records listed before their call ended
	Pending    int           // records another delivery was handling at the time
	Took       time.Duration // how long the sweep took
	// Checkpoint is the checkpoint stored after the sweep (SweepOnce); zero for Sweep, which
	// stores none.
	Checkpoint time.Time
	// HeldAt is the creation time of the earliest record the sweep left for a later one (not
	// final, or being delivered elsewhere; the sweep's From for one without a creation time or
	// listed outside the window); zero when there was none. Run stores no checkpoint past it. A
	// record left so for longer than a day is logged and no longer held.
	HeldAt time.Time
}

// errDeliveryInProgress answers a push whose record another delivery is handling right now.
var errDeliveryInProgress = errors.New("digelao: the record is being delivered by another delivery; try again")

// outcome is what a delivery did.
type outcome int

const (
	delivered outcome = iota
	duplicate
	inProgress
)

// deliver claims r's key, calls the sink and completes the key: the one path of pushes and
// sweeps.
func (rs *RecordSync) deliver(ctx context.Context, r *CallRecord) (outcome, error) {
	key := r.key("record:")
	if key == "" {
		return 0, errors.New("digelao: a call record that does not encode cannot be synced exactly once")
	}
	if r.SN == "" && r.ID == 0 {
		rs.cfg.log.WarnContext(ctx, "digelao sync: a call record with neither sn nor id, known by its content: "+
			"should it change, it is delivered again", "phone", r.Phone, "created_at", platformTime(r.CreatedAt))
	}
	if ctx.Err() != nil { // a sweep that was stopped, or lost its lease, delivers nothing more
		return 0, transport.ContextErr(ctx)
	}
	state, claimErr, err := deliverOnce(ctx, rs.store, rs.tokens, key, rs.cfg.log, slog.String("sn", r.SN), func(ctx context.Context) error {
		return rs.callSink(ctx, r)
	})
	switch {
	case claimErr != nil:
		return 0, fmt.Errorf("digelao: sync store claim: %w", claimErr)
	case state == ClaimDone:
		rs.stats.duplicates.Add(1)
		return duplicate, nil
	case state == ClaimInProgress:
		return inProgress, nil
	case err != nil:
		rs.stats.sinkFailures.Add(1)
		return 0, fmt.Errorf("digelao: sync sink: %w", err)
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

// Push delivers a pushed call record: plug it into PushHandler.OnCallRecord. It returns nil when
// the record is delivered, or was already; an error — the sink's, the store's, or another
// delivery of the same record being under way — makes the handler answer 5xx, and the platform
// push again.
func (rs *RecordSync) Push(ctx context.Context, r *CallRecord) error {
	out, err := rs.deliver(ctx, r)
	switch {
	case err != nil:
		return err
	case out == inProgress:
		return errDeliveryInProgress
	case out == delivered:
		rs.stats.pushed.Add(1)
	}
	return nil
}

// Sweep delivers every final record created from from to to (both included, to the second) that
// was not delivered yet, and returns what it did. It stops at the first error — the platform's,
// the store's or the sink's — with what it did so far.
//
// Platform API 6.1 获取通话流水 (POST /api/crmList), by start_create_at and end_create_at.
func (rs *RecordSync) Sweep(ctx context.Context, from, to time.Time) (SweepStats, error) {
	st := SweepStats{From: from, To: to}
	if err := checkPeriod("to", from, to); err != nil {
		return st, err
	}
	start := time.Now()
	w, err := rs.list(ctx, from.Truncate(time.Second), to.Truncate(time.Second))
	if err == nil {
		err = rs.sweepWindow(ctx, w, &st)
	}
	st.Took = time.Since(start)
	if err == nil {
		rs.stats.sweeps.Add(1)
	}
	rs.cfg.log.InfoContext(ctx, "digelao sync: sweep", "from", platformTime(from), "to", platformTime(to),
		"windows", st.Windows, "found", st.Found, "gaps_filled", st.GapsFilled, "duplicates", st.Duplicates,
		"not_final", st.NotFinal, "pending", st.Pending, "took", st.Took.Round(time.Millisecond), "error", err)
	return st, err
}

// window is a creation-time window of call records, with the first page the platform listed of it.
type window struct {
	opts  RecordListOptions
	first page[*CallRecord]
}

// list lists the first page of the records created from from to to.
func (rs *RecordSync) list(ctx context.Context, from, to time.Time) (window, error) {
	w := window{opts: RecordListOptions{CreatedFrom: from, CreatedTo: to, ListOptions: ListOptions{PerPage: rs.cfg.pageSize}}}
	var err error
	w.first, err = rs.c.Records.page(ctx, &w.opts)
	return w, err
}

// sweepWindow sweeps w, split in two when it holds more records than the limit.
func (rs *RecordSync) sweepWindow(ctx context.Context, w window, st *SweepStats) error {
	from, to, first := w.opts.CreatedFrom, w.opts.CreatedTo, w.first
	if first.counted && first.total > rs.cfg.windowLimit && to.Sub(from) >= time.Second {
		mid := from.Add(to.Sub(from) / 2).Truncate(time.Second)
		left, err := rs.list(ctx, from, mid)
		if err != nil {
			return err
		}
		right, err := rs.list(ctx, mid.Add(time.Second), to)
		if err != nil {
			return err
		}
		if left.first.counted && right.first.counted && left.first.total >= first.total && right.first.total >= first.total {
			// Each half counts what the whole did (or more: records arriving meanwhile), so the
			// two count it twice over. Halving down to single seconds would page the whole
			// account in each.
			return fmt.Errorf("digelao: call records: %w: both halves of %s–%s count all its %d records or more: "+
				"the platform does not filter by start_create_at and end_create_at", ErrBadReply,
				platformTime(from), platformTime(to), first.total)
		}
		if err := rs.sweepWindow(ctx, left, st); err != nil {
			return err
		}
		return rs.sweepWindow(ctx, right, st)
	}
	if first.counted && first.total > rs.cfg.windowLimit {
		rs.cfg.log.WarnContext(ctx, "digelao sync: one second holds more records than the window limit; paging it whole",
			"at", platformTime(from), "records", first.total)
	}
	st.Windows++
	pages := pageAll(ctx, "call records", &w.opts.ListOptions, func(ctx context.Context, lo *ListOptions) (page[*CallRecord], error) {
		if lo.Page == 0 {
			return first, nil
		}
		o := w.opts
		o.ListOptions = *lo
		return rs.c.Records.page(ctx, &o)
	}, recordKey)
	for r, err := range pages {
		if err != nil {
			return err
		}
		if err := rs.sweepRecord(ctx, r, st); err != nil {
			return err
		}
	}
	return nil
}

// sweepRecord delivers one listed record, or leaves it for a later sweep.
func (rs *RecordSync) sweepRecord(ctx context.Context, r *CallRecord, st *SweepStats) error {
	st.Found++
	rs.stats.found.Add(1)
	if r.DisconnectedAt.IsZero() {
		st.NotFinal++
		rs.stats.notFinal.Add(1)
		rs.hold(ctx, st, r)
		return nil
	}
	out, err := rs.deliver(ctx, r)
	switch {
	case err != nil:
		return err
	case out == duplicate:
		st.Duplicates++
	case out == inProgress:
		st.Pending++
		rs.hold(ctx, st, r)
	default:
		st.GapsFilled++
		rs.stats.filled.Add(1)
	}
	return nil
}

// hold notes a record a later sweep must see again, at its creation time — or at the sweep's
// start when it has none or was listed outside the sweep's window, since the platform may list it
// there again only. A record older than maxHold is not waited for any longer: it is logged, and
// holds nothing back.
func (rs *RecordSync) hold(ctx context.Context, st *SweepStats, r *CallRecord) {
	at := r.CreatedAt
	if at.IsZero() || at.Before(st.From) || at.After(st.To) {
		at = st.From
	}
	if rs.cfg.now().Sub(at) >= maxHold {
		rs.cfg.log.WarnContext(ctx, "digelao sync: a record not final, or being delivered elsewhere, for longer than the hold; no longer waited for, and not delivered",
			"sn", r.SN, "id", r.ID, "created_at", platformTime(r.CreatedAt), "hold", maxHold)
		return
	}
	if st.HeldAt.IsZero() || at.Before(st.HeldAt) {
		st.HeldAt = at
	}
}

// Run sweeps every interval until ctx ends, from the checkpoint in the store; see RecordSync. It
// sweeps only while it holds the store's lease, so that among replicas sharing a store one sweeps
// at a time. A failed sweep is logged and tried again at the next interval. Run returns the
// cause of ctx's end, having given the lease up.
func (rs *RecordSync) Run(ctx context.Context) error {
	defer func() {
		unlease := func(ctx context.Context, name string) error { return rs.store.Unlease(ctx, name, rs.owner) }
		if err := settle(ctx, rs.name, unlease); err != nil {
			rs.cfg.log.WarnContext(ctx, "digelao sync: giving up the lease failed; it lapses by itself", "error", err)
		}
	}()
	for {
		if _, _, err := rs.sweepIfLeader(ctx); err != nil && ctx.Err() == nil {
			rs.cfg.log.ErrorContext(ctx, "digelao sync: sweep failed; trying again at the next interval", "error", err)
		}
		if err := transport.Sleep(ctx, rs.cfg.interval); err != nil {
			return err
		}
	}
}

// SweepOnce is one step of Run, for a sync run by a scheduler of the caller's (cron, a job
// queue): it takes the store's lease, sweeps from the stored checkpoint less the overlap (the
// look-back on a first run) to now less the lag, and stores the new checkpoint, returned in the
// stats. It returns ErrLeaseHeld, sweeping nothing, while another replica holds the lease — and
// also when the lease was lost during the sweep, which then stops.
func (rs *RecordSync) SweepOnce(ctx context.Context) (SweepStats, error) {
	st, led, err := rs.sweepIfLeader(ctx)
	if err == nil && !led {
		err = ErrLeaseHeld
	}
	return st, err
}

// sweepIfLeader sweeps from the checkpoint when this replica holds, or can take, the lease, and
// stores the new checkpoint; led reports whether it held the lease.
func (rs *RecordSync) sweepIfLeader(ctx context.Context) (st SweepStats, led bool, err error) {
	ok, err := rs.store.Lease(ctx, rs.name, rs.owner, rs.cfg.leaseTTL)
	if err != nil || !ok {
		return st, false, err // another replica sweeps
	}
	parent := ctx
	ctx, cancel := context.WithCancelCause(ctx)
	stop := rs.keepLease(ctx, cancel)
	defer stop()
	defer cancel(nil) // first: a renewal stuck in the store ends with the sweep

	now := rs.cfg.now()
	mark, err := rs.store.Checkpoint(ctx, rs.name)
	if err != nil {
		return st, true, fmt.Errorf("digelao: sync store checkpoint: %w", err)
	}
	to := now.Add(-rs.cfg.lag)
	switch {
	case mark.IsZero():
		mark = now.Add(-rs.cfg.lookBack)
	case mark.After(now):
		// Stored while a clock ran ahead (this one, or another replica's): waiting for the clock
		// to catch up would leave every record created meanwhile unswept.
		rs.cfg.log.WarnContext(ctx, "digelao sync: the stored checkpoint is in the future (a clock ran ahead); sweeping from now less the lag",
			"checkpoint", platformTime(mark), "now", platformTime(now))
		mark = to
	}
	from := mark.Add(-rs.cfg.overlap)
	if to.Before(from) {
		st.Checkpoint = mark
		return st, true, nil
	}
	if st, err = rs.Sweep(ctx, from, to); err != nil {
		if lost := context.Cause(ctx); ctx.Err() != nil && parent.Err() == nil && !errors.Is(err, lost) {
			// Stopped by the lease's loss, which the error that came back (a sink's
			// context.Canceled) does not say.
			err = fmt.Errorf("%w: %w", lost, err)
		}
		return st, true, err
	}
	next := to
	if !st.HeldAt.IsZero() && st.HeldAt.Before(next) {
		next = st.HeldAt.Add(-time.Second)
	}
	// Only the holder of the lease moves the checkpoint: renew it once more first.
	if ok, err := rs.store.Lease(ctx, rs.name, rs.owner, rs.cfg.leaseTTL); err != nil || !ok {
		return st, true, fmt.Errorf("digelao: sync lease lost before the checkpoint was stored: %w", cmpErr(err, ErrLeaseHeld))
	}
	if err := rs.store.SetCheckpoint(ctx, rs.name, next); err != nil {
		return st, true, fmt.Errorf("digelao: sync store checkpoint: %w", err)
	}
	rs.stats.checkpoint.Store(&next)
	st.Checkpoint = next
	return st, true, nil
}

// cmpErr returns err, or def when err is nil.
func cmpErr(err, def error) error {
	if err != nil {
		return err
	}
	return def
}

// keepLease renews the lease every third of its TTL until stop is called; when a renewal fails
// it cancels the sweep's context, so that a replica that lost its lease stops sweeping.
func (rs *RecordSync) keepLease(ctx context.Context, cancel context.CancelCauseFunc) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(rs.cfg.leaseTTL / 3)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			ok, err := rs.store.Lease(ctx, rs.name, rs.owner, rs.cfg.leaseTTL)
			if err != nil || !ok {
				cancel(fmt.Errorf("digelao: sync lease lost: %w", cmpErr(err, ErrLeaseHeld)))
				return
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}
