// Package health is the engine of 'fcgicli status' and 'fcgicli ping', the
// health checks of php-fpm pools. It owns the pools to check (the --connect
// values with their globs of unix sockets expanded, and the pools of
// php-fpm's own configuration, read with fpmconfig, each with its address,
// page and pm.max_children), the reading of one pool's status page and the
// concurrent reading of many, the process list's numbers in place of a
// summary that drifted, the thresholds and their check (the failed checks,
// the saturation against pm.max_children, and the notes about checks that
// could not be made), the busy pools --busy-ok lets pass, the state file
// that remembers a pool's counters between runs, the refresh loop of a
// watch, and the ping of one pool.
//
// It must not import package commands or parse flags (the commands turn
// them into a Check and targets), must not render results (the commands'
// formatters do), must not call os.Exit, and holds no package-level
// mutable state.
package health

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/commands/fpmstatus"
	"github.com/fcgicli/fcgicli/commands/runenv"
)

// Target is one pool to check: an address, or the failure that stands for
// it (a glob that matches nothing, a pool whose configuration has no page
// to check), reported in its turn like any other pool's. A pool found in
// php-fpm's configuration also has its name, its page and its
// pm.max_children.
type Target struct {
	Addr string
	Err  error
	// Pool is the pool's name in php-fpm's configuration, "" for a
	// --connect address.
	Pool string
	// URI is the page to read (with its query), and Expect the body of a
	// healthy ping; "" for the command's own.
	URI, Expect string
	// MaxChildren is the pool's pm.max_children, 0 when unknown.
	MaxChildren int64
}

// Label names the target in reports: its address, after the pool's name
// when it came from php-fpm's configuration.
func (t Target) Label() string {
	if t.Pool == "" {
		return t.Addr
	}
	return t.Pool + " (" + t.Addr + ")"
}

// Targets expands --connect values: globs of unix sockets become their
// matches, in order; a glob that matches nothing is a pool that cannot be
// connected to. A malformed address or glob is a usage error.
func Targets(values []string) ([]Target, error) {
	var out []Target
	for _, v := range values {
		if err := fcgireq.CheckClientAddr(v); err != nil {
			return nil, err
		}
		if !IsSocketGlob(v) {
			out = append(out, Target{Addr: v})
			continue
		}
		pattern := strings.TrimPrefix(strings.TrimPrefix(v, "unix://"), "unix:")
		matches, err := filepath.Glob(pattern)
		if err != nil {
			return nil, runenv.Usagef("bad glob %q: %v", v, err)
		}
		if len(matches) == 0 {
			out = append(out, Target{Addr: v, Err: &runenv.ConnectError{Addr: v, Err: fmt.Errorf("no socket matches")}})
			continue
		}
		for _, m := range matches {
			out = append(out, Target{Addr: socketPath(m)})
		}
	}
	return out, nil
}

// IsSocketGlob reports whether a --connect value is a glob of unix
// sockets: a path with a glob character.
func IsSocketGlob(v string) bool {
	pattern := strings.TrimPrefix(strings.TrimPrefix(v, "unix://"), "unix:")
	return strings.ContainsAny(pattern, "*?[") && (strings.HasPrefix(pattern, "/") || strings.HasPrefix(pattern, "."))
}

// socketPath keeps a glob match an address of a unix socket: filepath.Glob
// cleans "./*.sock" into "fpm.sock", which would read as host:port, so a
// relative match gets its "./" back.
func socketPath(m string) string {
	if filepath.IsAbs(m) || strings.HasPrefix(m, "./") || strings.HasPrefix(m, "../") {
		return m
	}
	return "./" + m
}

// ReadStatus fetches and parses the status page at uri. A reply that is
// not one is a PageError (exit 1) that shows what came back; a pool
// that took the request but did not answer in time is a BusyError.
func ReadStatus(ctx context.Context, net fcgireq.NetOptions, uri string) (*fpmstatus.Status, error) {
	f, err := fcgireq.FetchPage(ctx, net, uri)
	if err != nil {
		return nil, busyAfterConnect(f, err)
	}
	if f.CGI.Status != 200 {
		return nil, &PageError{Msg: fmt.Sprintf("%s: status %d, body %s", fpmstatus.ErrNotStatusPage, f.CGI.Status, QuoteBody(strings.TrimSpace(string(f.Body))))}
	}
	s, err := fpmstatus.Parse(f.Body)
	if err != nil {
		return nil, &PageError{Msg: fmt.Sprintf("%v; body %s", err, QuoteBody(strings.TrimSpace(string(f.Body))))}
	}
	return s, nil
}

// PageError is a pool whose page cannot be checked: it answered something
// that is not a status page, or its configuration names no page. It is a
// failed check (exit 1), never a healthy pool; a Nagios check reports it
// as UNKNOWN, since the pool's state is not known.
type PageError struct{ Msg string }

func (e *PageError) Error() string { return e.Msg }

// PoolResult is what a reading of a pool learnt: its page or the error
// that stands for it, notes about the page (its summary's drift), and,
// once checked, the thresholds it crossed and the notes about checks that
// could not be made.
type PoolResult struct {
	Target
	Status   *fpmstatus.Status
	Failures []Failure
	Notes    []string
	// Busy is set by ForgiveBusy on a busy pool that passes.
	Busy bool
	// Took is how long reading the page took, or failing to.
	Took time.Duration
}

// ReadPool reads a target's status page (its URI, else uri) within net's
// deadlines, its numbers taken from the process list when the summary
// drifted from it (see Reconcile). A target that stands for a failure
// keeps it.
func ReadPool(ctx context.Context, net fcgireq.NetOptions, t Target, uri string) PoolResult {
	r := PoolResult{Target: t}
	if r.Err != nil {
		return r
	}
	if t.URI != "" {
		uri = t.URI
	}
	net.Connect = t.Addr
	start := time.Now()
	r.Status, r.Err = ReadStatus(ctx, net, uri)
	r.Took = time.Since(start)
	if r.Err == nil {
		if note := Reconcile(r.Status, t.MaxChildren); note != "" {
			r.Notes = append(r.Notes, note)
		}
	}
	return r
}

// ReadPools reads every target's status page at once (ReadPool), each
// within net's deadlines, and returns the results in the targets' order.
func ReadPools(ctx context.Context, net fcgireq.NetOptions, targets []Target, uri string) []PoolResult {
	results := make([]PoolResult, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = ReadPool(ctx, net, t, uri)
		}()
	}
	wg.Wait()
	return results
}

// Reconcile takes the page's active, idle and total processes from its
// process list, when it has one: php-fpm's process manager recounts the
// summary about once a second, while the list is each child's state as
// the page is made, so under load the two differ by a request or two, and
// php-fpm 8.2 was seen counting far more (7 active of 7 on a pool of 2
// children, after kept-alive connections). When the summary counts more
// active or total processes than the pool's pm.max_children (0: unknown)
// allows, the returned note says so; otherwise it returns "".
func Reconcile(s *fpmstatus.Status, maxChildren int64) string {
	if len(s.Processes) == 0 {
		return ""
	}
	var active, idle int64
	for _, p := range s.Processes {
		if p.Busy() {
			active++
		} else {
			idle++
		}
	}
	note := ""
	if maxChildren > 0 && (s.ActiveProcesses > maxChildren || s.TotalProcesses > maxChildren) {
		note = fmt.Sprintf("the summary counts %d active and %d total processes, more than pm.max_children %d allows: it drifted (a php-fpm bug), the process list's %d active and %d total are used",
			s.ActiveProcesses, s.TotalProcesses, maxChildren, active, active+idle)
	}
	s.ActiveProcesses, s.IdleProcesses, s.TotalProcesses = active, idle, active+idle
	return note
}

// Worse returns the worse of two exit codes: an interrupt, then the
// exit-code table's order among 3-7 (a pool that could not be read), then
// a failed check (1).
func Worse(a, b int) int {
	rank := func(code int) int {
		switch code {
		case runenv.ExitOK:
			return 0
		case runenv.ExitCheckFailed:
			return 1
		case runenv.ExitInterrupted:
			return 100
		}
		if code >= runenv.ExitConnect && code <= runenv.ExitAppStatus {
			return 50 - code // 3 beats 4 ... beats 7
		}
		return 2
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}

// QuoteBody shows at most 60 bytes of a body, quoted.
func QuoteBody(b string) string {
	if len(b) > 60 {
		return fmt.Sprintf("%q...", b[:60])
	}
	return fmt.Sprintf("%q", b)
}
