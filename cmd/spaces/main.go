// Command spaces runs the free cloud spaces service: its web UI and API (serve), its schema
// (migrate), its operators' commands, and a development environment (dev).
package main

import (
	"errors"
	"fmt"
	"os"
)

func main() {
	err := newRootCommand().Execute()
	if err == nil {
		return
	}
	var cfgErr *ConfigError
	var usage *usageError
	switch {
	case errors.As(err, &cfgErr):
		fmt.Fprintln(os.Stderr, "spaces: "+cfgErr.Error())
		os.Exit(2)
	case errors.As(err, &usage):
		fmt.Fprintln(os.Stderr, "spaces: "+usage.Error())
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "spaces: "+err.Error())
		os.Exit(1)
	}
}
