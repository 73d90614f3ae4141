package fcgireq

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
)

// An address already parsed (the cgi-fcgi mode's) is dialled as it is,
// even one fcgiwire.ParseAddr would refuse, and shown as given; a failed
// dial keeps the dial's own error inside the connect error.
func TestConnectParsedAddr(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	l, err := net.Listen("unix", "fpm.sock")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		if c, err := l.Accept(); err == nil {
			c.Close()
		}
	}()
	addr := fcgiwire.Addr{Network: "unix", Address: "fpm.sock"}
	conn, done, err := Connect(context.Background(), NetOptions{Connect: "fpm.sock", Addr: &addr, ConnectTimeout: 5 * time.Second}, nil, nil)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if conn == nil {
		t.Fatal("no connection")
	}
	done()

	gone := fcgiwire.Addr{Network: "unix", Address: filepath.Join(dir, "gone.sock")}
	_, _, err = Connect(context.Background(), NetOptions{Connect: "gone", Addr: &gone, ConnectTimeout: 5 * time.Second}, nil, nil)
	var ce *runenv.ConnectError
	if !errors.As(err, &ce) || ce.Addr != "gone" || !errors.Is(err, syscall.ENOENT) {
		t.Errorf("a socket that is not there: %v, want a connect error to gone wrapping ENOENT", err)
	}
}

// TestListenBuiltinWithoutTempDir: with no temporary directory (a scratch
// container has no /tmp), the builtin responder listens on an abstract
// socket where the system has them, and otherwise fails with one line
// that says what to do, as a local problem (exit 2).
func TestListenBuiltinWithoutTempDir(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none")
	t.Setenv("TMPDIR", missing)
	if abstractSockets {
		l, sock, remove, err := listenBuiltin(true)
		if err != nil {
			t.Fatalf("listenBuiltin: %v", err)
		}
		defer remove()
		defer l.Close()
		if !strings.HasPrefix(sock, "@fcgicli-builtin-") {
			t.Errorf("socket %q, want an abstract one", sock)
		}
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatalf("dial %s: %v", sock, err)
		}
		c.Close()
	}
	l, _, _, err := listenBuiltin(false)
	code, msg := runenv.ExitCode(err)
	want := "-c builtin: no place for its socket: stat " + missing + ": no such file or directory (set TMPDIR to a writable directory)"
	if l != nil || code != runenv.ExitUsage || msg != want {
		t.Errorf("without abstract sockets: exit %d %q, want 2 and %q", code, msg, want)
	}
}
