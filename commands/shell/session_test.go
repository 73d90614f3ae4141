package shell

import (
	"context"
	"net"
	"net/http"
	"net/http/fcgi"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire/fcgitest"
)

// closingListener remembers the connections it accepted so that a test
// can close them, as a server that drops an idle connection does.
type closingListener struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func (l *closingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

func (l *closingListener) closeAll() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.Close()
	}
	n := len(l.conns)
	l.conns = nil
	return n
}

// TestShellReconnects: requests share one connection; when the server
// has closed it, the next request says so and reconnects.
func TestShellReconnects(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &closingListener{Listener: l}
	defer l.Close()
	var accepted sync.Map
	go fcgi.Serve(cl, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		accepted.Store(r.RemoteAddr, true)
		w.Write([]byte("a=" + r.URL.Query().Get("a") + "\n"))
	}))
	s, out, errOut := testSession(t, l.Addr().String(), "")
	ctx := context.Background()
	for _, line := range []string{"get /x?a=1", "get /x?a=2"} {
		s.Exec(ctx, line)
	}
	first := s.conn
	if first == nil || s.lastFail != 0 {
		t.Fatalf("no kept connection after two requests (last failure %d): %s", s.lastFail, errOut.String())
	}
	if n := cl.closeAll(); n != 1 {
		t.Fatalf("the server saw %d connections, want 1", n)
	}
	// Wait until the close has reached us, as the shell's own check sees it.
	for deadline := time.Now().Add(time.Minute); alive(first.NetConn()); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the server's close never reached the client")
		}
	}
	s.Exec(ctx, "get /x?a=3")
	if got, want := out.String(), "a=1\na=2\na=3\n"; got != want {
		t.Errorf("stdout %q, want %q", got, want)
	}
	if !strings.Contains(errOut.String(), "the server closed the connection; reconnecting to "+l.Addr().String()) {
		t.Errorf("stderr %q does not say it reconnected", errOut.String())
	}
	if s.conn == nil || s.conn == first || s.lastFail != 0 {
		t.Errorf("not on a new connection after reconnecting (last failure %d)", s.lastFail)
	}
}

// TestShellSetTimeout: "set timeout" bounds the requests that follow it
// against a server that never answers: each times out at the session's
// deadline, is aborted (FCGI_ABORT_REQUEST), is reported, and the shell
// goes on to the next line.
func TestShellSetTimeout(t *testing.T) {
	addr, seen := fcgitest.Silent(t, 3*time.Second)
	s, out, errOut := testSession(t, addr, "set timeout 300ms\nget /x\nget /y\nshow\n")
	s.settings.Net.Timeout = 30 * time.Second
	err := s.Run(context.Background())
	if code, _ := runenv.ExitCode(err); code != runenv.ExitTimeout {
		t.Errorf("the shell ended with %v (exit %d), want exit %d", err, code, runenv.ExitTimeout)
	}
	msg := "fcgicli: timed out after 300ms (--timeout)\n"
	if got, want := errOut.String(), msg+msg; got != want {
		t.Errorf("stderr %q, want %q", got, want)
	}
	if !strings.Contains(out.String(), "\ntimeout:    300ms (connect 5s)\n") {
		t.Errorf("show after the timeouts did not run, or shows another timeout:\n%s", out.String())
	}
	if !fcgitest.SawAbort(seen, 1, 2*time.Second) {
		t.Error("the server never got FCGI_ABORT_REQUEST")
	}
}

func TestSplitWords(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"get /a", []string{"get", "/a"}},
		{"  set header 'X-A: 1'  ", []string{"set", "header", "X-A: 1"}},
		{`post /f "a=1 & b=\"2\""`, []string{"post", "/f", `a=1 & b="2"`}},
		{`set param A=b\ c`, []string{"set", "param", "A=b c"}},
		{`x ''`, []string{"x", ""}},
		{"", nil},
	} {
		got, err := splitWords(c.in)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("splitWords(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{`a 'b`, `a "b`} {
		if _, err := splitWords(bad); err == nil {
			t.Errorf("splitWords(%q): no error", bad)
		}
	}
}

func TestLineDiff(t *testing.T) {
	if d := lineDiff([]string{"a", "b"}, []string{"a", "b"}); d != nil {
		t.Errorf("equal: %q", d)
	}
	got := lineDiff([]string{"a", "b", "c"}, []string{"a", "x", "c", "d"})
	want := []string{"  a", "- b", "+ x", "  c", "+ d"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
