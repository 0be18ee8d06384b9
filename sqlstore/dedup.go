package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/digelao-go/digelao"
)

// The marks table keeps, per key, either a claim — a token and an expiry on the database's clock —
// or the mark of a key delivered for good (done_at). Claim, Renew, Complete and Release serve
// PushHandler.Dedup, and a RecordSync whose store is wrapped so that it is not a CommitStore;
// Deliver takes the same rows inside its transaction, so that both paths agree on every key.

// claimTries bounds how often Claim tries again when the row it found gone meanwhile.
const claimTries = 3

// Claim implements digelao.DedupStore: it inserts a claim of key for token that lapses after the
// claim TTL (WithClaimTTL) on the database's clock, or takes over a claim that lapsed, and returns
// ClaimNew; it returns ClaimDone for a key delivered or completed, and ClaimInProgress for a key
// another token's Claim holds. A key an open Deliver holds is waited for: Claim then finds it
// delivered, or free.
func (s *Store) Claim(ctx context.Context, key, token string) (digelao.ClaimState, error) {
	if err := checkKey("claim", key, token); err != nil {
		return 0, err
	}
	done, err := s.write(ctx)
	if err != nil {
		return 0, wrap("claim", err)
	}
	defer done()
	for range claimTries {
		if s.q.returning {
			var got string
			err := s.db.QueryRowContext(ctx, s.q.claim, s.withNow(key, token, ttlArg(s.d, s.cfg.claimTTL))...).Scan(&got)
			if err == nil {
				return digelao.ClaimNew, nil
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return 0, wrap("claim", err)
			}
		} else if _, err := s.db.ExecContext(ctx, s.q.claim, s.withNow(key, token, ttlArg(s.d, s.cfg.claimTTL))...); err != nil {
			return 0, wrap("claim", err)
		}
		var holder string
		var delivered bool
		err := s.db.QueryRowContext(ctx, s.q.claimState, key).Scan(&holder, &delivered)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			continue // released meanwhile: try again
		case err != nil:
			return 0, wrap("claim", err)
		case delivered:
			return digelao.ClaimDone, nil
		case holder == token:
			return digelao.ClaimNew, nil
		}
		return digelao.ClaimInProgress, nil
	}
	return 0, wrap("claim", fmt.Errorf("the mark of %q came and went %d times in a row", key, claimTries))
}

// Renew implements digelao.DedupStore: it moves the expiry of token's claim on key to the claim
// TTL from the database's now, and reports false, changing nothing, when token's claim lapsed or
// key was completed.
func (s *Store) Renew(ctx context.Context, key, token string) (bool, error) {
	if err := checkKey("renew", key, token); err != nil {
		return false, err
	}
	res, err := s.exec(ctx, s.q.renew, s.withNow(ttlArg(s.d, s.cfg.claimTTL), key, token)...)
	if err != nil {
		return false, wrap("renew", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, wrap("renew", err)
	}
	if n == 0 && s.d == MySQL {
		// MySQL counts the rows changed, not those found: a renewal within the microsecond of
		// the one before changes nothing.
		err = s.db.QueryRowContext(ctx, s.q.renewHeld, s.withNow(key, token)...).Scan(&n)
		if err != nil {
			return false, wrap("renew", err)
		}
	}
	return n > 0, nil
}

// Complete implements digelao.DedupStore: it marks key delivered for good, whoever holds its
// claim. The mark is kept until someone deletes it (see the package documentation).
func (s *Store) Complete(ctx context.Context, key, token string) error {
	if err := checkKey("complete", key, token); err != nil {
		return err
	}
	if _, err := s.exec(ctx, s.q.complete, s.withNow(key, token)...); err != nil {
		return wrap("complete", err)
	}
	return nil
}

// Release implements digelao.DedupStore: it deletes token's claim on key, and leaves a claim of
// another token and a completed key alone.
func (s *Store) Release(ctx context.Context, key, token string) error {
	if err := checkKey("release", key, token); err != nil {
		return err
	}
	if _, err := s.exec(ctx, s.q.release, key, token); err != nil {
		return wrap("release", err)
	}
	return nil
}

// ClaimTTL implements digelao.DedupStore: the claim TTL (WithClaimTTL).
func (s *Store) ClaimTTL() time.Duration { return s.cfg.claimTTL }

func checkKey(op, key, token string) error {
	if err := checkText(op, "key", key); err != nil {
		return err
	}
	return checkText(op, "token", token)
}
