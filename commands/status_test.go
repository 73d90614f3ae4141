package commands

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/fcgicli/fcgicli/fcgiwire"
)

// statusPage serves body as a status page (200, JSON) and returns the
// address.
func statusPage(t *testing.T, body string) string {
	return serveFCGI(t, func(ctx context.Context, w *fcgiwire.ResponseWriter, r *fcgiwire.ServerRequest) {
		io.WriteString(w.Stdout(), "Content-Type: application/json\r\n\r\n"+body)
	})
}

// TestStatusWrongType: a field of the wrong type fails the check (exit 1)
// with one short line naming the field, not encoding/json's message with
// the whole Go struct type.
func TestStatusWrongType(t *testing.T) {
	addr := statusPage(t, `{"pool":"www","accepted conn":1,"active processes":1,"processes":"x"}`)
	cliCase{"wrong type", []string{"status", "-c", addr, "-t", "5s"}, 1, "",
		`fcgicli: not a php-fpm status page: "processes" is a string, want a list; body "{\"pool\":\"www\",\"accepted conn\":1,\"active processes\":1,\"proces"...` + "\n"}.run(t)
}

// watchTime matches the time of a --watch JSON line, which the tests'
// wanted output writes as "T".
var watchTime = regexp.MustCompile(`"time":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z"`)

// runWatchCase is cliCase for --watch, whose JSON lines start with the
// time of their reading.
func runWatchCase(t *testing.T, c cliCase) {
	t.Helper()
	code, stdout, stderr := runCLI(t, c.args...)
	stdout = watchTime.ReplaceAllString(stdout, `"time":"T"`)
	if code != c.code || stdout != c.stdout || stderr != c.stderr {
		t.Errorf("%s: fcgicli %q: exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit %d\nstdout:\n%s\nstderr:\n%s",
			c.name, c.args, code, stdout, stderr, c.code, c.stdout, c.stderr)
	}
}

// TestStatusWatchCountExit: with --count, the exit code is the last
// refresh's. Each failure is reported on stderr, and in a JSON line with
// its error and exit code.
func TestStatusWatchCountExit(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := l.Addr().String()
	l.Close()
	runWatchCase(t, cliCase{"refused", []string{"status", "-c", refused, "--watch", "10ms", "--count", "2"}, 3,
		strings.Repeat(`{"time":"T","error":"cannot connect to `+refused+`: connection refused","exit_code":3}`+"\n", 2),
		strings.Repeat("fcgicli: cannot connect to "+refused+": connection refused\n", 2)})

	// A pool whose page alternates: good, not a page, good...
	const page = `{"pool":"www","accepted conn":1,"active processes":1}`
	const line = `{"time":"T","pool":"www","process_manager":"","start_time":0,"start_since":0,"accepted_conn":1,"listen_queue":0,"max_listen_queue":0,"listen_queue_len":0,"idle_processes":0,"active_processes":1,"total_processes":0,"max_active_processes":0,"max_children_reached":0,"slow_requests":0}` + "\n"
	const notPage = "fcgicli: not a php-fpm status page: status 404, body \"File not found.\"\n"
	const notPageLine = `{"time":"T","error":"not a php-fpm status page: status 404, body \"File not found.\"","exit_code":1}` + "\n"
	var n atomic.Int64
	addr := serveFCGI(t, func(ctx context.Context, w *fcgiwire.ResponseWriter, r *fcgiwire.ServerRequest) {
		if n.Add(1)%2 == 0 {
			io.WriteString(w.Stdout(), "Status: 404 Not Found\r\nContent-Type: text/html\r\n\r\nFile not found.\n")
			return
		}
		io.WriteString(w.Stdout(), "Content-Type: application/json\r\n\r\n"+page)
	})
	watch := []string{"status", "-c", addr, "--no-full", "--watch", "10ms", "--count"}
	runWatchCase(t, cliCase{"good, bad", append(watch, "2"), 1, line + notPageLine, notPage})
	n.Store(1) // the next read is a bad one
	runWatchCase(t, cliCase{"bad, good", append(watch, "2"), 0, notPageLine + line, notPage})
}

// TestStatusStateFileOtherPool: a state file saved for another pool (of
// the same php-fpm: same start time) is not used for the -delta checks:
// one note, as on a first run, and the next run compares with this pool's
// reading.
func TestStatusStateFileOtherPool(t *testing.T) {
	a := statusPage(t, `{"pool":"a","start time":1700000000,"accepted conn":5,"active processes":1,"slow requests":0,"max children reached":0}`)
	b := statusPage(t, `{"pool":"b","start time":1700000000,"accepted conn":9,"active processes":1,"slow requests":1,"max children reached":2}`)
	state := filepath.Join(t.TempDir(), "fpm.state")
	run := func(addr string) []string {
		return []string{"status", "-c", addr, "-o", "prometheus", "--state-file", state, "--max-slow-requests-delta", "0", "--max-children-reached-delta", "0"}
	}
	for _, c := range []cliCase{
		{"first run", run(a), 0, "", "fcgicli: note: no earlier reading in the state file yet: the -delta checks start with the next run\n"},
		{"other pool", run(b), 0, "", `fcgicli: note: the state file holds a reading of pool "a", not "b": the -delta checks start again with the next run` + "\n"},
		{"same pool", run(b), 0, "", ""},
		{"back to a", run(a), 0, "", `fcgicli: note: the state file holds a reading of pool "b", not "a": the -delta checks start again with the next run` + "\n"},
		// -q prints nothing but failures: no note.
		{"quiet", append(run(b), "-q"), 0, "", ""},
	} {
		code, _, stderr := runCLI(t, c.args...)
		if code != c.code || stderr != c.stderr {
			t.Errorf("%s: exit %d, stderr %q; want %d, %q", c.name, code, stderr, c.code, c.stderr)
		}
	}
}

// TestStatusStateFileFaults: a state file that cannot be read or written
// is exit 2 naming it, not 1, which says the pool is unhealthy.
func TestStatusStateFileFaults(t *testing.T) {
	addr := statusPage(t, `{"pool":"a","start time":1700000000,"accepted conn":5,"active processes":1}`)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.state")
	if err := os.WriteFile(bad, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "no", "fpm.state")
	for _, c := range []cliCase{
		{"directory", []string{"status", "-c", addr, "-q", "--state-file", dir, "--max-slow-requests-delta", "0"}, 2, "",
			"fcgicli: --state-file " + dir + ": cannot read it: is a directory\n"},
		{"not ours", []string{"status", "-c", addr, "-q", "--state-file", bad, "--max-slow-requests-delta", "0"}, 2, "",
			"fcgicli: --state-file " + bad + ": not a state file fcgicli wrote: unexpected end of JSON input\n"},
		{"cannot write", []string{"status", "-c", addr, "-q", "--state-file", missing, "--max-slow-requests-delta", "0"}, 2, "",
			"fcgicli: --state-file " + missing + ": cannot write it: no such file or directory\n"},
	} {
		c.run(t)
	}
}

// TestStatusWatchOutput: off a terminal --watch prints JSON lines, by
// default or with -o json; an -o or -q it cannot honour is refused (exit
// 2, one line) instead of being silently replaced by JSON lines.
func TestStatusWatchOutput(t *testing.T) {
	addr := statusPage(t, `{"pool":"www","accepted conn":1,"active processes":1}`)
	const line = `{"time":"T","pool":"www","process_manager":"","start_time":0,"start_since":0,"accepted_conn":1,"listen_queue":0,"max_listen_queue":0,"listen_queue_len":0,"idle_processes":0,"active_processes":1,"total_processes":0,"max_active_processes":0,"max_children_reached":0,"slow_requests":0}` + "\n"
	watch := []string{"status", "-c", addr, "--no-full", "--watch", "10ms", "--count", "1"}
	for _, c := range []cliCase{
		{"default", watch, 0, line, ""},
		{"json", append(watch, "-o", "json"), 0, line, ""},
		{"prometheus", append(watch, "-o", "prometheus"), 2, "",
			"fcgicli: -o prometheus does not go with --watch (it shows the live view on a terminal, JSON lines elsewhere or with -o json)\n"},
		{"quiet", append(watch, "-q"), 2, "", "fcgicli: -q does not go with --watch, which has no checks to report\n"},
		{"quiet json", append(watch, "-q", "-o", "json"), 2, "", "fcgicli: -q does not go with --watch, which has no checks to report\n"},
		{"text", append(watch, "-o", "text"), 2, "", "fcgicli: --watch -o text needs a terminal: off one, --watch prints JSON lines (-o json)\n"},
	} {
		runWatchCase(t, c)
	}
}

// TestStatusWatchDrift: --watch, like one reading, shows the process
// list's numbers when the page has it, not a summary that drifted.
func TestStatusWatchDrift(t *testing.T) {
	addr := statusPage(t, `{"pool":"www","accepted conn":9,"idle processes":0,"active processes":7,"total processes":7,`+
		`"processes":[{"pid":1,"state":"Running"},{"pid":2,"state":"Idle"}]}`)
	const line = `{"time":"T","pool":"www","process_manager":"","start_time":0,"start_since":0,"accepted_conn":9,"listen_queue":0,"max_listen_queue":0,"listen_queue_len":0,"idle_processes":1,"active_processes":1,"total_processes":2,"max_active_processes":0,"max_children_reached":0,"slow_requests":0,` +
		`"processes":[{"pid":1,"state":"Running","start_time":0,"start_since":0,"requests":0,"request_duration_us":0,"request_method":"","request_uri":"","content_length":0,"user":"","script":"","last_request_cpu":0,"last_request_memory":0},` +
		`{"pid":2,"state":"Idle","start_time":0,"start_since":0,"requests":0,"request_duration_us":0,"request_method":"","request_uri":"","content_length":0,"user":"","script":"","last_request_cpu":0,"last_request_memory":0}]}` + "\n"
	runWatchCase(t, cliCase{"drift", []string{"status", "-c", addr, "--watch", "10ms", "--count", "1", "-o", "json"}, 0, line, ""})
}

// TestStatusDrift: with the process list, the checks and the output use
// the list's numbers; a summary beyond pm.max_children (php-fpm 8.2's
// drift) is noted once, and -q keeps only the failures.
func TestStatusDrift(t *testing.T) {
	addr := statusPage(t, `{"pool":"www","accepted conn":9,"idle processes":0,"active processes":7,"total processes":7,`+
		`"processes":[{"pid":1,"state":"Running"},{"pid":2,"state":"Idle"}]}`)
	const note = "the summary counts 7 active and 7 total processes, more than pm.max_children 2 allows: it drifted (a php-fpm bug), the process list's 1 active and 2 total are used\n"
	const ratio = "active processes are 0.50 of pm.max_children (1 of 2), at or above --max-children-ratio 0.5\n"
	prom := []string{"status", "-o", "prometheus", "-c", addr}
	for _, c := range []cliCase{
		{"drift", append(prom, "--max-children", "2", "--max-active", "0"), 1, "",
			"fcgicli: note: " + note + "fcgicli: active processes is 1, above --max-active 0\n"},
		{"quiet", []string{"status", "-c", addr, "-q", "--max-children", "2", "--max-active", "0"}, 1, "",
			"fcgicli: active processes is 1, above --max-active 0\n"},
		{"no max", append(prom, "--max-active", "1", "--min-idle", "1"), 0, "", ""},
		{"pools", append(prom, "-c", addr, "--max-children", "2", "--max-children-ratio", "0.5"), 1, "",
			strings.Repeat("fcgicli: note: "+addr+": "+note+"fcgicli: "+addr+": "+ratio, 2)},
	} {
		code, stdout, stderr := runCLI(t, c.args...)
		if code != c.code || stderr != c.stderr {
			t.Errorf("%s: exit %d, stderr %q; want %d, %q", c.name, code, stderr, c.code, c.stderr)
		}
		if c.name != "quiet" && !strings.Contains(stdout, "phpfpm_active_processes{pool=\"www\",scrape_uri=\"tcp://"+addr+"/status\"} 1\n") {
			t.Errorf("%s: the summary's numbers in\n%s", c.name, stdout)
		}
	}
}
