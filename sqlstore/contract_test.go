package sqlstore_test

import (
	"testing"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/internal/sqltest"
	"github.com/digelao-go/digelao/internal/storetest"
	"github.com/digelao-go/digelao/sqlstore"
)

// TestContract runs the SyncStore and CommitStore contract on each dialect.
func TestContract(t *testing.T) {
	t.Parallel()
	for _, d := range sqltest.Dialects() {
		t.Run(d.String(), func(t *testing.T) {
			t.Parallel()
			sqltest.DSN(t, d) // skips the dialect at once when its database is not given
			storetest.Run(t, func(t *testing.T) digelao.SyncStore {
				s, _ := sqltest.Store(t, d, sqlstore.WithClaimTTL(storetest.ClaimTTL))
				return s
			})
		})
	}
}
