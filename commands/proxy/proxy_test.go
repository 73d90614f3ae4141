package proxy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/fcgiwire/fcgitest"
)

// TestProxyUpstreamDownCleanClose: with the upstream down, a client that
// has sent its whole request sees a clean end of stream, not a reset, and
// the proxy runs on.
func TestProxyUpstreamDownCleanClose(t *testing.T) {
	tp := startProxy(t, fcgitest.Refused(t), longTimeout)
	const unreachable = "unreachable: connection refused; closing the client connection"
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", tp.addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(requestBytes(t, 1, "/x", false)); err != nil {
			t.Fatal(err)
		}
		// Read once the proxy has given up on the upstream (startProxy's
		// probe was the first to be refused).
		waitCount(t, "unreachable lines", tp.log.String, unreachable, i+2)
		c.SetReadDeadline(time.Now().Add(proxyBound))
		n, err := c.Read(make([]byte, 16))
		c.Close()
		if n != 0 || err != io.EOF {
			t.Fatalf("connection %d: read %d bytes, %v; want a clean end of stream (EOF)", i, n, err)
		}
	}
	if err := tp.stop(t); err != nil {
		t.Errorf("stop: %v", err)
	}
	// startProxy's probe for the listener is the fourth connection.
	if got := strings.Count(tp.log.String(), "unreachable: connection refused; closing the client connection"); got != 4 {
		t.Errorf("%d unreachable lines, want 4:\n%s", got, tp.log)
	}
}

// TestProxyClientGoesAway: a client that leaves mid-request shows in the
// report, and the log blames the client, not the upstream, when writing
// the response to it fails.
func TestProxyClientGoesAway(t *testing.T) {
	t.Run("before the answer", func(t *testing.T) {
		// The application answers only once its connection ends, which
		// the client's leaving brings about.
		started := make(chan struct{}, 1)
		up := serveFCGI(t, func(ctx context.Context, w *fcgiwire.ResponseWriter, r *fcgiwire.ServerRequest) {
			started <- struct{}{}
			select {
			case <-ctx.Done():
			case <-time.After(proxyBound):
			}
			io.WriteString(w.Stdout(), "Status: 200 OK\r\n\r\nlate")
		})
		tp := startProxy(t, up, time.Second)
		c, err := net.Dial("tcp", tp.addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write(requestBytes(t, 1, "/slow", false))
		<-started
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
		log := &runenv.LockedWriter{}
		tp := &tap{p: &proxy{env: &runenv.Env{Stderr: log}}, conn: 7, reqs: map[uint16]*tapReq{1: {}}}
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

// TestProxyShutdown: on SIGINT/SIGTERM the proxy closes an idle kept-alive
// connection at once (while a request is in flight), refuses a request
// that begins after the shutdown began with OVERLOADED (without forwarding
// it), lets the request in flight finish, and returns nil as soon as it
// has, not at --shutdown-timeout.
func TestProxyShutdown(t *testing.T) {
	up, started, release := slowUpstream(t)
	tp := startProxy(t, up, longTimeout)
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
	<-started

	stopped := make(chan error, 1)
	go func() { stopped <- tp.stop(t) }()
	// The idle connection ends cleanly while /slow is still held.
	idle.SetReadDeadline(time.Now().Add(proxyBound))
	if n, err := idle.Read(make([]byte, 16)); n != 0 || err != io.EOF {
		t.Errorf("idle connection: read %d bytes, %v; want EOF", n, err)
	}
	idle.Close()
	// A request that begins now is refused; once the client has the
	// refusal, the one in flight finishes.
	busy.Write(requestBytes(t, 2, "/late", true))
	stdout, ends, err := readAll(t, busy, func(end string) {
		if end == "2:OVERLOADED" {
			close(release)
		}
	})
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
	if err := <-stopped; err != nil {
		t.Errorf("run: %v", err)
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
	up, started, _ := slowUpstream(t) // /slow is never released
	tp := startProxy(t, up, 100*time.Millisecond)
	c, err := net.Dial("tcp", tp.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(requestBytes(t, 1, "/slow", true))
	<-started
	if err := tp.stop(t); err != nil {
		t.Errorf("stop: %v", err)
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
	out, errOut := do(t, tp.addr, "/x")
	if out != "Status: 200 OK\r\n\r\nok" || errOut != long {
		t.Fatalf("request: %q, %d bytes of stderr", out, len(errOut))
	}
	report := waitFor(t, "report", tp.out.String, `"stderr_truncated":true`)
	if !strings.Contains(report, `"stderr":"`+strings.Repeat("e", 65536)+`"`) {
		t.Errorf("report does not keep the first 64 KiB of stderr: %.200s", report)
	}
}
