package sqlstore_test

import (
	"bytes"
	"crypto/subtle"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/digelaotest"
	"github.com/digelao-go/digelao/internal/flex"
	"github.com/digelao-go/digelao/internal/pushsample"
	"github.com/digelao-go/digelao/internal/sqltest"
	"github.com/digelao-go/digelao/sqlstore"
)

// The benchmarks of BENCHMARKS.md's sqlstore section: run with DIGELAO_BENCH=1 (and the databases' DSNs),
//
//	DIGELAO_BENCH=1 go test -run '^TestSQLBenchmarks$' -v -timeout 30m ./sqlstore
//
// Each sets the Store against a hand-written baseline doing the same job, in rounds that alternate
// the two (the order rotating), and gives the median and quartiles of the per-round ratios.

// benchCandidate is one way of doing the job: reset (not timed) before each slice, then ops
// operations of op from the harness's goroutines.
type benchCandidate struct {
	name  string
	reset func() error
	op    func() error
}

// interleave runs rounds of the candidates, each round every candidate once, in an order that
// rotates, after one slice each to warm up; it returns each candidate's time per operation in each
// round.
func interleave(t *testing.T, rounds, ops, goroutines int, cands ...benchCandidate) map[string][]time.Duration {
	t.Helper()
	times := map[string][]time.Duration{}
	slice := func(c benchCandidate) time.Duration {
		if c.reset != nil {
			require.NoError(t, c.reset(), c.name)
		}
		runtime.GC()
		var next atomic.Int64
		var failed atomic.Pointer[error]
		var wg sync.WaitGroup
		start := time.Now()
		for range goroutines {
			wg.Go(func() {
				for failed.Load() == nil && next.Add(1) <= int64(ops) {
					if err := c.op(); err != nil {
						failed.Store(&err)
					}
				}
			})
		}
		wg.Wait()
		d := time.Since(start)
		if err := failed.Load(); err != nil {
			t.Fatalf("%s: %v", c.name, *err)
		}
		return d / time.Duration(ops)
	}
	for _, c := range cands {
		slice(c)
	}
	for r := range rounds {
		k := r % len(cands)
		for _, c := range append(slices.Clone(cands[k:]), cands[:k]...) {
			times[c.name] = append(times[c.name], slice(c))
		}
	}
	return times
}

// spread is the median and quartiles of xs.
type spread struct{ q1, med, q3 float64 }

func quartiles(xs []float64) spread {
	s := slices.Sorted(slices.Values(xs))
	q := func(p float64) float64 {
		pos := p * float64(len(s)-1)
		i := int(pos)
		if i+1 >= len(s) {
			return s[i]
		}
		return s[i] + (pos-float64(i))*(s[i+1]-s[i])
	}
	return spread{q(0.25), q(0.5), q(0.75)}
}

// throughput is the spread of sdk's rate ÷ base's, round by round, and the medians of both rates.
func throughput(times map[string][]time.Duration, sdk, base string) (ratio spread, sdkRate, baseRate float64) {
	var rs, sr, br []float64
	for i := range times[sdk] {
		rs = append(rs, times[base][i].Seconds()/times[sdk][i].Seconds())
		sr = append(sr, 1/times[sdk][i].Seconds())
		br = append(br, 1/times[base][i].Seconds())
	}
	return quartiles(rs), quartiles(sr).med, quartiles(br).med
}

// machine describes where the benchmarks ran.
func machine(t *testing.T, db *sql.DB, d sqlstore.Dialect) string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if name, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
				break
			}
		}
	}
	var version string
	q := map[sqlstore.Dialect]string{sqlstore.Postgres: "SHOW server_version", sqlstore.MySQL: "SELECT VERSION()",
		sqlstore.SQLite: "SELECT sqlite_version()"}[d]
	if err := db.QueryRowContext(t.Context(), q).Scan(&version); err != nil {
		version = err.Error()
	}
	return fmt.Sprintf("%d CPUs (GOMAXPROCS %d), %s, %s; %s %s", runtime.NumCPU(), runtime.GOMAXPROCS(0), cpu, runtime.Version(), d, version)
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func TestSQLBenchmarks(t *testing.T) {
	if os.Getenv("DIGELAO_BENCH") == "" {
		t.Skip("DIGELAO_BENCH=1 runs the benchmarks of BENCHMARKS.md's sqlstore section")
	}
	t.Run("sweep", benchSweep)
	t.Run("push", benchPush)
}

// sweepRecords is how many records the sweep benchmark sweeps: 100,000, or DIGELAO_BENCH_RECORDS.
func sweepRecords() int {
	if n, err := strconv.Atoi(os.Getenv("DIGELAO_BENCH_RECORDS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

// benchSweep: RecordSync.Sweep of 100,000 records into Store.Sink(nil), against a hand-written
// loop over the same pages (Records.List, 500 a page) that upserts each page in a transaction of
// its own with a prepared multi-row statement, on SQLite and PostgreSQL. Records/s. The sync's
// window limit is raised so that it reads the loop's pages and no more (what splitting windows
// costs is BENCHMARKS.md's sync row).
func benchSweep(t *testing.T) {
	ctx := t.Context()
	clock := digelaotest.NewClock(time.Date(2026, 11, 2, 1, 0, 0, 0, time.UTC))
	srv := digelaotest.NewServer(digelaotest.WithManualTime(), digelaotest.WithClock(clock.Now))
	t.Cleanup(srv.Close)
	c, err := srv.Client()
	require.NoError(t, err)
	t.Cleanup(c.CloseIdleConnections)
	cols, err := c.Tasks.ImportColumns(ctx, digelaotest.TemplateSN)
	require.NoError(t, err)
	made, want := time.Now(), sweepRecords()
	for task := 0; len(srv.CallRecords()) < want; task++ {
		contacts := make([]digelao.Contact, min(5000, want-len(srv.CallRecords())))
		for i := range contacts {
			contacts[i] = digelao.Contact{Phone: fmt.Sprintf("13%02d%07d", task, i)}
		}
		_, err := c.Tasks.Create(ctx, &digelao.CreateTaskRequest{Name: fmt.Sprintf("任务%d", task), ProjectSN: digelaotest.TemplateSN,
			SeatSN: digelaotest.SeatSN, AutoStart: true, Columns: cols, Contacts: contacts})
		require.NoError(t, err)
		require.NoError(t, srv.Flush(ctx))
	}
	records := srv.CallRecords()
	require.Len(t, records, want)
	from, to := records[0].StartedAt.Add(-time.Hour), records[len(records)-1].EndedAt.Add(time.Hour)
	clock.Set(to.Add(time.Hour))
	t.Logf("the fake platform holds %d records (made in %s)", len(records), time.Since(made).Round(time.Second))
	acct := records[0].UserSN

	for _, d := range []sqlstore.Dialect{sqlstore.SQLite, sqlstore.Postgres} {
		t.Run(d.String(), func(t *testing.T) {
			db := sqltest.Open(t, d, sqltest.DSN(t, d))
			s, err := sqlstore.New(db, d, sqlstore.WithTablePrefix(sqltest.Prefix(t, d, db)))
			require.NoError(t, err)
			require.NoError(t, s.Migrate(ctx))
			base, err := sqlstore.New(db, d, sqlstore.WithTablePrefix(sqltest.Prefix(t, d, db)))
			require.NoError(t, err)
			require.NoError(t, base.Migrate(ctx)) // the same table, indexes and all, for the baseline
			empty := func(tables ...string) func() error {
				return func() error {
					for _, table := range tables {
						stmt := "DELETE FROM " + table
						if d == sqlstore.Postgres {
							stmt = "TRUNCATE " + table
						}
						if _, err := db.ExecContext(ctx, stmt); err != nil {
							return err
						}
					}
					return nil
				}
			}
			p := strings.TrimSuffix(s.RecordsTable(), "call_records")
			sdk := benchCandidate{name: "sdk", reset: empty(s.RecordsTable(), p+"marks"), op: func() error {
				// A window as large as the sweep: the sync reads the very pages the loop reads.
				rs, err := digelao.NewRecordSync(c, s.Sink(nil), digelao.WithSyncStore(s), digelao.WithWindowLimit(2*want))
				if err != nil {
					return err
				}
				st, err := rs.Sweep(ctx, from, to)
				if err == nil && st.GapsFilled != want {
					err = fmt.Errorf("%d records delivered, not %d", st.GapsFilled, want)
				}
				return err
			}}
			cands := []benchCandidate{sdk, {name: "base", reset: empty(base.RecordsTable()),
				op: handLoop(t, d, db, base.RecordsTable(), c, acct, from, to, 500)}}
			if d == sqlstore.SQLite {
				// modernc.org/sqlite binds in a time that grows with the square of the parameters
				// (sqlstore writes 50 records a statement on SQLite): the same loop, 50 a statement.
				cands = append(cands, benchCandidate{name: "base50", reset: empty(base.RecordsTable()),
					op: handLoop(t, d, db, base.RecordsTable(), c, acct, from, to, 50)})
			}
			load := loadAverage()
			times := interleave(t, 5, 1, 1, cands...)
			var n int
			require.NoError(t, db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+s.RecordsTable()).Scan(&n))
			require.Equal(t, want, n, "the Store's table holds every record")
			require.NoError(t, db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+base.RecordsTable()).Scan(&n))
			require.Equal(t, want, n, "the baseline's table holds every record")
			t.Logf("per round: %v", times)
			t.Logf("machine: %s; load average %s → %s", machine(t, db, d), load, loadAverage())
			for _, b := range cands[1:] {
				ratio, sr, br := throughput(times, "sdk", b.name)
				t.Logf("| sweep of %d records into %s ÷ the hand-written loop, %s, records/s | %.0f | %.0f | %.2f× [%.2f×–%.2f×] | ≥ 0.80× | %s |",
					want, d, map[string]string{"base": "a page a statement", "base50": "50 records a statement"}[b.name],
					sr*float64(want), br*float64(want), ratio.med, ratio.q1, ratio.q3, verdict(ratio, 0.8))
			}
		})
	}
}

func verdict(r spread, bound float64) string {
	switch {
	case r.q1 >= bound:
		return "met"
	case r.med >= bound:
		return "met (the quartiles straddle the bound)"
	case r.q3 >= bound:
		return "**not met** (the quartiles straddle the bound)"
	}
	return "**not met**"
}

// handLoop is the sweep a user writes by hand: the pages of the window, 500 records each, each
// upserted into table in a transaction of its own, by multi-row statements of perStmt rows
// prepared once (a page is one statement when perStmt is 500).
func handLoop(t *testing.T, d sqlstore.Dialect, db *sql.DB, table string, c *digelao.Client, acct string, from, to time.Time, perStmt int) func() error {
	ctx := t.Context()
	const perPage = 500
	upsert := func(n int) string {
		var b strings.Builder
		b.WriteString("INSERT INTO " + table + " (account, sn, id, task, phone, intention, status_manual, duration, " +
			"created_at, connected_at, disconnected_at, record) VALUES ")
		for i := range n {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(")
			for j := range 12 {
				if j > 0 {
					b.WriteString(", ")
				}
				if d == sqlstore.Postgres {
					fmt.Fprintf(&b, "$%d", i*12+j+1)
				} else {
					b.WriteString("?")
				}
			}
			b.WriteString(")")
		}
		b.WriteString(" ON CONFLICT (account, sn) DO UPDATE SET id = excluded.id, task = excluded.task, phone = excluded.phone, " +
			"intention = excluded.intention, status_manual = excluded.status_manual, duration = excluded.duration, " +
			"created_at = excluded.created_at, connected_at = excluded.connected_at, disconnected_at = excluded.disconnected_at, " +
			"record = excluded.record")
		return b.String()
	}
	full, err := db.PrepareContext(ctx, upsert(perStmt))
	require.NoError(t, err)
	t.Cleanup(func() { _ = full.Close() })
	at := func(tm time.Time) any {
		if tm.IsZero() {
			return nil
		}
		if d == sqlstore.Postgres {
			return tm
		}
		return tm.In(flex.China).Format(time.DateTime)
	}
	write := func(tx *sql.Tx, recs []*digelao.CallRecord) error {
		args := make([]any, 0, len(recs)*12)
		for _, r := range recs {
			args = append(args, acct, r.SN, r.ID, r.TaskSN, r.Phone, r.Status, r.StatusManual, r.TalkTime,
				at(r.CreatedAt), at(r.ConnectedAt), at(r.DisconnectedAt), string(r.Raw))
		}
		stmt := tx.StmtContext(ctx, full)
		var err error
		if len(recs) < perStmt {
			stmt, err = tx.PrepareContext(ctx, upsert(len(recs)))
			if err != nil {
				return err
			}
		}
		_, err = stmt.ExecContext(ctx, args...)
		return err
	}
	return func() error {
		opts := &digelao.RecordListOptions{CreatedFrom: from, CreatedTo: to, ListOptions: digelao.ListOptions{PerPage: perPage}}
		for page := 0; ; page++ {
			opts.Page = page
			recs, total, err := c.Records.List(ctx, opts)
			if err != nil {
				return err
			}
			if len(recs) == 0 {
				return nil
			}
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			for chunk := range slices.Chunk(recs, perStmt) {
				if err = write(tx, chunk); err != nil {
					break
				}
			}
			if err != nil {
				_ = tx.Rollback()
				return err
			}
			if err := tx.Commit(); err != nil {
				return err
			}
			if (page+1)*perPage >= total {
				return nil
			}
		}
	}
}

// pushBody makes call-record pushes (the 6.6.2 sample) that differ in their sn, which counts up.
type pushBody struct {
	tmpl []byte
	at   int
	n    atomic.Uint64
}

func newPushBody() *pushBody {
	const sn = "account|a6505ba3c1d94e7f0000000000000000"
	tmpl := pushsample.CallRecord(sn, "15800000000")
	return &pushBody{tmpl: tmpl, at: bytes.Index(tmpl, []byte(sn)) + len(sn) - 16}
}

func (g *pushBody) next() []byte {
	b := slices.Clone(g.tmpl)
	n := g.n.Add(1)
	for i := 15; i >= 0; i-- {
		b[g.at+i] = "0123456789abcdef"[n&0xf]
		n >>= 4
	}
	return b
}

// pushLanes is the benchmark's WithPushBatching.
const pushLanes = 4

// benchPush: RecordSync's push handler (rs.Handler) with Store.Sink(nil) on PostgreSQL, with
// WithPushBatching(pushLanes) and without, against a hand-written handler that checks the token,
// decodes the push into a struct and upserts it in one statement; 64 posters over loopback.
// Pushes/s.
func benchPush(t *testing.T) {
	ctx := t.Context()
	d := sqlstore.Postgres
	db := sqltest.Open(t, d, sqltest.DSN(t, d))
	db.SetMaxOpenConns(24)
	db.SetMaxIdleConns(24)
	s, err := sqlstore.New(db, d, sqlstore.WithTablePrefix(sqltest.Prefix(t, d, db)))
	require.NoError(t, err)
	require.NoError(t, s.Migrate(ctx))
	base, err := sqlstore.New(db, d, sqlstore.WithTablePrefix(sqltest.Prefix(t, d, db)))
	require.NoError(t, err)
	require.NoError(t, base.Migrate(ctx))

	srv := digelaotest.NewServer(digelaotest.WithManualTime())
	t.Cleanup(srv.Close)
	c, err := srv.Client()
	require.NoError(t, err)
	rs, err := digelao.NewRecordSync(c, s.Sink(nil), digelao.WithSyncStore(s), digelao.WithPushBatching(pushLanes))
	require.NoError(t, err)
	token := "push-token-0123456789"
	sdkSrv := httptest.NewServer(rs.Handler(digelao.NewSecret(token)))
	t.Cleanup(sdkSrv.Close)
	alone, err := sqlstore.New(db, d, sqlstore.WithTablePrefix(sqltest.Prefix(t, d, db)))
	require.NoError(t, err)
	require.NoError(t, alone.Migrate(ctx))
	rsAlone, err := digelao.NewRecordSync(c, alone.Sink(nil), digelao.WithSyncStore(alone))
	require.NoError(t, err)
	aloneSrv := httptest.NewServer(rsAlone.Handler(digelao.NewSecret(token)))
	t.Cleanup(aloneSrv.Close)
	baseSrv := httptest.NewServer(handPush(db, base.RecordsTable(), "", token))
	t.Cleanup(baseSrv.Close)
	txBase, err := sqlstore.New(db, d, sqlstore.WithTablePrefix(sqltest.Prefix(t, d, db)))
	require.NoError(t, err)
	require.NoError(t, txBase.Migrate(ctx))
	txSrv := httptest.NewServer(handPush(db, txBase.RecordsTable(), strings.TrimSuffix(txBase.RecordsTable(), "call_records")+"marks", token))
	t.Cleanup(txSrv.Close)
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute}
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr}
	gen := newPushBody()
	post := func(target string) func() error {
		return func() error {
			resp, err := hc.Post(target+"/push?token="+token, "application/json", bytes.NewReader(gen.next()))
			if err != nil {
				return err
			}
			defer func() { _ = resp.Body.Close() }()
			b, err := io.ReadAll(resp.Body)
			if err == nil && (resp.StatusCode != http.StatusOK || string(b) != "SUCCESS") {
				err = fmt.Errorf("answered %d %q", resp.StatusCode, b)
			}
			return err
		}
	}
	load := loadAverage()
	const rounds, ops = 9, 3000
	times := interleave(t, rounds, ops, 64, benchCandidate{name: "sdk", op: post(sdkSrv.URL)},
		benchCandidate{name: "base", op: post(baseSrv.URL)}, benchCandidate{name: "basetx", op: post(txSrv.URL)},
		benchCandidate{name: "alone", op: post(aloneSrv.URL)})
	for _, table := range []string{s.RecordsTable(), base.RecordsTable(), txBase.RecordsTable(), alone.RecordsTable()} {
		var n int
		require.NoError(t, db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n))
		require.Equal(t, (rounds+1)*ops, n, "%s holds every push", table)
	}
	t.Logf("machine: %s; load average %s → %s", machine(t, db, d), load, loadAverage())
	for _, b := range []struct{ sdk, how, base string }{{"sdk", fmt.Sprintf("WithPushBatching(%d)", pushLanes), "base"},
		{"sdk", fmt.Sprintf("WithPushBatching(%d)", pushLanes), "basetx"}, {"alone", "a transaction a push", "base"}} {
		ratio, sr, br := throughput(times, b.sdk, b.base)
		t.Logf("| pushes into %s, %s ÷ a hand-written handler, %s; 64 concurrent posters over loopback, pushes/s | %.0f | %.0f | %.2f× [%.2f×–%.2f×] | ≥ 0.80× | %s |",
			d, b.how, map[string]string{"base": "one upsert", "basetx": "a transaction: its mark, then the upsert"}[b.base],
			sr, br, ratio.med, ratio.q1, ratio.q3, verdict(ratio, 0.8))
	}
}

// handPush is the push receiver a user writes by hand: the token, the body decoded into a struct,
// one upsert, SUCCESS. With marks, it writes the push's mark in a transaction first, and only a
// push not marked yet — the Store's guarantee, by hand.
func handPush(db *sql.DB, table, marks, token string) http.Handler {
	mark := "INSERT INTO " + marks + " (dedup_key, token, done_at) VALUES ($1, 'hand', now()) ON CONFLICT (dedup_key) DO NOTHING RETURNING dedup_key"
	upsert := "INSERT INTO " + table + " (account, sn, id, task, phone, intention, status_manual, duration, created_at, " +
		"connected_at, disconnected_at, record) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) " +
		"ON CONFLICT (account, sn) DO UPDATE SET id = excluded.id, task = excluded.task, phone = excluded.phone, " +
		"intention = excluded.intention, status_manual = excluded.status_manual, duration = excluded.duration, " +
		"created_at = excluded.created_at, connected_at = excluded.connected_at, disconnected_at = excluded.disconnected_at, " +
		"record = excluded.record"
	at := func(s string) any {
		t, err := time.ParseInLocation(time.DateTime, s, flex.China)
		if err != nil {
			return nil
		}
		return t
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.URL.Query().Get("token")), []byte(token)) != 1 {
			http.Error(w, "token", http.StatusUnauthorized)
			return
		}
		body, err := io.ReadAll(r.Body)
		var p struct {
			ID             int64  `json:"id"`
			SN             string `json:"sn"`
			UserSN         string `json:"user_sn"`
			Task           string `json:"dial_task_main_sn"`
			Phone          string `json:"phone"`
			Status         string `json:"status"`
			StatusManual   string `json:"status_manual"`
			TalkTimes      int    `json:"talktimes"`
			CreatedAt      string `json:"created_at"`
			ConnectedAt    string `json:"connected_at"`
			DisconnectedAt string `json:"disconnected_at"`
		}
		if err == nil {
			err = json.Unmarshal(body, &p)
		}
		args := []any{p.UserSN, p.SN, p.ID, p.Task, p.Phone, p.Status, p.StatusManual, p.TalkTimes, at(p.CreatedAt),
			at(p.ConnectedAt), at(p.DisconnectedAt), string(body)}
		switch {
		case err != nil:
		case marks == "":
			_, err = db.ExecContext(r.Context(), upsert, args...)
		default:
			err = func() error {
				tx, err := db.BeginTx(r.Context(), nil)
				if err != nil {
					return err
				}
				defer func() { _ = tx.Rollback() }()
				var k string
				err = tx.QueryRowContext(r.Context(), mark, "hand:"+p.UserSN+":"+p.SN).Scan(&k)
				if errors.Is(err, sql.ErrNoRows) {
					return nil // delivered before
				}
				if err == nil {
					_, err = tx.ExecContext(r.Context(), upsert, args...)
				}
				if err == nil {
					err = tx.Commit()
				}
				return err
			}()
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "SUCCESS")
	})
}
