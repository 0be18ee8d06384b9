package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"
)

// migrations returns the schema's versions for d, oldest first: version i+1 is the statements
// migrations(d, p)[i], with p the table prefix. A version is never changed once released; a change
// of schema is a new version at the end. Each statement may run again after a crash in the middle
// of its version on MySQL, whose DDL commits by itself (IF NOT EXISTS).
func migrations(d Dialect, p string) [][]string {
	switch d {
	case Postgres:
		return [][]string{{
			`CREATE TABLE IF NOT EXISTS ` + p + `marks (
				dedup_key text PRIMARY KEY,
				token text NOT NULL,
				expires_at timestamptz,
				done_at timestamptz)`,
			`CREATE TABLE IF NOT EXISTS ` + p + `leases (
				name text PRIMARY KEY,
				owner text NOT NULL,
				expires_at timestamptz NOT NULL)`,
			`CREATE TABLE IF NOT EXISTS ` + p + `syncs (
				name text PRIMARY KEY,
				checkpoint_at text,
				state bytea)`,
			`CREATE TABLE IF NOT EXISTS ` + p + `quarantine (
				name text NOT NULL,
				record_key text NOT NULL,
				entry bytea NOT NULL,
				PRIMARY KEY (name, record_key))`,
			`CREATE TABLE IF NOT EXISTS ` + p + `call_records (
				account text NOT NULL,
				sn text NOT NULL,
				id bigint,
				task text,
				phone text,
				intention text,
				status_manual text,
				duration integer,
				created_at timestamptz,
				connected_at timestamptz,
				disconnected_at timestamptz,
				record json NOT NULL,
				PRIMARY KEY (account, sn))`,
			`CREATE INDEX IF NOT EXISTS ` + p + `call_records_created ON ` + p + `call_records (account, created_at)`,
		}}
	case MySQL:
		// Keys, names and sns are VARBINARY: compared byte for byte, whatever the collation, with
		// no trailing space ignored.
		return [][]string{{
			`CREATE TABLE IF NOT EXISTS ` + p + `marks (
				dedup_key VARBINARY(255) NOT NULL PRIMARY KEY,
				token VARBINARY(255) NOT NULL,
				expires_at DATETIME(6) NULL,
				done_at DATETIME(6) NULL) ENGINE=InnoDB`,
			`CREATE TABLE IF NOT EXISTS ` + p + `leases (
				name VARBINARY(255) NOT NULL PRIMARY KEY,
				owner VARBINARY(255) NOT NULL,
				expires_at DATETIME(6) NOT NULL) ENGINE=InnoDB`,
			`CREATE TABLE IF NOT EXISTS ` + p + `syncs (
				name VARBINARY(255) NOT NULL PRIMARY KEY,
				checkpoint_at VARCHAR(64) CHARACTER SET ascii NULL,
				state LONGBLOB NULL) ENGINE=InnoDB`,
			`CREATE TABLE IF NOT EXISTS ` + p + `quarantine (
				name VARBINARY(255) NOT NULL,
				record_key VARBINARY(255) NOT NULL,
				entry LONGBLOB NOT NULL,
				PRIMARY KEY (name, record_key)) ENGINE=InnoDB`,
			`CREATE TABLE IF NOT EXISTS ` + p + `call_records (
				account VARBINARY(255) NOT NULL,
				sn VARBINARY(255) NOT NULL,
				id BIGINT NULL,
				task VARCHAR(255) NULL,
				phone VARCHAR(64) NULL,
				intention VARCHAR(64) NULL,
				status_manual VARCHAR(64) NULL,
				duration INT NULL,
				created_at DATETIME NULL,
				connected_at DATETIME NULL,
				disconnected_at DATETIME NULL,
				record JSON NOT NULL,
				PRIMARY KEY (account, sn),
				KEY ` + p + `call_records_created (account, created_at)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
		}}
	}
	return [][]string{{
		`CREATE TABLE IF NOT EXISTS ` + p + `marks (
			dedup_key TEXT PRIMARY KEY,
			token TEXT NOT NULL,
			expires_at INTEGER,
			done_at INTEGER) STRICT`,
		`CREATE TABLE IF NOT EXISTS ` + p + `leases (
			name TEXT PRIMARY KEY,
			owner TEXT NOT NULL,
			expires_at INTEGER NOT NULL) STRICT`,
		`CREATE TABLE IF NOT EXISTS ` + p + `syncs (
			name TEXT PRIMARY KEY,
			checkpoint_at TEXT,
			state BLOB) STRICT`,
		`CREATE TABLE IF NOT EXISTS ` + p + `quarantine (
			name TEXT NOT NULL,
			record_key TEXT NOT NULL,
			entry BLOB NOT NULL,
			PRIMARY KEY (name, record_key)) STRICT`,
		`CREATE TABLE IF NOT EXISTS ` + p + `call_records (
			account TEXT NOT NULL,
			sn TEXT NOT NULL,
			id INTEGER,
			task TEXT,
			phone TEXT,
			intention TEXT,
			status_manual TEXT,
			duration INTEGER,
			created_at TEXT,
			connected_at TEXT,
			disconnected_at TEXT,
			record TEXT NOT NULL,
			PRIMARY KEY (account, sn)) STRICT`,
		`CREATE INDEX IF NOT EXISTS ` + p + `call_records_created ON ` + p + `call_records (account, created_at)`,
	}}
}

// SchemaVersion is the newest schema version this code knows: what Migrate brings a database to.
const SchemaVersion = 1

// execer is a connection or a transaction.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Migrate creates the Store's tables, or brings them to SchemaVersion, applying each version not
// applied yet in order and recording it in the table <prefix>schema. It is idempotent, and safe
// when several processes migrate the same database at once: they take turns, by an advisory lock
// on PostgreSQL (pg_advisory_xact_lock), a named lock on MySQL (GET_LOCK) and the write lock on
// SQLite (BEGIN IMMEDIATE). The versions are applied in one transaction on PostgreSQL and SQLite,
// so that a failure leaves the schema as it was; MySQL commits each DDL statement by itself, and a
// version cut short is completed by the next Migrate. A database whose schema is newer than
// SchemaVersion is refused with ErrNewerSchema: this code is older than the schema, and the
// schema is never downgraded. A table of the Store's names that exists while the schema table
// records no version — a table Migrate did not make — is refused with an error naming it. On
// MySQL, Migrate refuses a connection whose character set is not utf8mb4 (give the DSN
// charset=utf8mb4), which would mangle or refuse 4-byte UTF-8.
func (s *Store) Migrate(ctx context.Context) error {
	done, err := s.write(ctx)
	if err != nil {
		return wrap("migrate", err)
	}
	defer done()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return wrap("migrate", err)
	}
	defer func() { _ = conn.Close() }()
	var ex execer = conn
	var finish func(ok bool) error
	switch s.d {
	case Postgres:
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return wrap("migrate", err)
		}
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", migrateLock(s.cfg.prefix)); err != nil {
			_ = tx.Rollback()
			return wrap("migrate: lock", err)
		}
		ex, finish = tx, func(ok bool) error {
			if ok {
				return tx.Commit()
			}
			return tx.Rollback()
		}
	case MySQL:
		if err := utf8mb4(ctx, conn); err != nil {
			return err
		}
		name := migrateLockName(s.cfg.prefix)
		var got sql.NullInt64
		if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, ?)", name, 60).Scan(&got); err != nil {
			return wrap("migrate: lock", err)
		}
		if got.Int64 != 1 {
			return wrap("migrate", fmt.Errorf("another process held the lock %q for a minute", name))
		}
		finish = func(bool) error {
			_, err := conn.ExecContext(context.WithoutCancel(ctx), "DO RELEASE_LOCK(?)", name)
			return err
		}
	case SQLite:
		if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			return wrap("migrate: lock", err)
		}
		finish = func(ok bool) error {
			stmt := "ROLLBACK"
			if ok {
				stmt = "COMMIT"
			}
			_, err := conn.ExecContext(context.WithoutCancel(ctx), stmt)
			return err
		}
	}
	err = s.migrate(ctx, ex)
	if ferr := finish(err == nil); ferr != nil {
		// The lock or the transaction may outlive this call on a pooled connection: close it.
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		if err == nil {
			err = wrap("migrate", ferr)
		}
	}
	return err
}

// utf8mb4 refuses a MySQL connection whose character set is not utf8mb4: it would mangle or refuse
// 4-byte UTF-8 (an emoji, a rare Chinese character).
func utf8mb4(ctx context.Context, conn *sql.Conn) error {
	var client, connection, results sql.NullString
	err := conn.QueryRowContext(ctx, "SELECT @@character_set_client, @@character_set_connection, @@character_set_results").
		Scan(&client, &connection, &results)
	if err != nil {
		return wrap("migrate", err)
	}
	for _, cs := range []sql.NullString{client, connection, results} {
		if cs.String != "utf8mb4" {
			return wrap("migrate", fmt.Errorf("the connection's character set is %s (client %s, connection %s, results %s), "+
				"not utf8mb4, and would mangle or refuse 4-byte UTF-8: add charset=utf8mb4 or "+
				"collation=utf8mb4_unicode_ci to the DSN (go-sql-driver/mysql)",
				cs.String, client.String, connection.String, results.String))
		}
	}
	return nil
}

// migrateLock is the key of PostgreSQL's advisory lock of Migrate, and migrateLockName the name of
// MySQL's: the prefix's, so that stores under other prefixes migrate without waiting.
func migrateLock(prefix string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("digelao sqlstore migrate " + prefix))
	return int64(h.Sum64()) //nolint:gosec // a lock key: any 64 bits, wrapping is fine
}

func migrateLockName(prefix string) string { return "digelao_sqlstore_migrate:" + prefix }

// migrate applies the versions the schema table does not list, on ex, which holds the lock.
func (s *Store) migrate(ctx context.Context, ex execer) error {
	table := s.cfg.prefix + "schema"
	create := "CREATE TABLE IF NOT EXISTS " + table + " (version INTEGER NOT NULL PRIMARY KEY, applied_at VARCHAR(64) NOT NULL)"
	if _, err := ex.ExecContext(ctx, create); err != nil {
		return wrap("migrate", err)
	}
	// A version is recorded pending before its statements, and applied after them: a version cut
	// short on MySQL is pending, and its tables are the Store's own.
	var have, rows int
	err := ex.QueryRowContext(ctx, "SELECT COALESCE(MAX(CASE WHEN applied_at <> '"+pending+"' THEN version END), 0), COUNT(*) FROM "+table).
		Scan(&have, &rows)
	if err != nil {
		return wrap("migrate", err)
	}
	if rows == 0 {
		if err := s.foreign(ctx, ex); err != nil {
			return err
		}
	}
	versions := migrations(s.d, s.cfg.prefix)
	if have > len(versions) {
		return fmt.Errorf("%w: the database is at schema version %d (table %s), this code knows version %d at most: "+
			"run a newer version of this code", ErrNewerSchema, have, table, len(versions))
	}
	insert := bind(s.d, "INSERT INTO "+table+" (version, applied_at) VALUES (?, ?)"+upsert(s.d, "version", "applied_at"))
	for v := have + 1; v <= len(versions); v++ {
		op := fmt.Sprintf("migrate to version %d", v)
		if _, err := ex.ExecContext(ctx, insert, v, pending); err != nil {
			return wrap(op, err)
		}
		for _, stmt := range versions[v-1] {
			if _, err := ex.ExecContext(ctx, stmt); err != nil {
				return wrap(op, fmt.Errorf("%w; the statement: %s", err, firstLine(stmt)))
			}
		}
		if _, err := ex.ExecContext(ctx, insert, v, time.Now().UTC().Format(time.RFC3339)); err != nil {
			return wrap(op, err)
		}
	}
	return nil
}

// pending is the applied_at of a version whose statements are being applied.
const pending = "pending"

// foreign refuses the tables of the Store's names that exist before Migrate made any: tables the
// Store did not make, which it would take for its own.
func (s *Store) foreign(ctx context.Context, ex execer) error {
	names := []string{"marks", "leases", "syncs", "quarantine", "call_records"}
	var b strings.Builder
	switch s.d {
	case Postgres:
		b.WriteString("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_name IN (")
	case MySQL:
		b.WriteString("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name IN (")
	default:
		b.WriteString("SELECT name FROM sqlite_schema WHERE type IN ('table', 'view') AND name IN (")
	}
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("'" + s.cfg.prefix + n + "'")
	}
	b.WriteString(") ORDER BY 1")
	var found string
	err := ex.QueryRowContext(ctx, b.String()).Scan(&found)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return wrap("migrate", err)
	}
	return wrap("migrate", fmt.Errorf("the table %s exists, but %sschema records no version of it: Migrate did not make it, "+
		"and will not take it for its own; rename or drop it, or give the Store another prefix (WithTablePrefix)",
		found, s.cfg.prefix))
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}
