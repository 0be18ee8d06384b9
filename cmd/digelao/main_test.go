package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/digelaotest"
	"github.com/digelao-go/digelao/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// result is what one run of the command printed and returned.
type result struct {
	code           int
	stdout, stderr string
}

// cli runs the command with vars as its whole environment.
func cli(ctx context.Context, vars map[string]string, args ...string) result {
	var out, errOut testkit.SyncBuffer
	code := run(ctx, args, &env{stdout: &out, stderr: &errOut, getenv: func(k string) string { return vars[k] }})
	return result{code, out.String(), errOut.String()}
}

// fake starts the fake platform and returns the environment that points the command at it.
func fake(t *testing.T, opts ...digelaotest.Option) (*digelaotest.Server, map[string]string) {
	t.Helper()
	srv := digelaotest.NewServer(opts...)
	t.Cleanup(srv.Close)
	return srv, map[string]string{"DIGELAO_BASE_URL": srv.URL, "DIGELAO_USERNAME": digelaotest.Username,
		"DIGELAO_PASSWORD": digelaotest.Password}
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

func TestHelpAndUsageErrors(t *testing.T) {
	ctx := context.Background()
	help := cli(ctx, nil, "--help")
	assert.Equal(t, exitOK, help.code)
	for _, name := range []string{"login", "set-callback", "tasks", "records", "dialogue", "download", "listen", "mock", "blacklist", "accounts"} {
		assert.Contains(t, help.stdout, "  "+name+" ")
	}
	assert.Contains(t, help.stdout, "DIGELAO_BASE_URL")

	sub := cli(ctx, nil, "tasks", "create", "--help")
	assert.Equal(t, exitOK, sub.code)
	assert.Contains(t, sub.stdout, "-contacts")

	for _, args := range [][]string{{}, {"nope"}, {"tasks", "nope"}, {"tasks", "operate", "1"}, {"login", "--bogus"}} {
		r := cli(ctx, nil, args...)
		assert.Equal(t, exitUsage, r.code, "%q", args)
		assert.Contains(t, r.stderr, "digelao help", "%q", args)
	}
	noCreds := cli(ctx, map[string]string{"DIGELAO_BASE_URL": "http://127.0.0.1:1"}, "login")
	assert.Equal(t, exitUsage, noCreds.code)
	assert.Contains(t, noCreds.stderr, "no credentials")
}

func TestLoginAndPlatformErrors(t *testing.T) {
	ctx := context.Background()
	srv, vars := fake(t)
	ok := cli(ctx, vars, "login")
	require.Equal(t, exitOK, ok.code, ok.stderr)
	assert.Contains(t, ok.stdout, digelaotest.UserSN)

	vars["DIGELAO_PASSWORD"] = "not-the-pass-9"
	bad := cli(ctx, vars, "login")
	assert.Equal(t, exitError, bad.code)
	assert.Regexp(t, `^digelao: .*20004`, bad.stderr, "one prefix and the platform's code")
	assert.NotContains(t, bad.stderr, "not-the-pass-9")
	assertNoSecrets(t, srv, ok, bad)
}

func TestInvalidInputSendsNothing(t *testing.T) {
	ctx := context.Background()
	srv, vars := fake(t)
	csv := filepath.Join(t.TempDir(), "c.csv")
	require.NoError(t, os.WriteFile(csv, []byte("电话\n13800138000\n"), 0o600))
	r := cli(ctx, vars, "tasks", "create", "--name", "bad name!", "--template", digelaotest.TemplateSN,
		"--seat", digelaotest.SeatSN, "--contacts", csv)
	assert.Equal(t, exitInput, r.code, r.stderr)
	assert.Contains(t, r.stderr, "Name")
	r = cli(ctx, vars, "set-callback", "--url", "ftp://x")
	assert.Equal(t, exitInput, r.code, r.stderr)
	assert.Empty(t, srv.Requests(), "nothing reached the platform")
}

func TestTaskRecordsDialogueDownload(t *testing.T) {
	ctx := context.Background()
	srv, vars := fake(t, digelaotest.WithManualTime())
	dir := t.TempDir()
	csv := filepath.Join(dir, "contacts.csv")
	require.NoError(t, os.WriteFile(csv, []byte("电话,姓名,地址\n13800138000,张三,北京\n13900139000,李四,上海\n"), 0o600))

	created := cli(ctx, vars, "tasks", "create", "--name", "回访(1)", "--template", digelaotest.TemplateSN,
		"--seat", digelaotest.SeatSN, "--contacts", csv, "--start")
	require.Equal(t, exitOK, created.code, created.stderr)
	assert.Contains(t, created.stdout, "2 of 2 contacts")
	require.NoError(t, srv.Flush(ctx))

	tasks := srv.Tasks()
	require.Len(t, tasks, 1)
	assert.Equal(t, 2, tasks[0].Numbers)
	listed := cli(ctx, vars, "tasks", "list", "--from", "2000-01-01")
	require.Equal(t, exitOK, listed.code, listed.stderr)
	assert.Contains(t, listed.stdout, tasks[0].SN)

	records := cli(ctx, vars, "records", "list", "--task", tasks[0].SN, "--json", "--all")
	require.Equal(t, exitOK, records.code, records.stderr)
	lines := strings.Split(strings.TrimSpace(records.stdout), "\n")
	require.Len(t, lines, 2)
	var rec *digelao.CallRecord
	for _, l := range lines {
		var r digelao.CallRecord
		require.NoError(t, r.UnmarshalJSON([]byte(l)))
		if r.Connected() {
			rec = &r
		}
	}
	require.NotNil(t, rec, "a connected call")
	table := cli(ctx, vars, "records", "list", "--task", tasks[0].SN)
	assert.Contains(t, table.stdout, rec.SN)
	assert.Contains(t, table.stdout, "2 of 2 records")

	dialogue := cli(ctx, vars, "dialogue", rec.SN, rec.ConnectedAt.In(chinaTime).Format(time.DateTime))
	require.Equal(t, exitOK, dialogue.code, dialogue.stderr)
	assert.Contains(t, dialogue.stdout, "robot")

	wav := filepath.Join(dir, "call.wav")
	dl := cli(ctx, vars, "download", rec.RecordPath, rec.RecordFile, "-o", wav)
	require.Equal(t, exitOK, dl.code, dl.stderr)
	b, err := os.ReadFile(wav)
	require.NoError(t, err)
	assert.Equal(t, "RIFF", string(b[:4]))
	assert.Contains(t, dl.stderr, "downloaded")

	missing := cli(ctx, vars, "download", rec.RecordPath, "/mnt/record/none.wav", "-o", filepath.Join(dir, "none.wav"))
	assert.Equal(t, exitError, missing.code)
	left, err := filepath.Glob(filepath.Join(dir, "*none.wav*"))
	require.NoError(t, err)
	assert.Empty(t, left, "a failed download leaves no file")

	deleted := cli(ctx, vars, "tasks", "operate", strconv.FormatInt(tasks[0].ID, 10), "delete")
	require.Equal(t, exitOK, deleted.code, deleted.stderr)
	assert.True(t, srv.Tasks()[0].Deleted)
	assertNoSecrets(t, srv, created, listed, records, table, dialogue, dl, missing, deleted)
}

func TestBlacklistAndAccounts(t *testing.T) {
	ctx := context.Background()
	srv, vars := fake(t)
	added := cli(ctx, vars, "blacklist", "add", "13800138000", "--days", "7", "--remark", "opted out")
	require.Equal(t, exitOK, added.code, added.stderr)
	list := cli(ctx, vars, "blacklist", "list", "--json")
	require.Equal(t, exitOK, list.code, list.stderr)
	assert.Contains(t, list.stdout, "13800138000")
	id := regexp.MustCompile(`"id":(\d+)`).FindStringSubmatch(list.stdout)
	require.NotNil(t, id, list.stdout)
	removed := cli(ctx, vars, "blacklist", "remove", id[1])
	require.Equal(t, exitOK, removed.code, removed.stderr)
	assert.Contains(t, removed.stdout, "removed 1")

	out := filepath.Join(t.TempDir(), "bl.xlsx")
	dl := cli(ctx, vars, "blacklist", "download", "-o", out)
	require.Equal(t, exitOK, dl.code, dl.stderr)
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, "PK", string(b[:2]), "an xlsx is a zip file")

	accounts := cli(ctx, vars, "accounts", "list")
	require.Equal(t, exitOK, accounts.code, accounts.stderr)
	assert.Contains(t, accounts.stdout, digelaotest.SeatSN)
	roles := cli(ctx, vars, "accounts", "roles")
	assert.Equal(t, exitOK, roles.code, roles.stderr)
	assertNoSecrets(t, srv, added, list, removed, dl, accounts, roles)
}

// started runs a long-running command until the returned stop is called, and waits for its
// output to match addr.
func started(t *testing.T, vars map[string]string, addr *regexp.Regexp, args ...string) (string, *testkit.SyncBuffer, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut testkit.SyncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, args, &env{stdout: &out, stderr: &errOut, getenv: func(k string) string { return vars[k] }})
	}()
	stop := func() int { cancel(); return <-done }
	var m []string
	require.Eventually(t, func() bool {
		m = addr.FindStringSubmatch(out.String() + errOut.String())
		return m != nil
	}, 5*time.Second, 10*time.Millisecond, "no address printed: %s", errOut.String())
	return m[1], &out, stop
}

func TestListenPrintsEachPush(t *testing.T) {
	vars := map[string]string{"DIGELAO_PUSH_TOKEN": "tok"}
	base, out, stop := started(t, vars, regexp.MustCompile(`listening on (http://\S+/)`), "listen", "--addr", "127.0.0.1:0")
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	post := func(url string) int {
		body := digelao.SampleCallRecordPush("account|abc", "13800138000")
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewReader(body))
		require.NoError(t, err)
		resp, err := hc.Do(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusUnauthorized, post(base+"push"))
	assert.Equal(t, http.StatusOK, post(base+"push?token=tok"))
	assert.Equal(t, exitOK, stop())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 1, "one event printed")
	assert.Contains(t, lines[0], `"kind":"call_record"`)
	assert.Contains(t, lines[0], `"sn":"account|abc"`)
	assert.NotContains(t, out.String(), "tok\"")
}

func TestMockServesTheFake(t *testing.T) {
	base, _, stop := started(t, nil, regexp.MustCompile(`DIGELAO_BASE_URL=(\S+)`), "mock", "--addr", "127.0.0.1:0")
	login := cli(context.Background(), map[string]string{"DIGELAO_BASE_URL": base,
		"DIGELAO_USERNAME": digelaotest.Username, "DIGELAO_PASSWORD": digelaotest.Password}, "login")
	assert.Equal(t, exitOK, login.code, login.stderr)
	assert.Equal(t, exitOK, stop())
}

// failingWriter fails every write, like a closed pipe.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, os.ErrClosed }

func TestFailedOutputIsAnError(t *testing.T) {
	var errOut testkit.SyncBuffer
	code := run(context.Background(), []string{"--help"}, &env{stdout: failingWriter{}, stderr: &errOut, getenv: os.Getenv})
	assert.Equal(t, exitError, code)
	assert.Contains(t, errOut.String(), "writing output")
}
