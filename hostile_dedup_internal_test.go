package digelao

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/digelao-go/digelao/internal/pushsample"
)

// A delivery slower than the claim TTL loses its claim to a redelivery; when it then fails, its
// Release must not end the redelivery's claim, or a third delivery runs beside the second.
func TestLapsedClaimReleaseSparesItsSuccessor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := MemDedup(t, 10)
	now := time.Now()
	m.cfg.now = func() time.Time { return now }
	st, _ := m.Claim(ctx, "k", "A") // delivery A, whose sink then hangs
	assert.Equal(t, ClaimNew, st)
	now = now.Add(DefaultClaimTTL + time.Second)
	st, _ = m.Claim(ctx, "k", "B") // delivery B: A's claim lapsed
	assert.Equal(t, ClaimNew, st)
	_ = m.Release(ctx, "k", "A") // A's sink fails at last
	st, _ = m.Claim(ctx, "k", "C")
	assert.Equal(t, ClaimInProgress, st, "B is still delivering")
}

// lostReplyDedup is a shared store whose first Claim takes effect but whose reply is lost on the
// way back (a network timeout after Redis ran the script): the caller sees an error.
type lostReplyDedup struct {
	*MemoryDedup
	lost atomic.Bool
}

func (d *lostReplyDedup) Claim(ctx context.Context, key, token string) (ClaimState, error) {
	state, err := d.MemoryDedup.Claim(ctx, key, token)
	if d.lost.CompareAndSwap(false, true) {
		return 0, errors.New("i/o timeout")
	}
	return state, err
}

// A claim whose reply was lost may have been taken: the delivery that made it releases it with
// its token, which frees nothing of anyone else's, so that the platform's next try — it tries
// three times, at an interval it does not state — is handled rather than refused as in progress
// until the claim lapses five minutes later, and the push lost.
func TestPushHandlerReleasesAClaimWhoseReplyWasLost(t *testing.T) {
	t.Parallel()
	var handled atomic.Int32
	h := &PushHandler{Dedup: &lostReplyDedup{MemoryDedup: MemDedup(t, 10)},
		OnCallRecord: func(context.Context, *CallRecord) error { handled.Add(1); return nil }}
	body := pushsample.CallRecord(testRecordSN, "1")
	w := servePush(h, "/", "", body)
	assert.Equal(t, http.StatusServiceUnavailable, w.Code, "the store failed: the platform tries again")
	w = servePush(h, "/", "", body)
	assert.Equal(t, "SUCCESS", w.Body.String(), "the next try is handled, not refused as in progress")
	assert.Equal(t, int32(1), handled.Load())
}
