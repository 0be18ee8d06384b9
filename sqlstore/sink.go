package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/internal/flex"
)

// Sink returns the sink to give digelao.NewRecordSync together with this Store as its store
// (digelao.WithSyncStore): it upserts each record into <prefix>call_records, in the transaction
// of Deliver that marks the record delivered, and then calls fn, when not nil, with that
// transaction, so that the user's own tables change in it too:
//
//	rs, err := digelao.NewRecordSync(c, store.Sink(func(ctx context.Context, tx *sql.Tx, r *digelao.CallRecord) error {
//		_, err := tx.ExecContext(ctx, "UPDATE orders SET called = true WHERE phone = $1", r.Phone)
//		return err
//	}), digelao.WithSyncStore(store))
//
// A record and its mark commit together, or neither does: see the package documentation. An error
// of fn leaves the record undelivered, its row and fn's writes rolled back to a savepoint, and
// RecordSync tries it again later. fn must use tx, not the *sql.DB — whose other connections do
// not see the transaction, and which may have none left while it is open — and must return the
// errors of its statements: on MySQL a deadlock rolls the whole transaction back, and a statement
// after it would commit by itself. fn must never commit or roll back tx (by its methods or by a
// statement), nor run DDL, which MySQL commits with an implicit commit: Deliver then fails, and
// the records of the page are delivered again once their claims lapse (WithClaimTTL) — fn runs
// again for those whose writes were committed.
//
// Without fn, the records of a sweep's page are upserted together, in a few multi-row statements;
// with fn, each record is upserted before fn runs, so that fn may read it.
//
// The sink refuses to run outside Deliver (a RecordSync on another store), with an error saying
// so, and refuses a record whose sn the sn column cannot keep (see the package documentation).
func (s *Store) Sink(fn func(ctx context.Context, tx *sql.Tx, r *digelao.CallRecord) error) func(context.Context, *digelao.CallRecord) error {
	return func(ctx context.Context, r *digelao.CallRecord) error {
		d, _ := ctx.Value(deliveryKey{}).(*delivery)
		switch {
		case d == nil:
			return errors.New("sqlstore: Sink called outside Store.Deliver: give the RecordSync this Store as its store (digelao.WithSyncStore)")
		case d.s != s:
			return errors.New("sqlstore: Sink called in the Deliver of another Store: give the RecordSync the Store whose Sink it is")
		case d.ended:
			return errors.New("sqlstore: Sink called after its Deliver returned")
		case r == nil:
			return errors.New("sqlstore: Sink: nil *digelao.CallRecord")
		}
		row, err := s.row(d, r)
		if err != nil {
			return err
		}
		if fn == nil {
			d.rows = append(d.rows, row)
			return nil
		}
		tx, err := d.savepoint(ctx)
		if err != nil {
			return err
		}
		if err := s.upsert(ctx, tx, []recordRow{row}); err != nil {
			return fmt.Errorf("sqlstore: call record %q: %w", r.SN, err)
		}
		return fn(ctx, tx, r)
	}
}

// recordRow is a record as its row: the values of recordCols, and the index of its key in
// Deliver's keys.
type recordRow struct {
	i    int
	sn   string
	size int // its bytes, at most
	args [recordColCount]any
}

// Column widths: MySQL's VARCHARs, in characters; the other dialects keep the same, so that a value
// is kept, or not, alike on every one.
const (
	maxSN    = maxText // bytes
	maxTask  = 255
	maxShort = 64 // phone, intention, status_manual
)

// row makes r's row. A text column is NULL when its value is not UTF-8, holds a NUL byte or is
// too long for it; a time column is NULL when the time is zero, has a fraction of a second, or lies
// outside the years 1000–9999 in China time; the duration is NULL beyond 32 bits: the record
// column keeps the value whole. A record without an sn is
// kept under its delivery key; one whose sn does not fit its column is refused.
func (s *Store) row(d *delivery, r *digelao.CallRecord) (recordRow, error) {
	row := recordRow{i: d.i, sn: r.SN}
	switch {
	case r.SN == "":
		row.sn = d.key
	case len(r.SN) > maxSN || !utf8.ValidString(r.SN) || strings.IndexByte(r.SN, 0) >= 0:
		return row, fmt.Errorf("sqlstore: call record sn %q does not fit column sn (UTF-8 text without NUL, at most %d bytes): "+
			"the record is refused", r.SN, maxSN)
	}
	b, err := r.MarshalJSON()
	if err != nil {
		return row, fmt.Errorf("sqlstore: call record %q: %w", r.SN, err)
	}
	// The record column, and the others, whose widths are bounded: sn, account and task of 255
	// characters, three of 64, three times and two numbers.
	row.size = len(b) + 4<<10
	var id any
	if r.ID != 0 {
		id = r.ID
	}
	row.args = [recordColCount]any{d.account, row.sn, id, text(r.TaskSN, maxTask), text(r.Phone, maxShort),
		text(r.Status, maxShort), text(r.StatusManual, maxShort), duration(r.TalkTime),
		s.timeArg(r.CreatedAt), s.timeArg(r.ConnectedAt), s.timeArg(r.DisconnectedAt), string(b)}
	return row, nil
}

// text is v for a text column of width characters, or nil (NULL) when it does not fit.
func text(v string, width int) any {
	if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 || utf8.RuneCountInString(v) > width {
		return nil
	}
	return v
}

// duration is talktimes for the duration column, 32 bits on PostgreSQL and MySQL, or nil (NULL)
// when it does not fit.
func duration(v int) any {
	if v < math.MinInt32 || v > math.MaxInt32 {
		return nil
	}
	return v
}

// timeArg is t for a time column: a time.Time for PostgreSQL's timestamptz, and China time as
// "2006-01-02 15:04:05" — the platform's own — for MySQL's DATETIME and SQLite's text; nil (NULL)
// when it does not fit: the years 1000–9999 are China time's, on every dialect.
func (s *Store) timeArg(t time.Time) any {
	c := t.In(flex.China)
	if t.IsZero() || t.Nanosecond() != 0 || c.Year() < 1000 || c.Year() > 9999 {
		return nil
	}
	if s.d == Postgres {
		return t
	}
	return c.Format(time.DateTime)
}

// upsert writes rows into the records' table, in pieces.
func (s *Store) upsert(ctx context.Context, tx *sql.Tx, rows []recordRow) error {
	_, perRows := s.perStatement()
	for chunk := range pieces(rows, perRows, func(r recordRow) int { return r.size }) {
		args := make([]any, 0, len(chunk)*recordColCount)
		for i := range chunk {
			args = append(args, chunk[i].args[:]...)
		}
		if _, err := tx.ExecContext(ctx, s.multiRow('r', len(chunk)), args...); err != nil {
			return err
		}
	}
	return nil
}
