package commands

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/fcgicli/fcgicli/fcgiwire"
)

// TestCGIFCGIRun: the mode runs from the command line three ways (its
// exit codes are tested in package cgifcgi).
func TestCGIFCGIRun(t *testing.T) {
	addr := serveFCGI(t, func(ctx context.Context, w *fcgiwire.ResponseWriter, r *fcgiwire.ServerRequest) {
		body, _ := io.ReadAll(r.Stdin)
		io.WriteString(w.Stdout(), "Content-Type: text/plain\r\n\r\n"+r.Param("SAY")+string(body))
		io.WriteString(w.Stderr(), r.Param("WARN"))
		if r.Param("END") == "status" {
			w.SetAppStatus(7)
		}
	})
	// The same request three ways, with the process's environment as Run
	// reads it: as cgi-fcgi (argv[0]), as the subcommand, and as the
	// subcommand after a global flag.
	for _, kv := range []string{"SAY=hi ", "WARN=careful\n", "END=status", "CONTENT_LENGTH=5"} {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	for _, argv := range [][]string{
		{"/usr/local/bin/cgi-fcgi", "-bind", "-connect", addr},
		{"fcgicli", "cgi-fcgi", "-bind", "-connect", addr},
		{"fcgicli", "--color", "never", "cgi-fcgi", "-connect", addr, "-bind"},
	} {
		var out, errOut bytes.Buffer
		code := Run(context.Background(), argv, strings.NewReader("body!"), &out, &errOut)
		if code != 7 || out.String() != "Content-Type: text/plain\r\n\r\nhi body!" || errOut.String() != "careful\n" {
			t.Errorf("%q: %d, %q, %q", argv, code, out.String(), errOut.String())
		}
	}
}
