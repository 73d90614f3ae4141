package formatters

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func conformanceSample() *ConformanceReport {
	r := &ConformanceReport{Server: "127.0.0.1:9000", CaseTimeoutUS: 2000000, Cases: []ConformanceCase{
		{ID: 1, Section: "3.3", Title: "a record of version 2", Result: Pass, Detail: "closed"},
		{ID: 2, Section: "4.2", Title: "an unknown management type", Result: Fail, Detail: "no UNKNOWN_TYPE: the connection closed",
			Sent: "TYPE_20 id=0 len=0 pad=8", Received: "(the connection closed)", Dump: "> @0 v1 TYPE_20\n"},
		{ID: 3, Section: "4.1", Title: "GET_VALUES", Result: Warn, Detail: "leaves out FCGI_MAX_CONNS"},
		{ID: 4, Section: "3.10", Title: "not a real section", Result: Pass},
	}}
	r.Count()
	return r
}

func TestWriteConformanceText(t *testing.T) {
	var b bytes.Buffer
	if err := WriteConformance(&b, conformanceSample(), Text, NewPalette(false), false); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"  1  3.3  a record of version 2" + strings.Repeat(" ", 47) + " PASS",
		"  2  4.2  an unknown management type" + strings.Repeat(" ", 42) + " FAIL",
		"       no UNKNOWN_TYPE: the connection closed",
		"       sent:     TYPE_20 id=0 len=0 pad=8",
		"       received: (the connection closed)",
		"  3  4.1  GET_VALUES" + strings.Repeat(" ", 58) + " WARN",
		"       leaves out FCGI_MAX_CONNS",
		"  4  3.10 not a real section" + strings.Repeat(" ", 50) + " PASS",
		"4 cases: 2 passed, 1 warned, 1 failed (127.0.0.1:9000)",
	}
	if got := strings.Split(strings.TrimRight(b.String(), "\n"), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	b.Reset()
	if err := WriteConformance(&b, conformanceSample(), Text, NewPalette(false), true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "       received: (the connection closed)\n       > @0 v1 TYPE_20\n") {
		t.Fatalf("-v leaves out the dump:\n%s", b.String())
	}
}

func TestWriteConformanceJSON(t *testing.T) {
	for _, verbose := range []bool{false, true} {
		var b bytes.Buffer
		if err := WriteConformance(&b, conformanceSample(), JSON, NewPalette(false), verbose); err != nil {
			t.Fatal(err)
		}
		var got ConformanceReport
		if err := json.Unmarshal(b.Bytes(), &got); err != nil {
			t.Fatalf("%v\n%s", err, b.String())
		}
		if got.Passed != 2 || got.Warnings != 1 || got.Failed != 1 || len(got.Cases) != 4 || got.Cases[1].Result != Fail || got.Cases[1].Sent == "" {
			t.Fatalf("got %+v", got)
		}
		if (got.Cases[1].Dump != "") != verbose {
			t.Fatalf("verbose=%t: dump %q", verbose, got.Cases[1].Dump)
		}
	}
}

func TestWriteConformanceTable(t *testing.T) {
	var b bytes.Buffer
	if err := WriteConformance(&b, conformanceSample(), Table, NewPalette(false), false); err != nil {
		t.Fatal(err)
	}
	// Sections in numeric order: 3.3 before 3.10 before 4.1.
	want := `+---------+-------------------+-------+------+------+------+
| SECTION | TITLE             | CASES | PASS | WARN | FAIL |
+---------+-------------------+-------+------+------+------+
| 3.3     | Records           | 1     | 1    | 0    | 0    |
| 3.10    |                   | 4     | 1    | 0    | 0    |
| 4.1     | FCGI_GET_VALUES   | 3     | 0    | 1    | 0    |
| 4.2     | FCGI_UNKNOWN_TYPE | 2     | 0    | 0    | 1    |
|         | total             | 4     | 2    | 1    | 1    |
+---------+-------------------+-------+------+------+------+
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
