package digelao

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao/internal/flex"
)

// A platform that ignores the creation-time filter on a busy account counts a record or two more
// with every request: its halves never count exactly the parent's total, yet each counts at least
// as many. That is told after three requests too, not by halving down to single seconds and paging
// the whole account in each.
func TestSyncPlatformIgnoringTheTimeFilterWhileRecordsArrive(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	now := time.Date(2026, 11, 2, 12, 0, 0, 0, flex.China)
	var calls atomic.Int64
	mt.RegisterResponder("POST", testBase+"/api/crmList", func(*http.Request) (*http.Response, error) {
		n := calls.Add(1)
		if n > 50 { // a storm: end it
			return httpmock.NewStringResponse(200, `{"code":10001,"msg":"storm"}`), nil
		}
		var rows []string // the whole account, whatever the window
		for id := range 2 + n {
			rows = append(rows, crmRow(int(id)+1, now, now))
		}
		return crmReply(len(rows), rows), nil
	})
	rs, err := NewRecordSync(c, func(context.Context, *CallRecord) error { return nil }, WithWindowLimit(2))
	require.NoError(t, err)
	_, err = rs.Sweep(context.Background(), now.Add(-time.Hour), now)
	require.ErrorIs(t, err, ErrBadReply)
	assert.ErrorContains(t, err, "does not filter by start_create_at")
	assert.EqualValues(t, 3, calls.Load(), "the window and its two halves")
}

// A sweep whose lease is lost while the sink writes ends with ErrLeaseHeld, as SweepOnce says,
// also when the sink's own error is all that comes back (a database driver answers a cancelled
// context with context.Canceled, not with its cause).
func TestSyncLeaseLostDuringTheSink(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	now := time.Date(2026, 11, 2, 12, 0, 0, 0, flex.China)
	at := now.Add(-time.Hour)
	mt.RegisterResponder("POST", testBase+"/api/crmList", func(*http.Request) (*http.Response, error) {
		return crmReply(1, []string{crmRow(1, at, at)}), nil
	})
	store := NewMemorySyncStore(10)
	var rs *RecordSync
	sink := func(ctx context.Context, _ *CallRecord) error {
		store.mu.Lock()
		store.leases[rs.name] = memLock{owner: "someone else", until: time.Now().Add(time.Hour)}
		store.mu.Unlock()
		<-ctx.Done()
		return ctx.Err()
	}
	var err error
	rs, err = NewRecordSync(c, sink, WithSyncStore(store), WithLeaseTTL(60*time.Millisecond),
		WithSyncClock(func() time.Time { return now }))
	require.NoError(t, err)
	_, err = rs.SweepOnce(t.Context())
	require.ErrorIs(t, err, ErrLeaseHeld)
}
