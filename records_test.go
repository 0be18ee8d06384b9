package digelao_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
)

const (
	rssDownloadSize = 300 << 20 // bytes served
	rssLimit        = 100 << 20 // peak resident set allowed for the whole process
)

// TestDownloadRSS proves that Records.Download streams: a 300 MB recording goes through it while
// the process's peak resident set (VmHWM) stays under 100 MB. The download runs in a fresh child
// process so that no other test's memory counts.
func TestDownloadRSS(t *testing.T) {
	out, child := inChild(t)
	if child {
		rssChild(t)
		return
	}
	m := regexp.MustCompile(`RSS_RESULT bytes=(\d+) vmhwm_kb=(\d+)`).FindSubmatch(out)
	require.NotNil(t, m, "child output:\n%s", out)
	n, _ := strconv.ParseInt(string(m[1]), 10, 64)
	hwmKB, _ := strconv.ParseInt(string(m[2]), 10, 64)
	t.Logf("downloaded %d bytes with a peak RSS of %.1f MB", n, float64(hwmKB)/1024)
	assert.Equal(t, int64(rssDownloadSize), n)
	assert.Less(t, hwmKB*1024, int64(rssLimit), "peak RSS")
}

// inChild runs the calling test alone in a fresh child process, so that no other test's memory
// counts, and returns the child's output. In the child itself it returns child true: the test
// then does the work and prints its figures, peakRSSKB among them.
func inChild(t *testing.T) (out []byte, child bool) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("VmHWM is read from /proc/self/status")
	}
	if os.Getenv("DIGELAO_RSS_CHILD") == t.Name() {
		return nil, true
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), "DIGELAO_RSS_CHILD="+t.Name())
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "child output:\n%s", out)
	return out, false
}

// peakRSSKB returns the process's peak resident set (VmHWM) in kB.
func peakRSSKB(t *testing.T) string {
	t.Helper()
	status, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSuffix(strings.TrimSpace(rest), " kB")
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
	return ""
}

func rssChild(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "audio/wav")
		w.Header().Set("Content-Length", strconv.Itoa(rssDownloadSize))
		_, _ = io.Copy(w, io.LimitReader(tone{}, rssDownloadSize))
	}))
	defer srv.Close()
	c, err := digelao.New(srv.URL, digelao.WithAPIKey("SYSUSER|cb31d43bc89487492bb0e0dd720705e0", "MUOm4NH1"))
	require.NoError(t, err)
	defer c.CloseIdleConnections()
	n, err := c.Records.Download(context.Background(), "/mnt/record", "/mnt/record/long.wav", io.Discard)
	require.NoError(t, err)
	fmt.Printf("RSS_RESULT bytes=%d vmhwm_kb=%s\n", n, peakRSSKB(t))
}

// tone is an endless stream of 16-bit PCM samples, generated as it is read.
type tone struct{}

func (tone) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(i * 7)
	}
	return len(p), nil
}
