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
	t.Parallel()
	ctx := context.Background()
	m := NewMemoryDedup(10)
	now := time.Now()
	m.now = func() time.Time { return now }
	st, _ := m.Claim(ctx, "k", "A") // delivery A, whose sink then hangs
	assert.Equal(t, ClaimNew, st)
	now = now.Add(claimTTL + time.Second)
	st, _ = m.Claim(ctx, "k", "B") // delivery B: A's claim lapsed
	assert.Equal(t, ClaimNew, st)
	_ = m.Release(ctx, "k", "A") // A's sink fails at last
	st, _ = m.Claim(ctx, "k", "C")
	assert.Equal(t, ClaimInProgress, st, "B is still delivering")
}
