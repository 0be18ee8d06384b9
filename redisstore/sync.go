package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/digelao-go/digelao"
)

var _ digelao.SyncStore = (*Store)(nil)

// checkpointKey and leaseKey are where the sync name keeps its checkpoint and its sweep lease; the
// SDK's names are "sync:" and a digest of the account, like its session keys.
func (s *Store) checkpointKey(name string) string { return s.cfg.prefix + name + ":checkpoint" }
func (s *Store) leaseKey(name string) string      { return s.cfg.prefix + name + ":lease" }

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
