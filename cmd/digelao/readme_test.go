package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao/digelaotest"
)

// TestTheBuiltCommand builds the command as the README says and runs it as a user would: its exit
// codes, and the README's example block, as written, against "digelao mock".
func TestTheBuiltCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH")
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not on PATH")
	}
	ctx := context.Background()
	bin := filepath.Join(t.TempDir(), "bin")
	out, err := exec.CommandContext(ctx, goBin, "build", "-o", filepath.Join(bin, "digelao"), ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	environ := []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + t.TempDir()}

	t.Run("exit codes", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			code int
		}{
			{[]string{"help", "tasks", "list"}, exitOK},
			{[]string{"version"}, exitOK},
			{[]string{"login", "--bogus"}, exitUsage},
			{[]string{"tasks", "create", "--name", "x", "--template", "t", "--seat", "s", "--contacts", "none.csv"}, exitFile},
		} {
			cmd := exec.CommandContext(ctx, filepath.Join(bin, "digelao"), tc.args...)
			cmd.Env, cmd.Dir = environ, t.TempDir()
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			}
			assert.Equal(t, tc.code, code, "%q: %s", tc.args, stderr.String())
			if tc.code != exitOK {
				assert.Empty(t, stdout.String(), "%q", tc.args)
				assert.Equal(t, 1, strings.Count(stderr.String(), "digelao: "), "%q", tc.args)
			}
		}
	})

	t.Run("README", func(t *testing.T) {
		block := readmeExample(t, "../../README.md")
		assert.Equal(t, commands(block), commands(readmeExample(t, "../../README.zh-CN.md")),
			"README.zh-CN.md runs the same commands")
		require.True(t, strings.HasPrefix(block[0], "digelao mock &"), "the example starts the mock: %q", block[0])

		// Start the mock as written, on a free port, and read the line to paste.
		mockArgs := strings.Fields(strings.TrimSuffix(strings.TrimSpace(strings.SplitN(block[0], "#", 2)[0]), "&"))
		mock := exec.CommandContext(ctx, filepath.Join(bin, "digelao"), mockArgs[1:]...)
		mock.Env = append(environ, "DIGELAO_MOCK_ADDR=127.0.0.1:0")
		mockOut, err := mock.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, mock.Start())
		defer func() { _ = mock.Process.Kill(); _ = mock.Wait() }()
		lines := bufio.NewScanner(mockOut)
		var pid int
		var export string
		for export == "" && lines.Scan() {
			if m := regexp.MustCompile(`pid (\d+)`).FindStringSubmatch(lines.Text()); m != nil {
				pid, _ = strconv.Atoi(m[1])
			}
			if strings.HasPrefix(lines.Text(), "export ") {
				export = lines.Text()
			}
		}
		require.NotEmpty(t, export, "no export line")
		assert.Equal(t, mock.Process.Pid, pid, "mock prints its own pid")

		// Paste it, and run the rest of the block as written.
		script := "set -euo pipefail\n" + export + "\n" + strings.Join(block[1:], "\n") + "\n"
		run := exec.CommandContext(ctx, bash, "-c", script)
		run.Env, run.Dir = environ, t.TempDir()
		var stdout, stderr bytes.Buffer
		run.Stdout, run.Stderr = &stdout, &stderr
		began := time.Now()
		require.NoError(t, run.Run(), "the README's example failed after %s:\n%s\n%s", time.Since(began), stdout.String(), stderr.String())
		for _, want := range []string{"logged in as demo", digelaotest.TemplateSN, "电话", "contacts from contacts.csv (UTF-8)",
			"回访", "2 of 2 records"} {
			assert.Contains(t, stdout.String(), want)
		}

		// Stopped by the pid it printed, it shuts down cleanly.
		proc, err := os.FindProcess(pid)
		require.NoError(t, err)
		require.NoError(t, proc.Signal(syscall.SIGTERM))
		assert.NoError(t, mock.Wait())
	})
}

// readmeExample returns the lines of the shell block after the README's cli-example marker.
func readmeExample(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	_, after, ok := strings.Cut(string(b), "<!-- cli-example")
	require.True(t, ok, "%s has no cli-example block", path)
	_, after, ok = strings.Cut(after, "```sh\n")
	require.True(t, ok, path)
	block, _, ok := strings.Cut(after, "```")
	require.True(t, ok, path)
	return strings.Split(strings.TrimSuffix(block, "\n"), "\n")
}

// commands returns the lines without their comments.
func commands(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = strings.TrimSpace(strings.SplitN(l, " #", 2)[0])
	}
	return out
}
