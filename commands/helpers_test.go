package commands

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/commands/shell"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/fcgiwire/fcgitest"
)

// testSession returns a shell session on addr, running fcgicli's own
// commands, whose output goes to the buffers returned, its kept
// connection closed when the test ends.
func testSession(t *testing.T, addr string) (s *shell.Session, stdout, stderr *bytes.Buffer) {
	stdout, stderr = new(bytes.Buffer), new(bytes.Buffer)
	env := &runenv.Env{Stdin: strings.NewReader(""), Stdout: stdout, Stderr: stderr, Getenv: func(string) string { return "" }}
	s = newTestSession(env, fcgireq.NetOptions{Connect: addr, ConnectTimeout: 5 * time.Second, Timeout: 10 * time.Second})
	t.Cleanup(s.Close)
	return s, stdout, stderr
}

// newTestSession returns a shell session in env on net's address and
// deadlines, running fcgicli's own commands, without colour, its output
// text.
func newTestSession(env *runenv.Env, net fcgireq.NetOptions) *shell.Session {
	return shell.New(env, shell.Settings{Color: "never", Output: "text", Net: net}, shellCLI(env))
}

// serveFCGI serves h on 127.0.0.1 until the test ends and returns the
// address.
func serveFCGI(t *testing.T, h fcgiwire.HandlerFunc) string { return fcgitest.Serve(t, h) }

func okResponse(w *fcgiwire.ResponseWriter) {
	io.WriteString(w.Stdout(), "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nok\n")
}
