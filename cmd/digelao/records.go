package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/digelao-go/digelao"
)

var intentGrades = choice[digelao.IntentGrade]{what: "an intent grade", options: []option[digelao.IntentGrade]{
	{[]string{"A"}, digelao.IntentA}, {[]string{"B"}, digelao.IntentB}, {[]string{"C"}, digelao.IntentC},
	{[]string{"D"}, digelao.IntentD}, {[]string{"E"}, digelao.IntentE}, {[]string{"F"}, digelao.IntentF},
}}

func recordsListCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "list", Short: "list call records (6.1)", Args: cobra.NoArgs,
		Long: "List call records (6.1). With --all, on a terminal, the count so far shows on stderr."}
	c := addConn(cmd, e)
	var opts digelao.RecordListOptions
	var from, to timeValue
	var intents []string
	fs := cmd.Flags()
	fs.Var(&from, "from", "created at or after, YYYY-MM-DD or \"YYYY-MM-DD hh:mm:ss\", China time")
	fs.Var(&to, "to", "created at or before, China time")
	fs.StringVar(&opts.TaskSN, "task", "", "records of this task (its sn)")
	fs.StringVar(&opts.Phone, "phone", "", "records of this number")
	fs.StringSliceVar(&intents, "intent", nil, "only these intent grades, e.g. A,B (A to F, any case)")
	fs.IntVar(&opts.Page, "page", 0, "page number, from 0")
	fs.IntVar(&opts.PerPage, "per-page", 100, "records per page")
	all := fs.Bool("all", false, "every page, not just one")
	asJSON := fs.Bool("json", false, "print each record as a line of JSON")
	_ = cmd.RegisterFlagCompletionFunc("intent", intentGrades.complete)
	cmd.RunE = action(func(ctx context.Context, _ []string) error {
		opts.CreatedFrom, opts.CreatedTo = from.t, to.t
		for _, g := range intents {
			grade, err := intentGrades.parse(g)
			if err != nil {
				return usagef("--intent: %v", err)
			}
			opts.Intents = append(opts.Intents, grade)
		}
		return c.run(func(cl *digelao.Client) error {
			var t *table
			if !*asJSON {
				t = newTable("SN", "PHONE", "NAME", "INTENT", "TALK", "CONNECTED (UTC+8)")
			}
			enc := json.NewEncoder(e.stdout)
			var count atomic.Int64
			emit := func(r *digelao.CallRecord) error {
				count.Add(1)
				if *asJSON {
					return enc.Encode(r)
				}
				t.row(r.SN, r.Phone, orDash(r.Name), orDash(r.Status), strconv.Itoa(r.TalkTime)+"s", clock(r.ConnectedAt))
				return nil
			}
			// Lines of JSON on the same terminal would break the meter's line.
			stop := startMeter(e.stderr, e.tty && *all && (!*asJSON || !e.stdoutTTY),
				func() string { return records(int(count.Load())) + " listed" })
			n, total, err := listRecords(ctx, cl, &opts, *all, emit)
			stop(err == nil)
			if err != nil {
				return badFlag(err, withPages(map[string]string{"CreatedTo": "--to", "Intents": "--intent", "Phone": "--phone"}))
			}
			if !*asJSON {
				t.print(e.stdout)
				fmt.Fprintf(e.stdout, "%d of %d records\n", n, total)
			}
			return nil
		})
	})
	return cmd
}

// listRecords passes one page of records, or every page, to emit, and returns how many it
// passed and how many the platform counts.
func listRecords(ctx context.Context, cl *digelao.Client, opts *digelao.RecordListOptions, all bool,
	emit func(*digelao.CallRecord) error) (n, total int, err error) {
	if !all {
		recs, total, err := cl.Records.List(ctx, opts)
		if err != nil {
			return 0, 0, err
		}
		for _, r := range recs {
			if err := emit(r); err != nil {
				return n, total, err
			}
			n++
		}
		return n, total, nil
	}
	for r, err := range cl.Records.All(ctx, opts) {
		if err != nil {
			return n, n, err
		}
		if err := emit(r); err != nil {
			return n, n, err
		}
		n++
	}
	return n, n, nil
}

func dialogueCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "dialogue <record-sn> <connected-at>", Short: "show a call's dialogue (6.4)",
		Long: `Show a call's dialogue (6.4). <connected-at> is the call's CONNECTED time from "records list",
"YYYY-MM-DD hh:mm:ss" in China time. A record and time with no dialogue is an error (exit 1).`,
		Args: cobra.ExactArgs(2)}
	c := addConn(cmd, e)
	asJSON := cmd.Flags().Bool("json", false, "print each turn as a line of JSON")
	cmd.RunE = action(func(ctx context.Context, args []string) error {
		at, err := parseTime(args[1])
		if err != nil {
			return usagef("<connected-at>: %v", err)
		}
		return c.run(func(cl *digelao.Client) error {
			d, err := cl.Records.Dialogue(ctx, args[0], at)
			if err != nil {
				return badFlag(err, map[string]string{"recordSN": "<record-sn>", "connectedAt": "<connected-at>"})
			}
			turns := d.Turns()
			if len(turns) == 0 {
				return fmt.Errorf("no dialogue for record %s connected at %s (UTC+8): check both against "+
					"\"digelao records list\" (SN and CONNECTED); a call that did not connect has none", args[0], clock(at))
			}
			if *asJSON {
				return printJSONLines(e.stdout, turns)
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
	})
	return cmd
}

func downloadCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "download <recordpath> <recordfile>", Short: "download a call recording (6.2)",
		Long: `Download a call's recording (6.2): RECORDPATH and RECORDFILE as "records list --json" shows
them. On a terminal, progress goes to stderr; a failed download leaves no file behind.`,
		Args: cobra.ExactArgs(2)}
	c := addConn(cmd, e)
	out := cmd.Flags().StringP("output", "o", "", "output file (default: the recording's file name; - for stdout)")
	quiet := cmd.Flags().Bool("quiet", false, "no progress on stderr")
	cmd.RunE = action(func(ctx context.Context, args []string) error {
		name := *out
		if name == "" {
			name = filepath.Base(args[1])
		}
		return c.run(func(cl *digelao.Client) error {
			p := &byteCount{}
			stop := startMeter(e.stderr, e.tty && !*quiet, p.rate(time.Now()))
			var n int64
			var err error
			if name == "-" {
				n, err = cl.Records.Download(ctx, args[0], args[1], io.MultiWriter(e.stdout, p))
			} else {
				n, err = downloadFile(name, p, func(w io.Writer) (int64, error) {
					return cl.Records.Download(ctx, args[0], args[1], w)
				})
			}
			stop(err == nil)
			if err != nil {
				return failedDownload(args[1], name, badFlag(err, map[string]string{"recordFile": "<recordfile>",
					"recordPath": "<recordpath>"}))
			}
			if name != "-" {
				fmt.Fprintf(e.stdout, "%s: %s\n", name, size(n))
			}
			return nil
		})
	})
	return cmd
}

// downloadFile runs fetch into name, also counting into p. A regular file — or a new one — is
// replaced whole, mode 0644: a failed download leaves no partial file behind, and its error names
// the file (see replaceFile). A symbolic link is followed, and its target replaced; a device (such
// as /dev/null) or a named pipe is written to as it is.
func downloadFile(name string, p io.Writer, fetch func(io.Writer) (int64, error)) (n int64, err error) {
	target, err := resolveLinks(name)
	if err != nil {
		return 0, &fileError{flag: "--output", err: err}
	}
	if fi, err := os.Stat(target); err == nil && !fi.Mode().IsRegular() && !fi.IsDir() {
		f, err := os.OpenFile(target, os.O_WRONLY, 0) //nolint:gosec // the file the user named
		if err != nil {
			return 0, &fileError{flag: "--output", err: err}
		}
		n, err = fetch(io.MultiWriter(f, p))
		if cerr := f.Close(); err == nil && cerr != nil {
			err = &fileError{flag: "--output", err: cerr}
		}
		return n, err
	}
	err = replaceFile("--output", target, 0o644, func(w io.Writer) error {
		n, err = fetch(io.MultiWriter(w, p))
		return err
	})
	return n, err
}

// failedDownload names what was asked for and where it was to go in the error of a download
// that failed for another reason than the file (which names itself) or a bad argument.
func failedDownload(what, to string, err error) error {
	var file *fileError
	var usage *usageError
	if err == nil || errors.As(err, &file) || errors.As(err, &usage) {
		return err
	}
	if to == "-" {
		to = "stdout"
	}
	return fmt.Errorf("downloading %s to %s: %w", what, to, err)
}

// ids parses record ids given on the command line.
func ids(args []string) ([]int64, error) {
	out := make([]int64, len(args))
	for i, a := range args {
		id, err := strconv.ParseInt(strings.TrimSpace(a), 10, 64)
		if err != nil || id <= 0 {
			return nil, usagef("%q is not an id", a)
		}
		out[i] = id
	}
	return out, nil
}
