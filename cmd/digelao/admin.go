package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/digelao-go/digelao"
)

func blacklistListCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "list", Short: "list blocked numbers (8.1)", Args: cobra.NoArgs}
	c := addConn(cmd, e)
	var opts digelao.ListOptions
	cmd.Flags().IntVar(&opts.Page, "page", 0, "page number, from 0")
	cmd.Flags().IntVar(&opts.PerPage, "per-page", 100, "entries per page")
	asJSON := cmd.Flags().Bool("json", false, "print each entry as a line of JSON")
	cmd.RunE = action(func(ctx context.Context, _ []string) error {
		return c.run(func(cl *digelao.Client) error {
			list, total, err := cl.Blacklist.List(ctx, &opts)
			if err != nil {
				return badFlag(err, pageFlags)
			}
			if *asJSON {
				return printJSONLines(e.stdout, list)
			}
			t := newTable("ID", "PHONE", "NAME", "DAYS", "EXPIRES (UTC+8)", "REMARK")
			for _, b := range list {
				t.row(strconv.FormatInt(b.ID, 10), b.Phone, orDash(b.Name), strconv.Itoa(b.Days), clock(b.ExpiresAt), orDash(b.Remark))
			}
			t.print(e.stdout)
			fmt.Fprintf(e.stdout, "%d of %d entries\n", len(list), total)
			return nil
		})
	})
	return cmd
}

func blacklistAddCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "add <phone>", Short: "block a number (8.4)", Args: cobra.ExactArgs(1)}
	c := addConn(cmd, e)
	var entry digelao.BlacklistAddRequest
	cmd.Flags().IntVar(&entry.Days, "days", 0, "days to block the number (0: for good)")
	cmd.Flags().StringVar(&entry.Name, "name", "", "customer name")
	cmd.Flags().StringVar(&entry.Remark, "remark", "", "why it is blocked")
	cmd.RunE = action(func(ctx context.Context, args []string) error {
		entry.Phone = args[0]
		return c.run(func(cl *digelao.Client) error {
			res, err := cl.Blacklist.Add(ctx, &entry)
			if errors.Is(err, digelao.ErrAllRejected) {
				return notAdded(ctx, cl, entry.Phone)
			}
			if err != nil {
				return badFlag(err, map[string]string{"Phone": "<phone>", "Days": "--days"})
			}
			fmt.Fprintf(e.stdout, "added %d, failed %d\n", res.Added, res.Failed)
			return nil
		})
	})
	return cmd
}

// notAdded explains a number the platform did not add: its reply counts it as failed and gives no
// reason, so the list is read for the likeliest one, a number on it already.
func notAdded(ctx context.Context, cl *digelao.Client, phone string) error {
	digits, _ := chinesePhone(phone)
	for b, err := range cl.Blacklist.All(ctx, nil) {
		if err != nil {
			return fmt.Errorf("the platform did not add %s, and gave no reason (reading the list for one: %w)", phone, err)
		}
		if b.Phone == digits {
			until := "for good"
			if !b.ExpiresAt.IsZero() {
				until = "until " + clock(b.ExpiresAt) + " (UTC+8)"
			}
			return fmt.Errorf("%s is on the list already (id %d, blocked %s): the platform added nothing", phone, b.ID, until)
		}
	}
	return fmt.Errorf("the platform did not add %s, and gave no reason; it is not on the list", phone)
}

func blacklistRemoveCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "remove <id>...", Short: "unblock entries by id (8.2)", Args: cobra.MinimumNArgs(1)}
	c := addConn(cmd, e)
	cmd.RunE = action(func(ctx context.Context, args []string) error {
		list, err := ids(args)
		if err != nil {
			return err
		}
		return c.run(func(cl *digelao.Client) error {
			res, err := cl.Blacklist.Remove(ctx, list...)
			if res != nil {
				fmt.Fprintf(e.stdout, "removed %d, failed %d\n", res.Removed, res.Failed)
			}
			return err
		})
	})
	return cmd
}

func blacklistImportCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "import <file.xlsx>", Short: "block the numbers of an Excel file (8.4)", Args: cobra.ExactArgs(1)}
	c := addConn(cmd, e)
	days := cmd.Flags().Int("days", 0, "days to block the numbers (0: for good)")
	cmd.RunE = action(func(ctx context.Context, args []string) error {
		f, err := os.Open(args[0])
		if err != nil {
			return &fileError{flag: "<file.xlsx>", err: err}
		}
		defer f.Close() //nolint:errcheck // read-only
		return c.run(func(cl *digelao.Client) error {
			res, err := cl.Blacklist.Import(ctx, &digelao.BlacklistImportRequest{
				File: digelao.File{Name: filepath.Base(f.Name()), Content: f}, Days: *days})
			if res != nil {
				fmt.Fprintf(e.stdout, "added %d, failed %d\n", res.Added, res.Failed)
			}
			return badFlag(err, map[string]string{"upload": "<file.xlsx>", "Days": "--days"})
		})
	})
	return cmd
}

func blacklistDownloadCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "download [id...]", Short: "download the list, or some entries, as Excel (8.3)"}
	c := addConn(cmd, e)
	out := cmd.Flags().StringP("output", "o", "blacklist.xlsx", "output file")
	cmd.RunE = action(func(ctx context.Context, args []string) error {
		list, err := ids(args)
		if err != nil {
			return err
		}
		return c.run(func(cl *digelao.Client) error {
			n, err := downloadFile(*out, io.Discard, func(w io.Writer) (int64, error) {
				return cl.Blacklist.Download(ctx, list, w)
			})
			if err != nil {
				return failedDownload("the list", *out, err)
			}
			fmt.Fprintf(e.stdout, "%s: %s\n", *out, size(n))
			return nil
		})
	})
	return cmd
}

func accountsListCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "list", Short: "list sub-accounts, the AI seats (2.1.1)", Args: cobra.NoArgs,
		Long: `List the sub-accounts (2.1.1). Their USER_SN is what "tasks create --seat" takes.`}
	c := addConn(cmd, e)
	var opts digelao.SubAccountListOptions
	cmd.Flags().StringVar(&opts.Name, "name", "", "only sub-accounts with this user name")
	cmd.Flags().IntVar(&opts.Page, "page", 0, "page number, from 0")
	cmd.Flags().IntVar(&opts.PerPage, "per-page", 100, "sub-accounts per page")
	asJSON := cmd.Flags().Bool("json", false, "print each sub-account as a line of JSON")
	cmd.RunE = action(func(ctx context.Context, _ []string) error {
		return c.run(func(cl *digelao.Client) error {
			list, total, err := cl.Accounts.List(ctx, &opts)
			if err != nil {
				return badFlag(err, pageFlags)
			}
			if *asJSON {
				return printJSONLines(e.stdout, list)
			}
			t := newTable("USER_SN", "USER_NAME", "CONTACT", "MAX_CALLS", "LAST_LOGIN (UTC+8)")
			for _, a := range list {
				t.row(a.UserSN, a.UserName, orDash(a.Contact), strconv.Itoa(a.MaxCalls), clock(a.LastLoginAt))
			}
			t.print(e.stdout)
			fmt.Fprintf(e.stdout, "%d of %d sub-accounts (AI seats)\n", len(list), total)
			return nil
		})
	})
	return cmd
}

func accountsRolesCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "roles", Short: "list the roles a new sub-account can take", Args: cobra.NoArgs}
	c := addConn(cmd, e)
	asJSON := cmd.Flags().Bool("json", false, "print each role as a line of JSON")
	cmd.RunE = action(func(ctx context.Context, _ []string) error {
		return c.run(func(cl *digelao.Client) error {
			roles, err := cl.Accounts.Roles(ctx)
			if err != nil {
				return err
			}
			if *asJSON {
				return printJSONLines(e.stdout, roles)
			}
			t := newTable("ID", "NAME")
			for _, r := range roles {
				t.row(strconv.Itoa(r.ID), r.Name)
			}
			t.print(e.stdout)
			return nil
		})
	})
	return cmd
}

func accountsDeleteCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "delete <user-name>...", Short: "delete sub-accounts by user name (2.1.3)",
		Args: cobra.MinimumNArgs(1)}
	c := addConn(cmd, e)
	cmd.RunE = action(func(ctx context.Context, args []string) error {
		return c.run(func(cl *digelao.Client) error {
			res, err := cl.Accounts.Delete(ctx, args...)
			if res != nil {
				fmt.Fprintf(e.stdout, "deleted %d, refused %d, failed %d\n", res.Deleted, res.NotAllowed, res.Failed)
			}
			return badFlag(err, map[string]string{"userNames": "<user-name>"})
		})
	})
	return cmd
}
