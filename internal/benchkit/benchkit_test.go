package benchkit

import (
	"errors"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestQuartiles(t *testing.T) {
	assert.Equal(t, Spread{Q1: 3, Median: 5, Q3: 7}, Quartiles([]float64{9, 1, 8, 2, 7, 3, 6, 4, 5}))
	assert.Equal(t, Spread{Q1: 1.75, Median: 2.5, Q3: 3.25}, Quartiles([]float64{4, 3, 2, 1}))
	assert.Equal(t, Spread{Q1: 7, Median: 7, Q3: 7}, Quartiles([]float64{7}))
}

// TestRatioPairsRounds: the ratio is the median of per-round ratios, not the ratio of medians,
// so that drift within a run cancels.
func TestRatioPairsRounds(t *testing.T) {
	res := &Result{runs: map[string]*samples{
		"a": {ns: []float64{2, 10, 4}},
		"b": {ns: []float64{1, 20, 1}},
	}}
	// Per round: 2, 0.5, 4. The ratio of the medians would be 4.
	assert.Equal(t, Spread{Q1: 1.25, Median: 2, Q3: 3}, res.Ratio("a", "b"))
	assert.Panics(t, func() { res.Ratio("a", "c") })
}

func TestRotate(t *testing.T) {
	cands := []Candidate{{Name: "a"}, {Name: "b"}, {Name: "c"}}
	var got []string
	for r := range 4 {
		for _, c := range rotate(cands, r) {
			got = append(got, c.Name)
		}
	}
	assert.Equal(t, "abc bca cab abc", strings.Join([]string{
		strings.Join(got[0:3], ""), strings.Join(got[3:6], ""), strings.Join(got[6:9], ""), strings.Join(got[9:], ""),
	}, " "))
	assert.Equal(t, "a", cands[0].Name, "rotate must not reorder its argument")
}

// TestCompareAlternates records the order in which the candidates run after their warm-up.
func TestCompareAlternates(t *testing.T) {
	var order []string
	warm := map[string]bool{}
	op := func(name string) func() error {
		return func() error {
			if warm["a"] && warm["b"] && (len(order) == 0 || order[len(order)-1] != name) {
				order = append(order, name)
			}
			warm[name] = true
			return nil
		}
	}
	res, err := Compare(Config{Rounds: 4, Slice: time.Millisecond},
		Candidate{Name: "a", Op: op("a")}, Candidate{Name: "b", Op: op("b")})
	require.NoError(t, err)
	// order[0] is b's warm-up. Then rounds ab, ba, ab, ba, in which runs of the same candidate
	// merge: a b a b a. Without the rotation it would be a b a b a b a b.
	assert.Equal(t, []string{"a", "b", "a", "b", "a"}, order[1:], "order %v", order)
	assert.Len(t, res.runs["a"].ns, 4)
	assert.Positive(t, res.Ops("a"))
}

func TestRunCountsAndStops(t *testing.T) {
	for _, g := range []int{1, 8} {
		var calls atomic.Int64
		require.NoError(t, run(func() error { calls.Add(1); return nil }, 1000, g))
		assert.Equal(t, int64(1000), calls.Load(), "goroutines %d", g)

		calls.Store(0)
		boom := errors.New("boom")
		err := run(func() error {
			if calls.Add(1) == 10 {
				return boom
			}
			return nil
		}, 1_000_000, g)
		require.ErrorIs(t, err, boom)
		assert.Less(t, calls.Load(), int64(1000), "goroutines %d: an error stops the run", g)
	}
}

func TestCompareReportsErrors(t *testing.T) {
	_, err := Compare(Config{Rounds: 2, Slice: time.Millisecond, Goroutines: 4},
		Candidate{Name: "ok", Op: func() error { return nil }},
		Candidate{Name: "bad", Op: func() error { return errors.New("boom") }})
	require.ErrorContains(t, err, "bad: boom")

	_, err = Compare(Config{Rounds: 1, Slice: time.Millisecond}, Candidate{Name: "x", Op: func() error { return nil }},
		Candidate{Name: "x", Op: func() error { return nil }})
	require.ErrorContains(t, err, `two candidates named "x"`)
	_, err = Compare(Config{Slice: time.Millisecond}, Candidate{Name: "x", Op: func() error { return nil }})
	require.Error(t, err)
}

// TestCompareCountsAllocations: one 64-byte allocation per operation is counted as such.
func TestCompareCountsAllocations(t *testing.T) {
	var sink []byte
	res, err := Compare(Config{Rounds: 3, Slice: 2 * time.Millisecond},
		Candidate{Name: "alloc", Op: func() error { sink = make([]byte, 64); return nil }},
		Candidate{Name: "none", Op: func() error { return nil }})
	require.NoError(t, err)
	require.Len(t, sink, 64)
	assert.InDelta(t, 1, res.Allocs("alloc").Median, 0.05)
	assert.InDelta(t, 64, res.Bytes("alloc").Median, 4)
	assert.InDelta(t, 0, res.Allocs("none").Median, 0.05)
	assert.Positive(t, res.Time("alloc").Median)
	if runtime.GOOS == "linux" {
		assert.Positive(t, res.CPURatio("alloc", "none").Median, "CPU time is measured")
	}
}

func TestBound(t *testing.T) {
	s := Spread{Q1: 1.05, Median: 1.08, Q3: 1.12}
	tg := Bound("job", s, false, 1.10, Ratio)
	assert.True(t, tg.Met())
	assert.True(t, tg.Straddles())
	assert.Equal(t, "≤ 1.10×", tg.Want)
	assert.Equal(t, "1.08× [1.05×–1.12×]", tg.Got)
	assert.Equal(t, "met (the quartiles straddle the bound)", tg.Verdict())
	assert.Empty(t, tg.CPU)

	tg = tg.WithCPU(Spread{1.11, 1.12, 1.13})
	assert.Equal(t, "1.12× [1.11×–1.13×]", tg.CPU)
	assert.Equal(t, "met (the quartiles straddle the bound; by CPU time: not met)", tg.Verdict())
	assert.Equal(t, "met (the quartiles straddle the bound)", Bound("job", s, false, 1.10, Ratio).WithCPU(Spread{}).Verdict(),
		"no CPU time measured")

	tg = Bound("job", s, true, 1.10, Ratio)
	assert.False(t, tg.Met())
	assert.Equal(t, "≥ 1.10×", tg.Want)

	tg = Bound("job", Spread{1, 1.2, 1.3}, false, 1.6, Ratio).WithCPU(Spread{1, 1.2, 1.3}).
		And("1 allocation", "2 allocations", false)
	assert.False(t, tg.Met())
	assert.False(t, tg.Straddles())
	assert.Equal(t, "≤ 1.60×, 1 allocation", tg.Want)
	assert.Equal(t, "1.20× [1.00×–1.30×]; 2 allocations", tg.Got)
	assert.Equal(t, "**not met**", tg.Verdict(), "the CPU time fails the further condition too")
}

func TestFormats(t *testing.T) {
	assert.Equal(t, "628 ns", Duration(628.4))
	assert.Equal(t, "63.5 µs", Duration(63_512))
	assert.Equal(t, "25.3 ms", Duration(25_300_000))
	assert.Equal(t, "11 528", Count(11_528.01))
	assert.Equal(t, "1", Count(1.004))
	assert.Equal(t, "1 234 567", Count(1_234_567))
	assert.Equal(t, "0.3", Count(0.3))
	assert.Equal(t, "135", Count(135))
	assert.Equal(t, "210 697", Count(210_696.5))
	assert.Equal(t, "9.5", Count(9.5))
}

func TestMachine(t *testing.T) {
	m := Machine()
	assert.Contains(t, m, "GOMAXPROCS")
	assert.Contains(t, m, "go1.")
	if runtime.GOOS == "linux" {
		_, err := strconv.ParseFloat(Load(), 64)
		assert.NoError(t, err)
	}
}

func TestSplice(t *testing.T) {
	doc := []byte("intro\n<!-- bench:a -->\nold a\n<!-- /bench:a -->\nmiddle\n<!-- bench:b -->\n<!-- /bench:b -->\nend\n")
	out, err := Splice(doc, "a", "new a\nline 2")
	require.NoError(t, err)
	out, err = Splice(out, "b", "new b\n\n")
	require.NoError(t, err)
	assert.Equal(t, "intro\n<!-- bench:a -->\nnew a\nline 2\n<!-- /bench:a -->\nmiddle\n<!-- bench:b -->\nnew b\n<!-- /bench:b -->\nend\n", string(out))

	_, err = Splice(doc, "c", "x")
	require.ErrorContains(t, err, `no block "c"`)
	_, err = Splice([]byte("<!-- /bench:a -->\n<!-- bench:a -->\n"), "a", "x")
	require.Error(t, err)
}
