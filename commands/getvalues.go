package commands

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

func getValuesCommand(env *runenv.Env) *cli.Command {
	return &cli.Command{
		Name:      "get-values",
		Usage:     "ask the application for its limits (FCGI_GET_VALUES)",
		ArgsUsage: "[NAME...]",
		Description: `Sends FCGI_GET_VALUES (request id 0) asking for NAMEs, by default
FCGI_MAX_CONNS, FCGI_MAX_REQS and FCGI_MPXS_CONNS, and prints the
FCGI_GET_VALUES_RESULT: a table on a terminal, NAME=VALUE lines otherwise.
Names the application leaves out are not an error (php-fpm answers only
FCGI_MPXS_CONNS). A malformed pair exits 5 after printing the pairs
decoded before it.

With --type N it sends an empty management record of type N instead, to
probe FCGI_UNKNOWN_TYPE handling: exit 0 when the application answers
FCGI_UNKNOWN_TYPE naming N, 5 when it closes or answers anything else.

EXAMPLES:
   fcgicli get-values -c 127.0.0.1:9000
   fcgicli get-values -c /run/fcgiwrap.socket FCGI_MAX_CONNS -o json | jq .values
   fcgicli get-values -c 127.0.0.1:9000 --type 20`,
		Flags: append(networkFlags(30*time.Second),
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "`FORMAT`: table, text or json (default: table on a terminal, else text)"},
			&cli.UintFlag{Name: "type", Usage: "send a management record of type `N` (1-255) instead of GET_VALUES"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "trace the records on stderr"},
			colorFlag(),
		),
		Action: func(c *cli.Context) error {
			o, err := netOptionsFrom(c, env)
			if err != nil {
				return err
			}
			format := formatters.Text
			if runenv.IsTerminal(env.Stdout) {
				format = formatters.Table
			}
			if c.IsSet("output") {
				if format, err = formatters.ParseFormat(c.String("output"), formatters.Table, formatters.Text, formatters.JSON); err != nil {
					return &runenv.UsageError{Msg: err.Error()}
				}
			}
			outPal, err := palette(c, env, env.Stdout)
			if err != nil {
				return err
			}
			errPal, _ := palette(c, env, env.Stderr)
			var tr *formatters.Tracer
			if c.Bool("verbose") {
				tr = &formatters.Tracer{W: env.Stderr, P: errPal}
			}
			if c.IsSet("type") {
				if c.NArg() > 0 {
					return runenv.Usagef("--type sends an empty record: drop the names")
				}
				t := c.Uint("type")
				if t < 1 || t > 255 {
					return runenv.Usagef("--type must be from 1 to 255, got %d", t)
				}
				return runProbeType(c.Context, o, env, fcgiwire.RecordType(t), format, tr)
			}
			names := c.Args().Slice()
			if len(names) == 0 {
				names = []string{fcgiwire.MaxConns, fcgiwire.MaxReqs, fcgiwire.MpxsConns}
			}
			for _, n := range names {
				if n == "" {
					return runenv.Usagef("empty NAME")
				}
			}
			return runGetValues(c.Context, o, env, names, format, outPal, errPal, tr)
		},
	}
}

func runGetValues(ctx context.Context, o fcgireq.NetOptions, env *runenv.Env, names []string, format formatters.Format, pal, errPal *formatters.Palette, tr *formatters.Tracer) error {
	pairs, err := fcgireq.GetValues(ctx, o, tr, names)
	// A malformed pair cuts the answer short: the pairs before it are
	// still shown, then the fault (exit 5). Any other failure left no
	// answer to show.
	if err != nil && !errors.Is(err, fcgiwire.ErrBadPair) {
		return err
	}
	v := &formatters.ValuesResult{Asked: names, Returned: pairs}
	if err != nil {
		_, v.Err = runenv.ExitCode(err)
	}
	if werr := formatters.WriteValues(env.Stdout, v, format, pal); werr != nil && err == nil {
		return werr
	}
	for _, n := range v.Repeated() {
		fmt.Fprintf(env.Stderr, "fcgicli: %s the application returned %s more than once: only the first value counts\n",
			errPal.Info.Sprint("warning:"), formatters.Printable(n))
	}
	return err
}

func runProbeType(ctx context.Context, o fcgireq.NetOptions, env *runenv.Env, t fcgiwire.RecordType, format formatters.Format, tr *formatters.Tracer) error {
	rec, err := fcgireq.Management(ctx, o, tr, t)
	if err != nil {
		return err
	}
	if err := formatters.WriteProbe(env.Stdout, t, rec, format); err != nil {
		return err
	}
	return fcgireq.CheckUnknownType(t, rec)
}
