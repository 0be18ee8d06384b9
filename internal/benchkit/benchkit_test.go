package benchkit

import (
	"runtime"
	"strings"
	"testing"

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

const twoRounds = `goos: linux
BenchmarkSign/params=1/sdk-2         	 1000000	       168.0 ns/op	   150.0 cpu-ns/op	       8 B/op	       1 allocs/op
BenchmarkSign/params=1/base-2        	 1000000	        84.0 ns/op	    75.0 cpu-ns/op	       0 B/op	       0 allocs/op
PASS
ok  	github.com/digelao-go/digelao	3.2s
BenchmarkSign/params=1/base-2        	 1000000	        40.0 ns/op	    75.0 cpu-ns/op	       0 B/op	       0 allocs/op
BenchmarkSign/params=1/sdk-2         	 1000000	       200.0 ns/op	   150.0 cpu-ns/op	       8 B/op	       1 allocs/op
BenchmarkOther	  10	 5 ns/op
`

func TestParse(t *testing.T) {
	rs, err := Parse(strings.NewReader(twoRounds))
	require.NoError(t, err)
	assert.Len(t, rs, 3)
	assert.Equal(t, []map[string]float64{
		{"ns/op": 168, "cpu-ns/op": 150, "B/op": 8, "allocs/op": 1},
		{"ns/op": 200, "cpu-ns/op": 150, "B/op": 8, "allocs/op": 1},
	}, rs["Sign/params=1/sdk"], "the suffix -2 is dropped, rounds kept in order")
	assert.Equal(t, []map[string]float64{{"ns/op": 5}}, rs["Other"])

	_, err = Parse(strings.NewReader("BenchmarkX-2 10 fast ns/op\n"))
	require.ErrorContains(t, err, `line 1: "fast" is not a number`)
}

// TestRatioPairsRounds: the ratio is the median of per-round ratios, not the ratio of medians,
// so that drift within a run cancels.
func TestRatioPairsRounds(t *testing.T) {
	rs, err := Parse(strings.NewReader(twoRounds + strings.ReplaceAll(twoRounds, "200.0 ns/op", "120.0 ns/op")))
	require.NoError(t, err)
	sdk, base := Ref{"Sign/params=1/sdk", "ns/op"}, Ref{"Sign/params=1/base", "ns/op"}
	// Per round: 2, 5, 2, 3. The ratio of the medians would be 184/62.
	got, err := rs.Ratio(sdk, base)
	require.NoError(t, err)
	assert.Equal(t, Spread{Q1: 2, Median: 2.5, Q3: 3.5}, got)
	med, err := rs.Median(sdk)
	require.NoError(t, err)
	assert.Equal(t, 168.0, med.Median)

	_, err = rs.Ratio(sdk, Ref{"Sign/params=1/base", "MB/s"})
	require.ErrorContains(t, err, "reports no MB/s in round 1")
	_, err = rs.Ratio(sdk, Ref{"Sign/params=2/base", "ns/op"})
	require.ErrorContains(t, err, "no results for Sign/params=2/base")
	_, err = rs.Ratio(sdk, Ref{"Other", "ns/op"})
	require.ErrorContains(t, err, "ran 4 rounds, Other 2")
}

func TestSpread(t *testing.T) {
	assert.Equal(t, Spread{Q1: 0.25, Median: 0.5, Q3: 1}, Spread{1, 2, 4}.Invert())
	assert.Equal(t, Spread{Q1: 2, Median: 4, Q3: 8}, Spread{1, 2, 4}.Scale(2))
}

func TestCPUTime(t *testing.T) {
	d, ok := CPUTime()
	if runtime.GOOS == "linux" {
		assert.True(t, ok)
		assert.Positive(t, d)
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

	cpu := Spread{1.11, 1.12, 1.13}
	tg = tg.WithCPU(cpu, Ratio, false)
	assert.Equal(t, "1.12× [1.11×–1.13×]", tg.CPU)
	assert.Equal(t, "met (the quartiles straddle the bound; by CPU time: not met)", tg.Verdict())
	assert.Equal(t, "met (the quartiles straddle the bound)", Bound("job", s, false, 1.10, Ratio).WithCPU(Spread{}, Ratio, true).Verdict(),
		"no CPU time measured: the wall clock decides")

	tg = Bound("job", s, false, 1.10, Ratio).WithCPU(cpu, Ratio, true)
	assert.False(t, tg.Met(), "the CPU time decides")
	assert.False(t, tg.Straddles())
	assert.Equal(t, "**not met** (by CPU time; by the wall clock: met)", tg.Verdict())

	tg = Bound("job", s, true, 1.10, Ratio)
	assert.False(t, tg.Met())
	assert.Equal(t, "≥ 1.10×", tg.Want)
	assert.Equal(t, "**not met** (the quartiles straddle the bound)", tg.Verdict())
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
