package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/digelao-go/digelao"
)

var _ digelao.DedupStore = (*Store)(nil)

// done is the value of a completed de-duplication key; a claimed one holds claimPrefix and its
// claim's token.
const (
	done        = "done"
	claimPrefix = "claim:"
)

// claimScript sets KEYS[1] to the claim ARGV[1] for ARGV[2] milliseconds unless it exists, and
// reports 0 when it did, 2 when the key is ARGV[3] ("done"), 1 when it is a claim (a string that
// starts with ARGV[4] and expires). Any other key is corrupt — another type (3), a claim that
// would never expire (4), another string (5): it takes the claim over all the same.
const claimScript = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
local corrupt = 3
if redis.call('TYPE', KEYS[1]).ok == 'string' then
	local v = redis.call('GET', KEYS[1])
	if v == ARGV[3] then return 2 end
	corrupt = 5
	if string.sub(v, 1, string.len(ARGV[4])) == ARGV[4] then
		if redis.call('PTTL', KEYS[1]) >= 0 then return 1 end
		corrupt = 4
	end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return corrupt`

// dedupKey is where the mark of key lives: the Store's Claim, Complete and Release serve the
// de-duplication of pushes ("call:…") and of RecordSync deliveries ("record:…") alike.
func (s *Store) dedupKey(key string) string { return s.cfg.prefix + "dedup:" + key }

// Claim implements digelao.DedupStore: atomically, it claims key for token for the claim TTL
// (WithClaimTTL) and returns ClaimNew, or reports ClaimDone for a completed key and
// ClaimInProgress for one claimed by another handler. A claim that is neither completed nor
// released lapses after the claim TTL, so a redelivery after a crash is handled. A key that is
// corrupt — left by another tool or by hand: not a string, a claim without expiry, a string that
// is neither a claim nor the done mark — would refuse its record: Claim takes it over as a new
// claim and logs it (WithLogger).
func (s *Store) Claim(ctx context.Context, key, token string) (digelao.ClaimState, error) {
	if err := s.checkToken("claim", key, token); err != nil {
		return 0, err
	}
	k := s.dedupKey(key)
	n, err := s.claim.Run(ctx, s.rdb, []string{k}, claimPrefix+token, s.cfg.claimTTL.Milliseconds(), done, claimPrefix).Int()
	if err != nil {
		return 0, wrap("claim", err)
	}
	switch n {
	case 3, 4, 5:
		reason := map[int]string{3: "a value that is not a string", 4: "a claim without expiry", 5: "an unknown string"}[n]
		s.cfg.log.WarnContext(ctx, "redisstore: de-duplication key was corrupt; repaired and claimed", "key", k, "found", reason)
		return digelao.ClaimNew, nil
	case 0:
		return digelao.ClaimNew, nil
	case 1:
		return digelao.ClaimInProgress, nil
	case 2:
		return digelao.ClaimDone, nil
	}
	return 0, wrap("claim", fmt.Errorf("unexpected script result %d", n))
}

// Complete implements digelao.DedupStore: it marks key done for the done TTL (WithDoneTTL),
// whether or not it was claimed, and by whom; token is not used.
func (s *Store) Complete(ctx context.Context, key, _ string) error {
	if err := s.check("complete", key); err != nil {
		return err
	}
	if err := s.rdb.Set(ctx, s.dedupKey(key), done, s.cfg.doneTTL).Err(); err != nil {
		return wrap("complete", err)
	}
	return nil
}

// Release implements digelao.DedupStore: it drops token's claim on key so that a redelivery is
// handled, atomically, only while token holds it. A claim another delivery took over after
// token's lapsed, and a completed key, stay.
func (s *Store) Release(ctx context.Context, key, token string) error {
	if err := s.checkToken("release", key, token); err != nil {
		return err
	}
	if err := s.deleteIfValue.Run(ctx, s.rdb, []string{s.dedupKey(key)}, claimPrefix+token).Err(); err != nil {
		return wrap("release", err)
	}
	return nil
}

// Renew implements digelao.DedupStore: atomically, it moves the expiry of token's claim on key to
// the claim TTL from now, and reports false, changing nothing, when key holds anything else — a
// claim that lapsed (maybe taken over), or the done mark.
func (s *Store) Renew(ctx context.Context, key, token string) (bool, error) {
	if err := s.checkToken("renew", key, token); err != nil {
		return false, err
	}
	n, err := s.expireIfValue.Run(ctx, s.rdb, []string{s.dedupKey(key)}, claimPrefix+token, s.cfg.claimTTL.Milliseconds()).Int()
	if err != nil {
		return false, wrap("renew", err)
	}
	return n == 1, nil
}

// ClaimTTL implements digelao.DedupStore: the claim TTL (WithClaimTTL).
func (s *Store) ClaimTTL() time.Duration { return s.cfg.claimTTL }

// checkToken reports a Store that cannot run op on key for token: a token must be a string no
// other delivery uses, so not empty.
func (s *Store) checkToken(op, key, token string) error {
	if err := s.check(op, key); err != nil {
		return err
	}
	if token == "" {
		return wrap(op, errors.New("empty token"))
	}
	return nil
}
