package commands

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fcgicli/fcgicli/commands/conformance"
	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/formatters"
)

func conformanceCommand(env *runenv.Env) *cli.Command {
	return &cli.Command{
		Name:  "conformance",
		Usage: "check a FastCGI server against the FastCGI 1.0 specification",
		Description: `Runs a numbered list of cases against the server, each on a connection of
its own and each citing the section of the FastCGI 1.0 specification it
checks, and prints one line per case: id, section, title and PASS, FAIL or
WARN (behaviour the specification leaves open, or a documented server
choice). A failure says what was sent and what came back; -v adds the
raw-dump of both directions of every case that did not pass.

Every case is bounded by --case-timeout: a server that does not answer is a
FAIL "no answer within 2s", never a hang.

Responder cases run --script: the params carry SCRIPT_FILENAME=PATH,
SCRIPT_NAME, REQUEST_METHOD (GET, or POST with a body) and the usual CGI
variables. php-fpm needs an existing PHP file; fcgiwrap an executable CGI
program; the builtin echo responder runs anything.

Exit 0 when no case failed (warnings are fine), 1 when one did, 3 when the
server cannot be reached at all.

EXAMPLES:
   fcgicli conformance -c builtin
   fcgicli conformance -c 127.0.0.1:9000 --script /var/www/html/index.php
   fcgicli conformance -c /run/fcgiwrap.socket --script /usr/lib/cgi-bin/hello.sh
   fcgicli conformance -c 127.0.0.1:9000 --script /srv/index.php --only 14,16 -v
   fcgicli conformance -c 127.0.0.1:9000 --script /srv/index.php -o json |
       jq '.cases[] | select(.result == "FAIL")'
   fcgicli conformance -c 127.0.0.1:9000 --script /srv/index.php -o table`,
		Flags: flagList(networkFlags(0), []cli.Flag{
			&cli.StringFlag{Name: "script", Usage: "the `PATH` the server runs for responder cases (SCRIPT_FILENAME; default " + defaultConformanceScript + ")"},
			&cli.StringFlag{Name: "only", Usage: "run only the cases `IDS` (comma-separated ids and ranges: 1,5-8)"},
			&cli.StringFlag{Name: "skip", Usage: "skip the cases `IDS` (comma-separated ids and ranges)"},
			&cli.DurationFlag{Name: "case-timeout", Value: 2 * time.Second, Usage: "give up on a case after `DURATION`"},
			&cli.BoolFlag{Name: "list", Usage: "list the cases without running them"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "show the raw-dump of every case that did not pass"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "`FORMAT`: text, json (the whole scorecard) or table (a summary by section)"},
			colorFlag(),
		}),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return runenv.Usagef("conformance takes no arguments, got %q (the script is --script)", c.Args().First())
			}
			format, err := formatters.ParseFormat(c.String("output"), formatters.Text, formatters.JSON, formatters.Table)
			if err != nil {
				return &runenv.UsageError{Msg: err.Error()}
			}
			// A flag the output would ignore is refused, as raw-dump does.
			switch {
			case c.Bool("list") && c.IsSet("output"):
				return runenv.Usagef("--list lists the cases as text: it takes no -o")
			case c.Bool("verbose") && format == formatters.Table:
				return runenv.Usagef("-v/--verbose does not go with -o table, a summary by section without the cases' dumps")
			}
			opts := conformanceOptions{
				engine: conformance.Options{
					Script:      c.String("script"),
					CaseTimeout: c.Duration("case-timeout"),
					Verbose:     c.Bool("verbose"),
				},
				format: format,
			}
			if opts.engine.CaseTimeout <= 0 {
				return runenv.Usagef("--case-timeout must be positive")
			}
			if opts.engine.Script == "" {
				opts.engine.Script = defaultConformanceScript
			} else if !filepath.IsAbs(opts.engine.Script) {
				abs, err := filepath.Abs(opts.engine.Script)
				if err != nil {
					return runenv.Usagef("--script: %v", err)
				}
				opts.engine.Script = abs
			}
			cases := conformance.Cases()
			if opts.engine.IDs, err = conformance.Select(cases, c.String("only"), c.String("skip")); err != nil {
				return err
			}
			if opts.engine.Palette, err = palette(c, env, env.Stdout); err != nil {
				return err
			}
			if c.Bool("list") {
				for _, cs := range cases {
					if opts.engine.IDs[cs.ID] {
						fmt.Fprintf(env.Stdout, "%3d  %-4s %s\n", cs.ID, cs.Section, cs.Title)
					}
				}
				return nil
			}
			if opts.net, err = netOptionsFrom(c, env); err != nil {
				return err
			}
			return runConformance(c.Context, env, opts)
		},
	}
}

// defaultConformanceScript is SCRIPT_FILENAME when --script is not given:
// the builtin echo responder answers any; a real server needs --script.
const defaultConformanceScript = "/fcgicli-conformance"

type conformanceOptions struct {
	net    fcgireq.NetOptions
	format formatters.Format
	engine conformance.Options
}

// runConformance checks that the server can be reached, runs the selected
// cases and renders the scorecard: in text each case as it ends.
func runConformance(ctx context.Context, env *runenv.Env, opts conformanceOptions) error {
	ctx, cancel := opts.net.WithTimeout(ctx)
	defer cancel()
	tgt, err := fcgireq.OpenTarget(opts.net)
	if err != nil {
		return err
	}
	defer tgt.Close()
	nc, err := tgt.Dial(ctx, opts.net.ConnectTimeout)
	if err != nil {
		return err
	}
	nc.Close()

	pal, verbose := opts.engine.Palette, opts.engine.Verbose
	dial := func(ctx context.Context) (net.Conn, error) { return tgt.Dial(ctx, opts.net.ConnectTimeout) }
	report, err := conformance.Run(ctx, tgt.Display, dial, opts.engine, func(res *formatters.ConformanceCase) error {
		if opts.format != formatters.Text {
			return nil
		}
		return formatters.WriteConformanceCase(env.Stdout, res, pal, verbose)
	})
	if err != nil {
		if err == ctx.Err() {
			return fcgireq.TimeoutCause(ctx, err)
		}
		return err
	}
	if opts.format == formatters.Text {
		if err := formatters.WriteConformanceSummary(env.Stdout, report); err != nil {
			return err
		}
	} else if err := formatters.WriteConformance(env.Stdout, report, opts.format, pal, verbose); err != nil {
		return err
	}
	if report.Failed > 0 {
		return &runenv.CodeError{Code: runenv.ExitCheckFailed, Msg: fmt.Sprintf("%d of %d cases failed", report.Failed, len(report.Cases))}
	}
	return nil
}
