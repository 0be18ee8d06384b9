package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/digelaotest"
)

// syncFake is a fake platform in manual time whose clock the test sets, so that its records are
// created where the command's sweeps, on the real clock, look for them.
type syncFake struct {
	srv   *digelaotest.Server
	vars  map[string]string
	clock *digelaotest.Clock
	calls int
}

func newSyncFake(t *testing.T) *syncFake {
	t.Helper()
	clock := digelaotest.NewClock(time.Now())
	srv, vars := fake(t, digelaotest.WithManualTime(), digelaotest.WithClock(clock.Now))
	return &syncFake{srv: srv, vars: vars, clock: clock}
}

// call runs a task calling n numbers, started ago before now, to its end, pushes included.
func (f *syncFake) call(t *testing.T, n int, ago time.Duration) {
	t.Helper()
	f.calls++
	f.clock.Set(time.Now().Add(-ago))
	csv := "电话\n"
	for i := range n {
		csv += fmt.Sprintf("139%04d%04d\n", f.calls, i)
	}
	ctx := context.Background()
	r := cli(ctx, f.vars, createArgs(fmt.Sprintf("回访%d", f.calls), writeFile(t, "c.csv", []byte(csv)), "--start")...)
	require.Equal(t, exitOK, r.code, r.stderr)
	require.NoError(t, f.srv.Flush(ctx))
	f.clock.Set(time.Now()) // the platform's clock, which its replies' Date carry, is back to now
}

// sns returns the sns of the fake's records.
func (f *syncFake) sns() []string {
	var out []string
	for _, r := range f.srv.CallRecords() {
		out = append(out, r.SN)
	}
	return out
}

// readOutput reads a sync's output: every line a call record, counted by sn.
func readOutput(t *testing.T, name string) (map[string]int, []*digelao.CallRecord) {
	t.Helper()
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	require.True(t, len(b) == 0 || strings.HasSuffix(string(b), "\n"), "whole lines only")
	counts := map[string]int{}
	var recs []*digelao.CallRecord
	for line := range strings.Lines(string(b)) {
		var r digelao.CallRecord
		require.NoError(t, json.Unmarshal([]byte(line), &r), line)
		counts[r.SN]++
		recs = append(recs, &r)
	}
	return counts, recs
}

// once is the count of each sn when every one is there once.
func once(sns []string) map[string]int {
	out := map[string]int{}
	for _, sn := range sns {
		out[sn] = 1
	}
	return out
}

var sweepLine = regexp.MustCompile(`msg="digelao sync: sweep" .* found=(\d+) gaps_filled=(\d+) duplicates=(\d+) .* error=<nil>`)

func TestSyncAppendsEachRecordOnceAcrossRuns(t *testing.T) {
	ctx := context.Background()
	f := newSyncFake(t)
	f.call(t, 3, 35*time.Minute) // within the next run's overlap of this run's checkpoint
	out := filepath.Join(t.TempDir(), "records.jsonl")

	first := cli(ctx, f.vars, "sync", "--out", out)
	require.Equal(t, exitOK, first.code, first.stderr)
	assert.Empty(t, first.stdout)
	assert.Contains(t, first.stderr, "no checkpoint yet: sweeping back 24h0m0s")
	assert.Regexp(t, `found=3 gaps_filled=3 duplicates=0`, first.stderr)
	counts, recs := readOutput(t, out)
	assert.Equal(t, once(f.sns()), counts)

	// Each line is json.Marshal of the SDK's record, as the platform lists it.
	c, err := f.srv.Client()
	require.NoError(t, err)
	defer c.CloseIdleConnections()
	listed, _, err := c.Records.List(ctx, &digelao.RecordListOptions{ListOptions: digelao.ListOptions{PerPage: 100}})
	require.NoError(t, err)
	assertJSONLines(t, listed, readLines(t, out))
	require.Len(t, recs, 3)

	var st syncState
	b, err := os.ReadFile(out + ".state")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &st))
	assert.WithinDuration(t, time.Now().Add(-digelao.DefaultSweepLag), st.Checkpoint, time.Minute)
	assert.Equal(t, digelaotest.UserSN, st.UserSN)

	// More calls; and a write the first run was interrupted in, which the next one cuts off.
	f.call(t, 2, 20*time.Minute)
	appendTo(t, out, `{"id":1,"sn":"account|cut`)
	second := cli(ctx, f.vars, "sync", "--out", out)
	require.Equal(t, exitOK, second.code, second.stderr)
	assert.Contains(t, second.stderr, "3 records there, resuming from checkpoint "+clock(st.Checkpoint))
	assert.Contains(t, second.stderr, "cut off an incomplete last line (25 bytes)")
	assert.Regexp(t, `found=5 gaps_filled=2 duplicates=3`, second.stderr, "the overlap saw the first records again")
	assert.Contains(t, second.stderr, "2 records appended, 3 already in the file (seen again where sweeps overlap)")
	counts, _ = readOutput(t, out)
	assert.Equal(t, once(f.sns()), counts, "every record once")
	assert.Len(t, counts, 5)
	assertNoSecrets(t, f.srv, first, second)
}

func readLines(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	return string(b)
}

func appendTo(t *testing.T, name, s string) {
	t.Helper()
	fh, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = fh.WriteString(s)
	require.NoError(t, err)
	require.NoError(t, fh.Close())
}

func TestSyncFollowReceivesPushes(t *testing.T) {
	ctx := context.Background()
	f := newSyncFake(t)
	f.call(t, 2, 40*time.Minute) // before the listener: the first sweep finds them
	out := filepath.Join(t.TempDir(), "records.jsonl")
	const token = "tok-9d2e71"
	env := &env{getenv: func(k string) string { return with(f.vars, "DIGELAO_PUSH_TOKEN", token)[k] }}
	base, _, errOut, stop := started(t, env, listening, "sync", "--out", out, "--follow", "--listen", "127.0.0.1:0")
	require.Eventually(t, func() bool { return sweepLine.MatchString(errOut.String()) }, 5*time.Second, 10*time.Millisecond)
	assert.Regexp(t, `found=2 gaps_filled=2`, errOut.String())

	set := cli(ctx, with(f.vars, "DIGELAO_PUSH_TOKEN", token), "set-callback", "--url", base, "--task-url", base)
	require.Equal(t, exitOK, set.code, set.stderr)
	f.call(t, 3, 5*time.Minute) // pushed: newer than the sweeps' lag
	pushed := map[digelaotest.PushKind]int{}
	for _, p := range f.srv.Pushes() {
		assert.True(t, p.OK, "push answered SUCCESS: %+v", p)
		pushed[p.Kind]++
	}
	assert.Equal(t, map[digelaotest.PushKind]int{digelaotest.PushCall: 3, digelaotest.PushImport: 1}, pushed,
		"the import result to the same address too")
	assert.Regexp(t, `level=INFO msg="import result pushed; not stored \(sync keeps call records only\)" task_sn=dial_task_main_sn\|\w+ total=3 imported=3 failed=0`,
		errOut.String())
	assert.Equal(t, http.StatusOK, post(t, base+"?token="+token, digelaotest.SampleTaskAnalyticsPush("dial_task_main_sn|x")))
	assert.Contains(t, errOut.String(), `msg="task analytics pushed; not stored (sync keeps call records only)" task_sn=dial_task_main_sn|x`)
	assert.Equal(t, http.StatusOK, post(t, base+"?token="+token, digelaotest.SampleImportResultPush(digelao.ImportResult{
		TaskSN: "dial_task_main_sn|y", Failure: "导入失败"})))
	assert.Contains(t, errOut.String(), `level=WARN msg="import result pushed: the import failed; not stored (sync keeps call records only)" task_sn=dial_task_main_sn|y reason=导入失败`)
	assert.Equal(t, http.StatusInternalServerError, post(t, base+"?token="+token, []byte(`{"what":"else"}`)),
		"a push sync does not understand is sent again: it may hold a call record")
	assert.Contains(t, errOut.String(), "a push sync does not understand (15 B): answered 500 so that the platform sends it again")
	assert.NotContains(t, errOut.String(), "OnUnknown")
	// A push of a record the output holds already is acknowledged, not appended again.
	first := f.srv.CallRecords()[0]
	assert.Equal(t, http.StatusOK, post(t, base+"?token="+token, digelaotest.SampleCallRecordPush(first.SN, first.Phone)))
	assert.Equal(t, http.StatusUnauthorized, post(t, base+"?token=wrong", digelaotest.SampleCallRecordPush("account|x", "13800138000")))

	require.Equal(t, exitOK, stop(), errOut.String())
	counts, _ := readOutput(t, out)
	assert.Equal(t, once(f.sns()), counts, "every record once")
	assert.Contains(t, errOut.String(), "5 records appended (3 pushed, 2 found by sweeps); 1 seen again and not appended")
	assert.NotContains(t, errOut.String(), token)
}

func TestSyncOnePerOutput(t *testing.T) {
	ctx := context.Background()
	f := newSyncFake(t)
	out := filepath.Join(t.TempDir(), "records.jsonl")
	env := &env{getenv: func(k string) string { return f.vars[k] }}
	_, _, errOut, stop := started(t, env, regexp.MustCompile(`(digelao sync: sweep)`), "sync", "--out", out, "--follow")

	// The same file by another name is the same output.
	link := filepath.Join(t.TempDir(), "link.jsonl")
	require.NoError(t, os.Symlink(out, link))
	before := len(f.srv.Requests())
	second := cli(ctx, f.vars, "sync", "--out", link)
	assert.Equal(t, exitBusy, second.code, second.stderr)
	assert.Len(t, f.srv.Requests(), before, "refused before anything is sent")
	assert.Equal(t, "digelao: --out "+link+": another digelao sync is writing it; one sync per output\n", second.stderr)
	assert.Equal(t, exitOK, stop(), errOut.String())

	// Once the first one is gone, the next one runs.
	third := cli(ctx, f.vars, "sync", "--out", out)
	assert.Equal(t, exitOK, third.code, third.stderr)
}

func TestSyncRefusesWhatItCannotResume(t *testing.T) {
	ctx := context.Background()
	f := newSyncFake(t)
	dir := t.TempDir()
	before := len(f.srv.Requests())

	assertUsage(t, cli(ctx, f.vars, "sync", "--out", filepath.Join(dir, "a.jsonl"), "--db", "sqlite:"+filepath.Join(dir, "a.db")),
		"--out (DIGELAO_SYNC_OUT) and --db (DIGELAO_SYNC_DB) both given")
	assertUsage(t, cli(ctx, with(f.vars, "DIGELAO_SYNC_OUT", filepath.Join(dir, "a.jsonl")), "sync", "--db", "sqlite:"+filepath.Join(dir, "a.db")),
		"--out (DIGELAO_SYNC_OUT) and --db (DIGELAO_SYNC_DB) both given")
	assertUsage(t, cli(ctx, f.vars, "sync", "--out", filepath.Join(dir, "a.jsonl"), "--listen", "127.0.0.1:0"),
		"--listen (DIGELAO_SYNC_LISTEN) receives pushes while sync runs: add --follow")
	assertUsage(t, cli(ctx, with(f.vars, "DIGELAO_SYNC_LAG", "-1m"), "sync", "--out", filepath.Join(dir, "a.jsonl")),
		"invalid --lag (DIGELAO_SYNC_LAG): ")
	_, err := os.Stat(filepath.Join(dir, "a.jsonl"))
	assert.ErrorIs(t, err, os.ErrNotExist, "no output made for a bad flag")
	assert.Len(t, f.srv.Requests(), before, "nothing sent")

	notRecords := filepath.Join(dir, "b.jsonl")
	require.NoError(t, os.WriteFile(notRecords, []byte("{\"sn\":\"account|1\"}\nhello\n"), 0o600))
	r := cli(ctx, f.vars, "sync", "--out", notRecords)
	assert.Equal(t, exitFile, r.code, r.stderr)
	assert.Contains(t, r.stderr, "digelao: --out: "+notRecords+":2 is not a call record")

	other := filepath.Join(dir, "c.jsonl")
	require.NoError(t, os.WriteFile(other+".state", []byte(`{"user_sn":"SYSUSER|someone-else","checkpoint":"2026-11-30T10:00:00+08:00"}`), 0o600))
	assertUsage(t, cli(ctx, f.vars, "sync", "--out", other), "c.jsonl.state holds the records of account SYSUSER|someone-else, not "+
		digelaotest.UserSN+"'s")

	require.NoError(t, os.WriteFile(other+".state", []byte(`{"user_sn":`), 0o600))
	r = cli(ctx, f.vars, "sync", "--out", other)
	assert.Equal(t, exitFile, r.code, r.stderr)
	assert.Contains(t, r.stderr, "c.jsonl.state, the checkpoint, is unreadable (unexpected end of JSON input)")

	r = cli(ctx, f.vars, "sync", "--out", dir)
	assert.Equal(t, exitFile, r.code, r.stderr)
}

// TestSyncRefusesALostCheckpoint: an output that holds records without its state file has lost
// its checkpoint; a sweep back --since alone could miss records, so sync refuses and says how far
// back to go, until --since is given on the command line or --reset-checkpoint.
func TestSyncRefusesALostCheckpoint(t *testing.T) {
	ctx := context.Background()
	f := newSyncFake(t)
	f.call(t, 2, 35*time.Minute)
	out := filepath.Join(t.TempDir(), "records.jsonl")
	require.Equal(t, exitOK, cli(ctx, f.vars, "sync", "--out", out).code)
	require.NoError(t, os.Remove(out+".state"))
	written := readLines(t, out)
	_, recs := readOutput(t, out)
	newest := recs[0].CreatedAt
	for _, rec := range recs {
		if rec.CreatedAt.After(newest) {
			newest = rec.CreatedAt
		}
	}

	r := cli(ctx, f.vars, "sync", "--out", out)
	assert.Equal(t, exitFile, r.code, r.stderr)
	assert.Contains(t, r.stderr, "digelao: --out: "+out+" holds 2 records but "+out+".state, its checkpoint, is missing: "+
		"a sweep back --since (24h0m0s) alone could miss records; run again with --since 2h (the newest record there was created "+
		clock(newest)+", UTC+8), or with --reset-checkpoint to sweep back 24h0m0s as it is")
	assert.Equal(t, written, readLines(t, out), "nothing appended")
	_, err := os.Stat(out + ".state")
	assert.ErrorIs(t, err, os.ErrNotExist, "and no checkpoint made up")

	// The variable alone is no answer: a deployment sets it once, not for this loss.
	r = cli(ctx, with(f.vars, "DIGELAO_SYNC_SINCE", "72h"), "sync", "--out", out)
	assert.Equal(t, exitFile, r.code, r.stderr)

	f.call(t, 1, 20*time.Minute)
	r = cli(ctx, f.vars, "sync", "--out", out, "--since", "3h")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stderr, "2 records there, no checkpoint yet: sweeping back 3h0m0s")
	counts, _ := readOutput(t, out)
	assert.Equal(t, once(f.sns()), counts, "every record once")

	// --reset-checkpoint sets a checkpoint aside too.
	r = cli(ctx, f.vars, "sync", "--out", out, "--reset-checkpoint")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stderr, "3 records there, checkpoint set aside (--reset-checkpoint): sweeping back 24h0m0s")
	assert.Regexp(t, `found=3 gaps_filled=0 duplicates=3`, r.stderr)
	counts, _ = readOutput(t, out)
	assert.Equal(t, once(f.sns()), counts)

	// An empty output without a state file is a first start.
	empty := filepath.Join(t.TempDir(), "empty.jsonl")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	assert.Equal(t, exitOK, cli(ctx, f.vars, "sync", "--out", empty).code)
}

// TestSyncSaysNoGoIdentifier: sync's log names flags, never the SDK's options (a first run's
// warning named WithRequireCheckpoint, which the command has no flag for).
func TestSyncSaysNoGoIdentifier(t *testing.T) {
	ctx := context.Background()
	_, vars := fake(t)
	r := cli(ctx, vars, "sync", "--out", filepath.Join(t.TempDir(), "r.jsonl"), "--lag", "0")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stderr, "no checkpoint in the store: a first start")
	assert.NotRegexp(t, `\bWith[A-Z]\w+`, r.stderr)
}

// TestSyncCorruptCheckpointSaysWhatToDo: a FILE.state that does not read (a truncated copy, an
// edit) is refused as a lost one is, naming --since and --reset-checkpoint, which go on.
func TestSyncCorruptCheckpointSaysWhatToDo(t *testing.T) {
	ctx := context.Background()
	_, vars := fake(t)
	out := writeFile(t, "r.jsonl", []byte(`{"sn":"account|1","created_at":"2026-11-30 10:00:00"}`+"\n"))
	require.NoError(t, os.WriteFile(out+".state", []byte("{bad"), 0o600))
	r := cli(ctx, vars, "sync", "--out", out, "--lag", "0")
	assert.Equal(t, exitFile, r.code, r.stderr)
	assert.Contains(t, r.stderr, "r.jsonl.state, the checkpoint, is unreadable (invalid character 'b'")
	assert.Contains(t, r.stderr, "--reset-checkpoint")
	assert.Contains(t, r.stderr, "--since")

	r = cli(ctx, vars, "sync", "--out", out, "--lag", "0", "--reset-checkpoint")
	require.Equal(t, exitOK, r.code, r.stderr)
	b, err := os.ReadFile(out + ".state")
	require.NoError(t, err)
	var st syncState
	require.NoError(t, json.Unmarshal(b, &st), "replaced")
}
