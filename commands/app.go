// Package commands wires fcgicli's subcommands: it parses flags, runs the
// protocol through fcgiwire, renders through formatters, and turns the
// error a command ends with into its exit code through runenv.ExitCode,
// the one place that decides it.
package commands

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fcgicli/fcgicli/commands/cgifcgi"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/formatters"
)

// Run runs the command line args (args[0] is the program name) and returns
// the exit code. main calls it with the process's streams.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return RunEnv(ctx, &runenv.Env{Stdin: stdin, Stdout: stdout, Stderr: stderr, Getenv: os.Getenv, Environ: os.Environ}, args)
}

// RunEnv is Run with an explicit environment.
func RunEnv(ctx context.Context, env *runenv.Env, args []string) int {
	errOut := &runenv.LineTracker{W: env.Stderr, AtStart: true}
	e := *env
	e.Stderr = errOut
	// Run as cgi-fcgi (a link made by install-cgi-fcgi), be cgi-fcgi.
	if len(args) > 0 && filepath.Base(args[0]) == cgiFCGIName {
		return cgifcgi.Run(ctx, &e, args[1:])
	}
	app, args := appFor(&e, args)
	err := app.RunContext(ctx, args)
	code, msg := runenv.ExitCode(err)
	if msg != "" {
		if !errOut.AtStart {
			// The application's stderr ended mid-line: keep our message
			// on a line of its own.
			fmt.Fprintln(env.Stderr)
		}
		fmt.Fprintf(env.Stderr, "fcgicli: %s\n", msg)
	}
	return code
}

func newApp(env *runenv.Env) *cli.App {
	return newAppWith(env, "")
}

// commandList is every subcommand, in the order help lists them, with the
// function that builds it. Building one costs little, building them all
// (several hundred flags) costs about a tenth of a one-shot request, so a
// run builds only the command it runs (appFor).
func commandList() []commandEntry {
	return []commandEntry{
		{"request", requestCommand},
		{"bench", benchCommand},
		{"get-values", getValuesCommand},
		{"conformance", conformanceCommand},
		{"raw-dump", rawDumpCommand},
		{"ping", pingCommand},
		{"status", statusCommand},
		{"serve", serveCommand},
		{"proxy", proxyCommand},
		{cgiFCGIName, cgiFCGICommand},
		{"install-cgi-fcgi", installCGIFCGICommand},
		{"version", versionCommand},
		{"man", manCommand},
		{"completion", completionCommand},
		{"shell", shellCommand},
	}
}

type commandEntry struct {
	name  string
	build func(*runenv.Env) *cli.Command
}

// appFor returns the app to run args with, and args reordered for it
// (reorderArgs). When args name one of commandList, that command is the
// app's only one; otherwise (no command, help, a typo) the app has them all.
func appFor(env *runenv.Env, args []string) (*cli.App, []string) {
	only := ""
	i := commandIndex(globalFlags(), args)
	if i < len(args) {
		only = args[i]
	}
	app := newAppWith(env, only)
	return app, reorderArgsAt(app, args, i)
}

// newAppWith builds the app with only the command called only, or with
// every command when only is "" or no command's name.
func newAppWith(env *runenv.Env, only string) *cli.App {
	list := commandList()
	var cmds []*cli.Command
	for _, c := range list {
		if c.name == only {
			cmds = []*cli.Command{c.build(env)}
			break
		}
	}
	if cmds == nil {
		for _, c := range list {
			cmds = append(cmds, c.build(env))
		}
	}
	app := &cli.App{
		Name:  "fcgicli",
		Usage: "talk FastCGI to php-fpm and any other FastCGI application",
		Description: `fcgicli sends FastCGI requests straight to an application server
(php-fpm, fcgiwrap, Go's net/http/fcgi, any libfcgi program) over TCP or a
unix socket, and shows the response, the application's stderr and, with -v,
every record on the wire. It is to FastCGI what curl is to HTTP.

EXAMPLES:
   fcgicli request -c 127.0.0.1:9000 /var/www/html/index.php
   fcgicli request -c /run/php/php8.2-fpm.sock -r /var/www/html /index.php?a=1 -i
   fcgicli request -c builtin /hello -d 'a=1' -o json
   fcgicli serve --listen 127.0.0.1:9000`,
		Reader:                    env.Stdin,
		Writer:                    env.Stdout,
		ErrWriter:                 env.Stderr,
		DisableSliceFlagSeparator: true,
		UseShortOptionHandling:    true,
		HideVersion:               true,
		// Any time: urfave/cli stats its own binary for one otherwise,
		// and shows it nowhere.
		Compiled:       time.Unix(0, 0),
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError:   onUsageError,
		Flags:          globalFlags(),
		Commands:       cmds,
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return runenv.Usagef("unknown command %q (see 'fcgicli --help')", c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
	}
	for _, cmd := range app.Commands {
		cmd.OnUsageError = onUsageError
	}
	fastNames(app)
	return app
}

// globalFlags are the flags given before the command.
func globalFlags() []cli.Flag { return []cli.Flag{colorFlag()} }

// colorFlag is --color, accepted before the command and after it.
func colorFlag() cli.Flag {
	return &cli.StringFlag{Name: "color", Value: "auto", Usage: "colour: `WHEN` auto, always or never (NO_COLOR turns auto off)"}
}

func onUsageError(c *cli.Context, err error, _ bool) error {
	help := "fcgicli --help"
	if c != nil && c.Command != nil && c.Command.Name != "" && (c.App == nil || c.Command.Name != c.App.Name) {
		help = "fcgicli " + c.Command.Name + " --help"
	}
	if msg, ok := repeatedMessage(c, err.Error()); ok {
		return &runenv.UsageError{Msg: msg}
	}
	return &runenv.UsageError{Msg: flagMessage(err.Error(), help)}
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

// palette returns the colour palette for w under the global --color flag.
func palette(c *cli.Context, env *runenv.Env, w io.Writer) (*formatters.Palette, error) {
	return runenv.Palette(colorWhen(c), env, w)
}

// colorWhen is --color's value, given after the command or before it:
// auto when neither gives it.
func colorWhen(c *cli.Context) string {
	for _, cc := range c.Lineage() {
		if cc.IsSet("color") {
			return cc.String("color")
		}
	}
	return "auto"
}

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
