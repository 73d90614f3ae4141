package commands

import (
	"context"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fcgicli/fcgicli/commands/clidoc"
	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/commands/shell"
	"github.com/fcgicli/fcgicli/formatters"
)

func shellCommand(env *runenv.Env) *cli.Command {
	return &cli.Command{
		Name:  "shell",
		Usage: "an interactive session: send, change a param, send again, compare",
		Description: `Reads commands from a prompt with line editing, Tab completion and a
history kept in $XDG_STATE_HOME/fcgicli/history (~/.local/state/fcgicli/history).
The session keeps the address, default params and headers, the document root,
the output format and the verbose and dump modes, and sends every request on
one kept-alive connection (FCGI_KEEP_CONN), reconnecting when the server has
closed it. Every command it runs obeys the session's --timeout ('set timeout'
changes it) and --connect-timeout, unless the command gives its own; a
timeout aborts the request (FCGI_ABORT_REQUEST), is reported, and the shell
goes on.

The session's settings are the defaults of the flags of the commands it
runs. A flag given on a command's line (-c, -o, -i, -r, -t...) replaces the
session's setting for that line only, and 'ping -c ADDR' checks ADDR alone;
-p, -H and --unset-param add to the session's params, headers and unset
params (a -p or -H of a name the session sets replaces its value). 'connect'
and 'set' change the session.

Commands: request, get, post, get-values, raw-dump, ping, status, set, unset,
show, connect, last, diff, history, help, exit. 'help COMMAND' says more.
Errors never leave the shell; Ctrl-C aborts the request in flight
(FCGI_ABORT_REQUEST) and returns to the prompt; Ctrl-D exits. SIGTERM
aborts the request in flight, if any, and ends the session with status 130.

When stdin is not a terminal, the shell runs its lines without a prompt and
exits with the status of the last command that failed (0 when none did).

EXAMPLES:
   fcgicli shell -c 127.0.0.1:9000
   fcgicli shell -c /run/php/php8.2-fpm.sock < checks.txt`,
		Flags: flagList(shellNetworkFlags(), []cli.Flag{
			&cli.StringFlag{Name: "document-root", Aliases: []string{"r"}, Usage: "the session's document root `DIR` (see request -r)"},
			colorFlag(),
		}),
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return runenv.Usagef("shell takes no arguments (commands come from stdin)")
			}
			set := shell.Settings{
				Net:     fcgireq.NetOptions{Connect: c.String("connect"), ConnectTimeout: c.Duration("connect-timeout"), Timeout: c.Duration("timeout")},
				Color:   colorWhen(c),
				DocRoot: c.String("document-root"),
				Output:  "text",
			}
			if set.Net.Connect == "" {
				set.Net.Connect = env.Getenv("FCGI_CONNECT")
			}
			if set.Net.ConnectTimeout < 0 || set.Net.Timeout < 0 {
				return runenv.Usagef("timeouts cannot be negative")
			}
			if _, err := formatters.ParseColorMode(set.Color); err != nil {
				return runenv.Usagef("%v", err)
			}
			return shell.New(env, set, shellCLI(env)).Run(c.Context)
		},
	}
}

// shellNetworkFlags are networkFlags, with -t saying what it bounds in a
// shell: each command the session runs, not the session.
func shellNetworkFlags() []cli.Flag {
	flags := networkFlags(30 * time.Second)
	for _, f := range flags {
		if d, ok := f.(*cli.DurationFlag); ok && d.Name == "timeout" {
			d.Usage = "give up on each command the session runs after `DURATION` (0: never; 'set timeout' changes it)"
		}
	}
	return flags
}

// shellCLI is what the shell's engine needs of fcgicli's commands: to
// run one under the session's settings, to parse a request line, and a
// command's flags for Tab.
func shellCLI(env *runenv.Env) shell.CLI {
	return shell.CLI{
		Run: func(ctx context.Context, name string, args []string, set shell.Settings) error {
			app, args := sessionApp(env, name, args, set)
			return app.RunContext(ctx, args)
		},
		ParseRequest: func(ctx context.Context, args []string, fill map[string]string, set shell.Settings) (*shell.Request, error) {
			return parseShellRequest(ctx, env, args, fill, set)
		},
		FlagNames: shellFlagNames,
	}
}

// sessionApp returns the app that runs fcgicli's own command name with
// the user's flags, the session's settings being the defaults of that
// command's flags (sessionDefaults), and the arguments to run it with.
func sessionApp(env *runenv.Env, name string, user []string, set shell.Settings) (*cli.App, []string) {
	args := append([]string{"fcgicli", "--color", set.Color, name}, user...)
	app, args := appFor(env, args)
	for _, cmd := range app.Commands {
		sessionDefaults(cmd, set)
	}
	return app, args
}

// sessionDefaults makes the session's settings the defaults of cmd's
// flags, so that whatever the shell runs uses them rather than the
// command's own defaults: the address (-c), the timeout (-t, or set
// timeout) and connect timeout, and, for a command that shapes a request,
// the params, headers, unset params and document root; for request, the
// output format and include too, and the help of --keep-conn and
// --request-id says that the session keeps its connection and numbers
// the requests on it.
//
// Defaults rather than flags put on the line: urfave/cli refuses a line
// with two forms of one flag (-c and --connect), and ping's -c is
// repeatable, so a session's -c next to the user's would check both. A
// flag the user gives on the line replaces the session's value for that
// line, except -p, -H and --unset-param, which add to the session's (a -p
// or -H of a name the session sets replaces its value, as a later -p
// does). Nothing the user gives on a line changes the session.
func sessionDefaults(cmd *cli.Command, s shell.Settings) {
	for _, f := range cmd.Flags {
		switch f := unwrapFlag(f).(type) {
		case *cli.DurationFlag:
			switch f.Name {
			case "timeout":
				f.Value = s.Net.Timeout
			case "connect-timeout":
				f.Value = s.Net.ConnectTimeout
			}
		case *cli.StringFlag:
			switch {
			case f.Name == "connect":
				f.Value = s.Net.Connect
			case f.Name == "document-root":
				f.Value = s.DocRoot
			case f.Name == "output" && cmd.Name == "request":
				f.Value = s.Output
			}
		case *cli.BoolFlag:
			switch {
			case f.Name == "include" && cmd.Name == "request":
				f.Value = s.Include
			case f.Name == "keep-conn" && cmd.Name == "request":
				// The session sends every request with it.
				f.DefaultText = "always, in the shell"
			}
		case *cli.UintFlag:
			if f.Name == "request-id" && cmd.Name == "request" {
				// What parseShellRequest does when the line gives none.
				f.DefaultText = "the next on the kept connection: 1, 2, 3..."
			}
		case *cli.StringSliceFlag:
			switch f.Name {
			case "connect": // ping's and status's: the user's -c checks that pool instead
				if s.Net.Connect != "" {
					f.Value = cli.NewStringSlice(s.Net.Connect)
				}
			case "param":
				f.Value = addedTo(s.Params)
			case "unset-param":
				f.Value = addedTo(s.Unset)
			case "header":
				f.Value = addedTo(s.Headers)
			}
		}
	}
}

// addedTo returns a default for a slice flag that the values given on the
// line add to instead of replacing. urfave/cli empties a slice's default
// at the first value given, unless the slice was already set; Set of the
// slice's serialized form sets it (and, unlike Set of each value, never
// splits a value at its commas).
func addedTo(values []string) *cli.StringSlice {
	v := cli.NewStringSlice(values...)
	_ = v.Set(v.Serialize())
	return v
}

// unwrapFlag returns the flag that fastNames wrapped, for the types the
// shell sets defaults of; any other flag as it is.
func unwrapFlag(f cli.Flag) cli.Flag {
	switch f := f.(type) {
	case *durationFlag:
		return f.DurationFlag
	case *stringFlag:
		return f.StringFlag
	case *boolFlag:
		return f.BoolFlag
	case *stringSliceFlag:
		return f.StringSliceFlag
	case *uintFlag:
		return f.UintFlag
	}
	return f
}

// parseShellRequest parses a request line's flags the way the request
// command does, with the session's settings as their defaults. fill holds
// the values of flags that the line's command means (get's -X GET, post's
// -X POST and -d DATA), each set only when the line does not give that
// flag. A nil request and no error: --help was shown.
func parseShellRequest(ctx context.Context, env *runenv.Env, user []string, fill map[string]string, set shell.Settings) (*shell.Request, error) {
	var req *shell.Request
	app, args := sessionApp(env, "request", user, set)
	app.Commands[0].Action = func(c *cli.Context) error {
		for name, value := range fill {
			if !c.IsSet(name) {
				if err := c.Set(name, value); err != nil {
					return err
				}
			}
		}
		o, err := requestOptionsFrom(c, env)
		if err != nil {
			return err
		}
		if !c.IsSet("request-id") {
			// The kept connection numbers its requests, so that records
			// an application sends after a request's END_REQUEST are told
			// from the next request's, not taken for its answer.
			o.RequestID = 0
		}
		req = &shell.Request{Shape: o.Shape, Output: o.output, Include: o.include, Verbose: o.verbose, Fail: o.fail, FailWithBody: o.failWithBody}
		return nil
	}
	if err := app.RunContext(ctx, args); err != nil {
		return nil, err
	}
	return req, nil
}

// shellFlagNames lists the flags of fcgicli's command name as they are
// typed, for the shell's Tab; none when there is no such command.
func shellFlagNames(name string) []string {
	var names []string
	for _, c := range newAppWith(&runenv.Env{Getenv: func(string) string { return "" }}, name).Commands {
		if c.Name == name {
			names = append(names, clidoc.FlagSpellings(c.Flags)...)
		}
	}
	return names
}
