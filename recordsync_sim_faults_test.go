package digelao_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// The fault classes a seed may draw; -sim.faults restricts a run to some of them, so that a seed
// class (the seeds that drew a class) can be run alone.
const (
	fPushLoss     = "push-loss"     // pushes lost: every try, or one
	fPushRepeat   = "push-repeat"   // pushes delivered again after SUCCESS
	fDeletePaging = "delete-paging" // a row already paged deleted before the next page
	fInsertPaging = "insert-paging" // a record inserted at the top of the window before the next page
	fLate         = "late"          // records listed up to the horizon after their created_at
	fPageCap      = "page-cap"      // the platform caps pageSize below what the sync asks
	fSkew         = "skew"          // replica clocks off by up to hours either way
	fSinkFail     = "sink-fail"     // sink calls failing once
	fRefused      = "refused"       // one record the sink always refuses
	fSlowSink     = "slow-sink"     // a sink outliving its claim while the push reaches another replica
	fReplicas     = "replicas"      // two or three replicas sharing the store
	fStop         = "stop"          // the sweeping replica stopped between two pages
	fOutage       = "outage"        // every replica down for up to two days
	fForget       = "forget"        // the store loses its state: checkpoint, marks, claims, leases
)

func faultClasses() []string {
	return []string{fPushLoss, fPushRepeat, fDeletePaging, fInsertPaging, fLate, fPageCap, fSkew, fSinkFail,
		fRefused, fSlowSink, fReplicas, fStop, fOutage, fForget}
}

// parseFaults reads -sim.faults: a comma-separated list of classes, "" for all.
func parseFaults(s string) (map[string]bool, error) {
	all := faultClasses()
	allowed := map[string]bool{}
	if s == "" {
		for _, c := range all {
			allowed[c] = true
		}
		return allowed, nil
	}
	for c := range strings.SplitSeq(s, ",") {
		if c = strings.TrimSpace(c); c != "none" && !slices.Contains(all, c) {
			return nil, fmt.Errorf("-sim.faults: no fault class %q (have: none, %s)", c, strings.Join(all, ", "))
		}
		allowed[c] = true
	}
	return allowed, nil
}

// simHorizon is how late the platform may list a record; simQuiet is the quiet period that ends
// every run: no faults, a healthy sink, every replica up, sweeping.
const (
	simHorizon = 24 * time.Hour
	simQuiet   = 26 * time.Hour
)

// faultPlan is what a seed drew: the deployment, its load, and its faults (zero when not drawn).
type faultPlan struct {
	replicas int           // sharing one store
	active   time.Duration // records arrive and faults happen for this long; then the quiet period
	perHour  float64       // records created per hour, on average
	pageSize int           // the sync's WithSyncPageSize
	interval time.Duration // how often each replica runs SweepOnce

	pushLoss     float64         // share of pushes every try of which is lost; half as many lose one try
	pushRepeat   float64         // share of pushes delivered again after their SUCCESS
	deletePaging float64         // chance, before each page after the first, that a row already paged goes
	insertPaging float64         // chance, before each page after the first, of a record at the window's top
	late         float64         // share of records listed late, up to simHorizon after their created_at
	pageCap      int             // the platform's cap on pageSize; 0 none
	skews        []time.Duration // each replica's clock less the platform's
	sinkFail     float64         // share of sink calls that fail
	refused      int             // the ordinal of the record the sink always refuses; -1 none
	slowSinks    int             // sink calls that outlive their claim while the push reaches another replica
	stopPaging   float64         // chance, before each page after the first, that the sweeping replica stops
	outageAt     time.Duration   // every replica down from outageAt (from the start) ...
	outage       time.Duration   // ... for this long
	forgets      []time.Duration // when (from the start) the store loses its state
}

// drawPlan draws seed's plan. Every parameter is drawn whether or not its class is allowed, so that
// -sim.faults changes nothing else about a seed.
func drawPlan(seed uint64, allowed map[string]bool) faultPlan {
	rng := rand.New(rand.NewPCG(seed, 0x706c616e)) // the plan's stream; the run has its own
	on := func(class string, chance float64) bool { return rng.Float64() < chance && allowed[class] }
	between := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(rng.Int64N(int64(hi-lo))) }
	p := faultPlan{refused: -1}
	p.active = between(4*time.Hour, 30*time.Hour).Truncate(time.Minute)
	p.perHour = 4 + 26*rng.Float64()
	p.pageSize = []int{2, 3, 5, 10, 20, 50, 500}[rng.IntN(7)] // mostly small: pages, and faults between them
	p.interval = []time.Duration{5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute}[rng.IntN(4)]

	replicas := 2 + rng.IntN(2)
	p.replicas = 1
	if on(fReplicas, 0.4) {
		p.replicas = replicas
	}
	lossy, repeats := 0.05+0.5*rng.Float64(), 0.05+0.3*rng.Float64()
	if on(fPushLoss, 0.5) {
		p.pushLoss = lossy
	}
	if on(fPushRepeat, 0.3) {
		p.pushRepeat = repeats
	}
	deletes, inserts := 0.1+0.5*rng.Float64(), 0.1+0.5*rng.Float64()
	if on(fDeletePaging, 0.3) {
		p.deletePaging = deletes
	}
	if on(fInsertPaging, 0.3) {
		p.insertPaging = inserts
	}
	late := 0.02 + 0.2*rng.Float64()
	if on(fLate, 0.3) {
		p.late = late
	}
	capped := max(2, p.pageSize/4+rng.IntN(p.pageSize)*3/4) // below what the sync asks, when it can be
	if on(fPageCap, 0.3) && capped < p.pageSize {
		p.pageCap = capped
	}
	skews := make([]time.Duration, 3)
	for i := range skews {
		skews[i] = between(10*time.Minute, 6*time.Hour) // hours off, and the first replica always so
		if i > 0 && rng.IntN(2) == 0 {
			skews[i] = between(0, 90*time.Second) // or just the usual drift
		}
		if rng.IntN(2) == 0 {
			skews[i] = -skews[i]
		}
		skews[i] = skews[i].Truncate(time.Second)
	}
	p.skews = make([]time.Duration, p.replicas)
	if on(fSkew, 0.3) {
		copy(p.skews, skews)
	}
	failing := 0.02 + 0.2*rng.Float64()
	if on(fSinkFail, 0.3) {
		p.sinkFail = failing
	}
	refused := rng.IntN(max(1, int(p.perHour*p.active.Hours()/2)))
	if on(fRefused, 0.2) {
		p.refused = refused
	}
	slow := 1 + rng.IntN(3)
	if on(fSlowSink, 0.2) {
		p.slowSinks = slow
	}
	stops := 0.05 + 0.3*rng.Float64()
	if on(fStop, 0.3) {
		p.stopPaging = stops
	}
	outageAt, outage := between(time.Hour, p.active), between(time.Hour, 50*time.Hour)
	if on(fOutage, 0.2) {
		p.outageAt, p.outage = outageAt.Truncate(time.Minute), outage.Truncate(time.Minute)
	}
	forgets := []time.Duration{between(time.Hour, p.active).Truncate(time.Second),
		between(time.Hour, p.active).Truncate(time.Second)}[:1+rng.IntN(2)]
	if on(fForget, 0.25) {
		p.forgets = forgets
		if p.outage > 0 { // the bad case: the store forgets while every replica is down
			p.forgets = append(p.forgets, p.outageAt+p.outage-time.Minute)
		}
	}
	if end := p.outageAt + p.outage + time.Hour; p.outage > 0 && end > p.active {
		p.active = end
	}
	return p
}

// String lists the plan: the deployment, then the faults drawn.
func (p *faultPlan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "replicas=%d active=%s rate=%.1f/h pageSize=%d interval=%s; faults:", p.replicas, p.active,
		p.perHour, p.pageSize, p.interval)
	n := b.Len()
	add := func(cond bool, format string, args ...any) {
		if cond {
			fmt.Fprintf(&b, " "+format, args...)
		}
	}
	add(p.pushLoss > 0, "%s=%.2f", fPushLoss, p.pushLoss)
	add(p.pushRepeat > 0, "%s=%.2f", fPushRepeat, p.pushRepeat)
	add(p.deletePaging > 0, "%s=%.2f", fDeletePaging, p.deletePaging)
	add(p.insertPaging > 0, "%s=%.2f", fInsertPaging, p.insertPaging)
	add(p.late > 0, "%s=%.2f", fLate, p.late)
	add(p.pageCap > 0, "%s=%d", fPageCap, p.pageCap)
	add(slices.ContainsFunc(p.skews, func(d time.Duration) bool { return d != 0 }), "%s=%v", fSkew, p.skews)
	add(p.sinkFail > 0, "%s=%.2f", fSinkFail, p.sinkFail)
	add(p.refused >= 0, "%s=record#%d", fRefused, p.refused)
	add(p.slowSinks > 0, "%s=%d", fSlowSink, p.slowSinks)
	add(p.stopPaging > 0, "%s=%.2f", fStop, p.stopPaging)
	add(p.outage > 0, "%s=%s@%s", fOutage, p.outage, p.outageAt)
	add(len(p.forgets) > 0, "%s=%v", fForget, p.forgets)
	if b.Len() == n {
		b.WriteString(" none")
	}
	return b.String()
}
