// Package testkit holds small helpers the module's tests share across packages.
package testkit

import (
	"bytes"
	"io"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
)

// RaceBuild reports whether the test binary was built with -race, whose instrumentation changes
// what a process allocates and holds.
func RaceBuild() bool {
	info, ok := debug.ReadBuildInfo()
	return ok && slices.Contains(info.Settings, debug.BuildSetting{Key: "-race", Value: "true"})
}

// SyncBuffer is a bytes.Buffer that goroutines may write to while a test reads it.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// ZeroReader hands out Size zero bytes and counts in Done how many it handed out, so that a test
// can watch from another goroutine how far a consumer has read. It never holds the bytes.
type ZeroReader struct{ Size, Done atomic.Int64 }

// NewZeroReader returns a ZeroReader of size bytes.
func NewZeroReader(size int64) *ZeroReader {
	z := &ZeroReader{}
	z.Size.Store(size)
	return z
}

// Read implements io.Reader.
func (z *ZeroReader) Read(p []byte) (int, error) {
	left := z.Size.Load() - z.Done.Load()
	if left <= 0 {
		return 0, io.EOF
	}
	k := min(int64(len(p)), left)
	clear(p[:k])
	z.Done.Add(k)
	return int(k), nil
}
