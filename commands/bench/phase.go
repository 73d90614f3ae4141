package bench

import (
	"context"
	"math"
	"sync/atomic"
	"time"
)

// phase is one stretch of a run (the warmup, the measurement): who
// may send next and when.
type phase struct {
	measure  bool
	start    time.Time
	end      time.Time // zero: no time limit
	limit    int64     // 0: no count limit
	rate     float64   // 0: closed loop
	tickets  atomic.Int64
	stopped  atomic.Int64 // when it ended, in unix nanoseconds; 0 while it runs
	sent     atomic.Int64 // under --rate: requests sent
	lastSent atomic.Int64 // under --rate: when the latest went out, in unix nanoseconds
}

// now is the time as the phase's clock tells it: its start plus the
// monotonic time since, one clock read where time.Now takes two (the wall
// clock as well). bench reads it twice per request.
func (p *phase) now() time.Time { return p.start.Add(time.Since(p.start)) }

// sendRate is the rate at which the requests of a --rate run went out
// (false without --rate). It falls below the rate asked when requests were
// due while every connection was still busy. The rate of answers is no
// measure of that: in a short -n run the last answer's latency weighs on it.
func (p *phase) sendRate() (float64, bool) {
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
func (p *phase) over() time.Time {
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
func (p *phase) unsent(end time.Time) (n int64, first, step float64) {
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
func (p *phase) answeredInTime(t time.Time) bool {
	if t.IsZero() || (!p.end.IsZero() && t.After(p.end)) {
		return false
	}
	s := p.stopped.Load()
	return s == 0 || t.UnixNano() <= s
}

// next claims the next request and returns its intended start time, after
// waiting for it under --rate; false when the phase is over.
func (p *phase) next(ctx context.Context, timer *time.Timer) (time.Time, bool) {
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
