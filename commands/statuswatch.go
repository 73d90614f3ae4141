package commands

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/fcgicli/fcgicli/commands/health"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/formatters"
)

// watchOptions checks the flags against --watch, which shows one pool and
// checks nothing, and picks its view: the live text view on a terminal,
// JSON lines elsewhere (or with -o json). An -o or -q it cannot honour is
// refused, never silently replaced.
func (o *statusOptions) watchOptions(c *cli.Context, env *runenv.Env) error {
	if o.several && o.watch != 0 {
		return runenv.Usagef("--watch shows one pool: it does not go with several -c or a glob")
	}
	if o.watch < 0 || o.count < 0 {
		return runenv.Usagef("--watch and --count cannot be negative")
	}
	if o.watch == 0 && c.IsSet("count") {
		return runenv.Usagef("--count goes with --watch")
	}
	if o.watch > 0 && (o.check.Limits.Any() || o.check.StateFile != "") {
		return runenv.Usagef("thresholds and --state-file do not go with --watch")
	}
	if o.watch > 0 && o.check.BusyOK {
		return runenv.Usagef("--busy-ok does not go with --watch, which has no checks to pass")
	}
	if o.watch > 0 {
		terminal := runenv.IsTerminal(env.Stdout)
		switch {
		case o.quiet:
			return runenv.Usagef("-q does not go with --watch, which has no checks to report")
		case o.output == formatters.Prometheus:
			return runenv.Usagef("-o prometheus does not go with --watch (it shows the live view on a terminal, JSON lines elsewhere or with -o json)")
		case o.output == formatters.Text && c.IsSet("output") && !terminal:
			return runenv.Usagef("--watch -o text needs a terminal: off one, --watch prints JSON lines (-o json)")
		}
		o.live = terminal && o.output == formatters.Text
	}
	return nil
}

// runWatch shows each refresh of a watch: in the live view (a terminal,
// not -o json) it redraws the screen; otherwise each is one JSON line,
// with the time of the reading. A failed read is reported on stderr (and,
// as JSON lines, in a line with its error) and the watch goes on.
func runWatch(ctx context.Context, env *runenv.Env, pal *formatters.Palette, o *statusOptions) error {
	return health.Watch(ctx, o.net, o.uri, o.watch, o.count, func(r *health.Reading) error {
		switch {
		case r.Err != nil:
			code, msg := runenv.ExitCode(r.Err)
			if o.live {
				fmt.Fprint(env.Stdout, "\x1b[H\x1b[2J")
			}
			fmt.Fprintf(env.Stderr, "fcgicli: %s\n", msg)
			if !o.live {
				return formatters.WriteStatusJSONLine(env.Stdout, r.At, nil, msg, code)
			}
		case o.live:
			fmt.Fprint(env.Stdout, "\x1b[H\x1b[2J")
			fmt.Fprintf(env.Stdout, "%s every %s  %s\n", o.net.Connect, o.watch, r.At.Format("15:04:05"))
			v := &formatters.StatusView{Status: r.Status, Previous: r.Previous, Interval: r.At.Sub(r.PreviousAt), Now: r.At, Address: o.net.Connect}
			return formatters.WriteStatusText(env.Stdout, v, pal)
		default:
			return formatters.WriteStatusJSONLine(env.Stdout, r.At, r.Status, "", 0)
		}
		return nil
	})
}
