package digelao

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
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
//	http.Handle("POST /digelao/push", rs.Handler(token)) // pushes go through the sync
//	go rs.Run(ctx)                                        // and sweeps fill the gaps
//
// # Exactly once
//
// Both sources meet in one delivery: the record's key (its sn) is claimed in the SyncStore, the
// sink is called, and the key is completed — or released when the sink failed, so that the record
// is delivered again later. The claim is renewed while the sink runs; should it be lost all the
// same (the store unreachable past its TTL), the sink's context ends with ErrClaimLost. A record
// delivered by a push is not delivered again by a sweep, and the other way round, and replicas
// sharing one store never deliver a record twice. Delivering counts as done when the sink returned
// nil. The sink must still be an idempotent upsert by r.SN: a store that forgets (its capacity,
// its TTL) or a crash between the sink's commit and the store's can repeat a record — unless the
// store is a CommitStore (sqlstore), which commits the sink's writes and the record's mark in one
// transaction.
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
// # Sweeps, the checkpoint, and the platform's clock
//
// Run sweeps [checkpoint − overlap, now − lag] every interval, and after each complete sweep
// stores its end as the new checkpoint (in the SyncStore, so that a restart resumes from it); a
// first start sweeps the look-back, and says so. "now" is the platform's: each sweep learns it
// from the Date of the platform's replies, so that a replica whose clock is off — by a day either
// way — loses nothing. The lag leaves time for pushes to arrive first; the overlap covers records
// the platform lists late. A window with more records than the window limit is split in two by
// time, recursively, so that no page limit truncates it; a window whose list changes while it is
// paged is read again.
//
// # Late records
//
// The sync remembers how many records each past hour held, for the reconciliation horizon (a
// day), asks the platform for those counts again every reconcile interval (an hour), and sweeps
// again an hour whose count changed; each hour is also swept again at fixed ages (1, 6 and 24
// hours after it ended), for an insert and a delete that leave its count as it was. A record the
// platform lists up to the horizon late is delivered within an interval of being listed; one
// listed later than the horizon is not.
//
// # Records the sink refuses
//
// A record the sink refuses does not hold the others back: the sweep goes on, holds the checkpoint
// at the record, and tries it again on later sweeps, waiting longer each time. After
// WithQuarantineAfter tries it is quarantined — kept in the store, logged at error level with its
// sn, counted in SyncStats.Quarantined, listed by Quarantined and delivered again by Redeliver —
// and the checkpoint moves on. Tries count only while the sink takes other records: a sink that
// refuses several records in a row (a database that is down) stops the sweep at once, without
// counting them, and the next sweep tries again.
//
// # Replicas
//
// Every replica accepts pushes; Run sweeps on one replica at a time: it holds a lease in the
// SyncStore, renewed while it sweeps, which a crashed replica's lease outlives only by its TTL.
// A replica that loses its lease stops sweeping before its next delivery. The lease is not a
// fence — a replica that stalls past its TTL may overlap with the next for a moment — and needs
// not be: every delivery is claimed in the store.
type RecordSync struct {
	c      *Client
	sink   func(context.Context, *CallRecord) error
	store  SyncStore
	commit CommitStore // the store, when it commits the sink's writes with the marks; else nil
	once   *once       // deliveries through the store's claims, when it does not
	cfg    syncSettings
	name   string // the account's sync in the store
	owner  string // this replica, for the lease
	clock  platformClock

	stats        syncCounters
	sinkOK       atomic.Int64              // sink calls that succeeded, from pushes and sweeps
	userSN       atomic.Pointer[string]    // the account's, once known (CommitStore.Deliver)
	lookedBack   atomic.Pointer[time.Time] // where the first step without a checkpoint swept from
	pushes       pushBatches               // the pushes waiting for a lane (WithPushBatching)
	step         sync.Mutex                // one sweep step at a time: they share the bookkeeping
	sinkOKAtStep int64                     // sinkOK when the latest step began; guarded by step
}

// SyncOption configures a RecordSync. NewRecordSync reports the first invalid one.
type SyncOption func(*syncSettings) error

type syncSettings struct {
	store             SyncStore
	interval          time.Duration
	lag               time.Duration
	overlap           time.Duration
	lookBack          time.Duration
	leaseTTL          time.Duration
	horizon           time.Duration
	reconcile         time.Duration
	ages              []time.Duration
	quarantineAfter   int
	requireCheckpoint bool
	windowLimit       int
	pageSize          int
	lanes             int // WithPushBatching; 0: none
	now               func() time.Time
	timers            timers
	spawn             func(func()) // runs a page's reading ahead: go f(), or f() in a simulation
	log               *slog.Logger
}

// goSpawn runs f on a goroutine of its own.
func goSpawn(f func()) { go f() }

// Defaults of the sync's options.
const (
	DefaultSweepInterval     = 5 * time.Minute
	DefaultSweepLag          = 10 * time.Minute
	DefaultSweepOverlap      = 30 * time.Minute
	DefaultSweepLookBack     = 24 * time.Hour
	DefaultLeaseTTL          = time.Minute
	DefaultWindowLimit       = 10_000
	DefaultReconcileHorizon  = 24 * time.Hour
	DefaultReconcileInterval = time.Hour
	DefaultQuarantineAfter   = 5
	// maxHold bounds how far a record that stays pending holds a checkpoint back.
	maxHold = 24 * time.Hour
)

// DefaultResweepAges are the ages, after an hour ended, at which the sync sweeps it again.
func DefaultResweepAges() []time.Duration {
	return []time.Duration{time.Hour, 6 * time.Hour, 24 * time.Hour}
}

// WithSyncStore sets the store of deliveries, checkpoint, lease, bookkeeping and quarantine. Give
// every replica the same one (redisstore.Store, sqlstore.Store). Default: a NewMemorySyncStore of
// the sync's own, for one process.
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
// platform lists a little late. Default DefaultSweepOverlap.
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

// WithReconcileHorizon sets how long the sync keeps the counts of past hours, checks them and
// sweeps the hours again: how late the platform may list a record and have it delivered all the
// same. 0 turns reconciliation off. Default DefaultReconcileHorizon.
func WithReconcileHorizon(d time.Duration) SyncOption {
	return func(c *syncSettings) error {
		if d != 0 && d < time.Hour {
			return invalid("WithReconcileHorizon", "must be 0 (off) or at least 1h, got %s", d)
		}
		c.horizon = d
		return nil
	}
}

// WithReconcileInterval sets how often the sync asks the platform for the counts of the past hours
// in its horizon (one request per hour counted), and sweeps again the hours whose count changed:
// how soon a record listed late is delivered. Default DefaultReconcileInterval.
func WithReconcileInterval(d time.Duration) SyncOption {
	return durationOption("WithReconcileInterval", d, time.Minute, func(c *syncSettings) *time.Duration { return &c.reconcile })
}

// WithResweepAges sets the ages, after an hour ended, at which the sync sweeps it again whatever
// its count: a record inserted late into an hour from which another was deleted leaves the count
// as it was. Each must be positive and within the horizon, in increasing order; none turns fixed
// re-sweeps off. Default DefaultResweepAges.
func WithResweepAges(ages ...time.Duration) SyncOption {
	return func(c *syncSettings) error {
		for i, a := range ages {
			if a <= 0 || (i > 0 && a <= ages[i-1]) {
				return invalid("WithResweepAges", "ages must be positive and increasing, got %v", ages)
			}
		}
		c.ages = slices.Clone(ages)
		return nil
	}
}

// WithQuarantineAfter sets how many times a sweep offers the sink a record it refuses before the
// record is quarantined. Default DefaultQuarantineAfter.
func WithQuarantineAfter(tries int) SyncOption {
	return func(c *syncSettings) error {
		if tries < 1 {
			return invalid("WithQuarantineAfter", "must be at least 1, got %d", tries)
		}
		c.quarantineAfter = tries
		return nil
	}
}

// WithRequireCheckpoint makes a store without a checkpoint an error (ErrNoCheckpoint) instead of a
// first start: for a deployment past its first start, whose store losing its state (a Redis
// flushed or restarted without persistence) must stop the sync until an operator sets the
// checkpoint, rather than sweep only the look-back.
func WithRequireCheckpoint() SyncOption {
	return func(c *syncSettings) error {
		c.requireCheckpoint = true
		return nil
	}
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

// WithSyncPageSize sets the records a sweep asks for per page. Default DefaultAllPageSize. A
// sweep holds two pages at a time: it reads the next while it delivers one.
func WithSyncPageSize(n int) SyncOption {
	return func(c *syncSettings) error {
		if n < 1 {
			return invalid("WithSyncPageSize", "must be at least 1, got %d", n)
		}
		c.pageSize = n
		return nil
	}
}

// WithSyncClock sets the local clock: what the sync compares the platform's clock with. Sweeps run
// on the platform's clock, read from the Date of its replies; the local clock only carries it
// between replies. Default time.Now.
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
		lookBack: DefaultSweepLookBack, leaseTTL: DefaultLeaseTTL, horizon: DefaultReconcileHorizon,
		reconcile: DefaultReconcileInterval, ages: DefaultResweepAges(), quarantineAfter: DefaultQuarantineAfter,
		windowLimit: DefaultWindowLimit, pageSize: DefaultAllPageSize, now: time.Now, timers: realTimers{}, spawn: goSpawn, log: c.log}
	for _, opt := range opts {
		if opt == nil {
			return nil, invalid("options", "nil SyncOption")
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	if n := len(cfg.ages); n > 0 && cfg.horizon > 0 && cfg.ages[n-1] > cfg.horizon {
		return nil, invalid("WithResweepAges", "the last age, %s, is past the reconciliation horizon, %s", cfg.ages[n-1], cfg.horizon)
	}
	if cfg.store == nil {
		store, err := NewMemorySyncStore(defaultDedupCapacity)
		if err != nil {
			return nil, err
		}
		cfg.store = store
	}
	rs := &RecordSync{c: c, sink: sink, store: cfg.store, cfg: cfg, name: "sync:" + c.auth.key[len("session:"):],
		owner: rand.Text(), clock: platformClock{local: cfg.now}}
	if cs, ok := cfg.store.(CommitStore); ok {
		rs.commit = cs
	} else if cfg.lanes > 0 {
		return nil, invalid("WithPushBatching", "the store, %T, is no CommitStore: it delivers a push at a time", cfg.store)
	} else {
		rs.once = &once{store: cfg.store, tokens: newClaimTokens(), timers: cfg.timers, log: cfg.log}
	}
	return rs, nil
}

// SyncStats counts what a RecordSync did in this process since it was made.
type SyncStats struct {
	Pushed       int64 // records delivered from pushes
	Found        int64 // records sweeps listed
	GapsFilled   int64 // records delivered by sweeps: found by a sweep, never delivered by a push
	Late         int64 // of GapsFilled, records found by sweeping a past hour again: listed late
	Duplicates   int64 // deliveries left out: the record was delivered already
	NotFinal     int64 // records sweeps listed before their call ended, left for a later sweep
	SinkFailures int64 // sink calls that failed (from pushes and sweeps)
	Quarantined  int64 // records quarantined: the sink refused them on every try
	Resweeps     int64 // past hours swept again: their count changed, or they reached an age
	// CheckpointsMissing counts steps of Run and SweepOnce that found no checkpoint in the store:
	// a first start, or a store that lost its state (each is logged).
	CheckpointsMissing int64
	Sweeps             int64     // sweeps completed
	Checkpoint         time.Time // the checkpoint this process stored last; zero before its first sweep
	// ClockSkew is the platform's clock less the local one, as the latest reply's Date told.
	ClockSkew time.Duration
}

// syncCounters are SyncStats as they are kept.
type syncCounters struct {
	pushed, found, filled, late, duplicates, notFinal, sinkFailures, quarantined, resweeps, missing, sweeps atomic.Int64
	checkpoint                                                                                              atomic.Pointer[time.Time]
}

// Stats returns the running counts.
func (rs *RecordSync) Stats() SyncStats {
	s := &rs.stats
	st := SyncStats{Pushed: s.pushed.Load(), Found: s.found.Load(), GapsFilled: s.filled.Load(), Late: s.late.Load(),
		Duplicates: s.duplicates.Load(), NotFinal: s.notFinal.Load(), SinkFailures: s.sinkFailures.Load(),
		Quarantined: s.quarantined.Load(), Resweeps: s.resweeps.Load(), CheckpointsMissing: s.missing.Load(),
		Sweeps: s.sweeps.Load(), ClockSkew: rs.clock.skew()}
	if t := s.checkpoint.Load(); t != nil {
		st.Checkpoint = *t
	}
	return st
}

// SweepStats is what one sweep did — with Run and SweepOnce, one step: the sweep from the
// checkpoint and the past hours swept again. A sweep stops at once when its context ends or its
// lease is lost: the record at hand is not delivered.
type SweepStats struct {
	From, To   time.Time     // the creation times swept from the checkpoint
	Windows    int           // time windows read (more than one when the sweep was split)
	Found      int           // records listed
	GapsFilled int           // records delivered: none of them had been delivered by a push
	Duplicates int           // records delivered already
	NotFinal   int           // records listed before their call ended
	Pending    int           // records another delivery was handling at the time
	Failed     int           // records the sink refused, to be tried again
	Waiting    int           // records the sink refused before, left until their next try
	Quarantine int           // records quarantined
	Resweeps   int           // past hours swept again
	Took       time.Duration // how long the sweep took
	// Checkpoint is the checkpoint stored after the sweep (SweepOnce); zero for Sweep, which
	// stores none.
	Checkpoint time.Time
	// HeldAt is the creation time of the earliest record the sweep left for a later one (not
	// final, refused by the sink, or being delivered elsewhere; the sweep's From for one without a
	// creation time or listed outside the window); zero when there was none. Run stores no
	// checkpoint past it. A record left so for longer than a day is logged and no longer held.
	HeldAt time.Time
}

// errDeliveryInProgress answers a push whose record another delivery is handling right now.
var errDeliveryInProgress = errors.New("digelao: the record is being delivered by another delivery; try again")

// Push delivers a pushed call record. It returns nil when the record is delivered, or was
// already, or is not final (no disconnected_at: a sweep delivers it once it is); an error — the
// sink's, the store's, or another delivery of the same record being under way — makes a
// PushHandler answer 5xx, and the platform push again. Serve pushes with Handler, which leaves the
// de-duplication to the sync; PushHandler{OnCallRecord: rs.Push} works too, at the cost of a second
// claim per push. With WithPushBatching, pushes that wait for a free transaction of the store are
// delivered together, in one.
func (rs *RecordSync) Push(ctx context.Context, r *CallRecord) error {
	if r.DisconnectedAt.IsZero() {
		// Pushed before its call ended: delivered now, the final record would be a duplicate. A
		// sweep delivers it once final.
		rs.stats.notFinal.Add(1)
		rs.cfg.log.InfoContext(ctx, "digelao sync: a record pushed before its call ended is left for a sweep to deliver once final",
			"sn", r.SN, "id", r.ID)
		return nil
	}
	deliver := rs.deliverOne
	if rs.cfg.lanes > 0 {
		deliver = rs.pushBatched
	}
	res, err := deliver(ctx, r)
	if err != nil {
		return err
	}
	switch res.out {
	case failed:
		return fmt.Errorf("digelao: sync sink: %w", res.err)
	case inProgress:
		return errDeliveryInProgress
	case delivered:
		rs.stats.pushed.Add(1)
	}
	return nil
}

// Handler returns a PushHandler that delivers the call records pushed to it through the sync, with
// token as its Token (give SetCallback the same). The sync's claim is the only de-duplication of a
// push: one claim and one completion in the store per record. Set the handler's other callbacks
// (OnImportResult, OnTaskAnalytics, OnUnknown) before its first request; its OnCallRecord must stay
// nil.
func (rs *RecordSync) Handler(token Secret) *PushHandler {
	return &PushHandler{Token: token, Logger: rs.cfg.log, sync: rs}
}

// Checkpoint returns the checkpoint the store holds for the sync: where its next sweep starts,
// less the overlap. It is zero when the store holds none: a first start, or a store that lost its
// state — which a program can refuse before it sweeps only the look-back.
func (rs *RecordSync) Checkpoint(ctx context.Context) (time.Time, error) {
	t, err := rs.store.Checkpoint(ctx, rs.name)
	if err != nil {
		return time.Time{}, fmt.Errorf("digelao: sync store checkpoint: %w", err)
	}
	return t, nil
}

// Quarantined returns the records the sync quarantined, oldest first; see RecordSync.
func (rs *RecordSync) Quarantined(ctx context.Context) ([]QuarantinedRecord, error) {
	qs, err := rs.store.Quarantined(ctx, rs.name)
	if err != nil {
		return nil, fmt.Errorf("digelao: sync store quarantine: %w", err)
	}
	return qs, nil
}

// Redeliver offers the sink the quarantined record key once more, and takes it out of the
// quarantine when the sink took it, or it had been delivered meanwhile. An error leaves it in.
func (rs *RecordSync) Redeliver(ctx context.Context, key string) error {
	qs, err := rs.Quarantined(ctx)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(qs, func(q QuarantinedRecord) bool { return q.Key == key })
	if i < 0 {
		return invalid("key", "no quarantined record has key %q", key)
	}
	r := new(CallRecord)
	if err := r.UnmarshalJSON(qs[i].Record); err != nil {
		return fmt.Errorf("digelao: quarantined record %s does not decode: %w", key, err)
	}
	if rs.keyOf(r) != key {
		return fmt.Errorf("digelao: quarantined record %s holds another record (sn %q): it stays in the quarantine", key, r.SN)
	}
	r.Raw = qs[i].Record
	res, err := rs.deliver(ctx, []*CallRecord{r}, nil)
	switch {
	case err != nil:
		return err
	case res[0].out == failed:
		return fmt.Errorf("digelao: sync sink: %w", res[0].err)
	case res[0].out == inProgress:
		return errDeliveryInProgress
	}
	if err := rs.store.Unquarantine(ctx, rs.name, key); err != nil {
		return fmt.Errorf("digelao: sync store quarantine: %w", err)
	}
	rs.cfg.log.InfoContext(ctx, "digelao sync: a quarantined record was delivered", "sn", r.SN, "key", key)
	return nil
}

// Sweep delivers every final record created from from to to (both included, to the second) that
// was not delivered yet, and returns what it did. A record the sink refuses does not stop it: it
// goes on, and returns an error naming the refused records at the end. It stops at the first
// other error — the platform's, the store's, or the sink's when it refuses several records in a
// row — with what it did so far. It stores no checkpoint and quarantines nothing.
//
// Platform API 6.1 获取通话流水 (POST /api/crmList), by start_create_at and end_create_at.
func (rs *RecordSync) Sweep(ctx context.Context, from, to time.Time) (SweepStats, error) {
	st := SweepStats{From: from, To: to}
	if err := checkPeriod("to", from, to); err != nil {
		return st, err
	}
	start := time.Now()
	sw := rs.newSweep(&st, nil)
	_, err := sw.window(ctx, from.Truncate(time.Second), to.Truncate(time.Second), true)
	if err == nil {
		err = sw.end(ctx, false)
	}
	st.Took = time.Since(start)
	rs.logSweep(ctx, &st, err)
	return st, err
}

// logSweep logs a line for a sweep, and counts it when it completed.
func (rs *RecordSync) logSweep(ctx context.Context, st *SweepStats, err error) {
	if err == nil {
		rs.stats.sweeps.Add(1)
	}
	rs.cfg.log.InfoContext(ctx, "digelao sync: sweep", "from", platformTime(st.From), "to", platformTime(st.To),
		"windows", st.Windows, "found", st.Found, "gaps_filled", st.GapsFilled, "duplicates", st.Duplicates,
		"not_final", st.NotFinal, "pending", st.Pending, "failed", st.Failed, "waiting", st.Waiting,
		"quarantined", st.Quarantine, "resweeps", st.Resweeps, "took", st.Took.Round(time.Millisecond), "error", err)
}

// Run sweeps every interval until ctx ends, from the checkpoint in the store; see RecordSync. It
// sweeps only while it holds the store's lease, so that among replicas sharing a store one sweeps
// at a time. A failed sweep is logged and tried again at the next interval. Run returns the
// cause of ctx's end, having given the lease up.
func (rs *RecordSync) Run(ctx context.Context) error {
	defer func() {
		unlease := func(ctx context.Context, name string) error { return rs.store.Unlease(ctx, name, rs.owner) }
		if err := settle(ctx, rs.store, rs.name, unlease); err != nil {
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
// look-back on a first run) to the platform's now less the lag, sweeps again the past hours that
// are due, and stores the new checkpoint, returned in the stats. It returns ErrLeaseHeld, sweeping
// nothing, while another replica holds the lease — and also when the lease was lost during the
// sweep, which then stops.
func (rs *RecordSync) SweepOnce(ctx context.Context) (SweepStats, error) {
	st, led, err := rs.sweepIfLeader(ctx)
	if err == nil && !led {
		err = ErrLeaseHeld
	}
	return st, err
}

// sweepIfLeader runs one step when this replica holds, or can take, the lease; led reports
// whether it held the lease.
func (rs *RecordSync) sweepIfLeader(ctx context.Context) (st SweepStats, led bool, err error) {
	ok, err := rs.store.Lease(ctx, rs.name, rs.owner, rs.cfg.leaseTTL)
	if err != nil || !ok {
		return st, false, err // another replica sweeps
	}
	rs.step.Lock()
	defer rs.step.Unlock()
	parent := ctx
	ctx, cancel := context.WithCancelCause(ctx)
	stop := rs.keepLease(ctx, cancel)
	defer stop()
	defer cancel(nil) // first: a renewal stuck in the store ends with the step

	start := time.Now()
	st, err = rs.runStep(ctx)
	st.Took = time.Since(start)
	if err != nil {
		if lost := context.Cause(ctx); ctx.Err() != nil && parent.Err() == nil && !errors.Is(err, lost) {
			// Stopped by the lease's loss, which the error that came back (a sink's
			// context.Canceled) does not say.
			err = fmt.Errorf("%w: %w", lost, err)
		}
	}
	if !st.To.IsZero() || err != nil {
		rs.logSweep(ctx, &st, err)
	}
	return st, true, err
}

// keepLease keeps the lease alive (keepAlive) until stop is called; when it is lost — taken by
// another, or not renewed in time — it cancels the step's context, so that a replica that lost
// its lease stops sweeping before another would take it.
func (rs *RecordSync) keepLease(_ context.Context, cancel context.CancelCauseFunc) (stop func()) {
	return keepAlive(rs.cfg.timers, rs.cfg.leaseTTL, func(ctx context.Context) (bool, error) {
		return rs.store.Lease(ctx, rs.name, rs.owner, rs.cfg.leaseTTL)
	}, func(err error) {
		if err != nil {
			err = fmt.Errorf("%w (%w)", ErrLeaseHeld, err)
		}
		cancel(fmt.Errorf("digelao: sync lease lost: %w", cmpErr(err, ErrLeaseHeld)))
	})
}

// cmpErr returns err, or def when err is nil.
func cmpErr(err, def error) error {
	if err != nil {
		return err
	}
	return def
}
