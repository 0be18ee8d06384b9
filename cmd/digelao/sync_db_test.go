package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao/digelaotest"
	"github.com/digelao-go/digelao/internal/sqltest"
	"github.com/digelao-go/digelao/sqlstore"
)

// execSQLite runs statements on the SQLite database at path, as an operator's sqlite3 would.
func execSQLite(t *testing.T, path string, statements ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close() //nolint:errcheck // written and closed
	for _, q := range statements {
		_, err := db.ExecContext(context.Background(), q)
		require.NoError(t, err, q)
	}
}

// rowsIn counts the account's call records in the database at dsn, by sn.
func rowsIn(t *testing.T, driver, dsn string) map[string]int {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	require.NoError(t, err)
	defer db.Close() //nolint:errcheck // read only
	rows, err := db.QueryContext(context.Background(), "select sn from digelao_call_records where account = '"+digelaotest.UserSN+"'")
	require.NoError(t, err)
	defer rows.Close() //nolint:errcheck // read only
	counts := map[string]int{}
	for rows.Next() {
		var sn string
		require.NoError(t, rows.Scan(&sn))
		counts[sn]++
	}
	require.NoError(t, rows.Err())
	return counts
}

func TestSyncDBKeepsEachRecordOnceAcrossRuns(t *testing.T) {
	ctx := context.Background()
	f := newSyncFake(t)
	f.call(t, 3, 35*time.Minute)
	path := filepath.Join(t.TempDir(), "records.db")

	first := cli(ctx, f.vars, "sync", "--db", "sqlite:"+path)
	require.Equal(t, exitOK, first.code, first.stderr)
	assert.Empty(t, first.stdout)
	assert.Contains(t, first.stderr, "records go to sqlite:"+path+"\n")
	assert.Contains(t, first.stderr, "0 records there, no checkpoint yet: sweeping back 24h0m0s")
	assert.Contains(t, first.stderr, "3 records stored, 0 already in the database")
	assert.Contains(t, first.stderr, "query them: sqlite3 "+path+" 'select sn, phone, created_at from digelao_call_records order by created_at desc limit 10'\n")
	assert.Equal(t, once(f.sns()), rowsIn(t, "sqlite", path))

	f.call(t, 2, 20*time.Minute)
	second := cli(ctx, with(f.vars, "DIGELAO_SYNC_DB", "sqlite:"+path), "sync")
	require.Equal(t, exitOK, second.code, second.stderr)
	assert.Contains(t, second.stderr, "3 records there, resuming from checkpoint ")
	assert.Contains(t, second.stderr, "2 records stored, 3 already in the database")
	third := cli(ctx, f.vars, "sync", "--db", "sqlite:"+path)
	require.Equal(t, exitOK, third.code, third.stderr)
	assert.Contains(t, third.stderr, "0 records stored, 5 already in the database", "the lease of the last run was given up")
	assert.Equal(t, once(f.sns()), rowsIn(t, "sqlite", path))
	assert.NotRegexp(t, `\bWith[A-Z]\w+`, first.stderr+second.stderr)
	assertNoSecrets(t, f.srv, first, second, third)
}

// TestSyncDefaultsToDigelaoDB: with neither --out nor --db, sync keeps the records in digelao.db in
// the working directory. Not parallel: it changes the directory.
func TestSyncDefaultsToDigelaoDB(t *testing.T) {
	ctx := context.Background()
	f := newSyncFake(t)
	f.call(t, 2, 35*time.Minute)
	dir := t.TempDir()
	t.Chdir(dir)
	r := cli(ctx, f.vars, "sync")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stderr, "records go to sqlite:digelao.db\n")
	assert.Contains(t, r.stderr, "query them: sqlite3 digelao.db 'select sn, phone, created_at from digelao_call_records order by created_at desc limit 10'")
	assert.Equal(t, once(f.sns()), rowsIn(t, "sqlite", filepath.Join(dir, "digelao.db")))
}

// TestSyncDBRefusesALostCheckpoint: a database that holds the account's records without the
// sync's checkpoint is refused as a file without its FILE.state is.
func TestSyncDBRefusesALostCheckpoint(t *testing.T) {
	ctx := context.Background()
	f := newSyncFake(t)
	f.call(t, 2, 35*time.Minute)
	path := filepath.Join(t.TempDir(), "records.db")
	require.Equal(t, exitOK, cli(ctx, f.vars, "sync", "--db", "sqlite:"+path).code)
	execSQLite(t, path, "delete from digelao_syncs")

	r := cli(ctx, f.vars, "sync", "--db", "sqlite:"+path)
	assert.Equal(t, exitFile, r.code, r.stderr)
	assert.Regexp(t, `^digelao: --db: sqlite:\S+ holds 2 records but its checkpoint, in digelao_syncs, is missing: `+
		`a sweep back --since \(24h0m0s\) alone could miss records; run again with --since 2h \(the newest record there was created .*\), `+
		`or with --reset-checkpoint to sweep back 24h0m0s as it is\n$`, r.stderr)

	f.call(t, 1, 20*time.Minute)
	r = cli(ctx, f.vars, "sync", "--db", "sqlite:"+path, "--since", "3h")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stderr, "1 record stored, 2 already in the database")
	r = cli(ctx, f.vars, "sync", "--db", "sqlite:"+path, "--reset-checkpoint")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stderr, "3 records there, checkpoint set aside (--reset-checkpoint): sweeping back 24h0m0s")
	assert.Contains(t, r.stderr, "0 records stored, 3 already in the database")
	assert.Equal(t, once(f.sns()), rowsIn(t, "sqlite", path))
}

// TestSyncDBRefusesWhatItCannotOpen: a --db the command cannot read is a wrong command line; one
// it cannot reach fails with status 4; neither prints the password.
func TestSyncDBRefusesWhatItCannotOpen(t *testing.T) {
	ctx := context.Background()
	_, vars := fake(t)
	dir := t.TempDir()
	for _, db := range []string{"ftp://u:s3cret-9@host/db", "sqlite://" + dir + "/x.db", "sqlite:", "digelao.db",
		"postgres://u:s3cret-9@", "mysql://u:s3cret-9@nonsense",
		// Only a scheme, no database, a database that keeps nothing, a parameter the driver refuses:
		// wrong command lines, not databases that failed to answer (issue 20).
		"mysql:", "mysql://", "mysql://u:s3cret-9@tcp(127.0.0.1:1)/", "sqlite::memory:", "sqlite:file::memory:",
		"postgres://u:s3cret-9@127.0.0.1:1/db?sslmode=bogus", "postgres://u:s3cret-9@127.0.0.1:1/db?connect_timeout=abc",
		// go-sql-driver/mysql would run SET password=… with it: no password, and printed.
		"mysql://u@tcp(127.0.0.1:1)/db?password=s3cret-9", "mysql://u@tcp(127.0.0.1:1)/db?Password=s3cret-9"} {
		r := cli(ctx, vars, "sync", "--db", db)
		assertUsage(t, r, "invalid --db (DIGELAO_SYNC_DB): ", db)
		assert.NotContains(t, r.stderr, "s3cret-9", db)
	}
	assertUsage(t, cli(ctx, vars, "sync", "--db", "ftp://x"), "sqlite:PATH, postgres://user:pass@host/db (or postgresql://…) or mysql://user:pass@tcp(host:3306)/db")
	left, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, left, "nothing made")

	// Passwords with @ and :, escaped in a URL, or not in a MySQL DSN; databases that do not answer.
	for db, secrets := range map[string][]string{
		"postgres://u:p%40ss%3Aw0rd@127.0.0.1:1/db":          {"p%40ss%3Aw0rd", "p@ss:w0rd"},
		"postgresql://u@127.0.0.1:1/db?password=p%40ssw0rd":  {"p%40ssw0rd", "p@ssw0rd"},
		"mysql://u:p@ss:w0rd@tcp(127.0.0.1:1)/db?timeout=2s": {"p@ss:w0rd"},
		"mysql://u:p@ss@tcp(127.0.0.1:1)/db":                 {"p@ss"},
		// The passphrase of the client key is a password too (issue 20).
		"postgres://u:pw-1@127.0.0.1:1/db?sslpassword=k3y%2Fp%40ss": {"k3y%2Fp%40ss", "k3y/p@ss", "pw-1"},
		"postgres://u:%E4%B8%AD%23%3F@127.0.0.1:1/db":               {"%E4%B8%AD%23%3F", "中#?"},
	} {
		r := cli(ctx, with(vars, "DIGELAO_SYNC_DB", db), "sync")
		assert.Equal(t, exitFile, r.code, "%s: %s", db, r.stderr)
		assert.Regexp(t, `^digelao: --db: (postgres|postgresql|mysql)://u@.*: `, r.stderr, db)
		for _, s := range secrets {
			assert.NotContains(t, r.stderr, s, db)
		}
	}
}

func TestSyncDBListens(t *testing.T) {
	ctx := context.Background()
	f := newSyncFake(t)
	f.call(t, 2, 40*time.Minute)
	path := filepath.Join(t.TempDir(), "records.db")
	const token = "tok-5c81e0"
	env := &env{getenv: func(k string) string { return with(f.vars, "DIGELAO_PUSH_TOKEN", token)[k] }}
	base, _, errOut, stop := started(t, env, listening, "sync", "--db", "sqlite:"+path, "--follow", "--listen", "127.0.0.1:0")
	require.Eventually(t, func() bool { return sweepLine.MatchString(errOut.String()) }, 5*time.Second, 10*time.Millisecond)

	set := cli(ctx, with(f.vars, "DIGELAO_PUSH_TOKEN", token), "set-callback", "--url", base, "--task-url", base)
	require.Equal(t, exitOK, set.code, set.stderr)
	f.call(t, 3, 5*time.Minute) // pushed: newer than the sweeps' lag
	for _, p := range f.srv.Pushes() {
		assert.True(t, p.OK, "push answered SUCCESS: %+v", p)
	}
	first := f.srv.CallRecords()[0]
	assert.Equal(t, http.StatusOK, post(t, base+"?token="+token, digelaotest.SampleCallRecordPush(first.SN, first.Phone)))
	require.Equal(t, exitOK, stop(), errOut.String())
	assert.Equal(t, once(f.sns()), rowsIn(t, "sqlite", path))
	assert.Contains(t, errOut.String(), "5 records stored (3 pushed, 2 found by sweeps); 1 seen again and not stored")
	assert.Contains(t, errOut.String(), "query them: sqlite3 ")
}

// TestSyncDBServers runs sync against PostgreSQL and MySQL, each in a schema or database of the
// test's own, twice: every record once.
func TestSyncDBServers(t *testing.T) {
	for _, d := range []sqlstore.Dialect{sqlstore.Postgres, sqlstore.MySQL} {
		t.Run(d.String(), func(t *testing.T) {
			ctx := context.Background()
			driver, dsn, url := ownDatabase(t, d)
			f := newSyncFake(t)
			f.call(t, 3, 35*time.Minute)
			first := cli(ctx, f.vars, "sync", "--db", url)
			require.Equal(t, exitOK, first.code, first.stderr)
			f.call(t, 2, 20*time.Minute)
			second := cli(ctx, f.vars, "sync", "--db", url)
			require.Equal(t, exitOK, second.code, second.stderr)
			assert.Contains(t, second.stderr, "2 records stored, 3 already in the database")
			assert.Equal(t, once(f.sns()), rowsIn(t, driver, dsn))
			want := map[sqlstore.Dialect]*regexp.Regexp{
				sqlstore.Postgres: regexp.MustCompile(`query them: psql '?postgres://\S+' -c 'select sn, phone, created_at from digelao_call_records order by created_at desc limit 10'`),
				sqlstore.MySQL:    regexp.MustCompile(`query them: mysql -h \S+ -P \d+ -u \S+ -p \w+ -e 'select sn, phone, created_at from digelao_call_records order by created_at desc limit 10'`),
			}[d]
			assert.Regexp(t, want, second.stderr)
			if d == sqlstore.Postgres { // libpq refuses search_path= in a URL: it goes in options (issue 20)
				_, hint, _ := strings.Cut(second.stderr, "query them: psql ")
				assert.NotContains(t, hint, "search_path=")
				assert.Contains(t, hint, "options=-c%20search_path%3D")
				if psql, err := exec.LookPath("psql"); err == nil {
					out, err := exec.CommandContext(ctx, "sh", "-c", psql+" "+strings.TrimSpace(hint)).CombinedOutput()
					require.NoError(t, err, "%s", out)
					assert.Contains(t, string(out), f.sns()[0], "the hint shows the records")
				}
			}
		})
	}
}

// ownDatabase makes a PostgreSQL schema or a MySQL database of t's own on the test server of d,
// dropped when t ends, and returns the driver and DSN that reach it, and sync's --db URL for it.
func ownDatabase(t *testing.T, d sqlstore.Dialect) (driver, dsn, url string) {
	t.Helper()
	base := sqltest.DSN(t, d)
	admin := sqltest.Open(t, d, base)
	name := "t" + strings.ToLower(rand.Text()[:10])
	ctx := context.Background()
	create, drop := "create schema "+name, "drop schema "+name+" cascade"
	if d == sqlstore.MySQL {
		create, drop = "create database "+name, "drop database "+name
	}
	_, err := admin.ExecContext(ctx, create)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, err := admin.ExecContext(context.Background(), drop)
		assert.NoError(t, err)
	})
	if d == sqlstore.Postgres {
		sep := "?"
		if strings.Contains(base, "?") {
			sep = "&"
		}
		dsn = base + sep + "search_path=" + name
		return "pgx", dsn, dsn
	}
	cfg, err := mysql.ParseDSN(base)
	require.NoError(t, err)
	cfg.DBName = name
	dsn = cfg.FormatDSN()
	return "mysql", dsn, "mysql://" + dsn
}

// TestSyncDBEmptyIsRefused: an empty --db or --out on the command line (--db "$DB" with DB unset,
// from cron) is a wrong command line, not the default ./digelao.db (issue 20).
func TestSyncDBEmptyIsRefused(t *testing.T) {
	ctx := context.Background()
	_, vars := fake(t)
	t.Chdir(t.TempDir())
	for _, flag := range []string{"--db", "--out"} {
		r := cli(ctx, with(vars, "DIGELAO_SYNC_DB", "sqlite:other.db"), "sync", flag, "")
		assertUsage(t, r, "empty "+flag, flag)
		_, err := os.Stat("digelao.db")
		assert.ErrorIs(t, err, os.ErrNotExist, "%s: nothing made", flag)
	}
}

// TestSyncDBQueryIsShellCorrect: the sqlite3 command printed at the end runs as written, whatever
// the file's name: spaces, quotes, a dollar, a leading dash (issue 20).
func TestSyncDBQueryIsShellCorrect(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	ctx := context.Background()
	f := newSyncFake(t)
	f.call(t, 1, 35*time.Minute)
	t.Chdir(t.TempDir())
	require.NoError(t, os.Mkdir("my dir", 0o700))
	for _, path := range []string{"my dir/it's $HOME.db", "-dash.db"} {
		r := cli(ctx, f.vars, "sync", "--db", "sqlite:"+path)
		require.Equal(t, exitOK, r.code, r.stderr)
		_, query, ok := strings.Cut(r.stderr, "query them: sqlite3 ")
		require.True(t, ok, r.stderr)
		args, err := exec.CommandContext(ctx, sh, "-c", `set -- `+strings.TrimSpace(query)+`; printf '%s\n' "$1"`).Output()
		require.NoError(t, err)
		file := strings.TrimSuffix(string(args), "\n")
		assert.False(t, strings.HasPrefix(file, "-"), "%q: sqlite3 would take it for an option", file)
		same, err := filepath.Abs(file)
		require.NoError(t, err)
		want, err := filepath.Abs(path)
		require.NoError(t, err)
		assert.Equal(t, want, same, path)
	}
}

// TestSyncDBForeignTableSaysNoGoIdentifier: a table of sync's names it did not make is refused in
// the command's words: there is no WithTablePrefix on the command line (issue 20).
func TestSyncDBForeignTableSaysNoGoIdentifier(t *testing.T) {
	ctx := context.Background()
	_, vars := fake(t)
	path := filepath.Join(t.TempDir(), "theirs.db")
	execSQLite(t, path, "create table digelao_call_records (id integer)")
	r := cli(ctx, vars, "sync", "--db", "sqlite:"+path)
	assert.Equal(t, exitFile, r.code, r.stderr)
	assert.Contains(t, r.stderr, "the table digelao_call_records exists")
	assert.NotRegexp(t, `\bWith[A-Z]\w+|\bMigrate\b|\bStore\b`, r.stderr)
}

// TestSyncDBDeletedRowsStayDeleted: a row deleted from digelao_call_records (a retention job) is
// not written again, not even by a sweep back with --reset-checkpoint: its mark says that it was
// delivered. Deleting the marks as well, as the README says, brings it back — once.
func TestSyncDBDeletedRowsStayDeleted(t *testing.T) {
	ctx := context.Background()
	f := newSyncFake(t)
	f.call(t, 3, 35*time.Minute)
	path := filepath.Join(t.TempDir(), "records.db")
	require.Equal(t, exitOK, cli(ctx, f.vars, "sync", "--db", "sqlite:"+path).code)
	gone := f.sns()[0]
	execSQLite(t, path, "delete from digelao_call_records where sn = '"+gone+"'")

	r := cli(ctx, f.vars, "sync", "--db", "sqlite:"+path, "--reset-checkpoint")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.NotContains(t, rowsIn(t, "sqlite", path), gone, "a deleted row stays deleted")

	execSQLite(t, path, "delete from digelao_marks")
	r = cli(ctx, f.vars, "sync", "--db", "sqlite:"+path, "--reset-checkpoint")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, once(f.sns()), rowsIn(t, "sqlite", path), "its mark deleted too, it is written again, once")
}

// TestSyncDBLostCheckpointSaysWhereOthersAre: a checkpoint is kept by base URL and login, so the
// same account through another address (localhost for 127.0.0.1) finds none of its own; the
// refusal says that the database holds another sync's checkpoint, not only that it is missing
// (issue 20).
func TestSyncDBLostCheckpointSaysWhereOthersAre(t *testing.T) {
	ctx := context.Background()
	f := newSyncFake(t)
	f.call(t, 2, 35*time.Minute)
	path := filepath.Join(t.TempDir(), "records.db")
	require.Equal(t, exitOK, cli(ctx, f.vars, "sync", "--db", "sqlite:"+path).code)

	other := with(f.vars, "DIGELAO_BASE_URL", strings.Replace(f.vars["DIGELAO_BASE_URL"], "127.0.0.1", "localhost", 1))
	r := cli(ctx, other, "sync", "--db", "sqlite:"+path)
	assert.Equal(t, exitFile, r.code, r.stderr)
	assert.Contains(t, r.stderr, "its checkpoint, in digelao_syncs, is missing (digelao_syncs holds 1 other sync's checkpoint: "+
		"another account's, or this one's under another base URL (--base-url) or login)")
}

// TestSyncDBWriteFailureIsTheDatabases: a database that opens but refuses a write in the sweep (a
// read-only file, a full disk: here a trigger) fails with status 4 naming --db, as a file that
// cannot be written does, not with status 1, which says the platform or the network failed
// (issue 20).
func TestSyncDBWriteFailureIsTheDatabases(t *testing.T) {
	ctx := context.Background()
	f := newSyncFake(t)
	f.call(t, 2, 35*time.Minute)
	path := filepath.Join(t.TempDir(), "records.db")
	require.Equal(t, exitOK, cli(ctx, f.vars, "sync", "--db", "sqlite:"+path).code)
	execSQLite(t, path,
		"create trigger full before update on digelao_leases begin select raise(abort, 'database or disk is full'); end",
		"create trigger full2 before insert on digelao_leases begin select raise(abort, 'database or disk is full'); end")

	r := cli(ctx, f.vars, "sync", "--db", "sqlite:"+path)
	assert.Equal(t, exitFile, r.code, r.stderr)
	assert.Regexp(t, `(?m)^digelao: --db: sqlite:\S+records\.db: .*database or disk is full`, r.stderr)
}

// TestSyncDBSaysTheDirectoryIsMissing: SQLite says only "unable to open database file" of a file
// in a directory that does not exist (sqlite:~/x.db: no shell expands that ~); sync says which
// (issue 20).
func TestSyncDBSaysTheDirectoryIsMissing(t *testing.T) {
	ctx := context.Background()
	_, vars := fake(t)
	path := filepath.Join(t.TempDir(), "~", "x.db")
	r := cli(ctx, vars, "sync", "--db", "sqlite:"+path)
	assert.Equal(t, exitFile, r.code, r.stderr)
	assert.Contains(t, r.stderr, "digelao: --db: sqlite:"+path+": the directory "+filepath.Dir(path)+
		" does not exist: sync makes the file, not its directory")
}
