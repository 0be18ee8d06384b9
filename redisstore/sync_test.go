package redisstore_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/digelaotest"
	"github.com/digelao-go/digelao/internal/redistest"
	"github.com/digelao-go/digelao/internal/testkit"
	"github.com/digelao-go/digelao/redisstore"
)

var _ digelao.SyncStore = (*redisstore.Store)(nil)

const syncName = "sync:0123456789abcdef01234567" // as the SDK names an account's sync

func lease(t *testing.T, s digelao.SyncStore, owner string, ttl time.Duration) bool {
	t.Helper()
	ok, err := s.Lease(t.Context(), syncName, owner, ttl)
	require.NoError(t, err)
	return ok
}

func TestLeaseIsExclusiveAndExtendedByItsOwner(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, rdb, prefix := newStore(t)
	key := prefix + syncName + ":lease"

	require.True(t, lease(t, s, "a", 30*time.Second))
	ttl, err := rdb.PTTL(ctx, key).Result()
	require.NoError(t, err)
	assert.InDelta(t, 30, ttl.Seconds(), 2, "the lease lives under prefix + name + :lease, with its ttl")

	assert.False(t, lease(t, s, "b", time.Minute), "another owner is refused")
	ttl, err = rdb.PTTL(ctx, key).Result()
	require.NoError(t, err)
	assert.InDelta(t, 30, ttl.Seconds(), 2, "and changes nothing")

	assert.True(t, lease(t, s, "a", time.Minute), "the owner extends it")
	ttl, err = rdb.PTTL(ctx, key).Result()
	require.NoError(t, err)
	assert.InDelta(t, 60, ttl.Seconds(), 2, "to ttl from now")
	assert.Equal(t, "a", rdb.Get(ctx, key).Val())

	ok, err := s.Lease(ctx, "sync:other", "b", time.Minute)
	require.NoError(t, err)
	assert.True(t, ok, "leases of other names are independent")
}

func TestLeaseConcurrentHasOneWinner(t *testing.T) {
	t.Parallel()
	stores := sharedStores(t, 4)
	assertOneWinner(t, func(i int) (bool, error) {
		return stores[i%len(stores)].Lease(t.Context(), syncName, fmt.Sprint("owner-", i), time.Minute)
	})
}

func TestLeaseLapsesAndOnlyItsOwnerGivesItUp(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, _, _ := newStore(t)

	require.True(t, lease(t, s, "a", 100*time.Millisecond))
	start := time.Now()
	require.Eventually(t, func() bool { return lease(t, s, "b", time.Minute) }, 5*time.Second, 10*time.Millisecond,
		"the lease of a holder that stopped renewing it lapses after its ttl")
	t.Logf("MEASURED: b took the lease %s after a took it for 100ms", time.Since(start).Round(time.Millisecond))

	assert.False(t, lease(t, s, "a", time.Minute), "a cannot extend b's lease")
	require.NoError(t, s.Unlease(ctx, syncName, "a"), "a's late Unlease is no error…")
	assert.False(t, lease(t, s, "c", time.Minute), "…and leaves b's lease alone")

	require.NoError(t, s.Unlease(ctx, syncName, "b"))
	assert.True(t, lease(t, s, "c", time.Minute), "b's Unlease frees it")
	require.NoError(t, s.Unlease(ctx, "sync:never-leased", "c"))
}

// A lease key without an expiry — which no Store sets: another tool, or a hand — would stop every
// sweep for ever: Lease gives it the lease's ttl (and logs it), so it lapses like a lease.
func TestLeaseWithoutExpiryIsRepaired(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	tests := map[string]func(rdb *redis.Client, key string) error{
		"a foreign value": func(rdb *redis.Client, key string) error { return rdb.Set(ctx, key, "other-tool", 0).Err() },
		"an empty value":  func(rdb *redis.Client, key string) error { return rdb.Set(ctx, key, "", 0).Err() },
		"a hash":          func(rdb *redis.Client, key string) error { return rdb.HSet(ctx, key, "owner", "a").Err() },
	}
	for name, corrupt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var logs testkit.SyncBuffer
			s, rdb, prefix := newStore(t, redisstore.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			key := prefix + syncName + ":lease"
			require.NoError(t, corrupt(rdb, key))

			require.NoError(t, s.Unlease(ctx, syncName, "a"), "Unlease leaves what is not its lease alone")
			assert.False(t, lease(t, s, "a", 300*time.Millisecond), "held by whoever wrote it…")
			ttl, err := rdb.PTTL(ctx, key).Result()
			require.NoError(t, err)
			assert.Greater(t, ttl, time.Duration(0), "…but it now expires")
			assert.LessOrEqual(t, ttl, 300*time.Millisecond)
			assert.Contains(t, logs.String(), "level=WARN")
			assert.Contains(t, logs.String(), key)

			require.Eventually(t, func() bool { return lease(t, s, "a", time.Minute) }, 5*time.Second, 10*time.Millisecond,
				"and can be taken once it has lapsed")
		})
	}

	t.Run("the owner's own lease without expiry", func(t *testing.T) {
		t.Parallel()
		var logs testkit.SyncBuffer
		s, rdb, prefix := newStore(t, redisstore.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		key := prefix + syncName + ":lease"
		require.NoError(t, rdb.Set(ctx, key, "a", 0).Err())
		assert.True(t, lease(t, s, "a", time.Minute), "its owner extends it, with an expiry")
		ttl, err := rdb.PTTL(ctx, key).Result()
		require.NoError(t, err)
		assert.InDelta(t, 60, ttl.Seconds(), 2)
		assert.Empty(t, logs.String())
	})

	t.Run("a foreign lease with an expiry", func(t *testing.T) {
		t.Parallel()
		var logs testkit.SyncBuffer
		s, rdb, prefix := newStore(t, redisstore.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		key := prefix + syncName + ":lease"
		require.NoError(t, rdb.Set(ctx, key, "b", time.Minute).Err())
		assert.False(t, lease(t, s, "a", time.Second))
		ttl, err := rdb.PTTL(ctx, key).Result()
		require.NoError(t, err)
		assert.InDelta(t, 60, ttl.Seconds(), 2, "an ordinary lease keeps its expiry")
		assert.Empty(t, logs.String(), "and is no repair")
	})
}

func TestCheckpointRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, rdb, prefix := newStore(t)
	key := prefix + syncName + ":checkpoint"

	got, err := s.Checkpoint(ctx, syncName)
	require.NoError(t, err)
	assert.True(t, got.IsZero(), "no checkpoint yet")

	china := time.FixedZone("CST", 8*3600)
	at := time.Date(2026, 11, 2, 17, 4, 5, 123456789, china)
	require.NoError(t, rdb.Set(ctx, key, "stale", time.Hour).Err())
	require.NoError(t, s.SetCheckpoint(ctx, syncName, at))
	got, err = s.Checkpoint(ctx, syncName)
	require.NoError(t, err)
	assert.True(t, got.Equal(at), "exact to the nanosecond: got %s", got)
	assert.Equal(t, "2026-11-02T09:04:05.123456789Z", rdb.Get(ctx, key).Val(), "RFC 3339 in UTC, readable in redis-cli")
	ttl, err := rdb.PTTL(ctx, key).Result()
	require.NoError(t, err)
	assert.Equal(t, time.Duration(-1), ttl, "a checkpoint never expires, even over a key that did")

	require.NoError(t, rdb.Set(ctx, key, "2026-11-01T08:00:00+08:00", 0).Err(), "one set by hand")
	got, err = s.Checkpoint(ctx, syncName)
	require.NoError(t, err)
	assert.True(t, got.Equal(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)), "got %s", got)

	got, err = s.Checkpoint(ctx, "sync:other")
	require.NoError(t, err)
	assert.True(t, got.IsZero(), "checkpoints of other names are independent")

	require.NoError(t, s.SetCheckpoint(ctx, syncName, time.Time{}))
	assert.Zero(t, rdb.Exists(ctx, key).Val(), "the zero time deletes the checkpoint")
	got, err = s.Checkpoint(ctx, syncName)
	require.NoError(t, err)
	assert.True(t, got.IsZero())
}

// A checkpoint key that holds no time is an error, not the zero time: read as "no checkpoint",
// the sync would sweep only its look-back and miss whatever lay between the lost checkpoint and
// the look-back. Storing a checkpoint, or deleting the key, ends it.
func TestCorruptCheckpointIsAnError(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	tests := map[string]func(rdb *redis.Client, key string) error{
		"garbage":          func(rdb *redis.Client, key string) error { return rdb.Set(ctx, key, "garbage", 0).Err() },
		"unix ms":          func(rdb *redis.Client, key string) error { return rdb.Set(ctx, key, "1793610245000", 0).Err() },
		"a platform time":  func(rdb *redis.Client, key string) error { return rdb.Set(ctx, key, "2026-11-02 17:04:05", 0).Err() },
		"empty":            func(rdb *redis.Client, key string) error { return rdb.Set(ctx, key, "", 0).Err() },
		"another key type": func(rdb *redis.Client, key string) error { return rdb.RPush(ctx, key, "x").Err() },
	}
	for name, corrupt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, rdb, prefix := newStore(t)
			key := prefix + syncName + ":checkpoint"
			require.NoError(t, corrupt(rdb, key))

			got, err := s.Checkpoint(ctx, syncName)
			require.Error(t, err)
			assert.Regexp(t, `^redisstore: checkpoint: `, err.Error())
			assert.True(t, got.IsZero())

			at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
			require.NoError(t, s.SetCheckpoint(ctx, syncName, at), "storing a checkpoint repairs it")
			got, err = s.Checkpoint(ctx, syncName)
			require.NoError(t, err)
			assert.True(t, got.Equal(at))
		})
	}
	s, rdb, prefix := newStore(t)
	require.NoError(t, rdb.Set(ctx, prefix+syncName+":checkpoint", "garbage", 0).Err())
	_, err := s.Checkpoint(ctx, syncName)
	assert.ErrorContains(t, err, prefix+syncName+":checkpoint holds no RFC 3339 time", "it names the key to fix")
}

// leaseCounter counts the leases a Store refused.
type leaseCounter struct {
	*redisstore.Store
	refused *atomic.Int32
}

func (l leaseCounter) Lease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	ok, err := l.Store.Lease(ctx, name, owner, ttl)
	if err == nil && !ok {
		l.refused.Add(1)
	}
	return ok, err
}

// Two RecordSync replicas share one Store and both Run: they sweep one at a time, and every record
// is delivered exactly once. The receiver is down, so only sweeps deliver; the sweeping replica is
// cancelled mid-sweep, and the other takes over at its next interval.
func TestRecordSyncReplicasSweepOneAtATime(t *testing.T) {
	t.Parallel()
	const calls, cancelAt = 50, 35
	clock := digelaotest.NewClock(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	srv := digelaotest.NewServer(digelaotest.WithManualTime(), digelaotest.WithClock(clock.Now))
	t.Cleanup(srv.Close)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "receiver down", http.StatusServiceUnavailable)
	}))
	t.Cleanup(receiver.Close)

	prefix := uniquePrefix(t)
	var refused atomic.Int32
	stores := make([]leaseCounter, 2)
	clients := make([]*digelao.Client, 2)
	for i := range 2 {
		s, err := redisstore.New(newClient(t, redistest.Addr(t)), redisstore.WithPrefix(prefix))
		require.NoError(t, err)
		stores[i] = leaseCounter{Store: s, refused: &refused}
		clients[i], err = srv.Client(digelao.WithTokenStore(s))
		require.NoError(t, err)
		t.Cleanup(clients[i].CloseIdleConnections)
	}

	ctx := t.Context()
	require.NoError(t, clients[0].SetCallback(ctx, &digelao.CallbackRequest{Open: true, CallbackURL: receiver.URL}))
	cols, err := clients[0].Tasks.ImportColumns(ctx, digelaotest.TemplateSN)
	require.NoError(t, err)
	contacts := make([]digelao.Contact, calls)
	for i := range contacts {
		contacts[i] = digelao.Contact{Phone: fmt.Sprintf("138%08d", i)}
	}
	_, err = clients[0].Tasks.Create(ctx, &digelao.CreateTaskRequest{Name: "回访", ProjectSN: digelaotest.TemplateSN,
		SeatSN: digelaotest.SeatSN, AutoStart: true, Columns: cols, Contacts: contacts})
	require.NoError(t, err)
	require.NoError(t, srv.Flush(ctx))
	records := srv.CallRecords()
	require.Len(t, records, calls)
	var now time.Time // the simulation's now: after the last call
	for _, r := range records {
		if r.EndedAt.After(now) {
			now = r.EndedAt.Add(time.Minute)
		}
	}
	clock.Set(now) // the platform's clock, which its replies' Date carry
	for _, p := range srv.Pushes() {
		require.False(t, p.OK, "the receiver is down: nothing is pushed")
	}

	var (
		mu                sync.Mutex
		bySN              = map[string]int{}
		order             []int // which replica delivered, in order
		active, maxActive int   // sink calls under way at once
	)
	runCtx := make([]context.Context, 2)
	cancel := make([]context.CancelFunc, 2)
	syncs := make([]*digelao.RecordSync, 2)
	var logs testkit.SyncBuffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	for i := range 2 {
		runCtx[i], cancel[i] = context.WithCancel(ctx)
		sink := func(ctx context.Context, r *digelao.CallRecord) error {
			if err := ctx.Err(); err != nil {
				return err // as a database call would
			}
			mu.Lock()
			active++
			maxActive = max(maxActive, active)
			mu.Unlock()
			time.Sleep(40 * time.Millisecond) // a sweep outlasts an interval
			mu.Lock()
			defer mu.Unlock()
			active--
			bySN[r.SN]++
			order = append(order, i)
			if len(order) == cancelAt {
				cancel[i]() // the sweeping replica goes away mid-sweep
			}
			return nil
		}
		syncs[i], err = digelao.NewRecordSync(clients[i], sink, digelao.WithSyncStore(stores[i]),
			digelao.WithSweepInterval(time.Second), digelao.WithLeaseTTL(2*time.Second), digelao.WithSweepLag(0),
			digelao.WithSyncPageSize(10),
			digelao.WithSyncLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		require.NoError(t, err)
	}

	start := time.Now()
	runErr := make(chan error, 2)
	for i := range 2 {
		go func() { runErr <- syncs[i].Run(runCtx[i]) }()
	}
	delivered := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(order)
	}
	stored := func() bool { return !syncs[0].Stats().Checkpoint.IsZero() || !syncs[1].Stats().Checkpoint.IsZero() }
	assert.Eventually(t, func() bool { return delivered() >= calls && stored() }, 30*time.Second, 10*time.Millisecond,
		"every record delivered, and the sweep that completed stored its checkpoint")
	took := time.Since(start)
	cancel[0]()
	cancel[1]()
	for range 2 {
		assert.ErrorIs(t, <-runErr, context.Canceled)
	}

	mu.Lock()
	defer mu.Unlock()
	for _, r := range records {
		assert.Equal(t, 1, bySN[r.SN], "record %s delivered once", r.SN)
	}
	assert.Len(t, bySN, calls)
	assert.Equal(t, 1, maxActive, "the replicas never swept at the same time")
	first := order[0]
	for n, i := range order {
		want := first
		if n >= cancelAt {
			want = 1 - first
		}
		require.Equal(t, want, i, "delivery %d: the first sweeper delivers until it is cancelled, then the other", n)
	}
	assert.Positive(t, refused.Load(), "a replica was refused the lease while the other swept")
	assert.EqualValues(t, cancelAt, syncs[first].Stats().GapsFilled)
	assert.EqualValues(t, calls-cancelAt, syncs[1-first].Stats().GapsFilled)
	assert.EqualValues(t, cancelAt, syncs[1-first].Stats().Duplicates, "what the first delivered is not delivered again")
	t.Logf("MEASURED: %d records delivered by two replicas in %s (replica %d: %d, then replica %d: %d); leases refused: %d",
		calls, took.Round(time.Millisecond), first, cancelAt, 1-first, calls-cancelAt, refused.Load())

	// The second replica's complete sweep stored the checkpoint; both gave the lease up.
	assert.True(t, syncs[1-first].Stats().Checkpoint.Equal(now))
	assert.True(t, syncs[first].Stats().Checkpoint.IsZero(), "the cancelled sweep stored none")
	rdb := newClient(t, redistest.Addr(t))
	found, err := rdb.Keys(ctx, prefix+"*").Result()
	require.NoError(t, err)
	var checkpoints []string
	for _, k := range found {
		assert.NotRegexp(t, `:lease$`, k, "the lease is given up")
		if regexp.MustCompile(`^` + regexp.QuoteMeta(prefix) + `sync:[0-9a-f]{24}:checkpoint$`).MatchString(k) {
			checkpoints = append(checkpoints, k)
		}
	}
	require.Len(t, checkpoints, 1, "keys: %v", found)
	mark, err := time.Parse(time.RFC3339Nano, rdb.Get(ctx, checkpoints[0]).Val())
	require.NoError(t, err)
	assert.True(t, mark.Equal(now), "the checkpoint is the end of the sweep (no lag): %s, want %s", mark, now)
}
