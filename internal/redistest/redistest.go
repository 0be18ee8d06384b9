// Package redistest runs a throwaway redis-server for tests.
//
// A package that needs Redis calls Main from its TestMain; Main starts one redis-server on a free
// loopback port (no persistence), hands its address to the tests through the environment variable
// EnvAddr, and kills it when the tests end. Tests call Addr for that address, or Start for a server
// of their own (for example one they stop). Child processes started by a test inherit EnvAddr, so
// they use the parent's server; setting EnvAddr by hand points the tests at an existing Redis.
// Examples read the address from EnvExampleAddr (REDIS_ADDR), as a program would; Main sets it too.
//
// When redis-server is not in PATH, tests and examples that need it are skipped — except when the
// environment variable CI is "true", where they fail: CI must never skip them silently.
package redistest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// EnvAddr is the environment variable that carries the address ("127.0.0.1:port") of the server
// Main started.
const EnvAddr = "DIGELAO_REDISTEST_ADDR"

// EnvExampleAddr is the environment variable the examples read for the address of Redis, as a
// program would. Main sets it to its server's, so that no example reaches a Redis the environment
// named for something else.
const EnvExampleAddr = "REDIS_ADDR"

// startTimeout bounds how long a server may take to answer PING.
const startTimeout = 15 * time.Second

// errNotInstalled reports a missing redis-server binary.
var errNotInstalled = errors.New("redis-server not found in PATH (install it, e.g. apt-get install redis-server)")

// Main runs m with a redis-server and returns the exit code; use it as
//
//	func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }
//
// When EnvAddr is already set, Main uses that server and starts none. Either way it sets
// EnvExampleAddr to the server's address for the package's examples. Without redis-server (and
// CI not "true") it skips the examples, which cannot skip themselves, unless -test.skip is given.
func Main(m *testing.M) int {
	addr := os.Getenv(EnvAddr)
	if addr == "" {
		srv, err := start(context.Background())
		if errors.Is(err, errNotInstalled) {
			if inCI() {
				fmt.Fprintf(os.Stderr, "redistest: %v; CI=true, so failing instead of skipping\n", err)
				return 1
			}
			fmt.Fprintf(os.Stderr, "redistest: %v; tests and examples that need Redis are skipped\n", err)
			flag.Parse() // the testing flags, as m.Run would
			if skip := flag.Lookup("test.skip"); skip != nil && skip.Value.String() == "" {
				_ = skip.Value.Set("^Example")
			}
			return m.Run()
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "redistest: %v\n", err)
			return 1
		}
		defer srv.Stop()
		addr = srv.Addr
		defer func() { _ = os.Unsetenv(EnvAddr) }()
	}
	for _, name := range []string{EnvAddr, EnvExampleAddr} {
		if err := os.Setenv(name, addr); err != nil {
			fmt.Fprintf(os.Stderr, "redistest: %v\n", err)
			return 1
		}
	}
	return m.Run()
}

// Addr returns the address of the server started by Main. Without one, it skips t (fails it when
// CI=true).
func Addr(t testing.TB) string {
	t.Helper()
	if addr := os.Getenv(EnvAddr); addr != "" {
		return addr
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		unavailable(t, errNotInstalled)
		return ""
	}
	t.Fatalf("redistest: %s is not set: call redistest.Main from TestMain", EnvAddr)
	return ""
}

// Start starts a redis-server of t's own, stopped when t ends. Without redis-server it skips t
// (fails it when CI=true).
func Start(t testing.TB) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	srv, err := start(ctx)
	if errors.Is(err, errNotInstalled) {
		unavailable(t, err)
		return nil
	}
	if err != nil {
		t.Fatalf("redistest: %v", err)
		return nil
	}
	t.Cleanup(srv.Stop)
	return srv
}

func unavailable(t testing.TB, err error) {
	t.Helper()
	if inCI() {
		t.Fatalf("redistest: %v; CI=true, so failing instead of skipping", err)
	}
	t.Skipf("redistest: %v; skipping", err)
}

func inCI() bool { return strings.EqualFold(os.Getenv("CI"), "true") }

// Server is a running redis-server.
type Server struct {
	Addr string // "127.0.0.1:port"

	cmd    *exec.Cmd
	out    *bytes.Buffer // the server's output; read only after exited is closed
	exited chan struct{} // closed when the process has exited
	stop   sync.Once
}

// Stop kills the server and waits for it to exit. It is safe to call more than once.
func (s *Server) Stop() {
	s.stop.Do(func() { _ = s.cmd.Process.Kill() })
	<-s.exited
}

// start launches redis-server on a free loopback port, trying again if another process took the
// port first, and waits until it answers PING.
func start(ctx context.Context) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errNotInstalled
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, startTimeout)
		defer cancel()
	}
	for attempt := 1; ; attempt++ {
		srv, err := launch(ctx, bin)
		if err == nil || attempt == 3 || ctx.Err() != nil {
			return srv, err
		}
	}
}

func launch(ctx context.Context, bin string) (*Server, error) {
	port, err := freePort(ctx)
	if err != nil {
		return nil, err
	}
	// Not CommandContext: the server outlives ctx, which bounds only the start; Stop ends it.
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", //nolint:gosec,noctx // redis-server from PATH, our arguments
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), cmd: cmd, out: out, exited: make(chan struct{})}
	go func() { // ends when the process exits; Stop makes it exit
		_ = cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(ctx); err != nil {
		s.Stop()
		return nil, fmt.Errorf("redis-server on %s: %w; output: %s", s.Addr, err, bytes.TrimSpace(out.Bytes()))
	}
	return s, nil
}

// waitReady polls the server with PING until it answers, it exits, or ctx ends.
func (s *Server) waitReady(ctx context.Context) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if ping(ctx, s.Addr) == nil {
			return nil
		}
		select {
		case <-s.exited:
			return errors.New("exited before answering PING")
		case <-ctx.Done():
			return fmt.Errorf("no answer to PING: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// ping sends an inline PING and expects +PONG.
func ping(ctx context.Context, addr string) error {
	d := net.Dialer{Timeout: 200 * time.Millisecond}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	if err := conn.SetDeadline(time.Now().Add(time.Second)); err != nil {
		return err
	}
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("unexpected reply %q", line)
	}
	return nil
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(ctx context.Context) (int, error) {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ClosedAddr returns a loopback address on which nothing listens, for testing an unreachable Redis.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	port, err := freePort(t.Context())
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}
