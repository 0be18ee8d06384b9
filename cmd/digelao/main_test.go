package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/digelao-go/digelao/digelaotest"
	"github.com/digelao-go/digelao/internal/redistest"
	"github.com/digelao-go/digelao/internal/testkit"
)

// withRedis runs the tests with a throwaway redis-server (internal/redistest), as the redisstore
// tests do.
type withRedis struct{ m *testing.M }

func (w withRedis) Run() int { return redistest.Main(w.m) }

// testCache is the user's cache directory of the commands cli runs: a directory of the test run's
// own, never the user's. Each fake platform has a port of its own, so sessions do not mix.
var testCache string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "digelao-cache-")
	if err != nil {
		panic(err)
	}
	testCache = dir
	defer os.RemoveAll(dir) //nolint:errcheck // a temporary directory
	goleak.VerifyTestMain(withRedis{m})
}

// result is what one run of the command printed and returned.
type result struct {
	code           int
	stdout, stderr string
}

// cli runs the command through run, main's own entry, with vars as its whole environment and the
// test run's cache directory; stderr is no terminal.
func cli(ctx context.Context, vars map[string]string, args ...string) result {
	return cliIn(ctx, cacheIn(testCache), vars, args...)
}

// onTerminal is cli's env with stderr a terminal.
func onTerminal() *env {
	e := cacheIn(testCache)
	e.tty = true
	return e
}

// cliIn is cli with e's terminal and cache directory.
func cliIn(ctx context.Context, e *env, vars map[string]string, args ...string) result {
	var out, errOut testkit.SyncBuffer
	code := run(ctx, args, &env{stdout: &out, stderr: &errOut, getenv: func(k string) string { return vars[k] }, pid: 4242,
		tty: e.tty, cacheDir: e.cacheDir})
	return result{code, out.String(), errOut.String()}
}

// cacheIn returns an env whose cache directory is dir.
func cacheIn(dir string) *env { return &env{cacheDir: func() (string, error) { return dir, nil }} }

// fake starts the fake platform and returns the environment that points the command at it.
func fake(t *testing.T, opts ...digelaotest.Option) (*digelaotest.Server, map[string]string) {
	t.Helper()
	srv := digelaotest.NewServer(opts...)
	t.Cleanup(srv.Close)
	return srv, map[string]string{"DIGELAO_BASE_URL": srv.URL, "DIGELAO_USERNAME": digelaotest.Username,
		"DIGELAO_PASSWORD": digelaotest.Password}
}

// with returns a copy of vars with more set.
func with(vars map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range vars {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// assertNoSecrets checks that no password or api_key the fake saw was printed.
func assertNoSecrets(t *testing.T, srv *digelaotest.Server, outputs ...result) {
	t.Helper()
	secrets := []string{digelaotest.Password, digelaotest.AccessSecret}
	for _, req := range srv.Requests() {
		if v, ok := req.Get("api_key"); ok {
			secrets = append(secrets, v)
		}
	}
	for _, r := range outputs {
		for i, s := range secrets {
			assert.NotContains(t, r.stdout+r.stderr, s, "secret #%d printed", i)
		}
	}
}

// assertUsage checks a wrong command line: exit 2, nothing on stdout, the error once on stderr
// with a pointer to the help.
func assertUsage(t *testing.T, r result, want string, args ...any) {
	t.Helper()
	assert.Equal(t, exitUsage, r.code, args...)
	assert.Empty(t, r.stdout, args...)
	assert.Equal(t, 1, strings.Count(r.stderr, "digelao: "), "the error once: %s", r.stderr)
	assert.Contains(t, r.stderr, want, args...)
	assert.Regexp(t, `Run "digelao[a-z -]*--help" for usage`, r.stderr, args...)
}

func TestHelpOnEveryLevel(t *testing.T) {
	ctx := context.Background()
	help := cli(ctx, nil, "--help")
	require.Equal(t, exitOK, help.code)
	for _, name := range []string{"login", "set-callback", "templates", "tasks", "records", "dialogue", "download",
		"listen", "sync", "mock", "blacklist", "accounts", "completion"} {
		assert.Contains(t, help.stdout, "  "+name+" ")
	}
	assert.Contains(t, help.stdout, "Exit status:")
	assert.Empty(t, help.stderr)

	// help <group> <command> prints that command's help, as <group> <command> --help does.
	topic := cli(ctx, nil, "help", "tasks", "list")
	require.Equal(t, exitOK, topic.code, topic.stderr)
	assert.Contains(t, topic.stdout, "digelao tasks list [flags]")
	assert.Contains(t, topic.stdout, "--status")
	assert.NotContains(t, topic.stdout, "Available Commands", "not the tasks group's help")
	assert.Equal(t, topic.stdout, cli(ctx, nil, "tasks", "list", "--help").stdout)
	assertUsage(t, cli(ctx, nil, "help", "tasks", "nope"), `unknown help topic "tasks nope"`)

	// Every command answers --help on stdout, and each flag with a variable names it.
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		path := strings.Fields(c.CommandPath())[1:]
		r := cli(ctx, nil, append(path, "--help")...)
		assert.Equal(t, exitOK, r.code, "%v", path)
		assert.Contains(t, r.stdout, "Usage:", "%v", path)
		assert.Empty(t, r.stderr, "%v", path)
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if v := f.Annotations[envAnnotation]; len(v) > 0 {
				assert.Contains(t, r.stdout, "[$"+v[0]+"]", "%v --%s", path, f.Name)
			}
		})
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() {
				walk(sub)
			}
		}
	}
	walk(newRoot(&env{getenv: func(string) string { return "" }}))
}

func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		r := cli(context.Background(), nil, "completion", shell)
		assert.Equal(t, exitOK, r.code, shell)
		assert.Contains(t, r.stdout, "digelao", shell)
	}
	// Flag values complete from the documented lists.
	r := cli(context.Background(), nil, cobra.ShellCompRequestCmd, "tasks", "list", "--status", "")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "paused")
	r = cli(context.Background(), nil, cobra.ShellCompRequestCmd, "tasks", "operate", "5", "")
	assert.Contains(t, r.stdout, "redial-failed")
}

func TestWrongCommandLines(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		args []string
		vars map[string]string
		want string
	}{
		{[]string{"nope"}, nil, `unknown command "nope" for "digelao"`},
		{[]string{"tasks", "nope"}, nil, `unknown command "nope" for "digelao tasks"`},
		{[]string{"tasks", "lst"}, nil, "did you mean list?"},
		{[]string{"tasks", "operate", "1"}, nil, "accepts 2 arg(s)"},
		{[]string{"login", "--bogus"}, nil, "unknown flag: --bogus"},
		{[]string{"login", "--password", "x"}, nil, "set DIGELAO_PASSWORD"},
		{[]string{"login", "--timeout", "soon"}, nil, `"--timeout"`},
		{[]string{"login"}, map[string]string{"DIGELAO_TIMEOUT": "soon"}, `DIGELAO_TIMEOUT="soon"`},
		{[]string{"tasks", "create", "--name", "x"}, nil, "missing --contacts, --seat (or DIGELAO_SEAT_SN), --template (or DIGELAO_TEMPLATE_SN)"},
		{[]string{"set-callback"}, nil, "missing --url"},
		{[]string{"records", "list", "--intent", "Z"}, nil, `"Z" is not an intent grade; want A, B, C, D, E, F`},
		{[]string{"tasks", "list", "--status", "pausd"}, nil, "want running (0, 发送中), finished (1, 已发送), paused (4, 暂停发送), ended (6, 终止发送)"},
		{[]string{"tasks", "list", "--status", "paused (已发送)"}, nil, `"paused (已发送)" is not a task state`},
		{[]string{"tasks", "operate", "5", "stopp"}, nil, "want pause (stop), resume (keepOn)"},
		{[]string{"tasks", "operate", "x", "pause"}, nil, "<task-id>"},
		{[]string{"login"}, map[string]string{"DIGELAO_USERNAME": "demo"}, "--base-url or DIGELAO_BASE_URL"},
		{[]string{"login"}, map[string]string{"DIGELAO_BASE_URL": "http://127.0.0.1:1"}, "no credentials"},
		{[]string{"login"}, map[string]string{"DIGELAO_BASE_URL": "http://127.0.0.1:1", "DIGELAO_USERNAME": "demo"},
			"DIGELAO_PASSWORD is not set"},
		{[]string{"login"}, map[string]string{"DIGELAO_BASE_URL": "http://127.0.0.1:1", "DIGELAO_ACCESS_ID": "id"},
			"DIGELAO_ACCESS_SECRET is not set"},
		{[]string{"mock", "--minute", "0s"}, nil, "--minute must be positive"},
	} {
		assertUsage(t, cli(ctx, tc.vars, tc.args...), tc.want, "%q", tc.args)
	}
	// Alone, a group prints its help, as gh and kubectl do.
	r := cli(ctx, nil, "tasks")
	assert.Equal(t, exitOK, r.code)
	assert.Contains(t, r.stdout, "Available Commands")
}

func TestExitCodes(t *testing.T) {
	ctx := context.Background()
	srv, vars := fake(t)
	dir := t.TempDir()
	csv := filepath.Join(dir, "c.csv")
	require.NoError(t, os.WriteFile(csv, []byte("电话\n13800138000\n"), 0o600))
	create := func(extra ...string) []string {
		return append([]string{"tasks", "create", "--template", digelaotest.TemplateSN, "--seat", digelaotest.SeatSN}, extra...)
	}

	ok := cli(ctx, vars, "login")
	assert.Equal(t, exitOK, ok.code, ok.stderr)
	assert.Contains(t, ok.stdout, digelaotest.UserSN)
	assert.Regexp(t, `valid until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d China time \(UTC\+8\)`, ok.stdout)

	bad := cli(ctx, with(vars, "DIGELAO_PASSWORD", "not-the-pass-9"), "login", "--new")
	assert.Equal(t, exitPlatform, bad.code)
	assert.Regexp(t, `(?m)^digelao: .*20004`, bad.stderr, "one prefix and the platform's code")
	assert.Equal(t, 1, strings.Count(bad.stderr, "digelao: "), "the error once")
	assert.NotContains(t, bad.stderr, "not-the-pass-9")

	down := cli(ctx, with(vars, "DIGELAO_BASE_URL", "http://127.0.0.1:1", "DIGELAO_TIMEOUT", "2s"), "login")
	assert.Equal(t, exitPlatform, down.code, down.stderr)

	before := len(srv.Requests())
	invalid := cli(ctx, vars, create("--name", "bad name!", "--contacts", csv)...)
	assertUsage(t, invalid, "invalid --name: ")
	badURL := cli(ctx, with(vars, "DIGELAO_BASE_URL", "ftp://x"), "login")
	assertUsage(t, badURL, "invalid --base-url (DIGELAO_BASE_URL): ")
	assertUsage(t, cli(ctx, with(vars, "DIGELAO_TIMEOUT", "-1s"), "login"), "invalid --timeout (DIGELAO_TIMEOUT): ")
	noFile := cli(ctx, vars, create("--name", "回访", "--contacts", filepath.Join(dir, "none.csv"))...)
	assert.Equal(t, exitFile, noFile.code, noFile.stderr)
	assert.Contains(t, noFile.stderr, "--contacts: open ")
	assert.Len(t, srv.Requests(), before, "nothing reached the platform")
	assertNoSecrets(t, srv, ok, bad, invalid, badURL, noFile)
}

func TestFlagsReadTheirVariables(t *testing.T) {
	ctx := context.Background()
	srv, vars := fake(t)
	// The flag wins over its variable.
	r := cli(ctx, with(vars, "DIGELAO_BASE_URL", "http://127.0.0.1:1"), "login", "--base-url", srv.URL)
	assert.Equal(t, exitOK, r.code, r.stderr)
	// Required flags are met by their variables.
	csv := filepath.Join(t.TempDir(), "c.csv")
	require.NoError(t, os.WriteFile(csv, []byte("电话\n13800138000\n"), 0o600))
	r = cli(ctx, with(vars, "DIGELAO_TEMPLATE_SN", digelaotest.TemplateSN, "DIGELAO_SEAT_SN", digelaotest.SeatSN),
		"tasks", "create", "--name", "回访", "--contacts", csv)
	assert.Equal(t, exitOK, r.code, r.stderr)
	// A flag that names a template the platform does not know says where to find one.
	r = cli(ctx, with(vars, "DIGELAO_SEAT_SN", digelaotest.SeatSN, "DIGELAO_TEMPLATE_SN", "projects|nope"),
		"tasks", "create", "--name", "回访", "--contacts", csv)
	assert.Equal(t, exitPlatform, r.code)
	assert.Contains(t, r.stderr, `"digelao templates list" shows them`)
}

// failingWriter fails every write, like a closed pipe.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, os.ErrClosed }

func TestFailedOutputIsAnError(t *testing.T) {
	var errOut testkit.SyncBuffer
	code := run(context.Background(), []string{"--help"}, &env{stdout: failingWriter{}, stderr: &errOut, getenv: os.Getenv})
	assert.Equal(t, exitPlatform, code)
	assert.Contains(t, errOut.String(), "writing output")
}

// TestLibraryDoesNotLinkTheCLI checks that programs importing the SDK (and its test fake and
// Redis store) link neither cobra nor pflag: only the command does.
func TestLibraryDoesNotLinkTheCLI(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH")
	}
	cmd := exec.CommandContext(context.Background(), goBin, "list", "-deps", "github.com/digelao-go/digelao",
		"github.com/digelao-go/digelao/digelaotest", "github.com/digelao-go/digelao/redisstore")
	out, err := cmd.Output()
	require.NoError(t, err)
	require.Contains(t, string(out), "github.com/digelao-go/digelao/internal/transport", "the list is the real one")
	assert.NotRegexp(t, regexp.MustCompile(`(?m)^github\.com/spf13/`), string(out))
}

// readmeExitCodes returns the rows of the README's exit-code table: code → meaning.
func readmeExitCodes(t *testing.T) map[int]string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	_, table, ok := strings.Cut(string(b), "| exit code | meaning |\n|---|---|\n")
	require.True(t, ok, "README.md has no exit-code table")
	out := map[int]string{}
	for _, row := range regexp.MustCompile(`(?m)^\| (\d) \| (.+) \|$`).FindAllStringSubmatch(table, -1) {
		code, _ := strconv.Atoi(row[1])
		out[code] = row[2]
	}
	require.NotEmpty(t, out)
	return out
}

// TestExitCodeTable runs cases for every row of the README's exit-code table, and checks that
// "digelao --help" prints the same codes. A bad value on the command line is 2 whichever flag or
// argument it is; the error names it as the user wrote it, never a Go identifier.
func TestExitCodeTable(t *testing.T) {
	ctx := context.Background()
	srv, vars := fake(t)
	dir := t.TempDir()
	badRow := writeFile(t, "c.csv", []byte("电话\n13800138000\n138-abc\n"))
	create := func(extra ...string) []string {
		return append([]string{"tasks", "create", "--name", "回访", "--template", digelaotest.TemplateSN,
			"--seat", digelaotest.SeatSN}, extra...)
	}
	// A sync output whose checkpoint is lost, and one that another sync holds.
	lost := filepath.Join(dir, "lost.jsonl")
	require.NoError(t, os.WriteFile(lost, []byte(`{"sn":"account|1","created_at":"2026-11-30 10:00:00"}`+"\n"), 0o600))
	held := filepath.Join(dir, "held.jsonl")
	o, err := openOutput(held)
	require.NoError(t, err)
	defer o.close()

	cases := map[int][]struct {
		args []string
		vars map[string]string
		want string // in stderr
	}{
		0: {{[]string{"login"}, vars, ""}, {[]string{"version"}, nil, ""}},
		1: {
			{[]string{"login", "--new"}, with(vars, "DIGELAO_PASSWORD", "wrong-9"), "20004"},
			{[]string{"login"}, with(vars, "DIGELAO_BASE_URL", "http://127.0.0.1:1", "DIGELAO_TIMEOUT", "2s"), "127.0.0.1:1"},
			{[]string{"dialogue", "account|none", "2026-11-30 10:00:00"}, vars, "no dialogue for record account|none"},
		},
		2: {
			{[]string{"records", "list", "--page", "-1"}, vars, "invalid --page: must not be negative"},
			{[]string{"records", "list", "--per-page", "-1"}, vars, "invalid --per-page: "},
			{[]string{"tasks", "list", "--page", "-1"}, vars, "invalid --page: "},
			{[]string{"blacklist", "list", "--page", "-1"}, vars, "invalid --page: "},
			{[]string{"accounts", "list", "--page", "-1"}, vars, "invalid --page: "},
			{[]string{"records", "list", "--from", "yesterday"}, vars, `invalid argument "yesterday" for "--from"`},
			{[]string{"records", "list", "--from", "2026-11-30", "--to", "2026-11-01"}, vars, "invalid --to: "},
			{[]string{"tasks", "list", "--from", "2026-11-30", "--to", "2026-11-01"}, vars, "invalid --to: "},
			{[]string{"set-callback", "--url", "ftp://x", "--no-token"}, vars, "invalid --url: "},
			{[]string{"set-callback", "--url", "http://x/", "--task-url", "x", "--no-token"}, vars, "invalid --task-url: "},
			{[]string{"login"}, with(vars, "DIGELAO_BASE_URL", "ftp://x"), "invalid --base-url (DIGELAO_BASE_URL): "},
			{[]string{"login", "--timeout", "-1s"}, vars, "invalid --timeout (DIGELAO_TIMEOUT): "},
			{create("--name", "bad name!", "--contacts", badRow), vars, "invalid --name: "},
			{[]string{"blacklist", "add", "12ab"}, vars, "invalid <phone>: "},
			{[]string{"blacklist", "add", "13800138000", "--days", "-1"}, vars, "invalid --days: "},
			{[]string{"dialogue", "", "2026-11-30 10:00:00"}, vars, "invalid <record-sn>: "},
			{[]string{"download", "/mnt/x", ""}, vars, "invalid <recordfile>: "},
			{[]string{"templates", "columns", ""}, vars, "invalid <template-sn>: "},
			{[]string{"sync", "--out", filepath.Join(dir, "a.jsonl"), "--lag", "-1m"}, vars, "invalid --lag (DIGELAO_SYNC_LAG): "},
			{[]string{"login", "--bogus"}, vars, "unknown flag: --bogus"},
			{[]string{"set-callback"}, vars, "missing --url"},
			{[]string{"accounts", "delete", ""}, vars, "invalid <user-name> (the 1st): "},
			{[]string{"listen", "--addr", "nonsense"}, vars, "invalid --addr (DIGELAO_LISTEN): "},
			{[]string{"mock", "--addr", "nonsense"}, vars, "invalid --addr (DIGELAO_MOCK_ADDR): "},
			{[]string{"mock", "--addr", "127.0.0.1:99999"}, vars, "invalid --addr (DIGELAO_MOCK_ADDR): "},
			{[]string{"records", "list", "--phone", "abc"}, vars, "invalid --phone: "},
			{[]string{"completion", "ksh"}, vars, `unknown command "ksh" for "digelao completion"`},
			{[]string{"blacklist", "add", "13800138000", "--days", "99999999999"}, vars, "invalid --days: "},
		},
		3: {{create("--contacts", badRow), vars, `c.csv:3, column "电话": "138-abc" is not a phone number`}},
		4: {
			{create("--contacts", filepath.Join(dir, "none.csv")), vars, "--contacts: open "},
			{[]string{"sync", "--out", lost}, vars, "lost.jsonl.state, its checkpoint, is missing"},
		},
		5: {{[]string{"sync", "--out", held}, vars, "another digelao sync is writing it"}},
	}
	table := readmeExitCodes(t)
	help := cli(ctx, nil, "--help").stdout
	for code := range table {
		assert.NotEmpty(t, cases[code], "no case for the README's exit code %d", code)
		assert.Regexp(t, fmt.Sprintf(`(?m)^  %d  \S`, code), help, "--help lists exit code %d", code)
	}
	goIdent := regexp.MustCompile(`invalid [A-Za-z]\w*[:\[.]|ImportInBatches|\bContacts\b|With[A-Z]\w+`)
	for code, list := range cases {
		assert.Contains(t, table, code, "exit code %d is not in the README's table", code)
		for _, tc := range list {
			r := cli(ctx, tc.vars, tc.args...)
			assert.Equal(t, code, r.code, "%q: %s", tc.args, r.stderr)
			assert.Contains(t, r.stderr, tc.want, "%q", tc.args)
			assert.NotRegexp(t, goIdent, r.stderr, "%q names a Go identifier", tc.args)
			if code != exitOK {
				assert.Equal(t, 1, strings.Count(r.stderr, "digelao: "), "%q: the error once: %s", tc.args, r.stderr)
			}
			if code == exitUsage {
				assert.Empty(t, r.stdout, "%q: a wrong command line does nothing", tc.args)
			}
		}
	}
	assertNoSecrets(t, srv)
}

// TestErrorSaysDigelaoOnce: the command's words around an SDK error ("waiting for the import …:
// digelao: GET …") leave one "digelao: ", at the start.
func TestErrorSaysDigelaoOnce(t *testing.T) {
	sdk := errors.New("digelao: POST /api/getImportTaskInfo: HTTP 502")
	assert.Equal(t, "digelao: POST /api/getImportTaskInfo: HTTP 502", message(sdk))
	assert.Equal(t, "digelao: waiting for the import into task 5 (5.7.4): POST /api/getImportTaskInfo: HTTP 502",
		message(fmt.Errorf("waiting for the import into task 5 (5.7.4): %w", sdk)))
	assert.Equal(t, "digelao: open x: no such file", message(errors.New("open x: no such file")))
}

func TestVersion(t *testing.T) {
	ctx := context.Background()
	r := cli(ctx, nil, "version")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Regexp(t, `^digelao \d+\.\d+\.\d+ \(module github\.com/digelao-go/digelao \S+`, r.stdout)
	assert.Contains(t, r.stdout, runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH)
	info, ok := debug.ReadBuildInfo()
	require.True(t, ok)
	want := ", commit unknown (built without version control information)"
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" {
			want = ", commit " + s.Value[:min(len(s.Value), 12)]
		}
	}
	assert.Contains(t, r.stdout, want)
	assert.Equal(t, r.stdout, cli(ctx, nil, "--version").stdout)
}
