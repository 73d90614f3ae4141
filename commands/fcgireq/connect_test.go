package fcgireq

import (
	"context"
	"errors"
	"net"
	"path/filepath"
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
