package commands

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
)

// testSession returns a shell session on addr whose output goes to the
// buffers returned, its kept connection closed when the test ends.
func testSession(t *testing.T, addr string) (s *session, stdout, stderr *bytes.Buffer) {
	stdout, stderr = new(bytes.Buffer), new(bytes.Buffer)
	s = &session{
		env:    &runenv.Env{Stdin: strings.NewReader(""), Stdout: stdout, Stderr: stderr, Getenv: func(string) string { return "" }},
		color:  "never",
		output: "text",
		net:    fcgireq.NetOptions{Connect: addr, ConnectTimeout: 5 * time.Second, Timeout: 10 * time.Second},
	}
	t.Cleanup(s.closeConn)
	return s, stdout, stderr
}

// serveFCGI serves h on 127.0.0.1 until the test ends and returns the
// address.
func serveFCGI(t *testing.T, h fcgiwire.HandlerFunc) string {
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

func okResponse(w *fcgiwire.ResponseWriter) {
	io.WriteString(w.Stdout(), "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nok\n")
}
