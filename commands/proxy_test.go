package commands

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

// lockedBuffer is a bytes.Buffer safe for the proxy's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// testProxy is a proxy running on 127.0.0.1:0 in front of upstream.
type testProxy struct {
	addr     string
	out, log *lockedBuffer
	cancel   context.CancelFunc
	done     chan error
}

func startProxy(t *testing.T, upstream string, shutdownTimeout time.Duration) *testProxy {
	t.Helper()
	up, err := fcgiwire.ParseAddr(upstream)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	tp := &testProxy{addr: addr, out: &lockedBuffer{}, log: &lockedBuffer{}, done: make(chan error, 1)}
	p := &proxy{
		env: &Env{Stdout: tp.out, Stderr: tp.log}, upstream: up, connectTimeout: time.Second,
		format: formatters.JSON, pal: formatters.NewPalette(false),
	}
	ctx, cancel := context.WithCancel(context.Background())
	tp.cancel = cancel
	go func() {
		tp.done <- p.run(ctx, []fcgiwire.Addr{{Network: "tcp", Address: addr}}, 0, shutdownTimeout)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("proxy not listening: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-tp.done:
		case <-time.After(10 * time.Second):
			t.Error("proxy did not stop")
		}
	})
	return tp
}

// stop cancels the proxy (as SIGINT does) and returns its error and how
// long it took to stop.
func (tp *testProxy) stop(t *testing.T) (time.Duration, error) {
	t.Helper()
	start := time.Now()
	tp.cancel()
	select {
	case err := <-tp.done:
		tp.done <- err
		return time.Since(start), err
	case <-time.After(10 * time.Second):
		t.Fatal("proxy did not stop within 10s")
		return 0, nil
	}
}

// requestBytes is a whole RESPONDER request: BEGIN_REQUEST, PARAMS with
// REQUEST_URI uri, empty STDIN.
func requestBytes(t *testing.T, id uint16, uri string, keep bool) []byte {
	t.Helper()
	var b bytes.Buffer
	w := fcgiwire.NewWriter(&b)
	br := fcgiwire.BeginRequest{Role: fcgiwire.RoleResponder}
	if keep {
		br.Flags = fcgiwire.FlagKeepConn
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.WriteRecord(fcgiwire.TypeBeginRequest, id, br.Encode()))
	must(w.WritePairs(fcgiwire.TypeParams, id, []fcgiwire.Pair{{Name: "REQUEST_URI", Value: uri}}))
	must(w.WriteRecord(fcgiwire.TypeParams, id, nil))
	must(w.WriteRecord(fcgiwire.TypeStdin, id, nil))
	must(w.Flush())
	return b.Bytes()
}

// refusedAddr is a TCP address nothing listens on.
func refusedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestProxyUpstreamDownCleanClose: with the upstream down, a client that
// has sent its whole request sees a clean end of stream, not a reset, and
// the proxy runs on.
func TestProxyUpstreamDownCleanClose(t *testing.T) {
	tp := startProxy(t, refusedAddr(t), time.Second)
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", tp.addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(requestBytes(t, 1, "/x", false)); err != nil {
			t.Fatal(err)
		}
		// Let the proxy give up on the upstream before reading.
		time.Sleep(50 * time.Millisecond)
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		n, err := c.Read(make([]byte, 16))
		c.Close()
		if n != 0 || err != io.EOF {
			t.Fatalf("connection %d: read %d bytes, %v; want a clean end of stream (EOF)", i, n, err)
		}
	}
	if took, err := tp.stop(t); err != nil || took > time.Second {
		t.Errorf("stop: %v after %s", err, took)
	}
	// startProxy's probe for the listener is the fourth connection.
	if got := strings.Count(tp.log.String(), "unreachable: connection refused; closing the client connection"); got != 4 {
		t.Errorf("%d unreachable lines, want 4:\n%s", got, tp.log)
	}
}

// waitFor polls s until it contains want or 5s pass.
func waitFor(t *testing.T, what string, s func() string, want string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(s(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %q in:\n%s", what, want, s())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return s()
}

// TestProxyClientGoesAway: a client that leaves mid-request shows in the
// report, and the log blames the client, not the upstream, when writing
// the response to it fails.
func TestProxyClientGoesAway(t *testing.T) {
	t.Run("before the answer", func(t *testing.T) {
		up := serveFCGI(t, func(ctx context.Context, w *fcgiwire.ResponseWriter, r *fcgiwire.ServerRequest) {
			time.Sleep(300 * time.Millisecond)
			io.WriteString(w.Stdout(), "Status: 200 OK\r\n\r\nlate")
		})
		tp := startProxy(t, up, time.Second)
		c, err := net.Dial("tcp", tp.addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write(requestBytes(t, 1, "/slow", false))
		time.Sleep(50 * time.Millisecond)
		c.Close()
		out := waitFor(t, "report", tp.out.String, `"protocol_status"`)
		if !strings.Contains(out, `"note":"the client closed the connection before END_REQUEST"}`) {
			t.Errorf("report does not say the client left:\n%s", out)
		}
	})
	t.Run("while writing", func(t *testing.T) {
		up := serveFCGI(t, func(ctx context.Context, w *fcgiwire.ResponseWriter, r *fcgiwire.ServerRequest) {
			io.WriteString(w.Stdout(), "Status: 200 OK\r\n\r\n")
			chunk := bytes.Repeat([]byte("x"), 32<<10)
			for i := 0; i < 200 && ctx.Err() == nil; i++ {
				if _, err := w.Stdout().Write(chunk); err != nil {
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
		tp := startProxy(t, up, time.Second)
		c, err := net.Dial("tcp", tp.addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write(requestBytes(t, 1, "/stream", false))
		io.ReadFull(c, make([]byte, 4096))
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
		out := waitFor(t, "report", tp.out.String, `"note"`)
		if !strings.Contains(out, `"note":"the client`) {
			t.Errorf("report does not say the client left:\n%s", out)
		}
		log := waitFor(t, "log", tp.log.String, "the client: ")
		if strings.Contains(log, "upstream") {
			t.Errorf("the log blames the upstream:\n%s", log)
		}
	})
	t.Run("labels", func(t *testing.T) {
		log := &lockedBuffer{}
		tp := &tap{p: &proxy{env: &Env{Stderr: log}}, conn: 7, reqs: map[uint16]*tapReq{1: {}}}
		epipe := &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.EPIPE)}
		tp.noteEnd(fcgiwire.Received, epipe, true)
		tp.logEnd("upstream", "client", epipe, true)
		tp.logEnd("upstream", "client", &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, false)
		tp.logEnd("client", "upstream", epipe, true)
		want := "fcgicli: proxy: conn 7: writing to the client: broken pipe\n" +
			"fcgicli: proxy: conn 7: reading from the upstream: connection reset by peer\n" +
			"fcgicli: proxy: conn 7: writing to the upstream: broken pipe\n"
		if log.String() != want {
			t.Errorf("log:\n%s\nwant:\n%s", log, want)
		}
		if note := tp.reqs[1].ex.Note; note != "the client went away before END_REQUEST (broken pipe)" {
			t.Errorf("note %q", note)
		}
	})
}

// readAll reads records from c until the end of stream: the stdout of
// each request and its END_REQUEST's protocol status, in arrival order.
func readAll(t *testing.T, c net.Conn) (stdout map[uint16]string, ends []string, err error) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	r := fcgiwire.NewReader(c)
	stdout = map[uint16]string{}
	for {
		rec, err := r.ReadRecord()
		if err != nil {
			return stdout, ends, err
		}
		switch rec.Type {
		case fcgiwire.TypeStdout:
			stdout[rec.RequestID] += string(rec.Content)
		case fcgiwire.TypeEndRequest:
			er, _ := fcgiwire.DecodeEndRequest(rec.Content)
			ends = append(ends, fmt.Sprintf("%d:%s", rec.RequestID, er.ProtocolStatus))
		}
	}
}

// slowUpstream answers /slow after 400ms, anything else at once.
func slowUpstream(t *testing.T) string {
	return serveFCGI(t, func(ctx context.Context, w *fcgiwire.ResponseWriter, r *fcgiwire.ServerRequest) {
		uri := ""
		for _, p := range r.Params {
			if p.Name == "REQUEST_URI" {
				uri = p.Value
			}
		}
		if uri == "/slow" {
			select {
			case <-time.After(400 * time.Millisecond):
			case <-ctx.Done():
				return
			}
		}
		io.WriteString(w.Stdout(), "Status: 200 OK\r\n\r\ndone "+uri)
	})
}

// TestProxyShutdown: on SIGINT/SIGTERM the proxy closes an idle kept-alive
// connection at once, refuses a request that begins after the shutdown
// began with OVERLOADED (without forwarding it), lets the request in flight
// finish, and returns nil as soon as it has, well before
// --shutdown-timeout.
func TestProxyShutdown(t *testing.T) {
	tp := startProxy(t, slowUpstream(t), 5*time.Second)
	idle, err := net.Dial("tcp", tp.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	idle.Write(requestBytes(t, 1, "/fast", true))
	r := fcgiwire.NewReader(idle)
	for {
		rec, err := r.ReadRecord()
		if err != nil {
			t.Fatal(err)
		}
		if rec.Type == fcgiwire.TypeEndRequest {
			break
		}
	}
	busy, err := net.Dial("tcp", tp.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busy.Write(requestBytes(t, 1, "/slow", true))
	time.Sleep(50 * time.Millisecond)

	start := time.Now()
	stopped := make(chan error, 1)
	go func() { _, err := tp.stop(t); stopped <- err }()
	// The idle connection ends at once, cleanly.
	idle.SetReadDeadline(time.Now().Add(3 * time.Second))
	if n, err := idle.Read(make([]byte, 16)); n != 0 || err != io.EOF {
		t.Errorf("idle connection: read %d bytes, %v; want EOF", n, err)
	}
	idle.Close()
	if took := time.Since(start); took > 300*time.Millisecond {
		t.Errorf("idle connection closed after %s", took)
	}
	// A request that begins now is refused, the one in flight finishes.
	busy.Write(requestBytes(t, 2, "/late", true))
	stdout, ends, err := readAll(t, busy)
	busy.Close()
	if err != io.EOF {
		t.Errorf("busy connection ended with %v, want EOF", err)
	}
	if want := []string{"2:OVERLOADED", "1:REQUEST_COMPLETE"}; fmt.Sprint(ends) != fmt.Sprint(want) {
		t.Errorf("END_REQUESTs %v, want %v", ends, want)
	}
	if !strings.HasSuffix(stdout[1], "done /slow") || stdout[2] != "" {
		t.Errorf("stdout %v", stdout)
	}
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("proxy still running 3s after the last request ended")
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("shutdown took %s", took)
	}
	out := tp.out.String()
	if !strings.Contains(out, `"params":[["REQUEST_URI","/late"]],`) || !strings.Contains(out, `"protocol_status":"OVERLOADED","duration_us":`) || !strings.Contains(out, `"note":"refused: shutting down"}`) {
		t.Errorf("no report of the refused request:\n%s", out)
	}
	if !strings.Contains(out, `"status":200,`) || strings.Count(out, "\n") != 3 {
		t.Errorf("want three reports (/fast, /slow, /late):\n%s", out)
	}
	if log := tp.log.String(); strings.Contains(log, "conn 3:") || strings.Contains(log, "conn 2:") {
		t.Errorf("the shutdown logged errors:\n%s", log)
	}
}

// TestProxyShutdownTimeout: a request still in flight when
// --shutdown-timeout passes is cut, and its report says why.
func TestProxyShutdownTimeout(t *testing.T) {
	tp := startProxy(t, slowUpstream(t), 100*time.Millisecond)
	c, err := net.Dial("tcp", tp.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(requestBytes(t, 1, "/slow", true))
	time.Sleep(50 * time.Millisecond)
	took, err := tp.stop(t)
	if err != nil || took > time.Second {
		t.Errorf("stop: %v after %s", err, took)
	}
	if out := tp.out.String(); !strings.Contains(out, `"note":"cut by the shutdown after --shutdown-timeout 100ms"}`) {
		t.Errorf("report:\n%s", out)
	}
}

// A stderr longer than the report keeps passes whole to the client, and the
// report says it was cut.
func TestProxyStderrTruncated(t *testing.T) {
	long := strings.Repeat("e", 70000)
	up := serveFCGI(t, func(ctx context.Context, w *fcgiwire.ResponseWriter, r *fcgiwire.ServerRequest) {
		io.WriteString(w.Stderr(), long)
		io.WriteString(w.Stdout(), "Status: 200 OK\r\n\r\nok")
	})
	tp := startProxy(t, up, time.Second)
	code, out, errOut := runCGI(context.Background(), []string{"fcgicli", "request", "-c", tp.addr, "/x"}, "")
	if code != 0 || out != "ok" || errOut != long {
		t.Fatalf("request: %d, %q, %d bytes of stderr", code, out, len(errOut))
	}
	report := waitFor(t, "report", tp.out.String, `"stderr_truncated":true`)
	if !strings.Contains(report, `"stderr":"`+strings.Repeat("e", 65536)+`"`) {
		t.Errorf("report does not keep the first 64 KiB of stderr: %.200s", report)
	}
}
