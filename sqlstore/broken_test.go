package sqlstore_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/internal/sqltest"
	"github.com/digelao-go/digelao/sqlstore"
)

// marksTable is the name of the Store's marks table.
func marksTable(s *sqlstore.Store) string {
	return strings.TrimSuffix(s.RecordsTable(), "call_records") + "marks"
}

// TestSinkFuncThatEndsTheTransaction: a func that commits or rolls back the transaction (by
// *sql.Tx or by a statement), or runs DDL on MySQL (an implicit commit), fails the Deliver, and
// leaves no key marked delivered without its row — not even one of Sink(nil) whose row was still
// to be written: once the claims lapse, every record is delivered.
func TestSinkFuncThatEndsTheTransaction(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		ways := map[string]func(ctx context.Context, tx *sql.Tx) error{
			"Commit":    func(context.Context, *sql.Tx) error { return nil }, // replaced below
			"Rollback":  func(context.Context, *sql.Tx) error { return nil },
			"COMMIT":    func(ctx context.Context, tx *sql.Tx) error { _, err := tx.ExecContext(ctx, "COMMIT"); return err },
			"ROLLBACK":  func(ctx context.Context, tx *sql.Tx) error { _, err := tx.ExecContext(ctx, "ROLLBACK"); return err },
			"DDL":       nil,
			"COMMIT+SP": nil,
		}
		ways["Commit"] = func(_ context.Context, tx *sql.Tx) error { return tx.Commit() }
		ways["Rollback"] = func(_ context.Context, tx *sql.Tx) error { return tx.Rollback() }
		for name, way := range ways {
			t.Run(name, func(t *testing.T) {
				const ttl = 200 * time.Millisecond
				s, db := sqltest.Store(t, d, sqlstore.WithClaimTTL(ttl))
				switch name {
				case "DDL":
					if d != sqlstore.MySQL {
						t.Skip("an implicit commit is MySQL's")
					}
					way = func(ctx context.Context, tx *sql.Tx) error {
						_, err := tx.ExecContext(ctx, "CREATE TABLE "+s.RecordsTable()+"_ddl (x INT)")
						return err
					}
				case "COMMIT+SP":
					if d == sqlstore.Postgres {
						t.Skip("PostgreSQL refuses a SAVEPOINT outside a transaction")
					}
					// A commit, and a savepoint of the name Deliver used to take: a new transaction
					// on SQLite, a savepoint of nothing on MySQL.
					way = func(ctx context.Context, tx *sql.Tx) error {
						if _, err := tx.ExecContext(ctx, "COMMIT"); err != nil {
							return err
						}
						_, err := tx.ExecContext(ctx, "SAVEPOINT digelao_record")
						return err
					}
				}
				recs := []*digelao.CallRecord{sample("sn-1", "1"), sample("sn-2", "2"), sample("sn-3", "3")}
				keys := []string{"k1", "k2", "k3"}
				sink := s.Sink(func(ctx context.Context, tx *sql.Tx, r *digelao.CallRecord) error {
					if r.SN == "sn-2" {
						_ = way(ctx, tx) // the func hides what it did
					}
					return nil
				})
				// The first record goes through Sink(nil): its mark was taken, as the others', before
				// any func ran, and its row waits for the end of the page.
				deliver := func(ctx context.Context, i int) error {
					if i == 0 {
						return s.Sink(nil)(ctx, recs[i])
					}
					return sink(ctx, recs[i])
				}
				_, err := s.Deliver(t.Context(), account, keys, deliver)
				require.Error(t, err, "the transaction is not the one Deliver began")

				assertNoMarkWithoutRow(t, d, s, db, keys, recs)
				time.Sleep(2 * ttl) // the claims of a transaction committed too early lapse
				assertDeliveredInTheEnd(t, s, db, keys, recs)
			})
		}
	})
}

// assertNoMarkWithoutRow checks that no key of keys is marked delivered without its record's row.
func assertNoMarkWithoutRow(t *testing.T, d sqlstore.Dialect, s *sqlstore.Store, db *sql.DB, keys []string, recs []*digelao.CallRecord) {
	t.Helper()
	have := map[string]bool{}
	for _, r := range rows(t, s, db) {
		have[r.SN.String] = true
	}
	for i, k := range keys {
		var done bool
		err := db.QueryRowContext(t.Context(), "SELECT done_at IS NOT NULL FROM "+marksTable(s)+" WHERE dedup_key = "+ph(d, 1), k).Scan(&done)
		if err == nil && done {
			assert.True(t, have[recs[i].SN], "%s is marked delivered without its row", k)
		}
	}
}

// assertDeliveredInTheEnd delivers keys again, and checks that every record is then delivered:
// no key is left in progress.
func assertDeliveredInTheEnd(t *testing.T, s *sqlstore.Store, db *sql.DB, keys []string, recs []*digelao.CallRecord) {
	t.Helper()
	ds, err := s.Deliver(t.Context(), account, keys, func(ctx context.Context, i int) error { return s.Sink(nil)(ctx, recs[i]) })
	require.NoError(t, err)
	for i, dd := range ds {
		require.NoError(t, dd.Err, keys[i])
		require.NotEqual(t, digelao.ClaimInProgress, dd.State, keys[i])
	}
	assert.Len(t, rows(t, s, db), len(keys), "every record is delivered in the end")
}

// TestSinkFuncWithASavepointOfItsOwn: a func that opens savepoints of its own — of the name the
// Store once used for its own — does not change what a refusal rolls back.
func TestSinkFuncWithASavepointOfItsOwn(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		s, db := sqltest.Store(t, d)
		orders := userTable(t, s, db)
		insert := "INSERT INTO " + orders + " (sn, phone) VALUES (" + ph(d, 1) + ", " + ph(d, 2) + ")"
		errNo := errors.New("refused")
		sink := s.Sink(func(ctx context.Context, tx *sql.Tx, r *digelao.CallRecord) error {
			if _, err := tx.ExecContext(ctx, insert, r.SN, "before"); err != nil {
				return err
			}
			for _, name := range []string{"digelao_record", "digelao_rows"} {
				if _, err := tx.ExecContext(ctx, "SAVEPOINT "+name); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, insert, r.SN, "after"); err != nil {
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
		var sns []string
		for _, r := range rows(t, s, db) {
			sns = append(sns, r.SN.String)
		}
		assert.Equal(t, []string{"sn-1", "sn-3"}, sns, "the refused record's row is rolled back")
		var n int
		require.NoError(t, db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM "+orders+" WHERE sn = 'sn-refused'").Scan(&n))
		assert.Zero(t, n, "every write of the func for the refused record is rolled back")
		require.NoError(t, db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM "+orders).Scan(&n))
		assert.Equal(t, 4, n)
	})
}

// TestMigrateRefusesAMySQLConnectionNotInUTF8MB4: a connection whose character set is not utf8mb4
// would mangle or refuse 4-byte UTF-8 (an emoji in a name): Migrate says how to set it.
func TestMigrateRefusesAMySQLConnectionNotInUTF8MB4(t *testing.T) {
	t.Parallel()
	dsn := sqltest.DSN(t, sqlstore.MySQL)
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	for _, cs := range []string{"latin1", "utf8"} {
		t.Run(cs, func(t *testing.T) {
			t.Parallel()
			db := sqltest.Open(t, sqlstore.MySQL, dsn+sep+"charset="+cs)
			s, err := sqlstore.New(db, sqlstore.MySQL, sqlstore.WithTablePrefix(sqltest.Prefix(t, sqlstore.MySQL, db)))
			require.NoError(t, err)
			err = s.Migrate(t.Context())
			require.Error(t, err)
			assert.Contains(t, err.Error(), "utf8mb4")
			assert.Contains(t, err.Error(), "charset=utf8mb4", "says how to set it in the DSN")
			assert.NotContains(t, err.Error(), "tcp(", "no DSN in the error")
		})
	}
}

// TestSinkLeavesNullWhatItsTypedColumnsCannotHold: a duration beyond the column's 32 bits, and a
// time whose year in China time is outside 1000–9999, are NULL in their columns and whole in the
// record column; a time that is in range in China time but not in UTC is kept.
func TestSinkLeavesNullWhatItsTypedColumnsCannotHold(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		s, db := sqltest.Store(t, d)
		long, late, early := sample("sn-long", "1"), sample("sn-late", "2"), sample("sn-early", "3")
		long.TalkTime = 1 << 31
		late.CreatedAt = time.Date(9999, 12, 31, 20, 0, 0, 0, time.UTC) // 10000-01-01 04:00 in China
		early.CreatedAt = time.Date(999, 12, 31, 16, 0, 0, 0, time.UTC) // 1000-01-01 00:00 in China
		for _, dd := range deliverAll(t, s, account, s.Sink(nil), long, late, early) {
			require.NoError(t, dd.Err)
		}
		got := map[string]row{}
		for _, r := range rows(t, s, db) {
			got[r.SN.String] = r
		}
		require.Len(t, got, 3)
		assert.False(t, got["sn-long"].Duration.Valid, "2^31 seconds do not fit a 32-bit column")
		assert.Contains(t, got["sn-long"].Record, `"talktimes":2147483648`)
		assert.False(t, got["sn-late"].CreatedAt.Valid, "year 10000 in China time")
		assert.Contains(t, got["sn-late"].Record, `"created_at":"10000-01-01 04:00:00"`)
		assert.Equal(t, text("1000-01-01 00:00:00"), got["sn-early"].CreatedAt, "year 1000 in China time fits")
	})
}

// TestMigrateRefusesTablesItDidNotMake: a table of the Store's names that a schema without a
// version did not make is refused, not taken for the Store's own.
func TestMigrateRefusesTablesItDidNotMake(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		ctx := t.Context()
		db := sqltest.Open(t, d, sqltest.DSN(t, d))
		prefix := sqltest.Prefix(t, d, db)
		s, err := sqlstore.New(db, d, sqlstore.WithTablePrefix(prefix))
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, "CREATE TABLE "+prefix+"call_records (sn VARCHAR(64) PRIMARY KEY, body TEXT)")
		require.NoError(t, err)
		err = s.Migrate(ctx)
		require.Error(t, err)
		assert.Contains(t, err.Error(), prefix+"call_records")
		assert.Contains(t, err.Error(), "WithTablePrefix", "says how to fix it")

		_, err = db.ExecContext(ctx, "DROP TABLE "+prefix+"call_records")
		require.NoError(t, err)
		require.NoError(t, s.Migrate(ctx), "without the table")
		require.NoError(t, s.Migrate(ctx), "idempotent")

		// A version cut short (MySQL commits each DDL statement by itself) is completed; tables
		// without even a pending version are refused.
		_, err = db.ExecContext(ctx, "UPDATE "+prefix+"schema SET applied_at = 'pending'")
		require.NoError(t, err)
		require.NoError(t, s.Migrate(ctx), "a pending version's tables are the Store's own")
		var at string
		require.NoError(t, db.QueryRowContext(ctx, "SELECT applied_at FROM "+prefix+"schema").Scan(&at))
		assert.NotEqual(t, "pending", at, "applied")
		_, err = db.ExecContext(ctx, "DELETE FROM "+prefix+"schema")
		require.NoError(t, err)
		require.ErrorContains(t, s.Migrate(ctx), prefix+"call_records")
	})
}

// TestDeliverPageOfLargeRecords: a page whose records are large is written in statements of a
// bounded size, within MySQL's max_allowed_packet (16 MiB by default on MariaDB) also when the
// driver sends a statement's values in its text (interpolateParams=true).
func TestDeliverPageOfLargeRecords(t *testing.T) {
	t.Parallel()
	run := func(t *testing.T, s *sqlstore.Store, db *sql.DB) {
		big := json.RawMessage(`"` + strings.Repeat("录", 100<<10/3) + `"`) // 100 KB
		recs := make([]*digelao.CallRecord, 300)
		for i := range recs {
			recs[i] = sample(fmt.Sprintf("sn-%03d", i), "1")
			recs[i].Extra = map[string]json.RawMessage{"transcript": big}
		}
		for i, dd := range deliverAll(t, s, account, s.Sink(nil), recs...) {
			require.NoError(t, dd.Err, i)
		}
		var n int
		require.NoError(t, db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM "+s.RecordsTable()).Scan(&n))
		assert.Equal(t, len(recs), n)
	}
	eachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		s, db := sqltest.Store(t, d)
		run(t, s, db)
	})
	t.Run("MySQL with interpolateParams", func(t *testing.T) {
		t.Parallel()
		dsn := sqltest.DSN(t, sqlstore.MySQL)
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		db := sqltest.Open(t, sqlstore.MySQL, dsn+sep+"interpolateParams=true")
		s, err := sqlstore.New(db, sqlstore.MySQL, sqlstore.WithTablePrefix(sqltest.Prefix(t, sqlstore.MySQL, db)))
		require.NoError(t, err)
		require.NoError(t, s.Migrate(t.Context()))
		run(t, s, db)
	})
}

// TestDeliverOnAConnectionKilled: the server kills the connection of a delivery mid-transaction
// (pg_terminate_backend, KILL): Deliver fails, leaves no key marked delivered, and the next
// Deliver on the pool delivers them.
func TestDeliverOnAConnectionKilled(t *testing.T) {
	t.Parallel()
	for _, d := range []sqlstore.Dialect{sqlstore.Postgres, sqlstore.MySQL} {
		t.Run(d.String(), func(t *testing.T) {
			t.Parallel()
			s, db := sqltest.Store(t, d)
			id, kill := "SELECT pg_backend_pid()", "SELECT pg_terminate_backend($1)"
			if d == sqlstore.MySQL {
				id, kill = "SELECT CONNECTION_ID()", "KILL ?"
			}
			recs := []*digelao.CallRecord{sample("sn-1", "1"), sample("sn-2", "2"), sample("sn-3", "3")}
			keys := []string{"k1", "k2", "k3"}
			sink := s.Sink(func(ctx context.Context, tx *sql.Tx, r *digelao.CallRecord) error {
				if r.SN != "sn-2" {
					return nil
				}
				var n int64
				if err := tx.QueryRowContext(ctx, id).Scan(&n); err != nil {
					return err
				}
				if _, err := db.ExecContext(ctx, kill, n); err != nil {
					return err
				}
				time.Sleep(100 * time.Millisecond)
				return nil // the func does not notice
			})
			_, err := s.Deliver(t.Context(), account, keys, func(ctx context.Context, i int) error { return sink(ctx, recs[i]) })
			require.Error(t, err)
			var done int
			require.NoError(t, db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM "+marksTable(s)+" WHERE done_at IS NOT NULL").Scan(&done))
			assert.Zero(t, done, "no key is marked delivered")
			require.Empty(t, rows(t, s, db))

			ds, err := s.Deliver(t.Context(), account, keys, func(ctx context.Context, i int) error { return s.Sink(nil)(ctx, recs[i]) })
			require.NoError(t, err, "the next Deliver works")
			for _, dd := range ds {
				assert.Equal(t, digelao.ClaimNew, dd.State)
				assert.NoError(t, dd.Err)
			}
			assert.Len(t, rows(t, s, db), 3)
		})
	}
}

// TestDeliverTakesTheMarksAgainAfterALockTimeout: on MySQL, a key another transaction holds past
// innodb_lock_wait_timeout (error 1205) fails the statement that takes the marks; Deliver tries
// again, and delivers once the key is free.
func TestDeliverTakesTheMarksAgainAfterALockTimeout(t *testing.T) {
	t.Parallel()
	dsn := sqltest.DSN(t, sqlstore.MySQL)
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	db := sqltest.Open(t, sqlstore.MySQL, dsn+sep+"innodb_lock_wait_timeout=1")
	s, err := sqlstore.New(db, sqlstore.MySQL, sqlstore.WithTablePrefix(sqltest.Prefix(t, sqlstore.MySQL, db)))
	require.NoError(t, err)
	require.NoError(t, s.Migrate(t.Context()))
	other, err := db.BeginTx(t.Context(), nil)
	require.NoError(t, err)
	_, err = other.ExecContext(t.Context(), "INSERT INTO "+marksTable(s)+" (dedup_key, token, expires_at) VALUES ('k2', 'other', UTC_TIMESTAMP(6))")
	require.NoError(t, err)
	go func() {
		time.Sleep(1500 * time.Millisecond) // past the 1 s the Deliver waits
		_ = other.Rollback()
	}()
	ds, err := s.Deliver(t.Context(), account, []string{"k1", "k2"}, func(ctx context.Context, i int) error {
		return s.Sink(nil)(ctx, sample(fmt.Sprintf("sn-%d", i), "1"))
	})
	require.NoError(t, err, "the lock wait timeout is tried again")
	for _, dd := range ds {
		assert.Equal(t, digelao.ClaimNew, dd.State)
		assert.NoError(t, dd.Err)
	}
}

// TestDeliversInOppositeOrders: Delivers of overlapping keys, given in opposite orders, at once,
// all succeed — the keys are taken in one order — and deliver each key once.
func TestDeliversInOppositeOrders(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		s, _ := sqltest.Store(t, d)
		for round := range 20 {
			keys := make([]string, 20)
			for i := range keys {
				keys[i] = fmt.Sprintf("r%d:k%02d", round, i)
			}
			back := slices.Clone(keys[5:])
			slices.Reverse(back)
			var wg sync.WaitGroup
			var mu sync.Mutex
			count := map[string]int{}
			for _, ks := range [][]string{keys[:15], back} {
				wg.Go(func() {
					ds, err := s.Deliver(t.Context(), account, ks, func(ctx context.Context, i int) error {
						return s.Sink(nil)(ctx, sample(ks[i], "1"))
					})
					if !assert.NoError(t, err) {
						return
					}
					mu.Lock()
					defer mu.Unlock()
					for i, dd := range ds {
						if dd.State == digelao.ClaimNew && dd.Err == nil {
							count[ks[i]]++
						}
					}
				})
			}
			wg.Wait()
			for _, k := range keys {
				assert.Equal(t, 1, count[k], "%s delivered once", k)
			}
		}
	})
}
