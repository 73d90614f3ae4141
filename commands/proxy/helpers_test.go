package proxy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/fcgiwire/fcgitest"
	"github.com/fcgicli/fcgicli/formatters"
)

// testProxy is a proxy running on 127.0.0.1:0 in front of upstream.
type testProxy struct {
	addr     string
	out, log *runenv.LockedWriter
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
	tp := &testProxy{addr: addr, out: &runenv.LockedWriter{}, log: &runenv.LockedWriter{}, done: make(chan error, 1)}
	p := &proxy{env: &runenv.Env{Stdout: tp.out, Stderr: tp.log}, Options: Options{
		Upstream: up, ConnectTimeout: time.Second, Format: formatters.JSON, Palette: formatters.NewPalette(false),
		ShutdownTimeout: shutdownTimeout,
	}}
	ctx, cancel := context.WithCancel(context.Background())
	tp.cancel = cancel
	go func() {
		tp.done <- p.run(ctx, []fcgiwire.Addr{{Network: "tcp", Address: addr}})
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

// stop cancels the proxy (as SIGINT does) and returns its error. A
// proxy still running after proxyBound fails the test: the tests that
// expect it to stop before its --shutdown-timeout give it one far longer.
func (tp *testProxy) stop(t *testing.T) error {
	t.Helper()
	tp.cancel()
	select {
	case err := <-tp.done:
		tp.done <- err
		return err
	case <-time.After(proxyBound):
		t.Fatalf("proxy did not stop within %s", proxyBound)
		return nil
	}
}

// proxyBound is how long the proxy tests wait for what comes at once, or
// soon: far more than it takes on a loaded machine, and far less than
// longTimeout.
const proxyBound = time.Minute

// longTimeout is a --shutdown-timeout that no test reaches: a proxy that
// waited for it would fail the test at proxyBound.
const longTimeout = time.Hour

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

// waitFor polls s until it contains want, for proxyBound at most.
func waitFor(t *testing.T, what string, s func() string, want string) string {
	t.Helper()
	return waitCount(t, what, s, want, 1)
}

// waitCount polls s until it contains want n times, for proxyBound at
// most.
func waitCount(t *testing.T, what string, s func() string, want string, n int) string {
	t.Helper()
	deadline := time.Now().Add(proxyBound)
	for strings.Count(s(), want) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s: want %d of %q in:\n%s", what, n, want, s())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return s()
}

// readAll reads records from c until the end of stream: the stdout of
// each request and its END_REQUEST's protocol status ("ID:STATUS"), in
// arrival order. onEnd, if not nil, hears each END_REQUEST as it comes.
func readAll(t *testing.T, c net.Conn, onEnd func(string)) (stdout map[uint16]string, ends []string, err error) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(proxyBound))
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
			if onEnd != nil {
				onEnd(ends[len(ends)-1])
			}
		}
	}
}

// slowUpstream answers anything but /slow at once. /slow is answered when
// the test closes release (or when its connection ends); its handler says
// on started that it runs.
func slowUpstream(t *testing.T) (addr string, started <-chan struct{}, release chan struct{}) {
	st, release := make(chan struct{}, 1), make(chan struct{})
	addr = serveFCGI(t, func(ctx context.Context, w *fcgiwire.ResponseWriter, r *fcgiwire.ServerRequest) {
		uri := ""
		for _, p := range r.Params {
			if p.Name == "REQUEST_URI" {
				uri = p.Value
			}
		}
		if uri == "/slow" {
			st <- struct{}{}
			select {
			case <-release:
			case <-ctx.Done():
				return
			}
		}
		io.WriteString(w.Stdout(), "Status: 200 OK\r\n\r\ndone "+uri)
	})
	return addr, st, release
}

// serveFCGI serves h on 127.0.0.1 until the test ends and returns the
// address.
func serveFCGI(t *testing.T, h fcgiwire.HandlerFunc) string { return fcgitest.Serve(t, h) }

// do sends one RESPONDER request for uri to addr, as a client of the
// proxy, and returns its raw stdout and stderr.
func do(t *testing.T, addr, uri string) (stdout, stderr string) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := fcgiwire.NewConn(nc)
	defer c.Close()
	var out, errOut strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), proxyBound)
	defer cancel()
	res, err := c.Do(ctx, &fcgiwire.Request{Params: []fcgiwire.Pair{{Name: "REQUEST_URI", Value: uri}}, Stdout: &out, Stderr: &errOut})
	if err != nil || !res.Ended || res.ProtocolStatus != fcgiwire.RequestComplete || res.AppStatus != 0 {
		t.Fatalf("request %s: %+v, %v", uri, res, err)
	}
	return out.String(), errOut.String()
}
