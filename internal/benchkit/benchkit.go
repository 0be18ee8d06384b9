// Package benchkit does for BENCHMARKS.md what benchstat cannot: it pairs the SDK's and the
// baseline's results of the same round — scripts/benchmarks.sh runs `go test -bench` once a round,
// alternating which of the two goes first — and gives the median and quartiles of the per-round
// ratios, so that the drift of a shared machine lands on both sides of each ratio. It also judges
// targets and writes the document's blocks. Measuring is testing.B's; the spread of each candidate
// alone is benchstat's.
package benchkit

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Rounds holds the results of interleaved benchmark runs: for each benchmark, by its full name
// without the -GOMAXPROCS suffix, one result a round, in order. A result maps a unit ("ns/op",
// "B/op", "allocs/op", or one a benchmark reports) to its value.
type Rounds map[string][]map[string]float64

// procs is the -GOMAXPROCS suffix go test adds to a benchmark's name.
var procs = regexp.MustCompile(`-\d+$`)

// Parse reads the output of go test -bench, as many runs as were appended, and returns their
// results by round: the n-th result of a benchmark is its result in round n. Lines that are not
// results are skipped, as benchstat skips them.
func Parse(r io.Reader) (Rounds, error) {
	rs := Rounds{}
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil { // the number of iterations
			continue
		}
		res := map[string]float64{}
		for i := 2; i < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("benchkit: line %d: %q is not a number", line, f[i])
			}
			res[f[i+1]] = v
		}
		name := procs.ReplaceAllString(strings.TrimPrefix(f[0], "Benchmark"), "")
		rs[name] = append(rs[name], res)
	}
	return rs, sc.Err()
}

// Ref names a figure: a benchmark and a unit.
type Ref struct{ Bench, Unit string }

// values returns the figure of every round.
func (rs Rounds) values(r Ref) ([]float64, error) {
	results, ok := rs[r.Bench]
	if !ok {
		return nil, fmt.Errorf("benchkit: no results for %s", r.Bench)
	}
	vs := make([]float64, len(results))
	for i, res := range results {
		v, ok := res[r.Unit]
		if !ok {
			return nil, fmt.Errorf("benchkit: %s reports no %s in round %d", r.Bench, r.Unit, i+1)
		}
		vs[i] = v
	}
	return vs, nil
}

// Median returns the spread over the rounds of a figure.
func (rs Rounds) Median(r Ref) (Spread, error) {
	vs, err := rs.values(r)
	return Quartiles(vs), err
}

// Ratio returns the spread over the rounds of num ÷ den, each round's figures divided: both must
// have run in every round.
func (rs Rounds) Ratio(num, den Ref) (Spread, error) {
	a, err := rs.values(num)
	if err != nil {
		return Spread{}, err
	}
	b, err := rs.values(den)
	if err != nil {
		return Spread{}, err
	}
	if len(a) != len(b) {
		return Spread{}, fmt.Errorf("benchkit: %s ran %d rounds, %s %d", num.Bench, len(a), den.Bench, len(b))
	}
	r := make([]float64, len(a))
	for i := range a {
		r[i] = a[i] / b[i]
	}
	return Quartiles(r), nil
}

// Spread is the median and the quartiles of a sample.
type Spread struct{ Q1, Median, Q3 float64 }

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

// Invert returns the spread of 1/x: a ratio of times as a ratio of rates.
func (s Spread) Invert() Spread { return Spread{1 / s.Q3, 1 / s.Median, 1 / s.Q1} }

// Scale returns s with every figure multiplied by k.
func (s Spread) Scale(k float64) Spread { return Spread{s.Q1 * k, s.Median * k, s.Q3 * k} }
