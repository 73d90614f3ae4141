package fpmstatus

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// TestParse: every field of the page lands in the model under its own
// name, the processes in the page's order.
func TestParse(t *testing.T) {
	s, err := Parse([]byte(fullPage))
	if err != nil {
		t.Fatal(err)
	}
	want := &Status{
		Pool: "www", ProcessManager: "static", StartTime: 1700000000, StartSince: 3725, AcceptedConn: 42,
		MaxListenQueue: 3, ListenQueueLen: 511, IdleProcesses: 1, ActiveProcesses: 1, TotalProcesses: 2,
		MaxActiveProcesses: 2, MaxChildrenReached: 4, SlowRequests: 5, Processes: []Process{
			{PID: 12, State: "Idle", StartTime: 1700000000, StartSince: 3725, Requests: 20, RequestDurationUS: 150, RequestMethod: "GET", RequestURI: "/index.php", User: "-", Script: "/srv/index.php", LastRequestMemory: 2097152},
			{PID: 13, State: "Running", StartTime: 1700000001, StartSince: 3724, Requests: 22, RequestDurationUS: 2500000, RequestMethod: "POST", RequestURI: "/upload.php", ContentLength: 1024, User: "-", Script: "/srv/upload.php", LastRequestCPU: 12.5},
		},
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("Parse = %+v\nwant %+v", s, want)
	}
	if s.Processes[0].Busy() || !s.Processes[1].Busy() {
		t.Errorf("Busy: idle %v, running %v", s.Processes[0].Busy(), s.Processes[1].Busy())
	}
}

// TestParseNotPage: what a pool answers when the path is not its status
// page is not taken for one.
func TestParseNotPage(t *testing.T) {
	for _, body := range []string{"", "File not found.\n", "<html><body>pool: www</body></html>", `{"pool":"www"}`, `{"accepted conn":1,"active processes":1}`, "null"} {
		if s, err := Parse([]byte(body)); !errors.Is(err, ErrNotStatusPage) {
			t.Errorf("Parse(%q) = %+v, %v; want ErrNotStatusPage", body, s, err)
		}
	}
}

// TestParseTypeErrors checks that a field of the wrong type is
// named, with what it is and what was wanted, in a short message instead
// of encoding/json's, which spells out the Go struct type.
func TestParseTypeErrors(t *testing.T) {
	const head = pageHead
	for _, tt := range []struct{ body, want string }{
		{head + `,"processes":"x"}`, `not a php-fpm status page: "processes" is a string, want a list`},
		{head + `,"processes":[{"pid":"7"}]}`, `not a php-fpm status page: "pid" in "processes" is a string, want an integer`},
		{head + `,"processes":[{"request uri":5}]}`, `not a php-fpm status page: "request uri" in "processes" is a number, want a string`},
		{head + `,"processes":[{"last request cpu":{}}]}`, `not a php-fpm status page: "last request cpu" in "processes" is an object, want a number`},
		{`{"pool":["www"],"accepted conn":1,"active processes":1}`, `not a php-fpm status page: "pool" is a list, want a string`},
		{`{"pool":"www","accepted conn":1.5,"active processes":1}`, `not a php-fpm status page: "accepted conn" is the number 1.5, want an integer`},
		{`{"pool":"www","accepted conn":99999999999999999999,"active processes":1}`, `not a php-fpm status page: "accepted conn" is the number 99999999999999999999, want an integer of at most 64 bits`},
		{`{"pool":"www","accepted conn":true,"active processes":1}`, `not a php-fpm status page: "accepted conn" is a boolean, want an integer`},
		{`[1]`, `not a php-fpm status page: the page is a list, want an object`},
	} {
		_, err := Parse([]byte(tt.body))
		if err == nil || err.Error() != tt.want || !errors.Is(err, ErrNotStatusPage) {
			t.Errorf("Parse(%s) = %v, want %s", tt.body, err, tt.want)
		}
	}
}

// FuzzParse: Parse never panics, and either fills a model that encodes to
// JSON or says the body is not the page.
func FuzzParse(f *testing.F) {
	f.Add([]byte(fullPage))
	f.Add([]byte(pageHead + "}"))
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := Parse(body)
		if err != nil {
			if !errors.Is(err, ErrNotStatusPage) || s != nil {
				t.Fatalf("Parse = %v, %v; want nil and ErrNotStatusPage", s, err)
			}
			return
		}
		if _, err := json.Marshal(s); err != nil {
			t.Fatalf("the model does not encode: %v", err)
		}
	})
}
