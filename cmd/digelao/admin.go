package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/digelao-go/digelao"
)

func blacklistListCmd() *command {
	return &command{summary: "list blocked numbers (8.1)", run: func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(e, "blacklist list", "[--page N] [--per-page N] [--json] [flags]")
		c := connFlags(fs, e)
		var opts digelao.ListOptions
		fs.IntVar(&opts.Page, "page", 0, "page number")
		fs.IntVar(&opts.PerPage, "per-page", 100, "entries per page")
		asJSON := fs.Bool("json", false, "print JSON lines")
		return withClient(fs, c, args, 0, func(cl *digelao.Client) error {
			list, total, err := cl.Blacklist.List(ctx, &opts)
			if err != nil {
				return err
			}
			if *asJSON {
				return printJSONLines(e.stdout, list)
			}
			tw := table(e.stdout, "ID", "PHONE", "NAME", "DAYS", "EXPIRES", "REMARK")
			for _, b := range list {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\n", b.ID, b.Phone, orDash(b.Name), b.Days, clock(b.ExpiresAt),
					orDash(b.Remark))
			}
			fmt.Fprintf(tw, "\t%d of %d entries\n", len(list), total)
			return tw.Flush()
		})
	}}
}

func blacklistAddCmd() *command {
	return &command{summary: "block a number (8.4)", run: func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(e, "blacklist add", "<phone> [--days N] [--name NAME] [--remark TEXT] [flags]")
		c := connFlags(fs, e)
		var entry digelao.BlacklistAddRequest
		fs.IntVar(&entry.Days, "days", 0, "days to block the number (0: for good)")
		fs.StringVar(&entry.Name, "name", "", "customer name")
		fs.StringVar(&entry.Remark, "remark", "", "why it is blocked")
		return withClient(fs, c, args, 1, func(cl *digelao.Client) error {
			entry.Phone = fs.Arg(0)
			res, err := cl.Blacklist.Add(ctx, &entry)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "added %d, failed %d\n", res.Added, res.Failed)
			return nil
		})
	}}
}

func blacklistRemoveCmd() *command {
	return &command{summary: "unblock entries by id (8.2)", run: func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(e, "blacklist remove", "<id>... [flags]")
		c := connFlags(fs, e)
		return withClient(fs, c, args, -1, func(cl *digelao.Client) error {
			ids, err := parseIDs(fs.Args())
			if err != nil {
				return err
			}
			res, err := cl.Blacklist.Remove(ctx, ids...)
			if res != nil {
				fmt.Fprintf(e.stdout, "removed %d, failed %d\n", res.Removed, res.Failed)
			}
			return err
		})
	}}
}

func blacklistImportCmd() *command {
	return &command{summary: "block the numbers of an Excel file (8.4)", run: func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(e, "blacklist import", "<file.xlsx> [--days N] [flags]")
		c := connFlags(fs, e)
		days := fs.Int("days", 0, "days to block the numbers (0: for good)")
		return withClient(fs, c, args, 1, func(cl *digelao.Client) error {
			f, err := os.Open(fs.Arg(0))
			if err != nil {
				return err
			}
			defer f.Close() //nolint:errcheck // read-only
			res, err := cl.Blacklist.Import(ctx, &digelao.BlacklistImportRequest{
				File: digelao.File{Name: filepath.Base(f.Name()), Content: f}, Days: *days})
			if res != nil {
				fmt.Fprintf(e.stdout, "added %d, failed %d\n", res.Added, res.Failed)
			}
			return err
		})
	}}
}

func blacklistDownloadCmd() *command {
	return &command{summary: "download the list as Excel (8.3)", run: func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(e, "blacklist download", "[id...] [-o FILE] [flags]")
		c := connFlags(fs, e)
		out := fs.String("o", "blacklist.xlsx", "output file")
		return withClient(fs, c, args, -1, func(cl *digelao.Client) error {
			ids, err := parseIDs(fs.Args())
			if err != nil {
				return err
			}
			n, err := downloadFile(*out, io.Discard, func(w io.Writer) (int64, error) {
				return cl.Blacklist.Download(ctx, w, ids...)
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s: %s\n", *out, size(n))
			return nil
		})
	}}
}

func accountsListCmd() *command {
	return &command{summary: "list sub-accounts (2.1.1)", run: func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(e, "accounts list", "[--name NAME] [--json] [flags]")
		c := connFlags(fs, e)
		var opts digelao.SubAccountListOptions
		fs.StringVar(&opts.Name, "name", "", "only sub-accounts with this user name")
		fs.IntVar(&opts.Page, "page", 0, "page number")
		fs.IntVar(&opts.PerPage, "per-page", 100, "sub-accounts per page")
		asJSON := fs.Bool("json", false, "print JSON lines")
		return withClient(fs, c, args, 0, func(cl *digelao.Client) error {
			list, total, err := cl.Accounts.List(ctx, &opts)
			if err != nil {
				return err
			}
			if *asJSON {
				return printJSONLines(e.stdout, list)
			}
			tw := table(e.stdout, "USER_SN", "USER_NAME", "CONTACT", "MAX_CALLS", "LAST_LOGIN")
			for _, a := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", a.UserSN, a.UserName, orDash(a.Contact), a.MaxCalls, clock(a.LastLoginAt))
			}
			fmt.Fprintf(tw, "\t%d of %d sub-accounts\n", len(list), total)
			return tw.Flush()
		})
	}}
}

func accountsRolesCmd() *command {
	return &command{summary: "list roles for new sub-accounts", run: func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(e, "accounts roles", "[flags]")
		c := connFlags(fs, e)
		return withClient(fs, c, args, 0, func(cl *digelao.Client) error {
			roles, err := cl.Accounts.Roles(ctx)
			if err != nil {
				return err
			}
			tw := table(e.stdout, "ID", "NAME")
			for _, r := range roles {
				fmt.Fprintf(tw, "%d\t%s\n", r.ID, r.Name)
			}
			return tw.Flush()
		})
	}}
}

func accountsDeleteCmd() *command {
	return &command{summary: "delete sub-accounts by user name (2.1.3)", run: func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(e, "accounts delete", "<user-name>... [flags]")
		c := connFlags(fs, e)
		return withClient(fs, c, args, -1, func(cl *digelao.Client) error {
			if fs.NArg() == 0 {
				return usagef("accounts delete: name at least one sub-account")
			}
			res, err := cl.Accounts.Delete(ctx, fs.Args()...)
			if res != nil {
				fmt.Fprintf(e.stdout, "deleted %d, refused %d, failed %d\n", res.Deleted, res.NotAllowed, res.Failed)
			}
			return err
		})
	}}
}

// parseIDs parses record ids given on the command line.
func parseIDs(args []string) ([]int64, error) {
	ids := make([]int64, len(args))
	for i, a := range args {
		id, err := strconv.ParseInt(a, 10, 64)
		if err != nil || id <= 0 {
			return nil, usagef("%q is not an id", a)
		}
		ids[i] = id
	}
	return ids, nil
}
