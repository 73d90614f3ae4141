package netio

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
)

// TestListenUnix: a stale socket file is replaced, the mode is applied, and
// the address is logged in the unix: form; a socket something still
// answers on is left alone.
func TestListenUnix(t *testing.T) {
	a := unixAddr(t)
	staleSocket(t, a)
	l, err := Listen(a, 0o640)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	defer l.Close()
	fi, err := os.Stat(a.Address)
	if err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("socket file: %v, %v; want mode 0640", fi, err)
	}
	if got, want := ListenerAddr(l), "unix:"+a.Address; got != want {
		t.Errorf("ListenerAddr = %q, want %q", got, want)
	}
	if _, err := Listen(a, 0); err == nil || !strings.HasPrefix(err.Error(), "cannot listen on unix:") {
		t.Errorf("Listen on a live socket: %v, want cannot listen", err)
	}
}

// TestSocketModeWithoutModes: where sockets have no file mode (Windows),
// --socket-mode on a unix socket is a usage error and nothing listens; a
// TCP listener does not care.
func TestSocketModeWithoutModes(t *testing.T) {
	a := unixAddr(t)
	l, err := listen(a, 0o660, false)
	if code, msg := runenv.ExitCode(err); l != nil || code != runenv.ExitUsage || msg != "--socket-mode: a unix socket on Windows has no file mode" {
		t.Errorf("listen = %v, exit %d %q", l, code, msg)
	}
	if _, err := os.Stat(a.Address); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file: %v, want none", err)
	}
	l, err = listen(fcgiwire.Addr{Network: "tcp", Address: "127.0.0.1:0"}, 0o660, false)
	if err != nil {
		t.Fatalf("tcp: %v", err)
	}
	l.Close()
}

// TestListenAll: when one address fails, those already open are closed.
func TestListenAll(t *testing.T) {
	ok := unixAddr(t)
	bad := fcgiwire.Addr{Network: "unix", Address: filepath.Join(t.TempDir(), "no", "such", "dir.sock")}
	if ls, err := ListenAll([]fcgiwire.Addr{ok, bad}, 0); err == nil {
		t.Fatalf("ListenAll = %v, want an error", ls)
	}
	if _, err := os.Stat(ok.Address); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the first listener was left open: %v", err)
	}
	ls, err := ListenAll([]fcgiwire.Addr{ok, {Network: "tcp", Address: "127.0.0.1:0"}}, 0)
	if err != nil || len(ls) != 2 {
		t.Fatalf("ListenAll = %v, %v", ls, err)
	}
	for _, l := range ls {
		l.Close()
	}
}

// TestTee: the bytes written to a wrapped connection go to Req, those read
// from it to Resp; a file that cannot be created is a usage error.
func TestTee(t *testing.T) {
	dir := t.TempDir()
	req, resp := filepath.Join(dir, "req.bin"), filepath.Join(dir, "resp.bin")
	tee, err := OpenTee(req, resp)
	if err != nil {
		t.Fatal(err)
	}
	a, b := net.Pipe()
	c := tee.Wrap(a)
	go func() {
		buf := make([]byte, 5)
		n, _ := b.Read(buf)
		b.Write([]byte("answer to " + string(buf[:n])))
		b.Close()
	}()
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 64)
	n, _ := c.Read(got)
	c.Close()
	if err := CloseTee(tee, nil); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{req: "hello", resp: string(got[:n])} {
		if b, err := os.ReadFile(name); err != nil || string(b) != want {
			t.Errorf("%s: %q, %v; want %q", filepath.Base(name), b, err, want)
		}
	}
	if none, _ := OpenTee("", ""); none.Wrap(a) != a {
		t.Error("a tee with no files wraps the connection")
	}
	_, err = OpenTee(req, filepath.Join(dir, "no", "resp.bin"))
	var ue *runenv.UsageError
	if !errors.As(err, &ue) || !strings.HasPrefix(err.Error(), "--save-response: ") {
		t.Errorf("OpenTee into a missing directory: %v, want a --save-response usage error", err)
	}
}
