package main

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// limitFileSize makes every write of this process past size bytes of a file fail with EFBIG, as
// a full disk fails it, until lift is called. The test must not be parallel.
func limitFileSize(t *testing.T, size int64) (lift func()) {
	t.Helper()
	var was syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_FSIZE, &was))
	limit := was
	limit.Cur = uint64(size)
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &limit))
	lifted := false
	lift = func() {
		if !lifted {
			lifted = true
			require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &was))
		}
	}
	t.Cleanup(lift)
	return lift
}

// TestSyncWriteFailureMovesNothing: when the output cannot take a record (a full disk), the sync
// fails with exit code 4, the part of the record written is cut back off, and the checkpoint
// stays; the next run appends every record once.
func TestSyncWriteFailureMovesNothing(t *testing.T) {
	ctx := context.Background()
	f := newSyncFake(t)
	f.call(t, 2, 35*time.Minute)
	out := filepath.Join(t.TempDir(), "records.jsonl")
	require.Equal(t, exitOK, cli(ctx, f.vars, "sync", "--out", out).code)
	state, err := os.ReadFile(out + ".state")
	require.NoError(t, err)
	written, err := os.ReadFile(out)
	require.NoError(t, err)

	f.call(t, 3, 20*time.Minute)
	lift := limitFileSize(t, int64(len(written))+100) // room for a part of one record
	full := cli(ctx, f.vars, "sync", "--out", out)
	lift()
	assert.Equal(t, exitFile, full.code, full.stderr)
	assert.Regexp(t, `^(?s).*digelao: sync sink refused .* taken for down; the sweep stops: --out: write .*records\.jsonl: file too large\n(digelao: sync store state: .*file too large\n)?$`, full.stderr)
	after, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, string(written), string(after), "the part written is cut back off")
	after, err = os.ReadFile(out + ".state")
	require.NoError(t, err)
	assert.Equal(t, string(state), string(after), "the checkpoint did not move")

	again := cli(ctx, f.vars, "sync", "--out", out)
	require.Equal(t, exitOK, again.code, again.stderr)
	counts, _ := readOutput(t, out)
	assert.Equal(t, once(f.sns()), counts)
	assert.Len(t, counts, 5)
}

// TestFailedDownloadNamesItsDestination: a download the disk cannot take fails with exit code 4,
// names the file asked for, never the temporary file beside it, and leaves nothing behind.
func TestFailedDownloadNamesItsDestination(t *testing.T) {
	ctx := context.Background()
	srv, vars, _, _ := pausedAndFinished(t)
	c, err := srv.Client()
	require.NoError(t, err)
	defer c.CloseIdleConnections()
	recs, _, err := c.Records.List(ctx, nil)
	require.NoError(t, err)
	dir := t.TempDir()
	wav := filepath.Join(dir, "call.wav")
	require.Equal(t, exitOK, cli(ctx, vars, "login").code, "logged in before the limit")
	lift := limitFileSize(t, 10)
	r := cli(ctx, vars, "download", recs[0].RecordPath, recs[0].RecordFile, "-o", wav)
	lift()
	assert.Equal(t, exitFile, r.code, r.stderr)
	assert.Contains(t, r.stderr, "digelao: --output: ")
	assert.Contains(t, r.stderr, wav+": file too large")
	assert.NotContains(t, r.stderr, ".part")
	left, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, left)
}
