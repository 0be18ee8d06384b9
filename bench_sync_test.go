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

// BenchmarkRecordSync: a sweep of RecordSync against a plain Records.All over the same pages. The
// baseline is the SDK's own: the ratio prices the sync's bookkeeping (a claim and a completion per
// record, the checkpoint) on top of reading the pages.
func BenchmarkRecordSync(b *testing.B) {
	sweep, plain := syncBench(b)
	race(b, func(b *testing.B) { measure(b, 1, sweep) }, func(b *testing.B) { measure(b, 1, plain) })
}

// TestSyncBenchCandidates checks that both candidates of the sync benchmark read every record.
func TestSyncBenchCandidates(t *testing.T) {
	t.Parallel()
	sweep, plain := syncBench(t)
	require.NoError(t, sweep())
	require.NoError(t, plain())
}
