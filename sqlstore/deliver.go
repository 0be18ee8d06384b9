package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/digelao-go/digelao"
)

// A statement of Deliver takes at most maxKeys keys, and an upsert at most maxRows records and
// maxBytes: a page of a sweep (500 by default) in one statement, well within every dialect's limit
// on parameters (PostgreSQL's 65,535: 500 records of 12 columns are 6,000).
// On SQLite they are smaller: modernc.org/sqlite matches every parameter against every argument,
// in a time that grows with the square of their number.
const (
	maxKeys = 500
	maxRows = 500

	maxKeysSQLite = 100
	maxRowsSQLite = 50
)

// perStatement returns how many keys and records the Store puts in one statement at most.
func (s *Store) perStatement() (keys, rows int) {
	if s.d == SQLite {
		return maxKeysSQLite, maxRowsSQLite
	}
	return maxKeys, maxRows
}

// maxBytes bounds the values of one statement, in bytes: well within MySQL's max_allowed_packet
// (16 MiB by default on MariaDB), which a driver that sends the values in the statement's text
// (go-sql-driver/mysql's interpolateParams) must not exceed.
const maxBytes = 4 << 20

// pieces splits s into the pieces of the Store's statements: as many of most as fit in maxBytes
// (size gives the bytes of one; nil, none worth counting), then the rest in pieces whose lengths
// are powers of two, the longest first. A dialect so sees a few statements whatever the number of
// rows — each prepared once per connection by drivers that cache them, as pgx does — instead of
// one for every number. A piece holds one at least, whatever its size.
func pieces[T any](s []T, most int, size func(T) int) iter.Seq[[]T] {
	return func(yield func([]T) bool) {
		for len(s) > 0 {
			n, bytes := 1, 0
			if size != nil {
				bytes = size(s[0])
			}
			for ; n < min(most, len(s)); n++ {
				if size != nil {
					bytes += size(s[n])
				}
				if bytes > maxBytes {
					break
				}
			}
			if n < most {
				p := 1 // the largest power of two within n
				for p*2 <= n {
					p *= 2
				}
				n = p
			}
			if !yield(s[:n]) {
				return
			}
			s = s[n:]
		}
	}
}

// deliveryKey is the context key under which Deliver hands its delivery to Sink.
type deliveryKey struct{}

// delivery is what a Deliver shares with Sink: the transaction, the account, the key being
// delivered, the records Sink(nil) queued, and the savepoint a Sink with a func opened.
type delivery struct {
	s       *Store
	tx      *sql.Tx
	account string
	key     string // the key being delivered
	i       int    // its index in Deliver's keys
	rows    []recordRow
	token   string   // the marks' token
	took    []string // the keys whose marks it took, in order
	claims  bool     // the marks are claims: a func runs in the transaction (savepoint)
	sp      string   // the name of the delivery's savepoints, its own: no func's savepoint shares it
	open    bool     // a savepoint is open for the key
	wrote   bool     // a Sink with a func wrote in the transaction
	err     error    // the transaction failed: Deliver returns this
	ended   bool     // Deliver returned: the transaction is gone
}

// Deliver implements digelao.CommitStore in one transaction of the database:
//
//  1. It marks every key delivered at once, in one statement, in the order of the keys' bytes
//     (so that two Delivers never wait for each other in a cycle): a key not marked, or whose
//     Claim lapsed, is marked by this transaction; a key marked delivered is ClaimDone; a key a
//     Claim holds is ClaimInProgress. A key another open Deliver holds is waited for — PostgreSQL
//     and MySQL lock its row, and SQLite has one writer at a time — and then found delivered, or
//     free. The marks are the transaction's: they commit with the records, or not at all.
//  2. It calls deliver for each key it took, in order. Sink(nil) only queues the record; a Sink
//     with a func writes it at once, and runs the func, inside a savepoint of the key's own. An
//     error rolls that savepoint back, and the key alone is left undelivered (ClaimNew, Err).
//     Before the first func runs, the marks become claims that lapse after the claim TTL:
//     should the func commit the transaction, or end it otherwise, no key is marked delivered
//     without its record.
//  3. It writes the records Sink(nil) queued in multi-row upserts, inside one savepoint; should
//     that fail, it writes them again one by one, each in a savepoint, and a record that fails
//     leaves its key undelivered with the error (though deliver returned nil for it).
//  4. It deletes the marks of the keys left undelivered and, after a func ran, turns the claims of
//     the others into marks — checking that the transaction still holds them, which a func that
//     committed or rolled it back would have lost — and commits.
//
// A deadlock or a lock wait timeout while taking the marks begins the transaction again, a few
// times, after a short pause. A failure of the transaction itself (the connection, a deadlock
// later, the end of ctx) returns the error, and nothing of it is committed. A crash leaves nothing behind either: the database rolls
// the transaction back when the connection ends, and every mark it took with it. A key given twice
// is delivered once: the second is ClaimDone when the first was delivered, else as the first.
func (s *Store) Deliver(ctx context.Context, account string, keys []string, deliver func(context.Context, int) error) ([]digelao.Delivery, error) {
	if err := checkText("deliver", "account", account); err != nil {
		return nil, err
	}
	for _, k := range keys {
		if err := checkText("deliver", "key", k); err != nil {
			return nil, err
		}
	}
	if deliver == nil {
		return nil, wrap("deliver", errors.New("nil deliver func"))
	}
	ds := make([]digelao.Delivery, len(keys))
	if len(keys) == 0 {
		return ds, nil
	}
	done, err := s.write(ctx)
	if err != nil {
		return nil, wrap("deliver", err)
	}
	defer done()
	token := rand.Text()
	tx, states, err := s.begin(ctx, token, keys)
	if err != nil {
		return nil, wrap("deliver", err)
	}
	d := &delivery{s: s, tx: tx, account: account, token: token, sp: "digelao_" + strings.ToLower(token)}
	for _, k := range slices.Compact(slices.Sorted(slices.Values(keys))) {
		if states[k] == digelao.ClaimNew {
			d.took = append(d.took, k)
		}
	}
	defer func() {
		d.ended = true
		_ = tx.Rollback() // after a commit, sql.ErrTxDone
	}()
	dctx := context.WithValue(ctx, deliveryKey{}, d)
	first := make(map[string]int, len(keys))
	delivered := 0 // keys deliver returned nil for
	for i, k := range keys {
		if _, seen := first[k]; seen {
			continue
		}
		first[k] = i
		if st := states[k]; st != digelao.ClaimNew {
			ds[i].State = st
			continue
		}
		d.key, d.i = k, i
		queued := len(d.rows)
		err := d.settle(ctx, deliver(dctx, i))
		if d.err != nil {
			return nil, d.err
		}
		if err != nil {
			d.rows = d.rows[:queued]
			ds[i].Err = err
			continue
		}
		delivered++
	}
	if len(d.rows) == 1 && delivered == 1 && !d.wrote {
		// One record delivered, and nothing else — a push: no savepoint, two round trips fewer.
		// Should the database refuse the record, rolling the transaction back does what committing
		// it without the record's mark would.
		if err := d.s.upsert(ctx, tx, d.rows); err != nil {
			if ctx.Err() != nil {
				return nil, wrap("deliver", err)
			}
			ds[d.rows[0].i].Err = fmt.Errorf("sqlstore: call record %q: %w", d.rows[0].sn, err)
			return again(keys, first, ds), nil
		}
	} else if err := d.flush(ctx, ds); err != nil {
		return nil, err
	}
	var failed, ok []string
	for _, k := range d.took {
		if ds[first[k]].Err != nil {
			failed = append(failed, k)
		} else {
			ok = append(ok, k)
		}
	}
	if _, err := s.settleMarks(ctx, tx, 'd', token, failed); err != nil {
		return nil, wrap("deliver", err)
	}
	if d.claims {
		// The claims become marks only now, just before the commit, and only if this transaction
		// still holds them: should the user's func have committed it or rolled it back, they are
		// claims that lapse, and their keys are delivered again.
		n, err := s.settleMarks(ctx, tx, 'f', token, ok)
		if err != nil {
			return nil, wrap("deliver", err)
		}
		if n != int64(len(ok)) {
			return nil, wrap("deliver", fmt.Errorf("the transaction holds %d of the %d marks it took: "+
				"it was committed or rolled back before its end (a Sink's func must not end it, nor run DDL)", n, len(ok)))
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, wrap("deliver: commit", err)
	}
	return again(keys, first, ds), nil
}

// again fills in the keys given more than once: as the first of each (first holds its index),
// but ClaimDone where the first was delivered.
func again(keys []string, first map[string]int, ds []digelao.Delivery) []digelao.Delivery {
	for i, k := range keys {
		if j := first[k]; j != i {
			ds[i] = ds[j]
			if ds[j].State == digelao.ClaimNew && ds[j].Err == nil {
				ds[i].State = digelao.ClaimDone
			}
		}
	}
	return ds
}

// lockTries bounds how often Deliver begins its transaction again when taking the marks lost a lock.
const lockTries = 4

// begin begins a delivery's transaction and takes the marks of keys in it (take). A transaction
// that lost a lock while taking them — a deadlock, which MySQL's gap locks make possible even
// with the keys in order, or a lock waited for too long — is rolled back and begun again, after a
// short pause, up to lockTries times: nothing was delivered in it yet.
func (s *Store) begin(ctx context.Context, token string, keys []string) (*sql.Tx, map[string]digelao.ClaimState, error) {
	for try := 1; ; try++ {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return nil, nil, err
		}
		states, err := s.take(ctx, tx, token, keys)
		if err == nil {
			return tx, states, nil
		}
		_ = tx.Rollback()
		if try == lockTries || !lostLock(err) {
			return nil, nil, err
		}
		pause := time.Duration(try)*10*time.Millisecond + time.Duration(mrand.N(10))*time.Millisecond //nolint:gosec // jitter, not a secret
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}

// lostLock reports an error after which a transaction may be tried again: a deadlock or a lock
// wait timeout — MySQL's 1213 and 1205, whose messages say "try restarting transaction" — or
// PostgreSQL's deadlock_detected and serialization_failure.
func lostLock(err error) bool {
	var pg interface{ SQLState() string }
	if errors.As(err, &pg) && (pg.SQLState() == "40P01" || pg.SQLState() == "40001") {
		return true
	}
	return strings.Contains(err.Error(), "try restarting transaction")
}

// take marks the keys delivered by token, within tx, unless they are delivered already or claimed,
// and returns the state of each: ClaimNew for those it took.
func (s *Store) take(ctx context.Context, tx *sql.Tx, token string, keys []string) (map[string]digelao.ClaimState, error) {
	uniq := slices.Compact(slices.Sorted(slices.Values(keys)))
	states := make(map[string]digelao.ClaimState, len(uniq))
	perKeys, _ := s.perStatement()
	for chunk := range pieces(uniq, perKeys, nil) {
		if err := s.takeSome(ctx, tx, token, chunk, states); err != nil {
			return nil, err
		}
	}
	return states, nil
}

func (s *Store) takeSome(ctx context.Context, tx *sql.Tx, token string, keys []string, states map[string]digelao.ClaimState) error {
	for try := 0; len(keys) > 0; try++ {
		if try == claimTries {
			return fmt.Errorf("the marks of %d keys came and went %d times in a row", len(keys), claimTries)
		}
		args := make([]any, 0, 2*len(keys))
		for _, k := range keys {
			args = append(args, k, token)
		}
		res, err := tx.ExecContext(ctx, s.multiRow('t', len(keys)), s.withNow(args...)...)
		if err != nil {
			return err
		}
		// PostgreSQL and SQLite count the rows the statement inserted or took over: all of them,
		// in a sweep of new records, and nothing is left to read. MySQL counts otherwise.
		if n, err := res.RowsAffected(); err == nil && n == int64(len(keys)) && s.d != MySQL {
			for _, k := range keys {
				states[k] = digelao.ClaimNew
			}
			return nil
		}
		perKeys, _ := s.perStatement()
		for chunk := range pieces(keys, perKeys, nil) {
			args = args[:0]
			for _, k := range chunk {
				args = append(args, k)
			}
			err := query(ctx, tx, s.multiRow('s', len(chunk)), args, func(rows *sql.Rows) error {
				var k, holder string
				var delivered bool
				if err := rows.Scan(&k, &holder, &delivered); err != nil {
					return err
				}
				switch {
				case holder == token:
					states[k] = digelao.ClaimNew
				case delivered:
					states[k] = digelao.ClaimDone
				default:
					states[k] = digelao.ClaimInProgress
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		// A mark gone between the two statements (a Claim released) is taken again.
		keys = slices.DeleteFunc(keys, func(k string) bool { _, ok := states[k]; return ok })
	}
	return nil
}

// query runs q with args in tx, and scan on each row.
func query(ctx context.Context, tx *sql.Tx, q string, args []any, scan func(*sql.Rows) error) error {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// settleMarks deletes the marks token took of keys ('d'), makes them claims ('c'), or makes the
// claims marks of keys delivered ('f'), and returns how many it found. keys are in order.
func (s *Store) settleMarks(ctx context.Context, tx *sql.Tx, kind byte, token string, keys []string) (int64, error) {
	perKeys, _ := s.perStatement()
	var n int64
	for chunk := range pieces(keys, perKeys, nil) {
		args := make([]any, 0, 2+len(chunk))
		if kind == 'c' {
			args = append(args, ttlArg(s.d, s.cfg.claimTTL))
		}
		args = append(args, token)
		for _, k := range chunk {
			args = append(args, k)
		}
		if kind != 'd' {
			args = s.withNow(args...)
		}
		res, err := tx.ExecContext(ctx, s.multiRow(kind, len(chunk)), args...)
		if err != nil {
			return n, err
		}
		m, err := res.RowsAffected()
		if err != nil {
			return n, err
		}
		n += m
	}
	return n, nil
}

// savepoint opens the savepoint of the key being delivered, once, and returns the transaction:
// for a func to run in, whose marks are claims.
func (d *delivery) savepoint(ctx context.Context) (*sql.Tx, error) {
	if !d.claims {
		if _, err := d.s.settleMarks(ctx, d.tx, 'c', d.token, d.took); err != nil {
			d.fail(err)
			return nil, d.err
		}
		d.claims = true
	}
	if !d.open {
		if _, err := d.tx.ExecContext(ctx, "SAVEPOINT "+d.sp); err != nil {
			d.fail(err)
			return nil, d.err
		}
		d.open, d.wrote = true, true
	}
	return d.tx, nil
}

// settle closes the key's savepoint, if one was opened, after deliver returned err: it releases it
// on nil, and rolls it back on an error — also when releasing failed (PostgreSQL refuses every
// statement of a transaction after one failed, until the savepoint is rolled back).
func (d *delivery) settle(ctx context.Context, err error) error {
	if !d.open {
		return err
	}
	d.open = false
	if err == nil {
		_, rerr := d.tx.ExecContext(ctx, "RELEASE SAVEPOINT "+d.sp)
		if rerr == nil {
			return nil
		}
		err = fmt.Errorf("sqlstore: the sink returned nil, but its transaction failed: %w", rerr)
	}
	d.rollbackTo(ctx)
	return err
}

// savepointed runs f inside the delivery's savepoint, rolled back when f fails.
func (d *delivery) savepointed(ctx context.Context, f func() error) error {
	if _, err := d.tx.ExecContext(ctx, "SAVEPOINT "+d.sp); err != nil {
		d.fail(err)
		return err
	}
	err := f()
	if err == nil {
		if _, err = d.tx.ExecContext(ctx, "RELEASE SAVEPOINT "+d.sp); err == nil {
			return nil
		}
	}
	d.rollbackTo(ctx)
	return err
}

// rollbackTo rolls the delivery's savepoint back and releases it. A failure means the transaction is
// gone — MySQL rolls the whole of it back on a deadlock, savepoints included — and fails the
// delivery.
func (d *delivery) rollbackTo(ctx context.Context) {
	if _, err := d.tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT "+d.sp); err != nil {
		d.fail(err)
		return
	}
	if _, err := d.tx.ExecContext(ctx, "RELEASE SAVEPOINT "+d.sp); err != nil {
		d.fail(err)
	}
}

func (d *delivery) fail(err error) {
	if d.err == nil {
		d.err = wrap("deliver", err)
	}
}

// flush writes the records Sink(nil) queued: all at once, or, when that fails, one by one, so that
// a record that fails leaves only its key undelivered.
func (d *delivery) flush(ctx context.Context, ds []digelao.Delivery) error {
	if len(d.rows) == 0 {
		return nil
	}
	err := d.savepointed(ctx, func() error { return d.s.upsert(ctx, d.tx, d.rows) })
	if d.err != nil || err == nil {
		return d.err
	}
	for _, r := range d.rows {
		err := d.savepointed(ctx, func() error { return d.s.upsert(ctx, d.tx, []recordRow{r}) })
		if d.err != nil {
			return d.err
		}
		if err != nil {
			ds[r.i].Err = fmt.Errorf("sqlstore: call record %q: %w", r.sn, err)
		}
	}
	return nil
}
