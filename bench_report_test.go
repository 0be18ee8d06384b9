package digelao

import (
	"cmp"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao/internal/benchkit"
)

// benchRow is a row of BENCHMARKS.md: a figure of the sub-benchmark sdk of a comparison set against
// the same figure of its sub-benchmark base, round by round.
type benchRow struct {
	block string // the document's block it is written in
	job   string // what the SDK does
	base  string // what the baseline does, in one line
	bench string // the benchmark, without "Benchmark": sub-benchmarks bench/sdk and bench/base
	unit  string // the figure compared; "" is ns/op
	// den, when set, is the figure divided by instead of bench/impl=base's.
	den  benchkit.Ref
	rate bool // compare rates, as pushes/s: base's time ÷ the SDK's
	// per divides the figures shown (not the ratio) into perUnit, as bytes per record.
	per     float64
	perUnit string
	bound   float64 // the target: the ratio at most bound (at least, with rate); 0: none
	source  string  // where the target was set
}

func benchRows() []benchRow {
	md5Of := func(n int) string {
		return fmt.Sprintf("`md5.Sum` of the %s bytes Sign hashes", benchkit.Count(float64(n)))
	}
	var rows []benchRow
	for _, sc := range signCases() {
		what, bound := strings.ReplaceAll(sc.name, "params=", "")+" params", 1.6
		if sc.name == "params=1" {
			what = "1 param"
		}
		if n, ok := strings.CutPrefix(sc.name, "chinese="); ok {
			what, bound = n+" Chinese characters", 1.7
		}
		rows = append(rows, benchRow{block: "sign", job: "`Sign`, " + what, base: md5Of(len(phpObject(nil, sc.kv...))),
			bench: "Sign/" + sc.name, bound: bound, source: "issue 22"})
	}
	rows = append(rows, benchRow{block: "sign", job: "the client's request body for a crmList call (encode, sign, append url)",
		base: "`md5.Sum` of the whole body", bench: "RequestBody", bound: 1.3, source: "issue 16"})
	hand := "hand-written client: net/http, own PHP-json encoder and md5, `encoding/json` into a plain struct"
	for _, g := range []string{"1", "8"} {
		rows = append(rows, benchRow{block: "roundtrip", job: "`Templates.List` round trip, a page of 10, " + goroutines(g),
			base: hand, bench: "TemplatesList/goroutines=" + g, bound: 1.05, source: "issue 22"})
	}
	rows = append(rows,
		benchRow{block: "roundtrip", job: "`Records.List` round trip, a crmList page of 1,000 records (1.2 MB): time",
			base: hand, bench: "RecordsList/records=1000", bound: 0.85, source: "issue 22"},
		benchRow{block: "roundtrip", job: "`Records.List` round trip, a crmList page of 1,000 records: bytes allocated",
			base: hand, bench: "RecordsList/records=1000", unit: "B/op", per: 1000, perUnit: "/record", bound: 1.0, source: "issue 22"},
		benchRow{block: "roundtrip", job: "`Records.Download`, a 64 MiB recording into `io.Discard`",
			base: "a signed GET by hand (net/http, own encoder and md5), `io.Copy`", bench: "Download"},
		benchRow{block: "push", job: "`PushHandler`, `ServeHTTP` called directly: pushes/s",
			base: "bare handler: `io.ReadAll`, `encoding/json` into a plain struct, SUCCESS", bench: "PushHandler/direct",
			rate: true, bound: 1.0, source: "issue 22"},
		benchRow{block: "push", job: "`PushHandler` over loopback, 64 concurrent posters: pushes/s",
			base: "the same bare handler behind `httptest.Server`", bench: "PushHandler/loopback=64", rate: true, bound: 1.0, source: "issue 22"},
		benchRow{block: "decode", job: "decoding a 500-row crmList reply as `Records.List` does (envelope check, then the codec)",
			base: "`encoding/json` into a plain struct, code checked", bench: "DecodePage", bound: 1.5, source: "issue 13"},
		benchRow{block: "import", job: "`ImportInBatches`, 30,000 contacts: time",
			base: "hand-written client: the whole body built in memory (own encoder, md5), net/http POST", bench: "Import"},
		benchRow{block: "import", job: "`ImportInBatches`, 30,000 contacts: bytes allocated ÷ request body",
			base: "the request body", bench: "Import", unit: "B/op", den: benchkit.Ref{Bench: "Import/impl=sdk", Unit: "body-B/op"},
			bound: 3, source: "issue 16"},
		benchRow{block: "sync", job: "`RecordSync.Sweep` of 2,000 records in pages of 500",
			base: "the SDK's own `Records.All` into the same sink: the ratio prices the sync's bookkeeping", bench: "RecordSync",
			bound: 1.2, source: "issue 15"},
	)
	return rows
}

func goroutines(n string) string {
	if n == "1" {
		return "1 goroutine"
	}
	return n + " goroutines"
}

// measured is a row's figures over the rounds.
type measured struct {
	row             benchRow
	sdk, base       benchkit.Spread // the figures compared
	ratio, cpu      benchkit.Spread // cpu: the same ratio by CPU time, when the figure is a time
	sdkMem, baseMem string          // allocs/op and B/op
	target          benchkit.Target
}

func (m *measured) hasTarget() bool { return m.row.bound > 0 }

// measure reads the row's figures from the rounds; with busy, the CPU time decides its target.
func (row benchRow) measure(rs benchkit.Rounds, busy bool) (*measured, error) {
	unit := row.unit
	if unit == "" {
		unit = "ns/op"
	}
	sdk, base := benchkit.Ref{Bench: row.bench + "/impl=sdk", Unit: unit}, benchkit.Ref{Bench: row.bench + "/impl=base", Unit: unit}
	if row.den != (benchkit.Ref{}) {
		base = row.den
	}
	m := &measured{row: row}
	var err error
	fig := func(r benchkit.Ref) benchkit.Spread {
		var s benchkit.Spread
		if err == nil {
			s, err = rs.Median(r)
		}
		return s
	}
	ratio := func(num, den benchkit.Ref) benchkit.Spread {
		var s benchkit.Spread
		if err == nil {
			s, err = rs.Ratio(num, den)
		}
		if row.rate {
			s = s.Invert()
		}
		return s
	}
	m.sdk, m.base, m.ratio = fig(sdk), fig(base), ratio(sdk, base)
	mem := func(bench string) string {
		return benchkit.Count(fig(benchkit.Ref{Bench: bench, Unit: "allocs/op"}).Median) + " · " +
			benchkit.Count(fig(benchkit.Ref{Bench: bench, Unit: "B/op"}).Median)
	}
	m.sdkMem, m.baseMem = mem(row.bench+"/impl=sdk"), mem(row.bench+"/impl=base")
	if unit == "ns/op" && runtime.GOOS != "windows" {
		m.cpu = ratio(benchkit.Ref{Bench: sdk.Bench, Unit: "cpu-ns/op"}, benchkit.Ref{Bench: base.Bench, Unit: "cpu-ns/op"})
	}
	m.target = benchkit.Bound(row.job, m.ratio, row.rate, row.bound, benchkit.Ratio).WithCPU(m.cpu, benchkit.Ratio, busy)
	return m, err
}

// figure writes one of a row's figures.
func (m *measured) figure(s benchkit.Spread) string {
	v := s.Median
	switch {
	case m.row.per > 0:
		return benchkit.Count(v/m.row.per) + " B" + m.row.perUnit
	case m.row.unit == "B/op" || m.row.den != (benchkit.Ref{}):
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	case m.row.rate:
		return benchkit.Count(1e9/v) + "/s"
	}
	return benchkit.Duration(v)
}

// TestBenchmarks writes the tables of BENCHMARKS.md from the interleaved rounds that
// scripts/benchmarks.sh ran: DIGELAO_BENCH_RESULTS names their go test -bench output,
// DIGELAO_BENCH_MD the document. It runs only when DIGELAO_BENCH_RESULTS is set. Nothing here
// asserts a time: a target missed is written down, not failed.
func TestBenchmarks(t *testing.T) {
	results := os.Getenv("DIGELAO_BENCH_RESULTS")
	if results == "" {
		t.Skip("writes BENCHMARKS.md from the rounds of scripts/benchmarks.sh")
	}
	f, err := os.Open(results) //nolint:gosec // a file the script names
	require.NoError(t, err)
	rs, err := benchkit.Parse(f)
	_ = f.Close()
	require.NoError(t, err)
	load := loads(os.Getenv("DIGELAO_BENCH_LOADS"))
	busy := load.Median > float64(runtime.NumCPU())
	blocks := map[string]*strings.Builder{}
	var order []string
	var all []*measured
	for _, row := range benchRows() {
		m, err := row.measure(rs, busy)
		require.NoError(t, err, row.job)
		all = append(all, m)
		b, ok := blocks[row.block]
		if !ok {
			b = &strings.Builder{}
			b.WriteString("| job | baseline | SDK | baseline | SDK ÷ baseline: median [Q1–Q3] | by CPU time | allocs/op · B/op: SDK | baseline | target | |\n")
			b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
			blocks[row.block], order = b, append(order, row.block)
		}
		want, verdict, cpu := "(context)", "", ""
		if m.hasTarget() {
			want, verdict = m.target.Want+" ("+row.source+")", m.target.Verdict()
		}
		if m.cpu != (benchkit.Spread{}) {
			cpu = benchkit.FormatSpread(m.cpu, benchkit.Ratio)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | **%s** | %s | %s | %s | %s | %s |\n", row.job, row.base, m.figure(m.sdk), m.figure(m.base),
			benchkit.FormatSpread(m.ratio, benchkit.Ratio), cpu, m.sdkMem, m.baseMem, want, verdict)
	}
	var sum strings.Builder
	sum.WriteString(runLine(t, len(rs["Sign/params=1/impl=sdk"]), load, busy) + "\n\n")
	sum.WriteString("| job | target | measured: median [Q1–Q3] | by CPU time | |\n|---|---|---|---|---|\n")
	for _, m := range all {
		if m.hasTarget() {
			fmt.Fprintf(&sum, "| %s | %s | %s | %s | %s |\n", m.row.job, m.target.Want+" ("+m.row.source+")", m.target.Got, m.target.CPU, m.target.Verdict())
		}
	}
	doc, err := os.ReadFile(os.Getenv("DIGELAO_BENCH_MD"))
	require.NoError(t, err)
	doc, err = benchkit.Splice(doc, "targets", sum.String())
	require.NoError(t, err)
	for _, name := range order {
		doc, err = benchkit.Splice(doc, name, blocks[name].String())
		require.NoError(t, err)
	}
	if stat, err := os.ReadFile(os.Getenv("DIGELAO_BENCH_BENCHSTAT")); err == nil {
		doc, err = benchkit.Splice(doc, "benchstat", "```\n"+strings.TrimSpace(string(stat))+"\n```\n")
		require.NoError(t, err)
	}
	require.NoError(t, os.WriteFile(os.Getenv("DIGELAO_BENCH_MD"), doc, 0o644)) //nolint:gosec // a document of the repository
	fmt.Print(sum.String())
}

// loads returns the spread of the load averages in the file the script wrote, one as each round
// started; the zero Spread when there is none.
func loads(path string) benchkit.Spread {
	b, err := os.ReadFile(path) //nolint:gosec // a file the script names
	if err != nil {
		return benchkit.Spread{}
	}
	var xs []float64
	for _, f := range strings.Fields(string(b)) {
		if x, err := strconv.ParseFloat(f, 64); err == nil {
			xs = append(xs, x)
		}
	}
	if len(xs) == 0 {
		return benchkit.Spread{}
	}
	return benchkit.Quartiles(xs)
}

// runLine says how and where the rounds ran: their number and length, the machine, how busy it
// was, when and at which commit, and which figure decides the targets.
func runLine(t *testing.T, rounds int, load benchkit.Spread, busy bool) string {
	rev := os.Getenv("DIGELAO_BENCH_REV")
	require.NotEmpty(t, rev, "DIGELAO_BENCH_REV names the commit measured")
	decides := "The load average stayed within the CPUs: the wall clock decides the targets."
	if busy {
		decides = "**Other processes kept the machine busier than its CPUs** (the load average above " +
			strconv.Itoa(runtime.NumCPU()) + "): they decided the wall clock, so the CPU time decides the targets; both are shown."
	}
	return fmt.Sprintf("_%d rounds of `go test -bench` with `-benchtime %s`, the SDK first in odd rounds and the baseline "+
		"first in even ones. Machine: %s; load average as the rounds started, median [Q1–Q3]: %.1f [%.1f–%.1f]. Run %s, "+
		"commit %s._ %s", rounds, os.Getenv("DIGELAO_BENCH_TIME"), benchkit.Machine(), load.Median, load.Q1, load.Q3,
		cmp.Or(os.Getenv("DIGELAO_BENCH_STARTED"), time.Now().UTC().Format("2006-01-02 15:04 UTC")), rev, decides)
}
