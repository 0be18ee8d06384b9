package redisstore_test

import (
	"log/slog"
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

func claim(t *testing.T, s digelao.DedupStore, key string) digelao.ClaimState {
	t.Helper()
	st, err := s.Claim(t.Context(), key)
	require.NoError(t, err)
	return st
}

func TestClaimCompleteRelease(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, rdb, prefix := newStore(t)

	assert.Equal(t, digelao.ClaimNew, claim(t, s, pushKey), "first delivery")
	assert.Equal(t, digelao.ClaimInProgress, claim(t, s, pushKey), "redelivery while the first is handled")
	ttl, err := rdb.PTTL(ctx, prefix+"dedup:"+pushKey).Result()
	require.NoError(t, err)
	assert.InDelta(t, redisstore.DefaultClaimTTL.Seconds(), ttl.Seconds(), 5, "keys live under prefix + dedup:")

	require.NoError(t, s.Release(ctx, pushKey), "the handler failed")
	assert.Equal(t, digelao.ClaimNew, claim(t, s, pushKey), "a redelivery after a release is handled")

	require.NoError(t, s.Complete(ctx, pushKey))
	assert.Equal(t, digelao.ClaimDone, claim(t, s, pushKey))
	require.NoError(t, s.Release(ctx, pushKey), "releasing a completed key…")
	assert.Equal(t, digelao.ClaimDone, claim(t, s, pushKey), "…keeps it completed")
	ttl, err = rdb.PTTL(ctx, prefix+"dedup:"+pushKey).Result()
	require.NoError(t, err)
	assert.InDelta(t, redisstore.DefaultDoneTTL.Seconds(), ttl.Seconds(), 5)

	assert.Equal(t, digelao.ClaimNew, claim(t, s, "account|other"), "keys are independent")
	require.NoError(t, s.Release(ctx, "account|never-claimed"))
}

func TestClaimExpires(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t, redisstore.WithClaimTTL(100*time.Millisecond), redisstore.WithDoneTTL(150*time.Millisecond))

	require.Equal(t, digelao.ClaimNew, claim(t, s, pushKey))
	assert.Eventually(t, func() bool {
		st, err := s.Claim(t.Context(), pushKey)
		return err == nil && st == digelao.ClaimNew
	}, 5*time.Second, 10*time.Millisecond, "a claim nobody completes lapses, so a redelivery after a crash is handled")

	require.NoError(t, s.Complete(t.Context(), pushKey))
	require.Equal(t, digelao.ClaimDone, claim(t, s, pushKey))
	assert.Eventually(t, func() bool {
		st, err := s.Claim(t.Context(), pushKey)
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
			st, err := stores[i%len(stores)].Claim(t.Context(), pushKey)
			if assert.NoError(t, err) && assert.Contains(t, []digelao.ClaimState{digelao.ClaimNew, digelao.ClaimInProgress}, st) {
				counts[st].Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	assert.EqualValues(t, 1, counts[digelao.ClaimNew].Load(), "exactly one handler")
	assert.EqualValues(t, 199, counts[digelao.ClaimInProgress].Load())

	require.NoError(t, stores[0].Complete(t.Context(), pushKey))
	for _, s := range stores {
		assert.Equal(t, digelao.ClaimDone, claim(t, s, pushKey))
	}
}

// A push key left corrupt — by a crash, another tool, or a hand — must not refuse its record for
// ever: a value that is neither a claim nor the done mark, a claim without an expiry, or a key of
// another type is repaired by the next Claim, which takes it.
func TestClaimRepairsACorruptKey(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	tests := map[string]func(rdb *redis.Client, key string) error{
		"unexpected value, no TTL":    func(rdb *redis.Client, key string) error { return rdb.Set(ctx, key, "garbage", 0).Err() },
		"unexpected value with TTL":   func(rdb *redis.Client, key string) error { return rdb.Set(ctx, key, "1", time.Hour).Err() },
		"empty value":                 func(rdb *redis.Client, key string) error { return rdb.Set(ctx, key, "", 0).Err() },
		"claim without TTL":           func(rdb *redis.Client, key string) error { return rdb.Set(ctx, key, "claimed", 0).Err() },
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

			assert.Equal(t, digelao.ClaimNew, claim(t, s, pushKey), "the corrupt key is taken over")
			ttl, err := rdb.PTTL(ctx, key).Result()
			require.NoError(t, err)
			assert.InDelta(t, redisstore.DefaultClaimTTL.Seconds(), ttl.Seconds(), 5, "with the claim's TTL")
			assert.Contains(t, logs.String(), "level=WARN")
			assert.Contains(t, logs.String(), key)

			assert.Equal(t, digelao.ClaimInProgress, claim(t, s, pushKey), "now an ordinary claim")
			require.NoError(t, s.Complete(ctx, pushKey))
			assert.Equal(t, digelao.ClaimDone, claim(t, s, pushKey))
		})
	}
}

func TestClaimLeavesGoodKeysAloneAndSilent(t *testing.T) {
	t.Parallel()
	var logs testkit.SyncBuffer
	s, _, _ := newStore(t, redisstore.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	assert.Equal(t, digelao.ClaimNew, claim(t, s, pushKey))
	assert.Equal(t, digelao.ClaimInProgress, claim(t, s, pushKey))
	require.NoError(t, s.Complete(t.Context(), pushKey))
	assert.Equal(t, digelao.ClaimDone, claim(t, s, pushKey))
	assert.Empty(t, logs.String())
}
