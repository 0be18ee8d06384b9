package redisstore_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/internal/redistest"
	"github.com/digelao-go/digelao/redisstore"
)

const sessKey = "session:0123456789abcdef01234567"

func session(apiKey string, expires time.Time) *digelao.Session {
	return &digelao.Session{UserSN: "SYSUSER|b3397882e26ba9e7fb8f01f1af345bde", APIKey: digelao.NewSecret(apiKey), ExpiresAt: expires,
		UserID: 3635, UserName: "zzh", TeamName: "人工智能客户组", AICount: 15, AccountExpires: "2027-07-11"}
}

func TestGetPutRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, rdb, prefix := newStore(t)

	got, err := s.Get(ctx, sessKey)
	require.NoError(t, err)
	assert.Nil(t, got, "nothing stored yet")

	want := session("Kpd2vKYC", time.Unix(time.Now().Unix()+7200, 0))
	require.NoError(t, s.Put(ctx, sessKey, want))
	got, err = s.Get(ctx, sessKey)
	require.NoError(t, err)
	require.NotNil(t, got)
	assert.True(t, want.ExpiresAt.Equal(got.ExpiresAt), "expires_at %s, want %s", got.ExpiresAt, want.ExpiresAt)
	got.ExpiresAt = want.ExpiresAt
	assert.Equal(t, want, got)

	n, err := rdb.Exists(ctx, prefix+sessKey).Result()
	require.NoError(t, err)
	assert.EqualValues(t, 1, n, "the Redis key is the prefix plus the SDK's key")
}

func TestDefaultPrefix(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	rdb := newClient(t, redistest.Addr(t))
	key := "session:" + uniquePrefix(t)
	s, err := redisstore.New(rdb)
	require.NoError(t, err)
	require.NoError(t, s.Put(ctx, key, session("AbCd1234", time.Now().Add(time.Hour))))
	t.Cleanup(func() { rdb.Del(context.Background(), "digelao:"+key) })
	n, err := rdb.Exists(ctx, "digelao:"+key).Result()
	require.NoError(t, err)
	assert.EqualValues(t, 1, n)
}

func TestDeleteComparesAPIKey(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, _, _ := newStore(t)
	exp := time.Now().Add(time.Hour)

	require.NoError(t, s.Put(ctx, sessKey, session("OLDkey01", exp)))
	require.NoError(t, s.Put(ctx, sessKey, session("NEWkey02", exp)), "another instance stored a newer key")
	require.NoError(t, s.Delete(ctx, sessKey, "OLDkey01"), "the refused old key")
	got, err := s.Get(ctx, sessKey)
	require.NoError(t, err)
	require.NotNil(t, got, "the newer key survives a delete of the old one")
	assert.Equal(t, "NEWkey02", got.APIKey.Value())

	require.NoError(t, s.Delete(ctx, sessKey, "NEWkey02"))
	got, err = s.Get(ctx, sessKey)
	require.NoError(t, err)
	assert.Nil(t, got, "the matching key is deleted")

	require.NoError(t, s.Delete(ctx, sessKey, "NEWkey02"), "deleting nothing is not an error")
}

func TestForeignValueIsNoSession(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, rdb, prefix := newStore(t)
	for _, v := range []string{"not json", `"a string"`, `{"user_sn":"x"}`, `[1,2]`} {
		require.NoError(t, rdb.Set(ctx, prefix+sessKey, v, time.Minute).Err())
		got, err := s.Get(ctx, sessKey)
		require.NoError(t, err, v)
		assert.Nil(t, got, "%s is not a session", v)
		require.NoError(t, s.Delete(ctx, sessKey, "x"), "the script copes with %s", v)
	}
	require.NoError(t, s.Put(ctx, sessKey, session("AbCd1234", time.Now().Add(time.Hour))), "Put replaces it")
	got, err := s.Get(ctx, sessKey)
	require.NoError(t, err)
	require.NotNil(t, got)
	assert.Equal(t, "AbCd1234", got.APIKey.Value())
}

func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, rdb, prefix := newStore(t)

	require.NoError(t, s.Put(ctx, sessKey, session("AbCd1234", time.Now().Add(2*time.Hour))))
	ttl, err := rdb.PTTL(ctx, prefix+sessKey).Result()
	require.NoError(t, err)
	assert.InDelta(t, (2 * time.Hour).Seconds(), ttl.Seconds(), 60, "the key expires with the api_key")

	require.NoError(t, s.Put(ctx, sessKey, session("Short123", time.Now().Add(200*time.Millisecond))))
	got, err := s.Get(ctx, sessKey)
	require.NoError(t, err)
	require.NotNil(t, got)
	assert.Eventually(t, func() bool {
		got, err := s.Get(ctx, sessKey)
		return err == nil && got == nil
	}, 5*time.Second, 20*time.Millisecond, "the session vanishes when it expires")

	require.NoError(t, s.Put(ctx, sessKey, session("AbCd1234", time.Now().Add(time.Hour))))
	require.NoError(t, s.Put(ctx, sessKey, session("Expired1", time.Now().Add(-time.Second))))
	got, err = s.Get(ctx, sessKey)
	require.NoError(t, err)
	assert.Nil(t, got, "putting an expired session leaves none")
}

func TestSessionWithoutExpiry(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		opts []redisstore.Option
		want time.Duration
	}{
		{"default", nil, redisstore.DefaultSessionTTL},
		{"option", []redisstore.Option{redisstore.WithSessionTTL(time.Minute)}, time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, rdb, prefix := newStore(t, tc.opts...)
			require.NoError(t, s.Put(ctx, sessKey, session("AbCd1234", time.Time{})))
			ttl, err := rdb.PTTL(ctx, prefix+sessKey).Result()
			require.NoError(t, err)
			assert.InDelta(t, tc.want.Seconds(), ttl.Seconds(), 5)
		})
	}
}

func TestLockIsExclusive(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, rdb, prefix := newStore(t)

	unlock, ok, err := s.Lock(ctx, sessKey, 30*time.Second)
	require.NoError(t, err)
	require.True(t, ok)
	ttl, err := rdb.PTTL(ctx, prefix+sessKey+":lock").Result()
	require.NoError(t, err)
	assert.InDelta(t, 30, ttl.Seconds(), 2, "the lock carries its ttl")

	other, ok, err := s.Lock(ctx, sessKey, 30*time.Second)
	require.NoError(t, err)
	assert.False(t, ok, "the lock is held")
	assert.Nil(t, other)

	require.NoError(t, unlock(ctx))
	require.NoError(t, unlock(ctx), "a second release is harmless")
	unlock2, ok, err := s.Lock(ctx, sessKey, 30*time.Second)
	require.NoError(t, err)
	require.True(t, ok, "free again after release")
	require.NoError(t, unlock2(ctx))
}

func TestLockConcurrentHasOneWinner(t *testing.T) {
	t.Parallel()
	stores := sharedStores(t, 4)
	assertOneWinner(t, func(i int) (bool, error) {
		_, ok, err := stores[i%len(stores)].Lock(t.Context(), sessKey, time.Minute)
		return ok, err
	})
}

// assertOneWinner runs try from 200 goroutines at once and asserts that exactly one won.
func assertOneWinner(t *testing.T, try func(i int) (bool, error)) {
	t.Helper()
	var winners atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 200 {
		wg.Go(func() {
			<-start
			ok, err := try(i)
			assert.NoError(t, err)
			if ok {
				winners.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	assert.EqualValues(t, 1, winners.Load())
}

func TestLockExpiresAndOnlyOwnerReleases(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, _, _ := newStore(t)

	unlockA, ok, err := s.Lock(ctx, sessKey, 100*time.Millisecond)
	require.NoError(t, err)
	require.True(t, ok)

	var unlockB func(context.Context) error
	require.Eventually(t, func() bool {
		u, ok, err := s.Lock(ctx, sessKey, time.Minute)
		if err != nil || !ok {
			return false
		}
		unlockB = u
		return true
	}, 5*time.Second, 10*time.Millisecond, "A's lock expires after its ttl")

	require.NoError(t, unlockA(ctx), "A's late release is not an error")
	_, ok, err = s.Lock(ctx, sessKey, time.Minute)
	require.NoError(t, err)
	assert.False(t, ok, "A's late release must not free B's lock")

	require.NoError(t, unlockB(ctx))
	unlockC, ok, err := s.Lock(ctx, sessKey, time.Minute)
	require.NoError(t, err)
	assert.True(t, ok, "B's release frees it")
	require.NoError(t, unlockC(ctx))
}

// TestLockWithoutExpiryIsRepaired: a lock key left without an expiry (by a crash of another tool,
// or by hand) is given the lock's TTL, so it frees itself like any lock; one with an expiry is
// left as it is.
func TestLockWithoutExpiryIsRepaired(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, rdb, prefix := newStore(t)
	lk := prefix + sessKey + ":lock"
	require.NoError(t, rdb.Set(ctx, lk, "other-tool", 0).Err())

	_, ok, err := s.Lock(ctx, sessKey, 300*time.Millisecond)
	require.NoError(t, err)
	assert.False(t, ok, "the lock is held")
	ttl, err := rdb.PTTL(ctx, lk).Result()
	require.NoError(t, err)
	assert.Greater(t, ttl, time.Duration(0), "the lock now expires")
	assert.LessOrEqual(t, ttl, 300*time.Millisecond)
	start := time.Now()
	var unlock func(context.Context) error
	require.Eventually(t, func() bool {
		u, ok, err := s.Lock(ctx, sessKey, time.Minute)
		unlock = u
		return err == nil && ok
	}, 5*time.Second, 10*time.Millisecond, "and can be taken once it has")
	t.Logf("MEASURED: a lock without TTL was free again %s after the first attempt to take it (ttl 300ms)",
		time.Since(start).Round(time.Millisecond))
	require.NoError(t, unlock(ctx))

	require.NoError(t, rdb.Set(ctx, lk, "other-holder", time.Minute).Err())
	_, ok, err = s.Lock(ctx, sessKey, time.Second)
	require.NoError(t, err)
	assert.False(t, ok)
	ttl, err = rdb.PTTL(ctx, lk).Result()
	require.NoError(t, err)
	assert.InDelta(t, time.Minute.Seconds(), ttl.Seconds(), 2, "a lock with an expiry keeps it")
}

func TestBadArguments(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, _, _ := newStore(t)

	_, ok, err := s.Lock(ctx, sessKey, 0)
	assert.ErrorContains(t, err, "redisstore: lock: ttl must be positive")
	assert.False(t, ok)
	assert.ErrorContains(t, s.Put(ctx, sessKey, nil), "redisstore: put: nil session")
	_, err = s.Get(ctx, "")
	assert.ErrorContains(t, err, "redisstore: get: empty key")
	_, err = s.Claim(ctx, "", "token")
	assert.ErrorContains(t, err, "redisstore: claim: empty key")
	_, err = s.Claim(ctx, "k", "")
	assert.ErrorContains(t, err, "redisstore: claim: empty token")
	assert.ErrorContains(t, s.Release(ctx, "k", ""), "redisstore: release: empty token")
	ok, err = s.Lease(ctx, "sync:1", "owner", 0)
	assert.ErrorContains(t, err, "redisstore: lease: ttl must be positive")
	assert.False(t, ok)
	_, err = s.Lease(ctx, "sync:1", "", time.Second)
	assert.ErrorContains(t, err, "redisstore: lease: empty owner")
	assert.ErrorContains(t, s.Unlease(ctx, "sync:1", ""), "redisstore: unlease: empty owner")
	_, err = s.Lease(ctx, "", "owner", time.Second)
	assert.ErrorContains(t, err, "redisstore: lease: empty key")
	_, err = s.Checkpoint(ctx, "")
	assert.ErrorContains(t, err, "redisstore: checkpoint: empty key")

	nilStore := &redisstore.Store{} // not made by New
	_, err = nilStore.Get(ctx, sessKey)
	assert.ErrorContains(t, err, "redisstore: get: nil redis client")
	assert.ErrorContains(t, nilStore.Complete(ctx, "k", "token"), "redisstore: complete: nil redis client")
	assert.ErrorContains(t, nilStore.Unlease(ctx, "sync:1", "owner"), "redisstore: unlease: nil redis client")
}

// TestNewValidatesOptions: New refuses a nil client and every option out of range, with the
// option's name, and sends nothing.
func TestNewValidatesOptions(t *testing.T) {
	t.Parallel()
	_, err := redisstore.New(nil)
	assert.ErrorContains(t, err, "redisstore: new: nil redis client")
	rdb := redis.NewClient(&redis.Options{Addr: redistest.ClosedAddr(t)})
	t.Cleanup(func() { _ = rdb.Close() })
	for name, opt := range map[string]redisstore.Option{
		"WithSessionTTL": redisstore.WithSessionTTL(0), "WithClaimTTL": redisstore.WithClaimTTL(-time.Second),
		"WithDoneTTL": redisstore.WithDoneTTL(time.Microsecond), "WithLogger": redisstore.WithLogger(nil), "nil Option": nil,
	} {
		s, err := redisstore.New(rdb, opt)
		assert.Nil(t, s, name)
		assert.ErrorContains(t, err, name)
	}
	s, err := redisstore.New(rdb, redisstore.WithPrefix(""), redisstore.WithClaimTTL(time.Millisecond))
	require.NoError(t, err)
	assert.NotNil(t, s)
}

// TestRedisDown: with no Redis, every method fails with an error naming the operation and the cause.
func TestRedisDown(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	rdb := redis.NewClient(&redis.Options{Addr: redistest.ClosedAddr(t), MaxRetries: -1, DialerRetries: 1}) // one dial per call
	t.Cleanup(func() { _ = rdb.Close() })
	s, err := redisstore.New(rdb)
	require.NoError(t, err)

	_, err = s.Get(ctx, sessKey)
	assertDown(t, err, "get")
	assertDown(t, s.Put(ctx, sessKey, session("AbCd1234", time.Now().Add(time.Hour))), "put")
	assertDown(t, s.Delete(ctx, sessKey, "AbCd1234"), "delete")
	unlock, ok, err := s.Lock(ctx, sessKey, time.Second)
	assertDown(t, err, "lock")
	assert.False(t, ok)
	assert.Nil(t, unlock)
	_, err = s.Claim(ctx, "account|1", "token")
	assertDown(t, err, "claim")
	assertDown(t, s.Complete(ctx, "account|1", "token"), "complete")
	assertDown(t, s.Release(ctx, "account|1", "token"), "release")
	_, err = s.Checkpoint(ctx, "sync:1")
	assertDown(t, err, "checkpoint")
	assertDown(t, s.SetCheckpoint(ctx, "sync:1", time.Now()), "set checkpoint")
	assertDown(t, s.SetCheckpoint(ctx, "sync:1", time.Time{}), "set checkpoint")
	ok, err = s.Lease(ctx, "sync:1", "owner", time.Second)
	assertDown(t, err, "lease")
	assert.False(t, ok)
	assertDown(t, s.Unlease(ctx, "sync:1", "owner"), "unlease")
}

func assertDown(t *testing.T, err error, op string) {
	t.Helper()
	require.Error(t, err, op)
	assert.Regexp(t, `^redisstore: `+op+`: dial tcp 127\.0\.0\.1:\d+: connect: connection refused$`, err.Error())
}

// TestRedisStops: a server that goes away mid-use turns into errors, including for an unlock.
func TestRedisStops(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	s, err := redisstore.New(rdb)
	require.NoError(t, err)
	require.NoError(t, s.Put(ctx, sessKey, session("AbCd1234", time.Now().Add(time.Hour))))
	unlock, ok, err := s.Lock(ctx, sessKey, time.Minute)
	require.NoError(t, err)
	require.True(t, ok)

	srv.Stop()
	_, err = s.Get(ctx, sessKey)
	require.Error(t, err)
	assert.Regexp(t, `^redisstore: get: `, err.Error())
	err = unlock(ctx)
	require.Error(t, err)
	assert.Regexp(t, `^redisstore: unlock: `, err.Error())
}

// sharedStores returns n Stores with a prefix of t's own, each on its own connection pool, as n
// processes would have.
func sharedStores(t *testing.T, n int, opts ...redisstore.Option) []*redisstore.Store {
	t.Helper()
	opts = append([]redisstore.Option{redisstore.WithPrefix(uniquePrefix(t))}, opts...)
	stores := make([]*redisstore.Store, n)
	for i := range stores {
		var err error
		stores[i], err = redisstore.New(newClient(t, redistest.Addr(t)), opts...)
		require.NoError(t, err)
	}
	return stores
}
