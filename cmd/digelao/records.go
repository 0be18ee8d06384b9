package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/digelao-go/digelao"
)

func recordsListCmd() *command {
	return &command{summary: "list call records (6.1)", run: func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(e, "records list", "[--task SN] [--phone N] [--from T] [--to T] [--intent A,B] [--all] [--json] [flags]")
		c := connFlags(fs, e)
		var opts digelao.RecordListOptions
		from, to := timeFlag(fs, "from", "created at or after (China time)"), timeFlag(fs, "to", "created at or before")
		fs.StringVar(&opts.TaskSN, "task", "", "records of this task (dial_task_main_sn)")
		fs.StringVar(&opts.Phone, "phone", "", "records of this number")
		intents := fs.String("intent", "", "comma-separated intent grades, e.g. A,B")
		fs.IntVar(&opts.Page, "page", 0, "page number")
		fs.IntVar(&opts.PerPage, "per-page", 100, "records per page")
		all := fs.Bool("all", false, "every page, not just one")
		asJSON := fs.Bool("json", false, "print each record as a JSON line, as the platform sent it")
		return withClient(fs, c, args, 0, func(cl *digelao.Client) error {
			opts.CreatedFrom, opts.CreatedTo = from.t, to.t
			for _, g := range strings.Split(*intents, ",") {
				if g = strings.TrimSpace(g); g != "" {
					opts.Intents = append(opts.Intents, digelao.IntentGrade(g))
				}
			}
			var tw interface {
				io.Writer
				Flush() error
			}
			emit := func(r *digelao.CallRecord) error {
				if *asJSON {
					_, err := fmt.Fprintf(e.stdout, "%s\n", r.Raw)
					return err
				}
				_, err := fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%ds\t%s\n", r.SN, r.Phone, r.Name, orDash(r.Status),
					r.TalkTime, clock(r.ConnectedAt))
				return err
			}
			if !*asJSON {
				tw = table(e.stdout, "SN", "PHONE", "NAME", "INTENT", "TALK", "CONNECTED")
			}
			n, total := 0, 0
			if *all {
				for r, err := range cl.Records.All(ctx, &opts) {
					if err != nil {
						return err
					}
					if err := emit(r); err != nil {
						return err
					}
					n++
				}
				total = n
			} else {
				recs, t, err := cl.Records.List(ctx, &opts)
				if err != nil {
					return err
				}
				for _, r := range recs {
					if err := emit(r); err != nil {
						return err
					}
				}
				n, total = len(recs), t
			}
			if *asJSON {
				return nil
			}
			fmt.Fprintf(tw, "\t%d of %d records\n", n, total)
			return tw.Flush()
		})
	}}
}

func dialogueCmd() *command {
	return &command{summary: "show a call's dialogue (6.4)", run: func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(e, "dialogue", "<record-sn> <connected-at \"YYYY-MM-DD hh:mm:ss\"> [--json] [flags]")
		c := connFlags(fs, e)
		asJSON := fs.Bool("json", false, "print the turns as JSON")
		return withClient(fs, c, args, 2, func(cl *digelao.Client) error {
			var at timeValue
			if err := at.Set(fs.Arg(1)); err != nil {
				return usagef("dialogue: connected-at: %v", err)
			}
			d, err := cl.Records.Dialogue(ctx, fs.Arg(0), at.t)
			if err != nil {
				return err
			}
			turns := d.Turns()
			if *asJSON {
				return json.NewEncoder(e.stdout).Encode(turns)
			}
			for _, t := range turns {
				if t.Text != "" {
					fmt.Fprintf(e.stdout, "robot    [%s] %s\n", t.Node, t.Text)
				}
				if t.Answer != "" {
					fmt.Fprintf(e.stdout, "customer %s\n", t.Answer)
				}
			}
			return nil
		})
	}}
}

func downloadCmd() *command {
	return &command{summary: "download a call recording (6.2)", run: func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(e, "download", "<recordpath> <recordfile> [-o FILE] [flags]")
		c := connFlags(fs, e)
		out := fs.String("o", "", "output file (default: the recording's file name; - for stdout)")
		quiet := fs.Bool("quiet", false, "no progress on stderr")
		return withClient(fs, c, args, 2, func(cl *digelao.Client) error {
			name := *out
			if name == "" {
				name = filepath.Base(fs.Arg(1))
			}
			p := &progress{w: e.stderr, quiet: *quiet}
			stop := p.start()
			var n int64
			var err error
			if name == "-" {
				n, err = cl.Records.Download(ctx, fs.Arg(0), fs.Arg(1), io.MultiWriter(e.stdout, p))
			} else {
				n, err = downloadFile(name, p, func(w io.Writer) (int64, error) {
					return cl.Records.Download(ctx, fs.Arg(0), fs.Arg(1), w)
				})
			}
			stop()
			if err != nil {
				return err
			}
			if name != "-" {
				fmt.Fprintf(e.stdout, "%s: %s\n", name, size(n))
			}
			return nil
		})
	}}
}

// downloadFile runs fetch into a temporary file next to name, also counting into p, and renames
// it into place, so that a failed download leaves no partial file behind.
func downloadFile(name string, p io.Writer, fetch func(io.Writer) (int64, error)) (int64, error) {
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*.part")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // gone after the rename; cleanup otherwise
	n, err := fetch(io.MultiWriter(tmp, p))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, err
	}
	return n, os.Rename(tmp.Name(), name)
}

// progress counts bytes written through it and shows the count on w while a download runs.
type progress struct {
	w     io.Writer
	quiet bool
	n     atomic.Int64
}

func (p *progress) Write(b []byte) (int, error) {
	p.n.Add(int64(len(b)))
	return len(b), nil
}

// start shows the progress every 200ms until the returned stop is called.
func (p *progress) start() (stop func()) {
	if p.quiet {
		return func() {}
	}
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		began := time.Now()
		show := func() {
			n := p.n.Load()
			rate := float64(n) / max(time.Since(began).Seconds(), 0.001)
			fmt.Fprintf(p.w, "\r%s downloaded, %s/s   ", size(n), size(int64(rate)))
		}
		for {
			select {
			case <-done:
				show()
				fmt.Fprintln(p.w)
				return
			case <-t.C:
				show()
			}
		}
	}()
	return func() { close(done); <-finished }
}

func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printJSONLines prints each value as one JSON line.
func printJSONLines[T any](w io.Writer, vs []T) error {
	enc := json.NewEncoder(w)
	for _, v := range vs {
		if err := enc.Encode(v); err != nil {
			return err
		}
	}
	return nil
}
