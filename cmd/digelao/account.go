package main

import (
	"context"
	"fmt"
	"time"

	"github.com/digelao-go/digelao"
)

func loginCmd() *command {
	return &command{summary: "log in and show the account (never the api_key)", run: func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(e, "login", "[flags]")
		c := connFlags(fs, e)
		return withClient(fs, c, args, 0, func(cl *digelao.Client) error {
			s, err := cl.Login(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "logged in as %s (%s), %d AI seats; api_key valid until %s\n",
				s.UserName, s.UserSN, s.AICount, s.ExpiresAt.Local().Format(time.DateTime))
			return nil
		})
	}}
}

func setCallbackCmd() *command {
	return &command{summary: "set where call records and import results are pushed (9.1)", run: func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(e, "set-callback", "--url URL [--task-url URL] [--off] [flags]")
		c := connFlags(fs, e)
		var cfg digelao.CallbackRequest
		off := fs.Bool("off", false, "switch the call-record push off")
		fs.StringVar(&cfg.CallbackURL, "url", "", "receiver of call records (6.6.1); required")
		fs.StringVar(&cfg.TaskCallbackURL, "task-url", "", "receiver of import results (5.7.15)")
		return withClient(fs, c, args, 0, func(cl *digelao.Client) error {
			cfg.Open = !*off
			if err := cl.SetCallback(ctx, &cfg); err != nil {
				return err
			}
			state := "on"
			if !cfg.Open {
				state = "off"
			}
			fmt.Fprintf(e.stdout, "call-record push %s\n", state)
			return nil
		})
	}}
}
