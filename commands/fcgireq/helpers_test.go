package fcgireq

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/fcgicli/fcgicli/commands/echo"
	"github.com/fcgicli/fcgicli/fcgiwire"
)

// names returns the pairs as NAME=VALUE strings, for comparing.
func names(ps []fcgiwire.Pair) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name+"="+p.Value)
	}
	return out
}

// prepared prepares s for the test, which closes it at its end.
func prepared(t *testing.T, s *Shape) *Prepared {
	t.Helper()
	prep, err := Prepare(context.Background(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prep.Close)
	return prep
}

// replayed prepares s and makes it a Replay.
func replayed(t *testing.T, s *Shape) *Replay {
	t.Helper()
	rep, err := prepared(t, s).Replay()
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// connected connects to o for the test, which closes the connection at
// its end.
func connected(t *testing.T, o NetOptions) *fcgiwire.Conn {
	t.Helper()
	conn, done, err := Connect(context.Background(), o, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(done)
	return conn
}

// serveResponder runs an echo responder h on a unix socket for the test's
// length and returns the options that reach it.
func serveResponder(t *testing.T, h *echo.Responder) NetOptions {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "r.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := echo.NewServer(h, nil, echo.Limits{MaxConns: 8, MaxReqs: 8, MaxConnReqs: 8})
	go srv.Serve(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return NetOptions{Connect: "unix:" + sock, ConnectTimeout: 5 * time.Second, Timeout: 10 * time.Second}
}
