package redistest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// TestNeedsRedis uses the server of Main; TestMissingRedisServer also runs it without one.
func TestNeedsRedis(t *testing.T) {
	require.NoError(t, ping(t.Context(), Addr(t)))
}

// An example that needs Redis reads its address as a program would; Main sets it, and skips the
// examples when it has no server. TestMissingRedisServer also runs this without one.
func ExampleMain() {
	err := ping(context.Background(), os.Getenv("REDIS_ADDR"))
	fmt.Println("PONG:", err == nil)
	// Output: PONG: true
}

func TestStartStop(t *testing.T) {
	t.Parallel()
	srv := Start(t)
	require.NoError(t, ping(t.Context(), srv.Addr))
	assert.NotEqual(t, Addr(t), srv.Addr, "a server of its own")
	srv.Stop()
	assert.Error(t, ping(t.Context(), srv.Addr), "stopped")
	srv.Stop() // stopping twice is harmless
}

func TestClosedAddr(t *testing.T) {
	t.Parallel()
	assert.Error(t, ping(t.Context(), ClosedAddr(t)))
}

// TestMissingRedisServer runs TestNeedsRedis and ExampleMain in a child process whose PATH holds
// no redis-server: they are skipped, except under CI=true, where the run fails.
func TestMissingRedisServer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ci       string
		wantFail bool
		wantOut  string
	}{
		{"", false, "--- SKIP: TestNeedsRedis"},
		{"false", false, "--- SKIP: TestNeedsRedis"},
		{"true", true, "CI=true, so failing instead of skipping"},
	} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^(TestNeedsRedis|ExampleMain)$", "-test.v", "-test.count=1")
			cmd.Env = []string{"PATH=" + t.TempDir()}
			if dir := os.Getenv("GOCOVERDIR"); dir != "" {
				cmd.Env = append(cmd.Env, "GOCOVERDIR="+dir)
			}
			if tc.ci != "" {
				cmd.Env = append(cmd.Env, "CI="+tc.ci)
			}
			out, err := cmd.CombinedOutput()
			if tc.wantFail {
				var exit *exec.ExitError
				require.ErrorAs(t, err, &exit, "%s", out)
				assert.Equal(t, 1, exit.ExitCode())
				assert.NotContains(t, string(out), "TestNeedsRedis", "no test runs")
			} else {
				require.NoError(t, err, "%s", out)
				assert.Contains(t, string(out), "redis-server not found in PATH")
			}
			assert.Contains(t, string(out), tc.wantOut)
			assert.False(t, strings.Contains(string(out), "--- PASS: TestNeedsRedis"))
			assert.NotContains(t, string(out), "ExampleMain", "the example is skipped, not failed")
		})
	}
}
