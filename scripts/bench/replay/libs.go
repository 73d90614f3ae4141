//go:build libs

package main

// Built with -tags libs, replay also links the libraries fcgicli is built
// on (urfave/cli, color, tablewriter), so that their start-up cost
// (package init, a larger binary) shows apart from fcgicli's own in
// scripts/bench.sh.
import (
	_ "github.com/fatih/color"
	_ "github.com/olekukonko/tablewriter"
	_ "github.com/urfave/cli/v2"
)
