// Package sqltest opens the databases the tests of sqlstore run against: PostgreSQL and MySQL (or
// MariaDB) at the DSNs of the environment variables EnvPostgres and EnvMySQL, and SQLite in a new
// file of the test's own. Tests keep apart by a table prefix of their own (Prefix), whose tables
// are dropped when the test ends.
//
// Without a DSN, tests of that database are skipped with a line that says how to run them —
// except when the environment variable CI is "true", where they fail: CI must never skip them
// silently. SQLite always runs (modernc.org/sqlite: pure Go, no cgo).
package sqltest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql" // registers "mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	_ "modernc.org/sqlite"             // registers "sqlite"

	"github.com/digelao-go/digelao/sqlstore"
)

// The environment variables that carry the test databases' DSNs, and what the project's machines
// and .ci/run give them.
const (
	EnvPostgres     = "DIGELAO_TEST_POSTGRES"
	EnvMySQL        = "DIGELAO_TEST_MYSQL"
	ExamplePostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	ExampleMySQL    = "root@tcp(127.0.0.1:3306)/test"
)

// Dialects are the dialects every test of a Store runs on, SQLite first.
func Dialects() []sqlstore.Dialect {
	return []sqlstore.Dialect{sqlstore.SQLite, sqlstore.Postgres, sqlstore.MySQL}
}

// Driver returns the database/sql driver name of the tests' driver for d.
func Driver(d sqlstore.Dialect) string {
	switch d {
	case sqlstore.Postgres:
		return "pgx"
	case sqlstore.MySQL:
		return "mysql"
	}
	return "sqlite"
}

// DSN returns the DSN of the test database of d: the environment's for PostgreSQL and MySQL —
// skipping t without one (failing it when CI=true) — and a new file in t's temporary directory for
// SQLite, in WAL mode with a busy timeout, as the Store's documentation advises.
func DSN(t testing.TB, d sqlstore.Dialect) string {
	t.Helper()
	env, example := EnvPostgres, ExamplePostgres
	switch d {
	case sqlstore.SQLite:
		return "file:" + filepath.Join(t.TempDir(), "test.db") + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"
	case sqlstore.MySQL:
		env, example = EnvMySQL, ExampleMySQL
	}
	dsn := os.Getenv(env)
	if dsn == "" {
		if strings.EqualFold(os.Getenv("CI"), "true") {
			t.Fatalf("sqltest: %s is not set; CI=true, so failing instead of skipping the %s tests", env, d)
		}
		t.Skipf("sqltest: %s is not set: to run the %s tests, `%s='%s' go test ./sqlstore` (bash .ci/run sets it)", env, d, env, example)
	}
	return dsn
}

// Open returns a *sql.DB on dsn with the driver of d, closed when t ends, after checking that the
// database answers.
func Open(t testing.TB, d sqlstore.Dialect, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(Driver(d), dsn)
	if err != nil {
		t.Fatalf("sqltest: open %s: %v", d, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	db.SetMaxOpenConns(16)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		t.Fatalf("sqltest: %s does not answer at the DSN given: %v", d, err)
	}
	return db
}

// Prefix returns a table prefix no other test uses, and drops every table under it from db when t
// ends.
func Prefix(t testing.TB, d sqlstore.Dialect, db *sql.DB) string {
	t.Helper()
	prefix := "t" + strings.ToLower(rand.Text()[:10]) + "_"
	t.Cleanup(func() {
		if err := Drop(context.Background(), d, db, prefix); err != nil {
			t.Errorf("sqltest: dropping the tables of %s: %v", prefix, err)
		}
	})
	return prefix
}

// Drop drops every table of db whose name starts with prefix.
func Drop(ctx context.Context, d sqlstore.Dialect, db *sql.DB, prefix string) error {
	list := "SELECT name FROM sqlite_schema WHERE type = 'table'"
	switch d {
	case sqlstore.Postgres:
		list = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
	case sqlstore.MySQL:
		list = "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()"
	}
	rows, err := db.QueryContext(ctx, list)
	if err != nil {
		return err
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			_ = rows.Close()
			return err
		}
		if strings.HasPrefix(name, prefix) {
			tables = append(tables, name)
		}
	}
	if err := rows.Close(); err != nil {
		return err
	}
	for _, name := range tables {
		if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+name); err != nil {
			return fmt.Errorf("drop %s: %w", name, err)
		}
	}
	return nil
}

// Store returns a migrated Store on a new database handle of d, under a prefix of t's own, with
// opts, and the handle.
func Store(t testing.TB, d sqlstore.Dialect, opts ...sqlstore.Option) (*sqlstore.Store, *sql.DB) {
	t.Helper()
	db := Open(t, d, DSN(t, d))
	s, err := sqlstore.New(db, d, append([]sqlstore.Option{sqlstore.WithTablePrefix(Prefix(t, d, db))}, opts...)...)
	if err != nil {
		t.Fatalf("sqltest: %v", err)
	}
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("sqltest: %v", err)
	}
	return s, db
}
