package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/digelaotest"
)

func mockCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "mock", Short: "serve the fake platform (digelaotest) for local work", Args: cobra.NoArgs,
		Long: `Serve the fake platform (digelaotest) on a port, until Ctrl-C or SIGTERM. It prints its pid and a
line that points the other commands at it — base URL, the demo account, and the sns of its
script template and AI seat — for you to paste:

  export DIGELAO_BASE_URL=http://127.0.0.1:8080 DIGELAO_USERNAME=demo ...

Calls, pushes and imports run on simulated time: --minute is the real time one simulated minute
takes. --no-url-check accepts requests without the anti-hijack "url" parameter, as some
deployments do, for clients that do not send it. Build the command first ("go build" or
"go install"): a "go run … mock &" leaves the server running when its pid is killed.`}
	fs := cmd.Flags()
	addr := fs.String("addr", "127.0.0.1:8080", "address to serve on")
	minute := fs.Duration("minute", 2*time.Second, "real time one simulated minute takes")
	noURLCheck := fs.Bool("no-url-check", false, "accept requests without the \"url\" signature")
	bindEnv(fs, "addr", "DIGELAO_MOCK_ADDR")
	bindEnv(fs, "minute", "DIGELAO_MOCK_MINUTE")
	cmd.RunE = action(func(ctx context.Context, _ []string) error {
		if *minute <= 0 {
			return usagef("--minute must be positive, got %s", *minute)
		}
		l, err := listenOn(ctx, "--addr (DIGELAO_MOCK_ADDR)", *addr)
		if err != nil {
			return err
		}
		srv, err := digelaotest.New(digelaotest.WithListener(l), digelaotest.WithTimeScale(*minute),
			digelaotest.WithURLCheck(!*noURLCheck))
		if err != nil {
			_ = l.Close()
			return err
		}
		defer srv.Close()
		// The fake's account is published test data, not a secret: print it so that the other
		// commands can be pointed at the fake.
		fmt.Fprintf(e.stdout, "fake platform serving at %s, pid %d (stop it with Ctrl-C or kill %d); for the other commands:\n",
			srv.URL, e.pid, e.pid)
		fmt.Fprintf(e.stdout, "export DIGELAO_BASE_URL=%s DIGELAO_USERNAME=%s DIGELAO_PASSWORD=%s DIGELAO_TEMPLATE_SN=%s DIGELAO_SEAT_SN=%s\n",
			shellQuote(srv.URL), shellQuote(digelaotest.Username), shellQuote(digelaotest.Password),
			shellQuote(digelaotest.TemplateSN), shellQuote(digelaotest.SeatSN))
		if *noURLCheck {
			fmt.Fprintln(e.stdout, "requests without the \"url\" signature are accepted (--no-url-check)")
		}
		<-ctx.Done()
		return nil
	})
	return cmd
}

// shellQuote quotes s for a POSIX shell when it holds anything but letters, digits and -_./:@.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func listenCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "listen", Short: "receive pushes and print each event as a line of JSON", Args: cobra.NoArgs,
		Long: `Receive the platform's pushes (call records, import results, task analytics) until Ctrl-C or
SIGTERM, and print each as a line of JSON on stdout: {"kind":…,"received_at":…,"event":…}, the
event as the SDK's type marshals it; received_at, as every time the command writes, is China time
"YYYY-MM-DD hh:mm:ss". Pushes must carry ?token= with
the value of DIGELAO_PUSH_TOKEN ("digelao set-callback" adds it); every push refused or failed is
logged on stderr with its status, the reason and the sender's address, never the token.`}
	addr := cmd.Flags().String("addr", "127.0.0.1:8090", "address to listen on")
	bindEnv(cmd.Flags(), "addr", "DIGELAO_LISTEN")
	cmd.RunE = action(func(ctx context.Context, _ []string) error {
		l, err := listenOn(ctx, "--addr (DIGELAO_LISTEN)", *addr)
		if err != nil {
			return err
		}
		log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{ReplaceAttr: chinaLogTime}))
		token := e.getenv("DIGELAO_PUSH_TOKEN")
		if token == "" {
			fmt.Fprintln(e.stderr, "warning: DIGELAO_PUSH_TOKEN is not set: anyone who finds the address can push")
		}
		out := &eventWriter{enc: json.NewEncoder(e.stdout)}
		h := &digelao.PushHandler{
			Token:  digelao.NewSecret(token),
			Logger: log,
			OnCallRecord: func(_ context.Context, r *digelao.CallRecord) error {
				return out.write("call_record", r)
			},
			OnImportResult: func(_ context.Context, r *digelao.ImportResult) error {
				return out.write("import_result", r)
			},
			OnTaskAnalytics: func(_ context.Context, a *digelao.TaskAnalytics) error {
				return out.write("task_analytics", a)
			},
			OnUnknown: func(_ context.Context, body []byte) error {
				if json.Valid(body) {
					return out.write("unknown", json.RawMessage(body))
				}
				return out.write("unknown", string(body)) // an unknown push need not be JSON
			},
		}
		fmt.Fprintf(e.stderr, "listening on http://%s/ (Ctrl-C to stop)\n", l.Addr())
		return serve(ctx, l, h, e.timeouts)
	})
	return cmd
}

// listenOn listens on addr, the value of flag. An address that is no host:port is a wrong
// command line; one that cannot be listened on (in use, not this host's) names the flag.
func listenOn(ctx context.Context, flag, addr string) (net.Listener, error) {
	_, port, err := net.SplitHostPort(addr)
	if err == nil {
		_, err = net.DefaultResolver.LookupPort(ctx, "tcp", port)
	}
	if err != nil {
		return nil, usagef("invalid %s: %v; want host:port, e.g. 127.0.0.1:8090", flag, err)
	}
	l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	return l, nil
}

// chinaLogTime writes the times of a log line — its own and its attributes' (a login's
// expires_at) — as the command writes every time: China time, "YYYY-MM-DD hh:mm:ss".
func chinaLogTime(_ []string, a slog.Attr) slog.Attr {
	if t, ok := a.Value.Any().(time.Time); ok {
		a.Value = slog.StringValue(clock(t))
	}
	return a
}

// eventWriter prints events as JSON lines, one at a time.
type eventWriter struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (w *eventWriter) write(kind string, event any) error {
	line := struct {
		Kind       string `json:"kind"`
		ReceivedAt string `json:"received_at"` // as the events' own times: China time, "YYYY-MM-DD hh:mm:ss"
		Event      any    `json:"event"`
	}{kind, clock(time.Now()), event}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.enc.Encode(line)
}

// serverTimeouts bound how long a client may hold a connection of a server the command starts.
type serverTimeouts struct {
	readHeader, read, write, idle time.Duration
}

// orDefault returns t, or the defaults where t is zero: a push body is at most 1 MiB, and a
// sender that needs more than half a minute for it is one to drop.
func (t serverTimeouts) orDefault() serverTimeouts {
	if t == (serverTimeouts{}) {
		return serverTimeouts{readHeader: 10 * time.Second, read: 30 * time.Second, write: time.Minute, idle: 2 * time.Minute}
	}
	return t
}

// serve serves h on l until ctx ends, then shuts down gracefully: pushes in flight are answered.
// Connections that never sent a request (a client's spare, dialled ahead) are closed at once:
// net/http would wait five seconds for each before it lets the server go.
func serve(ctx context.Context, l net.Listener, h http.Handler, t serverTimeouts) error {
	t = t.orDefault()
	var fresh freshConns
	srv := &http.Server{Handler: h, ReadHeaderTimeout: t.readHeader, ReadTimeout: t.read, WriteTimeout: t.write,
		IdleTimeout: t.idle, ConnState: fresh.track}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- srv.Shutdown(shutdown) }()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		fresh.close()
		select {
		case err := <-stopped:
			if serveErr := <-done; !errors.Is(serveErr, http.ErrServerClosed) {
				return serveErr
			}
			return err
		case <-tick.C:
		}
	}
}

// freshConns are a server's connections that have not sent a request yet.
type freshConns struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// track is the server's ConnState hook.
func (f *freshConns) track(c net.Conn, state http.ConnState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if state != http.StateNew {
		delete(f.conns, c)
		return
	}
	if f.conns == nil {
		f.conns = map[net.Conn]struct{}{}
	}
	f.conns[c] = struct{}{}
}

// close closes the fresh connections.
func (f *freshConns) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		_ = c.Close()
		delete(f.conns, c)
	}
}
