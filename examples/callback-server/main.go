// Command callback-server receives the platform's pushes — call records, import results, task
// analytics — and appends each to a JSON-lines file, synced to disk before the platform is told
// SUCCESS: an event acknowledged is an event stored. A failed write answers 500, and the platform
// delivers again.
//
//	DIGELAO_PUSH_TOKEN=$(openssl rand -hex 24) go run ./examples/callback-server -addr :8080 -out pushes.jsonl
//
// Then point the platform at it (behind HTTPS in production) with the token in the URL:
//
//	u := "https://crm.example.com/digelao/push"
//	c.SetCallback(ctx, &digelao.CallbackRequest{Open: true, CallbackURL: u, TaskCallbackURL: u, Token: digelao.NewSecret(token)})
//
// Each line is {"kind":…,"received_at":…,"event":…} with the push as received. Stop it with
// Ctrl-C or SIGTERM: it finishes the pushes in flight, then exits.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/digelao-go/digelao"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "callback-server:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("callback-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", ":8080", "address to listen on")
	out := fs.String("out", "pushes.jsonl", "JSON-lines file the events are appended to")
	if err := fs.Parse(args); err != nil {
		return err
	}
	// A secret comes from the environment, never the command line, which other users can read.
	token := getenv("DIGELAO_PUSH_TOKEN")
	log := slog.New(slog.NewTextHandler(stderr, nil))
	if token == "" {
		log.Warn("DIGELAO_PUSH_TOKEN is not set: anyone who finds the address can push")
	}
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", *addr)
	if err != nil {
		return err
	}
	log.Info("receiving pushes", "addr", l.Addr().String(), "out", *out)
	if err := serve(ctx, l, newHandler(&journal{f: f}, token, log)); err != nil {
		return err
	}
	return f.Close()
}

// newHandler returns a PushHandler that appends every event to j.
func newHandler(j *journal, token string, log *slog.Logger) *digelao.PushHandler {
	return &digelao.PushHandler{
		Token:  digelao.NewSecret(token),
		Logger: log,
		OnCallRecord: func(_ context.Context, r *digelao.CallRecord) error {
			return j.append("call_record", r.Raw)
		},
		OnImportResult: func(_ context.Context, r *digelao.ImportResult) error {
			return j.append("import_result", r.Raw)
		},
		OnTaskAnalytics: func(_ context.Context, a *digelao.TaskAnalytics) error {
			return j.append("task_analytics", a.Raw)
		},
		OnUnknown: func(_ context.Context, body []byte) error {
			return j.append("unknown", body)
		},
	}
}

// syncWriter is a file: written, then synced to disk.
type syncWriter interface {
	io.Writer
	Sync() error
}

// journal appends events to a file, one JSON line each, synced before append returns.
type journal struct {
	mu sync.Mutex
	f  syncWriter
}

func (j *journal) append(kind string, event []byte) error {
	raw := json.RawMessage(event)
	if !json.Valid(event) { // an unknown push need not be JSON: keep it as a string
		raw, _ = json.Marshal(string(event))
	}
	line, err := json.Marshal(struct {
		Kind       string          `json:"kind"`
		ReceivedAt time.Time       `json:"received_at"`
		Event      json.RawMessage `json:"event"`
	}{kind, time.Now(), raw})
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.f.Write(append(line, '\n')); err != nil {
		return err
	}
	return j.f.Sync()
}

// newServer returns the server of h, with every timeout set: a sender that stalls mid-request,
// or an idle connection, is dropped. A push body is at most 1 MiB.
func newServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
}

// serve serves h on l until ctx ends, then shuts down gracefully: pushes in flight are answered.
func serve(ctx context.Context, l net.Listener, h http.Handler) error {
	srv := newServer(h)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdown)
	if serveErr := <-done; !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return err
}
