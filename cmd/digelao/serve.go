package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/digelaotest"
)

func mockCmd() *command {
	return &command{summary: "serve the fake platform (digelaotest) for local work", run: func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(e, "mock", "[--addr host:port] [--minute 2s]")
		addr := fs.String("addr", "127.0.0.1:8080", "address to serve on")
		minute := fs.Duration("minute", 2*time.Second, "real time one simulated minute takes (calls, pushes)")
		if err := parse(fs, args, 0); err != nil {
			return err
		}
		if *minute <= 0 {
			return usagef("mock: --minute must be positive")
		}
		l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", *addr)
		if err != nil {
			return err
		}
		srv := digelaotest.NewServer(digelaotest.WithListener(l), digelaotest.WithTimeScale(*minute))
		defer srv.Close()
		// The fake's account is published test data, not a secret: print it so that the other
		// commands can be pointed at the fake.
		fmt.Fprintf(e.stdout, "fake platform serving at %s (Ctrl-C to stop); for the other commands:\n", srv.URL)
		fmt.Fprintf(e.stdout, "export DIGELAO_BASE_URL=%s DIGELAO_USERNAME=%s DIGELAO_PASSWORD=%s\n",
			srv.URL, digelaotest.Username, digelaotest.Password)
		fmt.Fprintf(e.stdout, "template %s, AI seat %s\n", digelaotest.TemplateSN, digelaotest.SeatSN)
		<-ctx.Done()
		return nil
	}}
}

func listenCmd() *command {
	return &command{summary: "receive pushes and print each event as a JSON line", run: func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(e, "listen", "[--addr host:port]  (token from DIGELAO_PUSH_TOKEN)")
		addr := fs.String("addr", "127.0.0.1:8090", "address to listen on")
		if err := parse(fs, args, 0); err != nil {
			return err
		}
		l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", *addr)
		if err != nil {
			return err
		}
		token := e.getenv("DIGELAO_PUSH_TOKEN")
		if token == "" {
			fmt.Fprintln(e.stderr, "warning: DIGELAO_PUSH_TOKEN is not set; anyone who finds the address can push")
		}
		out := &eventWriter{enc: json.NewEncoder(e.stdout)}
		h := &digelao.PushHandler{
			Token: digelao.NewSecret(token),
			OnCallRecord: func(_ context.Context, r *digelao.CallRecord) error {
				return out.write("call_record", r.Raw)
			},
			OnImportResult: func(_ context.Context, r *digelao.ImportResult) error {
				return out.write("import_result", r.Raw)
			},
			OnTaskAnalytics: func(_ context.Context, a *digelao.TaskAnalytics) error {
				return out.write("task_analytics", a.Raw)
			},
			OnUnknown: func(_ context.Context, body []byte) error {
				return out.write("unknown", body)
			},
		}
		fmt.Fprintf(e.stderr, "listening on http://%s/ (Ctrl-C to stop)\n", l.Addr())
		return serveUntilDone(ctx, l, h)
	}}
}

// eventWriter prints events as JSON lines, one at a time.
type eventWriter struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (w *eventWriter) write(kind string, raw json.RawMessage) error {
	line := struct {
		Kind       string          `json:"kind"`
		ReceivedAt time.Time       `json:"received_at"`
		Event      json.RawMessage `json:"event"`
	}{kind, time.Now(), raw}
	if !json.Valid(raw) { // an unknown push need not be JSON
		s, _ := json.Marshal(string(raw))
		line.Event = s
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.enc.Encode(line)
}

// serveUntilDone serves h on l until ctx ends, then shuts down gracefully.
func serveUntilDone(ctx context.Context, l net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdown)
	if serveErr := <-done; !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return err
}
