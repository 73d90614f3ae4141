// Package health is the engine of 'fcgicli status' and 'fcgicli ping', the
// health checks of php-fpm pools. It owns the pools to check (the --connect
// values with their globs of unix sockets expanded), the reading of one
// pool's status page and the concurrent reading of many, the thresholds
// and their check (the failed checks and the notes about checks that could
// not be made), the state file that remembers a pool's counters between
// runs, the refresh loop of a watch, and the ping of one pool.
//
// It must not import package commands or parse flags (the commands turn
// them into Limits and targets), must not render results (the commands'
// formatters do), must not call os.Exit, and holds no package-level
// mutable state.
package health

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/commands/fpmstatus"
	"github.com/fcgicli/fcgicli/commands/runenv"
)

// Target is one pool to check: an address, or the failure that stands for
// it (a glob that matches nothing), reported in its turn like any other
// pool's.
type Target struct {
	Addr string
	Err  error
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
// not one is a failed check (exit 1) that shows what came back.
func ReadStatus(ctx context.Context, net fcgireq.NetOptions, uri string) (*fpmstatus.Status, error) {
	f, err := fcgireq.FetchPage(ctx, net, uri)
	if err != nil {
		return nil, err
	}
	if f.CGI.Status != 200 {
		return nil, &runenv.CodeError{Code: runenv.ExitCheckFailed, Msg: fmt.Sprintf("%s: status %d, body %s", fpmstatus.ErrNotStatusPage, f.CGI.Status, QuoteBody(strings.TrimSpace(string(f.Body))))}
	}
	s, err := fpmstatus.Parse(f.Body)
	if err != nil {
		return nil, &runenv.CodeError{Code: runenv.ExitCheckFailed, Msg: fmt.Sprintf("%v; body %s", err, QuoteBody(strings.TrimSpace(string(f.Body))))}
	}
	return s, nil
}

// PoolResult is what a reading of several pools learnt of one: its page or
// the error that stands for it, and, once checked, the thresholds it
// crossed and the notes about checks that could not be made.
type PoolResult struct {
	Addr     string
	Status   *fpmstatus.Status
	Err      error
	Failures []Failure
	Notes    []string
}

// ReadPools reads every target's status page at once, each within net's
// deadlines, and returns the results in the targets' order. A target
// that stands for a failure keeps it.
func ReadPools(ctx context.Context, net fcgireq.NetOptions, targets []Target, uri string) []PoolResult {
	results := make([]PoolResult, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		r := &results[i]
		r.Addr, r.Err = t.Addr, t.Err
		if r.Err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := net
			o.Connect = r.Addr
			r.Status, r.Err = ReadStatus(ctx, o, uri)
		}()
	}
	wg.Wait()
	return results
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
