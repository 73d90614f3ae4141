package health

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/formatters"
)

// Verdict is a Nagios plugin's line for a run over one or more pools: the
// state of the worst pool, what is wrong with each pool that is not OK
// (or, all OK, a short summary), and the performance data.
type Verdict struct {
	State   formatters.NagiosState
	Summary string
	Perf    []formatters.NagiosPerf
}

// verdict gathers the pools' lines into a Verdict.
type verdict struct {
	Verdict
	problems, fine []string
	busy           int
}

func (v *verdict) worse(s formatters.NagiosState) { v.State = formatters.WorseNagios(v.State, s) }

// end writes the summary: what is wrong with each pool that is not OK,
// or, when all are, the one pool's summary or how many pools passed.
func (v *verdict) end(several bool) Verdict {
	v.Summary = strings.Join(v.problems, "; ")
	switch {
	case v.State != formatters.NagiosOK:
	case !several:
		v.Summary = v.fine[0]
	case v.busy > 0:
		v.Summary = fmt.Sprintf("%d pools OK, %d of them busy (--busy-ok)", len(v.fine), v.busy)
	default:
		v.Summary = fmt.Sprintf("%d pools OK", len(v.fine))
	}
	return v.Verdict
}

// poolState is a pool's plugin state: CRITICAL when it could not be read
// (unless busy with --busy-ok) or failed a check, UNKNOWN when its page
// cannot be checked (not a status page, or no page configured).
func poolState(r *PoolResult) formatters.NagiosState {
	var pe *PageError
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

// StatusVerdict is the plugin line of status over the pools read (as
// Check.Run returns them), with the numbers of every pool read as
// performance data; several says whether the run named more than one pool.
func StatusVerdict(results []PoolResult, l Limits, several bool) Verdict {
	var v verdict
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
		st := poolState(r)
		v.worse(st)
		label := ""
		if several {
			label = r.Label() + ": "
		}
		switch {
		case st != formatters.NagiosOK && r.Err != nil:
			_, msg := runenv.ExitCode(r.Err)
			v.problems = append(v.problems, label+msg)
		case st != formatters.NagiosOK:
			lines := make([]string, len(r.Failures))
			for j, f := range r.Failures {
				lines[j] = f.Line
			}
			v.problems = append(v.problems, label+strings.Join(lines, ", "))
		case r.Busy:
			v.busy++
			v.fine = append(v.fine, "busy, passes with --busy-ok")
		default:
			s := r.Status
			v.fine = append(v.fine, fmt.Sprintf("pool %s: %d active, %d idle, %d total, listen queue %d", s.Pool, s.ActiveProcesses, s.IdleProcesses, s.TotalProcesses, s.ListenQueue))
		}
		if r.Status != nil {
			prefix := ""
			if several {
				prefix = names[i] + "_"
			}
			v.Perf = append(v.Perf, statusPerf(r, l, prefix)...)
		}
	}
	return v.end(several)
}

// PingVerdict is the plugin line of ping over the pools pinged, with each
// pool's time as performance data (critical above maxLatency when it is
// not 0). busyOK passes a busy pool.
func PingVerdict(pings []Pinged, maxLatency time.Duration, busyOK bool) Verdict {
	var v verdict
	several := len(pings) > 1
	crit := ""
	if maxLatency > 0 {
		crit = strconv.FormatFloat(maxLatency.Seconds(), 'f', -1, 64)
	}
	names, addrs := make([]string, len(pings)), make([]string, len(pings))
	for i, p := range pings {
		names[i], addrs[i] = p.Target.Pool, p.Target.Addr
	}
	names = perfNames(names, addrs)
	for i, p := range pings {
		t, pong, err := p.Target, p.Pong, p.Err
		label := ""
		if several || t.Pool != "" {
			label = t.Label() + ": "
		}
		var pe *PageError
		switch {
		case err == nil:
			v.fine = append(v.fine, fmt.Sprintf("%s in %s", formatters.Printable(pong.Body), formatters.Millis(pong.Elapsed)))
		case busyOK && IsBusy(err):
			v.busy++
			v.fine = append(v.fine, "busy, passes with --busy-ok")
		case errors.As(err, &pe):
			v.worse(formatters.NagiosUnknown)
			v.problems = append(v.problems, label+pe.Msg)
		case pong != nil && pong.Slow:
			v.worse(formatters.NagiosCritical)
			v.problems = append(v.problems, fmt.Sprintf("%s%s in %s, slower than --max-latency %s", label, formatters.Printable(pong.Body), formatters.Millis(pong.Elapsed), maxLatency))
		case pong != nil:
			v.worse(formatters.NagiosCritical)
			v.problems = append(v.problems, fmt.Sprintf("%sstatus %d body %s", label, pong.Status, QuoteBody(pong.Body)))
		default:
			v.worse(formatters.NagiosCritical)
			_, msg := runenv.ExitCode(err)
			v.problems = append(v.problems, label+msg)
		}
		if pong != nil {
			name := "time"
			if t.Pool != "" || several {
				name = names[i] + "_time"
			}
			v.Perf = append(v.Perf, formatters.NagiosPerf{Label: name, Value: pong.Elapsed.Seconds(), UOM: "s", Crit: crit, Min: "0"})
		}
	}
	return v.end(several)
}

// statusPerf is a pool's performance data: its processes (against
// pm.max_children when known, with the bounds of the checks given), its
// listen queue, and its counters since php-fpm started, each label
// starting with prefix.
func statusPerf(r *PoolResult, l Limits, prefix string) []formatters.NagiosPerf {
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
