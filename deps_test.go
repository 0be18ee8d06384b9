package digelao_test

import (
	"context"
	"os/exec"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProgramsDoNotLinkTestHelpers checks that a program importing the SDK (or its Redis store)
// links no test helper: net/http/httptest and testify belong to tests and to digelaotest.
func TestProgramsDoNotLinkTestHelpers(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH")
	}
	out, err := exec.CommandContext(context.Background(), goBin, "list", "-deps",
		"github.com/digelao-go/digelao", "github.com/digelao-go/digelao/redisstore").Output()
	require.NoError(t, err)
	require.Contains(t, string(out), "github.com/digelao-go/digelao/internal/transport", "the list is the real one")
	assert.NotRegexp(t, regexp.MustCompile(`(?m)^(net/http/httptest|github\.com/stretchr/testify\b.*)$`), string(out))
}
