package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/commands/fpmstatus"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

// warn writes the run's warnings on stderr: connections that were never
// served (with what the application says about its limits), a --rate the
// application could not keep up with, and a run whose every response had
// one error status (with the hint for it, when fcgicli knows the answer).
// What it asks the application after the run it asks at once and within
// one second in all, and never past the command's own deadline (ctx's);
// after a run in which no connection was served, it asks nothing.
func (b *runner) warn(ctx context.Context, env *runenv.Env, pal *formatters.Palette, rep *formatters.BenchReport, ph *phase, unserved int) {
	say := func(format string, args ...any) {
		fmt.Fprintf(env.Stderr, "fcgicli: %s %s\n", pal.Info.Sprint("warning:"), fmt.Sprintf(format, args...))
	}
	code := oneErrorStatus(rep)
	if unserved == 0 && code == 0 {
		if rate, ok := ph.sendRate(); ok && rate < 0.9*b.o.Rate {
			b.sayRate(say, rep, rate)
		}
		return
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var (
		wg     sync.WaitGroup
		vals   []fcgiwire.Pair
		status *fpmstatus.Status
		hint   string
	)
	// When not one connection was served, every worker was busy with
	// other work, and questions through the same address would wait
	// behind it for their whole second: they are not asked.
	if unserved > 0 && rep.ConnectionsServed > 0 {
		wg.Go(func() { vals, _ = b.getValues(ctx) })
		if b.o.StatusPath != "" {
			wg.Go(func() { status, _ = b.fpmStatus(ctx) })
		}
	}
	if code != 0 {
		wg.Go(func() { hint = b.sampleHint(ctx) })
	}
	wg.Wait()
	if unserved > 0 {
		say("only %d of %d connections got an answer; the other %d waited the whole run", rep.ConnectionsServed, rep.ConnectionsServed+unserved, unserved)
		for _, line := range b.explainUnserved(rep, vals, status) {
			fmt.Fprintf(env.Stderr, "fcgicli: %s\n", line)
		}
	}
	if rate, ok := ph.sendRate(); ok && rate < 0.9*b.o.Rate {
		b.sayRate(say, rep, rate)
	}
	if code != 0 {
		say("every response had CGI status %d %s: the run measured an error page", code, formatters.StatusText(code))
		if hint != "" {
			formatters.WriteHint(env.Stderr, hint)
		}
	}
}

// sayRate warns of a --rate the application could not keep up with.
func (b *runner) sayRate(say func(string, ...any), rep *formatters.BenchReport, rate float64) {
	wait := "the latencies include the wait"
	if rep.Unsent > 0 {
		wait += fmt.Sprintf(", for the %d requests never sent the wait until the run ended", rep.Unsent)
	}
	say("asked for %g requests/s, sent %.1f: the application could not keep up, and %s", b.o.Rate, rate, wait)
}

// oneErrorStatus returns the CGI status of 400 or more that every
// answered request had, 0 when there is none such.
func oneErrorStatus(rep *formatters.BenchReport) int {
	if rep.Requests == 0 || len(rep.StatusCodes) != 1 {
		return 0
	}
	for code, n := range rep.StatusCodes {
		if code >= 400 && n == rep.Requests {
			return code
		}
	}
	return 0
}

// sampleHint sends the run's request once more, on a connection of its
// own, keeping the start of its body and stderr, and returns the hint for
// the answer, "" when there is none or the request failed.
func (b *runner) sampleHint(ctx context.Context) string {
	nc, err := b.tgt.Dial(ctx, time.Second)
	if err != nil {
		return ""
	}
	conn := fcgiwire.NewConn(nc)
	defer conn.Close()
	body, stderr := &runenv.CapBuffer{Max: fcgireq.HintHead}, &runenv.CapBuffer{Max: fcgireq.HintHead}
	x := &fcgireq.Exchange{Parser: &fcgiwire.ResponseParser{Body: body}, JudgeCGI: true}
	req := b.sample.Request(x.Parser)
	req.Stderr = stderr
	if err := x.Send(ctx, conn, req); err != nil {
		return ""
	}
	return x.Hint(b.pairs, body.Buf, stderr.Buf, nil)
}

// explainUnserved says why connections went unanswered, from what the
// application said after the run: its FCGI_GET_VALUES limits and, for
// php-fpm, its status page. It advises a lower -C only when -C exceeds
// the workers that answered (the connections served or, when none was,
// the processes of the status page).
func (b *runner) explainUnserved(rep *formatters.BenchReport, vals []fcgiwire.Pair, s *fpmstatus.Status) []string {
	var lines []string
	limits := ""
	workers, of := 0, ""
	for _, p := range vals {
		if p.Name == fcgiwire.MaxConns || p.Name == fcgiwire.MaxReqs {
			limits += fmt.Sprintf(" %s=%s", p.Name, p.Value)
		}
	}
	if limits != "" {
		lines = append(lines, "the application reports"+limits)
	}
	if s != nil {
		// The process list, not "total processes": php-fpm 8.2's
		// counters drift once requests come on kept-alive connections.
		procs := int64(len(s.Processes))
		if procs == 0 {
			procs = s.TotalProcesses
		}
		lines = append(lines, fmt.Sprintf("php-fpm pool %q (pm %s) runs %s (max children reached %s since it started)",
			s.Pool, s.ProcessManager, plural(procs, "process", "processes"), plural(s.MaxChildrenReached, "time", "times")))
		if procs > 0 && rep.ConnectionsServed == 0 {
			workers, of = int(procs), "its processes"
		}
	}
	if rep.ConnectionsServed > 0 {
		// The workers that answered: what a declared limit
		// (FCGI_MAX_CONNS) says may be more than the application serves.
		workers, of = rep.ConnectionsServed, "the connections it served"
	}
	switch {
	case b.o.KeepConn && workers > 0 && b.o.Concurrency > workers:
		// Whether the application is php-fpm is not known here (its
		// status page is often off): the advice says what it applies to.
		lines = append(lines, fmt.Sprintf("an application that gives each kept-alive connection a worker of its own until the client closes it, as php-fpm does, leaves the other connections in its listen queue: -C %d is more than its %s (%s); use -C no higher than that (php-fpm: pm.max_children), or --no-keep-conn", b.o.Concurrency, plural(int64(workers), "worker", "workers"), of))
	case workers > 0:
		lines = append(lines, fmt.Sprintf("-C %d is within the application's %s (%s): they were busy with other work (other clients, slow requests); its status page tells (fcgicli status)", b.o.Concurrency, plural(int64(workers), "worker", "workers"), of))
	default:
		lines = append(lines, "no connection got an answer: the application's workers may all be busy with other work (other clients, slow requests), or it does not answer at all; php-fpm's status page tells (fcgicli status)")
	}
	return lines
}

// getValues asks for FCGI_MAX_CONNS and FCGI_MAX_REQS on a connection of
// its own.
func (b *runner) getValues(ctx context.Context) ([]fcgiwire.Pair, error) {
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
