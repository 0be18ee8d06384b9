package digelao

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// A delivery slower than the claim TTL loses its claim to a redelivery; when it then fails, its
// Release must not end the redelivery's claim, or a third delivery runs beside the second.
func TestLapsedClaimReleaseSparesItsSuccessor(t *testing.T) {
	t.Skip("defect: Release is not tied to the claim it ends — a delivery whose claim lapsed releases its " +
		"successor's, and a third delivery runs beside the second (MemoryDedup and redisstore alike); " +
		"needs a claim token in DedupStore, a design question")
	ctx := context.Background()
	m := NewMemoryDedup(10)
	now := time.Now()
	m.now = func() time.Time { return now }
	st, _ := m.Claim(ctx, "k") // delivery A, whose sink then hangs
	assert.Equal(t, ClaimNew, st)
	now = now.Add(claimTTL + time.Second)
	st, _ = m.Claim(ctx, "k") // delivery B: A's claim lapsed
	assert.Equal(t, ClaimNew, st)
	_ = m.Release(ctx, "k") // A's sink fails at last
	st, _ = m.Claim(ctx, "k")
	assert.Equal(t, ClaimInProgress, st, "B is still delivering")
}
