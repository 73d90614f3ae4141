// Package bench is the engine of 'fcgicli bench', a FastCGI load test.
// It owns the load loop: the -C workers and their connections (made before
// the clock starts, redialled when the application closes one, a request
// that got nothing back sent again once), the phases (the warmup, the
// measurement) and the open-loop schedule of --rate, the judging of each
// response, the tallies and the latency histogram, the detection of
// connections left in the application's listen queue, the warnings after a
// run and the assembly of the report. The per-request path allocates
// nothing: each worker reuses its request, parser and result.
//
// It must not import package commands or parse flags (the command turns
// them into Options), must not render the report (the command's formatter
// does, handed it by Run), must not call os.Exit, and holds no
// package-level mutable state: it writes only to the Env it is given.
package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

// Options is a run as the flags describe it.
type Options struct {
	fcgireq.Shape
	Concurrency    int           // -C: connections at once
	Procs          int           // GOMAXPROCS for the run; 0: leave it
	Requests       int64         // -n; 0: no count limit
	Duration       time.Duration // -z; 0: no time limit
	Rate           float64       // --rate, requests/s in all; 0: closed loop
	Warmup         time.Duration // --warmup
	RequestTimeout time.Duration // --request-timeout
	Expect         []byte        // --expect; empty: no check
	Fail           bool          // --fail: a CGI status of 400 or more fails
	StatusPath     string        // --status-path; empty: never read
	// Progress is how often the progress line is redrawn; 0: never.
	Progress time.Duration
}

// Procs returns how many CPUs (GOMAXPROCS) a run of conns
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
func Procs(cpus, conns int, envSet bool, avail int) int {
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

// worker is one of the -C connections.
type worker struct {
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
	stats                  *stats
	expect                 containsWriter
	timer                  *time.Timer
	req                    *fcgireq.Copy    // the run's request, this worker's copy
	x                      fcgireq.Exchange // sends it; its Result is reused
	parser                 fcgiwire.ResponseParser
}

func (w *worker) closeConn() {
	if w.conn != nil {
		w.conn.Close()
		w.conn = nil
	}
}

// runner runs a load test.
type runner struct {
	o       *Options
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
	// sample sends the run's request once more after it, and pairs are
	// its params, for the hint of a run whose every answer was an error.
	sample *fcgireq.Copy
	pairs  []fcgiwire.Pair
}

// Run runs the load test o describes, with env's stdin as the body of
// -d @-, and hands its report to report (the command's formatter); then,
// unless ctx ended, it writes the run's warnings on env.Stderr in pal's
// colours. It returns the error the run exits with: one of setting up
// (no report then), -t's timeout or an interruption, report's error, or a
// check failed when a request failed or none was answered.
func Run(ctx context.Context, o *Options, env *runenv.Env, pal *formatters.Palette, report func(*formatters.BenchReport) error) error {
	defer useProcs(o.Procs)()
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
	b := &runner{o: o, tgt: tgt, hist: newHistogram(), sample: req.Copy(), pairs: prep.Pairs}
	workers := make([]*worker, o.Concurrency)
	for i := range workers {
		if i%1024 == 0 && ctx.Err() != nil {
			// -t or Ctrl-C while setting up: nothing was run to report.
			return stopped(ctx)
		}
		t := time.NewTimer(time.Hour)
		t.Stop()
		w := &worker{stats: newStats(), expect: containsWriter{needle: o.Expect}, timer: t, req: req.Copy()}
		w.x.Parser, w.x.Unjudged = &w.parser, true
		if len(o.Expect) > 0 {
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
		return stopped(ctx)
	}
	if err != nil {
		return err
	}

	var stopProgress func()
	if o.Progress > 0 {
		stopProgress = b.showProgress(env, o.Progress)
	}
	if o.Warmup > 0 {
		b.warming.Store(true)
		b.runPhase(ctx, workers, &phase{start: time.Now(), end: time.Now().Add(o.Warmup), rate: o.Rate}, false)
		b.warming.Store(false)
		// The requests in flight when the warmup ended were aborted, and
		// their connections closed: open them again before the clock
		// starts.
		if o.KeepConn && ctx.Err() == nil {
			b.redial(ctx, workers)
		}
	}
	start := time.Now()
	ph := &phase{measure: true, start: start, limit: o.Requests, rate: o.Rate}
	if o.Duration > 0 {
		ph.end = start.Add(o.Duration)
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

	total := newStats()
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
	werr := report(rep)
	if ctx.Err() == nil {
		b.warn(ctx, env, pal, rep, ph, unserved)
	}
	switch {
	case ctx.Err() != nil:
		return stopped(ctx)
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
func queuedBehind(workers []*worker) []bool {
	out := make([]bool, len(workers))
	var done []*worker // the workers that closed at the end, answered twice or more
	for _, w := range workers {
		if !w.doneAt.IsZero() && !w.prevAnswer.IsZero() {
			done = append(done, w)
		}
	}
	if len(done) == 0 {
		return out
	}
	slices.SortFunc(done, func(a, b *worker) int { return a.doneAt.Compare(b.doneAt) })
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
		k, _ := slices.BinarySearchFunc(done, w.firstAnswer, func(d *worker, t time.Time) int {
			if d.doneAt.Before(t) {
				return -1
			}
			return 1
		})
		out[i] = k > 0 && latest[k-1].After(w.firstSent)
	}
	return out
}

// stopped is the error a run ended by ctx exits with: -t's timeout
// (4), or an interruption (130).
func stopped(ctx context.Context) error {
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
func (b *runner) connectAll(ctx context.Context, workers []*worker) error {
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
func (b *runner) redial(ctx context.Context, workers []*worker) {
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
func (b *runner) runPhase(ctx context.Context, workers []*worker, ph *phase, last bool) time.Time {
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stoppedAt := &ph.stopped
	stopAt := func() {
		stoppedAt.CompareAndSwap(0, time.Now().UnixNano())
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
func (b *runner) one(pctx context.Context, w *worker, ph *phase, intended time.Time) {
	// --request-timeout is a deadline on the connection, not a context
	// per request: contexts cost more than the rest of the client. A
	// request that runs out of it fails with a timeout, is aborted
	// (FCGI_ABORT_REQUEST) and its connection closed.
	ctx := pctx
	sendAt := intended // without --rate, next read the clock just now
	if ph.rate > 0 {
		sendAt = ph.now()
	}
	deadline := sendAt.Add(b.o.RequestTimeout)
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
	if (err != nil && pctx.Err() != nil) || (!ph.end.IsZero() && finished.After(ph.end)) {
		// The run ended (its time was up, Ctrl-C, --timeout) with this
		// request in flight: it is neither a success nor a failure. The
		// worker's context says so at once, while an interrupt's stopAt
		// runs in a goroutine of its own and may come later.
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
func (b *runner) dial(ctx context.Context, w *worker) error {
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

// showProgress redraws the progress line every interval until the
// returned function is called, which erases it.
func (b *runner) showProgress(env *runenv.Env, every time.Duration) func() {
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
