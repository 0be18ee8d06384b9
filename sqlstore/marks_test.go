package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
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

// TestDeliverRacesClaims: Delivers mixing Sink(nil) and Sink(fn) (fn failing at times, keys
// given twice) race Claim/Renew/Release on the same keys. At the end: no key marked done without
// its row, fn's effects committed at most once per record, no claim without an expiry, and every
// record delivered once the claims are gone.
func TestDeliverRacesClaims(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		const ttl = 300 * time.Millisecond
		s, db := sqltest.Store(t, d, sqlstore.WithClaimTTL(ttl))
		effects := userTable(t, s, db)
		const nkeys = 16
		keyOf := func(i int) string { return fmt.Sprintf("key-%02d", i) }
		recOf := func(i int) *digelao.CallRecord { return sample(fmt.Sprintf("sn-%02d", i), "1") }
		insert := "INSERT INTO " + effects + " (sn, phone) VALUES (" + ph(d, 1) + ", " + ph(d, 2) + ")"
		errNo := errors.New("refused")
		ctx := t.Context()
		deadline := time.Now().Add(3 * time.Second)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var deliverErrs []error
		for g := range 3 {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(g), 7))
				for time.Now().Before(deadline) {
					var idx []int
					for range 1 + r.IntN(6) {
						idx = append(idx, r.IntN(nkeys))
					}
					keys := make([]string, len(idx))
					for j, i := range idx {
						keys[j] = keyOf(i)
					}
					modes := make([]int, len(idx))
					for j := range modes {
						modes[j] = r.IntN(4) // 0,1 Sink(nil); 2 Sink(fn); 3 Sink(fn) refusing
					}
					_, err := s.Deliver(ctx, account, keys, func(ctx context.Context, j int) error {
						rec := recOf(idx[j])
						switch modes[j] {
						case 0, 1:
							return s.Sink(nil)(ctx, rec)
						}
						refuse := modes[j] == 3
						return s.Sink(func(ctx context.Context, tx *sql.Tx, rec *digelao.CallRecord) error {
							if _, err := tx.ExecContext(ctx, insert, rec.SN, "fn"); err != nil {
								return err
							}
							if refuse {
								return errNo
							}
							return nil
						})(ctx, rec)
					})
					if err != nil {
						mu.Lock()
						deliverErrs = append(deliverErrs, err)
						mu.Unlock()
					}
				}
			})
		}
		for g := range 2 {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(g), 99))
				for n := 0; time.Now().Before(deadline); n++ {
					k := keyOf(r.IntN(nkeys))
					tok := fmt.Sprintf("claimer-%d-%d", g, n)
					st, err := s.Claim(ctx, k, tok)
					if err != nil {
						mu.Lock()
						deliverErrs = append(deliverErrs, err)
						mu.Unlock()
						continue
					}
					if st != digelao.ClaimNew {
						continue
					}
					time.Sleep(time.Duration(r.IntN(5)) * time.Millisecond)
					if r.IntN(2) == 0 {
						_, _ = s.Renew(ctx, k, tok)
					}
					if r.IntN(4) != 0 { // sometimes the claim is left to lapse
						_ = s.Release(ctx, k, tok)
					}
				}
			})
		}
		wg.Wait()
		for _, err := range deliverErrs {
			t.Logf("error during the race: %v", err)
		}
		have := map[string]bool{}
		for _, r := range rows(t, s, db) {
			have[r.SN.String] = true
		}
		// No key marked done without its row.
		mrows, err := db.QueryContext(ctx, "SELECT dedup_key, done_at IS NOT NULL, expires_at IS NULL FROM "+marksTable(s))
		require.NoError(t, err)
		for mrows.Next() {
			var k string
			var done, noExpiry bool
			require.NoError(t, mrows.Scan(&k, &done, &noExpiry))
			var i int
			_, _ = fmt.Sscanf(k, "key-%d", &i)
			if done {
				assert.True(t, have[recOf(i).SN], "%s is marked done without its row", k)
			} else {
				assert.False(t, noExpiry, "%s is a claim without an expiry: stuck for ever", k)
			}
		}
		require.NoError(t, mrows.Err())
		_ = mrows.Close()
		// fn's effects at most once per record.
		erows, err := db.QueryContext(ctx, "SELECT sn, COUNT(*) FROM "+effects+" GROUP BY sn")
		require.NoError(t, err)
		for erows.Next() {
			var sn string
			var n int
			require.NoError(t, erows.Scan(&sn, &n))
			assert.LessOrEqual(t, n, 1, "the func's effects for %s committed %d times", sn, n)
		}
		require.NoError(t, erows.Err())
		_ = erows.Close()
		// Every record delivered in the end.
		time.Sleep(2 * ttl)
		keys := make([]string, nkeys)
		for i := range keys {
			keys[i] = keyOf(i)
		}
		ds, err := s.Deliver(ctx, account, keys, func(ctx context.Context, i int) error { return s.Sink(nil)(ctx, recOf(i)) })
		require.NoError(t, err)
		for i, dd := range ds {
			require.NoError(t, dd.Err)
			assert.NotEqual(t, digelao.ClaimInProgress, dd.State, keys[i])
		}
		assert.Len(t, rows(t, s, db), nkeys)
	})
}

// TestSinkFuncEndsTheTransactionMoreWays: more ways for a func to end the transaction than
// TestSinkFuncThatEndsTheTransaction's, on a page larger than one statement of keys (SQLite:
// 100), mixing Sink(nil) before and after the func, ending it on the first key or the last, the
// func returning nil or an error after. No key is left marked done without its row, nor in
// progress for ever.
func TestSinkFuncEndsTheTransactionMoreWays(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		stmts := [][]string{{"COMMIT AND CHAIN"}, {"ROLLBACK AND CHAIN"}, {"COMMIT", "BEGIN"}, {"ROLLBACK", "BEGIN"},
			{"START TRANSACTION"}, {"END"}}
		for j, ss := range stmts {
			fnErr := j%2 == 1
			for _, where := range []string{"first", "last"} {
				t.Run(fmt.Sprintf("%s/%s/err=%v", strings.Join(ss, ";"), where, fnErr), func(t *testing.T) {
					const ttl = 150 * time.Millisecond
					s, db := sqltest.Store(t, d, sqlstore.WithClaimTTL(ttl))
					const n = 130
					keys := make([]string, n)
					recs := make([]*digelao.CallRecord, n)
					for i := range n {
						keys[i] = fmt.Sprintf("k%03d", i)
						recs[i] = sample(fmt.Sprintf("sn-%03d", i), "1")
					}
					at := map[string]int{"first": 0, "last": n - 1}[where]
					var endErr error
					_, _ = s.Deliver(t.Context(), account, keys, func(ctx context.Context, i int) error {
						if i%3 != 0 && i != at {
							return s.Sink(nil)(ctx, recs[i])
						}
						return s.Sink(func(ctx context.Context, tx *sql.Tx, r *digelao.CallRecord) error {
							if i != at {
								return nil
							}
							for _, q := range ss {
								if _, err := tx.ExecContext(ctx, q); err != nil {
									endErr = err
									return err
								}
							}
							if fnErr {
								return errors.New("the func fails after ending the transaction")
							}
							return nil
						})(ctx, recs[i])
					})
					if endErr != nil {
						t.Skipf("the dialect refuses %v: %v", ss, endErr)
					}
					assertNoMarkWithoutRow(t, d, s, db, keys, recs)
					time.Sleep(2 * ttl) // the claims of a transaction committed too early lapse
					assertDeliveredInTheEnd(t, s, db, keys, recs)
				})
			}
		}
	})
}

// TestDeliverTakesOverEachKindOfMark: Deliver (with and without a func, and on MariaDB with and
// without SIMULTANEOUS_ASSIGNMENT) takes a key not marked and a lapsed claim, waits out nothing,
// reports a live claim of another token in progress and a done mark done, and leaves those two
// as they were.
func TestDeliverTakesOverEachKindOfMark(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		modes := []string{""}
		if d == sqlstore.MySQL {
			modes = append(modes, "sql_mode=%27STRICT_TRANS_TABLES,SIMULTANEOUS_ASSIGNMENT%27")
		}
		for _, mode := range modes {
			for _, withFn := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/fn=%v", mode, withFn), func(t *testing.T) {
					dsn := sqltest.DSN(t, d)
					if mode != "" {
						dsn += "?" + mode
					}
					db := sqltest.Open(t, d, dsn)
					if mode != "" {
						var m string
						require.NoError(t, db.QueryRowContext(t.Context(), "SELECT @@SESSION.sql_mode").Scan(&m))
						require.Contains(t, m, "SIMULTANEOUS_ASSIGNMENT")
					}
					prefix := sqltest.Prefix(t, d, db)
					long, err := sqlstore.New(db, d, sqlstore.WithTablePrefix(prefix), sqlstore.WithClaimTTL(time.Hour))
					require.NoError(t, err)
					require.NoError(t, long.Migrate(t.Context()))
					short, err := sqlstore.New(db, d, sqlstore.WithTablePrefix(prefix), sqlstore.WithClaimTTL(time.Millisecond))
					require.NoError(t, err)
					ctx := t.Context()
					st, err := short.Claim(ctx, "lapsed", "old-holder")
					require.NoError(t, err)
					require.Equal(t, digelao.ClaimNew, st)
					st, err = long.Claim(ctx, "live", "live-holder")
					require.NoError(t, err)
					require.Equal(t, digelao.ClaimNew, st)
					require.NoError(t, long.Complete(ctx, "done", "completer"))
					time.Sleep(20 * time.Millisecond)
					snap := func(k string) (tok string, exp, done sql.NullString) {
						as := map[sqlstore.Dialect]string{sqlstore.Postgres: "text", sqlstore.MySQL: "CHAR", sqlstore.SQLite: "TEXT"}[d]
						q := "SELECT token, CAST(expires_at AS " + as + "), CAST(done_at AS " + as + ") FROM " + prefix + "marks WHERE dedup_key = " + ph(d, 1)
						require.NoError(t, db.QueryRowContext(ctx, q, k).Scan(&tok, &exp, &done))
						return
					}
					liveTok, liveExp, liveDone := snap("live")
					doneTok, doneExp, doneDone := snap("done")
					keys := []string{"new", "lapsed", "live", "done"}
					sink := long.Sink(nil)
					if withFn {
						sink = long.Sink(func(context.Context, *sql.Tx, *digelao.CallRecord) error { return nil })
					}
					ds, err := long.Deliver(ctx, account, keys, func(ctx context.Context, i int) error {
						return sink(ctx, sample("sn-"+keys[i], "1"))
					})
					require.NoError(t, err)
					assert.Equal(t, []digelao.Delivery{{State: digelao.ClaimNew}, {State: digelao.ClaimNew},
						{State: digelao.ClaimInProgress}, {State: digelao.ClaimDone}}, ds)
					for _, k := range []string{"new", "lapsed"} {
						tok, exp, done := snap(k)
						assert.NotEqual(t, "old-holder", tok)
						assert.False(t, exp.Valid, "%s: a done mark has no expiry", k)
						assert.True(t, done.Valid, "%s is marked done", k)
					}
					tok, exp, done := snap("live")
					assert.Equal(t, []any{liveTok, liveExp, liveDone}, []any{tok, exp, done}, "the live claim is left as it was")
					tok, exp, done = snap("done")
					assert.Equal(t, []any{doneTok, doneExp, doneDone}, []any{tok, exp, done}, "the done mark is left as it was")
					// The live holder still holds its claim, and the old holder none.
					ok, err := long.Renew(ctx, "live", "live-holder")
					require.NoError(t, err)
					assert.True(t, ok)
					ok, err = long.Renew(ctx, "lapsed", "old-holder")
					require.NoError(t, err)
					assert.False(t, ok)
				})
			}
		}
	})
}
