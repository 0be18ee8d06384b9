package digelao_test

// A deterministic simulation of RecordSync (issue 19), in the spirit of FoundationDB's and
// TigerBeetle's simulators. A seed draws a fault plan (recordsync_sim_faults_test.go); a platform
// model (recordsync_sim_platform_test.go) creates call records over simulated hours, lists them
// by offset paging newest first, and pushes each about a minute after hang-up to a replica's
// PushHandler; replicas sharing one store (recordsync_sim_store_test.go) run SweepOnce on their
// own skewed clocks. Everything runs on one goroutine, one event at a time, from one seeded
// stream: a seed replays exactly. After a quiet period the checker
// (recordsync_sim_check_test.go) asserts that every record was delivered once or named by an
// error.

import (
	"bytes"
	"cmp"
	"container/heap"
	"context"
	"errors"
	"flag"
	"fmt"
	"hash"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/internal/testkit"
)

var (
	simSeed      = flag.Uint64("sim.seed", 0, "replay this seed of TestRecordSyncSimulation (with -v, print its trace)")
	simSeeds     = flag.Int("sim.seeds", 0, "how many seeds, from 1, TestRecordSyncSimulation tries on each store (default 300; 6 under -race, whose checks cost ten times the time)")
	simFaults    = flag.String("sim.faults", "", "the fault classes seeds may draw, comma-separated: default all, or none")
	simStoreKind = flag.String("sim.store", "", "the SyncStore the replicas share: memory, or sqlite (sqlstore); default both, "+
		"sqlite on a sixth of the seeds (it is slower)")
)

func TestRecordSyncSimulation(t *testing.T) {
	seeds := *simSeeds
	if seeds == 0 {
		seeds = 300
		if testkit.RaceBuild() {
			seeds = 6
		}
	}
	if *simStoreKind == "" && *simSeed == 0 {
		for _, run := range []struct {
			store string
			seeds int
		}{{"memory", seeds}, {"sqlite", max(seeds/6, 1)}} {
			t.Run(run.store, func(t *testing.T) { simulate(t, run.store, run.seeds) })
		}
		return
	}
	simulate(t, cmp.Or(*simStoreKind, "memory"), seeds)
}

// simulate runs seeds seeds, or the one -sim.seed names, with the store of the kind store.
func simulate(t *testing.T, store string, seeds int) {
	cfg := simConfig{faultsFlag: *simFaults, faults: mustFaults(t, *simFaults), store: store}
	if *simSeed != 0 {
		if testing.Verbose() {
			cfg.log = func(line string) { t.Log(line) }
		}
		res := runSim(t, *simSeed, cfg)
		t.Logf("seed %d: %s; %s", res.seed, &res.plan, res.summary())
		reportSim(t, res, cfg)
		return
	}
	results := make([]simResult, seeds)
	t.Run("seeds", func(t *testing.T) {
		for i := range results {
			seed := uint64(i + 1)
			t.Run(fmt.Sprint(seed), func(t *testing.T) {
				t.Parallel()
				results[i] = runSim(t, seed, cfg)
				reportSim(t, results[i], cfg)
			})
		}
	})
	summarizeSims(t, results)
}

// TestRecordSyncSimulationReplays runs seeds twice: the same events and outcomes, step by step.
// It runs on today's code too: it tests the harness, not RecordSync.
func TestRecordSyncSimulationReplays(t *testing.T) {
	if testkit.RaceBuild() {
		t.Skip("six runs of the simulation cost a minute under -race: .ci/run runs this test without it")
	}
	t.Parallel()
	cfg := simConfig{faults: mustFaults(t, ""), store: "memory"}
	traces := map[uint64]bool{}
	for _, seed := range []uint64{1, 2, 3} {
		first, second := runSim(t, seed, cfg), runSim(t, seed, cfg)
		assert.Equal(t, first.trace, second.trace, "seed %d: the trace differs between two runs", seed)
		assert.Equal(t, first.violations, second.violations, "seed %d", seed)
		assert.Equal(t, first.summary(), second.summary(), "seed %d", seed)
		require.Positive(t, first.records, "seed %d created no record: %s", seed, &first.plan)
		require.Positive(t, first.sweeps, "seed %d completed no sweep", seed)
		require.Positive(t, first.deliveries, "seed %d delivered nothing", seed)
		traces[first.trace] = true
	}
	assert.Len(t, traces, 3, "three seeds, fewer traces: the trace records too little")
}

// simConfig is what the flags choose for every seed of a run.
type simConfig struct {
	faultsFlag string            // -sim.faults, for the replay command
	faults     map[string]bool   // the fault classes seeds may draw
	store      string            // -sim.store
	log        func(line string) // the trace, line by line; nil: not printed
}

func mustFaults(t *testing.T, s string) map[string]bool {
	f, err := parseFaults(s)
	require.NoError(t, err)
	return f
}

// replayCommand is the command that runs seed again, verbosely.
func (c simConfig) replayCommand(seed uint64) string {
	cmd := fmt.Sprintf("go test -race -count=1 -run 'TestRecordSyncSimulation$' -v . -sim.seed=%d", seed)
	if c.faultsFlag != "" {
		cmd += " -sim.faults=" + c.faultsFlag
	}
	if c.store != "memory" {
		cmd += " -sim.store=" + c.store
	}
	return cmd
}

// reportSim fails t with res's violations, at most a few of each kind, and how to replay it.
func reportSim(t *testing.T, res simResult, cfg simConfig) {
	t.Helper()
	if len(res.violations) == 0 {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d: %d violations (%s)\nplan: %s\n", res.seed, len(res.violations), res.summary(), &res.plan)
	shown := map[string]int{}
	for _, v := range res.violations {
		if shown[v.kind]++; shown[v.kind] <= 3 {
			fmt.Fprintf(&b, "  %s\n", v)
		} else if shown[v.kind] == 4 {
			fmt.Fprintf(&b, "  %s: …\n", v.kind)
		}
	}
	fmt.Fprintf(&b, "replay: %s", cfg.replayCommand(res.seed))
	t.Error(b.String())
}

// summarizeSims logs, per kind of violation, how many seeds found it, the smallest, and what it said.
func summarizeSims(t *testing.T, results []simResult) {
	type found struct {
		seeds int
		first simResult
		msg   string
	}
	byKind := map[string]*found{}
	var kinds []string
	failed := 0
	for _, res := range results {
		if len(res.violations) > 0 {
			failed++
		}
		seen := map[string]bool{}
		for _, v := range res.violations {
			if seen[v.kind] {
				continue
			}
			seen[v.kind] = true
			f := byKind[v.kind]
			if f == nil {
				f = &found{first: res, msg: v.msg}
				byKind[v.kind] = f
				kinds = append(kinds, v.kind)
			}
			f.seeds++
		}
	}
	slices.Sort(kinds)
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d seeds failed\n", failed, len(results))
	for _, k := range kinds {
		f := byKind[k]
		fmt.Fprintf(&b, "%s: %d seeds; smallest %d (%s)\n    %s\n", k, f.seeds, f.first.seed, &f.first.plan, f.msg)
	}
	t.Log(b.String())
}

// simResult is what one seed's run came to.
type simResult struct {
	seed       uint64
	plan       faultPlan
	trace      uint64 // a hash of every event and outcome, in order
	events     int
	records    int
	deliveries int
	pages      int // pages the platform served
	rows       int // rows they held
	sweeps     int // sweeps that completed
	violations []violation
}

func (r *simResult) summary() string {
	return fmt.Sprintf("%d events, %d records, %d deliveries, %d sweeps completed, %d rows listed in %d pages, trace %016x",
		r.events, r.records, r.deliveries, r.sweeps, r.rows, r.pages, r.trace)
}

// runSim runs seed under cfg.
func runSim(t testing.TB, seed uint64, cfg simConfig) simResult {
	t.Helper()
	s, err := newSim(t, seed, cfg)
	require.NoError(t, err)
	s.run()
	res := simResult{seed: seed, plan: s.plan, trace: s.hash.Sum64(), events: s.events,
		records: len(s.platform.records), pages: s.platform.requests,
		rows: s.platform.served, sweeps: len(s.windows), violations: s.violations}
	for _, ds := range s.delivered {
		res.deliveries += len(ds)
	}
	return res
}

// simBase, simUser, simKey and simPushToken are the account every replica uses.
const (
	simBase      = "https://sim.invalid"
	simUser      = "SYSUSER|sim"
	simKey       = "simKey01"
	simPushToken = "sim-push-token"
)

// simMaxChanges bounds the faults one sweep sees between its pages; simMaxWork is the least bound on
// the pages and rows the sweeps of a run read, together (see maxWork): a run that reads more is
// stopped, as a sync whose window grows without end.
const (
	simMaxChanges = 3
	simMaxWork    = 100_000
)

// simStart is when every run begins, in platform time.
var simStart = time.Date(2026, 11, 2, 8, 0, 0, 0, simChina)

// sim is one seed's run.
type sim struct {
	cfg      simConfig
	seed     uint64
	plan     faultPlan
	rng      *rand.Rand // the run's stream: every random choice after the plan
	clock    simClock
	end      time.Time // of the quiet period, and the run
	quiet    bool
	platform *simPlatform
	store    *sharedStore
	replicas []*simReplica
	loud     *simLoud

	queue     simQueue
	seq       int
	events    int
	hash      hash.Hash64
	slowLeft  int   // slow sink calls still to come
	nestedOps int64 // store round trips of pushes made inside a slow sink

	delivered     map[string][]simDelivery // by sn
	windows       []simWindow              // of the sweeps that completed
	failed        []simWindow              // of the sweeps that returned an error
	lastCompleted time.Time                // when a sweep last completed
	lastErr       error                    // the last error a sweep returned
	violations    []violation
	reported      map[string]bool // the kinds of violation reported
}

// simReplica is one process: a client, a RecordSync, and the PushHandler in front of it. A
// restart makes a new RecordSync, as a new process would.
type simReplica struct {
	idx       int
	skew      time.Duration // its clock less the platform's
	rs        *digelao.RecordSync
	push      http.Handler
	ops       atomic.Int64 // round trips to the store
	stopped   bool
	downUntil time.Time
	// recoverFrom is set while the operator's recovery runs: no checkpoint required, and the look-back
	// reaching it.
	recoverFrom time.Time
	cancel      context.CancelFunc // of the sweep under way
}

func newSim(t testing.TB, seed uint64, cfg simConfig) (*sim, error) {
	plan := drawPlan(seed, cfg.faults)
	s := &sim{cfg: cfg, seed: seed, plan: plan, rng: rand.New(rand.NewPCG(seed, 0x72756e)),
		clock: simClock{testkit.NewClock(simStart)}, hash: fnv.New64a(), slowLeft: plan.slowSinks,
		delivered: map[string][]simDelivery{}}
	s.end = simStart.Add(plan.active + simQuiet)
	s.platform = newSimPlatform(s.clock, plan.pageCap)
	s.platform.beforePage = s.beforePage
	s.loud = &simLoud{named: map[string]bool{}, trace: s.tracef}
	first, err := newStoreUnderTest(t, cfg.store, s.clock)
	if err != nil {
		return nil, err
	}
	if _, ok := first.(digelao.CommitStore); ok {
		// A CommitStore's marks live in its transaction: a redelivery meanwhile waits for it, and
		// on this one goroutine would wait for ever. Claims that outlive a sink are not its.
		s.plan.slowSinks, s.slowLeft = 0, 0
	}
	s.store = &sharedStore{cur: first, fresh: func() digelao.SyncStore {
		st, _ := newStoreUnderTest(t, cfg.store, s.clock) // made once already
		return st
	}}
	for i := range plan.replicas {
		r := &simReplica{idx: i, skew: plan.skews[i]}
		if err := s.start(r); err != nil {
			return nil, err
		}
		s.replicas = append(s.replicas, r)
	}
	return s, nil
}

// start starts r's process: the wiring a deployment has, as the README shows it: pushes through
// the sync's Handler, the store shared.
func (s *sim) start(r *simReplica) error {
	log := slog.New(&simLogHandler{loud: s.loud, counts: true})
	c, err := digelao.New(simBase, digelao.WithAPIKey(simUser, simKey), digelao.WithTransport(s.platform),
		digelao.WithLogger(log))
	if err != nil {
		return err
	}
	local := func() time.Time { return s.clock.now().Add(r.skew) }
	opts := []digelao.SyncOption{digelao.WithSyncStore(s.store.view(&r.ops)), digelao.WithSyncClock(local),
		digelao.WithSyncTimers(s.clock), digelao.WithSyncPageSize(s.plan.pageSize), digelao.WithSyncLogger(log),
		// A page read ahead is read at once, before the page before it is delivered: the latest a
		// sweep sees of the list, deterministically.
		digelao.WithSyncSpawn(func(read func()) { read() }),
		digelao.WithRequireCheckpoint()} // a deployment past its first start
	if !r.recoverFrom.IsZero() { // the operator's run after the store lost the checkpoint
		opts = append(opts[:len(opts)-1], digelao.WithSweepLookBack(s.clock.now().Sub(r.recoverFrom)))
	}
	rs, err := digelao.NewRecordSync(c, s.sink(r), opts...)
	if err != nil {
		return err
	}
	r.rs, r.stopped = rs, false
	// The handler's error lines say a push was answered 5xx, to be tried again: nothing of the
	// record's fate. They are traced, not counted as naming it.
	pushLog := slog.New(&simLogHandler{loud: s.loud})
	h := rs.Handler(digelao.NewSecret(simPushToken))
	h.Logger = pushLog
	r.push = h
	return nil
}

// run runs the events in time order until the end, then checks.
func (s *sim) run() {
	s.tracef("plan %s", &s.plan)
	s.after(s.nextArrival(), s.arrive)
	for _, r := range s.replicas {
		s.after(s.within(0, s.plan.interval), func() { s.sweepTick(r) })
	}
	if s.plan.outage > 0 {
		s.after(s.plan.outageAt, s.beginOutage)
	}
	for _, at := range s.plan.forgets {
		s.after(at, func() {
			s.store.forget()
			s.tracef("the store forgot everything (epoch %d)", s.store.epoch)
		})
	}
	s.after(s.plan.active, s.beginQuiet)
	for s.queue.Len() > 0 {
		ev := heap.Pop(&s.queue).(*simEvent)
		if ev.at.After(s.end) {
			break
		}
		s.clock.advance(ev.at)
		s.events++
		ev.do()
		if s.platform.served+s.platform.requests > s.maxWork() {
			s.violate(vRunaway, "the sweeps read %d rows in %d pages by %s, %d records being on the platform: "+
				"a window that grows without end?", s.platform.served, s.platform.requests, s.ago(s.clock.now()),
				len(s.platform.records))
			return
		}
	}
	s.clock.advance(s.end)
	s.check()
}

// maxWork bounds the rows and pages the sweeps of a run read: simMaxWork, and for the records on
// the platform, each listed forty times (a checkpoint held back a day, after an outage) in pages of
// the plan's size.
func (s *sim) maxWork() int {
	return simMaxWork + 40*len(s.platform.records)*(s.plan.pageSize+1)/s.plan.pageSize
}

// after schedules do d from the start of the run (the events before now run next).
func (s *sim) after(d time.Duration, do func()) { s.at(simStart.Add(d), do) }

func (s *sim) at(t time.Time, do func()) {
	s.seq++
	heap.Push(&s.queue, &simEvent{at: t, seq: s.seq, do: do})
}

// within returns a random duration in [lo, hi), to the second as the platform's times are.
func (s *sim) within(lo, hi time.Duration) time.Duration {
	return (lo + time.Duration(s.rng.Int64N(int64(hi-lo)))).Truncate(time.Second)
}

// nextArrival returns when, from the start, the next call ends: exponential gaps (Poisson arrivals).
func (s *sim) nextArrival() time.Duration {
	gap := time.Duration(s.rng.ExpFloat64() / s.plan.perHour * float64(time.Hour))
	return s.clock.now().Sub(simStart) + gap.Truncate(time.Second)
}

// arrive ends a call: its record is created, listed now or late, and pushed about a minute later.
func (s *sim) arrive() {
	if s.quiet {
		return
	}
	r := s.platform.create(s.clock.now(), s.seed)
	r.refused = r.ord == s.plan.refused
	late := time.Duration(0)
	if s.rng.Float64() < s.plan.late {
		late = s.within(time.Minute, 40*time.Minute) // within the overlap, or beyond it up to the horizon
		if s.rng.IntN(2) == 0 {
			late = s.within(40*time.Minute, simHorizon)
		}
	}
	s.tracef("call ends: %s, listed in %s, refused %t", r.sn, late, r.refused)
	if late == 0 {
		s.platform.list(r)
	} else {
		s.at(s.clock.now().Add(late), func() { s.platform.list(r); s.tracef("listed late: %s", r.sn) })
	}
	s.schedulePush(r, s.clock.now().Add(s.within(40*time.Second, 80*time.Second)))
	s.after(s.nextArrival(), s.arrive)
}

// schedulePush has the platform push r at t, and retry until SUCCESS, three tries in all. A lost
// push loses every try.
func (s *sim) schedulePush(r *simRecord, t time.Time) {
	lost := s.rng.Float64() < s.plan.pushLoss && !s.quiet
	var try func(n int)
	try = func(n int) {
		ok := false
		rep := s.replicas[s.rng.IntN(len(s.replicas))]
		switch {
		case lost || (!s.quiet && s.rng.Float64() < s.plan.pushLoss/2):
			s.tracef("push %s try %d: lost", r.sn, n)
		case rep.stopped:
			s.tracef("push %s try %d: replica %d is down", r.sn, n, rep.idx)
		default:
			ok = s.deliverPush(r, rep)
		}
		switch {
		case !ok && n < 3:
			s.at(s.clock.now().Add(s.within(time.Minute, 5*time.Minute)), func() { try(n + 1) })
		case ok && !s.quiet && s.rng.Float64() < s.plan.pushRepeat:
			s.schedulePush(r, s.clock.now().Add(s.within(10*time.Second, 2*time.Hour)))
		}
	}
	s.at(t, func() { try(1) })
}

// deliverPush posts r's push to rep's PushHandler and reports whether it answered SUCCESS. A new
// record's delivery must cost no more than one claim and its completion.
func (s *sim) deliverPush(r *simRecord, rep *simReplica) bool {
	req := httptest.NewRequest(http.MethodPost, "/digelao/push?token="+simPushToken, bytes.NewReader(r.row))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	ops, nested, before := rep.ops.Load(), s.nestedOps, len(s.delivered[r.sn])
	rep.push.ServeHTTP(w, req)
	ops = rep.ops.Load() - ops - (s.nestedOps - nested) // a slow sink's redelivery to the same replica is its own
	r.tries++
	ok := w.Code == http.StatusOK && w.Body.String() == "SUCCESS"
	if ok {
		r.ok++
	}
	s.tracef("push %s to replica %d: %d %q, %d store round trips", r.sn, rep.idx, w.Code,
		strings.TrimSpace(w.Body.String()), ops)
	if ok && len(s.delivered[r.sn]) == before+1 && ops > simPushRoundTrips {
		s.violate(vRoundTrips, "the push that delivered %s took %d store round trips; one exactly-once layer takes %d",
			r.sn, ops, simPushRoundTrips)
	}
	return ok
}

// sink returns replica r's sink: it records each delivery, and fails as the plan says.
func (s *sim) sink(r *simReplica) func(context.Context, *digelao.CallRecord) error {
	return func(ctx context.Context, cr *digelao.CallRecord) error {
		rec := s.platform.bySN[cr.SN]
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case rec == nil:
			s.violate(vPlatform, "replica %d's sink was given a record the platform never had: sn %q", r.idx, cr.SN)
			return fmt.Errorf("sim sink: no such record %q", cr.SN)
		case rec.refused:
			s.tracef("sink on replica %d refuses %s", r.idx, rec.sn)
			return errors.New("sim sink: value too long for column") // as a database says it: no sn
		case !s.quiet && s.rng.Float64() < s.plan.sinkFail:
			s.tracef("sink on replica %d fails once for %s", r.idx, rec.sn)
			return errors.New("sim sink: database unavailable")
		}
		if !s.quiet && s.slowLeft > 0 && s.rng.Float64() < 0.05 {
			s.slowSink(r, rec)
		}
		s.delivered[rec.sn] = append(s.delivered[rec.sn], simDelivery{at: s.clock.now(), epoch: s.store.epoch, replica: r.idx})
		s.tracef("sink on replica %d stores %s", r.idx, rec.sn)
		return nil
	}
}

// slowSink makes the sink on r outlive its claim: the clock moves past the claim's TTL, and the
// platform pushes the record again, to the next replica, meanwhile.
func (s *sim) slowSink(r *simReplica, rec *simRecord) {
	s.slowLeft--
	s.clock.advance(s.clock.now().Add(simClaimTTL + time.Minute))
	other := s.replicas[(r.idx+1)%len(s.replicas)]
	s.tracef("sink on replica %d is slow with %s; its push reaches replica %d meanwhile", r.idx, rec.sn, other.idx)
	if !other.stopped {
		ops := other.ops.Load()
		s.deliverPush(rec, other)
		s.nestedOps += other.ops.Load() - ops
	}
}

// sweepTick runs one SweepOnce on r, as Run would every interval.
func (s *sim) sweepTick(r *simReplica) {
	defer s.at(s.clock.now().Add(s.plan.interval), func() { s.sweepTick(r) })
	if r.stopped {
		return
	}
	if !r.recoverFrom.IsZero() {
		// The operator's look-back is a duration from the restart: a replica that waits for the
		// lease is restarted with it renewed, as an operator watching its logs would.
		s.restartNow(r, "its operator renews its look-back to reach "+simTime(r.recoverFrom))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	obs := &sweepObs{replica: r, v0: s.platform.version, returned: map[string]bool{}, reads: map[[2]time.Time]*simRead{}}
	s.platform.sweep, r.cancel = obs, cancel
	st, err := r.rs.SweepOnce(ctx)
	s.platform.sweep, r.cancel = nil, nil
	if errors.Is(err, digelao.ErrLeaseHeld) {
		s.tracef("sweep on replica %d: lease held", r.idx)
		return
	}
	s.tracef("sweep on replica %d: %s–%s windows=%d found=%d filled=%d duplicates=%d pending=%d checkpoint=%s requests=%d error=%v",
		r.idx, simTime(st.From), simTime(st.To), st.Windows, st.Found, st.GapsFilled, st.Duplicates, st.Pending,
		simTime(st.Checkpoint), obs.requests, err)
	if errors.Is(err, digelao.ErrNoCheckpoint) {
		s.recover(r)
		return
	}
	if err == nil && !r.recoverFrom.IsZero() {
		r.recoverFrom = time.Time{}
		s.restartNow(r, "its operator's recovery done")
	}
	if err != nil {
		s.lastErr = err
		s.loud.note(err.Error()) // a returned error is loud: a scheduler logs it
		if !st.From.IsZero() {
			s.failed = append(s.failed, simWindow{at: s.clock.now(), from: st.From, to: st.To})
		}
		return
	}
	s.lastCompleted = s.clock.now()
	if !st.From.IsZero() {
		s.windows = append(s.windows, simWindow{at: s.clock.now(), from: st.From, to: st.To})
		s.checkSweep(obs, st.From, st.To)
	}
}

// beforePage changes the list between two pages of one window, as the plan says: a row already
// paged deleted, a record inserted at the top, or the sweeping replica stopped. A sweep sees a few
// such changes at most.
func (s *sim) beforePage(q crmQuery, rows []*simRecord) {
	obs := s.platform.sweep
	if s.quiet || obs == nil || obs.changes >= simMaxChanges {
		return
	}
	if paged := rows[:min(len(rows), q.page*q.size)]; s.rng.Float64() < s.plan.deletePaging && len(paged) > 0 {
		r := paged[s.rng.IntN(len(paged))]
		s.platform.remove(r)
		obs.changes++
		s.tracef("deleted while paging: %s (row %d of %d)", r.sn, slices.Index(rows, r), len(rows))
	}
	if s.rng.Float64() < s.plan.insertPaging {
		at := q.to
		if now := s.clock.now(); now.Before(at) {
			at = now
		}
		if at = at.Add(-s.within(time.Second, time.Minute)); !at.Before(q.from) {
			r := s.platform.create(at, s.seed)
			s.platform.list(r)
			obs.changes++
			s.tracef("inserted while paging: %s, created %s", r.sn, simTime(r.created))
			s.schedulePush(r, s.clock.now().Add(s.within(40*time.Second, 80*time.Second)))
		}
	}
	if s.rng.Float64() < s.plan.stopPaging {
		r := obs.replica
		r.cancel()
		obs.changes++
		s.stop(r, s.clock.now().Add(s.within(time.Minute, 2*time.Hour)))
		s.tracef("replica %d stopped as page %d was read", r.idx, q.page)
	}
}

// recover is what an operator does when a replica says its store holds no checkpoint
// (ErrNoCheckpoint), as the error says: restart it once without WithRequireCheckpoint, with a
// look-back reaching back past the last sweep that completed, and the day a record may hold a
// checkpoint back.
func (s *sim) recover(r *simReplica) {
	r.recoverFrom = simStart.Add(-time.Hour)
	if last := s.lastCompleted.Add(-25 * time.Hour); last.After(r.recoverFrom) {
		r.recoverFrom = last
	}
	s.restartNow(r, "no checkpoint: its operator restarts it with a look-back reaching "+simTime(r.recoverFrom))
}

// restartNow restarts r as a new process at once.
func (s *sim) restartNow(r *simReplica, why string) {
	if err := s.start(r); err != nil {
		panic(err) // started the same way once already
	}
	s.tracef("replica %d restarted: %s", r.idx, why)
}

// stop takes r down until until, when it restarts as a new process.
func (s *sim) stop(r *simReplica, until time.Time) {
	r.stopped = true
	if until.After(r.downUntil) {
		r.downUntil = until
	}
	s.at(until, func() { s.restart(r) })
}

func (s *sim) restart(r *simReplica) {
	if !r.stopped || s.clock.now().Before(r.downUntil) {
		return
	}
	if err := s.start(r); err != nil {
		panic(err) // started the same way once already
	}
	s.tracef("replica %d restarted", r.idx)
}

// beginOutage takes every replica down for the plan's outage.
func (s *sim) beginOutage() {
	s.tracef("outage: every replica down for %s", s.plan.outage)
	for _, r := range s.replicas {
		s.stop(r, s.clock.now().Add(s.plan.outage))
	}
}

// beginQuiet ends the faults: calls end, every replica is up, the sink is healthy.
func (s *sim) beginQuiet() {
	s.quiet = true
	s.tracef("quiet period: no faults for %s", simQuiet)
	for _, r := range s.replicas {
		r.downUntil = s.clock.now()
		s.restart(r)
	}
}

// tracef adds a line to the trace: the hash a replay must reproduce, printed with -v.
func (s *sim) tracef(format string, args ...any) {
	line := s.ago(s.clock.now()) + " " + fmt.Sprintf(format, args...)
	_, _ = s.hash.Write([]byte(line + "\n"))
	if s.cfg.log != nil {
		s.cfg.log(line)
	}
}

// ago formats t as the time since the start.
func (s *sim) ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return "T+" + t.Sub(simStart).String()
}

// simEvent is a step of the run; events at the same time run in the order they were scheduled.
type simEvent struct {
	at  time.Time
	seq int
	do  func()
}

type simQueue []*simEvent

func (q simQueue) Len() int { return len(q) }
func (q simQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q simQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *simQueue) Push(x any)   { *q = append(*q, x.(*simEvent)) }
func (q *simQueue) Pop() any {
	old := *q
	ev := old[len(old)-1]
	*q = old[:len(old)-1]
	return ev
}
