package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/digelaotest"
)

func TestRecordsDialogueDownload(t *testing.T) {
	ctx := context.Background()
	srv, vars, _, _ := pausedAndFinished(t)
	c, err := srv.Client()
	require.NoError(t, err)
	recs, _, err := c.Records.List(ctx, nil)
	require.NoError(t, err)
	require.NotEmpty(t, recs)
	rec := recs[0]
	require.True(t, rec.Connected())

	table := cli(ctx, vars, "records", "list", "--task", rec.TaskSN)
	require.Equal(t, exitOK, table.code, table.stderr)
	assert.Contains(t, table.stdout, "CONNECTED (UTC+8)")
	assert.Contains(t, table.stdout, rec.SN)
	assert.Contains(t, table.stdout, clock(rec.ConnectedAt))
	assert.Contains(t, table.stdout, "2 of 2 records")

	dialogue := cli(ctx, vars, "dialogue", rec.SN, clock(rec.ConnectedAt))
	require.Equal(t, exitOK, dialogue.code, dialogue.stderr)
	assert.Contains(t, dialogue.stdout, "robot")
	turns := cli(ctx, vars, "dialogue", rec.SN, clock(rec.ConnectedAt), "--json")
	require.Equal(t, exitOK, turns.code, turns.stderr)
	d, err := c.Records.Dialogue(ctx, rec.SN, rec.ConnectedAt)
	require.NoError(t, err)
	assertJSONLines(t, d.Turns(), turns.stdout)
	assertUsage(t, cli(ctx, vars, "dialogue", rec.SN, "yesterday"), "<connected-at>: want YYYY-MM-DD")
	none := cli(ctx, vars, "dialogue", rec.SN, "2020-01-01 10:00:00")
	assert.Equal(t, exitPlatform, none.code, "no match is no success")
	assert.Empty(t, none.stdout)
	assert.Contains(t, none.stderr, "no dialogue for record "+rec.SN+" connected at 2020-01-01 10:00:00 (UTC+8)")

	dir := t.TempDir()
	wav := filepath.Join(dir, "call.wav")
	dl := cliIn(ctx, onTerminal(), vars, "download", rec.RecordPath, rec.RecordFile, "-o", wav)
	require.Equal(t, exitOK, dl.code, dl.stderr)
	b, err := os.ReadFile(wav)
	require.NoError(t, err)
	assert.Equal(t, "RIFF", string(b[:4]))
	fi, err := os.Stat(wav)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), fi.Mode().Perm())
	assert.Contains(t, dl.stderr, "downloaded", "progress on a terminal")
	piped := cli(ctx, vars, "download", rec.RecordPath, rec.RecordFile, "-o", wav)
	require.Equal(t, exitOK, piped.code, piped.stderr)
	assert.Empty(t, piped.stderr, "none when piped")

	missing := cliIn(ctx, onTerminal(), vars, "download", rec.RecordPath, "/mnt/record/none.wav", "-o", filepath.Join(dir, "none.wav"))
	assert.Equal(t, exitPlatform, missing.code)
	assert.NotContains(t, missing.stderr, "downloaded", "no progress for a failed download")
	assert.Equal(t, 1, strings.Count(missing.stderr, "\n"), "the error alone: %q", missing.stderr)
	assert.Contains(t, missing.stderr, "downloading /mnt/record/none.wav to "+filepath.Join(dir, "none.wav")+": ",
		"the recording asked for and its destination")
	left, err := filepath.Glob(filepath.Join(dir, "*none.wav*"))
	require.NoError(t, err)
	assert.Empty(t, left, "a failed download leaves no file")

	noDir := cli(ctx, vars, "download", rec.RecordPath, rec.RecordFile, "-o", filepath.Join(dir, "no", "call.wav"))
	assert.Equal(t, exitFile, noDir.code, noDir.stderr)
	assert.Equal(t, "digelao: --output: create "+filepath.Join(dir, "no", "call.wav")+": no such file or directory\n", noDir.stderr,
		"the destination named, not a temporary file")

	// records list --all counts on a terminal, and is quiet when piped.
	all := cliIn(ctx, onTerminal(), vars, "records", "list", "--all", "--json")
	require.Equal(t, exitOK, all.code, all.stderr)
	assert.True(t, strings.HasPrefix(all.stderr, "\r0 records listed"), "at once: %q", all.stderr)
	assert.True(t, strings.HasSuffix(all.stderr, "\r2 records listed\n"), "and at the end: %q", all.stderr)
	all = cli(ctx, vars, "records", "list", "--all", "--json")
	assert.Empty(t, all.stderr)
	assertNoSecrets(t, srv, table, dialogue, turns, dl, missing, noDir)
}

// TestDownloadFollowsWhatOutputNames: -o naming a symbolic link writes the link's target, a
// dangling link's included, and leaves the link as it was (a rename would replace the link by a
// regular file).
func TestDownloadFollowsWhatOutputNames(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need privileges on Windows")
	}
	ctx := context.Background()
	srv, vars, _, _ := pausedAndFinished(t)
	rec := firstRecord(t, srv)
	dir := t.TempDir()
	target, link := filepath.Join(dir, "target.wav"), filepath.Join(dir, "link.wav")
	require.NoError(t, os.WriteFile(target, []byte("old"), 0o644))
	require.NoError(t, os.Symlink("target.wav", link)) // relative, as ln -s makes it
	dangling := filepath.Join(dir, "dangling.wav")
	require.NoError(t, os.Symlink(filepath.Join(dir, "new.wav"), dangling))

	for name, file := range map[string]string{link: target, dangling: filepath.Join(dir, "new.wav")} {
		r := cli(ctx, vars, "download", rec.RecordPath, rec.RecordFile, "-o", name)
		require.Equal(t, exitOK, r.code, r.stderr)
		fi, err := os.Lstat(name)
		require.NoError(t, err)
		assert.NotZero(t, fi.Mode()&os.ModeSymlink, "-o replaced the symbolic link %s by a file", name)
		b, err := os.ReadFile(file)
		require.NoError(t, err)
		assert.Equal(t, "RIFF", string(b[:min(4, len(b))]), "the link's target holds the recording")
	}
}

// firstRecord returns the first call record on srv.
func firstRecord(t *testing.T, srv *digelaotest.Server) *digelao.CallRecord {
	t.Helper()
	c, err := srv.Client()
	require.NoError(t, err)
	t.Cleanup(c.CloseIdleConnections)
	recs, _, err := c.Records.List(context.Background(), nil)
	require.NoError(t, err)
	require.NotEmpty(t, recs)
	return recs[0]
}

func TestBlacklistAndAccounts(t *testing.T) {
	ctx := context.Background()
	srv, vars := fake(t)
	added := cli(ctx, vars, "blacklist", "add", "13800138000", "--days", "7", "--remark", "opted out")
	require.Equal(t, exitOK, added.code, added.stderr)
	bad := cli(ctx, vars, "blacklist", "add", "12ab")
	assertUsage(t, bad, "invalid <phone>")
	// A number on the list already: the platform counts it failed, without a reason; the command
	// finds it on the list, and says so once.
	again := cli(ctx, vars, "blacklist", "add", "138-0013-8000")
	assert.Equal(t, exitPlatform, again.code, again.stderr)
	assert.Regexp(t, `^digelao: 138-0013-8000 is on the list already \(id \d+, blocked until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(UTC\+8\)\): `+
		`the platform added nothing\n$`, again.stderr)

	list := cli(ctx, vars, "blacklist", "list", "--json")
	require.Equal(t, exitOK, list.code, list.stderr)
	c, err := srv.Client()
	require.NoError(t, err)
	entries, _, err := c.Blacklist.List(ctx, &digelao.ListOptions{PerPage: 100})
	require.NoError(t, err)
	require.Len(t, entries, 1)
	assertJSONLines(t, entries, list.stdout)
	table := cli(ctx, vars, "blacklist", "list")
	assert.Contains(t, table.stdout, "EXPIRES (UTC+8)")
	assert.Contains(t, table.stdout, entries[0].ExpiresAt.In(chinaTime).Format(time.DateTime))

	removed := cli(ctx, vars, "blacklist", "remove", "x")
	assertUsage(t, removed, `"x" is not an id`)
	removed = cli(ctx, vars, "blacklist", "remove", regexp.MustCompile(`^\d+`).FindString(table.stdout[strings.Index(table.stdout, "\n")+1:]))
	require.Equal(t, exitOK, removed.code, removed.stderr)
	assert.Contains(t, removed.stdout, "removed 1")

	out := filepath.Join(t.TempDir(), "bl.xlsx")
	dl := cli(ctx, vars, "blacklist", "download", "-o", out)
	require.Equal(t, exitOK, dl.code, dl.stderr)
	assert.Equal(t, out+": ", dl.stdout[:len(out)+2])
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, "PK", string(b[:2]), "an xlsx is a zip file")
	noFile := cli(ctx, vars, "blacklist", "import", filepath.Join(t.TempDir(), "none.xlsx"))
	assert.Equal(t, exitFile, noFile.code)

	accounts := cli(ctx, vars, "accounts", "list")
	require.Equal(t, exitOK, accounts.code, accounts.stderr)
	assert.Contains(t, accounts.stdout, digelaotest.SeatSN)
	roles := cli(ctx, vars, "accounts", "roles", "--json")
	assert.Equal(t, exitOK, roles.code, roles.stderr)
	assertNoSecrets(t, srv, added, list, removed, dl, accounts, roles)
}
