package shell

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/fcgi"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fcgicli/fcgicli/commands/fcgireq"
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
	// Each with the hint that the connection was accepted.
	msg := "fcgicli: timed out after 300ms (--timeout)\nfcgicli: hint: the connection was accepted in Tms, then nothing answered: " +
		"every child of the pool may be busy (the request waits in the listen queue), or the script is slow, and php-fpm goes on running it after the abort; " +
		"look at the pool's status page (fcgicli status; with pm.status_listen it answers even when every child is busy)\n"
	got := regexp.MustCompile(`accepted in [0-9.]+ms`).ReplaceAllString(errOut.String(), "accepted in Tms")
	if want := msg + msg; got != want {
		t.Errorf("stderr %q, want %q", got, want)
	}
	if !strings.Contains(out.String(), "\ntimeout:    300ms (connect 5s)\n") {
		t.Errorf("show after the timeouts did not run, or shows another timeout:\n%s", out.String())
	}
	if !fcgitest.SawAbort(seen, 1, 2*time.Second) {
		t.Error("the server never got FCGI_ABORT_REQUEST")
	}
}

// TestSessionAsksTheCLI: the session hands fcgicli's commands, their
// help and its request lines to the CLI with its settings as they are at
// that line, and what get and post mean as the flags they fill. A request
// the CLI does not return (its help was shown) is not sent.
func TestSessionAsksTheCLI(t *testing.T) {
	type call struct {
		name string
		args []string
		fill map[string]string
		set  Settings
	}
	var calls []call
	cli := CLI{
		Run: func(_ context.Context, name string, args []string, set Settings) error {
			calls = append(calls, call{name: name, args: args, set: set})
			return nil
		},
		ParseRequest: func(_ context.Context, args []string, fill map[string]string, set Settings) (*Request, error) {
			calls = append(calls, call{name: "request", args: args, fill: fill, set: set})
			return nil, nil
		},
	}
	var out, errOut bytes.Buffer
	env := &runenv.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}
	net := fcgireq.NetOptions{Connect: "127.0.0.1:1", ConnectTimeout: 5 * time.Second, Timeout: 10 * time.Second}
	s := New(env, Settings{Net: net}, cli)
	defer s.Close()
	for _, line := range []string{
		"ping -x", "set param A=1", "set header 'X-A: 1'", "unset param HTTP_HOST", "set root /srv",
		"set output json", "set include on", "set timeout 2s", "status --full", "help get-values",
		"get /a -i", "post /b 'a=1' -X PUT", "request /c",
	} {
		if _, err := s.Exec(context.Background(), line); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
	}
	before := Settings{Net: net, Color: "auto", Output: "text"}
	after := Settings{
		Net:   fcgireq.NetOptions{Connect: net.Connect, ConnectTimeout: net.ConnectTimeout, Timeout: 2 * time.Second},
		Color: "auto", DocRoot: "/srv", Params: []string{"A=1"}, Unset: []string{"HTTP_HOST"}, Headers: []string{"X-A: 1"},
		Output: "json", Include: true,
	}
	want := []call{
		{name: "ping", args: []string{"-x"}, set: before},
		{name: "status", args: []string{"--full"}, set: after},
		{name: "get-values", args: []string{"--help"}, set: after},
		{name: "request", args: []string{"/a", "-i"}, fill: map[string]string{"method": "GET"}, set: after},
		{name: "request", args: []string{"/b", "-X", "PUT"}, fill: map[string]string{"method": "POST", "data": "a=1"}, set: after},
		{name: "request", args: []string{"/c"}, set: after},
	}
	if !reflect.DeepEqual(calls, want) {
		t.Errorf("the CLI was asked\n%+v\nwant\n%+v", calls, want)
	}
	if s.conn != nil || len(s.responses) != 0 || errOut.Len() > 0 {
		t.Errorf("a request was sent (connection %v, %d responses); stderr %q", s.conn, len(s.responses), errOut.String())
	}
	if !strings.HasPrefix(out.String(), "In the shell, the session's settings are the defaults of these flags") {
		t.Errorf("help get-values does not say how the session's settings apply:\n%s", out.String())
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
