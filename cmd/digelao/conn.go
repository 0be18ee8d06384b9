package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/digelao-go/digelao"
)

const connHelp = `
Connection flags (every command that calls the platform), or their environment variables:
  --base-url       DIGELAO_BASE_URL       the account's console address
  --username       DIGELAO_USERNAME       with DIGELAO_PASSWORD: login 1.3
  --access-id      DIGELAO_ACCESS_ID      with DIGELAO_ACCESS_SECRET: login 1.2
  --user-sn        DIGELAO_USER_SN        with DIGELAO_API_KEY: a fixed api_key, no login
  --timeout        DIGELAO_TIMEOUT        per request (default 30s)
  --debug                                 log requests to stderr (never secrets)
Secrets (DIGELAO_PASSWORD, DIGELAO_ACCESS_SECRET, DIGELAO_API_KEY) are read only from the
environment, so that they stay out of shell history and process listings.
`

// conn holds the connection flags of one command.
type conn struct {
	e                         *env
	baseURL, username, access string
	userSN                    string
	timeout                   time.Duration
	debug                     bool
}

// newFlags returns a command's flag set; --help prints its usage to stdout.
func newFlags(e *env, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stdout, "Usage: digelao %s %s\n\nFlags:\n", name, usage)
		fs.SetOutput(e.stdout)
		fs.PrintDefaults()
		fs.SetOutput(e.stderr)
	}
	return fs
}

// connFlags adds the connection flags to fs, with defaults from the environment.
func connFlags(fs *flag.FlagSet, e *env) *conn {
	c := &conn{e: e}
	fs.StringVar(&c.baseURL, "base-url", e.getenv("DIGELAO_BASE_URL"), "platform console address")
	fs.StringVar(&c.username, "username", e.getenv("DIGELAO_USERNAME"), "account user name (password from DIGELAO_PASSWORD)")
	fs.StringVar(&c.access, "access-id", e.getenv("DIGELAO_ACCESS_ID"), "api_access_id (secret from DIGELAO_ACCESS_SECRET)")
	fs.StringVar(&c.userSN, "user-sn", e.getenv("DIGELAO_USER_SN"), "user_sn for a fixed api_key (key from DIGELAO_API_KEY)")
	timeout := digelao.DefaultTimeout
	if v := e.getenv("DIGELAO_TIMEOUT"); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			timeout = d
		}
	}
	fs.DurationVar(&c.timeout, "timeout", timeout, "per-request timeout")
	fs.BoolVar(&c.debug, "debug", false, "log each request to stderr")
	return c
}

// parse parses args into fs, flags before or after the positional arguments, and checks that
// exactly want positional arguments remain (want < 0: any number); fs.Args holds them.
func parse(fs *flag.FlagSet, args []string, want int) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return usagef("%s: %v", fs.Name(), err)
		}
		if args = fs.Args(); len(args) == 0 {
			break
		}
		pos, args = append(pos, args[0]), args[1:]
	}
	_ = fs.Parse(append([]string{"--"}, pos...)) // only sets fs.Args
	if want >= 0 && fs.NArg() != want {
		return usagef("%s: want %d argument(s), got %d", fs.Name(), want, fs.NArg())
	}
	return nil
}

// client builds a client from the flags and the environment.
func (c *conn) client() (*digelao.Client, error) {
	if c.baseURL == "" {
		return nil, usagef("set --base-url or DIGELAO_BASE_URL (or run \"digelao mock\" for a local fake)")
	}
	var cred digelao.Option
	switch {
	case c.access != "":
		cred = digelao.WithAccessKey(c.access, c.e.getenv("DIGELAO_ACCESS_SECRET"))
	case c.username != "":
		cred = digelao.WithPassword(c.username, c.e.getenv("DIGELAO_PASSWORD"))
	case c.userSN != "":
		cred = digelao.WithAPIKey(c.userSN, c.e.getenv("DIGELAO_API_KEY"))
	default:
		return nil, usagef("no credentials: set DIGELAO_USERNAME and DIGELAO_PASSWORD, " +
			"DIGELAO_ACCESS_ID and DIGELAO_ACCESS_SECRET, or DIGELAO_USER_SN and DIGELAO_API_KEY")
	}
	opts := []digelao.Option{cred, digelao.WithTimeout(c.timeout), digelao.WithUserAgent("digelao-cli/" + digelao.Version)}
	if c.debug {
		opts = append(opts, digelao.WithLogger(slog.New(slog.NewTextHandler(c.e.stderr,
			&slog.HandlerOptions{Level: slog.LevelDebug}))))
	}
	return digelao.New(c.baseURL, opts...)
}

// withClient parses args, builds the client and runs f with it.
func withClient(fs *flag.FlagSet, c *conn, args []string, want int,
	f func(*digelao.Client) error) error {
	if err := parse(fs, args, want); err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	defer cl.CloseIdleConnections()
	return f(cl)
}
