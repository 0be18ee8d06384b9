package main

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/redisstore"
)

// Flag annotations read by applyEnv.
const (
	envAnnotation      = "digelao_env"      // the environment variable a flag falls back to
	requiredAnnotation = "digelao_required" // the flag must be set, by flag or variable
	fromEnvAnnotation  = "digelao_from_env" // the flag was set from its variable
)

// bindEnv makes flag name fall back to the environment variable v, and says so in its help.
func bindEnv(fs *pflag.FlagSet, name, v string) {
	f := fs.Lookup(name)
	f.Usage += " [$" + v + "]"
	_ = fs.SetAnnotation(name, envAnnotation, []string{v})
}

// markRequired marks flags that must be set, by flag or by environment variable.
func markRequired(fs *pflag.FlagSet, names ...string) {
	for _, name := range names {
		fs.Lookup(name).Usage += " (required)"
		_ = fs.SetAnnotation(name, requiredAnnotation, []string{"true"})
	}
}

// applyEnv sets each flag that was not given from its environment variable, then checks that
// every required flag is set. A bad value names the variable it came from.
func applyEnv(cmd *cobra.Command, getenv func(string) string) error {
	var errs []error
	var missing []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if v := f.Annotations[envAnnotation]; !f.Changed && len(v) > 0 && getenv(v[0]) != "" {
			if err := cmd.Flags().Set(f.Name, getenv(v[0])); err != nil {
				errs = append(errs, usagef("%s=%q: %v", v[0], getenv(v[0]), err))
			}
			_ = cmd.Flags().SetAnnotation(f.Name, fromEnvAnnotation, []string{"true"})
		}
		if len(f.Annotations[requiredAnnotation]) > 0 && !f.Changed {
			name := "--" + f.Name
			if v := f.Annotations[envAnnotation]; len(v) > 0 {
				name += " (or " + v[0] + ")"
			}
			missing = append(missing, name)
		}
	})
	if len(missing) > 0 {
		errs = append(errs, usagef("missing %s", strings.Join(missing, ", ")))
	}
	return errors.Join(errs...)
}

// onCommandLine reports whether f was given on the command line, not taken from its variable.
func onCommandLine(f *pflag.Flag) bool {
	return f.Changed && len(f.Annotations[fromEnvAnnotation]) == 0
}

const connHelp = `

Connection: --base-url and one way to log in, each from its flag or environment variable:
  --username   with DIGELAO_PASSWORD        login 1.3 (user name and password)
  --access-id  with DIGELAO_ACCESS_SECRET   login 1.2 (api_access_id, server 6.6+)
  --user-sn    with DIGELAO_API_KEY         a fixed api_key, no login
The secrets are read only from the environment and never printed.

A login cancels the api_key of every other holder of the account. With --redis the command
shares the key of the services that keep it in that Redis (redisstore, same --redis-prefix);
without it, the command caches its own key in the user's cache directory until it expires, so
that it logs in once, not on every run ("digelao logout" removes it).`

// conn holds the connection flags of one command.
type conn struct {
	e                                   *env
	baseURL, username, accessID, userSN string
	redisURL, redisPrefix               string
	timeout                             time.Duration
	debug                               bool
	noLogin                             bool // the client only shares a key (shell completion)

	watch *loginWatch // sees whether the command logged in; nil for a fixed api_key
	close func()      // releases what client took (the Redis connection)
}

// addConn adds the connection flags to cmd.
func addConn(cmd *cobra.Command, e *env) *conn {
	c := &conn{e: e}
	fs := cmd.Flags()
	fs.StringVar(&c.baseURL, "base-url", "", "the account's console address, e.g. https://ai123.example.com")
	fs.StringVar(&c.username, "username", "", "account user name; the password comes from DIGELAO_PASSWORD")
	fs.StringVar(&c.accessID, "access-id", "", "api_access_id; the secret comes from DIGELAO_ACCESS_SECRET")
	fs.StringVar(&c.userSN, "user-sn", "", "user_sn of a fixed api_key, which comes from DIGELAO_API_KEY")
	fs.StringVar(&c.redisURL, "redis", "", "share the api_key of the services that keep it in this Redis, "+
		"redis://[user:password@]host:port[/db] (a password is better set in the variable)")
	fs.StringVar(&c.redisPrefix, "redis-prefix", redisstore.DefaultPrefix, "the services' redisstore.WithPrefix")
	fs.DurationVar(&c.timeout, "timeout", digelao.DefaultTimeout, "per-request timeout")
	fs.BoolVar(&c.debug, "debug", false, "log each request to stderr (never a secret)")
	for flag, v := range map[string]string{"base-url": "DIGELAO_BASE_URL", "username": "DIGELAO_USERNAME",
		"access-id": "DIGELAO_ACCESS_ID", "user-sn": "DIGELAO_USER_SN", "timeout": "DIGELAO_TIMEOUT",
		"redis": "DIGELAO_REDIS_URL", "redis-prefix": "DIGELAO_REDIS_PREFIX"} {
		bindEnv(fs, flag, v)
	}
	if cmd.Long == "" {
		cmd.Long = cmd.Short + "."
	}
	cmd.Long += connHelp
	return c
}

// client builds a client from the flags and the environment. A missing setting or secret is a
// wrong command line, named as the user sets it. A client that logs in keeps its key in Redis
// (--redis) or in the session cache; release what it took with c.close.
func (c *conn) client() (*digelao.Client, error) {
	c.close = func() {}
	if c.baseURL == "" {
		return nil, usagef("set --base-url or DIGELAO_BASE_URL (or run \"digelao mock\" for a local fake platform)")
	}
	secret := func(name string) (string, error) {
		v := c.e.getenv(name)
		if v == "" {
			return "", usagef("%s is not set", name)
		}
		return v, nil
	}
	var cred digelao.Option
	switch {
	case c.accessID != "":
		s, err := secret("DIGELAO_ACCESS_SECRET")
		if err != nil {
			return nil, usagef("%v: --access-id (DIGELAO_ACCESS_ID) logs in with it", err)
		}
		cred = digelao.WithAccessKey(c.accessID, s)
	case c.username != "":
		s, err := secret("DIGELAO_PASSWORD")
		if err != nil {
			return nil, usagef("%v: --username (DIGELAO_USERNAME) logs in with it", err)
		}
		cred = digelao.WithPassword(c.username, s)
	case c.userSN != "":
		s, err := secret("DIGELAO_API_KEY")
		if err != nil {
			return nil, usagef("%v: --user-sn (DIGELAO_USER_SN) calls with it", err)
		}
		cred = digelao.WithAPIKey(c.userSN, s)
	default:
		return nil, usagef("no credentials: set DIGELAO_USERNAME and DIGELAO_PASSWORD, " +
			"DIGELAO_ACCESS_ID and DIGELAO_ACCESS_SECRET, or DIGELAO_USER_SN and DIGELAO_API_KEY")
	}
	opts := []digelao.Option{cred, digelao.WithTimeout(c.timeout), digelao.WithUserAgent("digelao-cli/" + digelao.Version)}
	if c.debug {
		opts = append(opts, digelao.WithLogger(slog.New(slog.NewTextHandler(c.e.stderr,
			&slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: chinaLogTime}))))
	}
	if account, err := accountName(c.username, c.accessID); err == nil {
		store, err := c.store(account)
		if err != nil {
			return nil, err
		}
		opts = append(opts, digelao.WithTokenStore(store))
	}
	cl, err := digelao.New(canonicalURL(c.baseURL), opts...)
	if err != nil {
		c.close()
		return nil, badFlag(err, map[string]string{"baseURL": "--base-url (DIGELAO_BASE_URL)",
			"WithTimeout": "--timeout (DIGELAO_TIMEOUT)"})
	}
	return cl, nil
}

// store returns where a logging-in client keeps its session: the services' Redis, or the session
// cache (in memory when there is no usable cache directory). It warns before a login.
func (c *conn) store(account string) (digelao.TokenStore, error) {
	c.watch = &loginWatch{w: c.e.stderr}
	if c.redisURL != "" {
		store, closeRedis, err := redisStore(c.redisURL, c.redisPrefix)
		if err != nil {
			return nil, err
		}
		c.watch.TokenStore, c.close = store, closeRedis
		notice := redisLoginNotice(c.redisPrefix, canonicalURL(c.baseURL), account)
		c.watch.notice = func() string { return notice }
	} else if dir, err := sessionDir(c.e); err == nil {
		cache := &sessionCache{path: sessionFile(dir, c.baseURL, account), w: c.e.stderr}
		c.watch.TokenStore = cache
		c.watch.notice = func() string { return loginNotice(cache.memory() == nil) }
	} else {
		c.watch.TokenStore = digelao.NewMemoryStore()
		c.watch.notice = func() string { return loginNotice(false) }
	}
	if c.noLogin {
		return noLogin{c.watch}, nil
	}
	return c.watch, nil
}

// run builds the client and runs f with it.
func (c *conn) run(f func(*digelao.Client) error) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	defer c.close()
	defer cl.CloseIdleConnections()
	return f(cl)
}

// badFlag rewrites a *digelao.ValidationError whose Field is in names — the SDK's names for what
// the user gave as a flag, an argument or a variable — to name that instead: a bad value on the
// command line, exit code 2. A Field with an index ("userNames[0]") is one of several arguments:
// it is named with its place among them. Other errors pass as they are.
func badFlag(err error, names map[string]string) error {
	var invalid *digelao.ValidationError
	if !errors.As(err, &invalid) {
		return err
	}
	if name, ok := names[invalid.Field]; ok {
		return usagef("invalid %s: %s", name, invalid.Reason)
	}
	if m := indexedField.FindStringSubmatch(invalid.Field); m != nil {
		if name, ok := names[m[1]]; ok {
			i, _ := strconv.Atoi(m[2])
			return usagef("invalid %s (the %s): %s", name, ordinal(i+1), invalid.Reason)
		}
	}
	return err
}

// indexedField is an SDK field name with an index: "userNames[0]".
var indexedField = regexp.MustCompile(`^(\w+)\[(\d+)\]$`)

// ordinal writes n as "1st", "2nd", "3rd", "4th" …
func ordinal(n int) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return strconv.Itoa(n) + suffix
}

// pageFlags names the paging options as "--page" and "--per-page".
var pageFlags = map[string]string{"Page": "--page", "PerPage": "--per-page"}

// withPages returns names and pageFlags in one map.
func withPages(names map[string]string) map[string]string {
	out := map[string]string{}
	maps.Copy(out, pageFlags)
	maps.Copy(out, names)
	return out
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
	t, err := parseTime(s)
	v.t = t
	return err
}

func (v *timeValue) Type() string { return "time" }

func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.DateTime, time.DateOnly} {
		if t, err := time.ParseInLocation(layout, s, chinaTime); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("want YYYY-MM-DD or \"YYYY-MM-DD hh:mm:ss\" (China time), got %q", s)
}

// choice is a value from a fixed list — a flag's or an argument's — matched without regard to
// case. Each option has a name and the other names it also goes by.
type choice[T comparable] struct {
	what    string // e.g. "task state"
	options []option[T]
}

type option[T comparable] struct {
	names []string // the name help shows first, then its aliases
	value T
}

// parse returns the option s names: by one of its names, or as a table shows it, "name (alias)".
func (c choice[T]) parse(s string) (T, error) {
	s = strings.TrimSpace(s)
	for _, o := range c.options {
		for _, n := range o.names {
			if strings.EqualFold(s, n) {
				return o.value, nil
			}
		}
		if name, alias, ok := strings.Cut(strings.TrimSuffix(s, ")"), " ("); ok && strings.HasSuffix(s, ")") &&
			slices.ContainsFunc(o.names, func(n string) bool { return strings.EqualFold(name, n) }) &&
			slices.ContainsFunc(o.names, func(n string) bool { return strings.EqualFold(alias, n) }) {
			return o.value, nil
		}
	}
	var zero T
	return zero, fmt.Errorf("%q is not %s; want %s", s, c.what, c)
}

// option returns the option whose value is v.
func (c choice[T]) option(v T) (option[T], bool) {
	for _, o := range c.options {
		if o.value == v {
			return o, true
		}
	}
	return option[T]{}, false
}

// String lists the options: "a (alias, alias), b, …".
func (c choice[T]) String() string {
	list := make([]string, len(c.options))
	for i, o := range c.options {
		list[i] = o.names[0]
		if len(o.names) > 1 {
			list[i] += " (" + strings.Join(o.names[1:], ", ") + ")"
		}
	}
	return strings.Join(list, ", ")
}

// complete offers the options' names in shell completion.
func (c choice[T]) complete(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
	out := make([]cobra.Completion, len(c.options))
	for i, o := range c.options {
		out[i] = cobra.CompletionWithDesc(o.names[0], strings.Join(o.names[1:], ", "))
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
