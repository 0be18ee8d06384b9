package transport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/digelao-go/digelao/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newServer starts h and returns a Transport that logs into logs.
func newServer(t *testing.T, h http.HandlerFunc, logs io.Writer) (*httptest.Server, *Transport) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	tr := New(Config{Timeout: 10 * time.Second, UserAgent: "ua/1", MaxBody: 1 << 20,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	t.Cleanup(tr.CloseIdleConnections)
	return srv, tr
}

func TestStreamedBodyIsSentAsItIsRead(t *testing.T) {
	t.Parallel()
	const size = 50 << 20
	src := testkit.NewZeroReader(size)
	var aheadAtMiB, got int64
	var ua, ct string
	srv, tr := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		ua, ct = r.Header.Get("User-Agent"), r.Header.Get("Content-Type")
		n, _ := io.CopyN(io.Discard, r.Body, 1<<20)
		aheadAtMiB = src.Done.Load() - n // produced but not yet consumed by the server
		m, _ := io.Copy(io.Discard, r.Body)
		got = n + m
		_, _ = io.WriteString(w, `{"code":0}`)
	}, io.Discard)

	resp, err := tr.Do(context.Background(), Retry{}, func() (*Request, error) {
		return &Request{Method: "POST", URL: srv.URL + "/api/up", Path: "/api/up", ContentType: "application/x-test",
			ContentLength: size, Write: func(w io.Writer) error { _, err := io.Copy(w, src); return err }}, nil
	})
	require.NoError(t, err)
	assert.Equal(t, `{"code":0}`, string(resp.Body))
	assert.Equal(t, int64(size), got)
	assert.Equal(t, "ua/1", ua)
	assert.Equal(t, "application/x-test", ct)
	// Buffered, all 50 MiB would have been read before the first byte went out. Streamed, only
	// what fits in the pipe, bufio and socket buffers is ahead of the server.
	assert.Less(t, aheadAtMiB, int64(16<<20), "the body is not buffered whole")
}

func TestStreamedBodyWithoutLengthIsChunked(t *testing.T) {
	t.Parallel()
	var te []string
	var body string
	srv, tr := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		te = r.TransferEncoding
		b, _ := io.ReadAll(r.Body)
		body = string(b)
	}, io.Discard)
	_, err := tr.Do(context.Background(), Retry{}, func() (*Request, error) {
		return &Request{Method: "POST", URL: srv.URL + "/x", Path: "/x",
			Write: func(w io.Writer) error { _, err := io.WriteString(w, "hello"); return err }}, nil
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"chunked"}, te)
	assert.Equal(t, "hello", body)
}

func TestStreamedBodyWriteErrorIsNotRetried(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv, tr := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
	}, io.Discard)
	boom := errors.New("disk on fire")
	builds := 0
	_, err := tr.Do(context.Background(), Retry{Max: 3, Base: time.Millisecond, Cap: time.Millisecond}, func() (*Request, error) {
		builds++
		return &Request{Method: "POST", URL: srv.URL + "/x", Path: "/x", Write: func(w io.Writer) error {
			if _, err := io.WriteString(w, "partial"); err != nil {
				return err
			}
			return boom
		}}, nil
	})
	require.ErrorIs(t, err, boom)
	assert.Equal(t, 1, builds, "the caller's data failed: no retry")
}

func TestStreamedBodyIsRebuiltForEachRetry(t *testing.T) {
	t.Parallel()
	var bodies []string
	srv, tr := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(b))
		if len(bodies) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}, io.Discard)
	resp, err := tr.Do(context.Background(), Retry{Max: 2, Base: time.Millisecond, Cap: time.Millisecond}, func() (*Request, error) {
		src := strings.NewReader("the whole body")
		return &Request{Method: "POST", URL: srv.URL + "/x", Path: "/x", ContentLength: src.Size(),
			Write: func(w io.Writer) error { _, err := io.Copy(w, src); return err }}, nil
	})
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.Status)
	assert.Equal(t, []string{"the whole body", "the whole body"}, bodies)
}

func TestStreamedBodyEndsWithTheContext(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv, tr := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		<-release // never reads the body
	}, io.Discard)
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	wrote := make(chan struct{})
	writerDone := make(chan error, 1)
	go func() { <-wrote; cancel() }()
	_, err := tr.Do(ctx, Retry{}, func() (*Request, error) {
		return &Request{Method: "POST", URL: srv.URL + "/x", Path: "/x", Write: func(w io.Writer) error {
			close(wrote)
			_, err := io.Copy(w, io.LimitReader(zeros{}, 1<<30)) // blocks once the buffers fill
			writerDone <- err
			return err
		}}, nil
	})
	require.ErrorIs(t, err, context.Canceled, "the context's error, not the broken pipe")
	require.Error(t, <-writerDone, "the writer was released")
}

func TestStreamedBodyTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)
	tr := New(Config{Timeout: 50 * time.Millisecond, MaxBody: 1 << 20, Logger: slog.New(slog.DiscardHandler)})
	defer tr.CloseIdleConnections()
	_, err := tr.Do(context.Background(), Retry{}, func() (*Request, error) {
		return &Request{Method: "POST", URL: srv.URL + "/x", Path: "/x",
			Write: func(w io.Writer) error { _, err := w.Write([]byte("x")); return err }}, nil
	})
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestStreamedBodyLogsNoQueryOrBody(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	srv, tr := newServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) }, &logs)
	_, err := tr.Do(context.Background(), Retry{}, func() (*Request, error) {
		return &Request{Method: "POST", URL: srv.URL + "/api/up?api_key=s3cret", Path: "/api/up",
			Write: func(w io.Writer) error { _, err := io.WriteString(w, "body-s3cret"); return err }}, nil
	})
	require.NoError(t, err)
	out := logs.String()
	assert.Contains(t, out, "path=/api/up")
	assert.Contains(t, out, "status=200")
	assert.Contains(t, out, "duration=")
	assert.NotContains(t, out, "s3cret")
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
