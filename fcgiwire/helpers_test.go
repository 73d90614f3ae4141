package fcgiwire

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// testBound bounds every network wait in the tests: nothing should come
// near it, it only turns a hang into a failure.
const testBound = 10 * time.Second

// echoHandler answers with a CGI response listing the request: its id,
// role, flags and connection, every param in order, and the size and
// SHA-256 of stdin. Params drive extra behaviour: STDERR is written to
// stderr, APP_STATUS sets the app status.
func echoHandler(_ context.Context, w *ResponseWriter, r *ServerRequest) {
	h := sha256.New()
	n, err := io.Copy(h, r.Stdin)
	out := w.Stdout()
	fmt.Fprintf(out, "Content-Type: text/plain\r\n\r\n")
	fmt.Fprintf(out, "id=%d role=%v keep=%v conn=%d\n", r.ID, r.Role, r.KeepConn(), r.ConnID)
	for _, p := range r.Params {
		fmt.Fprintf(out, "%s=%s\n", p.Name, p.Value)
	}
	fmt.Fprintf(out, "stdin %d %x err=%v\n", n, h.Sum(nil), err)
	if s := r.Param("STDERR"); s != "" {
		io.WriteString(w.Stderr(), s)
	}
	if s := r.Param("APP_STATUS"); s != "" {
		n, _ := strconv.ParseUint(s, 10, 32)
		w.SetAppStatus(uint32(n))
	}
}

// echoOutput is what echoHandler writes for a request.
func echoOutput(id uint16, role Role, keep bool, conn uint64, params []Pair, stdin []byte) string {
	s := fmt.Sprintf("Content-Type: text/plain\r\n\r\nid=%d role=%v keep=%v conn=%d\n", id, role, keep, conn)
	for _, p := range params {
		s += p.Name + "=" + p.Value + "\n"
	}
	return s + fmt.Sprintf("stdin %d %x err=<nil>\n", len(stdin), sha256.Sum256(stdin))
}

// serveOn runs srv on l until the test ends, then shuts it down and checks
// that Serve returned ErrServerClosed.
func serveOn(t *testing.T, srv *Server, l net.Listener) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testBound)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		select {
		case err := <-done:
			if !errors.Is(err, ErrServerClosed) {
				t.Errorf("Serve returned %v, want ErrServerClosed", err)
			}
		case <-time.After(testBound):
			t.Errorf("Serve did not return after Shutdown")
		}
	})
}

// startTCP serves srv on 127.0.0.1 and returns the address.
func startTCP(t *testing.T, srv *Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveOn(t, srv, l)
	return l.Addr().String()
}

// startUnix serves srv on a unix socket in a temporary directory.
func startUnix(t *testing.T, srv *Server) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fcgi.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	serveOn(t, srv, l)
	return path
}

// dial connects to addr and closes the connection when the test ends.
func dial(t *testing.T, network, addr string) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout(network, addr, testBound)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// dialConn returns a client Conn to addr.
func dialConn(t *testing.T, network, addr string) *Conn {
	return NewConn(dial(t, network, addr))
}

// rawConn is a test's hand on a raw connection to a Server.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	w  *Writer
	r  *Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	nc := dial(t, "tcp", addr)
	nc.SetDeadline(time.Now().Add(testBound))
	return &rawConn{t: t, nc: nc, w: NewWriter(nc), r: NewReader(nc)}
}

// send writes records in one write.
func (c *rawConn) send(recs ...[]byte) {
	c.t.Helper()
	var b []byte
	for _, r := range recs {
		b = append(b, r...)
	}
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatal(err)
	}
}

// sendRecord writes one record through a Writer.
func (c *rawConn) sendRecord(t RecordType, id uint16, content []byte) {
	c.t.Helper()
	if err := c.w.WriteRecord(t, id, content); err != nil {
		c.t.Fatal(err)
	}
	if err := c.w.Flush(); err != nil {
		c.t.Fatal(err)
	}
}

// expect reads exactly len(want) bytes and compares them.
func (c *rawConn) expect(what string, want []byte) {
	c.t.Helper()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c.nc, got); err != nil {
		c.t.Fatalf("%s: %v", what, err)
	}
	if string(got) != string(want) {
		c.t.Fatalf("%s: got\n% x\nwant\n% x", what, got, want)
	}
}

// expectEOF checks that the server closed the connection. A reset counts:
// a server that closes with some of the client's records unread resets.
func (c *rawConn) expectEOF() {
	c.t.Helper()
	var b [1]byte
	if n, err := c.nc.Read(b[:]); err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
		c.t.Fatalf("read %d bytes (% x), %v; want EOF", n, b[:n], err)
	}
}

// response is what came back for one request id.
type response struct {
	stdout, stderr []byte
	end            *EndRequest
	stdoutClosed   bool
}

// readResponses reads records until every id in ids has its END_REQUEST.
func (c *rawConn) readResponses(ids ...uint16) map[uint16]*response {
	c.t.Helper()
	out := map[uint16]*response{}
	for _, id := range ids {
		out[id] = &response{}
	}
	for left := len(ids); left > 0; {
		rec, err := c.r.ReadRecord()
		if err != nil {
			c.t.Fatalf("reading responses: %v", err)
		}
		r := out[rec.RequestID]
		if r == nil {
			c.t.Fatalf("record %+v for an unexpected id", rec.Header)
		}
		if r.end != nil {
			c.t.Fatalf("record %v after END_REQUEST for id %d", rec.Type, rec.RequestID)
		}
		switch rec.Type {
		case TypeStdout:
			if len(rec.Content) == 0 {
				r.stdoutClosed = true
			}
			r.stdout = append(r.stdout, rec.Content...)
		case TypeStderr:
			r.stderr = append(r.stderr, rec.Content...)
		case TypeEndRequest:
			er, err := DecodeEndRequest(rec.Content)
			if err != nil {
				c.t.Fatal(err)
			}
			r.end = &er
			left--
		default:
			c.t.Fatalf("unexpected record %+v", rec.Header)
		}
	}
	return out
}

// eventLog collects Observer events from several goroutines.
type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (l *eventLog) observe(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e.Content = append([]byte{}, e.Content...)
	l.events = append(l.events, e)
}

func (l *eventLog) list(dir Direction) []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Event
	for _, e := range l.events {
		if e.Dir == dir {
			out = append(out, e)
		}
	}
	return out
}

// beginRec, paramsRec and friends build whole records for raw tests.
func beginRec(id uint16, role Role, flags uint8) []byte {
	return rec(TypeBeginRequest, id, string(BeginRequest{Role: role, Flags: flags}.Encode()), 0)
}

func endRec(id uint16, app uint32, ps ProtocolStatus) []byte {
	return rec(TypeEndRequest, id, string(EndRequest{AppStatus: app, ProtocolStatus: ps}.Encode()), 0)
}

func streamRec(t RecordType, id uint16, content string) []byte {
	return rec(t, id, content, PaddingFor(len(content)))
}
