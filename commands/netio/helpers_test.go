package netio

import (
	"net"
	"path/filepath"
	"testing"

	"github.com/fcgicli/fcgicli/fcgiwire"
)

// unixAddr is a unix socket address in a directory of the test's own.
func unixAddr(t *testing.T) fcgiwire.Addr {
	t.Helper()
	return fcgiwire.Addr{Network: "unix", Address: filepath.Join(t.TempDir(), "s.sock")}
}

// staleSocket leaves a unix socket file at a that nothing listens on, as a
// server that was killed does.
func staleSocket(t *testing.T, a fcgiwire.Addr) {
	t.Helper()
	l, err := net.Listen("unix", a.Address)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
}
