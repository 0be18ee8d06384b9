package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/digelao-go/digelao"
)

// Dialect is the SQL spoken by the database behind a Store's *sql.DB.
type Dialect int

// The dialects a Store speaks.
const (
	Postgres Dialect = iota + 1 // PostgreSQL 12 or later (pgx's stdlib, lib/pq)
	MySQL                       // MySQL 8.0 or later, MariaDB 10.5 or later (go-sql-driver/mysql)
	SQLite                      // SQLite 3.37 or later (modernc.org/sqlite, mattn/go-sqlite3)
)

func (d Dialect) String() string {
	switch d {
	case Postgres:
		return "PostgreSQL"
	case MySQL:
		return "MySQL"
	case SQLite:
		return "SQLite"
	}
	return fmt.Sprintf("Dialect(%d)", int(d))
}

// Defaults of the options.
const (
	DefaultTablePrefix = "digelao_"
	DefaultClaimTTL    = 5 * time.Minute // how long a Claim lives without Renew
)

// ErrNewerSchema is the cause of Migrate's error when the database holds a schema version newer
// than this code knows: the code is older than the schema, and downgrading is refused.
var ErrNewerSchema = errors.New("sqlstore: the database's schema is newer than this code")

var (
	_ digelao.CommitStore = (*Store)(nil)
	_ digelao.DedupStore  = (*Store)(nil)
)

// Store is a digelao.CommitStore on a database: RecordSync's marks, checkpoint, lease, bookkeeping
// and quarantine, and — through Sink — the call records themselves, all in the tables Migrate
// creates. It is safe for concurrent use, and several processes may share one database. See the
// package documentation.
type Store struct {
	db  *sql.DB
	d   Dialect
	cfg config
	q   queries

	// writer serializes the writes of this process on SQLite, which takes one writer at a time:
	// a write waits here instead of failing with SQLITE_BUSY. nil for the other dialects.
	writer chan struct{}

	mu    sync.Mutex
	multi map[multiKey]string // the statements of many rows, by kind and number of rows
}

type config struct {
	prefix   string
	claimTTL time.Duration
	now      func() time.Time // SQLite's clock; nil elsewhere
}

// Option configures a Store. New reports the first invalid one.
type Option func(*config) error

// WithTablePrefix sets the prefix of every table the Store creates and uses: lower-case letters,
// digits and underscores, starting with a letter, at most 32 characters. Default
// DefaultTablePrefix, which names the records' table digelao_call_records. Stores with different
// prefixes share a database without seeing each other.
func WithTablePrefix(prefix string) Option {
	return func(c *config) error {
		if !prefixRE.MatchString(prefix) {
			return fmt.Errorf("sqlstore: WithTablePrefix: %q is not lower-case letters, digits and underscores starting with a letter, at most 32", prefix)
		}
		c.prefix = prefix
		return nil
	}
}

var prefixRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// WithClaimTTL sets how long a Claim (digelao.DedupStore, as PushHandler.Dedup uses it) lives
// without Renew: how long a crashed handler's claim holds its redeliveries back. Deliver's
// claims live in its transaction, and the TTL matters for them only when a Sink's func ended that
// transaction too early (see Sink). Default DefaultClaimTTL; at least a millisecond.
func WithClaimTTL(d time.Duration) Option {
	return func(c *config) error {
		if d < time.Millisecond {
			return fmt.Errorf("sqlstore: WithClaimTTL: must be at least 1ms, got %s", d)
		}
		c.claimTTL = d
		return nil
	}
}

// WithClock sets the clock by which a Store on SQLite keeps the expiries of its claims and leases
// (default time.Now): a simulation's, in tests. PostgreSQL and MySQL keep them by the database's
// own clock, so that replicas whose clocks disagree agree on them: New refuses WithClock for them.
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return errors.New("sqlstore: WithClock: nil func")
		}
		c.now = now
		return nil
	}
}

// New returns a Store on db, which speaks d. The Store does not close db, and sends nothing to it
// until it is used: call Migrate before anything else.
//
// On SQLite, give db a DSN that waits for the database's lock instead of failing at once when
// another process writes, and that uses WAL, so that reads do not wait for writes: with
// modernc.org/sqlite, "file:digelao.db?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)".
// Within one process, the Store's writes take turns by themselves.
func New(db *sql.DB, d Dialect, opts ...Option) (*Store, error) {
	if db == nil {
		return nil, errors.New("sqlstore: New: nil *sql.DB")
	}
	if d != Postgres && d != MySQL && d != SQLite {
		return nil, fmt.Errorf("sqlstore: New: unknown dialect %d: use sqlstore.Postgres, MySQL or SQLite", int(d))
	}
	cfg := config{prefix: DefaultTablePrefix, claimTTL: DefaultClaimTTL}
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("sqlstore: New: nil Option")
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	switch {
	case cfg.now != nil && d != SQLite:
		return nil, errors.New("sqlstore: New: WithClock is for SQLite: PostgreSQL and MySQL keep expiries by the database's clock")
	case cfg.now == nil && d == SQLite:
		cfg.now = time.Now
	}
	s := &Store{db: db, d: d, cfg: cfg, q: newQueries(d, cfg.prefix), multi: map[multiKey]string{}}
	if d == SQLite {
		s.writer = make(chan struct{}, 1)
	}
	return s, nil
}

// Dialect returns the dialect the Store speaks.
func (s *Store) Dialect() Dialect { return s.d }

// RecordsTable returns the name of the table Sink keeps the call records in: the table prefix and
// "call_records", digelao_call_records by default.
func (s *Store) RecordsTable() string { return s.cfg.prefix + "call_records" }

// write waits for this process's turn to write, on SQLite, and returns what ends it.
func (s *Store) write(ctx context.Context) (done func(), err error) {
	if s.writer == nil {
		return func() {}, nil
	}
	select {
	case s.writer <- struct{}{}:
		return func() { <-s.writer }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// exec runs one write outside a transaction, in its turn on SQLite.
func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	done, err := s.write(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	return s.db.ExecContext(ctx, query, args...)
}

// maxText is the longest name, key, token or owner a Store keeps, in bytes.
const maxText = 255

// checkText reports a name, key, token, owner or account that no dialect keeps as it is: empty,
// longer than maxText bytes, not UTF-8, or holding a NUL byte.
func checkText(op, what, v string) error {
	switch {
	case v == "":
		return fmt.Errorf("sqlstore: %s: empty %s", op, what)
	case len(v) > maxText:
		return fmt.Errorf("sqlstore: %s: %s of %d bytes, more than %d", op, what, len(v), maxText)
	case !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0:
		return fmt.Errorf("sqlstore: %s: %s %q is not UTF-8 text without NUL", op, what, v)
	}
	return nil
}

func wrap(op string, err error) error { return fmt.Errorf("sqlstore: %s: %w", op, err) }
