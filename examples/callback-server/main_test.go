package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/digelaotest"
)

const token = "t0k3n-for-tests"

// trace records, in order, the journal's writes and syncs and the handler's answer.
type trace struct {
	mu     sync.Mutex
	events []string
}

func (t *trace) add(e string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.events = append(t.events, e)
}

// tracedFile is a syncWriter that records its calls and fails them when told to.
type tracedFile struct {
	syncWriter
	t                 *trace
	writeErr, syncErr error
}

func (f *tracedFile) Write(p []byte) (int, error) {
	f.t.add("write")
	if f.writeErr != nil {
		return 0, f.writeErr
	}
	return f.syncWriter.Write(p)
}

func (f *tracedFile) Sync() error {
	f.t.add("sync")
	if f.syncErr != nil {
		return f.syncErr
	}
	return f.syncWriter.Sync()
}

// tracedResponse records when the answer starts.
type tracedResponse struct {
	*httptest.ResponseRecorder
	t        *trace
	answered bool
}

func (w *tracedResponse) answer(code int) {
	if !w.answered {
		w.answered = true
		w.t.add("answer " + http.StatusText(code))
	}
}

func (w *tracedResponse) WriteHeader(code int) {
	w.answer(code)
	w.ResponseRecorder.WriteHeader(code)
}

func (w *tracedResponse) Write(p []byte) (int, error) {
	w.answer(http.StatusOK)
	return w.ResponseRecorder.Write(p)
}

func (w *tracedResponse) WriteString(s string) (int, error) { return w.Write([]byte(s)) }

func newFile(t *testing.T) *os.File {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(t.TempDir(), "pushes.jsonl"), os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	return f
}

func push(h http.Handler, tr *trace, body []byte) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(&tracedResponse{ResponseRecorder: rec, t: tr}, digelaotest.NewPushRequest("/push?token="+token, body))
	return rec
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestAPushIsOnDiskBeforeSUCCESS(t *testing.T) {
	t.Parallel()
	f := newFile(t)
	tr := &trace{}
	h := newHandler(&journal{f: &tracedFile{syncWriter: f, t: tr}}, token, quiet())

	rec := push(h, tr, digelaotest.SampleCallRecordPush("account|1", "13800138000"))
	assert.Equal(t, "SUCCESS", rec.Body.String())
	assert.Equal(t, []string{"write", "sync", "answer OK"}, tr.events, "written and synced, then answered")

	rec = push(h, tr, digelaotest.SampleImportResultPush(digelao.ImportResult{TaskSN: "dial_task_main_sn|x", Failure: "导入文件为空"}))
	assert.Equal(t, "SUCCESS", rec.Body.String())
	rec = push(h, tr, []byte("not=json&at=all"))
	assert.Equal(t, "SUCCESS", rec.Body.String())

	content, err := os.ReadFile(f.Name())
	require.NoError(t, err)
	var lines []struct {
		Kind  string          `json:"kind"`
		Event json.RawMessage `json:"event"`
	}
	sc := bufio.NewScanner(bytes.NewReader(content))
	for sc.Scan() {
		var l struct {
			Kind  string          `json:"kind"`
			Event json.RawMessage `json:"event"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &l))
		lines = append(lines, l)
	}
	require.Len(t, lines, 3)
	assert.Equal(t, "call_record", lines[0].Kind)
	assert.JSONEq(t, string(digelaotest.SampleCallRecordPush("account|1", "13800138000")), string(lines[0].Event))
	assert.Equal(t, "import_result", lines[1].Kind)
	assert.Equal(t, "unknown", lines[2].Kind)
	assert.JSONEq(t, `"not=json\u0026at=all"`, string(lines[2].Event), "a body that is not JSON is kept as a string")

	// A duplicate is acknowledged, not written again.
	before := len(tr.events)
	assert.Equal(t, "SUCCESS", push(h, tr, digelaotest.SampleCallRecordPush("account|1", "13800138000")).Body.String())
	assert.Equal(t, []string{"answer OK"}, tr.events[before:])
}

func TestAFailedWriteIsNotAcknowledged(t *testing.T) {
	t.Parallel()
	for name, file := range map[string]*tracedFile{
		"write fails": {writeErr: errors.New("disk full")},
		"sync fails":  {syncErr: errors.New("I/O error")},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tr := &trace{}
			file.t, file.syncWriter = tr, newFile(t)
			h := newHandler(&journal{f: file}, token, quiet())
			rec := push(h, tr, digelaotest.SampleCallRecordPush("account|1", "13800138000"))
			assert.Equal(t, http.StatusInternalServerError, rec.Code)
			assert.NotContains(t, rec.Body.String(), "SUCCESS")

			file.writeErr, file.syncErr = nil, nil // the disk recovers: the redelivery is stored
			assert.Equal(t, "SUCCESS", push(h, tr, digelaotest.SampleCallRecordPush("account|1", "13800138000")).Body.String())
		})
	}
}

func TestTheTokenIsRequired(t *testing.T) {
	t.Parallel()
	tr := &trace{}
	h := newHandler(&journal{f: &tracedFile{syncWriter: newFile(t), t: tr}}, token, quiet())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, digelaotest.NewPushRequest("/push?token=wrong", digelaotest.SampleCallRecordPush("account|1", "1")))
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Empty(t, tr.events, "nothing written")
}

func TestServeShutsDownGracefully(t *testing.T) {
	t.Parallel()
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	entered, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(entered)
		<-release
		_, _ = io.WriteString(w, "SUCCESS")
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, l, h) }()

	reply := make(chan string, 1)
	go func() {
		resp, err := http.Post("http://"+l.Addr().String()+"/push", "application/json", strings.NewReader("{}"))
		if err != nil {
			reply <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		reply <- string(b)
	}()
	<-entered
	cancel() // SIGTERM while a push is in flight
	close(release)
	assert.Equal(t, "SUCCESS", <-reply, "the push in flight is answered")
	assert.NoError(t, <-done)
}

func TestRunRefusesBadArguments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := func(string) string { return "" }
	assert.Error(t, run(ctx, []string{"-nope"}, env, io.Discard))
	assert.Error(t, run(ctx, []string{"-out", filepath.Join(t.TempDir(), "missing", "x.jsonl")}, env, io.Discard))
	assert.Error(t, run(ctx, []string{"-addr", "256.0.0.1:1", "-out", filepath.Join(t.TempDir(), "x.jsonl")}, env, io.Discard))
}

// TestServerBoundsItsConnections: every server timeout is set, so that a sender that stalls
// mid-body, or an idle connection, cannot hold a connection for good.
func TestServerBoundsItsConnections(t *testing.T) {
	t.Parallel()
	srv := newServer(http.NotFoundHandler())
	for name, d := range map[string]time.Duration{"ReadHeaderTimeout": srv.ReadHeaderTimeout,
		"ReadTimeout": srv.ReadTimeout, "WriteTimeout": srv.WriteTimeout, "IdleTimeout": srv.IdleTimeout} {
		assert.Positive(t, d, name)
	}
	assert.Greater(t, srv.WriteTimeout, srv.ReadTimeout, "the write deadline also covers reading the body")
}
