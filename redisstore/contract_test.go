package redisstore_test

import (
	"testing"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/internal/storetest"
	"github.com/digelao-go/digelao/redisstore"
)

// TestSyncStoreContract runs the SyncStore contract (internal/storetest) on the Store.
func TestSyncStoreContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) digelao.SyncStore {
		s, _, _ := newStore(t, redisstore.WithClaimTTL(storetest.ClaimTTL))
		return s
	})
}
