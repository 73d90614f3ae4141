package commands

import (
	"context"
	"errors"
	"fmt"
	"strconv"
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

// nagiosPoolState is a pool's plugin state: CRITICAL when it could not be
// read (unless busy with --busy-ok) or failed a check, UNKNOWN when its
// page cannot be checked (not a status page, or no page configured).
func nagiosPoolState(r *health.PoolResult) formatters.NagiosState {
	var pe *health.PageError
	switch {
	case r.Err != nil && r.Busy:
		return formatters.NagiosOK
	case errors.As(r.Err, &pe):
		return formatters.NagiosUnknown
	case r.Err != nil, len(r.Failures) > 0:
		return formatters.NagiosCritical
	}
	return formatters.NagiosOK
}

// runStatusNagios reads the pools and writes one plugin line: the state
// of the worst pool, what is wrong with each pool that is not OK (or, all
// OK, a short summary), and the numbers of every pool read as performance
// data.
func runStatusNagios(ctx context.Context, env *runenv.Env, o *statusOptions) error {
	results, err := o.check.Run(ctx, o.net, o.targets, o.uri)
	if err != nil {
		return err
	}
	state := formatters.NagiosOK
	var problems, fine []string
	busy := 0
	var perf []formatters.NagiosPerf
	names, addrs := make([]string, len(results)), make([]string, len(results))
	for i := range results {
		addrs[i] = results[i].Addr
		if results[i].Status != nil {
			names[i] = results[i].Status.Pool
		}
	}
	names = perfNames(names, addrs)
	for i := range results {
		r := &results[i]
		st := nagiosPoolState(r)
		state = formatters.WorseNagios(state, st)
		label := ""
		if o.several {
			label = r.Label() + ": "
		}
		switch {
		case st != formatters.NagiosOK && r.Err != nil:
			_, msg := runenv.ExitCode(r.Err)
			problems = append(problems, label+msg)
		case st != formatters.NagiosOK:
			lines := make([]string, len(r.Failures))
			for j, f := range r.Failures {
				lines[j] = f.Line
			}
			problems = append(problems, label+strings.Join(lines, ", "))
		case r.Busy:
			busy++
			fine = append(fine, "busy, passes with --busy-ok")
		default:
			s := r.Status
			fine = append(fine, fmt.Sprintf("pool %s: %d active, %d idle, %d total, listen queue %d", s.Pool, s.ActiveProcesses, s.IdleProcesses, s.TotalProcesses, s.ListenQueue))
		}
		if r.Status != nil {
			prefix := ""
			if o.several {
				prefix = names[i] + "_"
			}
			perf = append(perf, statusPerf(r, o.check.Limits, prefix)...)
		}
	}
	return writeNagios(env, state, problems, fine, busy, o.several, perf)
}

// writeNagios writes the plugin line: what is wrong with each pool that is
// not OK, or, when all are, the one pool's summary or how many pools
// passed.
func writeNagios(env *runenv.Env, state formatters.NagiosState, problems, fine []string, busy int, several bool, perf []formatters.NagiosPerf) error {
	summary := strings.Join(problems, "; ")
	switch {
	case state != formatters.NagiosOK:
	case !several:
		summary = fine[0]
	case busy > 0:
		summary = fmt.Sprintf("%d pools OK, %d of them busy (--busy-ok)", len(fine), busy)
	default:
		summary = fmt.Sprintf("%d pools OK", len(fine))
	}
	if err := formatters.WriteNagios(env.Stdout, nagiosService, state, summary, perf); err != nil {
		return err
	}
	return &nagiosExit{state}
}

// runPingNagios pings the pools at once and writes one plugin line, with each
// pool's time as performance data (critical above --max-latency).
func runPingNagios(ctx context.Context, env *runenv.Env, o *pingOptions) error {
	state := formatters.NagiosOK
	var problems, fine []string
	busy := 0
	var perf []formatters.NagiosPerf
	several := len(o.targets) > 1
	crit := ""
	if o.maxLatency > 0 {
		crit = strconv.FormatFloat(o.maxLatency.Seconds(), 'f', -1, 64)
	}
	names, addrs := make([]string, len(o.targets)), make([]string, len(o.targets))
	for i, t := range o.targets {
		names[i], addrs[i] = t.Pool, t.Addr
	}
	names = perfNames(names, addrs)
	for i, p := range o.pingAll(ctx) {
		t, pong, err := p.target, p.pong, p.err
		label := ""
		if several || t.Pool != "" {
			label = t.Label() + ": "
		}
		var pe *health.PageError
		switch {
		case err == nil:
			fine = append(fine, fmt.Sprintf("%s in %s", formatters.Printable(pong.Body), formatters.Millis(pong.Elapsed)))
		case o.busyOK && health.IsBusy(err):
			busy++
			fine = append(fine, "busy, passes with --busy-ok")
		case errors.As(err, &pe):
			state = formatters.WorseNagios(state, formatters.NagiosUnknown)
			problems = append(problems, label+pe.Msg)
		case pong != nil && pong.Slow:
			state = formatters.WorseNagios(state, formatters.NagiosCritical)
			problems = append(problems, fmt.Sprintf("%s%s in %s, slower than --max-latency %s", label, formatters.Printable(pong.Body), formatters.Millis(pong.Elapsed), o.maxLatency))
		case pong != nil:
			state = formatters.WorseNagios(state, formatters.NagiosCritical)
			problems = append(problems, fmt.Sprintf("%sstatus %d body %s", label, pong.Status, health.QuoteBody(pong.Body)))
		default:
			state = formatters.WorseNagios(state, formatters.NagiosCritical)
			_, msg := runenv.ExitCode(err)
			problems = append(problems, label+msg)
		}
		if pong != nil {
			name := "time"
			if t.Pool != "" || several {
				name = names[i] + "_time"
			}
			perf = append(perf, formatters.NagiosPerf{Label: name, Value: pong.Elapsed.Seconds(), UOM: "s", Crit: crit, Min: "0"})
		}
	}
	return writeNagios(env, state, problems, fine, busy, several, perf)
}

// statusPerf is a pool's performance data: its processes (against
// pm.max_children when known, with the bounds of the checks given), its
// listen queue, and its counters since php-fpm started, each label
// starting with prefix.
func statusPerf(r *health.PoolResult, l health.Limits, prefix string) []formatters.NagiosPerf {
	s := r.Status
	max := ""
	if r.MaxChildren > 0 {
		max = strconv.FormatInt(r.MaxChildren, 10)
	}
	bound := func(b *int64, suffix string) string {
		if b == nil {
			return ""
		}
		return strconv.FormatInt(*b, 10) + suffix
	}
	return []formatters.NagiosPerf{
		{Label: prefix + "active", Value: float64(s.ActiveProcesses), Crit: bound(l.MaxActive, ""), Min: "0", Max: max},
		{Label: prefix + "idle", Value: float64(s.IdleProcesses), Crit: bound(l.MinIdle, ":"), Min: "0", Max: max},
		{Label: prefix + "total", Value: float64(s.TotalProcesses), Min: "0", Max: max},
		{Label: prefix + "listen_queue", Value: float64(s.ListenQueue), Crit: bound(l.MaxListenQueue, ""), Min: "0"},
		{Label: prefix + "accepted_conn", Value: float64(s.AcceptedConn), UOM: "c"},
		{Label: prefix + "max_children_reached", Value: float64(s.MaxChildrenReached), UOM: "c"},
		{Label: prefix + "slow_requests", Value: float64(s.SlowRequests), UOM: "c"},
	}
}

// perfNames names each pool in performance data labels: its pool name, or
// its address when it has none or another pool has the same (a php-fpm
// per PHP release, each with its [www]), so that no two pools share a
// label.
func perfNames(names, addrs []string) []string {
	count := map[string]int{}
	for _, n := range names {
		count[n]++
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = n
		if n == "" || count[n] > 1 {
			out[i] = addrs[i]
		}
	}
	return out
}
