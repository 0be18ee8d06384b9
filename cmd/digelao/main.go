// Command digelao calls the 狄阁老 AI call-center platform from a shell: log in, find a script
// template and its columns, create tasks from a CSV or an Excel file, steer them, read call records
// and dialogue, download recordings, receive pushes, and serve the fake platform for local work.
//
// Settings come from flags or their DIGELAO_* environment variables; secrets only from the
// environment, and they are never printed. Run "digelao help" for the commands and the exit codes.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/digelao-go/digelao"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], &env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, pid: os.Getpid(),
		tty: isTerminal(os.Stderr), stdoutTTY: isTerminal(os.Stdout), cacheDir: os.UserCacheDir})
	stop()
	os.Exit(code)
}

// Exit codes: one table, printed by "digelao --help" and the README.
const (
	exitOK       = 0
	exitPlatform = 1 // the platform or the network failed
	exitUsage    = 2 // the command line was wrong
	exitInput    = 3 // an input file holds a value the platform would refuse; nothing was sent
	exitFile     = 4 // a file could not be read or written
	exitBusy     = 5 // another process holds the file (sync's output) or the database's sweep lease
)

const exitHelp = `Exit status:
  0  success
  1  the platform or the network failed (the platform's answer is printed as it came)
  2  the command line is wrong: an unknown command or flag, a bad flag or argument value, a
     missing required flag or environment variable
  3  an input file holds a value the platform would refuse (a contact's number, a required
     column), found before anything was sent
  4  a file, or sync's database, could not be read or written, or sync's checkpoint is lost
  5  another digelao sync is writing the same output, or sweeping the same database`

// env is what a command sees of the process; tests replace it.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	pid            int            // printed by mock, so that it can be stopped
	timeouts       serverTimeouts // of the servers listen starts; zero: the defaults
	tty            bool           // stderr is a terminal: long work shows its progress there
	stdoutTTY      bool           // stdout is a terminal
	// cacheDir is the user's cache directory (os.UserCacheDir), where the session cache lives;
	// nil: none, and every command logs in.
	cacheDir func() (string, error)
}

// isTerminal reports whether f is a terminal (a character device), not a pipe or a file.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// usageError is a wrong command line: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{msg: fmt.Sprintf(format, args...)} }

// inputError is input the platform would refuse, found by the command itself (a CSV without a
// phone column): exit code 3, like a *digelao.ValidationError.
type inputError struct{ msg string }

func (e *inputError) Error() string { return e.msg }

func inputf(format string, args ...any) error { return &inputError{msg: fmt.Sprintf(format, args...)} }

// busyError is a file another process holds (a second sync of one output): exit code 5.
type busyError struct{ msg string }

func (e *busyError) Error() string { return e.msg }

// fileError is a file that could not be read or written: exit code 4.
type fileError struct {
	flag string // the flag or argument that named it, e.g. "--contacts"
	err  error
}

func (e *fileError) Error() string { return e.flag + ": " + e.err.Error() }
func (e *fileError) Unwrap() error { return e.err }

// ranError is an error of a command's own work. Every other error cobra returns — an unknown
// command or flag, a wrong number of arguments, a bad value from the environment — was found before
// the command ran: a wrong command line.
type ranError struct{ err error }

func (e *ranError) Error() string { return e.err.Error() }
func (e *ranError) Unwrap() error { return e.err }

// action adapts a command's work to cobra, marking its errors as the command's own.
func action(f func(ctx context.Context, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := f(cmd.Context(), args); err != nil {
			return &ranError{err}
		}
		return nil
	}
}

// run runs the command line args and returns the exit code. Errors go to stderr once; stdout
// carries only the command's output, so that it can be piped.
func run(ctx context.Context, args []string, e *env) int {
	out := &stickyWriter{w: e.stdout}
	cp := *e
	cp.stdout = out
	e = &cp
	root := newRoot(e)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil && out.err != nil {
		err = &ranError{fmt.Errorf("writing output: %w", out.err)}
	}
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	fmt.Fprintln(e.stderr, message(err))
	if code == exitUsage && cmd != nil {
		fmt.Fprintf(e.stderr, "Run \"%s --help\" for usage.\n", cmd.CommandPath())
	}
	return code
}

// exitCode maps err to the exit code table.
func exitCode(err error) int {
	var (
		ran     *ranError
		usage   *usageError
		invalid *digelao.ValidationError
		input   *inputError
		file    *fileError
		busy    *busyError
	)
	switch {
	case !errors.As(err, &ran), errors.As(err, &usage):
		return exitUsage
	case errors.As(err, &invalid), errors.As(err, &input):
		return exitInput
	case errors.As(err, &file):
		return exitFile
	case errors.As(err, &busy):
		return exitBusy
	}
	return exitPlatform
}

// message is err's text with one "digelao: " prefix: the SDK's errors carry it already, also
// where the command's own words wrap them ("batch 2 of 3 …: digelao: POST …").
func message(err error) string {
	s := strings.ReplaceAll(err.Error(), ": digelao: ", ": ")
	if strings.HasPrefix(s, "digelao: ") {
		return s
	}
	return "digelao: " + s
}

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "digelao",
		Short: "Call the 狄阁老 AI call-center platform from a shell",
		Long: `digelao calls the 狄阁老 AI call-center platform: log in, find a script template and its
columns, create tasks from a CSV or an Excel file, steer them, read call records and dialogue,
download recordings, receive pushes, keep every call record in a database ("digelao sync"), and serve
a fake platform for local work ("digelao mock").

Every flag that has an environment variable names it in its help ([$DIGELAO_…]); the flag wins.
Secrets — DIGELAO_PASSWORD, DIGELAO_ACCESS_SECRET, DIGELAO_API_KEY, DIGELAO_PUSH_TOKEN — are read
only from the environment, to keep them out of shell history and process listings, and are never
printed. Times are China time (UTC+8), the platform's, whatever the host's zone.

` + exitHelp,
		Version:           version(),
		SilenceErrors:     true, // run prints the error, once
		SilenceUsage:      true, // and never the usage on stdout
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return applyEnv(cmd, e.getenv) },
	}
	root.SetFlagErrorFunc(flagError)
	root.SetHelpCommand(helpCmd())
	root.AddCommand(
		loginCmd(e), logoutCmd(e), setCallbackCmd(e),
		group("templates", "script templates: their sns and import columns (7.x, 5.11)",
			templatesListCmd(e), templatesColumnsCmd(e)),
		group("tasks", "list, create and steer call tasks (5.x)",
			tasksListCmd(e), tasksCreateCmd(e), tasksOperateCmd(e)),
		group("records", "call records (6.1)", recordsListCmd(e)),
		dialogueCmd(e), downloadCmd(e), listenCmd(e), syncCmd(e), mockCmd(e),
		group("blacklist", "the do-not-call list (8.x)",
			blacklistListCmd(e), blacklistAddCmd(e), blacklistRemoveCmd(e), blacklistImportCmd(e), blacklistDownloadCmd(e)),
		group("accounts", "sub-accounts (AI seats) and roles (2.x)",
			accountsListCmd(e), accountsRolesCmd(e), accountsDeleteCmd(e)),
		versionCmd(e),
	)
	root.SetVersionTemplate("digelao {{.Version}}\n")
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.InitDefaultCompletionCmd() // after SetOut: its scripts go where it is then
	for _, sub := range root.Commands() {
		if sub.Name() == "completion" { // cobra's: "completion ksh" would print its help and succeed
			sub.Args, sub.RunE = cobra.ArbitraryArgs, groupRun
		}
	}
	return root
}

// group is a command that only holds others: alone it prints its help; with an unknown
// subcommand it is a wrong command line.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	g := &cobra.Command{Use: use, Short: short, Args: cobra.ArbitraryArgs, SuggestionsMinimumDistance: 2, RunE: groupRun}
	g.AddCommand(subs...)
	return g
}

// groupRun runs a group: its help, or an unknown subcommand's error.
func groupRun(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return cmd.Help()
	}
	return unknownCommand(cmd, args[0])
}

func unknownCommand(cmd *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q for %q", name, cmd.CommandPath())
	if s := cmd.SuggestionsFor(name); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return usagef("%s", msg)
}

// helpCmd is "help [command]": the help of the command named, at any depth.
func helpCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		RunE: func(c *cobra.Command, args []string) error {
			cmd, rest, err := c.Root().Find(args)
			if err != nil || len(rest) > 0 {
				return usagef("unknown help topic %q", strings.Join(args, " "))
			}
			cmd.InitDefaultHelpFlag() // so that its help lists --help, as "cmd --help" does
			return cmd.Help()
		},
		ValidArgsFunction: func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			cmd, _, err := c.Root().Find(args)
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var out []cobra.Completion
			for _, sub := range cmd.Commands() {
				if sub.IsAvailableCommand() && strings.HasPrefix(sub.Name(), toComplete) {
					out = append(out, cobra.CompletionWithDesc(sub.Name(), sub.Short))
				}
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		},
	}
}

// secretFlags are flags people try for a secret, which the command reads only from the environment.
var secretFlags = map[string]string{
	"password": "DIGELAO_PASSWORD", "access-secret": "DIGELAO_ACCESS_SECRET",
	"api-key": "DIGELAO_API_KEY", "token": "DIGELAO_PUSH_TOKEN", "push-token": "DIGELAO_PUSH_TOKEN",
}

// flagError is a flag cobra could not parse; one that tries to pass a secret says where it goes.
func flagError(_ *cobra.Command, err error) error {
	for flag, env := range secretFlags {
		if strings.Contains(err.Error(), "--"+flag) {
			return usagef("%v: secrets are read only from the environment; set %s", err, env)
		}
	}
	return err
}

// stickyWriter remembers its first write error, so that commands print freely and run reports a
// failed output (a closed pipe, a full disk) once, as an error exit.
type stickyWriter struct {
	w   io.Writer
	err error
}

func (s *stickyWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.w.Write(p)
	s.err = err
	return n, err
}

// chinaTime is the platform's zone, in which the command reads and prints times.
var chinaTime = time.FixedZone("UTC+8", 8*60*60)

// clock formats t in China time, or "-" for the zero time; headers say "(UTC+8)".
func clock(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.In(chinaTime).Format(time.DateTime)
}

// version describes the build: the SDK's release, the module's version and commit, and the Go
// that built it, from the build information.
func version() string {
	v := digelao.Version
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	setting := map[string]string{}
	for _, s := range info.Settings {
		setting[s.Key] = s.Value
	}
	v += " (module " + info.Main.Path + " " + orDash(info.Main.Version)
	if rev := setting["vcs.revision"]; rev != "" {
		v += ", commit " + rev[:min(len(rev), 12)]
		if setting["vcs.modified"] == "true" {
			v += " with local changes"
		}
		if at := setting["vcs.time"]; at != "" {
			v += " of " + at
		}
	} else {
		v += ", commit unknown (built without version control information)"
	}
	return v + ", " + info.GoVersion + " " + runtime.GOOS + "/" + runtime.GOARCH + ")"
}

func versionCmd(e *env) *cobra.Command {
	return &cobra.Command{Use: "version", Short: "show the version, the commit and the Go that built the command", Args: cobra.NoArgs,
		RunE: action(func(context.Context, []string) error {
			fmt.Fprintln(e.stdout, "digelao "+version())
			return nil
		})}
}
