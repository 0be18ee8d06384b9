package redisstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/digelao-go/digelao"
)

var _ digelao.SyncStore = (*Store)(nil)

// checkpointKey and leaseKey are where the sync name keeps its checkpoint and its sweep lease; the
// SDK's names are "sync:" and a digest of the account, like its session keys.
func (s *Store) checkpointKey(name string) string { return s.cfg.prefix + name + ":checkpoint" }
func (s *Store) leaseKey(name string) string      { return s.cfg.prefix + name + ":lease" }
func (s *Store) stateKey(name string) string      { return s.cfg.prefix + name + ":state" }
func (s *Store) quarantineKey(name string) string { return s.cfg.prefix + name + ":quarantine" }

// Checkpoint implements digelao.SyncStore. It returns the zero time when none is stored, and an
// error when the key holds something else than an RFC 3339 time: a sync that swept only its
// look-back instead could miss the records between the lost checkpoint and the look-back, so the
// key waits for someone to set a time, or delete it to sweep the look-back.
func (s *Store) Checkpoint(ctx context.Context, name string) (time.Time, error) {
	if err := s.check("checkpoint", name); err != nil {
		return time.Time{}, err
	}
	k := s.checkpointKey(name)
	v, err := s.rdb.Get(ctx, k).Result()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, wrap("checkpoint", err)
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, wrap("checkpoint", fmt.Errorf("%s holds no RFC 3339 time: set one, or delete the key to sweep the look-back", k))
	}
	return t, nil
}

// SetCheckpoint implements digelao.SyncStore: it stores t, without expiry, as an RFC 3339 time in
// UTC to the nanosecond. The zero time deletes the checkpoint.
func (s *Store) SetCheckpoint(ctx context.Context, name string, t time.Time) error {
	if err := s.check("set checkpoint", name); err != nil {
		return err
	}
	k := s.checkpointKey(name)
	var err error
	if t.IsZero() {
		err = s.rdb.Del(ctx, k).Err()
	} else {
		err = s.rdb.Set(ctx, k, t.UTC().Format(time.RFC3339Nano), 0).Err()
	}
	if err != nil {
		return wrap("set checkpoint", err)
	}
	return nil
}

// Lease implements digelao.SyncStore atomically, in one script: SET NX PX takes the lease for
// owner for ttl (rounded up to a millisecond); when owner holds it already, its expiry is moved to
// ttl from now. A lease whose holder died lapses after its ttl. A lease key found without an
// expiry — never set so by a Store — is given ttl and logged (WithLogger), so that it lapses too.
func (s *Store) Lease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	if err := s.check("lease", name); err != nil {
		return false, err
	}
	if owner == "" {
		return false, wrap("lease", errors.New("empty owner"))
	}
	return s.take(ctx, "lease", s.leaseKey(name), owner, ttl)
}

// Unlease implements digelao.SyncStore: it deletes the lease only while owner holds it
// (compare-and-delete), so an owner whose lease lapsed cannot end its successor's.
func (s *Store) Unlease(ctx context.Context, name, owner string) error {
	if err := s.check("unlease", name); err != nil {
		return err
	}
	if owner == "" {
		return wrap("unlease", errors.New("empty owner"))
	}
	if err := s.deleteIfValue.Run(ctx, s.rdb, []string{s.leaseKey(name)}, owner).Err(); err != nil {
		return wrap("unlease", err)
	}
	return nil
}

// SyncState implements digelao.SyncStore: the bookkeeping is a string key without expiry.
func (s *Store) SyncState(ctx context.Context, name string) ([]byte, error) {
	if err := s.check("sync state", name); err != nil {
		return nil, err
	}
	b, err := s.rdb.Get(ctx, s.stateKey(name)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap("sync state", err)
	}
	return b, nil
}

// SetSyncState implements digelao.SyncStore.
func (s *Store) SetSyncState(ctx context.Context, name string, state []byte) error {
	if err := s.check("set sync state", name); err != nil {
		return err
	}
	if err := s.rdb.Set(ctx, s.stateKey(name), state, 0).Err(); err != nil {
		return wrap("set sync state", err)
	}
	return nil
}

// Quarantine implements digelao.SyncStore: the quarantine is a hash, without expiry, of each
// record's key to its JSON.
func (s *Store) Quarantine(ctx context.Context, name string, q digelao.QuarantinedRecord) error {
	if err := s.check("quarantine", name); err != nil {
		return err
	}
	b, err := json.Marshal(q)
	if err == nil {
		err = s.rdb.HSet(ctx, s.quarantineKey(name), q.Key, b).Err()
	}
	if err != nil {
		return wrap("quarantine", err)
	}
	return nil
}

// Quarantined implements digelao.SyncStore. A field that does not decode is an error naming it:
// a record is never dropped from the list in silence.
func (s *Store) Quarantined(ctx context.Context, name string) ([]digelao.QuarantinedRecord, error) {
	if err := s.check("quarantined", name); err != nil {
		return nil, err
	}
	k := s.quarantineKey(name)
	m, err := s.rdb.HGetAll(ctx, k).Result()
	if err != nil {
		return nil, wrap("quarantined", err)
	}
	qs := make([]digelao.QuarantinedRecord, 0, len(m))
	for field, v := range m {
		var q digelao.QuarantinedRecord
		if err := json.Unmarshal([]byte(v), &q); err != nil {
			return nil, wrap("quarantined", fmt.Errorf("%s field %q does not decode: %w", k, field, err))
		}
		qs = append(qs, q)
	}
	slices.SortFunc(qs, func(a, b digelao.QuarantinedRecord) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.Key, b.Key))
	})
	return qs, nil
}

// Unquarantine implements digelao.SyncStore.
func (s *Store) Unquarantine(ctx context.Context, name, key string) error {
	if err := s.check("unquarantine", name); err != nil {
		return err
	}
	if err := s.rdb.HDel(ctx, s.quarantineKey(name), key).Err(); err != nil {
		return wrap("unquarantine", err)
	}
	return nil
}
