package commands

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/fcgiwire/fcgitest"
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
func serveFCGI(t *testing.T, h fcgiwire.HandlerFunc) string { return fcgitest.Serve(t, h) }

func okResponse(w *fcgiwire.ResponseWriter) {
	io.WriteString(w.Stdout(), "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nok\n")
}
