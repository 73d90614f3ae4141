package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/commands/fpmstatus"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

// warn writes the run's warnings on stderr: connections that were never
// served (with what the application says about its limits), and a --rate
// the application could not keep up with.
func (b *runner) warn(ctx context.Context, env *runenv.Env, pal *formatters.Palette, rep *formatters.BenchReport, ph *phase, unserved int) {
	say := func(format string, args ...any) {
		fmt.Fprintf(env.Stderr, "fcgicli: %s %s\n", pal.Info.Sprint("warning:"), fmt.Sprintf(format, args...))
	}
	if unserved > 0 {
		say("only %d of %d connections got an answer; the other %d waited the whole run", rep.ConnectionsServed, rep.ConnectionsServed+unserved, unserved)
		for _, line := range b.explainUnserved(ctx) {
			fmt.Fprintf(env.Stderr, "fcgicli: %s\n", line)
		}
	}
	if rate, ok := ph.sendRate(); ok && rate < 0.9*b.o.Rate {
		wait := "the latencies include the wait"
		if rep.Unsent > 0 {
			wait += fmt.Sprintf(", for the %d requests never sent the wait until the run ended", rep.Unsent)
		}
		say("asked for %g requests/s, sent %.1f: the application could not keep up, and %s", b.o.Rate, rate, wait)
	}
}

// explainUnserved asks the application, after the run, why connections
// went unanswered: its FCGI_GET_VALUES limits and, for php-fpm, its
// status page. Each question is bounded to a second.
func (b *runner) explainUnserved(ctx context.Context) []string {
	var lines []string
	limits := ""
	if vals, err := b.getValues(ctx); err == nil {
		for _, p := range vals {
			if p.Name == fcgiwire.MaxConns || p.Name == fcgiwire.MaxReqs {
				limits += fmt.Sprintf(" %s=%s", p.Name, p.Value)
			}
		}
	}
	if limits != "" {
		lines = append(lines, "the application reports"+limits)
	}
	if b.o.StatusPath != "" {
		if s, err := b.fpmStatus(ctx); err == nil {
			// The process list, not "total processes": php-fpm 8.2's
			// counters drift once requests come on kept-alive connections.
			procs := int64(len(s.Processes))
			if procs == 0 {
				procs = s.TotalProcesses
			}
			lines = append(lines, fmt.Sprintf("php-fpm pool %q (pm %s) runs %s (max children reached %s since it started)",
				s.Pool, s.ProcessManager, plural(procs, "process", "processes"), plural(s.MaxChildrenReached, "time", "times")))
		}
	}
	if b.o.KeepConn {
		// Whether the application is php-fpm is not known here (its
		// status page is often off): the hint says what it applies to.
		lines = append(lines, "an application that gives each kept-alive connection a worker of its own until the client closes it, as php-fpm does, leaves the other connections in its listen queue: use -C no higher than its workers (php-fpm: pm.max_children), or --no-keep-conn")
	}
	return lines
}

// getValues asks for FCGI_MAX_CONNS and FCGI_MAX_REQS on a connection of
// its own.
func (b *runner) getValues(ctx context.Context) ([]fcgiwire.Pair, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	nc, err := b.tgt.Dial(ctx, time.Second)
	if err != nil {
		return nil, err
	}
	conn := fcgiwire.NewConn(nc)
	defer conn.Close()
	return conn.GetValues(ctx, []string{fcgiwire.MaxConns, fcgiwire.MaxReqs})
}

// fpmStatus reads php-fpm's status page at --status-path.
func (b *runner) fpmStatus(ctx context.Context) (*fpmstatus.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	page, err := fcgireq.FetchPageFrom(ctx, b.tgt, time.Second, b.o.StatusPath+"?json&full")
	if err != nil {
		return nil, err
	}
	if page.CGI == nil || page.CGI.Status != 200 {
		return nil, fpmstatus.ErrNotStatusPage
	}
	return fpmstatus.Parse(page.Body)
}

// plural gives "1 process", "2 processes".
func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
