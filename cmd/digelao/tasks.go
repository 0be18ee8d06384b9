package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/digelao-go/digelao"
)

var taskStates = choice[digelao.TaskStatus]{what: "a task state", options: []option[digelao.TaskStatus]{
	{[]string{"running", "0", "发送中"}, digelao.TaskRunning},
	{[]string{"finished", "1", "已发送"}, digelao.TaskFinished},
	{[]string{"paused", "4", "暂停发送"}, digelao.TaskPaused},
	{[]string{"ended", "6", "终止发送"}, digelao.TaskEnded},
}}

func tasksListCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "list", Short: "list tasks (5.1)", Args: cobra.NoArgs,
		Long: `List tasks (5.1). Without --from and --to the platform lists only the tasks created today
(China time). --status takes ` + taskStates.String() + `; the STATUS column shows
the first and the last of these names.`}
	c := addConn(cmd, e)
	var opts digelao.TaskListOptions
	var from, to timeValue
	var status string
	fs := cmd.Flags()
	fs.Var(&from, "from", "created at or after, YYYY-MM-DD or \"YYYY-MM-DD hh:mm:ss\", China time")
	fs.Var(&to, "to", "created at or before, China time")
	fs.StringVar(&status, "status", "", "only tasks in this state: running, finished, paused or ended")
	fs.IntVar(&opts.Page, "page", 0, "page number, from 0")
	fs.IntVar(&opts.PerPage, "per-page", 100, "tasks per page")
	asJSON := fs.Bool("json", false, "print each task as a line of JSON")
	_ = cmd.RegisterFlagCompletionFunc("status", taskStates.complete)
	cmd.RunE = action(func(ctx context.Context, _ []string) error {
		opts.CreatedFrom, opts.CreatedTo = from.t, to.t
		if status != "" {
			st, err := taskStates.parse(status)
			if err != nil {
				return usagef("--status: %v", err)
			}
			opts.Status = st
		}
		return c.run(func(cl *digelao.Client) error {
			tasks, total, err := cl.Tasks.List(ctx, &opts)
			if err != nil {
				return badFlag(err, withPages(map[string]string{"Status": "--status", "CreatedTo": "--to"}))
			}
			if *asJSON {
				return printJSONLines(e.stdout, tasks)
			}
			t := newTable("ID", "SN", "NAME", "STATUS", "TOTAL", "CALLED", "CONNECTED", "CREATED (UTC+8)")
			for _, task := range tasks {
				t.row(strconv.FormatInt(task.ID, 10), task.SN, task.Name, describe(task.Status), strconv.Itoa(task.Total),
					strconv.Itoa(task.Sent), strconv.Itoa(task.Success), clock(task.CreatedAt))
			}
			t.print(e.stdout)
			when := ""
			if from.t.IsZero() && to.t.IsZero() {
				when = " created today (China time; --from for older ones)"
			}
			fmt.Fprintf(e.stdout, "%d of %d tasks%s\n", len(tasks), total, when)
			return nil
		})
	})
	return cmd
}

// taskOperations are the operations of "tasks operate", by the command's name and the platform's.
var taskOperations = choice[digelao.TaskOperation]{what: "a task operation", options: []option[digelao.TaskOperation]{
	{[]string{"pause", string(digelao.TaskPause)}, digelao.TaskPause},
	{[]string{"resume", string(digelao.TaskResume)}, digelao.TaskResume},
	{[]string{"redial-failed", string(digelao.TaskRedialFailed)}, digelao.TaskRedialFailed},
	{[]string{"end", string(digelao.TaskEnd)}, digelao.TaskEnd},
	{[]string{"delete", string(digelao.TaskDelete)}, digelao.TaskDelete},
}}

// operationGoal is the state an operation puts a task in, when it has one to check.
func operationGoal(op digelao.TaskOperation) (digelao.TaskStatus, bool) {
	switch op {
	case digelao.TaskPause:
		return digelao.TaskPaused, true
	case digelao.TaskResume:
		return digelao.TaskRunning, true
	case digelao.TaskEnd:
		return digelao.TaskEnded, true
	}
	return "", false
}

func tasksOperateCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "operate <task-id> <operation>",
		Short: "pause, resume, redial-failed, end or delete a task (5.2)",
		Long: `Pause, resume, redial the failed numbers of, end or delete a task (5.2). The task id is the ID
column of "tasks list" (dial_task_main_id). Operations: ` + taskOperations.String() + `.

The platform answers 操作成功 also when it leaves the task as it was (pausing a finished task):
the command reads the task before and after (5.4) and says whether it changed; a task the
operation did not change is an error. An id the platform does not know is answered with 20002
数据格式错误 [inferred: so the fake answers; the documentation does not say]: the command says
there is no such task instead.`,
		Args: cobra.ExactArgs(2),
		ValidArgsFunction: func(_ *cobra.Command, args []string, s string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) == 1 {
				return taskOperations.complete(nil, nil, s)
			}
			return nil, cobra.ShellCompDirectiveNoFileComp
		}}
	c := addConn(cmd, e)
	cmd.RunE = action(func(ctx context.Context, args []string) error {
		id, err := strconv.ParseInt(args[0], 10, 64)
		if err != nil || id <= 0 {
			return usagef("<task-id>: want the task's numeric id (the ID column of \"tasks list\"), got %q", args[0])
		}
		op, err := taskOperations.parse(args[1])
		if err != nil {
			return usagef("<operation>: %v", err)
		}
		return c.run(func(cl *digelao.Client) error {
			before, err := taskState(ctx, cl, id)
			if err != nil {
				return err
			}
			if err := cl.Tasks.Operate(ctx, id, op); err != nil {
				return unknownTask(err, id)
			}
			after, err := taskState(ctx, cl, id)
			var gone *noTaskError
			switch {
			case op == digelao.TaskDelete && errors.As(err, &gone):
				fmt.Fprintf(e.stdout, "task %d: deleted\n", id)
				return nil
			case err != nil:
				return err
			case op == digelao.TaskDelete:
				return fmt.Errorf("tasks operate: the platform answered 操作成功, yet task %d is still there (%s)", id, describe(after))
			}
			goal, checked := operationGoal(op)
			switch {
			case after != before:
				fmt.Fprintf(e.stdout, "task %d: %s: %s → %s\n", id, args[1], describe(before), describe(after))
			case checked && after != goal:
				return fmt.Errorf("tasks operate: the platform answered 操作成功 but did not change task %d: it is still %s",
					id, describe(after))
			default:
				fmt.Fprintf(e.stdout, "task %d: %s: done; it is %s\n", id, args[1], describe(after))
			}
			return nil
		})
	})
	return cmd
}

// describe names a task state as the command and the platform do: "paused (暂停发送)".
func describe(st digelao.TaskStatus) string {
	if o, ok := taskStates.option(st); ok {
		return o.names[0] + " (" + st.String() + ")"
	}
	return orDash(st.String())
}

// taskState reads task id's state (5.4).
func taskState(ctx context.Context, cl *digelao.Client, id int64) (digelao.TaskStatus, error) {
	d, err := cl.Tasks.Details(ctx, id, &digelao.ListOptions{PerPage: 1})
	if err != nil {
		return "", unknownTask(err, id)
	}
	if d.Task == nil {
		return "", fmt.Errorf("task %d: the platform's task details (5.4) carry no task", id)
	}
	return d.Task.Status, nil
}

// noTaskError is the platform's answer to a task id it does not know: 20002 数据格式错误.
type noTaskError struct {
	id  int64
	err error
}

func (e *noTaskError) Error() string {
	return fmt.Sprintf("no task with id %d: the platform answered 20002 数据格式错误, its answer to an id it does not "+
		"know (deleted, another account's, or not a dial_task_main_id); \"digelao tasks list\" shows the ids", e.id)
}

func (e *noTaskError) Unwrap() error { return e.err }

func unknownTask(err error, id int64) error {
	if errors.Is(err, digelao.ErrBadData) {
		return &noTaskError{id, err}
	}
	return err
}

const createHelp = `
A CSV of more than 30,000 contacts goes in batches: the first creates the task, the others are
appended to it, and each is reported. A CSV's numbers that no Chinese mobile number (1[3-9] and
nine digits) or fixed-line number (0, the area code, the number) matches are listed on stderr
before anything is sent; they are sent as they are (a workbook's rows are read by the platform,
not checked before). With --wait the command waits for each batch's import (5.7.4, progress on
stderr on a terminal) before it sends the next, then shows how many contacts were imported and
each row the platform refused, with its reason. A task created without --start waits to be
started: "digelao tasks operate ID resume".`

func tasksCreateCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "create --name NAME --template SN --seat SN --contacts FILE", Args: cobra.NoArgs,
		Short: "create a task from a CSV or Excel file of contacts (5.7.2, 5.7.1)",
		Long:  "Create a task, or add contacts to one (--append-to), from a file of contacts.\n" + contactsHelp + "\n" + createHelp}
	c := addConn(cmd, e)
	var req digelao.CreateTaskRequest
	var file string
	fs := cmd.Flags()
	fs.StringVar(&req.Name, "name", "", "task name: letters, Chinese characters, digits and parentheses")
	fs.StringVar(&req.ProjectSN, "template", "", "script template sn (project_sn; \"templates list\" shows them)")
	fs.StringVar(&req.SeatSN, "seat", "", "AI seat that calls: a sub-account's user_sn (\"accounts list\")")
	fs.StringVar(&file, "contacts", "", "the contacts: a .csv or .xlsx file whose first row names the columns")
	fs.StringVar(&req.AppendTo, "append-to", "", "add the contacts to this task (its sn) instead of creating one")
	fs.BoolVar(&req.AutoStart, "start", false, "start calling once imported")
	wait := fs.Bool("wait", false, "wait for the import (5.7.4) and show what was imported and the rows refused")
	bindEnv(fs, "template", "DIGELAO_TEMPLATE_SN")
	bindEnv(fs, "seat", "DIGELAO_SEAT_SN")
	markRequired(fs, "name", "template", "seat", "contacts")
	_ = cmd.MarkFlagFilename("contacts", "csv", "xlsx")
	_ = cmd.RegisterFlagCompletionFunc("template", c.completeTemplates)
	names := map[string]string{"Name": "--name", "ProjectSN": "--template", "SeatSN": "--seat",
		"projectSN": "--template", "upload": "--contacts"}
	cmd.RunE = action(func(ctx context.Context, _ []string) error {
		if err := req.Validate(); err != nil {
			return badFlag(err, names)
		}
		im := &contactImport{e: e, req: &req, file: file, wait: *wait}
		if strings.EqualFold(filepath.Ext(file), ".xlsx") || strings.EqualFold(filepath.Ext(file), ".xls") {
			return c.run(func(cl *digelao.Client) error { return im.excel(ctx, cl, names) })
		}
		s, err := readSheet(file)
		if err != nil {
			return err
		}
		s.warnPhones(e.stderr)
		im.sheet = s
		return c.run(func(cl *digelao.Client) error {
			if err := im.columns(ctx, cl); err != nil {
				return err
			}
			if req.Contacts, err = s.contacts(req.Columns); err != nil {
				return err
			}
			if err := s.check(&req); err != nil {
				return badFlag(noPhoneColumn(err, req.ProjectSN), names)
			}
			return im.csv(ctx, cl, names)
		})
	})
	return cmd
}

// contactImport is one run of "tasks create": the request, the file, and what the platform
// imported, when it waits for that.
type contactImport struct {
	e     *env
	req   *digelao.CreateTaskRequest
	file  string
	sheet *sheet // the CSV; nil for a workbook
	wait  bool

	status   statusText // what a meter shows on a terminal
	counts   digelao.ImportCounts
	rejected []digelao.RejectedRow
}

// columns reads the template's columns (5.11) into the request: a CSV's contacts are sent by them,
// and they say why the platform refused a row (a required column left empty).
func (im *contactImport) columns(ctx context.Context, cl *digelao.Client) error {
	var err error
	if im.req.Columns, err = cl.Tasks.ImportColumns(ctx, im.req.ProjectSN); err != nil {
		return unknownTemplate(err, im.req.ProjectSN)
	}
	return nil
}

// csv sends the CSV's contacts in batches (5.7.2), reporting each, and with --wait waits for each
// batch's import before the next.
func (im *contactImport) csv(ctx context.Context, cl *digelao.Client, names map[string]string) error {
	e, s, n := im.e, im.sheet, len(im.req.Contacts)
	batches := (n + digelao.MaxImportRows - 1) / digelao.MaxImportRows
	sending := func(from int) func(bool) {
		to := min(from+digelao.MaxImportRows, n)
		im.status.set("sending batch %d of %d (contacts %d to %d)…", from/digelao.MaxImportRows+1, batches, from+1, to)
		return startMeter(e.stderr, e.tty, im.status.get)
	}
	stop, last := sending(0), &digelao.BatchImport{}
	for res, err := range cl.Tasks.ImportBatches(ctx, im.req) {
		stop(false)
		if err != nil {
			return im.failed(res, s.where(badFlag(noPhoneColumn(im.unknownTask(res, err), im.req.ProjectSN), names)))
		}
		from := last.Sent
		last = res
		line := fmt.Sprintf("batch %d of %d: contacts %d to %d (%s:%d to %d) sent", res.Batches, batches, from+1, res.Sent,
			s.path, s.lines[from], s.lines[res.Sent-1])
		if res.Batches == 1 {
			line += fmt.Sprintf(" to task %d (%s)", res.Task.ID, res.Task.SN)
		}
		if im.wait {
			info, err := im.waitImport(ctx, cl, res.Task.ID, res.Sent-from, fmt.Sprintf("batch %d of %d", res.Batches, batches))
			if err != nil {
				return im.failed(res, err)
			}
			line += "; " + outcome(&info.Counts)
		}
		if batches > 1 {
			fmt.Fprintln(e.stdout, line)
		}
		if res.Sent < n {
			stop = sending(res.Sent)
		}
	}
	stop(false)
	task := last.Task
	if !im.wait {
		fmt.Fprintf(e.stdout, "task %d (%s): %d of %d contacts from %s (%s) sent for import in %s\n",
			task.ID, task.SN, last.Sent, n, im.file, s.encoding, count(last.Batches, "batch"))
		im.startHint(task.ID)
		return nil
	}
	fmt.Fprintf(e.stdout, "task %d (%s): %s from %s (%s) in %s: %s\n",
		task.ID, task.SN, count(n, "contact"), im.file, s.encoding, count(last.Batches, "batch"), outcome(&im.counts))
	return im.report(task.ID)
}

// unknownTask explains the platform's 20002 for the first batch of contacts sent to --append-to:
// the template was found, so it is the task sn it does not know.
func (im *contactImport) unknownTask(res *digelao.BatchImport, err error) error {
	if im.req.AppendTo == "" || res == nil || res.Batches > 0 || !errors.Is(err, digelao.ErrBadData) {
		return err
	}
	return fmt.Errorf("--append-to %s: %w (is it the sn of one of this account's tasks? \"digelao tasks list --json\" "+
		"shows their sns)", im.req.AppendTo, err)
}

// excel uploads a workbook as it is (5.7.1); the platform reads it. The command does not read its
// rows, so it cannot warn about odd numbers before sending; with --wait it reads the template's
// columns first, to say why the platform refused a row.
func (im *contactImport) excel(ctx context.Context, cl *digelao.Client, names map[string]string) error {
	req := im.req
	f, err := os.Open(im.file)
	if err != nil {
		return &fileError{flag: "--contacts", err: err}
	}
	defer f.Close() //nolint:errcheck // read-only
	if im.wait {
		if err := im.columns(ctx, cl); err != nil {
			return err
		}
	}
	task, err := cl.Tasks.CreateFromExcel(ctx, &digelao.ExcelTaskRequest{Name: req.Name, ProjectSN: req.ProjectSN,
		SeatSN: req.SeatSN, AutoStart: req.AutoStart, AppendTo: req.AppendTo,
		File: digelao.File{Name: filepath.Base(im.file), Content: f}})
	if err != nil {
		return unknownTemplate(badFlag(err, names), req.ProjectSN)
	}
	if !im.wait {
		fmt.Fprintf(im.e.stdout, "task %d (%s): %s uploaded; the platform imports it (\"tasks list\" shows the numbers)\n",
			task.ID, task.SN, im.file)
		im.startHint(task.ID)
		return nil
	}
	info, err := im.waitImport(ctx, cl, task.ID, 0, im.file)
	if err != nil {
		return err
	}
	fmt.Fprintf(im.e.stdout, "task %d (%s): %s uploaded: %s\n", task.ID, task.SN, im.file, outcome(&info.Counts))
	return im.report(task.ID)
}

// waitImport polls the import into task id (5.7.4), showing its progress on a terminal, until it
// is done: at 100%, with the counters of n rows (n = 0: any). A reading at 100% with other
// counters may be the task's previous import, not yet replaced; after a few such readings they
// are taken as they are. The result is added to the run's.
func (im *contactImport) waitImport(ctx context.Context, cl *digelao.Client, id int64, n int, what string) (*digelao.ImportInfo, error) {
	im.status.set("%s: waiting for the import…", what)
	stop := startMeter(im.e.stderr, im.e.tty, im.status.get)
	defer stop(false)
	settled := 0
	for pause := 250 * time.Millisecond; ; pause = min(2*pause, 3*time.Second) {
		info, err := cl.Tasks.ImportInfo(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("waiting for the import into task %d (5.7.4): %w", id, err)
		}
		im.status.set("%s: importing, %.0f%%", what, info.Percent)
		if info.Percent >= 100 && (n == 0 || info.Counts.Total == n || settled == 3) {
			im.add(&info.Counts)
			im.rejected = append(im.rejected, info.Rejected...)
			return info, nil
		}
		if info.Percent >= 100 {
			settled++
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the import into task %d: %w", id, ctx.Err())
		case <-time.After(pause):
		}
	}
}

// add adds c to the run's counters.
func (im *contactImport) add(c *digelao.ImportCounts) {
	t := &im.counts
	t.Total += c.Total
	t.Success += c.Success
	t.Fail += c.Fail
	t.Blacklist += c.Blacklist
	t.Repeat += c.Repeat
	t.Filter += c.Filter
	t.Invalid += c.Invalid
	t.Empty += c.Empty
	t.Suspended += c.Suspended
	t.NotInDB += c.NotInDB
	t.Silent += c.Silent
	t.Risky += c.Risky
	t.OverLimit += c.OverLimit
}

// report lists the rows the platform refused, each with the line of the CSV it came from and a
// reason, says how to start a task created paused, and fails when nothing was imported.
func (im *contactImport) report(id int64) error {
	if len(im.rejected) > 0 {
		fmt.Fprintln(im.e.stdout, "rows refused:")
		for _, r := range im.rejected {
			fmt.Fprintln(im.e.stdout, "  "+im.describeRow(r))
		}
	}
	if im.counts.Total > 0 && im.counts.Success == 0 {
		return fmt.Errorf("task %d: the platform imported none of the %s", id, count(im.counts.Total, "contact"))
	}
	im.startHint(id)
	return nil
}

// startHint says how to start a task created without --start.
func (im *contactImport) startHint(id int64) {
	if !im.req.AutoStart {
		fmt.Fprintf(im.e.stdout, "task %d does not call until started (no --start): digelao tasks operate %d resume\n", id, id)
	}
}

// failed reports how far a failed import got, and how to send the rest, before err.
func (im *contactImport) failed(res *digelao.BatchImport, err error) error {
	if res == nil || res.Task == nil {
		return err
	}
	fmt.Fprintf(im.e.stdout, "task %d (%s): %d of %d contacts sent in %s before the failure; to send the "+
		"rest, run again with --append-to %s and the rows from %s:%d on\n", res.Task.ID, res.Task.SN, res.Sent,
		len(im.req.Contacts), count(res.Batches, "batch"), res.Task.SN, im.sheet.path,
		im.sheet.lines[min(res.Sent, len(im.sheet.lines)-1)])
	return err
}

// outcome says what an import did: how many contacts it imported, and why it left the others out.
func outcome(c *digelao.ImportCounts) string {
	out := fmt.Sprintf("%d imported", c.Success)
	var left []string
	for _, n := range []struct {
		n    int
		what string
	}{
		{c.Fail, "refused (listed below)"}, {c.Blacklist, "on the do-not-call list"}, {c.Repeat, "repeated in the task"},
		{c.Filter, "filtered out"}, {c.Invalid, "invalid (失效)"}, {c.Empty, "not in service (空号)"},
		{c.Suspended, "suspended (停机)"}, {c.NotInDB, "unknown to the number database (库无)"},
		{c.Silent, "long silent (沉默号)"}, {c.Risky, "flagged as risky (风险号)"}, {c.OverLimit, "called too often (超频)"},
	} {
		if n.n > 0 {
			left = append(left, fmt.Sprintf("%d %s", n.n, n.what))
		}
	}
	if len(left) > 0 {
		out += fmt.Sprintf(", %d left out: %s", c.Total-c.Success, strings.Join(left, ", "))
	}
	return out
}

// describeRow shows a refused row as the file held it, with the reason the row itself gives: the
// platform lists the rows, not why it refused each.
func (im *contactImport) describeRow(r digelao.RejectedRow) string {
	cols := im.req.Columns // none known: the row's own columns, sorted
	if len(cols) == 0 {
		for _, k := range slices.Sorted(maps.Keys(r)) {
			cols = append(cols, digelao.Column{Name: k})
		}
	}
	names := make([]string, len(cols))
	cells := make([]string, len(cols))
	for i, c := range cols {
		names[i], cells[i] = c.Name, c.Name+"="+r[c.Name]
	}
	reason := "refused by the platform, which gives no reason"
	for _, c := range cols {
		if c.Required && strings.TrimSpace(r[c.Name]) == "" {
			reason = fmt.Sprintf("the required column %q is empty", c.Name)
		}
	}
	where := ""
	if i := phoneColumn(names); i >= 0 {
		phone := r[names[i]]
		if _, ok := chinesePhone(phone); phone != "" && !ok {
			reason = "not a Chinese mobile or fixed-line number"
		}
		if im.sheet != nil {
			where = im.sheet.lineOf(phone)
		}
	}
	return where + strings.Join(cells, ", ") + ": " + reason
}

// noPhoneColumn explains the SDK's refusal of a template without a column for the number.
func noPhoneColumn(err error, sn string) error {
	var invalid *digelao.ValidationError
	if errors.As(err, &invalid) && invalid.Field == "Columns" {
		return fmt.Errorf("template %s has no column for the number (电话 or 手机), so it takes no contacts "+
			"(\"digelao templates columns %s\" shows its columns)", sn, sn)
	}
	return err
}

// unknownTemplate explains the platform's 20002 for a template sn it does not know.
func unknownTemplate(err error, sn string) error {
	if errors.Is(err, digelao.ErrBadData) {
		return fmt.Errorf("%w (is %q a template sn of this account? \"digelao templates list\" shows them)", err, sn)
	}
	return err
}
