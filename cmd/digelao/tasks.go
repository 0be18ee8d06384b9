package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/digelao-go/digelao"
)

func tasksListCmd() *command {
	return &command{summary: "list tasks (5.1)", run: func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(e, "tasks list", "[--from 2024-10-01] [--to 2024-10-31] [--status running|finished|paused|ended] [flags]")
		c := connFlags(fs, e)
		var opts digelao.TaskListOptions
		from, to := timeFlag(fs, "from", "created at or after (China time; default: today only)"),
			timeFlag(fs, "to", "created at or before")
		status := fs.String("status", "", "running, finished, paused or ended")
		fs.IntVar(&opts.Page, "page", 0, "page number")
		fs.IntVar(&opts.PerPage, "per-page", 100, "tasks per page")
		asJSON := fs.Bool("json", false, "print JSON lines")
		return withClient(fs, c, args, 0, func(cl *digelao.Client) error {
			opts.CreatedFrom, opts.CreatedTo = from.t, to.t
			if *status != "" {
				st, err := parseTaskStatus(*status)
				if err != nil {
					return err
				}
				opts.Status = st
			}
			tasks, total, err := cl.Tasks.List(ctx, &opts)
			if err != nil {
				return err
			}
			if *asJSON {
				return printJSONLines(e.stdout, tasks)
			}
			tw := table(e.stdout, "ID", "SN", "NAME", "STATUS", "TOTAL", "SENT", "CONNECTED", "CREATED")
			for _, t := range tasks {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%d\t%s\n", t.ID, t.SN, t.Name, t.Status, t.Total, t.Sent,
					t.Success, clock(t.CreatedAt))
			}
			fmt.Fprintf(tw, "\t%d of %d tasks\n", len(tasks), total)
			return tw.Flush()
		})
	}}
}

var taskStatuses = map[string]digelao.TaskStatus{
	"running": digelao.TaskRunning, "finished": digelao.TaskFinished,
	"paused": digelao.TaskPaused, "ended": digelao.TaskEnded,
}

func parseTaskStatus(s string) (digelao.TaskStatus, error) {
	st, ok := taskStatuses[s]
	if !ok {
		return "", usagef("--status: want running, finished, paused or ended, got %q", s)
	}
	return st, nil
}

var taskOperations = map[string]digelao.TaskOperation{
	"pause": digelao.TaskPause, "resume": digelao.TaskResume, "redial-failed": digelao.TaskRedialFailed,
	"delete": digelao.TaskDelete, "end": digelao.TaskEnd,
}

func tasksOperateCmd() *command {
	return &command{summary: "pause, resume, redial-failed, end or delete a task (5.2)", run: func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(e, "tasks operate", "<task-id> <pause|resume|redial-failed|end|delete> [flags]")
		c := connFlags(fs, e)
		return withClient(fs, c, args, 2, func(cl *digelao.Client) error {
			id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
			if err != nil {
				return usagef("tasks operate: task id must be a number (dial_task_main_id), got %q", fs.Arg(0))
			}
			op, ok := taskOperations[fs.Arg(1)]
			if !ok {
				return usagef("tasks operate: want pause, resume, redial-failed, end or delete, got %q", fs.Arg(1))
			}
			if err := cl.Tasks.Operate(ctx, id, op); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "task %d: %s done\n", id, fs.Arg(1))
			return nil
		})
	}}
}

func tasksCreateCmd() *command {
	return &command{summary: "create a task from a CSV of contacts (5.7.2)", run: func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(e, "tasks create", "--template SN --seat SN --name NAME --contacts FILE.csv [flags]")
		c := connFlags(fs, e)
		var req digelao.CreateTaskRequest
		fs.StringVar(&req.ProjectSN, "template", "", "script template sn (project_sn)")
		fs.StringVar(&req.SeatSN, "seat", "", "AI seat sn (ai_user_sn) that calls")
		fs.StringVar(&req.Name, "name", "", "task name: letters, Chinese characters, digits, parentheses")
		fs.StringVar(&req.AppendTo, "append-to", "", "add the contacts to this task (dial_task_main_sn) instead")
		fs.BoolVar(&req.AutoStart, "start", false, "start calling once imported")
		file := fs.String("contacts", "", "CSV file: a header row with the template's column names (电话 required)")
		return withClient(fs, c, args, 0, func(cl *digelao.Client) error {
			if *file == "" {
				return usagef("tasks create: --contacts is required")
			}
			contacts, err := readContacts(*file)
			if err != nil {
				return err
			}
			if err := req.Validate(); err != nil {
				return err
			}
			if req.Columns, err = cl.Tasks.ImportColumns(ctx, req.ProjectSN); err != nil {
				return err
			}
			req.Contacts = contacts
			res, err := cl.Tasks.ImportInBatches(ctx, &req, 0)
			if res != nil && res.Task != nil {
				fmt.Fprintf(e.stdout, "task %d (%s): %d of %d contacts sent for import in %d batch(es)\n",
					res.Task.ID, res.Task.SN, res.Sent, len(contacts), res.Batches)
			}
			return err
		})
	}}
}

// readContacts reads a CSV whose header names the template's columns. The phone goes in a
// column named 电话, 手机 or phone, the name in 姓名 or name; other columns go by their header.
func readContacts(path string) ([]digelao.Contact, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close() //nolint:errcheck // read-only
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: reading the header: %w", path, err)
	}
	var out []digelao.Contact
	for line := 2; ; line++ {
		row, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		ct := digelao.Contact{Fields: map[string]string{}}
		for i, v := range row {
			if i >= len(header) {
				return nil, fmt.Errorf("%s:%d: more fields than header columns", path, line)
			}
			switch col := strings.TrimPrefix(strings.TrimSpace(header[i]), "*"); strings.ToLower(col) {
			case "电话", "手机", "phone":
				ct.Phone = v
			case "姓名", "name":
				ct.Name = v
			default:
				ct.Fields[col] = v
			}
		}
		out = append(out, ct)
	}
}

// timeValue is a flag holding a China-time date or date-time.
type timeValue struct{ t time.Time }

func (v *timeValue) String() string {
	if v.t.IsZero() {
		return ""
	}
	return v.t.Format(time.DateTime)
}

func (v *timeValue) Set(s string) error {
	for _, layout := range []string{time.DateTime, time.DateOnly} {
		if t, err := time.ParseInLocation(layout, s, chinaTime); err == nil {
			v.t = t
			return nil
		}
	}
	return fmt.Errorf("want YYYY-MM-DD or \"YYYY-MM-DD hh:mm:ss\" (China time), got %q", s)
}

func timeFlag(fs *flag.FlagSet, name, usage string) *timeValue {
	v := &timeValue{}
	fs.Var(v, name, usage)
	return v
}

// chinaTime is the platform's zone, in which the command reads and prints times.
var chinaTime = time.FixedZone("CST", 8*60*60)

func clock(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.In(chinaTime).Format(time.DateTime)
}

func table(w io.Writer, headers ...string) *tabwriter.Writer {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(headers, "\t"))
	return tw
}
