package commands

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
)

// pong answers every request as php-fpm's ping page does.
func pong(ctx context.Context, w *fcgiwire.ResponseWriter, r *fcgiwire.ServerRequest) {
	io.WriteString(w.Stdout(), "Content-Type: text/plain\r\n\r\npong\n")
}

// servePongUnix serves pong on a unix socket at path.
func servePongUnix(t *testing.T, path string) {
	t.Helper()
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &fcgiwire.Server{Handler: fcgiwire.HandlerFunc(pong)}
	go srv.Serve(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
}

var pingTook = regexp.MustCompile(`[0-9]+\.[0-9]{2}ms`)

// runPingCase is cliCase for ping, whose lines end with the time each
// pool took: that is written as Tms in the wanted stdout.
func runPingCase(t *testing.T, c cliCase) {
	t.Helper()
	code, stdout, stderr := runCLI(t, c.args...)
	stdout = pingTook.ReplaceAllString(stdout, "Tms")
	if code != c.code || stdout != c.stdout || stderr != c.stderr {
		t.Errorf("%s: fcgicli %q: exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit %d\nstdout:\n%s\nstderr:\n%s",
			c.name, c.args, code, stdout, stderr, c.code, c.stdout, c.stderr)
	}
}

// TestPingUnmatchedGlob: a glob that matches nothing is one failing pool
// among the others (exit 3, cannot connect), not the end of the run: every
// other pool is still checked and has its line.
func TestPingUnmatchedGlob(t *testing.T) {
	addr := serveFCGI(t, pong)
	glob := filepath.Join(t.TempDir(), "nomatch*.sock")
	fail := glob + " FAIL cannot connect to " + glob + ": no socket matches\n"
	ok := addr + " OK pong Tms\n"
	for _, c := range []cliCase{
		{"healthy first", []string{"ping", "-c", addr, "-c", glob}, 3, ok + fail, ""},
		{"glob first", []string{"ping", "-c", glob, "-c", addr}, 3, fail + ok, ""},
		{"alone", []string{"ping", "-c", glob}, 3, "FAIL cannot connect to " + glob + ": no socket matches\n", ""},
		{"quiet", []string{"ping", "-c", addr, "-c", glob, "-q"}, 3, "", ""},
	} {
		runPingCase(t, c)
	}
}

// TestPingRelativeGlob: the matches of a glob of the documented ./ form
// stay unix socket addresses (filepath.Glob drops the ./, and "a.sock"
// alone reads as a host:port without a port).
func TestPingRelativeGlob(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.Mkdir("sub", 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"a.sock", "b.sock", "sub/c.sock", ".h.sk"} {
		servePongUnix(t, p)
	}
	for _, c := range []cliCase{
		{"./", []string{"ping", "-c", "./*.sock"}, 0, "./a.sock OK pong Tms\n./b.sock OK pong Tms\n", ""},
		{"unix:./", []string{"ping", "-c", "unix:./*.sock"}, 0, "./a.sock OK pong Tms\n./b.sock OK pong Tms\n", ""},
		{"./sub/", []string{"ping", "-c", "./sub/*.sock"}, 0, "OK pong Tms\n", ""},
		{"dot file", []string{"ping", "-c", "./.h*", "-c", "./sub/*.sock"}, 0, "./.h.sk OK pong Tms\n./sub/c.sock OK pong Tms\n", ""},
		{"../", []string{"ping", "-c", "../" + filepath.Base(dir) + "/sub/*.sock", "-c", "./b.sock"}, 0,
			"../" + filepath.Base(dir) + "/sub/c.sock OK pong Tms\n./b.sock OK pong Tms\n", ""},
	} {
		runPingCase(t, c)
	}
}

// TestPingExitCodesDocumented: ping ends with 6 and 7 when the application
// refuses the request or ends with a non-zero app status, and its help, its
// guide (docs/ping.md) and the README's health-check section list those
// codes with the others.
func TestPingExitCodesDocumented(t *testing.T) {
	appStatus := serveFCGI(t, func(ctx context.Context, w *fcgiwire.ResponseWriter, r *fcgiwire.ServerRequest) {
		io.WriteString(w.Stdout(), "Status: 500 Internal Server Error\r\n\r\nx")
		w.SetAppStatus(3)
	})
	overloaded := serveFCGI(t, func(ctx context.Context, w *fcgiwire.ResponseWriter, r *fcgiwire.ServerRequest) {
		w.SetProtocolStatus(fcgiwire.Overloaded)
	})
	runPingCase(t, cliCase{"app status", []string{"ping", "-c", appStatus}, 7, "FAIL the application ended with app status 3\n", ""})
	runPingCase(t, cliCase{"overloaded", []string{"ping", "-c", overloaded}, 6, "FAIL the application refused the request: OVERLOADED\n", ""})

	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	guide, err := os.ReadFile("../docs/ping.md")
	if err != nil {
		t.Fatal(err)
	}
	section := func(start, next string) string {
		s := string(readme)
		i := strings.Index(s, start)
		if i < 0 {
			t.Fatalf("README has no %q", start)
		}
		s = s[i+len(start):]
		if j := strings.Index(s, next); j >= 0 {
			s = s[:j]
		}
		return s
	}
	docs := map[string]string{
		"ping's help":                   pingCommand(&runenv.Env{}).Description,
		"docs/ping.md":                  string(guide),
		"README's health-check section": section("## Health checks", "\n## "),
	}
	for name, text := range docs {
		text = strings.Join(strings.Fields(text), " ")
		for _, code := range []int{1, 3, 4, 5, 6, 7} {
			if !regexp.MustCompile(fmt.Sprintf(`[ ,(]%d [a-z]`, code)).MatchString(text) {
				t.Errorf("%s does not list exit code %d", name, code)
			}
		}
	}
}
