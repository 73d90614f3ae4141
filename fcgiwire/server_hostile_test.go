package fcgiwire

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// The Server against clients that misbehave: aborts, misordered streams,
// stalls, idling, floods of requests and of params, and management records
// meant to make it loop.

// expectCleanEOF checks that the server closed the connection with a FIN:
// a reset could have lost what it sent last.
func (c *rawConn) expectCleanEOF() {
	c.t.Helper()
	var b [1]byte
	if n, err := c.nc.Read(b[:]); err != io.EOF {
		c.t.Fatalf("read %d bytes (% x), %v; want a clean EOF", n, b[:n], err)
	}
}

// waitFor polls cond until it holds, failing the test after testBound.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting after %s for %s", testBound, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// errorLog collects what OnError hears.
func errorLog() (func(uint64, error), chan error) {
	ch := make(chan error, 16)
	return func(_ uint64, err error) { ch <- err }, ch
}

func expectError(t *testing.T, ch chan error, sentinel error) {
	t.Helper()
	select {
	case err := <-ch:
		if !errors.Is(err, sentinel) {
			t.Fatalf("OnError heard %v, want %v", err, sentinel)
		}
	case <-time.After(testBound):
		t.Fatalf("OnError never heard of %v", sentinel)
	}
}

// An early abort of a request without FCGI_KEEP_CONN does not close the
// connection under another request in flight on it: the other's response
// comes whole, then the connection closes cleanly.
func TestServerEarlyAbortKeepsOthers(t *testing.T) {
	addr := startTCP(t, &Server{Handler: HandlerFunc(echoHandler), MultiplexConns: true})
	c := dialRaw(t, addr)
	c.send(beginRec(1, RoleResponder, FlagKeepConn), rec(TypeParams, 1, "", 0))
	c.send(beginRec(2, RoleResponder, 0), streamRec(TypeParams, 2, "\x01\x01ab"), rec(TypeAbortRequest, 2, "", 0))
	c.expect("END_REQUEST for the early abort", endRec(2, 0, RequestComplete))
	c.send(streamRec(TypeStdin, 1, "in"), rec(TypeStdin, 1, "", 0))
	got := c.readResponses(1)[1]
	if want := echoOutput(1, RoleResponder, true, 1, nil, []byte("in")); string(got.stdout) != want || *got.end != (EndRequest{}) {
		t.Errorf("request 1 after the other's abort: %q %+v", got.stdout, got.end)
	}
	c.expectCleanEOF()
}

// The close after an early abort drains what the client sent after it, so
// that the END_REQUEST is not lost to a reset.
func TestServerEarlyAbortClosesCleanly(t *testing.T) {
	addr := startTCP(t, &Server{Handler: HandlerFunc(echoHandler)})
	c := dialRaw(t, addr)
	// More than the server reads at once follows the abort.
	var late [][]byte
	for range 4 {
		late = append(late, streamRec(TypeStdin, 3, strings.Repeat("x", 60000)))
	}
	c.send(append([][]byte{beginRec(3, RoleResponder, 0), rec(TypeAbortRequest, 3, "", 0)}, late...)...)
	c.expect("END_REQUEST for the early abort", endRec(3, 0, RequestComplete))
	c.expectCleanEOF()
}

// filterEcho reads a FILTER request's STDIN, then its DATA, and reports
// the sizes and errors of both.
func filterEcho(_ context.Context, w *ResponseWriter, r *ServerRequest) {
	n, err := io.Copy(io.Discard, r.Stdin)
	m, derr := io.Copy(io.Discard, r.Data)
	fmt.Fprintf(w.Stdout(), "stdin %d %v data %d %v", n, err, m, derr)
}

// dataRecs splits n bytes of DATA for request id into records.
func dataRecs(id uint16, n int) [][]byte {
	var out [][]byte
	for n > 0 {
		k := min(n, 60000)
		out = append(out, streamRec(TypeData, id, strings.Repeat("d", k)))
		n -= k
	}
	return out
}

// A FILTER whose DATA comes before its STDIN ends does not stop the
// connection: it goes on reading (a GET_VALUES is answered), the DATA is
// held for the handler, and the request completes once STDIN ends.
func TestServerFilterDataBeforeStdin(t *testing.T) {
	addr := startTCP(t, &Server{Handler: HandlerFunc(filterEcho)})
	c := dialRaw(t, addr)
	c.send(beginRec(1, RoleFilter, FlagKeepConn), rec(TypeParams, 1, "", 0))
	c.send(dataRecs(1, 300000)...)
	c.send(rec(TypeGetValues, 0, "", 8))
	if r, err := c.r.ReadRecord(); err != nil || r.Type != TypeGetValuesResult {
		t.Fatalf("GET_VALUES after DATA before STDIN's end: %+v %v", r.Header, err)
	}
	c.send(streamRec(TypeStdin, 1, "abc"), rec(TypeStdin, 1, "", 0), rec(TypeData, 1, "", 0))
	if got := c.readResponses(1)[1]; string(got.stdout) != "stdin 3 <nil> data 300000 <nil>" || *got.end != (EndRequest{}) {
		t.Errorf("response %q %+v", got.stdout, got.end)
	}
}

// DATA running ahead of STDIN past MaxBufferedBytes fails that request's
// streams; the connection goes on.
func TestServerFilterDataAheadBounded(t *testing.T) {
	addr := startTCP(t, &Server{Handler: HandlerFunc(filterEcho), MaxBufferedBytes: 200000})
	c := dialRaw(t, addr)
	c.send(beginRec(1, RoleFilter, FlagKeepConn), rec(TypeParams, 1, "", 0))
	c.send(dataRecs(1, 400000)...)
	got := c.readResponses(1)[1]
	if !strings.Contains(string(got.stdout), "(DATA record): stream too large: FCGI_DATA ran 180000 bytes ahead of the FCGI_STDIN its handler reads first") || *got.end != (EndRequest{}) {
		t.Errorf("response %q %+v", got.stdout, got.end)
	}
	// What was on its way for the failed request is dropped.
	c.send(rec(TypeData, 1, "", 0), rec(TypeStdin, 1, "", 0))
	c.send(beginRec(2, RoleFilter, 0), rec(TypeParams, 2, "", 0), rec(TypeStdin, 2, "", 0), streamRec(TypeData, 2, "dd"), rec(TypeData, 2, "", 0))
	if got := c.readResponses(2)[2]; string(got.stdout) != "stdin 0 <nil> data 2 <nil>" {
		t.Errorf("next request: %q", got.stdout)
	}
}

// FILTER requests left with DATA before STDIN's end by clients that then
// go away free their slots: with MaxReqs 1, the next request is served.
func TestServerFilterClientLeavesFreesSlot(t *testing.T) {
	addr := startTCP(t, &Server{Handler: HandlerFunc(filterEcho), MaxReqs: 1})
	for range 3 {
		c := dialRaw(t, addr)
		c.send(beginRec(1, RoleFilter, 0), rec(TypeParams, 1, "", 0))
		c.send(dataRecs(1, 300000)...)
		c.nc.Close()
		waitFor(t, "the slot to be freed", func() bool {
			c := dialRaw(t, addr)
			defer c.nc.Close()
			c.send(beginRec(1, RoleResponder, 0), rec(TypeParams, 1, "", 0), rec(TypeStdin, 1, "", 0))
			return c.readResponses(1)[1].end.ProtocolStatus == RequestComplete
		})
	}
}

// A handler that reads none of the STDIN held for it makes the connection
// wait at most ReadTimeout; then the connection is cut and the handler's
// context ends.
func TestServerHandlerNotReadingStalls(t *testing.T) {
	done := make(chan struct{})
	h := HandlerFunc(func(ctx context.Context, w *ResponseWriter, r *ServerRequest) {
		<-ctx.Done()
		close(done)
	})
	onErr, errs := errorLog()
	addr := startTCP(t, &Server{Handler: h, ReadTimeout: 100 * time.Millisecond, OnError: onErr})
	c := dialRaw(t, addr)
	c.send(beginRec(1, RoleResponder, 0), rec(TypeParams, 1, "", 0))
	c.send(dataRecsOf(TypeStdin, 1, 300000)...)
	expectError(t, errs, ErrStalled)
	c.expectEOF()
	select {
	case <-done:
	case <-time.After(testBound):
		t.Fatal("the handler's context never ended")
	}
}

func dataRecsOf(t RecordType, id uint16, n int) [][]byte {
	recs := dataRecs(id, n)
	for _, r := range recs {
		r[1] = byte(t)
	}
	return recs
}

// A client that stalls mid-record or mid-request is cut after ReadTimeout,
// and OnError hears why.
func TestServerReadTimeout(t *testing.T) {
	for name, send := range map[string][]byte{
		"mid-header":          {1, 1, 0},
		"mid-body":            beginRec(1, RoleResponder, 0)[:12],
		"params not ended":    cat(beginRec(1, RoleResponder, 0), streamRec(TypeParams, 1, "\x01\x01ab")),
		"stdin not ended":     cat(beginRec(1, RoleResponder, 0), rec(TypeParams, 1, "", 0), streamRec(TypeStdin, 1, "x")),
		"begun, nothing else": beginRec(1, RoleResponder, 0),
	} {
		t.Run(name, func(t *testing.T) {
			onErr, errs := errorLog()
			addr := startTCP(t, &Server{Handler: HandlerFunc(echoHandler), ReadTimeout: 100 * time.Millisecond, IdleTimeout: time.Hour, OnError: onErr})
			c := dialRaw(t, addr)
			c.send(send)
			expectError(t, errs, ErrStalled)
			c.expectEOF()
		})
	}
}

// A request whose input has all arrived is not cut by ReadTimeout however
// long its handler takes: the client owes nothing.
func TestServerReadTimeoutSparesRunningHandler(t *testing.T) {
	const rt = 50 * time.Millisecond
	h := HandlerFunc(func(_ context.Context, w *ResponseWriter, r *ServerRequest) {
		io.Copy(io.Discard, r.Stdin)
		start := time.Now()
		for time.Since(start) < 5*rt {
			time.Sleep(rt)
		}
		io.WriteString(w.Stdout(), "late answer")
	})
	onErr, errs := errorLog()
	addr := startTCP(t, &Server{Handler: h, ReadTimeout: rt, OnError: onErr})
	c := dialRaw(t, addr)
	c.send(beginRec(1, RoleResponder, 0), rec(TypeParams, 1, "", 0), rec(TypeStdin, 1, "", 0))
	if got := c.readResponses(1)[1]; string(got.stdout) != "late answer" {
		t.Errorf("stdout %q", got.stdout)
	}
	c.expectCleanEOF()
	select {
	case err := <-errs:
		t.Errorf("OnError: %v", err)
	default:
	}
}

// A kept connection with no request in flight closes cleanly after
// IdleTimeout, and that is no fault.
func TestServerIdleTimeout(t *testing.T) {
	onErr, errs := errorLog()
	addr := startTCP(t, &Server{Handler: HandlerFunc(echoHandler), IdleTimeout: 50 * time.Millisecond, ReadTimeout: time.Hour, OnError: onErr})
	// After a request, and fresh.
	c := dialRaw(t, addr)
	c.send(beginRec(1, RoleResponder, FlagKeepConn), rec(TypeParams, 1, "", 0), rec(TypeStdin, 1, "", 0))
	c.readResponses(1)
	c.expectCleanEOF()
	c2 := dialRaw(t, addr)
	c2.expectCleanEOF()
	select {
	case err := <-errs:
		t.Errorf("OnError: %v", err)
	default:
	}
}

// At MaxConns, a new connection makes the one idle the longest give way
// instead of being refused.
func TestServerIdleGivesWay(t *testing.T) {
	srv := &Server{Handler: HandlerFunc(echoHandler), MaxConns: 2}
	addr := startTCP(t, srv)
	a := dialRaw(t, addr)
	a.send(beginRec(1, RoleResponder, FlagKeepConn), rec(TypeParams, 1, "", 0), rec(TypeStdin, 1, "", 0))
	a.readResponses(1)
	b := dialRaw(t, addr)
	b.send(rec(TypeGetValues, 0, "", 8))
	if r, err := b.r.ReadRecord(); err != nil || r.Type != TypeGetValuesResult {
		t.Fatalf("%+v %v", r.Header, err)
	}
	c := dialRaw(t, addr)
	c.send(beginRec(1, RoleResponder, 0), rec(TypeParams, 1, "", 0), rec(TypeStdin, 1, "", 0))
	if got := c.readResponses(1)[1]; got.end.ProtocolStatus != RequestComplete {
		t.Errorf("third connection: %+v", got.end)
	}
	a.expectCleanEOF()
	b.send(rec(TypeGetValues, 0, "", 8))
	if r, err := b.r.ReadRecord(); err != nil || r.Type != TypeGetValuesResult {
		t.Errorf("the connection idle the shorter time was closed: %+v %v", r.Header, err)
	}
}

// One connection holds at most MaxConnReqs requests; more get OVERLOADED,
// and other connections can still begin theirs.
func TestServerMaxConnReqs(t *testing.T) {
	onRefuse, ch := refusals()
	addr := startTCP(t, &Server{Handler: HandlerFunc(echoHandler), MultiplexConns: true, MaxReqs: 10, MaxConnReqs: 2, OnRefuse: onRefuse})
	c := dialRaw(t, addr)
	c.send(beginRec(1, RoleResponder, FlagKeepConn), beginRec(2, RoleResponder, FlagKeepConn), beginRec(3, RoleResponder, FlagKeepConn))
	c.expect("END_REQUEST OVERLOADED", endRec(3, 0, Overloaded))
	expectRefusal(t, ch, refusal{conn: 1, id: 3, role: RoleResponder, flags: FlagKeepConn, status: Overloaded, why: RefusedConnReqs})
	d := dialRaw(t, addr)
	d.send(beginRec(1, RoleResponder, 0), rec(TypeParams, 1, "", 0), rec(TypeStdin, 1, "", 0))
	if got := d.readResponses(1)[1]; got.end.ProtocolStatus != RequestComplete {
		t.Errorf("other connection: %+v", got.end)
	}
	c.send(rec(TypeParams, 1, "", 0), rec(TypeStdin, 1, "", 0), rec(TypeParams, 2, "", 0), rec(TypeStdin, 2, "", 0))
	for id, got := range c.readResponses(1, 2) {
		if got.end.ProtocolStatus != RequestComplete {
			t.Errorf("request %d: %+v", id, got.end)
		}
	}
	expectNoRefusal(t, ch)
}

// Unfinished PARAMS streams on one connection are bounded together by
// MaxBufferedBytes: the request that would pass it gets OVERLOADED.
func TestServerUnfinishedParamsBounded(t *testing.T) {
	onRefuse, ch := refusals()
	addr := startTCP(t, &Server{Handler: HandlerFunc(echoHandler), MultiplexConns: true, MaxBufferedBytes: 1000, OnRefuse: onRefuse})
	pair := func(v string) string { return "\x01" + string(rune(len(v))) + "a" + v }
	c := dialRaw(t, addr)
	v := strings.Repeat("v", 100)
	for id := uint16(1); id <= 9; id++ {
		c.send(beginRec(id, RoleResponder, FlagKeepConn), streamRec(TypeParams, id, pair(v)))
	}
	// 9 × 103 bytes fit; the tenth's would not.
	c.send(beginRec(10, RoleResponder, FlagKeepConn), streamRec(TypeParams, 10, pair(v)))
	c.expect("END_REQUEST OVERLOADED", endRec(10, 0, Overloaded))
	expectRefusal(t, ch, refusal{conn: 1, id: 10, role: RoleResponder, flags: FlagKeepConn, status: Overloaded, why: RefusedBuffer})
	// Its later records are dropped; the others go on.
	c.send(rec(TypeParams, 10, "", 0), rec(TypeParams, 1, "", 0), rec(TypeStdin, 1, "", 0))
	if got := c.readResponses(1)[1]; !bytes.Contains(got.stdout, []byte("a="+v)) {
		t.Errorf("request 1: %q", got.stdout)
	}
	expectNoRefusal(t, ch)
}

// Answers to management records are not answered: UNKNOWN_TYPE to an
// UNKNOWN_TYPE or a GET_VALUES_RESULT would loop between two such peers.
func TestServerIgnoresManagementAnswers(t *testing.T) {
	addr := startTCP(t, &Server{Handler: HandlerFunc(echoHandler)})
	c := dialRaw(t, addr)
	c.send(rec(TypeUnknownType, 0, string(UnknownTypeBody(TypeGetValues)), 0), rec(TypeGetValuesResult, 0, "", 8))
	c.send(rec(TypeGetValues, 0, "", 8))
	if r, err := c.r.ReadRecord(); err != nil || r.Type != TypeGetValuesResult {
		t.Fatalf("first answer %+v %v, want GET_VALUES_RESULT", r.Header, err)
	}
}

// A GET_VALUES asking for thousands of names, known, unknown and repeated,
// gets one answer naming each known one once.
func TestServerGetValuesManyNames(t *testing.T) {
	addr := startTCP(t, &Server{MaxConns: 10, MaxReqs: 50})
	c := dialRaw(t, addr)
	// Answered name by name, the 3,800 would not fit in one record.
	var ask []Pair
	for len(ask) < 3800 {
		ask = append(ask, Pair{Name: MaxConns})
	}
	ask = append(ask, Pair{Name: "FCGI_X"}, Pair{Name: MaxReqs})
	body := EncodePairs(ask)
	if len(body) > MaxContent {
		t.Fatalf("%d names take %d bytes", len(ask), len(body))
	}
	c.sendRecord(TypeGetValues, 0, body)
	r, err := c.r.ReadRecord()
	if err != nil || r.Type != TypeGetValuesResult {
		t.Fatalf("%+v %v", r.Header, err)
	}
	if want := EncodePairs([]Pair{{MaxConns, "10"}, {MaxReqs, "50"}}); !bytes.Equal(r.Content, want) {
		t.Errorf("answer of %d bytes %.80q..., want %q", len(r.Content), r.Content, want)
	}
}
