package sqlstore_test

import (
	"context"
	"database/sql"
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

func TestNewRefusesBadInput(t *testing.T) {
	t.Parallel()
	db, err := sql.Open("sqlite", "file::memory:")
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	for name, f := range map[string]func() error{
		"nil db":  func() error { _, err := sqlstore.New(nil, sqlstore.SQLite); return err },
		"dialect": func() error { _, err := sqlstore.New(db, sqlstore.Dialect(9)); return err },
		"nil opt": func() error { _, err := sqlstore.New(db, sqlstore.SQLite, nil); return err },
		"prefix": func() error {
			_, err := sqlstore.New(db, sqlstore.SQLite, sqlstore.WithTablePrefix("x; DROP TABLE y"))
			return err
		},
		"upper": func() error {
			_, err := sqlstore.New(db, sqlstore.SQLite, sqlstore.WithTablePrefix("Digelao_"))
			return err
		},
		"too long": func() error {
			_, err := sqlstore.New(db, sqlstore.SQLite, sqlstore.WithTablePrefix(strings.Repeat("a", 33)))
			return err
		},
		"ttl": func() error { _, err := sqlstore.New(db, sqlstore.SQLite, sqlstore.WithClaimTTL(0)); return err },
	} {
		err := f()
		require.Error(t, err, name)
		assert.True(t, strings.HasPrefix(err.Error(), "sqlstore: "), name)
	}
}

// TestBadInputIsRefusedBeforeTheDatabase: every key, name, token, owner and account is checked
// before anything is sent (the database here is closed: any statement would fail otherwise).
func TestBadInputIsRefusedBeforeTheDatabase(t *testing.T) {
	t.Parallel()
	db, err := sql.Open("sqlite", "file::memory:")
	require.NoError(t, err)
	require.NoError(t, db.Close())
	s, err := sqlstore.New(db, sqlstore.SQLite)
	require.NoError(t, err)
	ctx := t.Context()
	long := strings.Repeat("k", 256)
	deliver := func(context.Context, int) error { return nil }
	for name, f := range map[string]func() error{
		"claim empty key":    func() error { _, err := s.Claim(ctx, "", "t"); return err },
		"claim empty token":  func() error { _, err := s.Claim(ctx, "k", ""); return err },
		"claim long key":     func() error { _, err := s.Claim(ctx, long, "t"); return err },
		"claim NUL":          func() error { _, err := s.Claim(ctx, "k\x00", "t"); return err },
		"renew not UTF-8":    func() error { _, err := s.Renew(ctx, "k\xff", "t"); return err },
		"complete":           func() error { return s.Complete(ctx, "", "t") },
		"release":            func() error { return s.Release(ctx, "k", "") },
		"lease owner":        func() error { _, err := s.Lease(ctx, "n", "", time.Second); return err },
		"lease ttl":          func() error { _, err := s.Lease(ctx, "n", "o", 0); return err },
		"unlease":            func() error { return s.Unlease(ctx, "", "o") },
		"checkpoint":         func() error { _, err := s.Checkpoint(ctx, ""); return err },
		"set checkpoint":     func() error { return s.SetCheckpoint(ctx, long, time.Now()) },
		"sync state":         func() error { _, err := s.SyncState(ctx, ""); return err },
		"set sync state":     func() error { return s.SetSyncState(ctx, "", nil) },
		"quarantine key":     func() error { return s.Quarantine(ctx, "n", digelao.QuarantinedRecord{}) },
		"quarantined":        func() error { _, err := s.Quarantined(ctx, ""); return err },
		"unquarantine":       func() error { return s.Unquarantine(ctx, "n", "") },
		"deliver account":    func() error { _, err := s.Deliver(ctx, "", []string{"k"}, deliver); return err },
		"deliver key":        func() error { _, err := s.Deliver(ctx, "a", []string{"k", ""}, deliver); return err },
		"deliver nil func":   func() error { _, err := s.Deliver(ctx, "a", []string{"k"}, nil); return err },
		"deliver long acct":  func() error { _, err := s.Deliver(ctx, long, []string{"k"}, deliver); return err },
		"deliver bad key":    func() error { _, err := s.Deliver(ctx, "a", []string{"k\x00"}, deliver); return err },
		"claim before a key": func() error { _, err := s.Claim(ctx, "k", "t\xfe"); return err },
	} {
		err := f()
		require.Error(t, err, name)
		assert.NotContains(t, err.Error(), "database is closed", "%s: refused before anything was sent", name)
		assert.True(t, strings.HasPrefix(err.Error(), "sqlstore: "), "%s: %v", name, err)
	}
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		ctx := t.Context()
		db := sqltest.Open(t, d, sqltest.DSN(t, d))
		prefix := sqltest.Prefix(t, d, db)
		s, err := sqlstore.New(db, d, sqlstore.WithTablePrefix(prefix))
		require.NoError(t, err)
		_, err = s.Checkpoint(ctx, "n")
		require.Error(t, err, "before Migrate there are no tables")

		// Several replicas migrate at once: they take turns, and all succeed.
		var wg sync.WaitGroup
		for range 6 {
			wg.Go(func() {
				other, err := sqlstore.New(db, d, sqlstore.WithTablePrefix(prefix))
				if assert.NoError(t, err) {
					assert.NoError(t, other.Migrate(ctx))
				}
			})
		}
		wg.Wait()
		require.NoError(t, s.Migrate(ctx), "idempotent")
		var versions, top int
		require.NoError(t, db.QueryRowContext(ctx, "SELECT COUNT(*), MAX(version) FROM "+prefix+"schema").Scan(&versions, &top))
		assert.Equal(t, sqlstore.SchemaVersion, versions, "each version applied once")
		assert.Equal(t, sqlstore.SchemaVersion, top)
		_, err = s.Checkpoint(ctx, "n")
		require.NoError(t, err)

		// A newer schema, from a newer version of this code: refused, never downgraded.
		insert := "INSERT INTO " + prefix + "schema (version, applied_at) VALUES (99, 'later')"
		_, err = db.ExecContext(ctx, insert)
		require.NoError(t, err)
		err = s.Migrate(ctx)
		require.ErrorIs(t, err, sqlstore.ErrNewerSchema)
		assert.Contains(t, err.Error(), "schema version 99")
		assert.Contains(t, err.Error(), "version 1 at most")
		assert.Contains(t, err.Error(), prefix+"schema")
	})
}

// TestMigrateWaitsForTheLock: while another replica holds the lock, Migrate waits; one cut short
// by its context leaves nothing behind, and the next succeeds once the lock is free.
func TestMigrateWaitsForTheLock(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		ctx := t.Context()
		// SQLite's busy timeout does not end with the context: keep it short here.
		db := sqltest.Open(t, d, strings.Replace(sqltest.DSN(t, d), "busy_timeout(10000)", "busy_timeout(500)", 1))
		prefix := sqltest.Prefix(t, d, db)
		s, err := sqlstore.New(db, d, sqlstore.WithTablePrefix(prefix))
		require.NoError(t, err)
		other, err := db.Conn(ctx)
		require.NoError(t, err)
		defer func() { _ = other.Close() }()
		stmts := map[sqlstore.Dialect][2]string{
			sqlstore.Postgres: {"SELECT pg_advisory_lock($1)", "SELECT pg_advisory_unlock($1)"},
			sqlstore.MySQL:    {"SELECT GET_LOCK(?, 5)", "SELECT RELEASE_LOCK(?)"},
			sqlstore.SQLite:   {"BEGIN IMMEDIATE", "ROLLBACK"},
		}[d]
		lock, unlock := stmts[0], stmts[1]
		var args []any
		switch d {
		case sqlstore.Postgres:
			args = []any{sqlstore.MigrateLock(prefix)}
		case sqlstore.MySQL:
			args = []any{sqlstore.MigrateLockName(prefix)}
		}
		_, err = other.ExecContext(ctx, lock, args...)
		require.NoError(t, err)
		short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		require.Error(t, s.Migrate(short), "the lock is held elsewhere")
		assert.GreaterOrEqual(t, time.Since(start), 250*time.Millisecond, "Migrate waited for the lock")
		_, err = other.ExecContext(ctx, unlock, args...)
		require.NoError(t, err)
		require.NoError(t, s.Migrate(ctx))
		_, err = s.Checkpoint(ctx, "n")
		require.NoError(t, err)
	})
}

func TestCheckpointThatIsNoTime(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		s, db := sqltest.Store(t, d)
		ctx := t.Context()
		require.NoError(t, s.SetCheckpoint(ctx, "sync:x", time.Now()))
		syncs := strings.TrimSuffix(s.RecordsTable(), "call_records") + "syncs"
		_, err := db.ExecContext(ctx, "UPDATE "+syncs+" SET checkpoint_at = 'yesterday'")
		require.NoError(t, err)
		_, err = s.Checkpoint(ctx, "sync:x")
		require.Error(t, err, "a checkpoint that is no time fails: reading it as none would skip records")
		assert.Contains(t, err.Error(), syncs+".checkpoint_at")
		assert.Contains(t, err.Error(), `"yesterday"`)
		require.NoError(t, s.SetCheckpoint(ctx, "sync:x", time.Time{}), "the zero time clears it")
		got, err := s.Checkpoint(ctx, "sync:x")
		require.NoError(t, err)
		assert.True(t, got.IsZero())
	})
}

// TestExpiriesOnTheDatabaseClock: claims and leases expire the TTL after the database's now, in
// the database's units (a unit wrong by 1000 would be caught here, not only by a claim that lasts
// a thousandth of its TTL).
func TestExpiriesOnTheDatabaseClock(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		const ttl = 90 * time.Minute
		s, db := sqltest.Store(t, d, sqlstore.WithClaimTTL(ttl))
		ctx := t.Context()
		p := strings.TrimSuffix(s.RecordsTable(), "call_records")
		_, err := s.Claim(ctx, "k", "t")
		require.NoError(t, err)
		ok, err := s.Lease(ctx, "n", "o", ttl)
		require.NoError(t, err)
		require.True(t, ok)
		left := map[sqlstore.Dialect]string{
			sqlstore.Postgres: "SELECT EXTRACT(EPOCH FROM expires_at - now()) * 1000 FROM %s",
			sqlstore.MySQL:    "SELECT TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(6), expires_at) / 1000 FROM %s",
			sqlstore.SQLite:   "SELECT expires_at - CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM %s",
		}[d]
		for _, table := range []string{p + "marks", p + "leases"} {
			var ms float64
			require.NoError(t, db.QueryRowContext(ctx, strings.Replace(left, "%s", table, 1)).Scan(&ms))
			assert.InDelta(t, ttl.Milliseconds(), ms, float64(time.Minute.Milliseconds()), "%s: the expiry is the TTL from the database's now", table)
		}
	})
}

// TestQuarantineKeepsTheRecordsBytes: the record of a quarantined record comes back byte for byte —
// a < is not rewritten as \u003c, a byte that is not UTF-8 stays.
func TestQuarantineKeepsTheRecordsBytes(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		s, _ := sqltest.Store(t, d)
		rec := []byte("{\"id\":7,\"sn\":\"a<b&c>\xff\",\"mark\":\"\u2028\"}")
		q := digelao.QuarantinedRecord{Key: "sync:x:record:1", SN: "a<b&c>\xff", Record: rec, Err: "refused", Tries: 5, At: time.Now()}
		require.NoError(t, s.Quarantine(t.Context(), "sync:x", q))
		qs, err := s.Quarantined(t.Context(), "sync:x")
		require.NoError(t, err)
		require.Len(t, qs, 1)
		assert.Equal(t, string(rec), string(qs[0].Record))
	})
}

// TestWithClockOnSQLite: a Store on SQLite keeps the expiries of its leases and claims by its
// clock, a simulation's in tests; the other dialects keep them by the database's and refuse one.
func TestWithClockOnSQLite(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	s, _ := sqltest.Store(t, sqlstore.SQLite, sqlstore.WithClock(func() time.Time { return now }),
		sqlstore.WithClaimTTL(5*time.Minute))
	ctx := t.Context()
	ok, err := s.Lease(ctx, "n", "a", time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = s.Lease(ctx, "n", "b", time.Minute)
	require.NoError(t, err)
	assert.False(t, ok, "a holds it")
	st, err := s.Claim(ctx, "k", "t1")
	require.NoError(t, err)
	require.Equal(t, digelao.ClaimNew, st)

	now = now.Add(2 * time.Minute) // a's lease lapsed by the clock, not by the host's time
	ok, err = s.Lease(ctx, "n", "b", time.Minute)
	require.NoError(t, err)
	assert.True(t, ok)
	st, err = s.Claim(ctx, "k", "t2")
	require.NoError(t, err)
	assert.Equal(t, digelao.ClaimInProgress, st, "the claim lives five minutes")
	now = now.Add(4 * time.Minute)
	st, err = s.Claim(ctx, "k", "t3")
	require.NoError(t, err)
	assert.Equal(t, digelao.ClaimNew, st, "it lapsed")

	for d, dsn := range map[sqlstore.Dialect]string{sqlstore.Postgres: "postgres://127.0.0.1:1/none", sqlstore.MySQL: "root@tcp(127.0.0.1:1)/none"} {
		db, err := sql.Open(sqltest.Driver(d), dsn) // New sends nothing: nothing needs to listen
		require.NoError(t, err)
		_, err = sqlstore.New(db, d, sqlstore.WithClock(time.Now))
		assert.ErrorContains(t, err, "WithClock is for SQLite", "%s", d)
		_ = db.Close()
	}
}
