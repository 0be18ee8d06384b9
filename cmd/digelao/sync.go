package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/gofrs/flock"
	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	"github.com/spf13/cobra"
	_ "modernc.org/sqlite" // registers "sqlite"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/sqlstore"
)

func syncCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "sync [--db URL | --out FILE]", Short: "keep every call record in a database or a JSON-lines file, each once (6.1, 6.6.1)",
		Args: cobra.NoArgs,
		Long: `Keep every call record of the account, each once, across restarts: in a database (--db), or
appended to a JSON-lines file (--out). With neither, sync keeps them in the SQLite database
digelao.db in the current directory, so that one command gives a copy to query:

  sqlite3 digelao.db 'select sn, phone, created_at from digelao_call_records order by created_at desc limit 10'

--db is a URL: sqlite:PATH (a file name as the shell gives it: sqlite:digelao.db,
sqlite:/var/lib/digelao.db; the file is made if missing), postgres://user:pass@host/db (or
postgresql://…), or mysql://user:pass@tcp(host:3306)/db (a go-sql-driver/mysql DSN after the
scheme; the connection's charset is utf8mb4). sync makes its tables (digelao_call_records, and the
sync's own beside it) or upgrades them, and keeps each record as a row, with the whole record as
JSON in the column record. The checkpoint, the sweep lease and the records delivered are kept in
the same database: several syncs on one PostgreSQL or MySQL database take turns sweeping (one at
a time holds the lease), and each may --listen for pushes. The password of --db is never printed.

--out appends one JSON object per line (json.Marshal of the SDK's CallRecord: the platform's
member names), written and synced to disk before it counts; a write that fails is undone. Its
checkpoint goes to FILE.state beside it, and the records already in the file are read back at
start. One sync per file (FILE.lock beside it holds the lock): a second one exits with status 5.

Without --follow, sync sweeps the call-record list (6.1) once, from its checkpoint to now minus
--lag, and exits: run it from cron. With --follow it sweeps every --interval until Ctrl-C or
SIGTERM; with --listen it also receives the platform's pushes (6.6.1), with ?token= from
DIGELAO_PUSH_TOKEN as "listen" does (point the platform at it with "digelao set-callback"), and
the sweeps fill what the pushes missed.

A first run sweeps back --since. Each sweep stores its checkpoint, and the next run resumes from
it, sweeping --overlap before it again: a record seen again is not written again. Records the
platform lists before their call ended wait for a later sweep.

Records without a checkpoint mean it was lost (FILE.state deleted or unreadable, or the database's
sync tables emptied): a sweep back --since alone could miss what came after the newest record, so
sync refuses (exit status 4) and says how far back to sweep: give --since on the command line, or
--reset-checkpoint. --reset-checkpoint also makes a run sweep back --since from now whatever
checkpoint is stored.

With --listen, import results (5.7.15) and task analytics (7.7) pushed to the same address are
answered SUCCESS and logged on stderr; sync keeps call records only.

Progress goes to stderr, a line per sweep; at the end, the counts and how to query the records.
stdout is not used.`}
	c := addConn(cmd, e)
	var o syncOptions
	fs := cmd.Flags()
	fs.StringVar(&o.db, "db", "", "the database to keep the records in: sqlite:PATH, postgres://…, mysql://user:pass@tcp(host:3306)/db (default sqlite:digelao.db)")
	fs.StringVar(&o.out, "out", "", "a JSON-lines file to append the records to instead; the checkpoint goes to FILE.state")
	fs.DurationVar(&o.since, "since", digelao.DefaultSweepLookBack, "how far back a first run sweeps (no checkpoint yet)")
	fs.BoolVar(&o.follow, "follow", false, "keep sweeping every --interval until Ctrl-C or SIGTERM")
	fs.StringVar(&o.listen, "listen", "", "with --follow, also receive pushes on this address, e.g. 127.0.0.1:8090")
	fs.DurationVar(&o.interval, "interval", digelao.DefaultSweepInterval, "with --follow, how often to sweep")
	fs.DurationVar(&o.lag, "lag", digelao.DefaultSweepLag, "how old a record must be before a sweep takes it (its push comes first)")
	fs.DurationVar(&o.overlap, "overlap", digelao.DefaultSweepOverlap, "how far before the checkpoint each sweep starts again")
	fs.BoolVar(&o.reset, "reset-checkpoint", false, "set the stored checkpoint aside, or its loss, and sweep back --since")
	for flag, v := range map[string]string{"db": "DIGELAO_SYNC_DB", "out": "DIGELAO_SYNC_OUT", "since": "DIGELAO_SYNC_SINCE",
		"listen": "DIGELAO_SYNC_LISTEN", "interval": "DIGELAO_SYNC_INTERVAL", "lag": "DIGELAO_SYNC_LAG",
		"overlap": "DIGELAO_SYNC_OVERLAP"} {
		bindEnv(fs, flag, v)
	}
	cmd.RunE = action(func(ctx context.Context, _ []string) error {
		for name, what := range map[string]string{"db": "a database URL", "out": "a file name"} {
			if f := fs.Lookup(name); onCommandLine(f) && f.Value.String() == "" {
				return usagef("empty --%s (an unset variable in --%s \"$X\"?): give %s, or leave the flag out", name, name, what)
			}
		}
		switch {
		case o.listen != "" && !o.follow:
			return usagef("--listen (DIGELAO_SYNC_LISTEN) receives pushes while sync runs: add --follow")
		case o.out != "" && o.db != "":
			return usagef("--out (DIGELAO_SYNC_OUT) and --db (DIGELAO_SYNC_DB) both given: sync keeps the records in a file or in a database; give one")
		}
		o.sinceGiven = onCommandLine(fs.Lookup("since"))
		t, err := o.target()
		if err != nil {
			return err
		}
		defer t.close()
		return t.redact(c.run(func(cl *digelao.Client) error { return o.run(ctx, e, cl, t) }))
	})
	return cmd
}

// syncOptions are the flags of "sync".
type syncOptions struct {
	db, out, listen               string
	since, interval, lag, overlap time.Duration
	follow                        bool
	reset                         bool // --reset-checkpoint
	sinceGiven                    bool // --since was given on the command line
}

// rememberRecords is how many delivered records the sync remembers, from the output and from this
// run: far more than a sweep's overlap holds.
const rememberRecords = 100_000

// target returns where the records go, sending nothing anywhere yet.
func (o *syncOptions) target() (*target, error) {
	if o.out != "" {
		mem, err := digelao.NewMemorySyncStore(rememberRecords)
		if err != nil {
			return nil, err
		}
		f := &fileTarget{path: o.out, state: &stateStore{MemorySyncStore: mem, path: o.out + ".state"}}
		return &target{keeper: f, flag: "--out", name: o.out, kept: "appended", in: "in the file",
			words: strings.NewReplacer(libraryWords...)}, nil
	}
	if o.db == "" {
		o.db = "sqlite:digelao.db"
	}
	return openDB(o.db)
}

// pushLanes is the transactions of pushes a sync into a database runs at once.
const pushLanes = 4

func (o *syncOptions) run(ctx context.Context, e *env, cl *digelao.Client, t *target) error {
	log := slog.New(&plainLog{slog.NewTextHandler(e.stderr, &slog.HandlerOptions{ReplaceAttr: chinaLogTime}), t.words})
	opts := []digelao.SyncOption{digelao.WithSyncStore(t.store()),
		digelao.WithSweepLookBack(o.since), digelao.WithSweepInterval(o.interval),
		digelao.WithSweepLag(o.lag), digelao.WithSweepOverlap(o.overlap), digelao.WithSyncLogger(log)}
	if _, ok := t.store().(digelao.CommitStore); ok {
		// A database: the pushes --listen takes at once share transactions. The sink is the
		// Store's own, which no batch's context changes.
		opts = append(opts, digelao.WithPushBatching(pushLanes))
	}
	rs, err := digelao.NewRecordSync(cl, t.sink, opts...)
	if err != nil {
		return badFlag(err, map[string]string{"WithSweepLookBack": "--since (DIGELAO_SYNC_SINCE)",
			"WithSweepInterval": "--interval (DIGELAO_SYNC_INTERVAL)", "WithSweepLag": "--lag (DIGELAO_SYNC_LAG)",
			"WithSweepOverlap": "--overlap (DIGELAO_SYNC_OVERLAP)"})
	}
	if err := t.open(ctx); err != nil {
		return err
	}
	s, err := cl.Session(ctx)
	if err != nil {
		return err
	}
	n, newest, err := t.load(ctx, cl, s.UserSN, o.reset || o.sinceGiven, e.stderr)
	if err != nil {
		return err
	}
	mark, err := rs.Checkpoint(ctx)
	if err != nil {
		return t.failed(err)
	}
	if err := o.lostCheckpoint(t, n, newest, mark); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "records go to %s\n", t.name)
	if o.reset {
		t.setAside()
		fmt.Fprintf(e.stderr, "%s: %s there, checkpoint set aside (--reset-checkpoint): sweeping back %s\n", t.name, records(n), o.since)
	} else if mark.IsZero() {
		fmt.Fprintf(e.stderr, "%s: %s there, no checkpoint yet: sweeping back %s\n", t.name, records(n), o.since)
	} else {
		fmt.Fprintf(e.stderr, "%s: %s there, resuming from checkpoint %s (UTC+8)\n", t.name, records(n), clock(mark))
	}

	if !o.follow {
		st, err := rs.SweepOnce(ctx)
		t.swept(ctx)
		if errors.Is(err, digelao.ErrLeaseHeld) {
			return &busyError{fmt.Sprintf("%s %s: another digelao sync is sweeping it now (it holds the sweep lease, "+
				"which lapses %s after that sync stops)", t.flag, t.name, digelao.DefaultLeaseTTL)}
		}
		if err != nil {
			return t.failed(err)
		}
		fmt.Fprintf(e.stderr, "%s: %s %s, %d already %s (seen again where sweeps overlap), "+
			"%d not final yet; checkpoint %s (UTC+8)\n",
			t.name, records(st.GapsFilled), t.kept, st.Duplicates, t.in, st.NotFinal, clock(st.Checkpoint))
	} else {
		if err := o.keepSyncing(ctx, e, log, rs); err != nil {
			return err
		}
		st := rs.Stats()
		fmt.Fprintf(e.stderr, "%s: %s %s (%d pushed, %d found by sweeps); %d seen again and not %s "+
			"(overlapping sweeps, repeated pushes, swept records pushed late); checkpoint %s (UTC+8)\n",
			t.name, records(int(st.Pushed+st.GapsFilled)), t.kept, st.Pushed, st.GapsFilled, st.Duplicates, t.kept, clock(st.Checkpoint))
	}
	if t.query != "" {
		fmt.Fprintf(e.stderr, "query them: %s\n", t.query)
	}
	return nil
}

// lostCheckpoint refuses a target that holds n records, the newest created at newest, when the
// store holds no checkpoint: the checkpoint was lost (the state file deleted, or left out of a
// restore; the sync's tables emptied), and a sweep back --since alone could miss every record
// created after the newest one and before --since reaches. --since on the command line, or
// --reset-checkpoint, goes on.
func (o *syncOptions) lostCheckpoint(t *target, n int, newest, mark time.Time) error {
	if n == 0 || o.sinceGiven || o.reset || !mark.IsZero() {
		return nil
	}
	back := "--since 48h"
	if !newest.IsZero() {
		back = fmt.Sprintf("--since %dh (the newest record there was created %s, UTC+8)",
			int(time.Since(newest).Hours())+2, clock(newest))
	}
	return &fileError{flag: t.flag, err: fmt.Errorf("%s holds %s but %s: a sweep back --since (%s) alone "+
		"could miss records; run again with %s, or with --reset-checkpoint to sweep back %s as it is",
		t.name, records(n), t.lost(), o.since, back, o.since)}
}

// keepSyncing runs rs until ctx ends, receiving pushes on --listen if it is set.
func (o *syncOptions) keepSyncing(ctx context.Context, e *env, log *slog.Logger, rs *digelao.RecordSync) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	served := make(chan error, 1)
	if o.listen != "" {
		l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", o.listen)
		if err != nil {
			return err
		}
		token := e.getenv("DIGELAO_PUSH_TOKEN")
		if token == "" {
			fmt.Fprintln(e.stderr, "warning: DIGELAO_PUSH_TOKEN is not set: anyone who finds the address can push")
		}
		h := rs.Handler(digelao.NewSecret(token)) // the sync's claim is the push's only one
		h.Logger = log
		h.OnImportResult = func(ctx context.Context, r *digelao.ImportResult) error {
			if r.Failure != "" {
				log.WarnContext(ctx, "import result pushed: the import failed; not stored (sync keeps call records only)",
					"task_sn", r.TaskSN, "reason", r.Failure)
				return nil
			}
			log.InfoContext(ctx, "import result pushed; not stored (sync keeps call records only)", "task_sn", r.TaskSN,
				"total", r.Counts.Total, "imported", r.Counts.Success, "failed", r.Counts.Fail)
			return nil
		}
		h.OnTaskAnalytics = func(ctx context.Context, a *digelao.TaskAnalytics) error {
			log.InfoContext(ctx, "task analytics pushed; not stored (sync keeps call records only)", "task_sn", a.Task.TaskSN,
				"dialled", a.Task.Sent, "connected", a.Task.Success)
			return nil
		}
		h.OnUnknown = func(_ context.Context, body []byte) error {
			return fmt.Errorf("a push sync does not understand (%s): answered 500 so that the platform sends it "+
				"again; a call record in it is found by the next sweep", size(int64(len(body))))
		}
		fmt.Fprintf(e.stderr, "listening on http://%s/ (Ctrl-C to stop)\n", l.Addr())
		go func() {
			err := serve(ctx, l, h, e.timeouts)
			cancel() // a server that failed stops the sweeps too
			served <- err
		}()
	} else {
		served <- nil
	}
	_ = rs.Run(ctx) // returns when ctx ends: Ctrl-C, SIGTERM, or the server failed
	return <-served // pushes in flight are answered before the output closes
}

// target is where sync keeps the records, and what it says of them.
type target struct {
	keeper
	flag, name string            // "--out" and the file; "--db" and its URL without the password
	kept, in   string            // "appended", "in the file"; "stored", "in the database"
	query      string            // a shell command that shows the newest records; none for a file
	words      *strings.Replacer // the library's words put in the command's, and the password hidden
}

// keeper is what a file and a database do differently.
type keeper interface {
	store() digelao.SyncStore
	sink(ctx context.Context, r *digelao.CallRecord) error
	// open takes the file's lock, or makes the database's tables: before anything is sent.
	open(ctx context.Context) error
	// load returns how many of userSN's records the target holds, the newest created at newest. A
	// state file that does not read is an error unless lenient (--since or --reset-checkpoint).
	load(ctx context.Context, cl *digelao.Client, userSN string, lenient bool, notes io.Writer) (n int, newest time.Time, err error)
	lost() string              // says that the checkpoint is missing, and where it was
	setAside()                 // --reset-checkpoint: the sync sweeps back --since until it stores a checkpoint
	swept(ctx context.Context) // after a single sweep
	close()
	// failed returns err, which ended a sweep, as the target's error (exit status 4, naming the
	// flag) when the target caused it, and as it is when the platform or the network did.
	failed(err error) error
}

// redact returns err with the library's words put in the command's and the password hidden.
func (t *target) redact(err error) error {
	if err == nil {
		return nil
	}
	return &redacted{err, t.words}
}

// redacted is an error whose text goes through a replacer; errors.As sees the error inside.
type redacted struct {
	err error
	r   *strings.Replacer
}

func (e *redacted) Error() string { return e.r.Replace(e.err.Error()) }
func (e *redacted) Unwrap() error { return e.err }

// libraryWords are the SDK's words in the sync's log lines, and the command's for them: an
// operator sets flags, not options.
var libraryWords = []string{
	" (WithRequireCheckpoint makes this an error)", "",
	" (RecordSync.Quarantined lists it, Redeliver delivers it)", " (kept with the checkpoint)",
	"Migrate did not make it, and will not take it for its own; rename or drop it, or give the Store another prefix (WithTablePrefix)",
	"sync did not make it, and will not take it for its own; rename or drop it, or give sync another database",
}

// plainLog is a slog.Handler that passes the message and the text of each attribute through a
// replacer: the library's words put in the command's, and the password of --db hidden.
type plainLog struct {
	slog.Handler
	r *strings.Replacer
}

func (h *plainLog) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, h.r.Replace(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.Handler.Handle(ctx, out)
}

func (h *plainLog) attr(a slog.Attr) slog.Attr {
	switch v := a.Value.Resolve(); {
	case v.Kind() == slog.KindString:
		return slog.String(a.Key, h.r.Replace(v.String()))
	case v.Kind() == slog.KindAny && v.Any() != nil:
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, h.r.Replace(err.Error()))
		}
	}
	return a
}

func (h *plainLog) WithAttrs(as []slog.Attr) slog.Handler {
	for i := range as {
		as[i] = h.attr(as[i])
	}
	return &plainLog{h.Handler.WithAttrs(as), h.r}
}

func (h *plainLog) WithGroup(name string) slog.Handler {
	return &plainLog{h.Handler.WithGroup(name), h.r}
}

// fileTarget is --out: the JSON-lines file, and its checkpoint in FILE.state.
type fileTarget struct {
	path  string
	state *stateStore
	out   *output
}

func (f *fileTarget) store() digelao.SyncStore { return f.state }

func (f *fileTarget) sink(_ context.Context, r *digelao.CallRecord) error { return f.out.append(r) }

func (f *fileTarget) open(context.Context) (err error) {
	f.out, err = openOutput(f.path)
	return err
}

func (f *fileTarget) load(ctx context.Context, cl *digelao.Client, userSN string, lenient bool, notes io.Writer) (int, time.Time, error) {
	if err := f.state.load(userSN, lenient); err != nil {
		return 0, time.Time{}, err
	}
	n, cut, err := f.out.replay(ctx, cl, f.state)
	if cut > 0 {
		fmt.Fprintf(notes, "%s: cut off an incomplete last line (%d bytes) left by an interrupted write\n", f.path, cut)
	}
	return n, f.out.newest, err
}

func (f *fileTarget) lost() string { return f.state.path + ", its checkpoint, is missing" }

func (f *fileTarget) setAside() { f.state.forget() }

func (f *fileTarget) failed(err error) error { return err } // the file's own errors are fileErrors

func (f *fileTarget) swept(context.Context) {} // the lease is in memory, and the lock on the output ours

func (f *fileTarget) close() {
	if f.out != nil {
		f.out.close()
	}
}

// dbTarget is --db: a database, through sqlstore.
type dbTarget struct {
	name          string // the URL without its password
	db            *sql.DB
	st            *dbStore
	put           func(context.Context, *digelao.CallRecord) error // the Store's sink
	count, newest string                                           // the queries of load
	syncs         string                                           // the sync's table, beside the records'
	checkpoints   string                                           // the query of load that counts the checkpoints there
	others        int                                              // the checkpoints there, as load found them
	file          string                                           // SQLite's file; "" for a server
}

// openDB returns the target of the --db URL raw, having sent nothing to the database yet. Its
// password goes into no message.
func openDB(raw string) (*target, error) {
	bad := func(format string, args ...any) error {
		return usagef("invalid --db (DIGELAO_SYNC_DB): "+format, args...)
	}
	words := slices.Clone(libraryWords)
	hide := func(secrets ...string) {
		for _, s := range secrets {
			if s != "" {
				words = append(words, s, "xxxxx")
			}
		}
	}
	var (
		db     *sql.DB
		file   string // SQLite's
		d      sqlstore.Dialect
		name   string // raw without the password
		client string // the shell command that runs a query, less the query
		err    error
	)
	scheme, rest, _ := strings.Cut(raw, ":")
	switch strings.ToLower(scheme) {
	case "sqlite":
		if rest == "" || strings.HasPrefix(rest, "//") || strings.Contains(rest, "?") {
			return nil, bad("give a SQLite database as sqlite:PATH, e.g. sqlite:digelao.db or sqlite:/var/lib/digelao.db (no //, no ?)")
		}
		if strings.TrimPrefix(rest, "file:") == ":memory:" {
			return nil, bad("sqlite:%s keeps nothing once sync exits: give a file, e.g. sqlite:digelao.db", rest)
		}
		file = rest
		shown := file
		if strings.HasPrefix(shown, "-") {
			shown = "./" + shown // not an option of sqlite3
		}
		db, err = sql.Open("sqlite", rest+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
		d, name, client = sqlstore.SQLite, "sqlite:"+rest, "sqlite3 "+shellQuote(shown)
	case "postgres", "postgresql":
		u, perr := url.Parse(raw) // its error would quote the URL, password and all
		if perr != nil || u.Host == "" {
			return nil, bad("not a URL postgres://user:pass@host:5432/db (escape @ : / in the password as %%40 %%3A %%2F)")
		}
		p, _ := u.User.Password()
		q := u.Query()
		hide(rawPassword(raw), p, q.Get("password"), q.Get("sslpassword"))
		cfg, perr := pgx.ParseConfig(raw) // what the driver would refuse at the first connection
		if perr != nil {
			return nil, bad("%s", strings.NewReplacer(words...).Replace(perr.Error()))
		}
		q.Del("password")
		q.Del("sslpassword")
		u.RawQuery = q.Encode()
		u.User = url.User(u.User.Username())
		db, err = sql.Open("pgx", raw)
		d, name, client = sqlstore.Postgres, u.String(), "psql "+shellQuote(psqlURL(u, cfg.RuntimeParams))+" -c"
	case "mysql":
		cfg, perr := mysql.ParseDSN(strings.TrimPrefix(rest, "//"))
		if perr != nil {
			return nil, bad("not a URL mysql://user:pass@tcp(host:3306)/db")
		}
		hide(cfg.Passwd)
		for k := range cfg.Params {
			if strings.EqualFold(k, "password") { // the driver would run SET password=… with it
				return nil, bad("the password goes before the @, not in ?%s=: mysql://user:pass@tcp(host:3306)/db", k)
			}
		}
		if cfg.DBName == "" {
			return nil, bad("no database in it: mysql://user:pass@tcp(host:3306)/db")
		}
		_ = mysql.Charset("utf8mb4", "")(cfg) // the records' text is UTF-8, emoji and all
		var conn driver.Connector
		if conn, err = mysql.NewConnector(cfg); err == nil {
			db = sql.OpenDB(conn)
		}
		shown := cfg.Clone()
		shown.Passwd = ""
		d, name, client = sqlstore.MySQL, "mysql://"+shown.FormatDSN(), mysqlClient(shown)
	default:
		return nil, bad("%q is not a database URL: give sqlite:PATH, postgres://user:pass@host/db (or postgresql://…) "+
			"or mysql://user:pass@tcp(host:3306)/db", scheme)
	}
	r := strings.NewReplacer(words...)
	if err != nil {
		return nil, usagef("invalid --db (DIGELAO_SYNC_DB): %s", r.Replace(err.Error()))
	}
	store, err := sqlstore.New(db, d)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	table, arg := store.RecordsTable(), "?"
	if d == sqlstore.Postgres {
		arg = "$1"
	}
	syncs := strings.TrimSuffix(table, "call_records") + "syncs"
	k := &dbTarget{name: r.Replace(name), db: db, st: &dbStore{Store: store}, put: store.Sink(nil), syncs: syncs, file: file,
		checkpoints: "select count(*) from " + syncs + " where checkpoint_at is not null",
		count:       "select count(*) from " + table + " where account = " + arg,
		newest:      "select record from " + table + " where account = " + arg + " and created_at is not null order by created_at desc limit 1"}
	return &target{keeper: k, flag: "--db", name: k.name, kept: "stored", in: "in the database", words: r,
		query: client + " " + shellQuote("select sn, phone, created_at from "+table+" order by created_at desc limit 10")}, nil
}

// rawPassword returns the password of the URL raw as it is written there, escapes and all.
func rawPassword(raw string) string {
	_, auth, _ := strings.Cut(raw, "://")
	if i := strings.IndexAny(auth, "/?#"); i >= 0 {
		auth = auth[:i]
	}
	at := strings.LastIndex(auth, "@")
	if at < 0 {
		return ""
	}
	_, p, _ := strings.Cut(auth[:at], ":")
	return p
}

// psqlURL returns u, the --db URL without its password, as psql takes it: the server settings pgx
// takes as query parameters (search_path=…), which libpq refuses there, go in its options, and a
// space is %20.
func psqlURL(u *url.URL, runtime map[string]string) string {
	q := u.Query()
	opts := q.Get("options")
	for _, k := range slices.Sorted(maps.Keys(q)) {
		if _, ok := runtime[k]; !ok || k == "options" || k == "application_name" || k == "client_encoding" ||
			k == "fallback_application_name" {
			continue
		}
		v := strings.NewReplacer(`\`, `\\`, " ", `\ `).Replace(q.Get(k))
		opts = strings.TrimSpace(opts + " -c " + k + "=" + v)
		q.Del(k)
	}
	if opts != "" {
		q.Set("options", opts)
	}
	shown := *u
	shown.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20") // libpq takes no + for a space
	return shown.String()
}

// mysqlClient is the mysql command line that connects as cfg does, asking for the password.
func mysqlClient(cfg *mysql.Config) string {
	cmd := "mysql"
	if cfg.Net == "unix" {
		cmd += " -S " + shellQuote(cfg.Addr)
	} else if host, port, err := net.SplitHostPort(cfg.Addr); err == nil {
		cmd += " -h " + shellQuote(host) + " -P " + port
	}
	if cfg.User != "" {
		cmd += " -u " + shellQuote(cfg.User) + " -p"
	}
	return cmd + " " + shellQuote(cfg.DBName) + " -e"
}

func (k *dbTarget) store() digelao.SyncStore { return k.st }

func (k *dbTarget) sink(ctx context.Context, r *digelao.CallRecord) error { return k.put(ctx, r) }

func (k *dbTarget) open(ctx context.Context) error {
	if err := k.st.Migrate(ctx); err != nil {
		if dir := filepath.Dir(k.file); k.file != "" {
			if _, serr := os.Stat(dir); errors.Is(serr, os.ErrNotExist) {
				err = fmt.Errorf("the directory %s does not exist: sync makes the file, not its directory (%w)", dir, err)
			}
		}
		return &fileError{flag: "--db", err: fmt.Errorf("%s: %w", k.name, err)}
	}
	return nil
}

func (k *dbTarget) load(ctx context.Context, _ *digelao.Client, userSN string, _ bool, _ io.Writer) (n int, newest time.Time, err error) {
	if err := k.db.QueryRowContext(ctx, k.count, userSN).Scan(&n); err != nil {
		return 0, newest, &fileError{flag: "--db", err: err}
	}
	if err := k.db.QueryRowContext(ctx, k.checkpoints).Scan(&k.others); err != nil {
		return 0, newest, &fileError{flag: "--db", err: err}
	}
	var b []byte
	err = k.db.QueryRowContext(ctx, k.newest, userSN).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return n, newest, nil
	}
	var r digelao.CallRecord
	if err == nil {
		err = json.Unmarshal(b, &r)
	}
	if err != nil {
		return 0, newest, &fileError{flag: "--db", err: err}
	}
	return n, r.CreatedAt, nil
}

// lost says where the checkpoint is missing, and that the table holds others' if it does: a
// checkpoint is kept by base URL and login, and the same account through another address has none.
func (k *dbTarget) lost() string {
	s := "its checkpoint, in " + k.syncs + ", is missing"
	switch {
	case k.others == 1:
		s += " (" + k.syncs + " holds 1 other sync's checkpoint: "
	case k.others > 1:
		s += fmt.Sprintf(" (%s holds %d other syncs' checkpoints: ", k.syncs, k.others)
	default:
		return s
	}
	return s + "another account's, or this one's under another base URL (--base-url) or login)"
}

func (k *dbTarget) setAside() { k.st.aside.Store(true) }

// failed: every error of sqlstore says "sqlstore: " (the SDK passes the store's errors on as they
// are), and no error of the platform does.
func (k *dbTarget) failed(err error) error {
	var fe *fileError
	if errors.As(err, &fe) || !strings.Contains(err.Error(), "sqlstore: ") {
		return err
	}
	return &fileError{flag: "--db", err: fmt.Errorf("%s: %w", k.name, err)}
}

func (k *dbTarget) swept(ctx context.Context) { k.st.release(ctx) }

func (k *dbTarget) close() { _ = k.db.Close() }

// dbStore is the sync's sqlstore.Store, which remembers the lease it took, to give it up after a
// single sweep (the next run need not wait for it to lapse), and can set the stored checkpoint
// aside until the sync stores one (--reset-checkpoint).
type dbStore struct {
	*sqlstore.Store
	aside       atomic.Bool
	mu          sync.Mutex
	name, owner string // of the lease taken
}

// Lease implements digelao.SyncStore.
func (s *dbStore) Lease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	ok, err := s.Store.Lease(ctx, name, owner, ttl)
	if ok {
		s.mu.Lock()
		s.name, s.owner = name, owner
		s.mu.Unlock()
	}
	return ok, err
}

// release gives up the lease taken, if any.
func (s *dbStore) release(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.owner != "" {
		_ = s.Unlease(ctx, s.name, s.owner) // else it lapses by itself
	}
}

// Checkpoint implements digelao.SyncStore.
func (s *dbStore) Checkpoint(ctx context.Context, name string) (time.Time, error) {
	if s.aside.Load() {
		return time.Time{}, nil
	}
	return s.Store.Checkpoint(ctx, name)
}

// SetCheckpoint implements digelao.SyncStore.
func (s *dbStore) SetCheckpoint(ctx context.Context, name string, t time.Time) error {
	if err := s.Store.SetCheckpoint(ctx, name, t); err != nil {
		return err
	}
	s.aside.Store(false)
	return nil
}

// output is the sync's sink: the JSON-lines file, locked against a second sync, appended one
// record per write.
type output struct {
	name   string
	f      *os.File
	mu     sync.Mutex
	lock   *flock.Flock
	size   int64     // of the file: what a failed write is cut back to
	newest time.Time // the creation of the newest record the file held at start
	broken error     // a failed write could not be undone: no more writes
}

// openOutput opens the file name for appending, creating it, and locks it: a lock on FILE.lock
// beside the file it names (a symbolic link followed), which the system releases when the process
// ends, however it ends — a crash leaves no stale lock. (gofrs/flock: flock(2) on Unix,
// LockFileEx on Windows, which would keep the file itself from being read.)
func openOutput(name string) (*output, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, &fileError{flag: "--out", err: err}
	}
	o := &output{name: name, f: f}
	real, err := filepath.EvalSymlinks(name)
	if err == nil {
		o.lock = flock.New(real+".lock", flock.SetPermissions(0o600))
		var ok bool
		if ok, err = o.lock.TryLock(); err == nil && !ok {
			_ = f.Close()
			return nil, &busyError{fmt.Sprintf("--out %s: another digelao sync is writing it; one sync per output", name)}
		}
	}
	if err != nil {
		o.close()
		return nil, &fileError{flag: "--out", err: fmt.Errorf("lock %s: %w", name, err)}
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file: sync reads it back to append each record once", name)
	}
	if err != nil {
		o.close()
		return nil, &fileError{flag: "--out", err: err}
	}
	return o, nil
}

// close closes the file and releases its lock.
func (o *output) close() {
	_ = o.f.Close()
	if o.lock != nil {
		_ = o.lock.Unlock()
	}
}

// replay marks the records in the file as delivered in store, through a sync of their own with
// cl, so that a sweep or a push finds them delivered. An incomplete last line, left by a write
// that was interrupted, is cut off: its record was never delivered. It returns how many records
// the file holds, and how many bytes it cut off.
func (o *output) replay(ctx context.Context, cl *digelao.Client, store digelao.SyncStore) (n int, cut int64, err error) {
	seen, err := digelao.NewRecordSync(cl, func(context.Context, *digelao.CallRecord) error { return nil },
		digelao.WithSyncStore(store))
	if err != nil {
		return 0, 0, err
	}
	fi, err := o.f.Stat()
	if err != nil {
		return 0, 0, &fileError{flag: "--out", err: err}
	}
	r := bufio.NewReaderSize(io.NewSectionReader(o.f, 0, fi.Size()), 64<<10)
	for line := 1; ; line++ {
		b, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			if len(b) > 0 {
				if err := o.f.Truncate(o.size); err != nil {
					return n, 0, &fileError{flag: "--out", err: fmt.Errorf("cutting off the incomplete last line: %w", err)}
				}
			}
			return n, int64(len(b)), nil
		}
		if err != nil {
			return n, 0, &fileError{flag: "--out", err: err}
		}
		o.size += int64(len(b))
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		var rec digelao.CallRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			return n, 0, &fileError{flag: "--out", err: fmt.Errorf("%s:%d is not a call record: %w", o.name, line, err)}
		}
		if rec.CreatedAt.After(o.newest) {
			o.newest = rec.CreatedAt
		}
		if err := seen.Push(ctx, &rec); err != nil {
			return n, 0, &fileError{flag: "--out", err: fmt.Errorf("%s:%d: %w", o.name, line, err)}
		}
		n++
	}
}

// append writes r as one line, in one write, and syncs the file; a write or sync that fails is
// cut back off, so that the record is appended whole or not at all.
func (o *output) append(r *digelao.CallRecord) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.broken != nil {
		return o.broken
	}
	_, err = o.f.Write(b)
	if err == nil {
		err = o.f.Sync()
	}
	if err != nil {
		if terr := o.f.Truncate(o.size); terr != nil {
			o.broken = &fileError{flag: "--out", err: fmt.Errorf("%w; cutting the failed write back off failed too: %w; "+
				"restart sync to repair %s", err, terr, o.name)}
			return o.broken
		}
		return &fileError{flag: "--out", err: err}
	}
	o.size += int64(len(b))
	return nil
}

// stateStore is the SyncStore of one output: the records delivered, in memory, from the output
// and this run; the checkpoint, the sync's bookkeeping and its quarantine, in the state file beside
// the output. Its lease is in memory: the lock on the output keeps every other sync out. An output
// holds one account's records, so the store keeps one of each, whatever the sync's name.
type stateStore struct {
	*digelao.MemorySyncStore
	path string

	mu    sync.Mutex
	state syncState
}

// syncState is the state file's content.
type syncState struct {
	UserSN     string                      `json:"user_sn"`              // the account whose records the output holds
	Checkpoint time.Time                   `json:"checkpoint"`           // zero until the first sweep completed
	Sync       json.RawMessage             `json:"sync,omitempty"`       // the RecordSync's bookkeeping
	Quarantine []digelao.QuarantinedRecord `json:"quarantine,omitempty"` // the records the sink refused on every try
}

// load reads the state file, if there is one, and checks that it is userSN's. A state file that
// does not read is an error, unless lenient: then the sync starts afresh, and replaces it.
func (s *stateStore) load(userSN string, lenient bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state = syncState{UserSN: userSN}
	b, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return &fileError{flag: "--out", err: err}
	}
	var st syncState
	if err := json.Unmarshal(b, &st); err != nil {
		if lenient {
			return nil
		}
		return &fileError{flag: "--out", err: fmt.Errorf("%s, the checkpoint, is unreadable (%w): sweeping back --since "+
			"alone could miss records; run again with --since reaching back past the last run, or with --reset-checkpoint "+
			"to sweep back --since as it is (either replaces the file)", s.path, err)}
	}
	if st.UserSN != userSN {
		return usagef("--out: %s holds the records of account %s, not %s's: write each account to its own file",
			s.path, st.UserSN, userSN)
	}
	s.state = st
	return nil
}

// forget drops the checkpoint read, so that the sync sweeps back its look-back (--reset-checkpoint).
func (s *stateStore) forget() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state.Checkpoint = time.Time{}
}

func (s *stateStore) checkpoint() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.Checkpoint
}

// Checkpoint implements digelao.SyncStore.
func (s *stateStore) Checkpoint(context.Context, string) (time.Time, error) {
	return s.checkpoint(), nil
}

// SetCheckpoint implements digelao.SyncStore.
func (s *stateStore) SetCheckpoint(_ context.Context, _ string, t time.Time) error {
	return s.change(func(st *syncState) { st.Checkpoint = t.In(chinaTime) })
}

// SyncState implements digelao.SyncStore.
func (s *stateStore) SyncState(context.Context, string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.Sync, nil
}

// SetSyncState implements digelao.SyncStore.
func (s *stateStore) SetSyncState(_ context.Context, _ string, b []byte) error {
	return s.change(func(st *syncState) { st.Sync = slices.Clone(b) })
}

// Quarantine implements digelao.SyncStore.
func (s *stateStore) Quarantine(_ context.Context, _ string, q digelao.QuarantinedRecord) error {
	return s.change(func(st *syncState) {
		st.Quarantine = append(slices.DeleteFunc(slices.Clone(st.Quarantine), func(o digelao.QuarantinedRecord) bool { return o.Key == q.Key }), q)
	})
}

// Quarantined implements digelao.SyncStore.
func (s *stateStore) Quarantined(context.Context, string) ([]digelao.QuarantinedRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.state.Quarantine), nil
}

// Unquarantine implements digelao.SyncStore.
func (s *stateStore) Unquarantine(_ context.Context, _, key string) error {
	return s.change(func(st *syncState) {
		st.Quarantine = slices.DeleteFunc(slices.Clone(st.Quarantine), func(o digelao.QuarantinedRecord) bool { return o.Key == key })
	})
}

// change applies edit to the state and replaces the state file with it, synced, in one rename;
// the state in memory changes only once the file did.
func (s *stateStore) change(edit func(*syncState)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state
	edit(&st)
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := replaceFile("--out", s.path, 0o600, func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	}); err != nil {
		return err
	}
	s.state = st
	return nil
}

// records counts call records in English: "1 record", "2 records".
func records(n int) string { return count(n, "record") }
