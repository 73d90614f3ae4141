package commands

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// reorderArgs moves a subcommand's flags before its positional arguments,
// so that "fcgicli request /index.php -p A=B" works as curl users expect.
// Everything after "--" stays positional.
func reorderArgs(app *cli.App, args []string) []string {
	return reorderArgsAt(app, args, commandIndex(app.Flags, args))
}

// reorderArgsAt is reorderArgs with the subcommand at args[i], as
// commandIndex found it.
func reorderArgsAt(app *cli.App, args []string, i int) []string {
	if i >= len(args) {
		return args
	}
	var cmd *cli.Command
	for _, c := range app.Commands {
		if c.HasName(args[i]) {
			cmd = c
		}
	}
	if cmd == nil || cmd.SkipFlagParsing {
		return args
	}
	var flags, positional []string
	rest := args[i+1:]
	for j := 0; j < len(rest); j++ {
		a := rest[j]
		if a == "--" {
			positional = append(positional, rest[j:]...)
			break
		}
		if len(a) > 1 && strings.HasPrefix(a, "-") {
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if !strings.Contains(name, "=") && flagTakesValue(cmd.Flags, name) && j+1 < len(rest) {
				flags = append(flags, rest[j+1])
				j++
			}
			continue
		}
		positional = append(positional, a)
	}
	out := append([]string{}, args[:i+1]...)
	out = append(out, flags...)
	return append(out, positional...)
}

// commandIndex returns the index in args of the subcommand: the first
// argument after args[0] that is not a global flag (one of flags) or its
// value; len(args) when there is none.
func commandIndex(flags []cli.Flag, args []string) int {
	i := 1
	for i < len(args) && strings.HasPrefix(args[i], "-") && args[i] != "--" {
		name := strings.TrimLeft(args[i], "-")
		if !strings.Contains(name, "=") && flagTakesValue(flags, name) {
			i++
		}
		i++
	}
	return min(i, len(args))
}

// flagTakesValue reports whether the flag called name takes a value. A
// run of short options ("-iv") takes one when its last letter does.
func flagTakesValue(flags []cli.Flag, name string) bool {
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				if v, ok := f.(cli.DocGenerationFlag); ok {
					return v.TakesValue()
				}
				return false
			}
		}
	}
	if len(name) > 1 {
		return flagTakesValue(flags, name[len(name)-1:])
	}
	return false
}
