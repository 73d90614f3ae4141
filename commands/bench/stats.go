package bench

import (
	"bytes"
	"context"
	"errors"
	"os"
	"time"

	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

// stats is what one worker measured; the workers' are added up at
// the end, so the hot path takes no lock.
type stats struct {
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

func newStats() *stats {
	return &stats{samples: map[string]string{}}
}

func (s *stats) add(o *stats) {
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

// judge counts a finished request by its outcome and reports whether it
// failed.
func (b *runner) judge(s *stats, expect *containsWriter, parser *fcgiwire.ResponseParser, res *fcgiwire.Result, err error) bool {
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
		if b.o.Fail && parser.Response.Status >= 400 {
			s.statusFailed++
			failed = true
		}
	}
	if res.AppStatus != 0 {
		s.appFailed++
		failed = true
	}
	if len(b.o.Expect) > 0 && !expect.found {
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
func (b *runner) report(s *stats, used, served int, d time.Duration) *formatters.BenchReport {
	h := b.hist
	bars := h.Bars(16)
	out := make([]formatters.BenchBar, len(bars))
	for i, bar := range bars {
		out[i] = formatters.BenchBar{UpTo: bar.UpTo, Count: bar.Count}
	}
	return &formatters.BenchReport{
		Target: b.o.Net.Connect, Script: b.o.Spec.Script, Concurrency: b.o.Concurrency, KeepConn: b.o.KeepConn, Rate: b.o.Rate,
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
