package commands

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/commands/health"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/formatters"
)

func pingCommand(env *runenv.Env) *cli.Command {
	return &cli.Command{
		Name:  "ping",
		Usage: "check that php-fpm pools answer their ping page",
		Description: `Requests php-fpm's ping.path (--path, default /ping) and checks that the
CGI status is 200 and the body is --expect (default pong; a trailing newline
is ignored). Prints one line per pool, "OK pong 0.42ms" or "FAIL" with what
came back, unless -q.

--connect may be repeated, and may be a glob of unix sockets: every pool is
checked, all at once (the lines in the order given), and a glob that
matches nothing is a failing pool with its own line.
Exit 0 when all are healthy; otherwise the code of the first failing pool in
the order given: 1 unhealthy (wrong status or body), 3 cannot connect (a glob
that matches nothing included), 4 timeout, 5 protocol error, 6 the
application refused the request (OVERLOADED...), 7 a non-zero app status.

--fpm-config FILE (repeatable; auto: the usual places) checks every pool of
php-fpm's own configuration, at its own ping.path and ping.response; a pool
with no ping.path fails with its own line, and an unreadable or invalid
file is exit 2 with its file and line.

--max-latency D fails a pool whose pong took longer than D. --busy-ok (for
liveness probes) passes a pool that accepted the connection but had no free
child to answer in time, with a BUSY line; a pool that is not listening
still fails.

-o nagios writes one Nagios plugin line, "PHP-FPM OK|CRITICAL|UNKNOWN -
summary | perfdata", and exits with the plugin guidelines' codes instead
of fcgicli's: 0 OK, 2 CRITICAL, 3 UNKNOWN (a usage error).

EXAMPLES:
   fcgicli ping -c 127.0.0.1:9000
   fcgicli ping -c '/run/php/*.sock' -q || echo unhealthy
   fcgicli ping --fpm-config /etc/php/8.2/fpm/php-fpm.conf
   fcgicli ping -c /run/php/php8.2-fpm.sock --path /healthz --expect ok -t 1s`,
		Flags: flagList(probeFlags("checks"), []cli.Flag{
			&cli.StringFlag{Name: "path", Value: "/ping", Usage: "php-fpm's ping.path `PATH`"},
			&cli.StringFlag{Name: "expect", Value: "pong", Usage: "the body a healthy pool answers, `TEXT` (php-fpm's ping.response)"},
			&cli.DurationFlag{Name: "max-latency", Usage: "fail a pool whose pong takes longer than `DURATION`", DefaultText: "off"},
			&cli.BoolFlag{Name: "busy-ok", Usage: "pass a pool that accepted the connection but had no free child to answer in time (for liveness probes)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "`FORMAT`: text, or nagios (one plugin line; exit codes of the Nagios plugin guidelines)"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print nothing: the exit code says it all"},
			colorFlag(),
		}),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return runenv.Usagef("ping takes no arguments, got %q (the path is --path)", c.Args().First())
			}
			o, err := pingOptionsFrom(c, env)
			if err != nil {
				return err
			}
			pal, err := palette(c, env, env.Stdout)
			if err != nil {
				return err
			}
			if o.output == formatters.Nagios {
				return runPingNagios(c.Context, env, o) // its one line, no notes
			}
			if !o.quiet {
				for _, w := range o.notes {
					fmt.Fprintf(env.Stderr, "fcgicli: note: %s\n", w)
				}
			}
			return runPing(c.Context, env, pal, o)
		},
	}
}

type pingOptions struct {
	net           fcgireq.NetOptions
	targets       []health.Target
	notes         []string // about the configurations read
	path, expect  string
	maxLatency    time.Duration
	output        formatters.Format
	quiet, busyOK bool
}

func pingOptionsFrom(c *cli.Context, env *runenv.Env) (*pingOptions, error) {
	targets, warnings, err := probeTargets(c, env, health.PingTargets)
	if err != nil {
		return nil, err
	}
	o := &pingOptions{targets: targets, notes: warnings, path: c.String("path"), expect: c.String("expect"),
		maxLatency: c.Duration("max-latency"), quiet: c.Bool("quiet"), busyOK: c.Bool("busy-ok")}
	if o.net, err = probeNetOptions(c); err != nil {
		return nil, err
	}
	if !strings.HasPrefix(o.path, "/") {
		return nil, runenv.Usagef("--path %q must start with /", o.path)
	}
	if o.maxLatency < 0 {
		return nil, runenv.Usagef("--max-latency cannot be negative")
	}
	if o.output, err = formatters.ParseFormat(c.String("output"), formatters.Text, formatters.Nagios); err != nil {
		return nil, &runenv.UsageError{Msg: err.Error()}
	}
	if o.output == formatters.Nagios && o.quiet {
		return nil, runenv.Usagef("-o nagios writes one plugin line: it does not go with -q")
	}
	return o, nil
}

// pingAll pings every target at once (health.PingAll).
func (o *pingOptions) pingAll(ctx context.Context) []health.Pinged {
	return health.PingAll(ctx, o.net, o.targets, o.path, o.expect, o.maxLatency)
}

// runPing pings every pool at once, prints a line for each in the order
// given, and returns the error of the first that failed.
func runPing(ctx context.Context, env *runenv.Env, pal *formatters.Palette, o *pingOptions) error {
	var first error
	for _, p := range o.pingAll(ctx) {
		line, err := pingLine(o, p, pal)
		if !o.quiet {
			if len(o.targets) > 1 || p.Target.Pool != "" {
				line = p.Target.Label() + " " + line
			}
			fmt.Fprintln(env.Stdout, line)
		}
		if err != nil && first == nil {
			first = err
		}
		if code, _ := runenv.ExitCode(err); code == runenv.ExitInterrupted {
			break // Ctrl-C: the pools after it were not checked either
		}
	}
	if first != nil {
		// The lines above say what failed; only the code is left to give.
		code, _ := runenv.ExitCode(first)
		return &runenv.CodeError{Code: code}
	}
	return nil
}

// pingLine is the report line of a pool's ping, and its error. With
// --busy-ok, a busy pool passes with a BUSY line.
func pingLine(o *pingOptions, pg health.Pinged, pal *formatters.Palette) (string, error) {
	p, err := pg.Pong, pg.Err
	switch {
	case p == nil && o.busyOK && health.IsBusy(err):
		return pal.Info.Sprint("BUSY") + " " + health.BusyLine(err), nil
	case p == nil:
		return failLine(err, pal), err
	}
	took := formatters.Millis(p.Elapsed)
	switch {
	case p.Slow:
		return fmt.Sprintf("%s %s %s, slower than --max-latency %s", pal.Error.Sprint("FAIL"), formatters.Printable(p.Body), took, o.maxLatency), err
	case err != nil:
		return fmt.Sprintf("%s status %d body %s %s", pal.Error.Sprint("FAIL"), p.Status, health.QuoteBody(p.Body), took), err
	}
	return fmt.Sprintf("%s %s %s", pal.Good.Sprint("OK"), formatters.Printable(p.Body), took), nil
}

// failLine is the report line of a pool that could not be checked.
func failLine(err error, pal *formatters.Palette) string {
	_, msg := runenv.ExitCode(err)
	return pal.Error.Sprint("FAIL") + " " + msg
}
