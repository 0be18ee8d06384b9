package sqlstore_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/digelaotest"
	"github.com/digelao-go/digelao/internal/sqltest"
	"github.com/digelao-go/digelao/sqlstore"
)

// counts is a table of the user's own that counts, per sn, the deliveries committed — in the
// transaction of each — so that a record delivered twice shows a 2.
type counts struct {
	table, upsert string
	db            *sql.DB
}

func newCounts(t testing.TB, s *sqlstore.Store, db *sql.DB) *counts {
	t.Helper()
	table := strings.TrimSuffix(s.RecordsTable(), "call_records") + "deliveries"
	_, err := db.ExecContext(context.Background(), "CREATE TABLE IF NOT EXISTS "+table+" (sn VARCHAR(255) NOT NULL PRIMARY KEY, n INTEGER NOT NULL)")
	require.NoError(t, err)
	c := &counts{table: table, db: db}
	switch s.Dialect() {
	case sqlstore.MySQL:
		c.upsert = "INSERT INTO " + table + " (sn, n) VALUES (?, 1) ON DUPLICATE KEY UPDATE n = n + 1"
	case sqlstore.Postgres:
		c.upsert = "INSERT INTO " + table + " (sn, n) VALUES ($1, 1) ON CONFLICT (sn) DO UPDATE SET n = " + table + ".n + 1"
	default:
		c.upsert = "INSERT INTO " + table + " (sn, n) VALUES (?, 1) ON CONFLICT (sn) DO UPDATE SET n = " + table + ".n + 1"
	}
	return c
}

// add counts a delivery of r in tx.
func (c *counts) add(ctx context.Context, tx *sql.Tx, r *digelao.CallRecord) error {
	_, err := tx.ExecContext(ctx, c.upsert, r.SN)
	return err
}

// all returns the counts by sn.
func (c *counts) all(t testing.TB) map[string]int {
	t.Helper()
	rows, err := c.db.QueryContext(context.Background(), "SELECT sn, n FROM "+c.table)
	require.NoError(t, err)
	defer func() { _ = rows.Close() }()
	m := map[string]int{}
	for rows.Next() {
		var sn string
		var n int
		require.NoError(t, rows.Scan(&sn, &n))
		m[sn] = n
	}
	require.NoError(t, rows.Err())
	return m
}

// stored returns how many rows the records' table holds per sn, and the phone of each.
func stored(t testing.TB, s *sqlstore.Store, db *sql.DB) (rows map[string]int, phones map[string]string) {
	t.Helper()
	rs, err := db.QueryContext(context.Background(), "SELECT sn, phone FROM "+s.RecordsTable())
	require.NoError(t, err)
	defer func() { _ = rs.Close() }()
	rows, phones = map[string]int{}, map[string]string{}
	for rs.Next() {
		var sn string
		var phone sql.NullString
		require.NoError(t, rs.Scan(&sn, &phone))
		rows[sn]++
		phones[sn] = phone.String
	}
	require.NoError(t, rs.Err())
	return rows, phones
}

// failsPush reports the records whose every push the receiver refuses: about 30%.
func failsPush(sn string) bool {
	h := fnv.New32a()
	_, _ = h.Write([]byte(sn))
	return h.Sum32()%10 < 3
}

// TestRecordSyncIntoEachDatabase runs a RecordSync into each dialect: pushes through its Handler
// (a third of them refused on every try, so that sweeps fill the gaps), sweeps, a record the
// user's func refuses until it is quarantined, and its Redeliver. Every record of the platform
// ends in the records' table once, and the user's table counts each delivery once.
func TestRecordSyncIntoEachDatabase(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		ctx := t.Context()
		s, db := sqltest.Store(t, d)
		cnt := newCounts(t, s, db)
		clock := digelaotest.NewClock(time.Date(2026, 11, 2, 1, 0, 0, 0, time.UTC))
		srv := digelaotest.NewServer(digelaotest.WithManualTime(), digelaotest.WithClock(clock.Now))
		t.Cleanup(srv.Close)
		c, err := srv.Client()
		require.NoError(t, err)
		t.Cleanup(c.CloseIdleConnections)

		var refused atomic.Pointer[string] // the sn the user's func refuses
		errRefused := errors.New("the user's func refuses this record")
		rs, err := digelao.NewRecordSync(c, s.Sink(func(ctx context.Context, tx *sql.Tx, r *digelao.CallRecord) error {
			if p := refused.Load(); p != nil && *p == r.SN {
				return errRefused
			}
			return cnt.add(ctx, tx, r)
		}), digelao.WithSyncStore(s), digelao.WithSyncPageSize(40), digelao.WithQuarantineAfter(2))
		require.NoError(t, err)

		token := digelao.NewSecret("push-token")
		h := rs.Handler(token)
		rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(r.Body)
			var rec struct {
				SN string `json:"sn"`
			}
			if err != nil || json.Unmarshal(body, &rec) != nil || failsPush(rec.SN) {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			h.ServeHTTP(w, r)
		}))
		t.Cleanup(rcv.Close)
		require.NoError(t, c.SetCallback(ctx, &digelao.CallbackRequest{Open: true, CallbackURL: rcv.URL, Token: token}))
		cols, err := c.Tasks.ImportColumns(ctx, digelaotest.TemplateSN)
		require.NoError(t, err)
		contacts := make([]digelao.Contact, 150)
		for i := range contacts {
			contacts[i] = digelao.Contact{Phone: fmt.Sprintf("1380000%04d", i)}
		}
		_, err = c.Tasks.Create(ctx, &digelao.CreateTaskRequest{Name: "回访", ProjectSN: digelaotest.TemplateSN,
			SeatSN: digelaotest.SeatSN, AutoStart: true, Columns: cols, Contacts: contacts})
		require.NoError(t, err)
		require.NoError(t, srv.Flush(ctx))
		records := srv.CallRecords()
		require.Len(t, records, 150)
		pushed := 0
		var last time.Time
		for _, r := range records {
			if r.Pushed {
				pushed++
			}
			if r.EndedAt.After(last) {
				last = r.EndedAt
			}
		}
		require.Greater(t, pushed, 60, "most pushes went through")
		require.Less(t, pushed, 150, "some were refused on every try")
		victim := ""
		for _, r := range records {
			if !r.Pushed {
				victim = r.SN
				break
			}
		}
		refused.Store(&victim)

		// Sweeps fill the gaps; the refused record is tried on two steps, then quarantined.
		for step := range 3 {
			clock.Set(last.Add(digelao.DefaultSweepLag + time.Duration(step)*time.Hour))
			_, err := rs.SweepOnce(ctx)
			require.NoError(t, err, "step %d", step)
		}
		qs, err := rs.Quarantined(ctx)
		require.NoError(t, err)
		require.Len(t, qs, 1, "the refused record is quarantined")
		assert.Equal(t, victim, qs[0].SN)
		assert.Contains(t, qs[0].Err, errRefused.Error())
		rows, _ := stored(t, s, db)
		assert.Len(t, rows, 149, "every record but the refused one")
		assert.Zero(t, rows[victim])

		refused.Store(nil)
		require.NoError(t, rs.Redeliver(ctx, qs[0].Key))
		qs, err = rs.Quarantined(ctx)
		require.NoError(t, err)
		assert.Empty(t, qs)

		rows, phones := stored(t, s, db)
		got := cnt.all(t)
		require.Len(t, rows, len(records), "every record of the platform")
		for _, r := range records {
			assert.Equal(t, 1, rows[r.SN], "one row of %s", r.SN)
			assert.Equal(t, r.Phone, phones[r.SN])
			assert.Equal(t, 1, got[r.SN], "delivered once: %s", r.SN)
		}
		st := rs.Stats()
		assert.Equal(t, int64(pushed), st.Pushed)
		assert.Equal(t, int64(len(records)-pushed-1), st.GapsFilled, "the gaps, but the quarantined record")
	})
}
