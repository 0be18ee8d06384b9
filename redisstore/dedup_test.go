package redisstore_test

import (
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/internal/testkit"
	"github.com/digelao-go/digelao/redisstore"
)

var _ digelao.DedupStore = (*redisstore.Store)(nil)

const pushKey = "account|a6505ba3c0c7a1f0e8c1d1f2e3a4b5c6"

func claim(t *testing.T, s digelao.DedupStore, key, token string) digelao.ClaimState {
	t.Helper()
	st, err := s.Claim(t.Context(), key, token)
	require.NoError(t, err)
	return st
}

func TestClaimCompleteRelease(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, rdb, prefix := newStore(t)

	assert.Equal(t, digelao.ClaimNew, claim(t, s, pushKey, "A"), "first delivery")
	assert.Equal(t, digelao.ClaimInProgress, claim(t, s, pushKey, "B"), "redelivery while the first is handled")
	ttl, err := rdb.PTTL(ctx, prefix+"dedup:"+pushKey).Result()
	require.NoError(t, err)
	assert.InDelta(t, redisstore.DefaultClaimTTL.Seconds(), ttl.Seconds(), 5, "keys live under prefix + dedup:")

	require.NoError(t, s.Release(ctx, pushKey, "B"), "not B's claim…")
	assert.Equal(t, digelao.ClaimInProgress, claim(t, s, pushKey, "C"), "…which it leaves alone")
	require.NoError(t, s.Release(ctx, pushKey, "A"), "the handler failed")
	assert.Equal(t, digelao.ClaimNew, claim(t, s, pushKey, "D"), "a redelivery after a release is handled")

	require.NoError(t, s.Complete(ctx, pushKey, "D"))
	assert.Equal(t, digelao.ClaimDone, claim(t, s, pushKey, "E"))
	require.NoError(t, s.Release(ctx, pushKey, "D"), "releasing a completed key…")
	assert.Equal(t, digelao.ClaimDone, claim(t, s, pushKey, "F"), "…keeps it completed")
	ttl, err = rdb.PTTL(ctx, prefix+"dedup:"+pushKey).Result()
	require.NoError(t, err)
	assert.InDelta(t, redisstore.DefaultDoneTTL.Seconds(), ttl.Seconds(), 5)

	assert.Equal(t, digelao.ClaimNew, claim(t, s, "account|other", "A"), "keys are independent")
	require.NoError(t, s.Release(ctx, "account|never-claimed", "A"))
}

// lapsed returns a store s shares its keys with whose claims lapse at once, and claims pushKey
// there for token "A": then another delivery, "B", takes the claim over in s.
func lapsed(t *testing.T, rdb *redis.Client, prefix string, s *redisstore.Store) *redisstore.Store {
	t.Helper()
	quick, err := redisstore.New(rdb, redisstore.WithPrefix(prefix), redisstore.WithClaimTTL(time.Millisecond))
	require.NoError(t, err)
	require.Equal(t, digelao.ClaimNew, claim(t, quick, pushKey, "A"))
	require.Eventually(t, func() bool {
		st, err := s.Claim(t.Context(), pushKey, "B")
		return err == nil && st == digelao.ClaimNew
	}, 5*time.Second, time.Millisecond, "A's claim lapses; B takes it over")
	return quick
}

// A delivery slower than the claim TTL loses its claim to a redelivery; when it then fails, its
// Release must not end the redelivery's claim, or a third delivery runs beside the second.
func TestLapsedClaimReleaseSparesItsSuccessor(t *testing.T) {
	t.Parallel()
	s, rdb, prefix := newStore(t)
	quick := lapsed(t, rdb, prefix, s)
	require.NoError(t, quick.Release(t.Context(), pushKey, "A"), "A's handler fails at last")
	assert.Equal(t, digelao.ClaimInProgress, claim(t, s, pushKey, "C"), "B is still delivering")

	require.NoError(t, s.Release(t.Context(), pushKey, "B"), "B fails too")
	assert.Equal(t, digelao.ClaimNew, claim(t, s, pushKey, "C"))
}

// A delivery whose claim lapsed did deliver when it completes: the key is done, whoever holds it.
func TestLapsedClaimCompleteMarksDone(t *testing.T) {
	t.Parallel()
	s, rdb, prefix := newStore(t)
	quick := lapsed(t, rdb, prefix, s)
	require.NoError(t, quick.Complete(t.Context(), pushKey, "A"))
	assert.Equal(t, digelao.ClaimDone, claim(t, s, pushKey, "C"))
	require.NoError(t, s.Release(t.Context(), pushKey, "B"), "B's handler fails")
	assert.Equal(t, digelao.ClaimDone, claim(t, s, pushKey, "C"), "the key stays done")
}

func TestClaimExpires(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t, redisstore.WithClaimTTL(100*time.Millisecond), redisstore.WithDoneTTL(150*time.Millisecond))

	require.Equal(t, digelao.ClaimNew, claim(t, s, pushKey, "A"))
	assert.Eventually(t, func() bool {
		st, err := s.Claim(t.Context(), pushKey, "B")
		return err == nil && st == digelao.ClaimNew
	}, 5*time.Second, 10*time.Millisecond, "a claim nobody completes lapses, so a redelivery after a crash is handled")

	require.NoError(t, s.Complete(t.Context(), pushKey, "B"))
	require.Equal(t, digelao.ClaimDone, claim(t, s, pushKey, "C"))
	assert.Eventually(t, func() bool {
		st, err := s.Claim(t.Context(), pushKey, "D")
		return err == nil && st == digelao.ClaimNew
	}, 5*time.Second, 10*time.Millisecond, "the done mark is forgotten after WithDoneTTL")
}

func TestClaimConcurrentHasOneWinner(t *testing.T) {
	t.Parallel()
	stores := sharedStores(t, 4)
	var counts [3]atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 200 {
		wg.Go(func() {
			<-start
			st, err := stores[i%len(stores)].Claim(t.Context(), pushKey, strconv.Itoa(i))
			if assert.NoError(t, err) && assert.Contains(t, []digelao.ClaimState{digelao.ClaimNew, digelao.ClaimInProgress}, st) {
				counts[st].Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	assert.EqualValues(t, 1, counts[digelao.ClaimNew].Load(), "exactly one handler")
	assert.EqualValues(t, 199, counts[digelao.ClaimInProgress].Load())

	require.NoError(t, stores[0].Complete(t.Context(), pushKey, "0"))
	for _, s := range stores {
		assert.Equal(t, digelao.ClaimDone, claim(t, s, pushKey, "A"))
	}
}

// A push key left corrupt — by a crash, another tool, or a hand — must not refuse its record for
// ever: a claim without an expiry (any string but the done mark) or a key of another type is
// repaired by the next Claim, which takes it.
func TestClaimRepairsACorruptKey(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	tests := map[string]func(rdb *redis.Client, key string) error{
		"unexpected value, no TTL":    func(rdb *redis.Client, key string) error { return rdb.Set(ctx, key, "garbage", 0).Err() },
		"empty value":                 func(rdb *redis.Client, key string) error { return rdb.Set(ctx, key, "", 0).Err() },
		"claim without TTL":           func(rdb *redis.Client, key string) error { return rdb.Set(ctx, key, "claim:x", 0).Err() },
		"unknown string with a TTL":   func(rdb *redis.Client, key string) error { return rdb.Set(ctx, key, "1", time.Hour).Err() },
		"earlier claim marker":        func(rdb *redis.Client, key string) error { return rdb.Set(ctx, key, "claimed", time.Hour).Err() },
		"a hash":                      func(rdb *redis.Client, key string) error { return rdb.HSet(ctx, key, "a", "b").Err() },
		"a list that will not expire": func(rdb *redis.Client, key string) error { return rdb.RPush(ctx, key, "x").Err() },
	}
	for name, corrupt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var logs testkit.SyncBuffer
			s, rdb, prefix := newStore(t, redisstore.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			key := prefix + "dedup:" + pushKey
			require.NoError(t, corrupt(rdb, key))

			assert.Equal(t, digelao.ClaimNew, claim(t, s, pushKey, "A"), "the corrupt key is taken over")
			ttl, err := rdb.PTTL(ctx, key).Result()
			require.NoError(t, err)
			assert.InDelta(t, redisstore.DefaultClaimTTL.Seconds(), ttl.Seconds(), 5, "with the claim's TTL")
			assert.Contains(t, logs.String(), "level=WARN")
			assert.Contains(t, logs.String(), key)

			assert.Equal(t, digelao.ClaimInProgress, claim(t, s, pushKey, "B"), "now an ordinary claim…")
			require.NoError(t, s.Release(ctx, pushKey, "A"))
			assert.Equal(t, digelao.ClaimNew, claim(t, s, pushKey, "B"), "…of the token that took it")
		})
	}
}

// A "done" token is a token like any other: its claim is not taken for a completion, and its
// release does not forget one.
func TestClaimTokenDoneIsNoCompletion(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t)
	assert.Equal(t, digelao.ClaimNew, claim(t, s, pushKey, "done"))
	assert.Equal(t, digelao.ClaimInProgress, claim(t, s, pushKey, "B"))
	require.NoError(t, s.Complete(t.Context(), pushKey, "B"))
	require.NoError(t, s.Release(t.Context(), pushKey, "done"))
	assert.Equal(t, digelao.ClaimDone, claim(t, s, pushKey, "C"))
}

func TestClaimLeavesGoodKeysAloneAndSilent(t *testing.T) {
	t.Parallel()
	var logs testkit.SyncBuffer
	s, _, _ := newStore(t, redisstore.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	assert.Equal(t, digelao.ClaimNew, claim(t, s, pushKey, "A"))
	assert.Equal(t, digelao.ClaimInProgress, claim(t, s, pushKey, "B"))
	require.NoError(t, s.Release(t.Context(), pushKey, "A"))
	assert.Equal(t, digelao.ClaimNew, claim(t, s, pushKey, "B"))
	require.NoError(t, s.Complete(t.Context(), pushKey, "B"))
	assert.Equal(t, digelao.ClaimDone, claim(t, s, pushKey, "C"))
	assert.Empty(t, logs.String())
}
