package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/fcgicli/fcgicli/commands"
	"github.com/fcgicli/fcgicli/commands/runenv"
)

// hostileCase is one command against one hostile server.
type hostileCase struct {
	kind   string
	code   int
	stderr string // regexp for the whole of stderr
	stdout string // exact stdout
}

const hostileOut = "hello from a hostile server\n"

func hostileCases() map[string][]hostileCase {
	timeout := `^fcgicli: timed out after 500ms \(--timeout\)\n$`
	closed := `^fcgicli: protocol error at byte 0: connection closed before FCGI_END_REQUEST(: connection reset by peer)?\n$`
	http := `^fcgicli: protocol error at byte 0: unsupported FastCGI version: the peer answered in HTTP \("HTTP/1.1"\), not FastCGI\n$`
	request := []hostileCase{
		{kind: "hang", code: 4, stderr: timeout},
		{kind: "noread", code: 4, stderr: timeout},
		{kind: "huge-no-body", code: 4, stderr: timeout},
		{kind: "slowloris", code: 4, stderr: timeout},
		{kind: "close", code: 5, stderr: closed},
		{kind: "close-mid-header", code: 5, stderr: `^fcgicli: protocol error at byte 0: truncated record: stream ended after 3 of 8 header bytes\n$`},
		{kind: "close-mid-body", code: 5, stderr: `^fcgicli: protocol error at byte 0 \(STDOUT record\): truncated record: header announces 100 content and 4 padding bytes, stream ended after 10\n$`},
		{kind: "close-before-end", code: 5, stdout: hostileOut, stderr: `^fcgicli: protocol error at byte 80: connection closed before FCGI_END_REQUEST\n$`},
		{kind: "http", code: 5, stderr: http},
		{kind: "bad-version", code: 5, stderr: `^fcgicli: protocol error at byte 0 \(STDOUT record\): unsupported FastCGI version: version byte is 2\n$`},
		{kind: "wrong-id", code: 5, stderr: `^fcgicli: protocol error at byte 0 \(STDOUT record\): unexpected request id: got request id 2, expected 1\n$`},
		{kind: "end-wrong-id", code: 5, stdout: hostileOut, stderr: `^fcgicli: protocol error at byte 80 \(END_REQUEST record\): unexpected request id: got request id 2, expected 1\n$`},
		{kind: "stream-id0", code: 5, stderr: `^fcgicli: protocol error at byte 0 \(STDOUT record\): unexpected request id: STDOUT record with request id 0\n$`},
		{kind: "type42", code: 5, stderr: `^fcgicli: protocol error at byte 0 \(TYPE_42 record\): unexpected record type: a client does not expect TYPE_42\n$`},
		{kind: "overloaded", code: 6, stderr: `^fcgicli: the application refused the request: OVERLOADED\n$`},
		{kind: "cant-mpx-conn", code: 6, stderr: `^fcgicli: the application refused the request: CANT_MPX_CONN\n$`},
		{kind: "unknown-role", code: 6, stderr: `^fcgicli: the application refused the request: UNKNOWN_ROLE\n$`},
		{kind: "app-status", code: 7, stdout: hostileOut, stderr: `^fcgicli: the application ended with app status 3\n$`},
		{kind: "after-end", code: 0, stdout: hostileOut, stderr: `^$`},
		{kind: "mgmt-mid", code: 0, stdout: hostileOut, stderr: `^$`},
		{kind: "big-padding", code: 0, stdout: hostileOut, stderr: `^$`},
		{kind: "trickle", code: 0, stdout: hostileOut, stderr: `^warning\n$`},
	}
	// request adds a hint to the faults it recognises.
	hinted := map[string]string{
		"close": `fcgicli: hint: the connection closed before any response \(a web server would answer 502 Bad Gateway\): .*\n$`,
		"http":  `fcgicli: hint: this address is an HTTP server's \(a web server, php -S\), not a FastCGI one: .*\n$`,
	}
	for _, kind := range []string{"hang", "noread", "huge-no-body", "slowloris"} {
		hinted[kind] = `fcgicli: hint: the connection was accepted in [0-9.]+ms, .*\n$`
	}
	var requestHinted []hostileCase
	for _, c := range request {
		if h, ok := hinted[c.kind]; ok {
			c.stderr = strings.TrimSuffix(c.stderr, "$") + h
		}
		requestHinted = append(requestHinted, c)
	}
	cases := map[string][]hostileCase{"request": append(requestHinted,
		hostileCase{kind: "bad-cgi", code: 5, stdout: "no header block here\n", stderr: `^fcgicli: malformed CGI response header at byte 0 of stdout: line "no header block here" has no colon\n$`},
	)}
	// raw-dump: the same codes; stdout is the dump, not checked here.
	for _, c := range request {
		c.stdout = "*"
		if c.kind == "trickle" {
			c.stderr = `^$`
		}
		cases["raw-dump"] = append(cases["raw-dump"], c)
	}
	cases["raw-dump"] = append(cases["raw-dump"], hostileCase{kind: "bad-cgi", code: 0, stdout: "*", stderr: `^$`})
	mclosed := `^fcgicli: protocol error at byte 0: connection closed before an answer to the management record(: connection reset by peer)?\n$`
	cases["get-values"] = []hostileCase{
		{kind: "hang", code: 4, stderr: timeout},
		{kind: "noread", code: 4, stderr: timeout},
		{kind: "huge-no-body", code: 4, stderr: timeout},
		{kind: "slowloris", code: 4, stderr: timeout},
		{kind: "close", code: 5, stderr: mclosed},
		{kind: "close-before-end", code: 5, stderr: mclosed},
		{kind: "close-mid-header", code: 5, stderr: `^fcgicli: protocol error at byte 0: truncated record: stream ended after 3 of 8 header bytes\n$`},
		{kind: "close-mid-body", code: 5, stderr: `^fcgicli: protocol error at byte 0 \(GET_VALUES_RESULT record\): truncated record: header announces 100 content and 4 padding bytes, stream ended after 10\n$`},
		{kind: "http", code: 5, stderr: strings.TrimSuffix(http, "$") + hinted["http"]},
		{kind: "bad-version", code: 5, stderr: `^fcgicli: protocol error at byte 0 \(GET_VALUES_RESULT record\): unsupported FastCGI version: version byte is 2\n$`},
		{kind: "type42", code: 5, stderr: `^fcgicli: protocol error at byte 0 \(TYPE_42 record\): unexpected record type: expected GET_VALUES_RESULT\n$`},
		{kind: "wrong-id", code: 5, stderr: `^fcgicli: protocol error at byte 0 \(STDOUT record\): unexpected request id: got request id 2 in answer to GET_VALUES, expected 0\n$`},
		{kind: "unknown-type", code: 5, stderr: `^fcgicli: protocol error at byte 0 \(UNKNOWN_TYPE record\): the application answered FCGI_UNKNOWN_TYPE: it does not support GET_VALUES\n$`},
		{kind: "bad-values", code: 5, stderr: `^fcgicli: protocol error at byte 8: malformed name-value pair: name length 14 and value length 200 run past the 14 bytes left\n$`},
		{kind: "big-padding", code: 0, stdout: "FCGI_MPXS_CONNS=0\n", stderr: `^$`},
		{kind: "trickle", code: 0, stdout: "FCGI_MPXS_CONNS=0\n", stderr: `^$`},
	}
	return cases
}

// TestHostileServers runs request, raw-dump and get-values in-process
// against every hostile server, over TCP and a unix socket. Each must end
// within its deadline with its exit code and message, keep the stdout
// received before the fault, and leave no goroutine of its own running.
func TestHostileServers(t *testing.T) {
	for cmd, cases := range hostileCases() {
		for _, c := range cases {
			for _, network := range []string{"tcp", "unix"} {
				t.Run(fmt.Sprintf("%s/%s/%s", cmd, c.kind, network), func(t *testing.T) {
					addr := "127.0.0.1:0"
					if network == "unix" {
						addr = filepath.Join(t.TempDir(), "hostile.sock")
					}
					h, err := startHostile(network, addr, c.kind)
					if err != nil {
						t.Fatal(err)
					}
					target := h.Addr
					if network == "unix" {
						target = "unix:" + h.Addr
					}
					args := []string{"fcgicli", cmd, "-c", target, "-t", "500ms"}
					if cmd != "get-values" {
						args = append(args, "/x")
					}
					var stdout, stderr bytes.Buffer
					env := &runenv.Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
						Getenv: func(string) string { return "" }, Environ: func() []string { return nil }}
					code := commands.RunEnv(context.Background(), env, args)
					h.Close()
					if code != c.code {
						t.Errorf("exit %d, want %d; stderr: %q", code, c.code, stderr.String())
					}
					if !regexp.MustCompile(c.stderr).MatchString(stderr.String()) {
						t.Errorf("stderr %q, want match for %q", stderr.String(), c.stderr)
					}
					if c.stdout != "*" && stdout.String() != c.stdout {
						t.Errorf("stdout %q, want %q", stdout.String(), c.stdout)
					}
					checkNoClientGoroutines(t)
				})
			}
		}
	}
}

// checkNoClientGoroutines fails when a goroutine running fcgicli's own
// code (fcgiwire or commands) is still alive, after a short settling time.
func checkNoClientGoroutines(t *testing.T) {
	t.Helper()
	var leaked string
	for i := 0; i < 50; i++ {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		leaked = ""
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "fcgicli/fcgiwire.") || strings.Contains(g, "fcgicli/commands.") {
				leaked = g
				break
			}
		}
		if leaked == "" {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("goroutine left running:\n%s", leaked)
}
