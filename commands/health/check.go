package health

import (
	"context"

	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/commands/runenv"
)

// Check is what a status run checks of each pool it reads: the
// thresholds, the state file that remembers one pool's counters between
// runs (for the -delta checks), and whether a busy pool passes
// (--busy-ok).
type Check struct {
	Limits    Limits
	StateFile string // one pool only; "" for none
	BusyOK    bool
}

// Run reads the targets at once (ReadPools) and checks each pool: its
// thresholds, against the state file's earlier reading when there is one
// pool and a state file, then --busy-ok; the state file then holds the new
// reading. A state file that cannot be read or written is the error
// (exit 2), returned with the results.
func (c Check) Run(ctx context.Context, net fcgireq.NetOptions, targets []Target, uri string) ([]PoolResult, error) {
	results := ReadPools(ctx, net, targets, uri)
	state := c.StateFile != "" && len(results) == 1 && results[0].Err == nil
	var prev *State
	if state {
		var err error
		if prev, err = LoadState(c.StateFile); err != nil {
			return results, err
		}
	}
	for i := range results {
		c.Limits.CheckResult(&results[i], prev)
		if c.BusyOK {
			results[i].ForgiveBusy()
		}
	}
	if state {
		if err := SaveState(c.StateFile, results[0].Status); err != nil {
			return results, err
		}
	}
	return results, nil
}

// Code is the exit code of a pool's result: 0 when it passed (a busy one
// with --busy-ok too), its error's when it could not be read, else 1 when
// it failed a check.
func (r *PoolResult) Code() int {
	switch {
	case r.Err != nil && r.Busy:
		return runenv.ExitOK
	case r.Err != nil:
		code, _ := runenv.ExitCode(r.Err)
		return code
	case len(r.Failures) > 0:
		return runenv.ExitCheckFailed
	}
	return runenv.ExitOK
}

// WorstCode is the worst exit code of the results (Worse).
func WorstCode(results []PoolResult) int {
	worst := runenv.ExitOK
	for i := range results {
		worst = Worse(worst, results[i].Code())
	}
	return worst
}
