package commands

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/commands/fpmstatus"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

func benchCommand(env *runenv.Env) *cli.Command {
	return &cli.Command{
		Name:      "bench",
		Usage:     "load-test an application: many requests on many connections, with latency percentiles",
		ArgsUsage: "SCRIPT[?QUERY]",
		Description: `Sends the request that "fcgicli request" would send (same flags, same
params) over -C connections, as fast as the application answers or at
--rate requests per second, for -n requests or -z time (default: 10s), and
reports requests/s, bytes, latency percentiles with a histogram, and the
responses by CGI status, app status, protocol status and error class.

Connections are kept alive (FCGI_KEEP_CONN) unless --no-keep-conn, and
redialled when the application closes one (php-fpm children exiting at
pm.max_requests): a request that got nothing back is then sent again.
php-fpm gives each kept-alive connection a child of its own until the
client closes it: with more connections than children the rest wait in the
listen queue, and the report says how many connections were served.

With --rate the load is open-loop: each request has its intended start
time, and its latency counts from then, so a stalling application cannot
hide behind requests that were never sent. The requests due and not
answered when the run ends, in flight or never sent, count in the latencies
at what they had waited by then, a lower bound.

Exit 0 when every request succeeded, 1 when any failed (an error, a body
without --expect's text, with --fail a CGI status of 400 or more, a non-zero
app status) or none was answered at all, 3 when no connection could be made
at all, 4 at --timeout and 130 on Ctrl-C, both after printing the report for
what was done. Requests in flight when -z ends are unfinished, neither: to
fail on a stall, give a --request-timeout well under -z.

EXAMPLES:
   fcgicli bench -c 127.0.0.1:9000 /var/www/html/index.php -C 16 -z 10s
   fcgicli bench -c /run/php/php8.2-fpm.sock -r /var/www/html /index.php -n 10000 --expect 'Welcome'
   fcgicli bench -c 127.0.0.1:9000 /srv/api.php -d @payload.json -H 'Content-Type: application/json' --rate 500 -z 30s
   fcgicli bench -c 127.0.0.1:9000 /ping -C 4 -n 1000 -o json | jq .latency_us`,
		Flags: flagList(networkFlags(0), benchShapeFlags(), benchFlags(), []cli.Flag{colorFlag()}),
		Action: func(c *cli.Context) error {
			o, err := benchOptionsFrom(c, env)
			if err != nil {
				return err
			}
			outPal, err := palette(c, env, env.Stdout)
			if err != nil {
				return err
			}
			errPal, _ := palette(c, env, env.Stderr)
			return runBench(c.Context, o, env, outPal, errPal)
		},
	}
}

// benchShapeFlags are the request flags, with --keep-conn on by default.
func benchShapeFlags() []cli.Flag {
	var out []cli.Flag
	for _, f := range shapeFlags() {
		if f.Names()[0] == "keep-conn" {
			continue
		}
		out = append(out, f)
	}
	return append(out,
		&cli.BoolFlag{Name: "keep-conn", Value: true, Usage: "keep each connection for the next request (FCGI_KEEP_CONN)"},
		&cli.BoolFlag{Name: "no-keep-conn", Usage: "open a new connection for every request"},
	)
}

func benchFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "concurrency", Aliases: []string{"C"}, Value: 1, Usage: "run `N` connections at once (at most 65535)"},
		&cli.IntFlag{Name: "cpus", Usage: "run on at most `N` CPUs at once", DefaultText: "half of them, at most -C; $GOMAXPROCS when set"},
		&cli.Int64Flag{Name: "requests", Aliases: []string{"n"}, Usage: "stop after `N` requests"},
		&cli.DurationFlag{Name: "duration", Aliases: []string{"z"}, Usage: "stop after `DURATION` (default 10s when -n is not given)"},
		&cli.Float64Flag{Name: "rate", Usage: "send `R` requests per second in all, open-loop (0: as fast as answered)"},
		&cli.DurationFlag{Name: "warmup", Usage: "run for `DURATION` first without measuring"},
		&cli.DurationFlag{Name: "request-timeout", Value: 10 * time.Second, Usage: "give up on one request after `DURATION`"},
		&cli.StringFlag{Name: "expect", Usage: "count a response whose body lacks `TEXT` as failed"},
		&cli.BoolFlag{Name: "fail", Aliases: []string{"f"}, Usage: "count a CGI status of 400 or more as failed"},
		&cli.StringFlag{Name: "status-path", Value: "/status", Usage: "php-fpm's pm.status_path `PATH`, read to explain unserved connections (empty: never)"},
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "`FORMAT`: text or json"},
	}
}

type benchOptions struct {
	fcgireq.Shape
	concurrency    int
	procs          int // GOMAXPROCS for the run; 0: leave it
	requests       int64
	duration       time.Duration
	rate           float64
	warmup         time.Duration
	requestTimeout time.Duration
	expect         []byte
	fail           bool
	statusPath     string
	output         formatters.Format
	// progress is how often the progress line is redrawn; 0: never.
	progress time.Duration
}

// maxConcurrency is the most connections -C asks for: a client has 65535
// ports to connect to one address from (fewer in practice: Linux's
// ephemeral range is 28232), and each connection takes a worker of the
// application, which no application has tens of thousands of.
const maxConcurrency = 65535

// defaultBenchDuration is how long a run lasts without -n or -z.
const defaultBenchDuration = 10 * time.Second

func benchOptionsFrom(c *cli.Context, env *runenv.Env) (*benchOptions, error) {
	sh, err := shapeFrom(c, env)
	if err != nil {
		return nil, err
	}
	o := &benchOptions{
		Shape:          *sh,
		concurrency:    c.Int("concurrency"),
		requests:       c.Int64("requests"),
		duration:       c.Duration("duration"),
		rate:           c.Float64("rate"),
		warmup:         c.Duration("warmup"),
		requestTimeout: c.Duration("request-timeout"),
		expect:         []byte(c.String("expect")),
		fail:           c.Bool("fail"),
		statusPath:     c.String("status-path"),
	}
	o.KeepConn = c.Bool("keep-conn") && !c.Bool("no-keep-conn")
	if !c.IsSet("request-id") {
		// Each connection numbers its requests 1, 2, 3...: records an
		// application sends for a request after its END_REQUEST are then
		// told from the next request's (stray_record).
		o.RequestID = 0
	}
	if o.output, err = formatters.ParseFormat(c.String("output"), formatters.Text, formatters.JSON); err != nil {
		return nil, &runenv.UsageError{Msg: err.Error()}
	}
	switch {
	case o.concurrency < 1:
		return nil, runenv.Usagef("-C must be at least 1, got %d", o.concurrency)
	case o.concurrency > maxConcurrency:
		return nil, runenv.Usagef("-C must be at most %d, got %d", maxConcurrency, o.concurrency)
	case o.requests < 0:
		return nil, runenv.Usagef("-n cannot be negative")
	case c.IsSet("requests") && o.requests == 0:
		return nil, runenv.Usagef("-n must be at least 1")
	case o.duration < 0 || o.warmup < 0:
		return nil, runenv.Usagef("-z and --warmup cannot be negative")
	case c.IsSet("duration") && o.duration == 0:
		return nil, runenv.Usagef("-z must be more than 0")
	case o.rate < 0:
		return nil, runenv.Usagef("--rate cannot be negative")
	case o.requestTimeout <= 0:
		return nil, runenv.Usagef("--request-timeout must be more than 0")
	case c.IsSet("expect") && len(o.expect) == 0:
		return nil, runenv.Usagef("--expect needs a TEXT")
	case c.IsSet("cpus") && c.Int("cpus") < 1:
		return nil, runenv.Usagef("--cpus must be at least 1, got %d", c.Int("cpus"))
	}
	o.procs = benchProcs(c.Int("cpus"), o.concurrency, env.Getenv("GOMAXPROCS") != "", runtime.GOMAXPROCS(0))
	if o.requests == 0 && o.duration == 0 {
		o.duration = defaultBenchDuration
	}
	if runenv.IsTerminal(env.Stderr) {
		o.progress = 200 * time.Millisecond
	}
	return o, nil
}

// benchProcs returns how many CPUs (GOMAXPROCS) a run of conns
// connections uses: cpus when --cpus gave it; else none changed when
// $GOMAXPROCS is set (envSet; the runtime follows it); else half of avail
// (what Go would use), at least 1 and at most conns. 0 means leave it.
//
// The application under test is most often on the same machine, and a
// client's CPU is then taken from it. Half the CPUs leave it the other
// half; more than one CPU per connection cannot be used; and on few CPUs
// a Go program with more than one spends CPU of its own handing goroutines
// between threads (against php-fpm on 2 cores, up to a tenth of the
// requests/s).
func benchProcs(cpus, conns int, envSet bool, avail int) int {
	switch {
	case cpus > 0:
		return cpus
	case envSet:
		return 0
	}
	return max(1, min(avail/2, conns))
}

// useProcs sets GOMAXPROCS to n for a run (0: leaves it) and returns what
// puts it back as it was, for the shell's next command.
func useProcs(n int) func() {
	if n == 0 || n == runtime.GOMAXPROCS(0) {
		return func() {}
	}
	prev := runtime.GOMAXPROCS(n)
	return func() { runtime.GOMAXPROCS(prev) }
}

// benchPhase is one stretch of a run (the warmup, the measurement): who
// may send next and when.
type benchPhase struct {
	measure  bool
	start    time.Time
	end      time.Time // zero: no time limit
	limit    int64     // 0: no count limit
	rate     float64   // 0: closed loop
	tickets  atomic.Int64
	stopping atomic.Bool  // the phase's context ended: what is in flight is unfinished
	stopped  atomic.Int64 // when it ended, in unix nanoseconds; 0 while it runs
	sent     atomic.Int64 // under --rate: requests sent
	lastSent atomic.Int64 // under --rate: when the latest went out, in unix nanoseconds
}

// now is the time as the phase's clock tells it: its start plus the
// monotonic time since, one clock read where time.Now takes two (the wall
// clock as well). bench reads it twice per request.
func (p *benchPhase) now() time.Time { return p.start.Add(time.Since(p.start)) }

// sendRate is the rate at which the requests of a --rate run went out
// (false without --rate). It falls below the rate asked when requests were
// due while every connection was still busy. The rate of answers is no
// measure of that: in a short -n run the last answer's latency weighs on it.
func (p *benchPhase) sendRate() (float64, bool) {
	if p.rate <= 0 {
		return 0, false
	}
	n := p.sent.Load()
	if p.end.IsZero() || (p.limit > 0 && n >= p.limit) {
		// -n: every request went out; the requests after the first, over
		// the time from the start to the last one.
		span := time.Duration(p.lastSent.Load() - p.start.UnixNano())
		if n < 2 || span <= 0 {
			return 0, false
		}
		return float64(n-1) / span.Seconds(), true
	}
	// -z: what went out over the whole run.
	return float64(n) / p.end.Sub(p.start).Seconds(), true
}

// over is when the phase ended for a request still in flight then: its
// time limit, or the moment it was stopped if that came first.
func (p *benchPhase) over() time.Time {
	if s := p.stopped.Load(); s != 0 && (p.end.IsZero() || s < p.end.UnixNano()) {
		return time.Unix(0, s)
	}
	return p.end
}

// unsent returns, under --rate, how many requests were due before end
// but never sent (no connection was free for them), and the latencies
// they had at end at the least: first, then one more every 1/rate
// seconds. The requests due are those of the i with start + i/rate
// before end (at most -n); the ones never sent are counted as if they
// were the latest due, which gives each the shortest wait it can have had.
func (p *benchPhase) unsent(end time.Time) (n int64, first, step float64) {
	if p.rate <= 0 {
		return 0, 0, 0
	}
	step = float64(time.Second) / p.rate
	at := func(i int64) time.Time { return p.start.Add(time.Duration(float64(i) * step)) }
	span := end.Sub(p.start)
	due := int64(min(math.Ceil(float64(span)/step), 1<<62))
	if step >= 1 {
		// Where next's rounding down of i·step puts the bound.
		for due > 0 && !at(due-1).Before(end) {
			due--
		}
		for at(due).Before(end) {
			due++
		}
	}
	if p.limit > 0 {
		due = min(due, p.limit)
	}
	n = due - p.sent.Load()
	if n <= 0 {
		return 0, 0, 0
	}
	// The latest due was sent at i = due-1 after the start: i·step, not
	// the rounded-down time.Duration next used, so a wait never above
	// the real one.
	return n, float64(span) - float64(due-1)*step, step
}

// answeredInTime reports whether a response that started arriving at t
// did so while the phase ran: a connection queued behind the others may
// get its answer while the run winds down, which is not being served.
func (p *benchPhase) answeredInTime(t time.Time) bool {
	if t.IsZero() || (!p.end.IsZero() && t.After(p.end)) {
		return false
	}
	s := p.stopped.Load()
	return s == 0 || t.UnixNano() <= s
}

// next claims the next request and returns its intended start time, after
// waiting for it under --rate; false when the phase is over.
func (p *benchPhase) next(ctx context.Context, timer *time.Timer) (time.Time, bool) {
	if ctx.Err() != nil {
		return time.Time{}, false
	}
	i := p.tickets.Add(1) - 1
	if p.limit > 0 && i >= p.limit {
		return time.Time{}, false
	}
	now := p.now()
	if p.rate <= 0 {
		if !p.end.IsZero() && !now.Before(p.end) {
			return time.Time{}, false
		}
		return now, true
	}
	at := p.start.Add(time.Duration(float64(i) * float64(time.Second) / p.rate))
	if !p.end.IsZero() && !at.Before(p.end) {
		return time.Time{}, false
	}
	sentAt := now // late: no connection was free when it was due
	if wait := at.Sub(now); wait > 0 {
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-ctx.Done():
			return time.Time{}, false
		}
		sentAt = at
	}
	if ctx.Err() != nil {
		return time.Time{}, false
	}
	p.sent.Add(1)
	for {
		last := p.lastSent.Load()
		if sentAt.UnixNano() <= last || p.lastSent.CompareAndSwap(last, sentAt.UnixNano()) {
			break
		}
	}
	return at, true
}

// benchStats is what one worker measured; the workers' are added up at
// the end, so the hot path takes no lock.
type benchStats struct {
	succeeded, failed, unfinished int64
	bytesSent, bytesReceived      int64
	status                        tally // CGI status
	app                           tally // app status
	proto                         tally // fcgiwire.ProtocolStatus
	errs                          formatters.BenchErrors
	samples                       map[string]string
	expectFailed, statusFailed    int64
	appFailed, reconnects         int64
}

func newBenchStats() *benchStats {
	return &benchStats{samples: map[string]string{}}
}

func (s *benchStats) add(o *benchStats) {
	s.succeeded += o.succeeded
	s.failed += o.failed
	s.unfinished += o.unfinished
	s.bytesSent += o.bytesSent
	s.bytesReceived += o.bytesReceived
	s.status.addTally(&o.status)
	s.app.addTally(&o.app)
	s.proto.addTally(&o.proto)
	s.errs.Connect += o.errs.Connect
	s.errs.Timeout += o.errs.Timeout
	s.errs.Protocol += o.errs.Protocol
	s.errs.Refused += o.errs.Refused
	s.errs.Other += o.errs.Other
	s.errs.StrayRecord += o.errs.StrayRecord
	for k, v := range o.samples {
		if _, ok := s.samples[k]; !ok {
			s.samples[k] = v
		}
	}
	s.expectFailed += o.expectFailed
	s.statusFailed += o.statusFailed
	s.appFailed += o.appFailed
	s.reconnects += o.reconnects
}

// tally counts how often each key came. A run of one key (the usual case:
// every response alike) costs no map access, only an increment.
type tally struct {
	m    map[int64]*int64
	last int64
	n    *int64 // m[last], nil before the first add
}

func (t *tally) add(k int64) { t.addN(k, 1) }

func (t *tally) addN(k, n int64) {
	if t.n == nil || k != t.last {
		p := t.m[k]
		if p == nil {
			if t.m == nil {
				t.m = map[int64]*int64{}
			}
			p = new(int64)
			t.m[k] = p
		}
		t.last, t.n = k, p
	}
	*t.n += n
}

func (t *tally) addTally(o *tally) {
	for k, p := range o.m {
		t.addN(k, *p)
	}
}

// tallyMap returns t as a map, its keys made by key.
func tallyMap[K comparable](t *tally, key func(int64) K) map[K]int64 {
	out := make(map[K]int64, len(t.m))
	for k, p := range t.m {
		out[key(k)] += *p
	}
	return out
}

// benchWorker is one of the -C connections.
type benchWorker struct {
	conn   *fcgiwire.Conn
	used   bool // conn has carried a request: it may have been closed since
	tried  bool // this slot sent a request while measuring
	served bool // one of this slot's connections got an answer while measuring
	turned bool // a request of this slot failed otherwise than by waiting (reset, closed...)
	// What tells a connection served from one queued behind the others
	// (see queuedBehind), while measuring: when it first sent a request and
	// first got an answer, when its last two answers came, and when it
	// closed its connection at the end, its work done.
	firstSent, firstAnswer time.Time
	prevAnswer, lastAnswer time.Time
	doneAt                 time.Time
	stats                  *benchStats
	expect                 containsWriter
	timer                  *time.Timer
	req                    *fcgireq.Copy    // the run's request, this worker's copy
	x                      fcgireq.Exchange // sends it; its Result is reused
	parser                 fcgiwire.ResponseParser
}

func (w *benchWorker) closeConn() {
	if w.conn != nil {
		w.conn.Close()
		w.conn = nil
	}
}

// bencher runs a load test.
type bencher struct {
	o       *benchOptions
	tgt     *fcgireq.Target
	hist    *histogram
	done    atomic.Int64 // requests finished while measuring, for the progress line
	errors  atomic.Int64
	dialed  atomic.Bool // a connection was made at least once
	warming atomic.Bool // the warmup runs, for the progress line
	// spare is, without keep-conn, the connection connectAll made to tell
	// a server that is not there from one that fails requests: the first
	// request to go out takes it, so that every connection carries one
	// request (php-fpm gives each a child until it closes).
	spare atomic.Pointer[fcgiwire.Conn]
}

func runBench(ctx context.Context, o *benchOptions, env *runenv.Env, outPal, errPal *formatters.Palette) error {
	defer useProcs(o.procs)()
	ctx, cancel := o.Net.WithTimeout(ctx)
	defer cancel()
	prep, err := fcgireq.Prepare(ctx, &o.Shape, env.Stdin)
	if err != nil {
		return err
	}
	defer prep.Close()
	req, err := prep.Replay()
	if err != nil {
		return err
	}
	tgt, err := fcgireq.OpenTarget(o.Net)
	if err != nil {
		return err
	}
	defer tgt.Close()
	b := &bencher{o: o, tgt: tgt, hist: newHistogram()}
	workers := make([]*benchWorker, o.concurrency)
	for i := range workers {
		if i%1024 == 0 && ctx.Err() != nil {
			// -t or Ctrl-C while setting up: nothing was run to report.
			return benchStopped(ctx)
		}
		t := time.NewTimer(time.Hour)
		t.Stop()
		w := &benchWorker{stats: newBenchStats(), expect: containsWriter{needle: o.expect}, timer: t, req: req.Copy()}
		w.x.Parser, w.x.Unjudged = &w.parser, true
		if len(o.expect) > 0 {
			w.parser.Body = &w.expect
		}
		workers[i] = w
	}
	defer func() {
		for _, w := range workers {
			w.closeConn()
		}
		if c := b.spare.Swap(nil); c != nil {
			c.Close()
		}
	}()
	err = b.connectAll(ctx, workers)
	if ctx.Err() != nil {
		return benchStopped(ctx)
	}
	if err != nil {
		return err
	}

	var stopProgress func()
	if o.progress > 0 {
		stopProgress = b.showProgress(env, o.progress)
	}
	if o.warmup > 0 {
		b.warming.Store(true)
		b.runPhase(ctx, workers, &benchPhase{start: time.Now(), end: time.Now().Add(o.warmup), rate: o.rate}, false)
		b.warming.Store(false)
		// The requests in flight when the warmup ended were aborted, and
		// their connections closed: open them again before the clock
		// starts.
		if o.KeepConn && ctx.Err() == nil {
			b.redial(ctx, workers)
		}
	}
	start := time.Now()
	ph := &benchPhase{measure: true, start: start, limit: o.requests, rate: o.rate}
	if o.duration > 0 {
		ph.end = start.Add(o.duration)
	}
	var end time.Time
	if ctx.Err() == nil {
		end = b.runPhase(ctx, workers, ph, true)
	} else {
		end = start
	}
	if stopProgress != nil {
		stopProgress()
	}
	for _, w := range workers {
		w.closeConn()
	}

	total := newBenchStats()
	used, served, unserved := 0, 0, 0
	queued := queuedBehind(workers)
	for i, w := range workers {
		if queued[i] {
			// Answered only once another connection had closed at the end:
			// it waited in the listen queue, as one never answered does.
			w.served = false
		}
		total.add(w.stats)
		if w.tried {
			used++
		}
		switch {
		case w.served:
			served++
		case w.tried && !w.turned:
			// Waited for an answer the whole run: the listen queue's
			// symptom. One turned away shows in the errors instead.
			unserved++
		}
	}
	unsent, first, step := ph.unsent(end)
	b.hist.RecordSpaced(first, step, unsent)
	rep := b.report(total, used, served, end.Sub(start))
	rep.Unsent = unsent
	rep.Interrupted = ctx.Err() != nil
	var werr error
	if o.output == formatters.JSON {
		werr = formatters.WriteBenchJSON(env.Stdout, rep)
	} else {
		werr = formatters.WriteBenchText(env.Stdout, rep, outPal)
	}
	if ctx.Err() == nil {
		b.warn(ctx, env, errPal, rep, ph, unserved)
	}
	switch {
	case ctx.Err() != nil:
		return benchStopped(ctx)
	case werr != nil:
		return werr
	case rep.Failed > 0:
		return &runenv.CodeError{Code: runenv.ExitCheckFailed, Msg: fmt.Sprintf("%d of %d requests failed", rep.Failed, rep.Requests)}
	case rep.Requests == 0:
		// Not one success: a run that proved nothing is no pass (a -z
		// run against an application that never answers, or one shorter
		// than a request).
		var why []string
		if rep.Unfinished > 0 {
			why = append(why, fmt.Sprintf("%d unfinished when the run ended", rep.Unfinished))
		}
		if rep.Unsent > 0 {
			why = append(why, fmt.Sprintf("%d due but never sent", rep.Unsent))
		}
		msg := "no request was answered"
		if len(why) > 0 {
			msg += ": " + strings.Join(why, ", ")
		}
		return &runenv.CodeError{Code: runenv.ExitCheckFailed, Msg: msg}
	}
	return nil
}

// queuedBehind tells, for each worker, whether its connection waited in
// the application's listen queue until another one closed: php-fpm gives a
// kept-alive connection a child until the client closes it, and in a -n run
// a worker closes its connection once there is no request left for it,
// which lets a queued connection through for its one answer. A connection
// counts as queued when its first answer came only after another had
// closed at the end of its work, having been answered at least twice since
// the queued one first sent. (One answer in that time is not enough: with
// -C 2 -n 2 each connection has one request, and the second is answered
// after the first closes without having waited for anything but it.)
//
// It is O(n log n) in the workers: -C may be in the tens of thousands.
func queuedBehind(workers []*benchWorker) []bool {
	out := make([]bool, len(workers))
	var done []*benchWorker // the workers that closed at the end, answered twice or more
	for _, w := range workers {
		if !w.doneAt.IsZero() && !w.prevAnswer.IsZero() {
			done = append(done, w)
		}
	}
	if len(done) == 0 {
		return out
	}
	slices.SortFunc(done, func(a, b *benchWorker) int { return a.doneAt.Compare(b.doneAt) })
	// latest[i]: the latest second-to-last answer among done[:i+1].
	latest := make([]time.Time, len(done))
	for i, w := range done {
		latest[i] = w.prevAnswer
		if i > 0 && latest[i-1].After(latest[i]) {
			latest[i] = latest[i-1]
		}
	}
	for i, w := range workers {
		if w.firstAnswer.IsZero() {
			continue
		}
		// The workers that closed before w's first answer: w itself
		// closes after it, so it is never among them.
		k, _ := slices.BinarySearchFunc(done, w.firstAnswer, func(d *benchWorker, t time.Time) int {
			if d.doneAt.Before(t) {
				return -1
			}
			return 1
		})
		out[i] = k > 0 && latest[k-1].After(w.firstSent)
	}
	return out
}

// benchStopped is the error a run ended by ctx exits with: -t's timeout
// (4), or an interruption (130).
func benchStopped(ctx context.Context) error {
	if cause := context.Cause(ctx); cause != context.Canceled {
		return fcgireq.TimeoutCause(ctx, cause)
	}
	return &runenv.CodeError{Code: runenv.ExitInterrupted, Msg: "interrupted"}
}

// connectAll makes the workers' first connections, all at once, before
// the clock starts: with keep-conn, connecting is not what is measured.
// Without keep-conn one connection is made, to tell a server that is not
// there (exit 3) from one that fails requests, and kept as the spare that
// the first request sends on.
func (b *bencher) connectAll(ctx context.Context, workers []*benchWorker) error {
	n := len(workers)
	if !b.o.KeepConn {
		n = 1
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		if ctx.Err() != nil {
			// -t or Ctrl-C: no more connections; the caller sees ctx.
			break
		}
		wg.Go(func() {
			nc, err := b.tgt.Dial(ctx, b.o.Net.ConnectTimeout)
			if err != nil {
				errs[i] = err
				return
			}
			b.dialed.Store(true)
			if b.o.KeepConn {
				workers[i].conn = fcgiwire.NewConn(nc)
			} else {
				b.spare.Store(fcgiwire.NewConn(nc))
			}
		})
	}
	wg.Wait()
	if b.dialed.Load() {
		return nil
	}
	return errs[0]
}

// redial reconnects the workers that have no connection, all at once; a
// failure is left for the worker's next request to meet and count.
func (b *bencher) redial(ctx context.Context, workers []*benchWorker) {
	var wg sync.WaitGroup
	for _, w := range workers {
		if w.conn == nil {
			wg.Go(func() { _ = b.dial(ctx, w) })
		}
	}
	wg.Wait()
}

// runPhase runs the workers until the phase is over or ctx ends, and
// returns when the phase ended: the time limit, the moment ctx ended, or
// when the last request finished.
func (b *bencher) runPhase(ctx context.Context, workers []*benchWorker, ph *benchPhase, last bool) time.Time {
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stoppedAt := &ph.stopped
	stopAt := func() {
		stoppedAt.CompareAndSwap(0, time.Now().UnixNano())
		ph.stopping.Store(true)
		cancel()
	}
	if !ph.end.IsZero() {
		t := time.AfterFunc(time.Until(ph.end), stopAt)
		defer t.Stop()
	}
	unwatch := context.AfterFunc(ctx, stopAt)
	defer unwatch()
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() {
			// A context of the worker's own: every request checks it a
			// few times, and a context shared by every worker would be a
			// lock they all take for each.
			wctx, wcancel := context.WithCancel(pctx)
			defer wcancel()
			for {
				intended, ok := ph.next(wctx, w.timer)
				if !ok {
					break
				}
				b.one(wctx, w, ph, intended)
			}
			if last {
				// Free the server's worker at once: php-fpm serves a
				// queued connection only when a child's connection closes.
				if w.conn != nil {
					w.doneAt = time.Now()
				}
				w.closeConn()
			}
		})
	}
	wg.Wait()
	end := time.Now()
	if s := stoppedAt.Load(); s != 0 && time.Unix(0, s).Before(end) {
		end = time.Unix(0, s)
	}
	limitHit := ph.limit > 0 && ph.tickets.Load() >= ph.limit
	if !ph.end.IsZero() && (end.After(ph.end) || (!limitHit && ctx.Err() == nil)) {
		// The run lasted its -z: what finished later was not counted,
		// and under --rate the last request may have been due earlier.
		end = ph.end
	}
	return end
}

// one runs one request on w's connection, redialling when needed.
func (b *bencher) one(pctx context.Context, w *benchWorker, ph *benchPhase, intended time.Time) {
	// --request-timeout is a deadline on the connection, not a context
	// per request: contexts cost more than the rest of the client. A
	// request that runs out of it fails with a timeout, is aborted
	// (FCGI_ABORT_REQUEST) and its connection closed.
	ctx := pctx
	sendAt := intended // without --rate, next read the clock just now
	if ph.rate > 0 {
		sendAt = ph.now()
	}
	deadline := sendAt.Add(b.o.requestTimeout)
	// The worker's request and parser are reused: nothing of a request is
	// allocated that the last one could lend.
	parser := &w.parser
	parser.Reset()
	w.expect.reset()
	req := w.req.Request(parser)
	var res *fcgiwire.Result
	var err error
	reconnected := false
	for attempt := 0; ; attempt++ {
		if w.conn == nil {
			if err = b.dial(ctx, w); err != nil {
				break
			}
		}
		if err = w.conn.NetConn().SetDeadline(deadline); err != nil {
			w.closeConn()
			break
		}
		reused := w.used
		w.used = true
		res = &w.x.Result
		err = w.x.Send(ctx, w.conn, req)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// --request-timeout: the application is told, as with -t,
			// before the connection closes.
			w.conn.Abort(res.ID)
		}
		if err != nil || !w.conn.Reusable() {
			w.closeConn()
		}
		// A kept-alive connection the server has closed since (php-fpm
		// at pm.max_requests) fails before anything comes back: send the
		// request again on a new connection, once.
		if err != nil && reused && attempt == 0 && res.BytesReceived == 0 && ctx.Err() == nil &&
			(errors.Is(err, fcgiwire.ErrNoEndRequest) || errors.Is(err, fcgiwire.ErrConnBroken)) {
			reconnected = true
			parser.Reset()
			w.expect.reset()
			req = w.req.Request(parser)
			continue
		}
		break
	}
	finished := ph.now()
	if !ph.measure {
		return
	}
	s := w.stats
	if !w.tried {
		w.tried, w.firstSent = true, sendAt
	}
	if reconnected {
		s.reconnects++
	}
	if res != nil && !res.FirstByte.IsZero() {
		if w.firstAnswer.IsZero() {
			w.firstAnswer = res.FirstByte
		}
		w.prevAnswer, w.lastAnswer = w.lastAnswer, res.FirstByte
	}
	if res != nil && ph.answeredInTime(res.FirstByte) {
		w.served = true
	}
	if (err != nil && ph.stopping.Load() && pctx.Err() != nil) || (!ph.end.IsZero() && finished.After(ph.end)) {
		// The run ended (its time was up, Ctrl-C, --timeout) with this
		// request in flight: it is neither a success nor a failure.
		s.unfinished++
		if ph.rate > 0 {
			// Open loop: it had waited this long at least, and leaving
			// it out would hide a stall at the end of the run.
			b.hist.Record(ph.over().Sub(intended))
		}
		return
	}
	if res != nil {
		s.bytesSent += res.BytesSent
		s.bytesReceived += res.BytesReceived
		s.errs.StrayRecord += int64(res.StrayRecords)
	}
	failed := b.judge(s, &w.expect, parser, res, err)
	if err != nil && errorClass(err) != "timeout" {
		w.turned = true
	}
	if err == nil {
		b.hist.Record(finished.Sub(intended))
	}
	b.done.Add(1)
	if failed {
		s.failed++
		b.errors.Add(1)
	} else {
		s.succeeded++
	}
}

// dial gives w a new connection: the spare one connectAll made, if no
// request has taken it yet, or one it opens.
func (b *bencher) dial(ctx context.Context, w *benchWorker) error {
	if c := b.spare.Swap(nil); c != nil {
		w.conn, w.used = c, false
		return nil
	}
	nc, err := b.tgt.Dial(ctx, b.o.Net.ConnectTimeout)
	if err != nil {
		return err
	}
	b.dialed.Store(true)
	w.conn = fcgiwire.NewConn(nc)
	w.used = false
	return nil
}

// judge counts a finished request by its outcome and reports whether it
// failed.
func (b *bencher) judge(s *benchStats, expect *containsWriter, parser *fcgiwire.ResponseParser, res *fcgiwire.Result, err error) bool {
	if err != nil {
		class := errorClass(err)
		switch class {
		case "connect":
			s.errs.Connect++
		case "timeout":
			s.errs.Timeout++
		case "protocol":
			s.errs.Protocol++
		default:
			s.errs.Other++
		}
		if _, ok := s.samples[class]; !ok {
			s.samples[class] = errorMessage(err)
		}
		return true
	}
	s.proto.add(int64(res.ProtocolStatus))
	s.app.add(int64(res.AppStatus))
	if res.ProtocolStatus != fcgiwire.RequestComplete {
		s.errs.Refused++
		if _, ok := s.samples["refused"]; !ok {
			s.samples["refused"] = "the application refused the request: " + res.ProtocolStatus.String()
		}
		return true
	}
	failed := false
	if parser.Err != nil {
		s.errs.Protocol++
		if _, ok := s.samples["protocol"]; !ok {
			s.samples["protocol"] = parser.Err.Error()
		}
		failed = true
	} else if parser.Done {
		s.status.add(int64(parser.Response.Status))
		if b.o.fail && parser.Response.Status >= 400 {
			s.statusFailed++
			failed = true
		}
	}
	if res.AppStatus != 0 {
		s.appFailed++
		failed = true
	}
	if len(b.o.expect) > 0 && !expect.found {
		s.expectFailed++
		failed = true
	}
	return failed
}

// errorClass sorts a failed request's error into connect, timeout,
// protocol or other.
func errorClass(err error) string {
	var (
		ce *runenv.ConnectError
		te *runenv.TimeoutError
		pe *fcgiwire.ProtocolError
		le *fcgiwire.LocalError
	)
	switch {
	case errors.As(err, &te), errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	case errors.As(err, &ce):
		return "connect"
	case errors.As(err, &le):
		return "other"
	case errors.As(err, &pe), errors.Is(err, fcgiwire.ErrConnBroken):
		return "protocol"
	}
	return "other"
}

// errorMessage is the message a failed request is remembered by.
func errorMessage(err error) string {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return "no answer within --request-timeout"
	}
	_, msg := runenv.ExitCode(err)
	return msg
}

// report assembles the report from the added-up stats.
func (b *bencher) report(s *benchStats, used, served int, d time.Duration) *formatters.BenchReport {
	h := b.hist
	bars := h.Bars(16)
	out := make([]formatters.BenchBar, len(bars))
	for i, bar := range bars {
		out[i] = formatters.BenchBar{UpTo: bar.UpTo, Count: bar.Count}
	}
	return &formatters.BenchReport{
		Target: b.o.Net.Connect, Script: b.o.Spec.Script, Concurrency: b.o.concurrency, KeepConn: b.o.KeepConn, Rate: b.o.rate,
		Requests: s.succeeded + s.failed, Succeeded: s.succeeded, Failed: s.failed, Unfinished: s.unfinished,
		Duration: d, BytesSent: s.bytesSent, BytesReceived: s.bytesReceived,
		Latency: formatters.BenchLatency{
			Min: h.Min(), Mean: h.Mean(), P50: h.Percentile(50), P90: h.Percentile(90),
			P99: h.Percentile(99), P999: h.Percentile(99.9), Max: h.Max(),
		},
		Histogram:      out,
		StatusCodes:    tallyMap(&s.status, func(k int64) int { return int(k) }),
		AppStatus:      tallyMap(&s.app, func(k int64) uint32 { return uint32(k) }),
		ProtocolStatus: tallyMap(&s.proto, func(k int64) string { return fcgiwire.ProtocolStatus(k).String() }),
		Errors:         s.errs, ErrorSamples: s.samples,
		ExpectFailed: s.expectFailed, StatusFailed: s.statusFailed, AppFailed: s.appFailed,
		Reconnects: s.reconnects, ConnectionsUsed: used, ConnectionsServed: served,
	}
}

// showProgress redraws the progress line every interval until the
// returned function is called, which erases it.
func (b *bencher) showProgress(env *runenv.Env, every time.Duration) func() {
	w := env.Stderr
	if lt, ok := w.(*runenv.LineTracker); ok {
		// The line is erased at the end: it leaves no partial line behind.
		w = lt.W
	}
	start := time.Now()
	stop := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		var lastN int64
		last := start
		for {
			select {
			case <-stop:
				_ = formatters.ClearProgress(w)
				return
			case now := <-t.C:
				n := b.done.Load()
				rate := float64(n-lastN) / now.Sub(last).Seconds()
				lastN, last = n, now
				_ = formatters.WriteBenchProgress(w, b.warming.Load(), now.Sub(start), n, rate, b.errors.Load())
			}
		}
	}()
	return func() {
		close(stop)
		<-finished
	}
}

// containsWriter notes whether the bytes written to it contain needle,
// across write boundaries, keeping only len(needle)-1 bytes.
type containsWriter struct {
	needle  []byte
	found   bool
	tail    []byte
	scratch []byte
}

func (c *containsWriter) reset() {
	c.found = false
	c.tail = c.tail[:0]
}

func (c *containsWriter) Write(p []byte) (int, error) {
	if c.found || len(c.needle) == 0 {
		return len(p), nil
	}
	k := len(c.needle) - 1
	if len(c.tail) > 0 {
		c.scratch = append(append(c.scratch[:0], c.tail...), p[:min(len(p), k)]...)
		if bytes.Contains(c.scratch, c.needle) {
			c.found = true
			return len(p), nil
		}
	}
	if bytes.Contains(p, c.needle) {
		c.found = true
		return len(p), nil
	}
	if len(p) >= k {
		c.tail = append(c.tail[:0], p[len(p)-k:]...)
	} else {
		c.tail = append(c.tail, p...)
		if len(c.tail) > k {
			c.tail = append(c.tail[:0], c.tail[len(c.tail)-k:]...)
		}
	}
	return len(p), nil
}

// warn writes the run's warnings on stderr: connections that were never
// served (with what the application says about its limits), and a --rate
// the application could not keep up with.
func (b *bencher) warn(ctx context.Context, env *runenv.Env, pal *formatters.Palette, rep *formatters.BenchReport, ph *benchPhase, unserved int) {
	say := func(format string, args ...any) {
		fmt.Fprintf(env.Stderr, "fcgicli: %s %s\n", pal.Info.Sprint("warning:"), fmt.Sprintf(format, args...))
	}
	if unserved > 0 {
		say("only %d of %d connections got an answer; the other %d waited the whole run", rep.ConnectionsServed, rep.ConnectionsServed+unserved, unserved)
		for _, line := range b.explainUnserved(ctx) {
			fmt.Fprintf(env.Stderr, "fcgicli: %s\n", line)
		}
	}
	if rate, ok := ph.sendRate(); ok && rate < 0.9*b.o.rate {
		wait := "the latencies include the wait"
		if rep.Unsent > 0 {
			wait += fmt.Sprintf(", for the %d requests never sent the wait until the run ended", rep.Unsent)
		}
		say("asked for %g requests/s, sent %.1f: the application could not keep up, and %s", b.o.rate, rate, wait)
	}
}

// explainUnserved asks the application, after the run, why connections
// went unanswered: its FCGI_GET_VALUES limits and, for php-fpm, its
// status page. Each question is bounded to a second.
func (b *bencher) explainUnserved(ctx context.Context) []string {
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
	if b.o.statusPath != "" {
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
func (b *bencher) getValues(ctx context.Context) ([]fcgiwire.Pair, error) {
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
func (b *bencher) fpmStatus(ctx context.Context) (*fpmstatus.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	page, err := fcgireq.FetchPageFrom(ctx, b.tgt, time.Second, b.o.statusPath+"?json&full")
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
