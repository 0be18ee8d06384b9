package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofrs/flock"
	"github.com/spf13/cobra"

	"github.com/digelao-go/digelao"
)

func syncCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "sync --out FILE", Short: "append every call record to a JSON-lines file, each once (6.1, 6.6.1)",
		Args: cobra.NoArgs,
		Long: `Append every call record of the account to --out, one JSON object per line (json.Marshal of the
SDK's CallRecord: the platform's member names), each record once, across restarts.

Without --follow, sync sweeps the call-record list (6.1) once, from its checkpoint to now minus
--lag, and exits: run it from cron. With --follow it sweeps every --interval until Ctrl-C or
SIGTERM; with --listen it also receives the platform's pushes (6.6.1) into the same file, with
?token= from DIGELAO_PUSH_TOKEN as "listen" does (point the platform at it with "digelao
set-callback"), and the sweeps fill what the pushes missed.

A first run sweeps back --since. Each sweep stores its checkpoint in FILE.state, beside the
output, and the next run resumes from it, sweeping --overlap before it again: the records already
in the file are not appended again (sync reads them back at start). A record is appended with one
write and synced to disk before it counts; a write that fails is undone, and the checkpoint does
not move past it. Records the platform lists before their call ended wait for a later sweep.
One sync per output (FILE.lock beside it holds the lock): a second one exits with status 5.

An output that holds records without its FILE.state has lost its checkpoint: a sweep back
--since alone could miss what came after the newest record there, so sync refuses (exit status
4) and says how far back to sweep: give --since on the command line, or --reset-checkpoint.
--reset-checkpoint also makes a run sweep back --since from now whatever FILE.state holds.

With --listen, import results (5.7.15) and task analytics (7.7) pushed to the same address are
answered SUCCESS and logged on stderr; the file holds call records only.

Progress goes to stderr, a line per sweep; stdout is not used.`}
	c := addConn(cmd, e)
	var o syncOptions
	fs := cmd.Flags()
	fs.StringVar(&o.out, "out", "", "the JSON-lines file to append to; the checkpoint goes to FILE.state")
	fs.DurationVar(&o.since, "since", digelao.DefaultSweepLookBack, "how far back a first run sweeps (no FILE.state yet)")
	fs.BoolVar(&o.follow, "follow", false, "keep sweeping every --interval until Ctrl-C or SIGTERM")
	fs.StringVar(&o.listen, "listen", "", "with --follow, also receive pushes on this address, e.g. 127.0.0.1:8090")
	fs.DurationVar(&o.interval, "interval", digelao.DefaultSweepInterval, "with --follow, how often to sweep")
	fs.DurationVar(&o.lag, "lag", digelao.DefaultSweepLag, "how old a record must be before a sweep takes it (its push comes first)")
	fs.DurationVar(&o.overlap, "overlap", digelao.DefaultSweepOverlap, "how far before the checkpoint each sweep starts again")
	fs.BoolVar(&o.reset, "reset-checkpoint", false, "ignore FILE.state's checkpoint, or its loss, and sweep back --since")
	for flag, v := range map[string]string{"out": "DIGELAO_SYNC_OUT", "since": "DIGELAO_SYNC_SINCE",
		"listen": "DIGELAO_SYNC_LISTEN", "interval": "DIGELAO_SYNC_INTERVAL", "lag": "DIGELAO_SYNC_LAG",
		"overlap": "DIGELAO_SYNC_OVERLAP"} {
		bindEnv(fs, flag, v)
	}
	markRequired(fs, "out")
	cmd.RunE = action(func(ctx context.Context, _ []string) error {
		if o.listen != "" && !o.follow {
			return usagef("--listen (DIGELAO_SYNC_LISTEN) receives pushes while sync runs: add --follow")
		}
		o.sinceGiven = onCommandLine(fs.Lookup("since"))
		return c.run(func(cl *digelao.Client) error { return o.run(ctx, e, cl) })
	})
	return cmd
}

// syncOptions are the flags of "sync".
type syncOptions struct {
	out, listen                   string
	since, interval, lag, overlap time.Duration
	follow                        bool
	reset                         bool // --reset-checkpoint
	sinceGiven                    bool // --since was given on the command line
}

// rememberRecords is how many delivered records the sync remembers, from the output and from this
// run: far more than a sweep's overlap holds.
const rememberRecords = 100_000

func (o *syncOptions) run(ctx context.Context, e *env, cl *digelao.Client) error {
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{ReplaceAttr: chinaLogTime}))
	mem, err := digelao.NewMemorySyncStore(rememberRecords)
	if err != nil {
		return err
	}
	store := &stateStore{MemorySyncStore: mem, path: o.out + ".state"}
	var out *output
	rs, err := digelao.NewRecordSync(cl, func(_ context.Context, r *digelao.CallRecord) error { return out.append(r) },
		digelao.WithSyncStore(store), digelao.WithSweepLookBack(o.since), digelao.WithSweepInterval(o.interval),
		digelao.WithSweepLag(o.lag), digelao.WithSweepOverlap(o.overlap), digelao.WithSyncLogger(log))
	if err != nil {
		return badFlag(err, map[string]string{"WithSweepLookBack": "--since (DIGELAO_SYNC_SINCE)",
			"WithSweepInterval": "--interval (DIGELAO_SYNC_INTERVAL)", "WithSweepLag": "--lag (DIGELAO_SYNC_LAG)",
			"WithSweepOverlap": "--overlap (DIGELAO_SYNC_OVERLAP)"})
	}
	out, err = openOutput(o.out)
	if err != nil {
		return err
	}
	defer out.close()

	s, err := cl.Session(ctx)
	if err != nil {
		return err
	}
	if err := store.load(s.UserSN); err != nil {
		return err
	}
	if o.reset {
		store.forget()
	}
	n, cut, err := out.replay(ctx, cl, store)
	if err != nil {
		return err
	}
	if cut > 0 {
		fmt.Fprintf(e.stderr, "%s: cut off an incomplete last line (%d bytes) left by an interrupted write\n", o.out, cut)
	}
	if err := o.lostCheckpoint(n, out.newest, store); err != nil {
		return err
	}
	if mark := store.checkpoint(); o.reset {
		fmt.Fprintf(e.stderr, "%s: %s there, checkpoint set aside (--reset-checkpoint): sweeping back %s\n", o.out, records(n), o.since)
	} else if mark.IsZero() {
		fmt.Fprintf(e.stderr, "%s: %s there, no checkpoint yet: sweeping back %s\n", o.out, records(n), o.since)
	} else {
		fmt.Fprintf(e.stderr, "%s: %s there, resuming from checkpoint %s (UTC+8)\n", o.out, records(n), clock(mark))
	}

	if !o.follow {
		st, err := rs.SweepOnce(ctx) // the lease is in memory, and the lock on the output ours
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "%s: %s appended, %d already in the file (seen again where sweeps overlap), "+
			"%d not final yet; checkpoint %s (UTC+8)\n",
			o.out, records(st.GapsFilled), st.Duplicates, st.NotFinal, clock(st.Checkpoint))
		return nil
	}
	if err := o.keepSyncing(ctx, e, log, rs); err != nil {
		return err
	}
	st := rs.Stats()
	fmt.Fprintf(e.stderr, "%s: %s appended (%d pushed, %d found by sweeps); %d seen again and not appended "+
		"(overlapping sweeps, repeated pushes, swept records pushed late); checkpoint %s (UTC+8)\n",
		o.out, records(int(out.appended.Load())), st.Pushed, st.GapsFilled, st.Duplicates, clock(store.checkpoint()))
	return nil
}

// lostCheckpoint refuses an output that holds n records, the newest created at newest, when its
// state file holds no checkpoint: the checkpoint was lost (the state file deleted, or left out of
// a restore), and a sweep back --since alone could miss every record created after the newest
// one and before --since reaches. --since on the command line, or --reset-checkpoint, goes on.
func (o *syncOptions) lostCheckpoint(n int, newest time.Time, store *stateStore) error {
	if n == 0 || o.sinceGiven || o.reset || !store.checkpoint().IsZero() {
		return nil
	}
	back := "--since 48h"
	if !newest.IsZero() {
		back = fmt.Sprintf("--since %dh (the newest record there was created %s, UTC+8)",
			int(time.Since(newest).Hours())+2, clock(newest))
	}
	return &fileError{flag: "--out", err: fmt.Errorf("%s holds %s but %s, its checkpoint, is missing: a sweep back "+
		"--since (%s) alone could miss records; run again with %s, or with --reset-checkpoint to sweep back %s as it is",
		o.out, records(n), store.path, o.since, back, o.since)}
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
				log.WarnContext(ctx, "import result pushed: the import failed; not stored (the file holds call records)",
					"task_sn", r.TaskSN, "reason", r.Failure)
				return nil
			}
			log.InfoContext(ctx, "import result pushed; not stored (the file holds call records)", "task_sn", r.TaskSN,
				"total", r.Counts.Total, "imported", r.Counts.Success, "failed", r.Counts.Fail)
			return nil
		}
		h.OnTaskAnalytics = func(ctx context.Context, a *digelao.TaskAnalytics) error {
			log.InfoContext(ctx, "task analytics pushed; not stored (the file holds call records)", "task_sn", a.Task.TaskSN,
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

// output is the sync's sink: the JSON-lines file, locked against a second sync, appended one
// record per write.
type output struct {
	name     string
	f        *os.File
	mu       sync.Mutex
	lock     *flock.Flock
	size     int64     // of the file: what a failed write is cut back to
	newest   time.Time // the creation of the newest record the file held at start
	broken   error     // a failed write could not be undone: no more writes
	appended atomic.Int64
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
	o.appended.Add(1)
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

// load reads the state file, if there is one, and checks that it is userSN's.
func (s *stateStore) load(userSN string) error {
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
		return &fileError{flag: "--out", err: fmt.Errorf("%s: %w", s.path, err)}
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
