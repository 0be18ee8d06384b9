package sqlstore

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/digelao-go/digelao"
)

// Checkpoint implements digelao.SyncStore. The checkpoint is kept in <prefix>syncs as an RFC 3339
// time in UTC, to the nanosecond, so that an operator can read it, set it (to sweep from there) or
// set it NULL (to sweep the look-back). A value that is no such time is an error naming the table
// and the sync, and fails every sweep until it is set right: reading it as none would sweep only
// the look-back, and could miss the records before it.
func (s *Store) Checkpoint(ctx context.Context, name string) (time.Time, error) {
	if err := checkText("checkpoint", "name", name); err != nil {
		return time.Time{}, err
	}
	var v sql.NullString
	err := s.db.QueryRowContext(ctx, s.q.checkpoint, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) || err == nil && !v.Valid {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, wrap("checkpoint", err)
	}
	t, err := time.Parse(time.RFC3339Nano, v.String)
	if err != nil {
		return time.Time{}, wrap("checkpoint", fmt.Errorf("%ssyncs.checkpoint_at of %q holds %q, no RFC 3339 time: "+
			"set one, or NULL to sweep the look-back", s.cfg.prefix, name, v.String))
	}
	return t, nil
}

// SetCheckpoint implements digelao.SyncStore; the zero time sets it NULL, as if none was stored.
func (s *Store) SetCheckpoint(ctx context.Context, name string, t time.Time) error {
	if err := checkText("set checkpoint", "name", name); err != nil {
		return err
	}
	var v any
	if !t.IsZero() {
		v = t.UTC().Format(time.RFC3339Nano)
	}
	if _, err := s.exec(ctx, s.q.setCheckpoint, name, v); err != nil {
		return wrap("set checkpoint", err)
	}
	return nil
}

// Lease implements digelao.SyncStore: a row of <prefix>leases with its owner and an expiry on the
// database's clock, taken when it is free or lapsed, and extended by its owner, in one statement.
// A replica that dies stops renewing it, and it lapses after ttl.
func (s *Store) Lease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	if err := checkText("lease", "name", name); err != nil {
		return false, err
	}
	if err := checkText("lease", "owner", owner); err != nil {
		return false, err
	}
	if ttl <= 0 {
		return false, wrap("lease", fmt.Errorf("ttl must be positive, got %s", ttl))
	}
	done, err := s.write(ctx)
	if err != nil {
		return false, wrap("lease", err)
	}
	defer done()
	var holder string
	if s.q.returning {
		err = s.db.QueryRowContext(ctx, s.q.lease, s.withNow(name, owner, ttlArg(s.d, ttl))...).Scan(&holder)
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
	} else if _, err = s.db.ExecContext(ctx, s.q.lease, s.withNow(name, owner, ttlArg(s.d, ttl))...); err == nil {
		err = s.db.QueryRowContext(ctx, s.q.leaseOwner, name).Scan(&holder)
	}
	if err != nil {
		return false, wrap("lease", err)
	}
	return holder == owner, nil
}

// Unlease implements digelao.SyncStore: it deletes the lease only while owner holds it.
func (s *Store) Unlease(ctx context.Context, name, owner string) error {
	if err := checkText("unlease", "name", name); err != nil {
		return err
	}
	if err := checkText("unlease", "owner", owner); err != nil {
		return err
	}
	if _, err := s.exec(ctx, s.q.unlease, name, owner); err != nil {
		return wrap("unlease", err)
	}
	return nil
}

// SyncState implements digelao.SyncStore.
func (s *Store) SyncState(ctx context.Context, name string) ([]byte, error) {
	if err := checkText("sync state", "name", name); err != nil {
		return nil, err
	}
	var b []byte
	err := s.db.QueryRowContext(ctx, s.q.syncState, name).Scan(&b)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, wrap("sync state", err)
	}
	return b, nil
}

// SetSyncState implements digelao.SyncStore.
func (s *Store) SetSyncState(ctx context.Context, name string, state []byte) error {
	if err := checkText("set sync state", "name", name); err != nil {
		return err
	}
	if _, err := s.exec(ctx, s.q.setSyncState, name, state); err != nil {
		return wrap("set sync state", err)
	}
	return nil
}

// Quarantine implements digelao.SyncStore: a row of <prefix>quarantine per record, holding the
// QuarantinedRecord as JSON — bytes, since a record the platform sent may not be UTF-8. The record
// comes back byte for byte.
func (s *Store) Quarantine(ctx context.Context, name string, q digelao.QuarantinedRecord) error {
	if err := checkText("quarantine", "name", name); err != nil {
		return err
	}
	if err := checkText("quarantine", "key", q.Key); err != nil {
		return err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // the record's bytes as they came: no \u003c for a <
	if err := enc.Encode(q); err != nil {
		return wrap("quarantine", err)
	}
	if _, err := s.exec(ctx, s.q.quarantine, name, q.Key, b.Bytes()); err != nil {
		return wrap("quarantine", err)
	}
	return nil
}

// Quarantined implements digelao.SyncStore. A row that does not decode is an error naming it: a
// record is never dropped from the list in silence.
func (s *Store) Quarantined(ctx context.Context, name string) ([]digelao.QuarantinedRecord, error) {
	if err := checkText("quarantined", "name", name); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.q.quarantined, name)
	if err != nil {
		return nil, wrap("quarantined", err)
	}
	defer func() { _ = rows.Close() }()
	var qs []digelao.QuarantinedRecord
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, wrap("quarantined", err)
		}
		var q digelao.QuarantinedRecord
		if err := json.Unmarshal(b, &q); err != nil {
			return nil, wrap("quarantined", fmt.Errorf("a row of %squarantine of %q does not decode: %w", s.cfg.prefix, name, err))
		}
		qs = append(qs, q)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("quarantined", err)
	}
	slices.SortFunc(qs, func(a, b digelao.QuarantinedRecord) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.Key, b.Key))
	})
	return qs, nil
}

// Unquarantine implements digelao.SyncStore.
func (s *Store) Unquarantine(ctx context.Context, name, key string) error {
	if err := checkText("unquarantine", "name", name); err != nil {
		return err
	}
	if err := checkText("unquarantine", "key", key); err != nil {
		return err
	}
	if _, err := s.exec(ctx, s.q.unquarantine, name, key); err != nil {
		return wrap("unquarantine", err)
	}
	return nil
}
