package commands

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/fcgicli/fcgicli/commands/runenv"
)

// onUsageError turns the usage errors of urfave/cli and the flag package
// into fcgicli's: one line, with the dashes the user types and the help
// to read.
func onUsageError(c *cli.Context, err error, _ bool) error {
	help := "fcgicli --help"
	if c != nil && c.Command != nil && c.Command.Name != "" && (c.App == nil || c.Command.Name != c.App.Name) {
		help = "fcgicli " + c.Command.Name + " --help"
	}
	if msg, ok := repeatedMessage(c, err.Error()); ok {
		return &runenv.UsageError{Msg: msg}
	}
	msg := err.Error()
	if c != nil && c.Command != nil {
		msg = durationMessage(c.Command.Flags, msg)
	}
	return &runenv.UsageError{Msg: flagMessage(msg, help)}
}

// durationMessage rewords the flag package's "parse error" for a duration
// flag given a bare number ("-t 5"): durations need a unit.
func durationMessage(flags []cli.Flag, msg string) string {
	rest, ok := strings.CutSuffix(msg, ": parse error")
	if !ok {
		return msg
	}
	_, name, ok := strings.Cut(rest, " for flag -")
	if !ok {
		return msg
	}
	for _, f := range flags {
		switch f.(type) {
		case *durationFlag, *cli.DurationFlag:
		default:
			continue
		}
		for _, n := range f.Names() {
			if n != name {
				continue
			}
			value, _, _ := strings.Cut(strings.TrimPrefix(rest, `invalid value "`), `"`)
			if _, err := strconv.ParseFloat(value, 64); err == nil {
				return rest + ": durations need a unit, e.g. 5s"
			}
			return rest + ": not a duration (e.g. 500ms, 5s, 1m)"
		}
	}
	return msg
}

// repeatedMessage rewords a second address given to a command that talks
// to one server (-c twice, or -c and --connect), which the flag package
// and urfave/cli report in their own words.
func repeatedMessage(c *cli.Context, msg string) (string, bool) {
	repeated := strings.HasPrefix(msg, "invalid value ") && strings.HasSuffix(msg, ": "+errGivenTwice.Error()) ||
		msg == "Cannot use two forms of the same flag: c connect" || msg == "Cannot use two forms of the same flag: connect c"
	if !repeated {
		return "", false
	}
	name := "this command"
	if c != nil && c.Command != nil && c.Command.Name != "" {
		name = c.Command.Name
	}
	return fmt.Sprintf("-c/--connect given twice: %s talks to one server (ping and status take several)", name), true
}

// flagMessage rewords the flag package's errors, which name every flag
// with one dash ("flag provided but not defined: -bogus"), with the dashes
// the user types: -t, --timeout.
func flagMessage(msg, help string) string {
	dashed := func(name string) string {
		if len(name) == 1 {
			return "-" + name
		}
		return "--" + name
	}
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		return fmt.Sprintf("unknown flag %s (see '%s')", dashed(name), help)
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return fmt.Sprintf("flag %s needs a value", dashed(name))
	}
	// invalid value "x" for flag -t: ..., invalid boolean value "x" for -f: ...
	for _, sep := range []string{" for flag -", " for -"} {
		if before, after, ok := strings.Cut(msg, sep); ok && strings.HasPrefix(msg, "invalid ") {
			name, rest, _ := strings.Cut(after, ":")
			return before + " for flag " + dashed(name) + ":" + rest
		}
	}
	return msg
}
