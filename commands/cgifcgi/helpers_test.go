package cgifcgi

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/fcgiwire/fcgitest"
)

// envOf is an environment of vars, KEY=VALUE, in order.
func envOf(vars ...string) *runenv.Env {
	return &runenv.Env{
		Getenv: func(name string) string {
			for _, kv := range vars {
				if k, v, _ := strings.Cut(kv, "="); k == name {
					return v
				}
			}
			return ""
		},
		Environ: func() []string { return vars },
	}
}

// runCGI runs the cgi-fcgi mode with argv (its program name first) and
// vars as the environment, and returns the exit code, stdout and stderr.
func runCGI(ctx context.Context, argv []string, stdin string, vars ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	env := envOf(vars...)
	// As package commands hands it stderr: tracking whether a line is open.
	env.Stdin, env.Stdout, env.Stderr = strings.NewReader(stdin), &out, &runenv.LineTracker{W: &errOut, AtStart: true}
	code := Run(ctx, env, argv[1:])
	return code, out.String(), errOut.String()
}

// serveFCGI serves h on 127.0.0.1 until the test ends and returns the
// address.
func serveFCGI(t *testing.T, h fcgiwire.HandlerFunc) string { return fcgitest.Serve(t, h) }
