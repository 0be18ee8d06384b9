package digelao_test

import (
	"context"
	"testing"
	"time"

	"github.com/digelao-go/digelao"
)

// BenchmarkSweepAgainstTheFake sweeps 2,000 call records (four tasks of 500) from digelaotest, the
// fake platform, into a sink that keeps nothing: records/s of a whole sync — paging crmList over
// loopback, the fake's own work, a claim and a completion per record — as a user's first sweep
// would see them. Each iteration is a new RecordSync with a store of its own, so that every record
// is new. The ratio against a plain Records.All is BenchmarkRecordSync (BENCHMARKS.md).
func BenchmarkSweepAgainstTheFake(b *testing.B) {
	f := newSyncFake(b)
	for _, name := range []string{"回访一", "回访二", "回访三", "回访四"} {
		f.call(b, name, 500)
	}
	records := f.srv.CallRecords()
	if len(records) != 2000 {
		b.Fatalf("the fake holds %d call records, not 2,000", len(records))
	}
	from, to := records[0].StartedAt.Add(-time.Hour), f.simNow()
	sink := func(context.Context, *digelao.CallRecord) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		rs, err := digelao.NewRecordSync(f.c, sink, digelao.WithSyncStore(digelao.MemSyncStore(b, len(records))))
		if err != nil {
			b.Fatal(err)
		}
		st, err := rs.Sweep(b.Context(), from, to)
		if err != nil || st.GapsFilled != len(records) {
			b.Fatalf("%d of %d records delivered: %v", st.GapsFilled, len(records), err)
		}
	}
	b.ReportMetric(float64(b.N*len(records))/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(0, "ns/op") // an op is a whole sweep: records/s says it
}
