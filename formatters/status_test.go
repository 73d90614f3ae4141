package formatters

import (
	"bytes"
	"strings"
	"testing"

	"github.com/fcgicli/fcgicli/commands/fpmstatus"
)

// TestWriteStatusText checks both tables, with the busy process coloured:
// its escapes must not shift a column, so that with them removed the
// table is the plain one.
func TestWriteStatusText(t *testing.T) {
	v := &StatusView{Status: &fpmstatus.Status{
		Pool: "www", ProcessManager: "static", StartTime: 1700000000, StartSince: 3725,
		AcceptedConn: 42, ListenQueueLen: 511, IdleProcesses: 1, ActiveProcesses: 1, TotalProcesses: 2,
		MaxActiveProcesses: 2, Processes: []fpmstatus.Process{
			{PID: 12, State: "Idle", StartTime: 1700000000, Requests: 20, RequestDurationUS: 150, RequestMethod: "GET", RequestURI: "/index.php", Script: "/srv/index.php", LastRequestCPU: 0, LastRequestMemory: 2097152},
			{PID: 13, State: "Running", StartTime: 1700000001, Requests: 22, RequestDurationUS: 2500000, RequestMethod: "POST", RequestURI: "/upload.php?x=ü", ContentLength: 1024, User: "-", Script: "/srv/upload.php", LastRequestCPU: 12.5, LastRequestMemory: 0},
		},
	}}
	want := `+----------------------+-------------------------+
| pool                 | www                     |
| process manager      | static                  |
| start time           | 2023-11-14 22:13:20 UTC |
| uptime               | 1h2m5s                  |
| accepted conn        | 42                      |
| listen queue         | 0                       |
| max listen queue     | 0                       |
| listen queue len     | 511                     |
| idle processes       | 1                       |
| active processes     | 1                       |
| total processes      | 2                       |
| max active processes | 2                       |
| max children reached | 0                       |
| slow requests        | 0                       |
+----------------------+-------------------------+

+-----+---------+-------------------------+----------+----------+--------+-----------------+----------------+------+-----------------+-------+---------+
| PID | STATE   | START                   | REQUESTS | DURATION | METHOD | URI             | CONTENT LENGTH | USER | SCRIPT          | CPU   | MEMORY  |
+-----+---------+-------------------------+----------+----------+--------+-----------------+----------------+------+-----------------+-------+---------+
| 13  | Running | 2023-11-14 22:13:21 UTC | 22       | 2.5s     | POST   | /upload.php?x=ü | 1024           | -    | /srv/upload.php | 12.50 | 0       |
| 12  | Idle    | 2023-11-14 22:13:20 UTC | 20       | 150µs    | GET    | /index.php      | 0              |      | /srv/index.php  | 0.00  | 2097152 |
+-----+---------+-------------------------+----------+----------+--------+-----------------+----------------+------+-----------------+-------+---------+
`
	var b bytes.Buffer
	if err := WriteStatusText(&b, v, NewPalette(false)); err != nil {
		t.Fatal(err)
	}
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	if err := WriteStatusText(&b, v, NewPalette(true)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "\x1b[") {
		t.Fatalf("the busy process is not coloured:\n%q", b.String())
	}
	if got := stripANSI(b.String()); got != want {
		t.Errorf("coloured, escapes removed:\n%s\nwant:\n%s", got, want)
	}
}

// TestTableWriteError checks that a table returns the error of the writer
// it renders to, which tablewriter itself drops.
func TestTableWriteError(t *testing.T) {
	tb := newTable(failWriter{}, "A")
	tb.append("x")
	if err := tb.render(); err == nil {
		t.Fatal("no error from a failing writer")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, bytes.ErrTooLarge }

// TestWriteStatusTextQuoted checks that the page's strings that are not
// printable UTF-8 are quoted: an escape in the pool name or a newline in
// a request URI must not break a row nor reach the terminal.
func TestWriteStatusTextQuoted(t *testing.T) {
	v := &StatusView{Status: &fpmstatus.Status{
		Pool: "\x1b[31mwww", ProcessManager: "static\r", StartTime: 1700000000, AcceptedConn: 1, TotalProcesses: 1,
		Processes: []fpmstatus.Process{
			{PID: 7, State: "Idle", StartTime: 1700000000, RequestMethod: "GET\x00", RequestURI: "/a\nb", User: "u\x7f", Script: "/s\xff.php"},
		},
	}}
	want := `+----------------------+-------------------------+
| pool                 | "\x1b[31mwww"           |
| process manager      | "static\r"              |
| start time           | 2023-11-14 22:13:20 UTC |
| uptime               | 0s                      |
| accepted conn        | 1                       |
| listen queue         | 0                       |
| max listen queue     | 0                       |
| listen queue len     | 0                       |
| idle processes       | 0                       |
| active processes     | 0                       |
| total processes      | 1                       |
| max active processes | 0                       |
| max children reached | 0                       |
| slow requests        | 0                       |
+----------------------+-------------------------+

+-----+-------+-------------------------+----------+----------+-----------+---------+----------------+---------+--------------+------+--------+
| PID | STATE | START                   | REQUESTS | DURATION | METHOD    | URI     | CONTENT LENGTH | USER    | SCRIPT       | CPU  | MEMORY |
+-----+-------+-------------------------+----------+----------+-----------+---------+----------------+---------+--------------+------+--------+
| 7   | Idle  | 2023-11-14 22:13:20 UTC | 0        | 0s       | "GET\x00" | "/a\nb" | 0              | "u\x7f" | "/s\xff.php" | 0.00 | 0      |
+-----+-------+-------------------------+----------+----------+-----------+---------+----------------+---------+--------------+------+--------+
`
	var b bytes.Buffer
	if err := WriteStatusText(&b, v, NewPalette(false)); err != nil {
		t.Fatal(err)
	}
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

// A label value that is not UTF-8 would make the whole exposition invalid:
// its bad bytes become U+FFFD; the format's own escapes still apply.
func TestPromQuote(t *testing.T) {
	for in, want := range map[string]string{
		"www":          `"www"`,
		"a\"b\\c\nd":   `"a\"b\\c\nd"`,
		"pool\xff\xfe": "\"pool\uFFFD\"",
	} {
		if got := promQuote(in); got != want {
			t.Errorf("promQuote(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestWriteStatusJSONFailedChecks checks the one-pool document ends with
// failed_checks, [] when none failed, and the list form's fields.
func TestWriteStatusJSONFailedChecks(t *testing.T) {
	s := &fpmstatus.Status{Pool: "www"}
	var buf bytes.Buffer
	if err := WriteStatusJSON(&buf, s, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), "{\n  \"pool\": \"www\",") || !strings.HasSuffix(buf.String(), "  \"slow_requests\": 0,\n  \"failed_checks\": []\n}\n") {
		t.Errorf("one pool:\n%s", buf.String())
	}
	buf.Reset()
	err := WriteStatusPoolsJSON(&buf, []StatusPool{
		{Address: "/a.sock", Status: s, FailedChecks: []FailedCheck{{Name: "max-active-ratio", Value: 0.75, Bound: 0.5}}},
		{Address: "/b.sock", Error: "cannot connect"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"{\n  \"pools\": [\n    {\n      \"address\": \"/a.sock\",\n      \"pool\": \"www\",",
		"\"failed_checks\": [\n        {\n          \"name\": \"max-active-ratio\",\n          \"value\": 0.75,\n          \"bound\": 0.5\n        }\n      ]",
		"{\n      \"address\": \"/b.sock\",\n      \"error\": \"cannot connect\",\n      \"failed_checks\": []\n    }",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("list form lacks\n%s\nin\n%s", want, buf.String())
		}
	}
}
