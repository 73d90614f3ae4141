// Package fcgitest gives other packages' tests a real FastCGI server, as
// net/http/httptest does for HTTP: a fcgiwire.Server on a loopback port,
// shut down when the test ends; and a server that never answers (Silent),
// as a stuck pool does, for the tests of deadlines.
//
// It is for tests only: standard library and fcgiwire, nothing else, and
// no package-level state.
package fcgitest

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/fcgicli/fcgicli/fcgiwire"
)

// Serve serves h on 127.0.0.1 until t ends and returns the address. The
// server takes up to 100 connections and 100 requests at once.
func Serve(t testing.TB, h fcgiwire.Handler) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fcgiwire.Server{Handler: h, MaxConns: 100, MaxReqs: 100}
	go srv.Serve(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return l.Addr().String()
}

// Refused returns a loopback TCP address nothing listens on: a port just
// closed, for a test of a connect that is refused.
func Refused(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
