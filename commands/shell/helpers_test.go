package shell

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

// scriptOnly is a CLI for the engine's tests, which do not run fcgicli's
// commands: a request line is a SCRIPT alone, sent with the session's
// settings and what the line's command fills in (get's and post's method,
// post's data), as request would send it; the other commands are unknown.
func scriptOnly() CLI {
	return CLI{
		Run: func(_ context.Context, name string, _ []string, _ Settings) error {
			return runenv.Usagef("%s: not in these tests", name)
		},
		ParseRequest: func(_ context.Context, args []string, fill map[string]string, set Settings) (*Request, error) {
			if len(args) != 1 {
				return nil, runenv.Usagef("these tests' requests take a SCRIPT alone, got %q", args)
			}
			r := &Request{
				Shape: fcgireq.Shape{Net: set.Net, Spec: fcgireq.ParamSpec{
					Script: args[0], DocRoot: set.DocRoot, Method: fill["method"], Role: fcgiwire.RoleResponder,
					Params: set.Params, Unset: set.Unset, Headers: set.Headers, BodyLen: -1,
				}},
				Include: set.Include,
			}
			if data, ok := fill["data"]; ok {
				r.Data = &data
			}
			var err error
			if r.Output, err = formatters.ParseFormat(set.Output, formatters.Text, formatters.Raw, formatters.JSON); err != nil {
				return nil, err
			}
			return r, nil
		},
	}
}

// testSession returns a session on addr reading lines, whose output goes
// to the buffers returned, its kept connection closed when the test ends.
func testSession(t *testing.T, addr, lines string) (s *Session, stdout, stderr *bytes.Buffer) {
	stdout, stderr = new(bytes.Buffer), new(bytes.Buffer)
	env := &runenv.Env{Stdin: strings.NewReader(lines), Stdout: stdout, Stderr: stderr, Getenv: func(string) string { return "" }}
	s = New(env, Settings{
		Color:  "never",
		Output: "text",
		Net:    fcgireq.NetOptions{Connect: addr, ConnectTimeout: 5 * time.Second, Timeout: 10 * time.Second},
	}, scriptOnly())
	t.Cleanup(s.Close)
	return s, stdout, stderr
}
