package commands

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
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
func (tp *testProxy) stop(t *testing.T) (error, time.Duration) {
	t.Helper()
	start := time.Now()
	tp.cancel()
	select {
	case err := <-tp.done:
		tp.done <- err
		return err, time.Since(start)
	case <-time.After(10 * time.Second):
		t.Fatal("proxy did not stop within 10s")
		return nil, 0
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
	must(w.WriteStream(fcgiwire.TypeStdin, id, nil))
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
	if err, took := tp.stop(t); err != nil || took > time.Second {
		t.Errorf("stop: %v after %s", err, took)
	}
	// startProxy's probe for the listener is the fourth connection.
	if got := strings.Count(tp.log.String(), "unreachable: connection refused; closing the client connection"); got != 4 {
		t.Errorf("%d unreachable lines, want 4:\n%s", got, tp.log)
	}
}

var _ = errors.Is
