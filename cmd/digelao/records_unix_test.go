//go:build unix

package main

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDownloadIntoANamedPipe: -o naming something that is not a regular file (a named pipe; as
// root, /dev/null) writes into it, and leaves it what it was.
func TestDownloadIntoANamedPipe(t *testing.T) {
	ctx := context.Background()
	srv, vars, _, _ := pausedAndFinished(t)
	rec := firstRecord(t, srv)
	fifo := filepath.Join(t.TempDir(), "pipe")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	got := make(chan []byte, 1)
	go func() {
		b, _ := os.ReadFile(fifo) // opens once the command does, and reads until it closes
		got <- b
	}()
	r := cli(ctx, vars, "download", rec.RecordPath, rec.RecordFile, "-o", fifo)
	require.Equal(t, exitOK, r.code, r.stderr)
	fi, err := os.Lstat(fifo)
	require.NoError(t, err)
	require.NotZero(t, fi.Mode()&os.ModeNamedPipe, "still a named pipe") // else the reader may wait for good
	b := <-got
	assert.Equal(t, "RIFF", string(b[:min(4, len(b))]), "the reader got the recording")
}
