package digelao_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/internal/storetest"
)

// TestMemorySyncStoreContract runs the SyncStore contract (internal/storetest) on MemorySyncStore.
func TestMemorySyncStoreContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) digelao.SyncStore {
		s, err := digelao.NewMemorySyncStore(1000, digelao.WithMemoryClaimTTL(storetest.ClaimTTL))
		require.NoError(t, err)
		return s
	})
}
