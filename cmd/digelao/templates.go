package main

import (
	"context"
	"fmt"

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
			fmt.Fprintf(e.stdout, "%d templates\n", len(list))
			return nil
		})
	})
	return cmd
}

func templatesColumnsCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "columns <template-sn>", Short: "show a template's import columns (5.11)",
		Args: cobra.ExactArgs(1),
		Long: `Show the columns a template's contacts carry (5.11): the header row of the CSV or Excel file
that "tasks create --contacts" reads. Required columns are marked.`}
	c := addConn(cmd, e)
	asJSON := cmd.Flags().Bool("json", false, "print each column as a line of JSON")
	cmd.RunE = action(func(ctx context.Context, args []string) error {
		return c.run(func(cl *digelao.Client) error {
			cols, err := cl.Tasks.ImportColumns(ctx, args[0])
			if err != nil {
				return unknownTemplate(flagNames(err, map[string]string{"projectSN": "<template-sn>"}), args[0])
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
