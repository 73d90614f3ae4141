package commands

import (
	"context"
	"errors"
	"strings"

	"github.com/fcgicli/fcgicli/commands/health"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/formatters"
)

// nagiosService names the service in a Nagios plugin line.
const nagiosService = "PHP-FPM"

// nagiosExit ends a run of -o nagios: its line is written, and the exit
// code is the plugin state's, under the Nagios plugin guidelines, not the
// exit-code table.
type nagiosExit struct{ state formatters.NagiosState }

func (e *nagiosExit) Error() string { return "" }

// nagiosRequested reports whether the command line asks status or ping
// for -o nagios, so that a usage error the command never got to see (a
// flag urfave/cli could not parse) is reported as the plugin's UNKNOWN too.
func nagiosRequested(args []string) bool {
	i := 1
	for i < len(args) && strings.HasPrefix(args[i], "-") {
		if args[i] == "--color" || args[i] == "-color" {
			i++ // the global flag's value
		}
		i++
	}
	if i >= len(args) || (args[i] != "status" && args[i] != "ping") {
		return false
	}
	rest := args[i+1:]
	for j, a := range rest {
		switch {
		case a == "--":
			return false
		case a == "-o" || a == "--output" || a == "-output":
			if j+1 < len(rest) && rest[j+1] == string(formatters.Nagios) {
				return true
			}
		case a == "-o=nagios" || a == "--output=nagios" || a == "-output=nagios" || a == "-onagios":
			return true
		}
	}
	return false
}

// nagiosCode turns the end of a run of -o nagios into its exit code: the
// state of the line written, or, for a usage error or a local problem
// (exit 2), UNKNOWN with the message as its line. ok is false for a run
// without -o nagios.
func nagiosCode(env *runenv.Env, args []string, err error) (code int, ok bool) {
	if !nagiosRequested(args) {
		return 0, false
	}
	var ne *nagiosExit
	if errors.As(err, &ne) {
		return int(ne.state), true
	}
	c, msg := runenv.ExitCode(err)
	if c != runenv.ExitUsage {
		return c, false
	}
	_ = formatters.WriteNagios(env.Stdout, nagiosService, formatters.NagiosUnknown, msg, nil)
	return int(formatters.NagiosUnknown), true
}

// runStatusNagios reads the pools and writes one plugin line
// (health.StatusVerdict).
func runStatusNagios(ctx context.Context, env *runenv.Env, o *statusOptions) error {
	results, err := o.check.Run(ctx, o.net, o.targets, o.uri)
	if err != nil {
		return err
	}
	return writeNagios(env, health.StatusVerdict(results, o.check.Limits, o.several))
}

// runPingNagios pings the pools at once and writes one plugin line
// (health.PingVerdict).
func runPingNagios(ctx context.Context, env *runenv.Env, o *pingOptions) error {
	return writeNagios(env, health.PingVerdict(o.pingAll(ctx), o.maxLatency, o.busyOK))
}

// writeNagios writes the plugin line; the run ends with its state.
func writeNagios(env *runenv.Env, v health.Verdict) error {
	if err := formatters.WriteNagios(env.Stdout, nagiosService, v.State, v.Summary, v.Perf); err != nil {
		return err
	}
	return &nagiosExit{v.State}
}
