package digelao

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run when a test leaves a goroutine behind: every goroutine the SDK starts
// must have a way to stop.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
