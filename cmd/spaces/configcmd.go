package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func newConfigCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "config",
		Short: "Print every setting as a Markdown table (the README's configuration table)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			fmt.Fprintln(out, "| variable | flag | default | form | what it is |")
			fmt.Fprintln(out, "|---|---|---|---|---|")
			for _, s := range settings {
				def := s.def
				if s.required {
					def = "required"
				}
				fmt.Fprintf(out, "| `%s` | `--%s` | %s | %s | %s |\n", s.env, s.flag, code(def), s.form, strings.ReplaceAll(s.help, "|", "\\|"))
			}
			return nil
		},
	}
}

func code(s string) string {
	if s == "" || s == "required" {
		return s
	}
	return "`" + s + "`"
}
