package commands

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

// runningServer is a serve or proxy command running in-process.
type runningServer struct {
	addr           string // where it listens, from its log
	stdout, stderr *runenv.LockedWriter
	cancel         context.CancelFunc
	code           chan int
}

var listeningRe = regexp.MustCompile(`(?m)^fcgicli: (?:serve|proxy): listening on ([^\s,]+)[,\n]`)

// startServer runs the command line args in-process and waits until it
// logs the address it listens on.
func startServer(t *testing.T, args ...string) *runningServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &runningServer{stdout: &runenv.LockedWriter{}, stderr: &runenv.LockedWriter{}, cancel: cancel, code: make(chan int, 1)}
	env := &runenv.Env{Stdin: strings.NewReader(""), Stdout: s.stdout, Stderr: s.stderr,
		Getenv: func(string) string { return "" }, Environ: func() []string { return nil }}
	go func() { s.code <- RunEnv(ctx, env, append([]string{"fcgicli"}, args...)) }()
	t.Cleanup(func() { s.stop(t) })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if m := listeningRe.FindStringSubmatch(s.stderr.String()); m != nil {
			s.addr = m[1]
			return s
		}
		select {
		case code := <-s.code:
			s.code <- code
			t.Fatalf("%q exited %d before listening: %s", args, code, s.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q is not listening after 10s: %s", args, s.stderr.String())
		}
	}
}

// stop stops the server as SIGINT does and returns its exit code.
func (s *runningServer) stop(t *testing.T) int {
	t.Helper()
	s.cancel()
	select {
	case code := <-s.code:
		s.code <- code
		return code
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not stop within 10s")
		return -1
	}
}

// do sends one request to the server and returns its stdout and stderr.
func (s *runningServer) do(t *testing.T, req *fcgiwire.Request) (*fcgiwire.Result, string, string) {
	t.Helper()
	a, err := fcgiwire.ParseAddr(s.addr)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := net.DialTimeout(a.Network, a.Address, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := fcgiwire.NewConn(nc)
	defer c.Close()
	var stdout, stderr bytes.Buffer
	req.Stdout, req.Stderr = &stdout, &stderr
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := c.Do(ctx, req)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	return res, stdout.String(), stderr.String()
}

// TestListenPortZero: --listen with port 0 listens on a free port and logs
// which, for serve and for proxy.
func TestListenPortZero(t *testing.T) {
	srv := startServer(t, "serve", "--listen", "127.0.0.1:0", "--color", "never")
	if !regexp.MustCompile(`^127\.0\.0\.1:[1-9][0-9]*$`).MatchString(srv.addr) {
		t.Fatalf("serve logged listening on %q", srv.addr)
	}
	_, out, _ := srv.do(t, &fcgiwire.Request{Params: []fcgiwire.Pair{{Name: "SCRIPT_NAME", Value: "/zero"}}})
	if !strings.Contains(out, "SCRIPT_NAME=/zero\n") {
		t.Errorf("the echo answered %q", out)
	}
	if code := srv.stop(t); code != 0 {
		t.Errorf("serve exited %d: %s", code, srv.stderr.String())
	}

	px := startServer(t, "proxy", "--listen", "127.0.0.1:0", "--upstream", srv.addr)
	if !regexp.MustCompile(`^127\.0\.0\.1:[1-9][0-9]*$`).MatchString(px.addr) {
		t.Fatalf("proxy logged listening on %q", px.addr)
	}
	if code := px.stop(t); code != 0 {
		t.Errorf("proxy exited %d: %s", code, px.stderr.String())
	}
}

// TestServeJSONNotUTF8: a param that is not UTF-8 reaches serve's JSON
// report and its JSON echo whole, in params_base64.
func TestServeJSONNotUTF8(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s.sock")
	srv := startServer(t, "serve", "--listen", sock, "-o", "json")
	_, out, _ := srv.do(t, &fcgiwire.Request{Params: []fcgiwire.Pair{{Name: "HTTP_ACCEPT", Value: "application/json"}, {Name: "HTTP_X_BIN", Value: "a\xffb"}}})
	const b64 = `["SFRUUF9BQ0NFUFQ=", "YXBwbGljYXRpb24vanNvbg=="],
    ["SFRUUF9YX0JJTg==", "Yf9i"]`
	if !strings.Contains(out, `"params_base64": [`+"\n    "+b64) {
		t.Errorf("the echo:\n%s", out)
	}
	srv.stop(t)
	if want := `"params_base64":[["SFRUUF9BQ0NFUFQ=","YXBwbGljYXRpb24vanNvbg=="],["SFRUUF9YX0JJTg==","Yf9i"]],`; !strings.Contains(srv.stdout.String(), want) {
		t.Errorf("the report: %s\nwant %s", srv.stdout.String(), want)
	}
}

// TestServeStderrTruncated: the report keeps the first 64 KiB of a long
// stderr and says it was cut; a cut inside a character leaves it out, so
// the stderr stays text. The client gets all of it.
func TestServeStderrTruncated(t *testing.T) {
	long := "a" + strings.Repeat("é", 40000) // the cut at 65536 splits an é
	for _, format := range []string{"json", "text"} {
		sock := filepath.Join(t.TempDir(), "s.sock")
		srv := startServer(t, "serve", "--listen", sock, "-o", format, "--color", "never", "--status", "200", "--body", "ok", "--stderr", long)
		_, _, stderr := srv.do(t, &fcgiwire.Request{})
		if stderr != long {
			t.Errorf("the client got %d bytes of stderr, want %d", len(stderr), len(long))
		}
		srv.stop(t)
		kept := long[:formatters.MaxExchangeStderr-1]
		want := `,"stderr":"` + kept + `","stderr_truncated":true,`
		if format == "text" {
			want = "\n  stderr (truncated to 65535 bytes): " + kept + "\n"
		}
		if !strings.Contains(srv.stdout.String(), want) {
			t.Errorf("-o %s: the report does not have %.80q...: %.300q", format, want, srv.stdout.String())
		}
	}
}

// TestServeBadFlags: flag values serve cannot use are usage errors, exit 2
// with one line, before it listens. A value wrongly accepted would start
// the server, which the deadline stops (exit 0).
func TestServeBadFlags(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s.sock")
	for _, tt := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--fault", "app-error:NaN"}, "fcgicli: --fault app-error:NaN: the probability must be a number from 0 to 1\n"},
		{[]string{"--fault", "app-error:nan"}, "fcgicli: --fault app-error:nan: the probability must be a number from 0 to 1\n"},
		{[]string{"--fault", "overloaded:-0.5"}, "fcgicli: --fault overloaded:-0.5: the probability must be a number from 0 to 1\n"},
		{[]string{"--fault", "overloaded:Inf"}, "fcgicli: --fault overloaded:Inf: the probability must be a number from 0 to 1\n"},
		{[]string{"--fault", "overloaded:"}, "fcgicli: --fault overloaded:: the probability must be a number from 0 to 1\n"},
		{[]string{"--shutdown-timeout", "-1s"}, "fcgicli: --shutdown-timeout cannot be negative\n"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		var stdout, stderr runenv.LockedWriter
		env := &runenv.Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
			Getenv: func(string) string { return "" }, Environ: func() []string { return nil }}
		code := RunEnv(ctx, env, append([]string{"fcgicli", "serve", "--listen", sock}, tt.args...))
		cancel()
		if code != runenv.ExitUsage || stderr.String() != tt.msg {
			t.Errorf("%q: exit %d, stderr %q; want 2, %q", tt.args, code, stderr.String(), tt.msg)
		}
	}
}

// TestServeShutdownQuiet: connections still open when serve stops, idle
// or kept alive after a request, are closed without an error in the log.
func TestServeShutdownQuiet(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s.sock")
	srv := startServer(t, "serve", "--listen", sock)
	idle, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	nc, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	c := fcgiwire.NewConn(nc)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Do(ctx, &fcgiwire.Request{KeepConn: true}); err != nil {
		t.Fatal(err)
	}
	if code := srv.stop(t); code != 0 {
		t.Errorf("exit %d", code)
	}
	want := "fcgicli: serve: listening on unix:" + sock + "\nfcgicli: serve: shutting down\n"
	if got := srv.stderr.String(); got != want {
		t.Errorf("stderr:\n%s\nwant\n%s", got, want)
	}
}
