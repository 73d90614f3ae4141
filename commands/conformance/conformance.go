// Package conformance is fcgicli's conformance suite: thirty numbered
// cases, each citing the section of the FastCGI 1.0 specification it
// checks, that probe a server over raw records (a bad version, split
// pairs, maximum padding, aborts, multiplexing...) and judge each answer
// PASS, FAIL or WARN, with a summary of the records both ways and, when
// asked, their raw-dump.
//
// It owns the cases, the probe and the verdicts, not the command line or
// the output: the conformance command selects the cases, opens the target
// and renders the scorecard through formatters. It must not import package
// commands or any other engine, never prints and holds no package-level
// mutable state. Every case is bounded by Options.CaseTimeout and by ctx.
package conformance

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/formatters"
)

// Dial opens a connection to the server under test within ctx and the
// connect timeout; a failure is a *runenv.ConnectError or a
// *runenv.TimeoutError.
type Dial func(ctx context.Context) (net.Conn, error)

// Options are how the suite runs.
type Options struct {
	Script      string        // SCRIPT_FILENAME of responder cases, absolute
	CaseTimeout time.Duration // bounds each case
	Verbose     bool          // keep the raw-dump of every case that did not pass
	Palette     *formatters.Palette
	IDs         map[int]bool // the cases to run (Select)
}

// Run runs the cases of opts.IDs one after another, each on connections
// of its own from dial, hands each result to onCase as it comes (an error
// from onCase ends the run with it) and returns the scorecard, counted,
// for server. When ctx ends first, Run returns ctx.Err().
func Run(ctx context.Context, server string, dial Dial, opts Options, onCase func(*formatters.ConformanceCase) error) (*formatters.ConformanceReport, error) {
	report := &formatters.ConformanceReport{Server: server, CaseTimeoutUS: opts.CaseTimeout.Microseconds()}
	for _, cs := range Cases() {
		if !opts.IDs[cs.ID] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		res := runCase(ctx, dial, opts, cs)
		report.Cases = append(report.Cases, res)
		if err := onCase(&res); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	report.Count()
	return report, nil
}

// Select parses --only and --skip into the set of case ids to run; a bad
// id or range, or a selection left empty, is a usage error.
func Select(cases []Case, only, skip string) (map[int]bool, error) {
	known := map[int]bool{}
	for _, c := range cases {
		known[c.ID] = true
	}
	parse := func(flag, s string) (map[int]bool, error) {
		ids := map[int]bool{}
		for _, part := range strings.Split(s, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			lo, hi, isRange := strings.Cut(part, "-")
			a, err1 := strconv.Atoi(lo)
			b := a
			var err2 error
			if isRange {
				b, err2 = strconv.Atoi(hi)
			}
			if err1 != nil || err2 != nil || a > b {
				return nil, runenv.Usagef("%s: bad case id or range %q (ids are numbers, ranges N-M; --list shows them)", flag, part)
			}
			for id := a; id <= b && id <= a+len(cases); id++ {
				if !known[id] {
					return nil, runenv.Usagef("%s: no case %d (cases are 1 to %d; --list shows them)", flag, id, len(cases))
				}
				ids[id] = true
			}
		}
		return ids, nil
	}
	sel := map[int]bool{}
	if only != "" {
		o, err := parse("--only", only)
		if err != nil {
			return nil, err
		}
		sel = o
	} else {
		for id := range known {
			sel[id] = true
		}
	}
	if skip != "" {
		s, err := parse("--skip", skip)
		if err != nil {
			return nil, err
		}
		for id := range s {
			delete(sel, id)
		}
	}
	if len(sel) == 0 {
		return nil, runenv.Usagef("--only and --skip leave no case to run")
	}
	return sel, nil
}

// Case is one case of the suite.
type Case struct {
	ID      int
	Section string // of the FastCGI 1.0 specification
	Title   string
	run     func(p *probe) verdict
}

// verdict is a case's result and the sentence that explains it.
type verdict struct {
	result string
	detail string
}

func passf(format string, args ...any) verdict {
	return verdict{formatters.Pass, fmt.Sprintf(format, args...)}
}
func failf(format string, args ...any) verdict {
	return verdict{formatters.Fail, fmt.Sprintf(format, args...)}
}
func warnf(format string, args ...any) verdict {
	return verdict{formatters.Warn, fmt.Sprintf(format, args...)}
}

func runCase(ctx context.Context, dial Dial, opts Options, cs Case) formatters.ConformanceCase {
	p := &probe{ctx: ctx, dialer: dial, opts: opts, deadline: time.Now().Add(opts.CaseTimeout), log: &wireLog{}}
	if opts.Verbose {
		p.log.dump = &formatters.Dumper{W: &p.log.dumpBuf, P: opts.Palette, Format: formatters.Text, MaxBytes: 64}
	}
	v := cs.run(p)
	p.closeAll()
	out := formatters.ConformanceCase{ID: cs.ID, Section: cs.Section, Title: cs.Title, Result: v.result, Detail: v.detail}
	if v.result == formatters.Fail {
		out.Sent, out.Received = p.log.summary()
	}
	if opts.Verbose && v.result != formatters.Pass {
		out.Dump = p.log.dumpText()
	}
	return out
}
