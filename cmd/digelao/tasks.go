package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

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
(China time). --status takes ` + taskStates.String() + `.`}
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
				return flagNames(err, map[string]string{"Status": "--status", "CreatedTo": "--to"})
			}
			if *asJSON {
				return printJSONLines(e.stdout, tasks)
			}
			t := newTable("ID", "SN", "NAME", "STATUS", "TOTAL", "CALLED", "CONNECTED", "CREATED (UTC+8)")
			for _, task := range tasks {
				t.row(strconv.FormatInt(task.ID, 10), task.SN, task.Name, orDash(task.Status.String()), strconv.Itoa(task.Total),
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

func tasksCreateCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "create --name NAME --template SN --seat SN --contacts FILE", Args: cobra.NoArgs,
		Short: "create a task from a CSV or Excel file of contacts (5.7.2, 5.7.1)",
		Long:  "Create a task, or add contacts to one (--append-to), from a file of contacts.\n" + contactsHelp}
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
	bindEnv(fs, "template", "DIGELAO_TEMPLATE_SN")
	bindEnv(fs, "seat", "DIGELAO_SEAT_SN")
	markRequired(fs, "name", "template", "seat", "contacts")
	_ = cmd.MarkFlagFilename("contacts", "csv", "xlsx")
	names := map[string]string{"Name": "--name", "ProjectSN": "--template", "SeatSN": "--seat",
		"projectSN": "--template", "upload": "--contacts"}
	cmd.RunE = action(func(ctx context.Context, _ []string) error {
		if err := req.Validate(); err != nil {
			return flagNames(err, names)
		}
		if strings.EqualFold(filepath.Ext(file), ".xlsx") || strings.EqualFold(filepath.Ext(file), ".xls") {
			return c.run(func(cl *digelao.Client) error { return createFromExcel(ctx, e, cl, &req, file, names) })
		}
		s, err := readSheet(file)
		if err != nil {
			return err
		}
		return c.run(func(cl *digelao.Client) error {
			if req.Columns, err = cl.Tasks.ImportColumns(ctx, req.ProjectSN); err != nil {
				return unknownTemplate(err, req.ProjectSN)
			}
			if req.Contacts, err = s.contacts(req.Columns); err != nil {
				return err
			}
			if err := req.Validate(); err != nil {
				return s.where(flagNames(err, names))
			}
			res, err := cl.Tasks.ImportInBatches(ctx, &req, 0)
			if res != nil && res.Task != nil {
				fmt.Fprintf(e.stdout, "task %d (%s): %d of %d contacts from %s (%s) sent for import in %d batch(es)\n",
					res.Task.ID, res.Task.SN, res.Sent, len(req.Contacts), file, s.encoding, res.Batches)
			}
			return s.where(flagNames(err, names))
		})
	})
	return cmd
}

// createFromExcel uploads a workbook as it is (5.7.1); the platform reads it.
func createFromExcel(ctx context.Context, e *env, cl *digelao.Client, req *digelao.CreateTaskRequest, file string,
	names map[string]string) error {
	f, err := os.Open(file)
	if err != nil {
		return &fileError{flag: "--contacts", err: err}
	}
	defer f.Close() //nolint:errcheck // read-only
	task, err := cl.Tasks.CreateFromExcel(ctx, &digelao.ExcelTaskRequest{Name: req.Name, ProjectSN: req.ProjectSN,
		SeatSN: req.SeatSN, AutoStart: req.AutoStart, AppendTo: req.AppendTo,
		File: digelao.File{Name: filepath.Base(file), Content: f}})
	if err != nil {
		return unknownTemplate(flagNames(err, names), req.ProjectSN)
	}
	fmt.Fprintf(e.stdout, "task %d (%s): %s uploaded; the platform imports it (\"tasks list\" shows the numbers)\n",
		task.ID, task.SN, file)
	return nil
}

// unknownTemplate explains the platform's 20002 for a template sn it does not know.
func unknownTemplate(err error, sn string) error {
	if errors.Is(err, digelao.ErrBadData) {
		return fmt.Errorf("%w (is %q a template sn of this account? \"digelao templates list\" shows them)", err, sn)
	}
	return err
}
