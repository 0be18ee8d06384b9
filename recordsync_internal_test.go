package digelao

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao/internal/flex"
)

// A record listed before its call ended is not delivered, and holds the checkpoint back so that a
// later sweep sees it again; once final, it is delivered.
func TestSyncHoldsBackRecordsNotFinal(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	at := time.Date(2026, 11, 2, 10, 0, 0, 0, flex.China)
	var ended atomic.Bool
	mt.RegisterResponder("POST", testBase+"/api/crmList", func(*http.Request) (*http.Response, error) {
		rows := []string{
			fmt.Sprintf(`{"id":1,"sn":"account|1","created_at":%q,"disconnected_at":%q}`, platformTime(at), platformTime(at)),
			fmt.Sprintf(`{"id":2,"sn":"account|2","created_at":%q,"disconnected_at":""}`, platformTime(at.Add(time.Minute))),
		}
		if ended.Load() {
			rows[1] = strings.Replace(rows[1], `"disconnected_at":""`, fmt.Sprintf(`"disconnected_at":%q`, platformTime(at.Add(2*time.Minute))), 1)
		}
		return httpmock.NewStringResponse(200, `{"code":0,"data":{"total":2,"list":[`+strings.Join(rows, ",")+`]}}`), nil
	})
	var got []string
	sink := func(_ context.Context, r *CallRecord) error { got = append(got, r.SN); return nil }
	store := MemSyncStore(t, 100)
	now := at.Add(time.Hour)
	rs, err := NewRecordSync(c, sink, WithSyncStore(store), WithSweepLag(0), WithSweepOverlap(0),
		WithSyncClock(func() time.Time { return now }), WithSweepLookBack(2*time.Hour))
	require.NoError(t, err)

	st, err := rs.SweepOnce(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{"account|1"}, got)
	assert.EqualValues(t, 1, rs.Stats().NotFinal)
	mark, err := store.Checkpoint(context.Background(), rs.name)
	require.NoError(t, err)
	assert.Equal(t, at.Add(time.Minute-time.Second), mark, "held back to just before the record not final")
	assert.Equal(t, mark, st.Checkpoint)

	ended.Store(true)
	st, err = rs.SweepOnce(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{"account|1", "account|2"}, got, "delivered once final")
	mark, err = store.Checkpoint(context.Background(), rs.name)
	require.NoError(t, err)
	assert.Equal(t, now, mark)
	assert.Equal(t, now, st.Checkpoint)
}

// Among syncs sharing a store, one sweeps at a time; one that loses its lease stops.
func TestSyncLease(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	release := make(chan struct{})
	var listed atomic.Int64
	mt.RegisterResponder("POST", testBase+"/api/crmList", func(*http.Request) (*http.Response, error) {
		listed.Add(1)
		<-release
		return httpmock.NewStringResponse(200, `{"code":0,"data":{"total":0,"list":[]}}`), nil
	})
	store := MemSyncStore(t, 10)
	sink := func(context.Context, *CallRecord) error { return nil }
	newSync := func() *RecordSync {
		rs, err := NewRecordSync(c, sink, WithSyncStore(store), WithLeaseTTL(300*time.Millisecond))
		require.NoError(t, err)
		return rs
	}
	a, b := newSync(), newSync()
	done := make(chan error, 1)
	go func() { _, err := a.SweepOnce(context.Background()); done <- err }()
	require.Eventually(t, func() bool { return listed.Load() == 1 }, 5*time.Second, time.Millisecond)
	_, err := b.SweepOnce(context.Background())
	require.ErrorIs(t, err, ErrLeaseHeld, "b does not sweep while a does")
	assert.EqualValues(t, 1, listed.Load())
	time.Sleep(400 * time.Millisecond) // past a's TTL: a renews its lease while it sweeps
	_, err = b.SweepOnce(context.Background())
	require.ErrorIs(t, err, ErrLeaseHeld)
	assert.EqualValues(t, 1, listed.Load(), "a's lease was renewed")

	// a loses its lease (another owner takes it over): its sweep stops.
	store.mu.Lock()
	store.leases[a.name] = memLock{owner: "someone else", until: time.Now().Add(time.Hour)}
	store.mu.Unlock()
	err = <-done
	close(release)
	require.ErrorIs(t, err, ErrLeaseHeld)
}

// settleStore notes how long a store call had left when it was made.
type settleStore struct {
	*MemorySyncStore
	left []time.Duration
}

func (s *settleStore) note(ctx context.Context) {
	dl, _ := ctx.Deadline()
	s.left = append(s.left, time.Until(dl))
}

func (s *settleStore) Complete(ctx context.Context, key, token string) error {
	s.note(ctx)
	return s.MemorySyncStore.Complete(ctx, key, token)
}

func (s *settleStore) Release(ctx context.Context, key, token string) error {
	s.note(ctx)
	return s.MemorySyncStore.Release(ctx, key, token)
}

// A slow sink does not eat into the time the store has to record its outcome: the store is given
// its whole settle time after the sink returns, delivered or failed.
func TestSyncSettlesAfterASlowSink(t *testing.T) {
	t.Parallel()
	c, _ := newMockClient(t)
	store := &settleStore{MemorySyncStore: MemSyncStore(t, 10)}
	const slow = 300 * time.Millisecond
	fail := errors.New("crm down")
	sink := func(_ context.Context, r *CallRecord) error {
		time.Sleep(slow)
		if r.SN == "account|2" {
			return fail
		}
		return nil
	}
	rs, err := NewRecordSync(c, sink, WithSyncStore(store))
	require.NoError(t, err)
	at := time.Date(2026, 11, 2, 10, 0, 0, 0, flex.China)
	require.NoError(t, rs.Push(t.Context(), &CallRecord{SN: "account|1", CreatedAt: at, DisconnectedAt: at}))
	require.ErrorIs(t, rs.Push(t.Context(), &CallRecord{SN: "account|2", CreatedAt: at, DisconnectedAt: at}), fail)
	require.Len(t, store.left, 2, "one completion, one release")
	for _, left := range store.left {
		assert.Greater(t, left, settleTimeout-slow/2, "the settle time starts after the sink")
	}
}
