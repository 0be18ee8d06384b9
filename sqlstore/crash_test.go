package sqlstore_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/digelaotest"
	"github.com/digelao-go/digelao/internal/sqltest"
	"github.com/digelao-go/digelao/internal/testkit"
	"github.com/digelao-go/digelao/sqlstore"
)

// The crash test's child: TestCrashChild runs a RecordSync into a Store when these are set.
const (
	envChild    = "DIGELAO_SQLSTORE_CRASH_CHILD" // the dialect
	envDSN      = "DIGELAO_SQLSTORE_CRASH_DSN"
	envPrefix   = "DIGELAO_SQLSTORE_CRASH_PREFIX"
	envPlatform = "DIGELAO_SQLSTORE_CRASH_PLATFORM" // the fake platform's URL
	envListen   = "DIGELAO_SQLSTORE_CRASH_LISTEN"   // where it takes pushes
	envAttempts = "DIGELAO_SQLSTORE_CRASH_ATTEMPTS" // a file it appends a line to per delivery tried
	crashToken  = "crash-push-token"
	crashKills  = 50
)

// TestCrash is issue 20's proof, per dialect: a child process runs a RecordSync into the Store —
// pushes from the fake platform through its Handler, and sweeps every 30ms, a user's func in the
// same transaction counting each record's deliveries — and is killed with SIGKILL at a random
// instant, 50 times, then started again, while the platform makes calls. In the end every record
// of the platform is in the records' table once, and every count is exactly 1: no delivery was
// repeated, not even one cut between its writes and its commit — and some were cut (the child
// notes each delivery it tries, before it commits, in a file).
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("50 crashes of a child process")
	}
	t.Parallel()
	eachDialect(t, crash)
}

func crash(t *testing.T, d sqlstore.Dialect) {
	start := time.Now()
	ctx := t.Context()
	dsn := sqltest.DSN(t, d)
	db := sqltest.Open(t, d, dsn)
	prefix := sqltest.Prefix(t, d, db)
	s, err := sqlstore.New(db, d, sqlstore.WithTablePrefix(prefix))
	require.NoError(t, err)
	require.NoError(t, s.Migrate(ctx))
	cnt := newCounts(t, s, db)

	clock := digelaotest.NewClock(time.Date(2026, 11, 2, 1, 0, 0, 0, time.UTC))
	srv := digelaotest.NewServer(digelaotest.WithManualTime(), digelaotest.WithClock(clock.Now))
	t.Cleanup(srv.Close)
	c, err := srv.Client()
	require.NoError(t, err)
	t.Cleanup(c.CloseIdleConnections)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	listen := l.Addr().String()
	require.NoError(t, l.Close()) // the child binds it; Go sets SO_REUSEADDR
	require.NoError(t, c.SetCallback(ctx, &digelao.CallbackRequest{Open: true, CallbackURL: "http://" + listen + "/push",
		Token: digelao.NewSecret(crashToken)}))
	attempts := t.TempDir() + "/attempts"

	out := &testkit.SyncBuffer{}
	var child *exec.Cmd
	startChild := func() {
		child = exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1", "-test.timeout=10m") //nolint:gosec,noctx // the test binary itself; killed by the test
		child.Env = append(os.Environ(), envChild+"="+d.String(), envDSN+"="+dsn, envPrefix+"="+prefix,
			envPlatform+"="+srv.URL, envListen+"="+listen, envAttempts+"="+attempts)
		child.Stdout, child.Stderr = out, out
		require.NoError(t, child.Start())
	}
	startChild()
	t.Cleanup(func() {
		_ = child.Process.Kill()
		_ = child.Wait()
		if t.Failed() {
			t.Logf("the children's output, last 4 KiB:\n%s", tail(out.String(), 4<<10))
		}
	})

	// The platform makes calls — tasks of 40 — while the child is killed and started again.
	cols, err := c.Tasks.ImportColumns(ctx, digelaotest.TemplateSN)
	require.NoError(t, err)
	var (
		mu   sync.Mutex
		last time.Time
	)
	task := func(n int) {
		contacts := make([]digelao.Contact, 40)
		for i := range contacts {
			contacts[i] = digelao.Contact{Phone: fmt.Sprintf("139%04d%04d", n, i)}
		}
		req := &digelao.CreateTaskRequest{Name: fmt.Sprintf("任务%d", n), ProjectSN: digelaotest.TemplateSN,
			SeatSN: digelaotest.SeatSN, AutoStart: true, Columns: cols, Contacts: contacts}
		_, err := c.Tasks.Create(ctx, req)
		for try := 1; errors.Is(err, digelao.ErrAPIKeyInvalid) && try < 20; try++ {
			// The parent and its children share no TokenStore, so their logins cancel each other's
			// api_key: each child logs in as it starts, and again at once after the parent's login
			// cancelled its key (it sweeps every 30ms). The client renews its key once a call;
			// Create, not idempotent, is not retried by the client, so the test tries again.
			time.Sleep(time.Duration(try) * 5 * time.Millisecond)
			_, err = c.Tasks.Create(ctx, req)
		}
		if !assert.NoError(t, err) {
			return
		}
		assert.NoError(t, srv.Flush(ctx)) // the calls, and their pushes to the child, dead or alive
		mu.Lock()
		defer mu.Unlock()
		for _, r := range srv.CallRecords() {
			if r.EndedAt.After(last) {
				last = r.EndedAt
			}
		}
		clock.Set(last.Add(digelao.DefaultSweepLag + time.Second)) // the sweeps may take them now
	}
	killing := make(chan struct{})
	produced := make(chan int)
	go func() {
		n := 0
		for ; ; n++ {
			select {
			case <-killing:
				produced <- n
				return
			default:
			}
			task(n)
			time.Sleep(50 * time.Millisecond)
		}
	}()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 20)) //nolint:gosec // random instants, not secrets
	for range crashKills {
		time.Sleep(time.Duration(150+rng.IntN(650)) * time.Millisecond)
		require.NoError(t, child.Process.Kill()) // SIGKILL
		_ = child.Wait()
		startChild()
	}
	close(killing)
	tasks := <-produced
	killed := time.Since(start)

	// The last child catches up: every record of the platform, through the sweeps.
	records := srv.CallRecords()
	require.Eventually(t, func() bool {
		var n int
		return db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+s.RecordsTable()).Scan(&n) == nil && n >= len(records)
	}, 90*time.Second, 100*time.Millisecond, "the records' table never held all %d records", len(records))
	require.NoError(t, child.Process.Kill())
	_ = child.Wait()

	rows, phones := stored(t, s, db)
	got := cnt.all(t)
	assert.Len(t, rows, len(records), "no record the platform does not have")
	delivered := 0
	for _, r := range records {
		assert.Equal(t, 1, rows[r.SN], "one row of %s", r.SN)
		assert.Equal(t, r.Phone, phones[r.SN])
		assert.Equal(t, 1, got[r.SN], "%s delivered exactly once", r.SN)
		delivered += got[r.SN]
	}
	assert.Len(t, got, len(records))
	tried, err := os.ReadFile(attempts)
	require.NoError(t, err)
	tries := bytes.Count(tried, []byte("\n"))
	pushed := 0
	for _, r := range records {
		if r.Pushed {
			pushed++
		}
	}
	t.Logf("%s: %d kills in %s, %d tasks, %d records (%d pushed, the rest swept); %d deliveries tried, %d committed: %d cut by a kill "+
		"between the record's writes and its commit, none repeated; %s in all",
		d, crashKills, killed.Round(time.Second), tasks, len(records), pushed, tries, delivered, tries-delivered,
		time.Since(start).Round(time.Second))
	assert.Positive(t, tries-delivered, "no kill cut a delivery in its transaction: the test proved nothing")
}

func tail(s string, n int) string { return s[max(0, len(s)-n):] }

// TestCrashChild is the child of TestCrash; run by itself, it is skipped.
func TestCrashChild(t *testing.T) {
	name := os.Getenv(envChild)
	if name == "" {
		t.Skip("the child of TestCrash")
	}
	var d sqlstore.Dialect
	for _, dd := range sqltest.Dialects() {
		if dd.String() == name {
			d = dd
		}
	}
	ctx := context.Background()
	db := sqltest.Open(t, d, os.Getenv(envDSN))
	s, err := sqlstore.New(db, d, sqlstore.WithTablePrefix(os.Getenv(envPrefix)))
	require.NoError(t, err)
	require.NoError(t, s.Migrate(ctx))
	cnt := newCounts(t, s, db)
	f, err := os.OpenFile(os.Getenv(envAttempts), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	require.NoError(t, err)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c, err := digelao.New(os.Getenv(envPlatform), digelao.WithPassword(digelaotest.Username, digelaotest.Password),
		digelao.WithLogger(log))
	require.NoError(t, err)
	rs, err := digelao.NewRecordSync(c, s.Sink(func(ctx context.Context, tx *sql.Tx, r *digelao.CallRecord) error {
		if _, err := f.WriteString(r.SN + "\n"); err != nil { // before the commit: a kill may cut it
			return err
		}
		time.Sleep(time.Millisecond) // the user's own work, which keeps the transaction open a while
		return cnt.add(ctx, tx, r)
	}), digelao.WithSyncStore(s), digelao.WithSweepInterval(30*time.Millisecond), digelao.WithLeaseTTL(300*time.Millisecond),
		digelao.WithSyncPageSize(25), digelao.WithSyncLogger(log),
		// A child killed before it stores a checkpoint starts afresh: look back past the whole run
		// (a day of the platform's time per ~60 tasks), not the default day.
		digelao.WithSweepLookBack(30*24*time.Hour))
	require.NoError(t, err)
	l, err := net.Listen("tcp", os.Getenv(envListen))
	require.NoError(t, err)
	hs := &http.Server{Handler: rs.Handler(digelao.NewSecret(crashToken)), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(l) }()
	err = rs.Run(ctx) // until killed
	t.Fatalf("Run returned: %v", err)
}
