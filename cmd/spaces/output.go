package main

import (
	"strings"

	"github.com/spf13/cobra"
)

// outputFormats are the values of --output, the first being the default.
var outputFormats = []string{"table", "json"}

// output is a command's --output flag: "table" for people, "json" for programs (the API's JSON,
// indented).
type output struct{ format string }

// addOutputFlag gives cmd an --output flag checked before the command runs: a bad value is a
// usage error (exit 2) naming the allowed values.
func addOutputFlag(cmd *cobra.Command) *output {
	o := &output{}
	cmd.Flags().StringVarP(&o.format, "output", "o", outputFormats[0], "how to print the result: "+strings.Join(outputFormats, " or "))
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(outputFormats, cobra.ShellCompDirectiveNoFileComp))
	prev := cmd.PreRunE
	cmd.PreRunE = func(c *cobra.Command, args []string) error {
		if err := o.check(c); err != nil {
			return err
		}
		if prev != nil {
			return prev(c, args)
		}
		return nil
	}
	return o
}

func (o *output) check(cmd *cobra.Command) error {
	for _, f := range outputFormats {
		if o.format == f {
			return nil
		}
	}
	return usagef("%s: --output %q is not a format; use %s", cmd.CommandPath(), o.format, strings.Join(outputFormats, " or "))
}

// JSON tells whether the result is printed as JSON.
func (o *output) JSON() bool { return o.format == "json" }
