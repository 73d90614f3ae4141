package bench

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
)

func TestHistogramKnownLatencies(t *testing.T) {
	h := newHistogram()
	if h.Count() != 0 || h.Min() != 0 || h.Max() != 0 || h.Percentile(50) != 0 || h.Mean() != 0 || h.Bars(10) != nil {
		t.Fatal("an empty histogram reports values")
	}
	// 1..1000 ms, recorded largest first so that min and max cannot come
	// from the order of arrival.
	for i := 1000; i >= 1; i-- {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	if h.Count() != 1000 {
		t.Fatalf("count %d", h.Count())
	}
	if h.Min() != time.Millisecond || h.Max() != time.Second {
		t.Fatalf("min %s max %s, want 1ms and 1s", h.Min(), h.Max())
	}
	if h.Mean() != 500500*time.Microsecond {
		t.Fatalf("mean %s, want 500.5ms", h.Mean())
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{
		{0, time.Millisecond}, {1, 10 * time.Millisecond}, {50, 500 * time.Millisecond}, {90, 900 * time.Millisecond},
		{99, 990 * time.Millisecond}, {99.9, 999 * time.Millisecond}, {100, time.Second},
	} {
		got := h.Percentile(c.p)
		// Within the histogram's precision (1/1024), and never below the
		// true value.
		if got < c.want || got > c.want+c.want/1024 {
			t.Errorf("p%g = %s, want %s (+%s at most)", c.p, got, c.want, c.want/1024)
		}
	}
	var sum int64
	bars := h.Bars(16)
	for i, b := range bars {
		sum += b.Count
		if i > 0 && b.UpTo <= bars[i-1].UpTo {
			t.Errorf("bar %d bound %s not above %s", i, b.UpTo, bars[i-1].UpTo)
		}
	}
	if sum != 1000 || len(bars) > 16 || bars[len(bars)-1].UpTo != time.Second || bars[0].UpTo < time.Millisecond {
		t.Errorf("bars %v: %d values, want 1000 in at most 16 bars from 1ms to 1s", bars, sum)
	}
}

func TestHistogramBuckets(t *testing.T) {
	// Every value falls in a bucket whose range holds it, the buckets
	// tile the line without gaps, and a bucket is at most 1/1024 of its
	// values wide.
	prevHi := int64(-1)
	for i := 0; i < histBuckets; i++ {
		lo, hi := bucketRange(i)
		if lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", i, lo, prevHi)
		}
		if hi-lo > lo/1024 {
			t.Fatalf("bucket %d [%d, %d] wider than 1/1024", i, lo, hi)
		}
		prevHi = hi
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		v := r.Int64N(1 << 41)
		lo, hi := bucketRange(bucketOf(v))
		if v < lo || v > hi {
			t.Fatalf("%d in bucket %d [%d, %d]", v, bucketOf(v), lo, hi)
		}
	}
	if bucketOf(1<<50) != histLastIndex || bucketOf(-5) != 0 {
		t.Fatal("out-of-range values are not clamped")
	}
	h := newHistogram()
	h.Record(2 * time.Hour) // beyond the buckets: the maximum stays exact
	if h.Max() != 2*time.Hour || h.Percentile(99) != 2*time.Hour {
		t.Fatalf("max %s p99 %s", h.Max(), h.Percentile(99))
	}
}

func TestContainsWriter(t *testing.T) {
	text := "hello, fcgicli world"
	for split := 0; split <= len(text); split++ {
		for split2 := split; split2 <= len(text); split2++ {
			c := containsWriter{needle: []byte("fcgicli")}
			c.Write([]byte(text[:split]))
			c.Write([]byte(text[split:split2]))
			c.Write([]byte(text[split2:]))
			if !c.found {
				t.Fatalf("not found when written as %q %q %q", text[:split], text[split:split2], text[split2:])
			}
		}
	}
	c := containsWriter{needle: []byte("fcgicli")}
	for _, b := range []byte("fcgicl fcgi cli fcgiclI") {
		c.Write([]byte{b})
	}
	if c.found {
		t.Fatal("found where it is not")
	}
	c.reset()
	c.Write([]byte("xxfcg"))
	c.Write([]byte("icli"))
	if !c.found {
		t.Fatal("not found across writes after reset")
	}
}

// TestBenchInjectedLatencies checks the report against a server that
// imposes known latencies: of every 100 requests, 50 take 100ms, 40 take
// 200ms, 9 take 400ms and 1 takes 800ms, whichever connection they come
// on. On a loaded machine a sleep can overrun, so the server also measures
// what each request really took there; the report's figures must lie
// between those and the same plus room for a round trip on a busy machine.
// The levels are 100ms apart at the least, so that this room (90ms) still
// tells each percentile from the next: the delays dominate the noise, and
// the arithmetic itself is checked to the microsecond by
// TestHistogramKnownLatencies.
func TestBenchInjectedLatencies(t *testing.T) {
	var n atomic.Int64
	var mu sync.Mutex
	var served []int64 // µs each request spent in the server
	addr := serveFCGI(t, func(ctx context.Context, w *fcgiwire.ResponseWriter, r *fcgiwire.ServerRequest) {
		start := time.Now()
		i := (n.Add(1) - 1) % 100
		d := 100 * time.Millisecond
		switch {
		case i >= 99:
			d = 800 * time.Millisecond
		case i >= 90:
			d = 400 * time.Millisecond
		case i >= 50:
			d = 200 * time.Millisecond
		}
		time.Sleep(d)
		mu.Lock()
		served = append(served, time.Since(start).Microseconds())
		mu.Unlock()
		okResponse(w)
	})
	code, rep, stderr := runBenchArgs(t, context.Background(), "-c", addr, "/x", "-C", "4", "-n", "100")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if rep.Requests != 100 || rep.Succeeded != 100 || rep.Failed != 0 || rep.StatusCodes[200] != 100 || rep.ConnectionsServed != 4 {
		t.Fatalf("report %+v", rep)
	}
	mu.Lock()
	slices.Sort(served)
	mu.Unlock()
	// rank is the nearest-rank percentile of what the server measured.
	rank := func(q float64) int64 {
		k := int(q*float64(len(served)) + 0.999999)
		return served[max(k, 1)-1]
	}
	var sum int64
	for _, v := range served {
		sum += v
	}
	// Each latency is at least the imposed one and what the server saw,
	// and at most that plus the round trip and the scheduling of a busy
	// machine (the race detector included), less than the 100ms between
	// two levels.
	const slack = 90_000
	for _, c := range []struct {
		name      string
		imposed   int64
		atServer  int64
		tolerance int64
	}{
		{"min", 100_000, served[0], slack}, {"p50", 100_000, rank(0.50), slack}, {"p90", 200_000, rank(0.90), slack},
		{"p99", 400_000, rank(0.99), slack}, {"p999", 800_000, rank(0.999), slack}, {"max", 800_000, served[len(served)-1], slack},
		{"mean", 174_000, sum / int64(len(served)), slack},
	} {
		got := latencyUS(rep, c.name)
		low := max(c.imposed, c.atServer)
		// The histogram keeps values to within 1/1024.
		if got < low-low/1024-1 || got > c.atServer+c.tolerance {
			t.Errorf("%s = %dµs, want from %dµs (imposed %dµs, measured at the server %dµs) to %dµs",
				c.name, got, low, c.imposed, c.atServer, c.atServer+c.tolerance)
		}
	}
	var total int64
	for _, b := range rep.Histogram {
		total += b.Count
	}
	if total != 100 || rep.Histogram[len(rep.Histogram)-1].UpTo.Microseconds() != latencyUS(rep, "max") {
		t.Errorf("histogram %+v: %d requests, want 100 up to the max", rep.Histogram, total)
	}
	if rep.RPS() <= 0 || rep.BytesSent <= 0 || rep.BytesReceived <= 0 {
		t.Errorf("rps %g, bytes %d/%d", rep.RPS(), rep.BytesSent, rep.BytesReceived)
	}
}

// TestBenchOpenLoop checks that with --rate latency counts from the
// intended send time: a server that stalls 200ms once makes every request
// scheduled meanwhile late, where a closed loop would see one slow request.
func TestBenchOpenLoop(t *testing.T) {
	stall := func() string {
		var n atomic.Int64
		return serveFCGI(t, func(ctx context.Context, w *fcgiwire.ResponseWriter, r *fcgiwire.ServerRequest) {
			if n.Add(1) == 1 {
				time.Sleep(200 * time.Millisecond)
			}
			okResponse(w)
		})
	}
	code, open, stderr := runBenchArgs(t, context.Background(), "-c", stall(), "/x", "-n", "30", "--rate", "100")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	code, closed, stderr := runBenchArgs(t, context.Background(), "-c", stall(), "/x", "-n", "30")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	// Open loop: 19 requests were due during the stall, waiting 10 to
	// 190ms; the median is one of them.
	if latencyUS(open, "p50") < 20_000 || latencyUS(open, "max") < 200_000 {
		t.Errorf("open loop: p50 %dµs, max %dµs; want p50 >= 20ms and max >= 200ms", latencyUS(open, "p50"), latencyUS(open, "max"))
	}
	// Closed loop: one slow request, the rest not delayed by it (their
	// median is far below the stall, even on a loaded machine).
	if latencyUS(closed, "p50") >= 100_000 || latencyUS(closed, "max") < 200_000 {
		t.Errorf("closed loop: p50 %dµs, max %dµs; want p50 < 100ms and max >= 200ms", latencyUS(closed, "p50"), latencyUS(closed, "max"))
	}
	// 30 requests at 100/s take about 300ms.
	if open.Duration < 280*time.Millisecond {
		t.Errorf("open loop took %s, want about 300ms", open.Duration)
	}
}

func TestBenchInterrupted(t *testing.T) {
	addr := serveFCGI(t, func(ctx context.Context, w *fcgiwire.ResponseWriter, r *fcgiwire.ServerRequest) {
		time.Sleep(5 * time.Millisecond)
		okResponse(w)
	})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	code, rep, stderr := runBenchArgs(t, ctx, "-c", addr, "/x", "-C", "2", "-z", "10m")
	if code != runenv.ExitInterrupted || !strings.HasSuffix(stderr, "fcgicli: interrupted\n") {
		t.Fatalf("exit %d, stderr %q; want 130 and interrupted", code, stderr)
	}
	if !rep.Interrupted || rep.Requests == 0 || rep.Failed != 0 || rep.Duration >= 600*time.Second {
		t.Fatalf("report %+v: want the requests done before the interrupt, none failed", rep)
	}
}

// TestBenchReconnects runs against a server that closes each kept-alive
// connection after 3 requests, as php-fpm children do at pm.max_requests:
// the requests are sent again on a new connection, and none fails.
func TestBenchReconnects(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	// The answer, on the request's id as every application answers.
	resp := func(id uint16) []byte {
		var b strings.Builder
		w := fcgiwire.NewWriter(&b)
		w.WriteRecord(fcgiwire.TypeStdout, id, []byte("Status: 200 OK\r\n\r\nok\n"))
		w.WriteRecord(fcgiwire.TypeStdout, id, nil)
		w.WriteRecord(fcgiwire.TypeEndRequest, id, fcgiwire.EndRequest{}.Encode())
		w.Flush()
		return []byte(b.String())
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				r := fcgiwire.NewReader(bufio.NewReader(c))
				for served := 0; served < 3; {
					rec, err := r.ReadRecord()
					if err != nil {
						return
					}
					if rec.Type == fcgiwire.TypeStdin && len(rec.Content) == 0 {
						if _, err := c.Write(resp(rec.RequestID)); err != nil {
							return
						}
						served++
					}
				}
			}()
		}
	}()
	code, rep, stderr := runBenchArgs(t, context.Background(), "-c", l.Addr().String(), "/x", "-n", "20")
	if code != 0 || rep.Succeeded != 20 || rep.Failed != 0 {
		t.Fatalf("exit %d, report %+v, stderr %s", code, rep, stderr)
	}
	// 20 requests, 3 per connection: the first connection was made before
	// the run, the 6 after it when the server had closed the last one.
	if rep.Reconnects != 6 {
		t.Errorf("reconnects %d, want 6", rep.Reconnects)
	}
}

func TestTally(t *testing.T) {
	var a, b tally
	for _, k := range []int64{200, 200, 404, 200, 0, 404, 200} {
		a.add(k)
	}
	b.add(404)
	b.add(503)
	b.addTally(&a)
	got := tallyMap(&b, func(k int64) int { return int(k) })
	want := map[int]int64{0: 1, 200: 4, 404: 3, 503: 1}
	if !maps.Equal(got, want) {
		t.Fatalf("tally = %v, want %v", got, want)
	}
	var empty tally
	if m := tallyMap(&empty, func(k int64) int64 { return k }); m == nil || len(m) != 0 {
		t.Fatalf("empty tally = %#v, want an empty map", m)
	}
}

func TestBenchProcs(t *testing.T) {
	for _, c := range []struct {
		cpus, conns int
		envSet      bool
		avail, want int
	}{
		{0, 1, false, 2, 1},
		{0, 16, false, 2, 1},
		{0, 16, false, 1, 1},
		{0, 16, false, 8, 4},
		{0, 3, false, 8, 3},
		{0, 16, false, 9, 4},
		{0, 16, true, 8, 0},  // $GOMAXPROCS: the runtime already follows it
		{6, 2, true, 8, 6},   // --cpus wins over both
		{3, 16, false, 2, 3}, // and may ask for more than there are
	} {
		if got := Procs(c.cpus, c.conns, c.envSet, c.avail); got != c.want {
			t.Errorf("Procs(%d, %d, %v, %d) = %d, want %d", c.cpus, c.conns, c.envSet, c.avail, got, c.want)
		}
	}
}

// TestBenchRateWarning: under --rate, the warning that the application
// could not keep up is given when requests went out late because every
// connection was busy, with -n and with -z; not when only the last answer
// was slow, which stretches the run but delayed no request.
func TestBenchRateWarning(t *testing.T) {
	slow := serveFCGI(t, func(ctx context.Context, w *fcgiwire.ResponseWriter, r *fcgiwire.ServerRequest) {
		time.Sleep(20 * time.Millisecond)
		okResponse(w)
	})
	const warned = "fcgicli: warning: asked for 200 requests/s, sent "
	for _, c := range []struct {
		args []string
		end  string
	}{
		// -n: every request went out in the end, late.
		{[]string{"-n", "20"}, ": the application could not keep up, and the latencies include the wait\n"},
		// -z: the ones due but never sent are in the latencies too.
		{[]string{"-z", "300ms"}, ": the application could not keep up, and the latencies include the wait, for the "},
	} {
		// One connection and 20ms a request: about 50 requests/s go out.
		code, rep, stderr := runBenchArgs(t, context.Background(), append([]string{"-c", slow, "/x", "-C", "1", "--rate", "200"}, c.args...)...)
		if code != 0 || !strings.HasPrefix(stderr, warned) || !strings.Contains(stderr, c.end) {
			t.Errorf("%v: exit %d, stderr %q", c.args, code, stderr)
		}
		if c.args[0] == "-z" && !strings.HasSuffix(stderr, fmt.Sprintf(" %d requests never sent the wait until the run ended\n", rep.Unsent)) {
			t.Errorf("%v: stderr %q, want the %d never sent", c.args, stderr, rep.Unsent)
		}
	}

	var n atomic.Int64
	lastSlow := serveFCGI(t, func(ctx context.Context, w *fcgiwire.ResponseWriter, r *fcgiwire.ServerRequest) {
		if n.Add(1) == 21 {
			time.Sleep(time.Second)
		}
		okResponse(w)
	})
	// 21 requests due over 2s, all sent on time: a send would have to be
	// more than 200ms late to warn, which no loaded machine comes near.
	// The last answer comes 1s later, which puts the answers' rate at
	// about 7/s, far below the 9/s that would warn.
	code, rep, stderr := runBenchArgs(t, context.Background(), "-c", lastSlow, "/x", "-C", "2", "--rate", "10", "-n", "21")
	if code != 0 || stderr != "" || rep.Succeeded != 21 {
		t.Errorf("last answer slow: exit %d, %d ok, stderr %q", code, rep.Succeeded, stderr)
	}
}

// serveQueued serves h on 127.0.0.1 to at most k connections at a time,
// as php-fpm with k children does: the kernel accepts the others, and
// they wait in the listen queue, their requests unread, until a served
// connection closes.
func serveQueued(t *testing.T, k int, h fcgiwire.HandlerFunc) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fcgiwire.Server{Handler: h, MaxConns: 100, MaxReqs: 100}
	slots := make(chan struct{}, k)
	go func() {
		for {
			slots <- struct{}{}
			nc, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer func() { <-slots }()
				srv.ServeConn(nc)
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return l.Addr().String()
}

// TestBenchListenQueue: in a -n run against a server that serves two
// connections at a time, the third waits in the listen queue until one of
// the others has no request left and closes, and gets its one answer only
// then: it was not served, and the run warns about it as a -z run does.
// Two connections with one request each, against a server of one, are
// not flagged: the second waited for no more than one request.
func TestBenchListenQueue(t *testing.T) {
	addr := serveQueued(t, 2, func(ctx context.Context, w *fcgiwire.ResponseWriter, r *fcgiwire.ServerRequest) {
		time.Sleep(5 * time.Millisecond)
		okResponse(w)
	})
	code, rep, stderr := runBenchArgs(t, context.Background(), "-c", addr, "/x", "-C", "3", "-n", "40", "--status-path", "")
	if code != 0 || rep.Succeeded != 40 || rep.Failed != 0 || rep.Unfinished != 0 {
		t.Fatalf("exit %d, report %+v, stderr %s", code, rep, stderr)
	}
	if rep.ConnectionsServed != 2 {
		t.Errorf("connections_served %d, want 2", rep.ConnectionsServed)
	}
	const warning = "fcgicli: warning: only 2 of 3 connections got an answer; the other 1 waited the whole run\n"
	if !strings.HasPrefix(stderr, warning) || !strings.Contains(stderr, "leaves the other connections in its listen queue") {
		t.Errorf("stderr %q, want the warning %q and the explanation", stderr, warning)
	}

	one := serveQueued(t, 1, func(ctx context.Context, w *fcgiwire.ResponseWriter, r *fcgiwire.ServerRequest) {
		time.Sleep(5 * time.Millisecond)
		okResponse(w)
	})
	code, rep, stderr = runBenchArgs(t, context.Background(), "-c", one, "/x", "-C", "2", "-n", "2", "--status-path", "")
	if code != 0 || rep.Succeeded != 2 || rep.ConnectionsServed != 2 || stderr != "" {
		t.Errorf("-C 2 -n 2 against one at a time: exit %d, %d ok, connections_served %d, stderr %q; want 0, 2, 2 and none",
			code, rep.Succeeded, rep.ConnectionsServed, stderr)
	}
}

// TestBenchNoneAnswered: a -z run against an application that never
// answers within it has no request that succeeded: exit 1, not 0, with a
// line that says why, after the report.
func TestBenchNoneAnswered(t *testing.T) {
	// The application answers only after a minute, or when the client
	// gives up on the request first (its connection closes): each handler
	// says which came first.
	ended := make(chan string, 2)
	addr := serveFCGI(t, func(ctx context.Context, w *fcgiwire.ResponseWriter, r *fcgiwire.ServerRequest) {
		select {
		case <-ctx.Done():
			ended <- "client gave up"
		case <-time.After(time.Minute):
			ended <- "answered"
		}
		okResponse(w)
	})
	code, rep, stderr := runBenchArgs(t, context.Background(), "-c", addr, "/x", "-C", "2", "-z", "300ms", "--status-path", "")
	if code != runenv.ExitCheckFailed || !strings.HasSuffix(stderr, "\nfcgicli: no request was answered: 2 unfinished when the run ended\n") {
		t.Errorf("exit %d, stderr %q; want 1 and the reason", code, stderr)
	}
	if rep.Requests != 0 || rep.Unfinished != 2 || rep.Interrupted {
		t.Errorf("report %+v: want 0 requests, 2 unfinished", rep)
	}
	// bench gave up on both at the end of the run, not waiting for them.
	for range 2 {
		if how := <-ended; how != "client gave up" {
			t.Errorf("a request was %s: bench waited past -z for it", how)
		}
	}
}

// TestHistogramRecordSpaced: evenly spaced values counted at once land in
// the same buckets, with the same count, min, max and (to within the
// rounding of each value) sum, as the same values recorded one by one.
func TestHistogramRecordSpaced(t *testing.T) {
	for _, c := range []struct {
		first, step float64
		n           int64
	}{
		{0, 1, 5000}, {10_000_000.5, 10_000_000, 80}, {3, 0.25, 10000}, {1e9, 333_333.3, 3000}, {-5, 7, 10}, {42, 0, 7}, {1e6, 1e6, 1},
	} {
		a, b := newHistogram(), newHistogram()
		a.RecordSpaced(c.first, c.step, c.n)
		for j := range c.n {
			b.Record(time.Duration(max(c.first, 0) + float64(j)*c.step))
		}
		for i := range a.counts {
			if a.counts[i].Load() != b.counts[i].Load() {
				lo, hi := bucketRange(i)
				t.Fatalf("%+v: bucket %d [%d, %d] counts %d, want %d", c, i, lo, hi, a.counts[i].Load(), b.counts[i].Load())
			}
		}
		if a.Count() != c.n || a.Min() != b.Min() || a.Max() != b.Max() || a.sum.Load() < b.sum.Load() || a.sum.Load() > b.sum.Load()+c.n {
			t.Errorf("%+v: count %d min %s max %s sum %d, want %d %s %s %d", c, a.Count(), a.Min(), a.Max(), a.sum.Load(), c.n, b.Min(), b.Max(), b.sum.Load())
		}
	}
	// Billions at once, counted per bucket (a loop per value would run
	// for minutes).
	h := newHistogram()
	h.RecordSpaced(0, 1, 5_000_000_000)
	if h.Count() != 5_000_000_000 || h.Max() != 4_999_999_999 {
		t.Errorf("5e9 values: count %d, max %d", h.Count(), h.Max())
	}
}

// TestBenchOpenLoopStallAtEnd: under --rate, an application that stalls
// for the rest of the run on its 20th request (at 190ms of a 1s run at
// 100/s) cannot hide the stall: the request in flight and the 80 due but
// never sent are counted, and are in the latencies at what they had waited
// when the run ended, so p50, p99 and max show the stall; the warning that
// the application could not keep up says so. Without --rate (closed loop)
// the run is as before: the one unfinished is not in the latencies.
func TestBenchOpenLoopStallAtEnd(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	stall := func() string {
		var n atomic.Int64
		return serveFCGI(t, func(ctx context.Context, w *fcgiwire.ResponseWriter, r *fcgiwire.ServerRequest) {
			if n.Add(1) == 20 {
				select {
				case <-release:
				case <-ctx.Done():
				case <-time.After(4 * time.Second):
				}
			}
			okResponse(w)
		})
	}
	code, rep, stderr := runBenchArgs(t, context.Background(), "-c", stall(), "/x", "-C", "1", "--rate", "100", "-z", "1s")
	if code != 0 || rep.Succeeded != 19 || rep.Failed != 0 || rep.Unfinished != 1 {
		t.Fatalf("exit %d, report %+v, stderr %s", code, rep, stderr)
	}
	// 100 due (at 0, 10ms ... 990ms), 20 sent.
	if rep.Unsent != 80 {
		t.Errorf("unsent %d, want 80", rep.Unsent)
	}
	var counted int64
	for _, b := range rep.Histogram {
		counted += b.Count
	}
	if counted != 100 {
		t.Errorf("histogram counts %d latencies, want 100 (19 answered, 1 unfinished, 80 never sent)", counted)
	}
	// The unfinished one was due at 190ms: 810ms at least. The ones never
	// sent, due at 200ms to 990ms: from 800ms down to 10ms. The 50th of
	// the 100 is the 31st never sent (310ms), the 99th the 80th (800ms).
	l := func(name string) int64 { return latencyUS(rep, name) }
	if l("max") < 810_000 || l("max") > 811_000 || l("p99") < 800_000 || l("p50") < 310_000 {
		t.Errorf("latencies %+v: want max 810ms, p99 at least 800ms and p50 at least 310ms", rep.Latency)
	}
	const warned = "fcgicli: warning: asked for 100 requests/s, sent 20.0: the application could not keep up, and the latencies include the wait, for the 80 requests never sent the wait until the run ended\n"
	if stderr != warned {
		t.Errorf("stderr %q, want %q", stderr, warned)
	}

	code, rep, stderr = runBenchArgs(t, context.Background(), "-c", stall(), "/x", "-C", "1", "-z", "500ms")
	if code != 0 || rep.Unfinished != 1 || rep.Unsent != 0 || rep.Succeeded < 19 {
		t.Fatalf("closed loop: exit %d, report %+v, stderr %s", code, rep, stderr)
	}
	counted = 0
	for _, b := range rep.Histogram {
		counted += b.Count
	}
	if counted != rep.Succeeded || latencyUS(rep, "max") > 300_000 {
		t.Errorf("closed loop: %d latencies for %d answered, max %dµs; want only the answered ones", counted, rep.Succeeded, latencyUS(rep, "max"))
	}
}

// TestBenchIdleConnections: with -C 4 -n 2, two connections have no
// request to send: they are not unserved, and no warning says they are.
// (A request takes 100ms, so that the second is surely claimed by another
// connection while the first waits.)
func TestBenchIdleConnections(t *testing.T) {
	addr := serveFCGI(t, func(ctx context.Context, w *fcgiwire.ResponseWriter, r *fcgiwire.ServerRequest) {
		time.Sleep(100 * time.Millisecond)
		okResponse(w)
	})
	code, rep, stderr := runBenchArgs(t, context.Background(), "-c", addr, "/x", "-C", "4", "-n", "2")
	if code != 0 || rep.Succeeded != 2 || stderr != "" {
		t.Fatalf("exit %d, report %+v, stderr %q", code, rep, stderr)
	}
	if rep.ConnectionsUsed != 2 || rep.ConnectionsServed != 2 {
		t.Errorf("connections_used %d, connections_served %d; want 2 and 2", rep.ConnectionsUsed, rep.ConnectionsServed)
	}
}

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	n atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// TestBenchNoKeepConnOneConnPerRequest: without keep-conn, every
// connection carries exactly one request: the one bench makes before the
// run, to tell a server that is not there, is the first request's, not a
// stray that php-fpm would give a child until it closes.
func TestBenchNoKeepConnOneConnPerRequest(t *testing.T) {
	for _, c := range []struct {
		args []string
		want int64
	}{{[]string{"-C", "2", "-n", "20"}, 20}, {[]string{"-C", "3", "-n", "1"}, 1}} {
		args := c.args
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		cl := &countingListener{Listener: l}
		var reqs atomic.Int64
		srv := &fcgiwire.Server{MaxConns: 100, MaxReqs: 100, Handler: fcgiwire.HandlerFunc(
			func(ctx context.Context, w *fcgiwire.ResponseWriter, r *fcgiwire.ServerRequest) {
				reqs.Add(1)
				okResponse(w)
			})}
		go srv.Serve(cl)
		code, rep, stderr := runBenchArgs(t, context.Background(), append([]string{"-c", l.Addr().String(), "/x", "--no-keep-conn"}, args...)...)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		srv.Shutdown(ctx)
		cancel()
		if code != 0 || rep.Succeeded != reqs.Load() || rep.Succeeded != c.want {
			t.Errorf("%v: exit %d, %d ok, server saw %d requests; stderr %q", args, code, rep.Succeeded, reqs.Load(), stderr)
		}
		if got := cl.n.Load(); got != reqs.Load() {
			t.Errorf("%v: %d connections for %d requests, want one each", args, got, reqs.Load())
		}
	}
}
