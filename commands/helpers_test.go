package commands

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/commands/runenv"
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
