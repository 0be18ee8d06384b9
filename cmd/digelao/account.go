package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/digelao-go/digelao"
)

func loginCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "login", Short: "log in, or take the shared or cached key, and show the account (never the api_key)",
		Args: cobra.NoArgs,
		Long: `Show the account and when its api_key expires (never the key). The command takes the key the
services share through --redis, or the one it cached, and checks it with one read (7.1, a
template list of one); it logs in only when there is none, or the platform no longer takes it
(another login cancelled it). --new logs in even then, which cancels the key of every other
holder.`}
	c := addConn(cmd, e)
	fresh := cmd.Flags().Bool("new", false, "log in even when a shared or cached key is there")
	cmd.RunE = action(func(ctx context.Context, _ []string) error {
		return c.run(func(cl *digelao.Client) error {
			s, err := loginSession(ctx, cl, *fresh)
			if err != nil {
				return err
			}
			expiry := "does not expire (fixed api_key)"
			if !s.ExpiresAt.IsZero() {
				expiry = "valid until " + clock(s.ExpiresAt) + " China time (UTC+8)"
			}
			switch {
			case c.watch == nil:
				expiry += ", from DIGELAO_API_KEY"
			case c.watch.loggedIn.Load():
			case c.redisURL != "":
				expiry += "; the services' key, from Redis (--redis)"
			default:
				expiry += "; the cached key (login --new logs in again)"
			}
			who := s.UserSN
			if s.UserName != "" {
				who = s.UserName + " (" + s.UserSN + "), " + strconv.Itoa(s.AICount) + " AI calls at once (ai_count)"
			}
			if c.watch != nil && c.watch.loggedIn.Load() {
				who = "logged in as " + who
			}
			fmt.Fprintf(e.stdout, "%s; api_key %s\n", who, expiry)
			return nil
		})
	})
	return cmd
}

// loginSession returns the session of cl: a new login with fresh, else the key shared or cached,
// checked with one cheap read so that a key another login cancelled is not shown as valid (the
// client then logs in, as any command would).
func loginSession(ctx context.Context, cl *digelao.Client, fresh bool) (*digelao.Session, error) {
	if fresh {
		return cl.Login(ctx)
	}
	if _, err := cl.Session(ctx); err != nil {
		return nil, err
	}
	if _, _, err := cl.Templates.List(ctx, &digelao.TemplateListOptions{ListOptions: digelao.ListOptions{PerPage: 1}}); err != nil {
		return nil, err
	}
	return cl.Session(ctx)
}

func setCallbackCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "set-callback --url URL [--task-url URL] [--off]",
		Short: "set where call records and import results are pushed (9.1)", Args: cobra.NoArgs,
		Long: `Set where the platform pushes call records (6.6.1) and import results (5.7.15) (9.1).

The push token comes from DIGELAO_PUSH_TOKEN and is added to both URLs as ?token=: give
"digelao listen" (or your PushHandler) the same token, and it refuses pushes without it. Without
DIGELAO_PUSH_TOKEN the command refuses to run, since such a URL is one a receiver with a token
would reject; --no-token sets the URLs as they are, for a receiver that takes pushes without one.`}
	c := addConn(cmd, e)
	var cfg digelao.CallbackRequest
	fs := cmd.Flags()
	off := fs.Bool("off", false, "switch the call-record push off (the platform still wants --url)")
	noToken := fs.Bool("no-token", false, "set the URLs without a token, even when DIGELAO_PUSH_TOKEN is unset")
	fs.StringVar(&cfg.CallbackURL, "url", "", "receiver of call records (6.6.1)")
	fs.StringVar(&cfg.TaskCallbackURL, "task-url", "", "receiver of import results (5.7.15)")
	markRequired(fs, "url")
	cmd.RunE = action(func(ctx context.Context, _ []string) error {
		cfg.Open = !*off
		switch token := e.getenv("DIGELAO_PUSH_TOKEN"); {
		case token != "" && *noToken:
			return usagef("--no-token, yet DIGELAO_PUSH_TOKEN is set: unset one of them")
		case token != "":
			cfg.Token = digelao.NewSecret(token)
		case !*noToken:
			return usagef("DIGELAO_PUSH_TOKEN is not set, so the push URL would carry no token and a receiver " +
				"with one (digelao listen, a PushHandler with Token) would refuse every push: " +
				"export DIGELAO_PUSH_TOKEN=$(openssl rand -hex 24) here and where the receiver runs, " +
				"or pass --no-token for a receiver without a token")
		}
		return c.run(func(cl *digelao.Client) error {
			err := cl.SetCallback(ctx, &cfg)
			if err != nil {
				return badFlag(err, map[string]string{"CallbackURL": "--url", "TaskCallbackURL": "--task-url"})
			}
			state := "on"
			if !cfg.Open {
				state = "off"
			}
			with := "without a token"
			if !cfg.Token.IsZero() {
				with = "with ?token= from DIGELAO_PUSH_TOKEN"
			}
			fmt.Fprintf(e.stdout, "call-record push %s: %s (%s)\n", state, cfg.CallbackURL, with)
			if cfg.TaskCallbackURL != "" {
				fmt.Fprintf(e.stdout, "import results: %s (%s)\n", cfg.TaskCallbackURL, with)
			}
			return nil
		})
	})
	return cmd
}
