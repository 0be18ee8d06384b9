package sqlstore_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/internal/sqltest"
	"github.com/digelao-go/digelao/sqlstore"
)

// eachDialect runs f on every dialect, in parallel.
func eachDialect(t *testing.T, f func(t *testing.T, d sqlstore.Dialect)) {
	t.Helper()
	for _, d := range sqltest.Dialects() {
		t.Run(d.String(), func(t *testing.T) {
			t.Parallel()
			f(t, d)
		})
	}
}

const account = "SYSUSER|b3397882e26ba9e7fb8f01f1af345bde"

var china = time.FixedZone("CST", 8*3600)

// sample is a whole call record, as the platform lists it.
func sample(sn, phone string) *digelao.CallRecord {
	created := time.Date(2026, 3, 4, 9, 30, 12, 0, china)
	return &digelao.CallRecord{ID: 1207, SN: sn, Phone: phone, Name: "张三", UserSN: account, UserName: "坐席一",
		TaskSN: "TASK|0f3c8e6a1b2d4c5e9f7a8b6c5d4e3f2a", Source: "回访任务", Status: "A", StatusManual: "B",
		TalkTime: 42, TurnCount: 7, Score: 88.5, CreatedAt: created, StartedAt: created.Add(-70 * time.Second),
		ConnectedAt: created.Add(-50 * time.Second), DisconnectedAt: created,
		Extra: map[string]json.RawMessage{"客户等级": json.RawMessage(`"VIP"`)}}
}

// deliverAll delivers recs through sink in one Deliver, under keys of their own, and returns what
// Deliver did.
func deliverAll(t *testing.T, s *sqlstore.Store, acct string, sink func(context.Context, *digelao.CallRecord) error, recs ...*digelao.CallRecord) []digelao.Delivery {
	t.Helper()
	keys := make([]string, len(recs))
	for i, r := range recs {
		keys[i] = fmt.Sprintf("sync:test:record:%s:%d:%d", acct, i, len(r.SN))
	}
	ds, err := s.Deliver(t.Context(), acct, keys, func(ctx context.Context, i int) error { return sink(ctx, recs[i]) })
	require.NoError(t, err)
	return ds
}

// row is a row of the records' table, as text.
type row struct {
	Account, SN, Task, Phone, Intention, StatusManual sql.NullString
	ID, Duration                                      sql.NullInt64
	CreatedAt, ConnectedAt, DisconnectedAt            sql.NullString // China time, "2006-01-02 15:04:05"
	Record                                            string
}

// rows reads the records' table, ordered by account and sn.
func rows(t *testing.T, s *sqlstore.Store, db *sql.DB) []row {
	t.Helper()
	q := "SELECT account, sn, id, task, phone, intention, status_manual, duration, created_at, connected_at, disconnected_at, record FROM " +
		s.RecordsTable() + " ORDER BY account, sn"
	rs, err := db.QueryContext(t.Context(), q)
	require.NoError(t, err)
	defer func() { _ = rs.Close() }()
	var out []row
	for rs.Next() {
		var r row
		var times [3]any
		var pgTimes [3]sql.NullTime
		for i := range times {
			if s.Dialect() == sqlstore.Postgres {
				times[i] = &pgTimes[i]
			} else {
				times[i] = []*sql.NullString{&r.CreatedAt, &r.ConnectedAt, &r.DisconnectedAt}[i]
			}
		}
		require.NoError(t, rs.Scan(&r.Account, &r.SN, &r.ID, &r.Task, &r.Phone, &r.Intention, &r.StatusManual, &r.Duration,
			times[0], times[1], times[2], &r.Record))
		for i, pt := range pgTimes {
			if pt.Valid {
				*[]*sql.NullString{&r.CreatedAt, &r.ConnectedAt, &r.DisconnectedAt}[i] = sql.NullString{
					String: pt.Time.In(china).Format(time.DateTime), Valid: true}
			}
		}
		out = append(out, r)
	}
	require.NoError(t, rs.Err())
	return out
}

func text(s string) sql.NullString { return sql.NullString{String: s, Valid: true} }

func TestSinkWritesTheColumns(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		s, db := sqltest.Store(t, d)
		rec := sample("SYSUSER|b3397882e26ba9e7fb8f01f1af345bde|a1b2c3d4e5f60718293a4b5c6d7e8f90", "13800138000")
		notConnected := sample("SYSUSER|b3397882e26ba9e7fb8f01f1af345bde|00000000000000000000000000000002", "13900139000")
		notConnected.ConnectedAt, notConnected.TalkTime, notConnected.ID = time.Time{}, 0, 0
		for _, dd := range deliverAll(t, s, account, s.Sink(nil), rec, notConnected) {
			require.NoError(t, dd.Err)
			require.Equal(t, digelao.ClaimNew, dd.State)
		}
		// The same sn under another account is another record.
		for _, dd := range deliverAll(t, s, "SYSUSER|ffffffffffffffffffffffffffffffff", s.Sink(nil), rec) {
			require.NoError(t, dd.Err)
		}
		got := rows(t, s, db)
		require.Len(t, got, 3)
		want := row{Account: text(account), SN: text(rec.SN), ID: sql.NullInt64{Int64: 1207, Valid: true},
			Task: text(rec.TaskSN), Phone: text("13800138000"), Intention: text("A"), StatusManual: text("B"),
			Duration: sql.NullInt64{Int64: 42, Valid: true}, CreatedAt: text("2026-03-04 09:30:12"),
			ConnectedAt: text("2026-03-04 09:29:22"), DisconnectedAt: text("2026-03-04 09:30:12")}
		whole, err := json.Marshal(rec)
		require.NoError(t, err)
		assert.JSONEq(t, string(whole), got[1].Record, "the whole record, as json.Marshal writes it")
		var back digelao.CallRecord
		require.NoError(t, json.Unmarshal([]byte(got[1].Record), &back))
		assert.JSONEq(t, `"VIP"`, string(back.Extra["客户等级"]), "members without a field are kept")
		got[1].Record = ""
		assert.Equal(t, want, got[1])
		assert.Equal(t, notConnected.SN, got[0].SN.String)
		assert.False(t, got[0].ID.Valid, "an id of 0 is NULL")
		assert.False(t, got[0].ConnectedAt.Valid, "a zero time is NULL")
		assert.Equal(t, int64(0), got[0].Duration.Int64)
		assert.Equal(t, "SYSUSER|ffffffffffffffffffffffffffffffff", got[2].Account.String)
		assert.Equal(t, rec.SN, got[2].SN.String)
	})
}

func TestSinkRecordWithoutSNKeptUnderItsKey(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		s, db := sqltest.Store(t, d)
		rec := sample("", "13800138000")
		const key = "sync:0123456789abcdef01234567:record:00112233445566778899aabbccddeeff"
		for range 2 { // delivered again after its mark was pruned: upserted, not doubled
			ds, err := s.Deliver(t.Context(), account, []string{key}, func(ctx context.Context, _ int) error { return s.Sink(nil)(ctx, rec) })
			require.NoError(t, err)
			require.NoError(t, ds[0].Err)
			_, err = db.ExecContext(t.Context(), "DELETE FROM "+strings.TrimSuffix(s.RecordsTable(), "call_records")+"marks")
			require.NoError(t, err)
		}
		got := rows(t, s, db)
		require.Len(t, got, 1)
		assert.Equal(t, key, got[0].SN.String, "a record without sn is kept under its delivery key")
		assert.Equal(t, int64(1207), got[0].ID.Int64)
	})
}

func TestSinkKeepsWhatDoesNotFitInTheRecordColumn(t *testing.T) {
	t.Parallel()
	run := func(t *testing.T, s *sqlstore.Store, db *sql.DB) {
		long := strings.Repeat("电", 65)
		fits := strings.Repeat("电", 64)
		recs := []*digelao.CallRecord{
			sample("sn-long-phone", long),
			sample("sn-phone-fits", fits),
			sample("sn-bad-utf8", "138\xff0013800"),
			sample("sn-nul", "13800138000"),
			sample("sn-fraction", "13800138000"),
			sample("sn-long-task", "13800138000"),
		}
		recs[3].TaskSN = "TASK\x00|x"
		recs[4].CreatedAt = recs[4].CreatedAt.Add(500 * time.Millisecond)
		recs[5].TaskSN = strings.Repeat("t", 256)
		for i, dd := range deliverAll(t, s, account, s.Sink(nil), recs...) {
			require.NoError(t, dd.Err, i)
		}
		got := map[string]row{}
		for _, r := range rows(t, s, db) {
			got[r.SN.String] = r
		}
		require.Len(t, got, len(recs))
		assert.False(t, got["sn-long-phone"].Phone.Valid, "65 characters do not fit a phone of 64: NULL, never cut")
		assert.Equal(t, fits, got["sn-phone-fits"].Phone.String, "64 Chinese characters fit")
		assert.False(t, got["sn-bad-utf8"].Phone.Valid, "not UTF-8: NULL")
		assert.False(t, got["sn-nul"].Task.Valid, "a NUL byte: NULL")
		assert.True(t, got["sn-nul"].Phone.Valid, "only the column that does not fit")
		assert.False(t, got["sn-fraction"].CreatedAt.Valid, "a fraction of a second: NULL, never rounded")
		assert.True(t, got["sn-fraction"].DisconnectedAt.Valid)
		assert.False(t, got["sn-long-task"].Task.Valid, "256 characters do not fit a task of 255")
		for _, c := range []struct{ sn, member, want string }{
			{"sn-long-phone", "phone", long}, {"sn-nul", "dial_task_main_sn", "TASK\x00|x"},
			{"sn-long-task", "dial_task_main_sn", recs[5].TaskSN}, {"sn-bad-utf8", "phone", "138\ufffd0013800"},
		} {
			var m map[string]any
			require.NoError(t, json.Unmarshal([]byte(got[c.sn].Record), &m))
			assert.Equal(t, c.want, m[c.member], "%s: the record column keeps %s whole", c.sn, c.member)
		}
	}
	eachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		s, db := sqltest.Store(t, d)
		run(t, s, db)
	})
	t.Run("MySQL without strict mode", func(t *testing.T) {
		t.Parallel()
		// A session that would truncate a long value with a warning: the Store checks the widths
		// itself, and does not depend on the server's mode.
		dsn := sqltest.DSN(t, sqlstore.MySQL)
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		db := sqltest.Open(t, sqlstore.MySQL, dsn+sep+"sql_mode=%27%27")
		var mode string
		require.NoError(t, db.QueryRowContext(t.Context(), "SELECT @@SESSION.sql_mode").Scan(&mode))
		require.Empty(t, mode, "the session is not strict")
		s, err := sqlstore.New(db, sqlstore.MySQL, sqlstore.WithTablePrefix(sqltest.Prefix(t, sqlstore.MySQL, db)))
		require.NoError(t, err)
		require.NoError(t, s.Migrate(t.Context()))
		run(t, s, db)
	})
}

func TestSinkRefusesAnSNItCannotKeep(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		s, db := sqltest.Store(t, d)
		bad := []string{"sn\xff", "sn\x00nul", strings.Repeat("s", 256)}
		recs := []*digelao.CallRecord{sample("sn-ok-1", "1")}
		for _, sn := range bad {
			recs = append(recs, sample(sn, "1"))
		}
		recs = append(recs, sample("sn-ok-2", "1"))
		ds := deliverAll(t, s, account, s.Sink(nil), recs...)
		for i, dd := range ds {
			if i == 0 || i == len(ds)-1 {
				assert.NoError(t, dd.Err)
				continue
			}
			require.Error(t, dd.Err, "sn %q", recs[i].SN)
			assert.Contains(t, dd.Err.Error(), "column sn")
			assert.Contains(t, dd.Err.Error(), fmt.Sprintf("sn %q", recs[i].SN), "the error names the sn")
		}
		got := rows(t, s, db)
		require.Len(t, got, 2, "the refused records are not written; the others are")
	})
}

func TestSinkOutsideItsDeliver(t *testing.T) {
	t.Parallel()
	s, _ := sqltest.Store(t, sqlstore.SQLite)
	other, _ := sqltest.Store(t, sqlstore.SQLite)
	err := s.Sink(nil)(t.Context(), sample("sn", "1"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "digelao.WithSyncStore", "says how to fix it")
	ds, err := other.Deliver(t.Context(), account, []string{"k"}, func(ctx context.Context, _ int) error {
		return s.Sink(nil)(ctx, sample("sn", "1"))
	})
	require.NoError(t, err)
	require.Error(t, ds[0].Err, "the sink of one Store in the transaction of another")
	assert.Contains(t, ds[0].Err.Error(), "another Store")
}

// userTable creates a table of the user's own under the Store's prefix.
func userTable(t *testing.T, s *sqlstore.Store, db *sql.DB) string {
	t.Helper()
	table := strings.TrimSuffix(s.RecordsTable(), "call_records") + "orders"
	_, err := db.ExecContext(t.Context(), "CREATE TABLE "+table+" (sn VARCHAR(255) NOT NULL, phone VARCHAR(64) NOT NULL)")
	require.NoError(t, err)
	return table
}

func ph(d sqlstore.Dialect, n int) string {
	if d == sqlstore.Postgres {
		return "$" + string(rune('0'+n))
	}
	return "?"
}

func TestSinkFuncInTheSameTransaction(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		s, db := sqltest.Store(t, d)
		orders := userTable(t, s, db)
		errNo := errors.New("the user's code refuses")
		sink := s.Sink(func(ctx context.Context, tx *sql.Tx, r *digelao.CallRecord) error {
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+s.RecordsTable()+" WHERE sn = "+ph(d, 1), r.SN).Scan(&n); err != nil {
				return err
			}
			if n != 1 {
				return errors.New("fn does not see its record's row")
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO "+orders+" (sn, phone) VALUES ("+ph(d, 1)+", "+ph(d, 2)+")", r.SN, r.Phone); err != nil {
				return err
			}
			if r.SN == "sn-refused" {
				return errNo
			}
			return nil
		})
		ds := deliverAll(t, s, account, sink, sample("sn-1", "1"), sample("sn-refused", "2"), sample("sn-3", "3"))
		assert.NoError(t, ds[0].Err)
		assert.ErrorIs(t, ds[1].Err, errNo)
		assert.NoError(t, ds[2].Err)
		got := rows(t, s, db)
		require.Len(t, got, 2)
		assert.Equal(t, "sn-1", got[0].SN.String)
		assert.Equal(t, "sn-3", got[1].SN.String, "the refused record's row is rolled back with the user's writes")
		var sns []string
		rs, err := db.QueryContext(t.Context(), "SELECT sn FROM "+orders+" ORDER BY sn")
		require.NoError(t, err)
		for rs.Next() {
			var sn string
			require.NoError(t, rs.Scan(&sn))
			sns = append(sns, sn)
		}
		require.NoError(t, rs.Close())
		assert.Equal(t, []string{"sn-1", "sn-3"}, sns, "the user's writes commit with the records, and roll back with them")
	})
}

// TestSinkFuncThatHidesAFailedStatement: on PostgreSQL a statement that fails ends the transaction
// (every later statement is refused) even when fn returns nil; the record is then left
// undelivered, and the other records of the page are delivered all the same.
func TestSinkFuncThatHidesAFailedStatement(t *testing.T) {
	t.Parallel()
	s, db := sqltest.Store(t, sqlstore.Postgres)
	sink := s.Sink(func(ctx context.Context, tx *sql.Tx, r *digelao.CallRecord) error {
		if r.SN == "sn-hidden" {
			_, _ = tx.ExecContext(ctx, "SELECT * FROM no_such_table") // the error is dropped
		}
		return nil
	})
	ds := deliverAll(t, s, account, sink, sample("sn-1", "1"), sample("sn-hidden", "2"), sample("sn-3", "3"))
	assert.NoError(t, ds[0].Err)
	require.Error(t, ds[1].Err)
	assert.Contains(t, ds[1].Err.Error(), "the sink returned nil, but its transaction failed")
	assert.NoError(t, ds[2].Err)
	got := rows(t, s, db)
	require.Len(t, got, 2)
	assert.Equal(t, "sn-3", got[1].SN.String)
}

// TestSinkBatchWithOneBadRow: a row the database refuses (here a constraint of the user's) fails
// the multi-row upsert; the records are then written one by one, and only that one is left
// undelivered, with an error naming it. Once the database takes it, it is delivered.
func TestSinkBatchWithOneBadRow(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		s, db := sqltest.Store(t, d)
		table := s.RecordsTable()
		refuse := "ALTER TABLE " + table + " ADD CONSTRAINT " + table + "_no CHECK (phone <> '13999999999')"
		allow := "ALTER TABLE " + table + " DROP CONSTRAINT " + table + "_no"
		if d == sqlstore.SQLite {
			refuse = "CREATE TRIGGER " + table + "_no BEFORE INSERT ON " + table +
				" WHEN NEW.phone = '13999999999' BEGIN SELECT RAISE(ABORT, 'refused by a trigger'); END"
			allow = "DROP TRIGGER " + table + "_no"
		}
		_, err := db.ExecContext(t.Context(), refuse)
		require.NoError(t, err)
		recs := []*digelao.CallRecord{sample("sn-1", "1"), sample("sn-bad", "13999999999"), sample("sn-3", "3")}
		keys := []string{"k1", "k2", "k3"}
		deliver := func(ctx context.Context, i int) error { return s.Sink(nil)(ctx, recs[i]) }
		ds, err := s.Deliver(t.Context(), account, keys, deliver)
		require.NoError(t, err)
		assert.NoError(t, ds[0].Err)
		require.Error(t, ds[1].Err)
		assert.Contains(t, ds[1].Err.Error(), `call record "sn-bad"`)
		assert.NoError(t, ds[2].Err)
		require.Len(t, rows(t, s, db), 2)

		// A push: one record, refused by the database. The key alone is left, the transaction with it.
		ds, err = s.Deliver(t.Context(), account, []string{"k2", "k4"}, func(ctx context.Context, i int) error {
			if i == 1 {
				return errors.New("the sink refuses the other")
			}
			return s.Sink(nil)(ctx, recs[1])
		})
		require.NoError(t, err, "a record refused is not a failed transaction")
		require.Error(t, ds[0].Err)
		assert.Contains(t, ds[0].Err.Error(), `call record "sn-bad"`)
		require.Error(t, ds[1].Err)

		// A key delivered by other code than the sink beside the refused record: its mark commits.
		ds, err = s.Deliver(t.Context(), account, []string{"k5", "k6"}, func(ctx context.Context, i int) error {
			if i == 0 {
				return nil // delivered elsewhere
			}
			return s.Sink(nil)(ctx, recs[1])
		})
		require.NoError(t, err)
		require.NoError(t, ds[0].Err)
		require.Error(t, ds[1].Err)
		ds, err = s.Deliver(t.Context(), account, []string{"k5"}, func(context.Context, int) error { return nil })
		require.NoError(t, err)
		assert.Equal(t, digelao.ClaimDone, ds[0].State, "the other key's delivery was committed")

		_, err = db.ExecContext(t.Context(), allow)
		require.NoError(t, err)
		ds, err = s.Deliver(t.Context(), account, keys, deliver)
		require.NoError(t, err)
		assert.Equal(t, []digelao.ClaimState{digelao.ClaimDone, digelao.ClaimNew, digelao.ClaimDone},
			[]digelao.ClaimState{ds[0].State, ds[1].State, ds[2].State}, "only the refused record was left to deliver")
		assert.NoError(t, ds[1].Err)
		require.Len(t, rows(t, s, db), 3)
		ds, err = s.Deliver(t.Context(), account, []string{"k4"}, func(ctx context.Context, _ int) error {
			return s.Sink(nil)(ctx, sample("sn-4", "4"))
		})
		require.NoError(t, err)
		assert.Equal(t, digelao.ClaimNew, ds[0].State, "the key the sink refused beside the push was left free")
		assert.NoError(t, ds[0].Err)
	})
}
