package testkit

import (
	"net"
	"os"
	"os/exec"
	"testing"
	"time"
)

// PHP returns the php command. Without php-cli the test is skipped, except in CI (CI=true), where
// skipping would hide a missing install (.ci/run installs it).
func PHP(t testing.TB) string {
	t.Helper()
	php, err := exec.LookPath("php")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("php-cli is required in CI: .ci/run installs it")
		}
		t.Skip("php-cli not installed; this test needs it")
	}
	return php
}

// ServePHP serves script with php's built-in server until the test ends, and returns its base URL.
// PHP runs without a php.ini (-n), and with display_errors off so that a warning (such as PHP's
// about max_input_vars) never comes before a reply.
func ServePHP(t testing.TB, script string) string {
	t.Helper()
	php := PHP(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	cmd := exec.Command(php, "-n", "-d", "display_errors=0", "-S", addr, script)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			_ = conn.Close()
			return "http://" + addr
		}
		if time.Now().After(deadline) {
			t.Fatal("php -S did not start")
		}
	}
}
