// Package commands is fcgicli's command line: each command's file turns
// its flags into options, hands them to an engine (a package below this
// one: fcgireq for a request, bench, proxy, shell, health...) and the
// result to formatters. The error a command ends with becomes its exit
// code through runenv.ExitCode, the one place that decides it.
//
// This file is the registry: the app, its settings, and the list of
// commands. Beside it, the few helpers every command shares: usage.go
// (usage errors in one line), color.go (--color and the palette), args.go
// (flags after arguments), shape.go (the request flags), flagnames.go
// (fast flag lookup). The only call back up into the registry is the
// shell's, which runs fcgicli's own commands.
package commands

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
	app, runArgs := appFor(&e, args)
	err := app.RunContext(ctx, runArgs)
	if code, ok := nagiosCode(env, args, err); ok {
		// -o nagios: the plugin line is written, its state is the code.
		return code
	}
	code, msg := runenv.ExitCode(err)
	if msg != "" {
		// The application's stderr may have ended mid-line: keep our
		// message on a line of its own.
		_ = errOut.EndLine()
		fmt.Fprintf(env.Stderr, "fcgicli: %s\n", msg)
		if hint := runenv.HintOf(err); hint != "" {
			formatters.WriteHint(env.Stderr, hint)
		}
	}
	if runenv.IsTerminal(env.Stderr) {
		// Nor does the shell's prompt follow the application's stderr.
		_ = errOut.EndLine()
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
		{"doctor", doctorCommand},
		{"serve", serveCommand},
		{"proxy", proxyCommand},
		{cgiFCGIName, cgiFCGICommand},
		{"install-cgi-fcgi", installCGIFCGICommand},
		{"version", versionCommand},
		{"man", manCommand},
		{"completion", completionCommand},
		{"shell", shellCommand},
		{"php", phpCommand},
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
		// Before any command: --version prints and stops, with exit 0.
		Before: func(c *cli.Context) error {
			if !c.Bool("version") {
				return nil
			}
			if err := writeVersion(env); err != nil {
				return err
			}
			return &runenv.CodeError{Code: runenv.ExitOK}
		},
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return runenv.Usagef("unknown command %q (see 'fcgicli --help')", c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
	}
	for _, cmd := range app.Commands {
		cmd.OnUsageError = onUsageError
		if !cmd.HideHelp && cmd.CustomHelpTemplate == "" {
			cmd.CustomHelpTemplate = commandHelpTemplate()
		}
	}
	fastNames(app)
	return app
}

// globalFlags are the flags given before the command.
func globalFlags() []cli.Flag { return []cli.Flag{colorFlag(), versionFlag()} }
