// Command digelao calls the 狄阁老 AI call-center platform from a shell: log in, set the push
// address, list and steer tasks, read call records and dialogue, download recordings, receive
// pushes, and serve the fake platform for local work.
//
// Connection settings come from flags or DIGELAO_* environment variables; secrets are read but
// never printed. Run "digelao help" for the commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/digelao-go/digelao"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], &env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv})
	stop()
	os.Exit(code)
}

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the platform or the network failed
	exitUsage = 2 // the command line was wrong
	exitInput = 3 // a value was refused before anything was sent
)

// env is what a command sees of the process; tests replace it.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

// command is one subcommand, or a group of them.
type command struct {
	summary string
	run     func(ctx context.Context, e *env, args []string) error
	sub     map[string]*command
}

// commands returns the command tree.
func commands() map[string]*command {
	return map[string]*command{
		"login":        loginCmd(),
		"set-callback": setCallbackCmd(),
		"tasks": {summary: "list, create and steer call tasks", sub: map[string]*command{
			"list":    tasksListCmd(),
			"create":  tasksCreateCmd(),
			"operate": tasksOperateCmd(),
		}},
		"records": {summary: "call records", sub: map[string]*command{
			"list": recordsListCmd(),
		}},
		"dialogue": dialogueCmd(),
		"download": downloadCmd(),
		"listen":   listenCmd(),
		"mock":     mockCmd(),
		"blacklist": {summary: "the do-not-call list (8.x)", sub: map[string]*command{
			"list":     blacklistListCmd(),
			"add":      blacklistAddCmd(),
			"remove":   blacklistRemoveCmd(),
			"import":   blacklistImportCmd(),
			"download": blacklistDownloadCmd(),
		}},
		"accounts": {summary: "sub-accounts (AI seats) and roles (2.x)", sub: map[string]*command{
			"list":   accountsListCmd(),
			"roles":  accountsRolesCmd(),
			"delete": accountsDeleteCmd(),
		}},
	}
}

// usageError is a wrong command line: exit code 2 and a pointer to help.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{msg: fmt.Sprintf(format, args...)} }

func run(ctx context.Context, args []string, e *env) int {
	out := &stickyWriter{w: e.stdout}
	err := dispatch(ctx, &env{stdout: out, stderr: e.stderr, getenv: e.getenv}, commands(), []string{"digelao"}, args)
	if err == nil && out.err != nil {
		err = fmt.Errorf("writing output: %w", out.err)
	}
	var usage *usageError
	var invalid *digelao.ValidationError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &usage):
		fmt.Fprintf(e.stderr, "digelao: %s\nRun \"digelao help\" for usage.\n", usage.msg)
		return exitUsage
	case errors.As(err, &invalid):
		fmt.Fprintln(e.stderr, message(err))
		return exitInput
	default:
		fmt.Fprintln(e.stderr, message(err))
		return exitError
	}
}

// message is err's text with one "digelao: " prefix (the SDK's errors carry it already).
func message(err error) string {
	if s := err.Error(); strings.HasPrefix(s, "digelao: ") {
		return s
	}
	return "digelao: " + err.Error()
}

func dispatch(ctx context.Context, e *env, cmds map[string]*command, path, args []string) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 { // help <command>
			return dispatch(ctx, e, cmds, path, append(args[1:2], "--help"))
		}
		printHelp(e.stdout, cmds, path)
		if len(args) == 0 {
			return usagef("missing command")
		}
		return nil
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		return usagef("unknown command %q", strings.Join(append(path[1:], args[0]), " "))
	}
	path = append(path, args[0])
	if cmd.sub != nil {
		return dispatch(ctx, e, cmd.sub, path, args[1:])
	}
	return cmd.run(ctx, e, args[1:])
}

func printHelp(w io.Writer, cmds map[string]*command, path []string) {
	fmt.Fprintf(w, "Usage: %s <command> [flags]\n\nCommands:\n", strings.Join(path, " "))
	names := make([]string, 0, len(cmds))
	for name := range cmds {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-14s %s\n", name, cmds[name].summary)
	}
	if len(path) == 1 {
		fmt.Fprint(w, connHelp)
	}
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
