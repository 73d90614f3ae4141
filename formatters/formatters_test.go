package formatters

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/fcgicli/fcgicli/fcgiwire"
)

func TestUseColorPrecedence(t *testing.T) {
	for _, c := range []struct {
		mode    ColorMode
		noColor string
		tty     bool
		want    bool
	}{
		{ColorAuto, "", true, true},
		{ColorAuto, "", false, false},
		{ColorAuto, "1", true, false},
		{ColorAlways, "1", false, true},
		{ColorNever, "", true, false},
	} {
		if got := UseColor(c.mode, c.noColor, c.tty); got != c.want {
			t.Errorf("UseColor(%s, NO_COLOR=%q, tty=%t) = %t, want %t", c.mode, c.noColor, c.tty, got, c.want)
		}
	}
	if _, err := ParseColorMode("sometimes"); err == nil || err.Error() != `unknown --color "sometimes" (known: auto, always, never)` {
		t.Errorf("ParseColorMode: %v", err)
	}
}

func TestParseFormat(t *testing.T) {
	if f, err := ParseFormat("json", Text, JSON); err != nil || f != JSON {
		t.Fatalf("ParseFormat(json) = %q, %v", f, err)
	}
	_, err := ParseFormat("yaml", Text, Raw, JSON)
	if err == nil || err.Error() != `unknown output format "yaml" (known: text, raw, json)` {
		t.Fatalf("ParseFormat(yaml): %v", err)
	}
}

func TestHexDump(t *testing.T) {
	got := HexDump([]byte("Status: 200 OK\r\n\x00ab"), "  ")
	want := "  00000000: 5374 6174 7573 3a20 3230 3020 4f4b 0d0a  Status: 200 OK..\n" +
		"  00000010: 0061 62                                  .ab\n"
	if got != want {
		t.Fatalf("HexDump:\n%q\nwant\n%q", got, want)
	}
	if HexDump(nil, "") != "" {
		t.Fatal("HexDump(nil) is not empty")
	}
}

func event(dir fcgiwire.Direction, off int64, t fcgiwire.RecordType, id uint16, content []byte) fcgiwire.Event {
	return fcgiwire.Event{Dir: dir, Offset: off, Content: content, Header: fcgiwire.Header{
		Version: 1, Type: t, RequestID: id, ContentLength: uint16(len(content)), PaddingLength: uint8(fcgiwire.PaddingFor(len(content))),
	}}
}

func TestDumperText(t *testing.T) {
	var b bytes.Buffer
	d := &Dumper{W: &b, P: NewPalette(false), Format: Text, MaxBytes: 4}
	d.Expect(1)
	pairs := fcgiwire.EncodePairs([]fcgiwire.Pair{{Name: "A", Value: "1"}, {Name: "LONG", Value: "value"}})
	d.Observe(event(fcgiwire.Sent, 0, fcgiwire.TypeBeginRequest, 1, fcgiwire.BeginRequest{Role: fcgiwire.RoleResponder, Flags: fcgiwire.FlagKeepConn}.Encode()))
	d.Observe(event(fcgiwire.Sent, 16, fcgiwire.TypeParams, 1, pairs[:6]))
	d.Observe(event(fcgiwire.Sent, 32, fcgiwire.TypeParams, 1, pairs[6:]))
	d.Observe(event(fcgiwire.Sent, 48, fcgiwire.TypeParams, 1, nil))
	d.Observe(event(fcgiwire.Received, 0, fcgiwire.TypeStdout, 1, []byte("hello world")))
	d.Observe(event(fcgiwire.Received, 24, fcgiwire.TypeStdout, 2, []byte("x")))
	d.Observe(event(fcgiwire.Received, 40, fcgiwire.TypeEndRequest, 1, fcgiwire.EndRequest{AppStatus: 3}.Encode()))
	d.Observe(event(fcgiwire.Received, 56, fcgiwire.TypeStderr, 1, []byte("late")))
	d.Observe(event(fcgiwire.Received, 72, fcgiwire.TypeStdout, 0, nil))
	want := `> @0        v1 BEGIN_REQUEST     id=1     len=8     pad=0
    role=RESPONDER flags=1 keep_conn=true
> @16       v1 PARAMS            id=1     len=6     pad=2
    A = 1
> @32       v1 PARAMS            id=1     len=9     pad=7
    LONG = value  (pair spans records)
> @48       v1 PARAMS            id=1     len=0     pad=0
    (end of stream)
< @0        v1 STDOUT            id=1     len=11    pad=5
    00000000: 6865 6c6c                                hell
    ... 7 more bytes (--max-bytes 0 shows all)
< @24       v1 STDOUT            id=2     len=1     pad=7
    00000000: 78                                       x
! request id 2, expected 1
< @40       v1 END_REQUEST       id=1     len=8     pad=0
    app_status=3 protocol_status=REQUEST_COMPLETE
< @56       v1 STDERR            id=1     len=4     pad=4
    00000000: 6c61 7465                                late
! record after END_REQUEST for request id 1
< @72       v1 STDOUT            id=0     len=0     pad=0
    (end of stream)
! STDOUT record on request id 0, which only management records use
`
	if b.String() != want {
		t.Fatalf("dump:\n%s\nwant:\n%s", b.String(), want)
	}
	if d.Count != 9 {
		t.Fatalf("Count = %d, want 9", d.Count)
	}
}

// A peer announcing a pair of 2 GiB and sending PARAMS records without end:
// the dumper gathers at most maxCarry bytes of it, warns once, and decodes
// the stream again after its end.
func TestDumperBoundsCarriedPair(t *testing.T) {
	var b bytes.Buffer
	d := &Dumper{W: &b, P: NewPalette(false), Format: Text, MaxBytes: 1}
	d.Expect(1)
	full := bytes.Repeat([]byte("p"), fcgiwire.MaxContent)
	first := append([]byte{0xff, 0xff, 0xff, 0xff, 0x01}, full[5:]...)
	d.Observe(event(fcgiwire.Received, 0, fcgiwire.TypeParams, 1, first))
	for i := 1; i < 40; i++ {
		d.Observe(event(fcgiwire.Received, int64(i)*(8+fcgiwire.MaxContent+1), fcgiwire.TypeParams, 1, full))
		if n := len(d.dir(fcgiwire.Received).carry[1]); n > maxCarry {
			t.Fatalf("record %d: %d bytes carried", i, n)
		}
	}
	warning := "! a PARAMS pair runs past 1048576 bytes: the rest of this PARAMS stream is left undecoded\n"
	if got := strings.Count(b.String(), "\n! "); got != 1 || !strings.Contains(b.String(), warning) {
		t.Errorf("%d warnings, want one: %q", got, warning)
	}
	d.Observe(event(fcgiwire.Received, 0, fcgiwire.TypeParams, 1, nil))
	b.Reset()
	d.Observe(event(fcgiwire.Received, 0, fcgiwire.TypeParams, 1, fcgiwire.EncodePairs([]fcgiwire.Pair{{Name: "A", Value: "1"}})))
	if !strings.Contains(b.String(), "\n    A = 1\n") {
		t.Errorf("after the stream's end: %q", b.String())
	}
}

func TestDumperJSON(t *testing.T) {
	var b bytes.Buffer
	d := &Dumper{W: &b, P: NewPalette(false), Format: JSON}
	d.Observe(event(fcgiwire.Received, 8, fcgiwire.TypeGetValuesResult, 0, fcgiwire.EncodePairs([]fcgiwire.Pair{{Name: "FCGI_MPXS_CONNS", Value: "0"}})))
	d.Observe(event(fcgiwire.Received, 40, fcgiwire.TypeUnknownType, 0, fcgiwire.UnknownTypeBody(20)))
	want := `{"dir":"received","offset":8,"version":1,"type":"GET_VALUES_RESULT","type_code":10,"request_id":0,"content_length":18,"padding_length":6,"content_base64":"DwFGQ0dJX01QWFNfQ09OTlMw","params":[["FCGI_MPXS_CONNS","0"]]}
{"dir":"received","offset":40,"version":1,"type":"UNKNOWN_TYPE","type_code":11,"request_id":0,"content_length":8,"padding_length":0,"content_base64":"FAAAAAAAAAA=","unknown_type":20}
`
	if b.String() != want {
		t.Fatalf("dump:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestWriteValues(t *testing.T) {
	v := &ValuesResult{
		Asked:    []string{fcgiwire.MaxConns, fcgiwire.MpxsConns},
		Returned: []fcgiwire.Pair{{Name: fcgiwire.MpxsConns, Value: "0"}, {Name: "EXTRA", Value: "x"}},
	}
	var b bytes.Buffer
	if err := WriteValues(&b, v, Text, NewPalette(false)); err != nil {
		t.Fatal(err)
	}
	if want := "FCGI_MPXS_CONNS=0\nEXTRA=x\n"; b.String() != want {
		t.Fatalf("text %q, want %q", b.String(), want)
	}
	b.Reset()
	if err := WriteValues(&b, v, JSON, NewPalette(false)); err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"values\": {\n    \"EXTRA\": \"x\",\n    \"FCGI_MPXS_CONNS\": \"0\"\n  },\n  \"missing\": [\"FCGI_MAX_CONNS\"]\n}\n"
	if b.String() != want {
		t.Fatalf("json %q, want %q", b.String(), want)
	}
	b.Reset()
	if err := WriteValues(&b, v, Table, NewPalette(false)); err != nil {
		t.Fatal(err)
	}
	want = `+-----------------+----------------+
| NAME            | VALUE          |
+-----------------+----------------+
| FCGI_MAX_CONNS  | (not returned) |
| FCGI_MPXS_CONNS | 0              |
| EXTRA           | x              |
+-----------------+----------------+
`
	if b.String() != want {
		t.Fatalf("table:\n%s\nwant:\n%s", b.String(), want)
	}
	// In colour, "(not returned)" is dimmed: the escapes must not widen
	// its column.
	b.Reset()
	if err := WriteValues(&b, v, Table, NewPalette(true)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "\x1b[") {
		t.Fatalf("no colour in:\n%q", b.String())
	}
	if got := stripANSI(b.String()); got != want {
		t.Errorf("coloured table, escapes removed:\n%s\nwant:\n%s", got, want)
	}
}

var ansiEscape = regexp.MustCompile("\x1b\\[[0-9;]*m")

// stripANSI removes colour escapes, leaving what a terminal shows.
func stripANSI(s string) string { return ansiEscape.ReplaceAllString(s, "") }

func TestWriteResponseJSON(t *testing.T) {
	var b bytes.Buffer
	r := &ResponseResult{
		CGI:  &fcgiwire.CGIResponse{Status: 404, Headers: []fcgiwire.Pair{{Name: "Status", Value: "404 Not Found"}, {Name: "Set-Cookie", Value: "a=1"}}},
		Body: []byte{0xff, 0x00}, Stderr: []byte("oops\n"), Ended: true, AppStatus: 0, ProtocolStatus: fcgiwire.RequestComplete,
		BytesSent: 10, BytesReceived: 20, ConnectUS: 1, FirstByteUS: -1, TotalUS: 3,
	}
	if err := WriteResponseJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	want := `{
  "status": 404,
  "headers": [
    ["Status", "404 Not Found"],
    ["Set-Cookie", "a=1"]
  ],
  "body_base64": "/wA=",
  "body_truncated": false,
  "stderr": "oops\n",
  "stderr_truncated": false,
  "app_status": 0,
  "protocol_status": "REQUEST_COMPLETE",
  "bytes_sent": 10,
  "bytes_received": 20,
  "timings": {
    "connect_us": 1,
    "first_byte_us": null,
    "total_us": 3
  }
}
`
	if b.String() != want {
		t.Fatalf("json:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestWriteCGIHeaders(t *testing.T) {
	var b bytes.Buffer
	r := &fcgiwire.CGIResponse{Status: 302, Headers: []fcgiwire.Pair{{Name: "Location", Value: "/x"}, {Name: "X-A", Value: "1"}}}
	if err := WriteCGIHeaders(&b, r, NewPalette(false)); err != nil {
		t.Fatal(err)
	}
	if want := "Status: 302 Found\nLocation: /x\nX-A: 1\n\n"; b.String() != want {
		t.Fatalf("got %q, want %q", b.String(), want)
	}
}

// Names and values from the wire reach the terminal quoted when they hold
// control bytes, in the -v trace and in raw-dump alike.
func TestPairsQuoted(t *testing.T) {
	pairs := fcgiwire.EncodePairs([]fcgiwire.Pair{{Name: "X\x1b[31m", Value: "a\nb"}, {Name: "PLAIN", Value: "v"}})
	h := fcgiwire.Header{Version: 1, Type: fcgiwire.TypeParams, RequestID: 1, ContentLength: uint16(len(pairs))}
	got := strings.Join(RecordLines(h, pairs)[1:], "\n")
	if want := "  \"X\\x1b[31m\"=\"a\\nb\"\n  PLAIN=v"; got != want {
		t.Errorf("trace lines %q, want %q", got, want)
	}
	var b bytes.Buffer
	d := &Dumper{W: &b, P: NewPalette(false), Format: Text}
	d.Observe(event(fcgiwire.Sent, 0, fcgiwire.TypeParams, 1, pairs))
	if want := "    \"X\\x1b[31m\" = \"a\\nb\"\n    PLAIN = v\n"; !strings.HasSuffix(b.String(), want) {
		t.Errorf("dump %q, want it to end %q", b.String(), want)
	}
}

// Records received for any request the sent stream began are expected
// (raw-dump --send-raw may send several); others are flagged.
func TestDumperSeveralRequests(t *testing.T) {
	var b bytes.Buffer
	d := &Dumper{W: &b, P: NewPalette(false), Format: Text}
	begin := fcgiwire.BeginRequest{Role: fcgiwire.RoleResponder, Flags: fcgiwire.FlagKeepConn}.Encode()
	d.Observe(event(fcgiwire.Sent, 0, fcgiwire.TypeBeginRequest, 1, begin))
	d.Observe(event(fcgiwire.Sent, 16, fcgiwire.TypeBeginRequest, 2, begin))
	d.Observe(event(fcgiwire.Received, 0, fcgiwire.TypeStdout, 2, []byte("two")))
	d.Observe(event(fcgiwire.Received, 16, fcgiwire.TypeStdout, 1, []byte("one")))
	d.Observe(event(fcgiwire.Received, 32, fcgiwire.TypeStdout, 3, []byte("three")))
	if got := strings.Count(b.String(), "\n! "); got != 1 || !strings.Contains(b.String(), "\n! request id 3, expected 2\n") {
		t.Errorf("%d warnings, want one for id 3:\n%s", got, b.String())
	}
}

// A header whose bytes are not UTF-8 (JSON strings cannot carry them) is
// given again, with every other header, in headers_base64.
func TestWriteResponseJSONHeadersNotUTF8(t *testing.T) {
	var b bytes.Buffer
	r := &ResponseResult{
		CGI:       &fcgiwire.CGIResponse{Status: 200, Headers: []fcgiwire.Pair{{Name: "X-Name", Value: "caf\xe9"}, {Name: "X-B", Value: "b"}}},
		ConnectUS: 1, FirstByteUS: -1,
	}
	if err := WriteResponseJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	if want := "  \"headers_base64\": [\n    [\"WC1OYW1l\", \"Y2Fm6Q==\"],\n    [\"WC1C\", \"Yg==\"]\n  ],\n"; !strings.Contains(b.String(), want) {
		t.Errorf("json:\n%s\nwant it to hold:\n%s", b.String(), want)
	}
	b.Reset()
	r.CGI.Headers[0].Value = "café"
	if err := WriteResponseJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "headers_base64") {
		t.Errorf("headers_base64 for UTF-8 headers:\n%s", b.String())
	}
}

// A stream record after the stream's empty closing record is flagged; a
// new request with the same id starts its streams afresh.
func TestDumperRecordAfterStreamEnd(t *testing.T) {
	var b bytes.Buffer
	d := &Dumper{W: &b, P: NewPalette(false), Format: Text}
	begin := fcgiwire.BeginRequest{Role: fcgiwire.RoleResponder, Flags: fcgiwire.FlagKeepConn}.Encode()
	d.Observe(event(fcgiwire.Sent, 0, fcgiwire.TypeBeginRequest, 1, begin))
	d.Observe(event(fcgiwire.Received, 0, fcgiwire.TypeStdout, 1, []byte("one")))
	d.Observe(event(fcgiwire.Received, 16, fcgiwire.TypeStdout, 1, nil))
	d.Observe(event(fcgiwire.Received, 24, fcgiwire.TypeStderr, 1, []byte("err")))
	d.Observe(event(fcgiwire.Received, 40, fcgiwire.TypeStdout, 1, []byte("late")))
	if got := strings.Count(b.String(), "\n! "); got != 1 || !strings.Contains(b.String(), "\n! STDOUT record after the stream's empty closing record for request id 1\n") {
		t.Fatalf("%d warnings, want one for the late STDOUT:\n%s", got, b.String())
	}
	b.Reset()
	d.Observe(event(fcgiwire.Sent, 16, fcgiwire.TypeBeginRequest, 1, begin))
	d.Observe(event(fcgiwire.Received, 56, fcgiwire.TypeStdout, 1, []byte("two")))
	if strings.Contains(b.String(), "closing record") {
		t.Errorf("the next request's STDOUT flagged:\n%s", b.String())
	}
}
