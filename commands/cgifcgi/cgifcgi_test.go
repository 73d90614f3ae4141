package cgifcgi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
)

func TestParseArgs(t *testing.T) {
	for _, c := range []struct {
		args     string
		want     args
		problems []string
	}{
		{"-bind -connect 127.0.0.1:9000", args{bind: true, connect: "127.0.0.1:9000"}, nil},
		{"-connect /s.sock -bind app 3", args{bind: true, connect: "/s.sock", appPath: "app", nServers: 3}, nil},
		{"-connect a -connect b -bind -bind", args{bind: true, connect: "b"}, nil},
		{"-start -connect :9000 /bin/app", args{start: true, connect: ":9000", appPath: "/bin/app"}, nil},
		{"-connect s app", args{connect: "s", appPath: "app"}, nil},
		{"", args{}, []string{"Missing application pathname", "Missing -connect <connName>"}},
		{"-bind", args{bind: true}, []string{"Missing -connect <connName>"}},
		{"-bind -connect", args{bind: true}, []string{"Missing connection name after -connect", "Missing -connect <connName>"}},
		{"-x --bind -", args{}, []string{"Unknown option -x", "Unknown option --bind", "Unknown option -", "Missing application pathname", "Missing -connect <connName>"}},
		{"-bind -connect s app 0", args{bind: true, connect: "s", appPath: "app"}, []string{"Number of servers must be greater than 0"}},
		// A zero count leaves room for another, as in cgi-fcgi.
		{"-bind -connect s app 0 5", args{bind: true, connect: "s", appPath: "app", nServers: 5}, []string{"Number of servers must be greater than 0"}},
		{"-bind -connect s app 2x extra", args{bind: true, connect: "s", appPath: "app", nServers: 2}, []string{"Unknown argument extra"}},
		{"-bind -connect s app 2 3", args{bind: true, connect: "s", appPath: "app", nServers: 2}, []string{"Unknown argument 3"}},
		// -f ends the parse: the rest would come from the file.
		{"-bind -f cmds -x", args{bind: true, commandFile: true}, nil},
	} {
		got, problems := parseArgs(strings.Fields(c.args))
		if got != c.want || !reflect.DeepEqual(problems, c.problems) {
			t.Errorf("parseArgs(%q) = %+v, %q; want %+v, %q", c.args, got, problems, c.want, c.problems)
		}
	}
}

func TestParseAddr(t *testing.T) {
	for _, c := range []struct{ in, network, address string }{
		{"127.0.0.1:9000", "tcp", "127.0.0.1:9000"},
		{"php:9000", "tcp", "php:9000"},
		{":9000", "tcp", "localhost:9000"},
		{"127.0.0.1:9000x", "tcp", "127.0.0.1:9000"}, // atoi reads the leading digits
		{"127.0.0.1: 9000", "tcp", "127.0.0.1:9000"}, // after white space
		{"127.0.0.1:+9000", "tcp", "127.0.0.1:9000"}, // and a sign
		{"[::1]:9000", "tcp", "[::1]:9000"},
		{"/run/php/fpm.sock", "unix", "/run/php/fpm.sock"},
		{"fpm.sock", "unix", "fpm.sock"},
		{"127.0.0.1", "unix", "127.0.0.1"},
		{"127.0.0.1:0", "unix", "127.0.0.1:0"},
		{"127.0.0.1:http", "unix", "127.0.0.1:http"},
		{"::1:9000", "unix", "::1:9000"},
		{"[::1]", "unix", "[::1]"},
	} {
		got, err := parseAddr(c.in)
		if err != nil || got.Network != c.network || got.Address != c.address {
			t.Errorf("parseAddr(%q) = %s %s, %v; want %s %s", c.in, got.Network, got.Address, err, c.network, c.address)
		}
	}
	// Numbers cgi-fcgi would wrap to another port.
	for _, in := range []string{"127.0.0.1:70000", "127.0.0.1:85037", "127.0.0.1:-1", ":65536"} {
		_, port, _ := strings.Cut(in, ":")
		want := fmt.Sprintf("%s: port %q is not from 1 to 65535 (cgi-fcgi would connect to another port)", in, port)
		if got, err := parseAddr(in); err == nil || err.Error() != want {
			t.Errorf("parseAddr(%q) = %v, %v; want error %q", in, got, err, want)
		}
	}
}

func TestSettings(t *testing.T) {
	s, err := settingsFrom(context.Background(), envOf("Z=1", "A=2", "NOEQUALS", "FCGI_TIMEOUT=1m30s", "CONTENT_LENGTH=12", "E="))
	if err != nil {
		t.Fatal(err)
	}
	want := []fcgiwire.Pair{{Name: "Z", Value: "1"}, {Name: "A", Value: "2"}, {Name: "FCGI_TIMEOUT", Value: "1m30s"}, {Name: "CONTENT_LENGTH", Value: "12"}, {Name: "E", Value: ""}}
	if !reflect.DeepEqual(s.prep.Pairs, want) {
		t.Errorf("params = %q", s.prep.Pairs)
	}
	if s.timeout != 90*time.Second || s.contentLength != 12 {
		t.Errorf("timeout %s, content length %d", s.timeout, s.contentLength)
	}
	for _, c := range []struct {
		vars  []string
		want  int64
		error string
	}{
		{nil, -1, ""},
		{[]string{"CONTENT_LENGTH="}, -1, ""},
		{[]string{"CONTENT_LENGTH=0"}, -1, ""},
		{[]string{"CONTENT_LENGTH=abc"}, 0, `CONTENT_LENGTH="abc" is not a number of bytes`},
		{[]string{"CONTENT_LENGTH=-1"}, 0, `CONTENT_LENGTH="-1" is not a number of bytes`},
		{[]string{"CONTENT_LENGTH=+5"}, 5, ""},
		{[]string{"CONTENT_LENGTH=       5"}, 5, ""}, // BSD wc -c pads its count
		{[]string{"CONTENT_LENGTH=5\n"}, 5, ""},
		{[]string{"CONTENT_LENGTH=5 5"}, 0, `CONTENT_LENGTH="5 5" is not a number of bytes`},
		{[]string{"CONTENT_LENGTH=5abc"}, 0, `CONTENT_LENGTH="5abc" is not a number of bytes`},
		{[]string{"CONTENT_LENGTH=+-5"}, 0, `CONTENT_LENGTH="+-5" is not a number of bytes`},
		{[]string{"CONTENT_LENGTH=++5"}, 0, `CONTENT_LENGTH="++5" is not a number of bytes`},
		{[]string{"CONTENT_LENGTH= "}, 0, `CONTENT_LENGTH=" " is not a number of bytes`},
		{[]string{"FCGI_TIMEOUT=5"}, 0, `FCGI_TIMEOUT="5" is not a duration such as 2s or 500ms`},
		{[]string{"FCGI_TIMEOUT=-1s"}, 0, `FCGI_TIMEOUT="-1s" is not a duration such as 2s or 500ms`},
		{[]string{"BIG=" + strings.Repeat("x", 70000)}, 0, "the environment cannot be sent: param BIG is 70008 bytes encoded; one record holds at most 65535"},
	} {
		s, err := settingsFrom(context.Background(), envOf(c.vars...))
		switch {
		case c.error != "" && (err == nil || err.Error() != c.error):
			t.Errorf("%.40q: error %v, want %q", c.vars, err, c.error)
		case c.error == "" && err != nil:
			t.Errorf("%q: %v", c.vars, err)
		case c.error == "" && s.contentLength != c.want:
			t.Errorf("%q: content length %d, want %d", c.vars, s.contentLength, c.want)
		}
	}
}

func TestContentReader(t *testing.T) {
	var short atomic.Pointer[shortBodyError]
	b, err := io.ReadAll(&contentReader{r: strings.NewReader("hello world"), want: 5, short: &short})
	if string(b) != "hello" || err != nil || short.Load() != nil {
		t.Errorf("longer stdin: %q, %v, short %v", b, err, short.Load())
	}
	b, err = io.ReadAll(&contentReader{r: strings.NewReader("hey"), want: 5, short: &short})
	if string(b) != "hey" || err == nil || err != error(short.Load()) || short.Load().got != 3 {
		t.Errorf("shorter stdin: %q, %v, short %v", b, err, short.Load())
	}
}

func TestRun(t *testing.T) {
	addr := serveFCGI(t, func(ctx context.Context, w *fcgiwire.ResponseWriter, r *fcgiwire.ServerRequest) {
		body, _ := io.ReadAll(r.Stdin)
		io.WriteString(w.Stdout(), "Content-Type: text/plain\r\n\r\n"+r.Param("SAY")+string(body))
		io.WriteString(w.Stderr(), r.Param("WARN"))
		switch r.Param("END") {
		case "status":
			w.SetAppStatus(7)
		case "big":
			w.SetAppStatus(300)
		case "wait":
			<-ctx.Done()
		}
	})
	argv := []string{"cgi-fcgi", "-bind", "-connect", addr}

	// An app status past 255 does not wrap to a success; the message goes
	// on a line of its own after the application's unfinished stderr line.
	code, _, errOut := runCGI(context.Background(), argv, "", "WARN=no newline", "END=big")
	if code != 255 || errOut != "no newline\nfcgicli: the application ended with app status 300, which exits as 255\n" {
		t.Errorf("app status 300: %d, %q", code, errOut)
	}

	// Stdin shorter than CONTENT_LENGTH: 1, and nothing of the aborted request.
	code, out, errOut := runCGI(context.Background(), argv, "abc", "SAY=x", "CONTENT_LENGTH=9")
	if code != 1 || out != "" || errOut != "fcgicli: CONTENT_LENGTH is 9 but stdin ended after 3 bytes\n" {
		t.Errorf("short stdin: %d, %q, %q", code, out, errOut)
	}

	// Interrupted: 130, after FCGI_ABORT_REQUEST.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	ctx, stop := context.WithCancel(ctx)
	time.AfterFunc(50*time.Millisecond, stop)
	code, _, errOut = runCGI(ctx, argv, "", "END=wait")
	if code != runenv.ExitInterrupted || errOut != "fcgicli: interrupted\n" {
		t.Errorf("interrupted: %d, %q", code, errOut)
	}

	// FCGI_TIMEOUT: 124.
	code, _, errOut = runCGI(context.Background(), argv, "", "END=wait", "FCGI_TIMEOUT=100ms")
	if code != 124 || errOut != "fcgicli: timed out after 100ms (FCGI_TIMEOUT)\n" {
		t.Errorf("FCGI_TIMEOUT: %d, %q", code, errOut)
	}

	// A socket path that does not fit in sun_path: cgi-fcgi's message and 232.
	long := "/tmp/" + strings.Repeat("s", 103)
	code, _, errOut = runCGI(context.Background(), []string{"cgi-fcgi", "-bind", "-connect", long}, "")
	if code != 232 || errOut != "Listening socket's path name is too long.\n" {
		t.Errorf("path of %d bytes: %d, %q", len(long), code, errOut)
	}
	code, _, errOut = runCGI(context.Background(), []string{"cgi-fcgi", "-bind", "-connect", long[:107]}, "")
	if code != 2 || errOut != "Could not connect to "+long[:107]+"\n" {
		t.Errorf("path of 107 bytes: %d, %q", code, errOut)
	}
}

// An application that answers part of the response and resets the
// connection while the body is still being sent: cgi-fcgi exits with the
// reset's errno, 104, and so does this mode, whether the reader or the
// writer sees the reset; the part answered is printed.
func TestResetDuringUpload(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		nc, err := l.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(nc, make([]byte, 16)); err != nil {
			return
		}
		var b bytes.Buffer
		w := fcgiwire.NewWriter(&b)
		w.WriteRecord(fcgiwire.TypeStdout, 1, []byte("Status: 413\r\n\r\ntoo big"))
		w.WriteRecord(fcgiwire.TypeStderr, 1, []byte("warned\n"))
		w.Flush()
		nc.Write(b.Bytes())
		// The records are on their way (loopback delivers them ahead of
		// the reset, and the client reads them before the error).
		nc.(*net.TCPConn).SetLinger(0)
	}()
	body := strings.Repeat("x", 32<<20)
	code, out, errOut := runCGI(context.Background(), []string{"cgi-fcgi", "-bind", "-connect", l.Addr().String()}, body, fmt.Sprintf("CONTENT_LENGTH=%d", len(body)))
	if code != 104 || out != "Status: 413\r\n\r\ntoo big" || !strings.HasPrefix(errOut, "warned\nfcgicli: protocol error at byte ") || !strings.HasSuffix(errOut, ": connection closed before FCGI_END_REQUEST: connection reset by peer\n") {
		t.Errorf("reset during upload: %d, %q, %q", code, out, errOut)
	}
}

func TestInstall(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "fcgicli")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer

	// fcgicli installed under the name cgi-fcgi (a hard link): nothing to do.
	bin := filepath.Join(dir, "bin")
	os.Mkdir(bin, 0o755)
	if err := os.Link(exe, filepath.Join(bin, "cgi-fcgi")); err != nil {
		t.Fatal(err)
	}
	if err := Install(&InstallOptions{Dir: bin, Exe: exe, Force: true}, &out); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(filepath.Join(bin, "cgi-fcgi")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("the hard link was replaced: %v", err)
	}
	if want := filepath.Join(bin, "cgi-fcgi") + " already runs " + exe + "\n"; out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}

	// A relative executable path becomes absolute in the link.
	out.Reset()
	t.Chdir(dir)
	other := filepath.Join(dir, "other")
	os.Mkdir(other, 0o755)
	if err := Install(&InstallOptions{Dir: "other", Exe: "fcgicli"}, &out); err != nil {
		t.Fatal(err)
	}
	if target, err := os.Readlink(filepath.Join(other, "cgi-fcgi")); err != nil || target != exe {
		t.Errorf("link target %q, %v; want %q", target, err, exe)
	}

	// A directory that cannot be written: 1, with the reason.
	if os.Geteuid() == 0 {
		t.Skip("root writes anywhere")
	}
	ro := filepath.Join(dir, "ro")
	os.Mkdir(ro, 0o555)
	err := Install(&InstallOptions{Dir: ro, Exe: exe}, &out)
	code, msg := runenv.ExitCode(err)
	if code != runenv.ExitCheckFailed || msg != "cannot create "+filepath.Join(ro, "cgi-fcgi")+": permission denied" {
		t.Errorf("read-only Dir: %d, %q", code, msg)
	}
}
