// Package benchkit compares the SDK with baselines in interleaved rounds. Every round runs each
// candidate for a fixed number of operations, in an order that rotates from round to round, so the
// drift of a shared machine lands on both sides of each round's ratio; results are the median and
// quartiles over the rounds. BENCHMARKS.md is generated with it (scripts/benchmarks.sh).
package benchkit

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Candidate is one way of doing the job measured.
type Candidate struct {
	Name string
	// Op does the job once. It is called from Config.Goroutines goroutines at a time.
	Op func() error
}

// Config says how long and with how many goroutines the candidates run.
type Config struct {
	Rounds     int           // each round runs every candidate once
	Slice      time.Duration // about how long one candidate runs in one round (never less than one Op)
	Goroutines int           // concurrent callers of Op; 0 means 1
}

// Result holds what every round measured, per candidate.
type Result struct {
	Config Config
	ops    map[string]int // operations per round
	runs   map[string]*samples
}

type samples struct{ ns, cpu, allocs, bytes []float64 } // per operation, one entry a round

// Spread is the median and the quartiles of a sample.
type Spread struct{ Q1, Median, Q3 float64 }

// Compare runs the candidates: first alone, growing the number of operations until it fills about
// a quarter of a slice (a warm-up that sets how many operations make a slice), then cfg.Rounds
// rounds, candidate after candidate. Round r starts with candidate r mod len(cands), so each
// candidate takes every position equally often. Before each slice the heap is collected, so no
// candidate pays for another's garbage; allocations are counted over the whole process.
func Compare(cfg Config, cands ...Candidate) (*Result, error) {
	if cfg.Rounds < 1 || cfg.Slice <= 0 || len(cands) == 0 {
		return nil, fmt.Errorf("benchkit: need rounds, a slice and candidates, got %+v with %d candidates", cfg, len(cands))
	}
	cfg.Goroutines = max(cfg.Goroutines, 1)
	res := &Result{Config: cfg, ops: map[string]int{}, runs: map[string]*samples{}}
	for _, c := range cands {
		if _, dup := res.runs[c.Name]; dup {
			return nil, fmt.Errorf("benchkit: two candidates named %q", c.Name)
		}
		n, err := calibrate(c.Op, cfg)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.Name, err)
		}
		res.ops[c.Name], res.runs[c.Name] = n, &samples{}
	}
	for r := range cfg.Rounds {
		for _, c := range rotate(cands, r) {
			if err := res.measure(c, cfg.Goroutines); err != nil {
				return nil, fmt.Errorf("%s, round %d: %w", c.Name, r+1, err)
			}
		}
	}
	return res, nil
}

// rotate returns cands starting at index r mod len(cands).
func rotate(cands []Candidate, r int) []Candidate {
	k := r % len(cands)
	return append(slices.Clone(cands[k:]), cands[:k]...)
}

// calibrate returns how many operations of op fill about a slice.
func calibrate(op func() error, cfg Config) (int, error) {
	for n := 1; ; n *= 4 {
		start := time.Now()
		if err := run(op, n, cfg.Goroutines); err != nil {
			return 0, err
		}
		if d := time.Since(start); d >= cfg.Slice/4 || n >= 1<<30 {
			return max(1, int(float64(n)*float64(cfg.Slice)/float64(d))), nil
		}
	}
}

func (res *Result) measure(c Candidate, goroutines int) error {
	n := res.ops[c.Name]
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	cpu0, _ := cpuTime()
	start := time.Now()
	err := run(c.Op, n, goroutines)
	d := time.Since(start)
	cpu1, cpuOK := cpuTime()
	runtime.ReadMemStats(&after)
	if err != nil {
		return err
	}
	s := res.runs[c.Name]
	s.ns = append(s.ns, float64(d.Nanoseconds())/float64(n))
	if cpuOK {
		s.cpu = append(s.cpu, float64((cpu1-cpu0).Nanoseconds())/float64(n))
	}
	s.allocs = append(s.allocs, float64(after.Mallocs-before.Mallocs)/float64(n))
	s.bytes = append(s.bytes, float64(after.TotalAlloc-before.TotalAlloc)/float64(n))
	return nil
}

// run calls op n times in all from the given number of goroutines, and returns the first error;
// an error stops every goroutine after its current call.
func run(op func() error, n, goroutines int) error {
	if goroutines <= 1 {
		for range n {
			if err := op(); err != nil {
				return err
			}
		}
		return nil
	}
	var (
		next    atomic.Int64
		failed  atomic.Bool
		errOnce sync.Once
		first   error
		wg      sync.WaitGroup
	)
	for range goroutines {
		wg.Go(func() {
			for !failed.Load() && next.Add(1) <= int64(n) {
				if err := op(); err != nil {
					errOnce.Do(func() { first = err })
					failed.Store(true)
				}
			}
		})
	}
	wg.Wait()
	return first
}

// Ops returns how many operations the candidate ran in each round.
func (res *Result) Ops(name string) int { return res.ops[name] }

// Ratio returns the spread over the rounds of the time per operation of num divided by that of den
// in the same round. (For throughput, swap them: den's time ÷ num's is num's rate ÷ den's.)
func (res *Result) Ratio(num, den string) Spread { return ratio(res.get(num).ns, res.get(den).ns) }

// CPURatio is Ratio of the CPU time the whole process spent per operation (every goroutine's, the
// garbage collector's included), which other processes on the machine do not inflate. It is the
// zero Spread where CPU time is not measured (outside Unix).
func (res *Result) CPURatio(num, den string) Spread {
	if len(res.get(num).cpu) == 0 {
		return Spread{}
	}
	return ratio(res.get(num).cpu, res.get(den).cpu)
}

// ratio returns the spread of a[i] / b[i]: a and b are measurements of the same rounds.
func ratio(a, b []float64) Spread {
	r := make([]float64, len(a))
	for i := range a {
		r[i] = a[i] / b[i]
	}
	return Quartiles(r)
}

// Time returns the spread of the candidate's nanoseconds per operation.
func (res *Result) Time(name string) Spread { return Quartiles(res.get(name).ns) }

// Allocs returns the spread of the candidate's allocations per operation.
func (res *Result) Allocs(name string) Spread { return Quartiles(res.get(name).allocs) }

// Bytes returns the spread of the candidate's allocated bytes per operation.
func (res *Result) Bytes(name string) Spread { return Quartiles(res.get(name).bytes) }

func (res *Result) get(name string) *samples {
	s, ok := res.runs[name]
	if !ok {
		panic(fmt.Sprintf("benchkit: no candidate %q", name))
	}
	return s
}

// Quartiles returns the median and quartiles of xs, interpolated linearly between order
// statistics (as R's default and NumPy's percentile do).
func Quartiles(xs []float64) Spread {
	s := slices.Sorted(slices.Values(xs))
	q := func(p float64) float64 {
		if len(s) == 0 {
			return math.NaN()
		}
		pos := p * float64(len(s)-1)
		i := int(pos)
		if i+1 >= len(s) {
			return s[len(s)-1]
		}
		return s[i] + (pos-float64(i))*(s[i+1]-s[i])
	}
	return Spread{Q1: q(0.25), Median: q(0.5), Q3: q(0.75)}
}

// Scale returns s with every figure multiplied by k.
func (s Spread) Scale(k float64) Spread { return Spread{s.Q1 * k, s.Median * k, s.Q3 * k} }
