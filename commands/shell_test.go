package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/fcgi"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/commands/shell"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/fcgiwire/fcgitest"
)

func TestShellComplete(t *testing.T) {
	env := shellEnv("", new(bytes.Buffer), new(bytes.Buffer))
	s := shell.New(env, shell.Settings{Params: []string{"APP_ENV=x"}}, shellCLI(env))
	for _, c := range []struct {
		line string
		want []string
	}{
		{"reque", []string{"request "}},
		{"set pa", []string{"param "}},
		{"set param APP_", []string{"APP_ENV="}},
		{"request /x --ro", []string{"--role "}},
		{"get /x -p QUERY_S", []string{"QUERY_STRING="}},
		{"set output j", []string{"json "}},
	} {
		head, got, _ := s.Complete(c.line, len(c.line))
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("complete(%q) = %q %q, want %q", c.line, head, got, c.want)
		}
	}
}

// shellEnv is an environment for an in-process shell reading lines.
func shellEnv(lines string, out, errOut *bytes.Buffer) *runenv.Env {
	return &runenv.Env{Stdin: strings.NewReader(lines), Stdout: out, Stderr: errOut, Getenv: func(string) string { return "" }}
}

// TestShellTimeoutFlag: the -t given at start bounds every command that
// talks to the server, not only requests, and each command's own
// default does not replace it.
func TestShellTimeoutFlag(t *testing.T) {
	addr, seen := fcgitest.Silent(t, 3*time.Second)
	cmds := []string{"get /x", "request /x", "post /x a=1", "get-values", "raw-dump /x", "ping", "status"}
	var out, errOut bytes.Buffer
	env := shellEnv(strings.Join(append(cmds, "show"), "\n")+"\n", &out, &errOut)
	code := RunEnv(context.Background(), env, []string{"fcgicli", "shell", "-c", addr, "-t", "300ms", "--color", "never"})
	if code != runenv.ExitTimeout {
		t.Errorf("exit %d, want %d; stderr:\n%s", code, runenv.ExitTimeout, errOut.String())
	}
	// ping reports on stdout, the others on stderr.
	// The requests' timeouts have a hint: the connection was accepted.
	hint := "fcgicli: hint: the connection was accepted in Tms, then nothing answered: every child of the pool may be busy (the request waits in the listen queue), or the script is slow, and php-fpm goes on running it after the abort; look at the pool's status page (fcgicli status; with pm.status_listen it answers even when every child is busy)\n"
	timedOut := "fcgicli: timed out after 300ms (--timeout)\n"
	want := strings.Repeat(timedOut+hint, 3) + strings.Repeat(timedOut, len(cmds)-4)
	if got := regexp.MustCompile(`accepted in [0-9.]+ms`).ReplaceAllString(errOut.String(), "accepted in Tms"); got != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", got, want)
	}
	if !strings.Contains(out.String(), "\nFAIL timed out after 300ms (--timeout)\n") {
		t.Errorf("stdout has no FAIL line from ping timing out after 300ms:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "\ntimeout:    300ms (connect 5s)\n") {
		t.Errorf("show did not run after the timeouts, or shows another timeout:\n%s", out.String())
	}
	if !fcgitest.SawAbort(seen, 1, 2*time.Second) {
		t.Error("the server never got FCGI_ABORT_REQUEST")
	}
}

// TestShellDeadlinesReachRequests: the session's timeout and connect
// timeout are those of the requests it parses, unless a request gives its
// own.
func TestShellDeadlinesReachRequests(t *testing.T) {
	var out, errOut bytes.Buffer
	env := shellEnv("", &out, &errOut)
	net := fcgireq.NetOptions{Connect: "127.0.0.1:1", ConnectTimeout: 700 * time.Millisecond, Timeout: 300 * time.Millisecond}
	s := newTestSession(env, net)
	ctx := context.Background()
	o, err := parseShellRequest(ctx, env, []string{"/x"}, nil, s.Settings())
	if err != nil {
		t.Fatal(err)
	}
	if o.Net != net {
		t.Errorf("a request's deadlines are %+v, want the session's %+v", o.Net, net)
	}
	// The commands the shell runs as they are (ping here) get them too,
	// as their help shows.
	s.Exec(ctx, "help ping")
	for _, want := range []string{"after DURATION (default: 700ms)", "(0: never) (default: 300ms)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help ping in the shell does not show %q:\n%s", want, out.String())
		}
	}
	if _, err := s.Exec(ctx, "set timeout 0"); err != nil {
		t.Fatal(err)
	}
	if o, err = parseShellRequest(ctx, env, []string{"/x"}, nil, s.Settings()); err != nil {
		t.Fatal(err)
	} else if o.Net.Timeout != 0 {
		t.Errorf("after set timeout 0 a request's timeout is %s, want 0 (none)", o.Net.Timeout)
	}
	if o, err = parseShellRequest(ctx, env, []string{"/x", "-t", "2s", "--connect-timeout", "1s"}, nil, s.Settings()); err != nil {
		t.Fatal(err)
	}
	if o.Net.Timeout != 2*time.Second || o.Net.ConnectTimeout != time.Second {
		t.Errorf("a request's own -t 2s --connect-timeout 1s gave %+v", o.Net)
	}
}

// namedServer runs Go's net/http/fcgi on 127.0.0.1, answering every
// request with name, a space and the path, and counts the requests.
func namedServer(t *testing.T, name string) (addr string, hits *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	hits = new(atomic.Int64)
	go fcgi.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("X-Server", name)
		w.Header().Set("Date", "Thu, 01 Jan 1970 00:00:00 GMT") // not now: the output is exact
		fmt.Fprintf(w, "%s %s\n", name, r.URL.Path)
	}))
	return l.Addr().String(), hits
}

// TestShellLineFlags: the address, output format and include setting a
// line gives replace the session's for that line, in either form of the
// flag, without the clash of two forms of one flag; a line's own -c goes
// to that server only and leaves the session where it was; ping -c checks
// that pool alone.
func TestShellLineFlags(t *testing.T) {
	a, aHits := namedServer(t, "A")
	b, bHits := namedServer(t, "B")
	var out, errOut bytes.Buffer
	env := shellEnv("", &out, &errOut)
	s := newTestSession(env, fcgireq.NetOptions{Connect: a, ConnectTimeout: 5 * time.Second, Timeout: 10 * time.Second})
	defer s.Close()
	ctx := context.Background()
	headers := "Status: 200 OK\nContent-Type: text/plain; charset=utf-8\nDate: Thu, 01 Jan 1970 00:00:00 GMT\nX-Server: A\n\n"
	for _, c := range []struct {
		line         string
		stdout       string // exact, or a regular expression when re
		re           bool
		json         string // stdout is one JSON document of a 200 with this body
		aHits, bHits int64  // the requests each server gets
	}{
		{line: "get /x", stdout: "A /x\n", aHits: 1},
		{line: "get /x -o json", json: "A /x\n", aHits: 1},
		{line: "get /x --output json", json: "A /x\n", aHits: 1},
		{line: "get /x -o json -c " + b, json: "B /x\n", bHits: 1},
		{line: "get /x -i", stdout: headers + "A /x\n", aHits: 1},
		{line: "get /x --include", stdout: headers + "A /x\n", aHits: 1},
		{line: "get /x -c " + b, stdout: "B /x\n", bHits: 1},
		{line: "get /x --connect " + b, stdout: "B /x\n", bHits: 1},
		{line: "get /y", stdout: "A /y\n", aHits: 1},
		{line: "ping -c " + b + " --expect 'B /ping'", stdout: `^OK B /ping \S+\n$`, re: true, bHits: 1},
		{line: "ping --connect " + b + " --expect 'B /ping'", stdout: `^OK B /ping \S+\n$`, re: true, bHits: 1},
		{line: "get-values --connect " + b + " -o text FCGI_MPXS_CONNS", stdout: "FCGI_MPXS_CONNS=1\n"},
		// Against the session's settings: a line's flag still wins, for
		// that line only.
		{line: "set output json"},
		{line: "set include on"},
		{line: "get /x -o text --include=false", stdout: "A /x\n", aHits: 1},
		{line: "get /x --output text", stdout: headers + "A /x\n", aHits: 1},
		{line: "get /x", json: "A /x\n", aHits: 1},
	} {
		out.Reset()
		errOut.Reset()
		a0, b0 := aHits.Load(), bHits.Load()
		_, err := s.Exec(ctx, c.line)
		if c.json != "" {
			var doc struct {
				Status int    `json:"status"`
				Body   string `json:"body"`
			}
			if err := json.Unmarshal(out.Bytes(), &doc); err != nil || doc.Status != 200 || doc.Body != c.json {
				t.Errorf("%s: stdout %q (%v), want a JSON document of a 200 with body %q", c.line, out.String(), err, c.json)
			}
		} else if c.re {
			if !regexp.MustCompile(c.stdout).MatchString(out.String()) {
				t.Errorf("%s: stdout %q, want a match of %s", c.line, out.String(), c.stdout)
			}
		} else if out.String() != c.stdout {
			t.Errorf("%s: stdout %q, want %q", c.line, out.String(), c.stdout)
		}
		if code, _ := runenv.ExitCode(err); errOut.Len() > 0 || code != 0 {
			t.Errorf("%s: exit %d, stderr %q", c.line, code, errOut.String())
		}
		if da, db := aHits.Load()-a0, bHits.Load()-b0; da != c.aHits || db != c.bHits {
			t.Errorf("%s: the session's server got %d requests and the other %d, want %d and %d", c.line, da, db, c.aHits, c.bHits)
		}
		if got := s.Settings().Net.Connect; got != a {
			t.Fatalf("%s: the session's address became %s", c.line, got)
		}
	}
}

// TestShellShapeFlags: a request's -p, -H and --unset-param, in either
// form, add to the session's (which a comma never splits); its -r, -X and
// -d replace the session's root and what get and post fill in; the
// session stays as it was.
func TestShellShapeFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	env := shellEnv("", &out, &errOut)
	s := shell.Settings{
		Color: "never", Output: "text",
		Net:    fcgireq.NetOptions{Connect: "127.0.0.1:1", ConnectTimeout: 5 * time.Second, Timeout: 10 * time.Second},
		Params: []string{"A=1,2"}, Unset: []string{"HTTP_HOST"}, Headers: []string{"X-A: 1"}, DocRoot: "/srv",
	}
	params, unset, headers := slices.Clone(s.Params), slices.Clone(s.Unset), slices.Clone(s.Headers)
	post := map[string]string{"method": "POST", "data": "a=1"}
	for _, c := range []struct {
		line                   []string
		fill                   map[string]string
		params, unset, headers []string
		root, method, data     string
	}{
		{[]string{"/x"}, nil, []string{"A=1,2"}, []string{"HTTP_HOST"}, []string{"X-A: 1"}, "/srv", "", ""},
		{[]string{"/x", "-p", "B=2", "-H", "X-B: 2", "--unset-param", "REMOTE_PORT", "-r", "/www"}, nil,
			[]string{"A=1,2", "B=2"}, []string{"HTTP_HOST", "REMOTE_PORT"}, []string{"X-A: 1", "X-B: 2"}, "/www", "", ""},
		{[]string{"/x", "--param", "A=9", "--header", "X-A: 3", "--document-root", "/www"}, nil,
			[]string{"A=1,2", "A=9"}, []string{"HTTP_HOST"}, []string{"X-A: 1", "X-A: 3"}, "/www", "", ""},
		{[]string{"/x"}, map[string]string{"method": "GET"}, []string{"A=1,2"}, []string{"HTTP_HOST"}, []string{"X-A: 1"}, "/srv", "GET", ""},
		{[]string{"/x", "--method", "HEAD"}, map[string]string{"method": "GET"}, []string{"A=1,2"}, []string{"HTTP_HOST"}, []string{"X-A: 1"}, "/srv", "HEAD", ""},
		{[]string{"/x"}, post, []string{"A=1,2"}, []string{"HTTP_HOST"}, []string{"X-A: 1"}, "/srv", "POST", "a=1"},
		{[]string{"/x", "--data", "b=2", "-X", "PUT"}, post, []string{"A=1,2"}, []string{"HTTP_HOST"}, []string{"X-A: 1"}, "/srv", "PUT", "b=2"},
	} {
		o, err := parseShellRequest(context.Background(), env, c.line, c.fill, s)
		if err != nil {
			t.Errorf("%q: %v", c.line, err)
			continue
		}
		data := ""
		if o.Data != nil {
			data = *o.Data
		}
		sp := o.Spec
		if !reflect.DeepEqual(sp.Params, c.params) || !reflect.DeepEqual(sp.Unset, c.unset) || !reflect.DeepEqual(sp.Headers, c.headers) ||
			sp.DocRoot != c.root || sp.Method != c.method || data != c.data {
			t.Errorf("%q: params %q unset %q headers %q root %q method %q data %q; want %q %q %q %q %q %q",
				c.line, sp.Params, sp.Unset, sp.Headers, sp.DocRoot, sp.Method, data, c.params, c.unset, c.headers, c.root, c.method, c.data)
		}
	}
	if !slices.Equal(s.Params, params) || !slices.Equal(s.Unset, unset) || !slices.Equal(s.Headers, headers) || s.DocRoot != "/srv" {
		t.Errorf("the session changed: params %q unset %q headers %q root %q", s.Params, s.Unset, s.Headers, s.DocRoot)
	}
}

// TestShellNumbersRequests: the kept connection numbers its requests
// unless the line gives --request-id, so that an application repeating an
// answer after its END_REQUEST (here, in the same write) fails no later
// request: the repeat is a stray of the ended request's id, not the next
// request's answer. The dump expects the id each request goes out with.
func TestShellNumbersRequests(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var ids []uint16
	var mu sync.Mutex
	go func() {
		nc, err := l.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		r := fcgiwire.NewReader(nc)
		for n := 1; ; {
			rec, err := r.ReadRecord()
			if err != nil {
				return
			}
			if rec.Type != fcgiwire.TypeStdin || len(rec.Content) != 0 {
				continue
			}
			id := rec.RequestID
			mu.Lock()
			ids = append(ids, id)
			mu.Unlock()
			h := fcgiwire.Header{Version: fcgiwire.Version1, RequestID: id}
			withType := func(t fcgiwire.RecordType) fcgiwire.Header { h.Type = t; return h }
			answer := fcgiwire.AppendRecord(nil, withType(fcgiwire.TypeStdout), fmt.Appendf(nil, "Content-Type: text/plain\r\n\r\nanswer %d\n", n))
			answer = fcgiwire.AppendRecord(answer, withType(fcgiwire.TypeStdout), nil)
			answer = fcgiwire.AppendRecord(answer, withType(fcgiwire.TypeEndRequest), fcgiwire.EndRequest{}.Encode())
			if _, err := nc.Write(append(answer, answer...)); err != nil {
				return
			}
			n++
		}
	}()
	s, out, errOut := testSession(t, l.Addr().String())
	ctx := context.Background()
	lastFail := 0
	for _, line := range []string{"get /a", "get /b", "get /c --request-id 9", "set dump on", "get /d"} {
		if _, err := s.Exec(ctx, line); err != nil {
			lastFail, _ = runenv.ExitCode(err)
		}
	}
	if got, want := out.String(), "answer 1\nanswer 2\nanswer 3\nanswer 4\n"; got != want || lastFail != 0 {
		t.Errorf("stdout %q, want %q (last failure %d); stderr:\n%s", got, want, lastFail, errOut.String())
	}
	mu.Lock()
	if want := []uint16{1, 2, 9, 10}; !slices.Equal(ids, want) {
		t.Errorf("request ids %v, want %v", ids, want)
	}
	mu.Unlock()
	// The dump flags the strays of request 9 and nothing of request 10's own.
	dump := errOut.String()
	if strings.Contains(dump, "reconnecting") || !strings.Contains(dump, "request id 9, expected 10") || strings.Contains(dump, "request id 10, expected") {
		t.Errorf("stderr:\n%s", dump)
	}
}
