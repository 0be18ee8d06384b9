package digelao_test

import (
	"bytes"
	"context"
	"encoding/json"
	"hash/fnv"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/digelaotest"
	"github.com/digelao-go/digelao/internal/redistest"
	"github.com/digelao-go/digelao/redisstore"
)

// TestSyncEveryRecordExactlyOnce is issue 15's proof: more than a thousand calls over several
// tasks; the receiver fails 30% of the pushes on every try (the platform gives up on them) and is
// down for a whole task; two replicas share one Redis store, both receive pushes and run the sweep,
// and one of them is cancelled in the middle of a sweep. In the end the sink holds every call record exactly once,
// and the gaps the sweeps filled are exactly the pushes that never got through.
func TestSyncEveryRecordExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("a thousand simulated calls")
	}
	t.Parallel()
	ctx := context.Background()
	clock := digelaotest.NewClock(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	srv := digelaotest.NewServer(digelaotest.WithManualTime(), digelaotest.WithClock(clock.Now))
	t.Cleanup(srv.Close)

	rdb := redis.NewClient(&redis.Options{Addr: redistest.Start(t).Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	store, err := redisstore.New(rdb, redisstore.WithPrefix("e2e-sync-"+t.Name()+":"))
	require.NoError(t, err)

	// The platform's now, which its replies' Date carry: moved by the test past each task's last
	// call, as wall time would.
	setNow := clock.Set
	db := newSinkDB()

	type replica struct {
		rs     *digelao.RecordSync
		h      *digelao.PushHandler
		cancel context.CancelFunc
		done   chan error
	}
	// The second replica is cancelled in the middle of a sweep: at its 150th delivery.
	var second atomic.Pointer[replica]
	var secondDelivered atomic.Int64
	newReplica := func(stopAt int64) *replica {
		c, err := srv.Client(digelao.WithTokenStore(store))
		require.NoError(t, err)
		t.Cleanup(c.CloseIdleConnections)
		sink := db.upsert
		if stopAt > 0 {
			sink = func(ctx context.Context, r *digelao.CallRecord) error {
				if secondDelivered.Add(1) == stopAt {
					second.Load().cancel()
				}
				return db.upsert(ctx, r)
			}
		}
		rs, err := digelao.NewRecordSync(c, sink, digelao.WithSyncStore(store),
			digelao.WithSweepInterval(5*time.Millisecond), digelao.WithLeaseTTL(300*time.Millisecond),
			digelao.WithSyncPageSize(200))
		require.NoError(t, err)
		runCtx, cancel := context.WithCancel(ctx)
		r := &replica{rs: rs, h: &digelao.PushHandler{OnCallRecord: rs.Push, Dedup: store}, cancel: cancel,
			done: make(chan error, 1)}
		go func() { r.done <- rs.Run(runCtx) }()
		return r
	}
	replicas := []*replica{newReplica(0), newReplica(150)}
	second.Store(replicas[1])

	// The receiver: spreads pushes over the replicas, fails 30% of the records on every try, and
	// is down while down is set.
	var down atomic.Bool
	var turn atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "unreadable", http.StatusBadRequest)
			return
		}
		var rec struct {
			SN string `json:"sn"`
		}
		_ = json.Unmarshal(body, &rec)
		if down.Load() || failsAlways(rec.SN) {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		replicas[turn.Add(1)%2].h.ServeHTTP(w, r)
	}))
	t.Cleanup(rcv.Close)
	client, err := srv.Client(digelao.WithTokenStore(store)) // one account: one shared session
	require.NoError(t, err)
	t.Cleanup(client.CloseIdleConnections)
	require.NoError(t, client.SetCallback(ctx, &digelao.CallbackRequest{Open: true, CallbackURL: rcv.URL}))
	cols, err := client.Tasks.ImportColumns(ctx, digelaotest.TemplateSN)
	require.NoError(t, err)

	// Three tasks of 350 calls; the receiver is down for the second; one replica is cancelled
	// after it.
	for task := range 3 {
		contacts := make([]digelao.Contact, 350)
		for i := range contacts {
			contacts[i] = digelao.Contact{Phone: phoneNumber("e2e", task*1000+i)}
		}
		down.Store(task == 1)
		_, err := client.Tasks.Create(ctx, &digelao.CreateTaskRequest{Name: "任务" + string(rune('A'+task)),
			ProjectSN: digelaotest.TemplateSN, SeatSN: digelaotest.SeatSN, AutoStart: true, Columns: cols, Contacts: contacts})
		require.NoError(t, err)
		require.NoError(t, srv.Flush(ctx)) // every call, and every push with its retries
		down.Store(false)
		var last time.Time
		for _, r := range srv.CallRecords() {
			last = maxTime(last, r.EndedAt)
		}
		setNow(last.Add(digelao.DefaultSweepLag + time.Second)) // the lag has passed for every record so far
		waitSwept(t, replicas[0].rs, replicas[1].rs, last)
	}
	require.ErrorIs(t, <-replicas[1].done, context.Canceled, "the second replica was cancelled mid-run")
	require.GreaterOrEqual(t, secondDelivered.Load(), int64(150))
	// After the fake is flushed, one more sweep.
	require.NoError(t, srv.Flush(ctx))
	records := srv.CallRecords()
	_, err = replicas[0].rs.Sweep(ctx, records[0].EndedAt.Add(-time.Minute), clock.Now())
	require.NoError(t, err)
	replicas[0].cancel()
	require.ErrorIs(t, <-replicas[0].done, context.Canceled)

	require.GreaterOrEqual(t, len(records), 1000)
	stored, repeated := db.counts()
	assert.Equal(t, len(records), stored, "every record of the platform")
	assert.Zero(t, repeated, "exactly once")
	for _, r := range records {
		assert.Equal(t, 1, db.bySN[r.SN], r.SN)
	}
	pushed := map[string]bool{}
	for _, p := range srv.Pushes() {
		var rec struct {
			SN string `json:"sn"`
		}
		if p.Kind == digelaotest.PushCall && p.OK && json.Unmarshal(p.Body, &rec) == nil {
			pushed[rec.SN] = true
		}
	}
	var filled, delivered int64
	for _, r := range replicas {
		st := r.rs.Stats()
		filled += st.GapsFilled
		delivered += st.Pushed
		t.Logf("replica: %+v", st)
	}
	t.Logf("%d records, %d pushed through, %d gaps filled by sweeps", len(records), len(pushed), filled)
	assert.EqualValues(t, len(records)-len(pushed), filled, "gaps filled = pushes that never got through")
	assert.EqualValues(t, len(pushed), delivered)
	assert.Greater(t, filled, int64(350), "the down task and 30% of the others")
}

// failsAlways picks 30% of the records, by sn, whose pushes the receiver fails on every try.
func failsAlways(sn string) bool {
	h := fnv.New32a()
	_, _ = h.Write([]byte(sn))
	return h.Sum32()%10 < 3
}

// waitSwept waits until a replica has stored a checkpoint at or past t.
func waitSwept(t *testing.T, a, b *digelao.RecordSync, at time.Time) {
	t.Helper()
	require.Eventually(t, func() bool {
		return !a.Stats().Checkpoint.Before(at) || !b.Stats().Checkpoint.Before(at)
	}, 30*time.Second, 5*time.Millisecond)
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
