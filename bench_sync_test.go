package digelao

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao/internal/benchkit"
	"github.com/digelao-go/digelao/internal/pushsample"
)

// syncRecords is how many records the sync benchmark sweeps: four pages.
const syncRecords = 4 * DefaultAllPageSize

// syncBench returns a replay server of syncRecords call records, paged as crmList pages them, and
// two ways to read them all: a RecordSync's sweep, delivering each to a sink that keeps nothing,
// from a store of its own (so that every record is new), and a plain Records.All over the same
// pages, handing each record to the same sink.
func syncBench(t testing.TB) (sweep, plain func() error) {
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	rows := make([]string, syncRecords)
	for i := range rows {
		rows[i] = string(pushsample.CallRecord(fmt.Sprintf("account|%032x", i), fmt.Sprintf("138%08d", i)))
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		page := 0
		if _, rest, ok := strings.Cut(string(b), `"pageIndex":"`); ok {
			page, _ = strconv.Atoi(rest[:strings.IndexByte(rest, '"')])
		}
		lo, hi := min(page*DefaultAllPageSize, syncRecords), min((page+1)*DefaultAllPageSize, syncRecords)
		_, _ = io.WriteString(w, `{"code":0,"msg":"ok","data":{"total":`+strconv.Itoa(syncRecords)+`,"list":[`+
			strings.Join(rows[lo:hi], ",")+`]}}`)
	}))
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, WithAPIKey(testUserSN, testAPIKey), WithHTTPClient(srv.Client()))
	require.NoError(t, err)
	ctx := t.Context()
	sink := func(context.Context, *CallRecord) error { return nil }
	check := func(n int, err error) error {
		if err == nil && n != syncRecords {
			err = fmt.Errorf("%d records of %d", n, syncRecords)
		}
		return err
	}
	sweep = func() error {
		store, err := NewMemorySyncStore(syncRecords)
		if err != nil {
			return err
		}
		rs, err := NewRecordSync(c, sink, WithSyncStore(store))
		if err != nil {
			return err
		}
		st, err := rs.Sweep(ctx, at, at.Add(time.Hour))
		return check(st.GapsFilled, err)
	}
	plain = func() error {
		n := 0
		for r, err := range c.Records.All(ctx, &RecordListOptions{CreatedFrom: at, CreatedTo: at.Add(time.Hour)}) {
			if err != nil {
				return err
			}
			if err := sink(ctx, r); err != nil {
				return err
			}
			n++
		}
		return check(n, nil)
	}
	return sweep, plain
}

// benchSync: a sweep of RecordSync against a plain Records.All over the same pages — the sync's
// own cost (a claim and a completion per record) as a ratio.
func benchSync(t *testing.T, rep *benchReport) {
	cfg := benchkit.Config{Rounds: 15, Slice: 200 * time.Millisecond}
	sweep, plain := syncBench(t)
	res := compare(t, cfg, benchkit.Candidate{Name: "sync", Op: sweep}, benchkit.Candidate{Name: "plain", Op: plain})
	tg := rep.target(benchkit.Bound("RecordSync sweep ÷ a plain `Records.All` over the same pages (issue 15)",
		res.Ratio("sync", "plain"), false, 1.2, benchkit.Ratio).WithCPU(res.CPURatio("sync", "plain")))
	var b strings.Builder
	b.WriteString(rep.method(cfg.Rounds, about(cfg)))
	fmt.Fprintf(&b, "%d call records (the 6.6.2 sample's fields) in pages of %d from a loopback replay of crmList, each handed to a sink that keeps nothing. The sync claims and completes every record in a `MemorySyncStore` of its own, so every record is new.\n\n",
		syncRecords, DefaultAllPageSize)
	b.WriteString("| candidate | time/sweep | records/s | ÷ plain | by CPU time | allocs/record | target | |\n|---|---|---|---|---|---|---|---|\n")
	for _, c := range []struct{ name, label string }{
		{"sync", "**SDK `RecordSync.Sweep`**"}, {"plain", "baseline: `Records.All` into the same sink"},
	} {
		ns := res.Time(c.name).Median
		ratio, cpu, want, verdict := "1.00×", "1.00×", "", ""
		if c.name == "sync" {
			ratio, cpu, want, verdict = "**"+tg.Got+"**", tg.CPU, tg.Want, tg.Verdict()
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", c.label, benchkit.Duration(ns),
			benchkit.Count(syncRecords/ns*1e9), ratio, cpu, benchkit.Count(res.Allocs(c.name).Median/syncRecords), want, verdict)
	}
	rep.add("sync", b.String())
}

// TestSyncBenchCandidates checks that both candidates of the sync benchmark read every record.
func TestSyncBenchCandidates(t *testing.T) {
	t.Parallel()
	sweep, plain := syncBench(t)
	require.NoError(t, sweep())
	require.NoError(t, plain())
}
