package health

import (
	"fmt"

	"github.com/fcgicli/fcgicli/commands/fpmstatus"
	"github.com/fcgicli/fcgicli/formatters"
)

// Limits are the thresholds of a status check; a nil one is not checked.
// Each is named after its flag.
type Limits struct {
	MaxListenQueue, MinIdle, MaxActive, MaxSlow, MaxChildren *int64
	MaxListenQueueRatio, MaxActiveRatio                      *float64
	MaxChildrenDelta, MaxSlowDelta                           *int64
	// MaxChildrenRatio fails a pool whose active processes are that
	// share of its pm.max_children or more (CheckResult).
	MaxChildrenRatio *float64
}

// Any reports whether any threshold is set.
func (l Limits) Any() bool {
	return l.MaxListenQueue != nil || l.MinIdle != nil || l.MaxActive != nil || l.MaxSlow != nil || l.MaxChildren != nil ||
		l.MaxListenQueueRatio != nil || l.MaxActiveRatio != nil || l.MaxChildrenRatio != nil || l.NeedsState()
}

// NeedsState reports whether a -delta check is set, which compares with
// the reading a state file remembers.
func (l Limits) NeedsState() bool { return l.MaxChildrenDelta != nil || l.MaxSlowDelta != nil }

// Failure is a threshold crossed: the line that says so, and the same as
// data for -o json.
type Failure struct {
	Line  string
	Check formatters.FailedCheck
}

// FailedChecks returns the data of failures, never nil (an empty list in
// JSON).
func FailedChecks(failures []Failure) []formatters.FailedCheck {
	out := []formatters.FailedCheck{}
	for _, f := range failures {
		out = append(out, f.Check)
	}
	return out
}

// CheckResult checks a pool that was read: Check, then the saturation
// against the pool's pm.max_children. It fills r.Failures and adds to
// r.Notes; a pool that could not be read is left as it is.
func (l Limits) CheckResult(r *PoolResult, prev *State) {
	if r.Err != nil {
		return
	}
	failures, notes := l.Check(r.Status, prev)
	r.Failures = append(r.Failures, failures...)
	r.Notes = append(r.Notes, notes...)
	if l.MaxChildrenRatio == nil {
		return
	}
	bound, max, active := *l.MaxChildrenRatio, r.MaxChildren, r.Status.ActiveProcesses
	if max <= 0 {
		r.Notes = append(r.Notes, "pm.max_children is unknown (give --fpm-config or --max-children N): --max-children-ratio skipped")
		return
	}
	if ratio := float64(active) / float64(max); ratio >= bound {
		r.Failures = append(r.Failures, Failure{
			Line:  fmt.Sprintf("active processes are %.2f of pm.max_children (%d of %d), at or above --max-children-ratio %g", ratio, active, max, bound),
			Check: formatters.FailedCheck{Name: "max-children-ratio", Value: ratio, Bound: bound},
		})
	}
}

// Check returns one failure per threshold crossed, and notes about checks
// that could not be made. prev is the state file's reading for the -delta
// checks, nil when there is none yet.
func (l Limits) Check(s *fpmstatus.Status, prev *State) (failures []Failure, notes []string) {
	fail := func(flag string, v, bound float64, line string) {
		failures = append(failures, Failure{Line: line, Check: formatters.FailedCheck{Name: flag, Value: v, Bound: bound}})
	}
	above := func(name string, v int64, bound *int64, flag string) {
		if bound != nil && v > *bound {
			fail(flag, float64(v), float64(*bound), fmt.Sprintf("%s is %d, above --%s %d", name, v, flag, *bound))
		}
	}
	above("listen queue", s.ListenQueue, l.MaxListenQueue, "max-listen-queue")
	above("active processes", s.ActiveProcesses, l.MaxActive, "max-active")
	above("slow requests", s.SlowRequests, l.MaxSlow, "max-slow-requests")
	above("max children reached", s.MaxChildrenReached, l.MaxChildren, "max-children-reached")
	if l.MinIdle != nil && s.IdleProcesses < *l.MinIdle {
		fail("min-idle", float64(s.IdleProcesses), float64(*l.MinIdle), fmt.Sprintf("idle processes is %d, below --min-idle %d", s.IdleProcesses, *l.MinIdle))
	}
	ratio := func(name string, num, den int64, bound *float64, flag, zero string) {
		if bound == nil {
			return
		}
		if den == 0 {
			notes = append(notes, zero)
			return
		}
		if r := float64(num) / float64(den); r > *bound {
			fail(flag, r, *bound, fmt.Sprintf("%s is %.2f (%d of %d), above --%s %g", name, r, num, den, flag, *bound))
		}
	}
	ratio("listen queue ratio", s.ListenQueue, s.ListenQueueLen, l.MaxListenQueueRatio, "max-listen-queue-ratio",
		"listen queue len is 0 (php-fpm reports 0 for unix socket pools): --max-listen-queue-ratio skipped")
	ratio("active ratio", s.ActiveProcesses, s.TotalProcesses, l.MaxActiveRatio, "max-active-ratio",
		"total processes is 0: --max-active-ratio skipped")
	if !l.NeedsState() {
		return failures, notes
	}
	if prev == nil {
		notes = append(notes, "no earlier reading in the state file yet: the -delta checks start with the next run")
		return failures, notes
	}
	// The counters are the pool's, whichever address it was read through
	// (its own socket, pm.status_listen): a reading of another pool says
	// nothing about this one's, even from the same php-fpm (same start time).
	if prev.Pool != s.Pool {
		notes = append(notes, fmt.Sprintf("the state file holds a reading of pool %q, not %q: the -delta checks start again with the next run", prev.Pool, s.Pool))
		return failures, notes
	}
	restarted := prev.StartTime != s.StartTime
	grew := func(now, before int64) int64 {
		if restarted || now < before {
			return now // php-fpm restarted: the counter started again from 0
		}
		return now - before
	}
	deltaAbove := func(name string, d int64, bound *int64, flag string) {
		if bound != nil && d > *bound {
			fail(flag, float64(d), float64(*bound), fmt.Sprintf("%s grew by %d since the last run, above --%s %d", name, d, flag, *bound))
		}
	}
	deltaAbove("max children reached", grew(s.MaxChildrenReached, prev.MaxChildrenReached), l.MaxChildrenDelta, "max-children-reached-delta")
	deltaAbove("slow requests", grew(s.SlowRequests, prev.SlowRequests), l.MaxSlowDelta, "max-slow-requests-delta")
	return failures, notes
}
