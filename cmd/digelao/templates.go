package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/digelao-go/digelao"
)

func templatesListCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "list", Short: "list the account's script templates and their sns (7.8)", Args: cobra.NoArgs,
		Long: `List every script template of the account (7.8, one unpaged list): the SN column is what
"tasks create --template" and "templates columns" take.`}
	c := addConn(cmd, e)
	asJSON := cmd.Flags().Bool("json", false, "print each template as a line of JSON")
	cmd.RunE = action(func(ctx context.Context, _ []string) error {
		return c.run(func(cl *digelao.Client) error {
			list, err := cl.Templates.Names(ctx)
			if err != nil {
				return err
			}
			if *asJSON {
				return printJSONLines(e.stdout, list)
			}
			t := newTable("SN", "NAME", "PROJECT")
			for _, tpl := range list {
				t.row(tpl.SN, tpl.Name, orDash(tpl.ProjectName))
			}
			t.print(e.stdout)
			fmt.Fprintln(e.stdout, count(len(list), "template"))
			return nil
		})
	})
	return cmd
}

func templatesColumnsCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "columns <template-sn>", Short: "show a template's import columns (5.11)",
		Args: cobra.ExactArgs(1),
		Long: `Show the columns a template's contacts carry (5.11): the header row of the CSV or Excel file
that "tasks create --contacts" reads. Required columns are marked. In a shell with completion,
<TAB> offers the template sns, when a shared or cached key is there (completion never logs in).`}
	c := addConn(cmd, e)
	cmd.ValidArgsFunction = func(cmd *cobra.Command, args []string, s string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return c.completeTemplates(cmd, args, s)
	}
	asJSON := cmd.Flags().Bool("json", false, "print each column as a line of JSON: its header as 5.11 lists it, \"*\" marking a required one")
	cmd.RunE = action(func(ctx context.Context, args []string) error {
		return c.run(func(cl *digelao.Client) error {
			cols, err := cl.Tasks.ImportColumns(ctx, args[0])
			if err != nil {
				return unknownTemplate(badFlag(err, map[string]string{"projectSN": "<template-sn>"}), args[0])
			}
			if *asJSON {
				return printJSONLines(e.stdout, cols)
			}
			t := newTable("COLUMN", "REQUIRED")
			for _, col := range cols {
				req := "-"
				if col.Required {
					req = "yes"
				}
				t.row(col.Name, req)
			}
			t.print(e.stdout)
			return nil
		})
	})
	return cmd
}

// completeTemplates offers the account's template sns in shell completion, each described by its
// name. It takes the key the command shares (--redis) or cached, and never logs in: a login on
// <TAB> would cancel the key of every other holder. Without a key it offers nothing.
func (c *conn) completeTemplates(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	none := cobra.ShellCompDirectiveNoFileComp
	_ = applyEnv(cmd, c.e.getenv) // completion runs no pre-run hook; a missing required flag does not matter here
	c.noLogin = true
	cl, err := c.client()
	if err != nil {
		cobra.CompDebugln("digelao: "+err.Error(), false)
		return nil, none
	}
	defer c.close()
	defer cl.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Second)
	defer cancel()
	list, err := cl.Templates.Names(ctx)
	if err != nil {
		cobra.CompDebugln("digelao: "+err.Error(), false)
		return nil, none
	}
	var out []cobra.Completion
	for _, t := range list {
		if strings.HasPrefix(t.SN, toComplete) {
			out = append(out, cobra.CompletionWithDesc(t.SN, t.Name))
		}
	}
	return out, none
}
