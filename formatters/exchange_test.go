package formatters

import (
	"strings"
	"testing"

	"github.com/fcgicli/fcgicli/fcgiwire"
)

func exchangeJSONLine(t *testing.T, e *Exchange) string {
	t.Helper()
	var b strings.Builder
	if err := WriteExchange(&b, e, JSON, NewPalette(false)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestExchangeJSONNotUTF8: params and headers whose bytes are not all
// UTF-8 are also given whole in base64, the same pairs in the same order;
// with valid UTF-8 the line has no _base64 field.
func TestExchangeJSONNotUTF8(t *testing.T) {
	e := &Exchange{
		Seq: 1, Conn: 2, RequestID: 1, Role: fcgiwire.RoleResponder,
		Params: []fcgiwire.Pair{{Name: "REQUEST_URI", Value: "/a"}, {Name: "HTTP_X_BIN", Value: "\xff\xfe"}, {Name: "N\x80", Value: "v"}},
		CGI:    &fcgiwire.CGIResponse{Status: 200, Headers: []fcgiwire.Pair{{Name: "Status", Value: "200 OK"}, {Name: "X-Latin1", Value: "caf\xe9"}}},
		Ended:  true,
	}
	want := `{"seq":1,"conn":2,"request_id":1,"role":"RESPONDER","keep_conn":false,` +
		`"params":[["REQUEST_URI","/a"],["HTTP_X_BIN","\ufffd\ufffd"],["N\ufffd","v"]],` +
		`"params_base64":[["UkVRVUVTVF9VUkk=","L2E="],["SFRUUF9YX0JJTg==","//4="],["ToA=","dg=="]],` +
		`"stdin_bytes":0,"status":200,"headers":[["Status","200 OK"],["X-Latin1","caf\ufffd"]],` +
		`"headers_base64":[["U3RhdHVz","MjAwIE9L"],["WC1MYXRpbjE=","Y2Fm6Q=="]],` +
		`"body_bytes":0,"app_status":0,"protocol_status":"REQUEST_COMPLETE","duration_us":0}` + "\n"
	if got := exchangeJSONLine(t, e); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	e.Params = []fcgiwire.Pair{{Name: "REQUEST_URI", Value: "/é?x=1\n"}}
	e.CGI.Headers = e.CGI.Headers[:1]
	want = `{"seq":1,"conn":2,"request_id":1,"role":"RESPONDER","keep_conn":false,"params":[["REQUEST_URI","/é?x=1\n"]],` +
		`"stdin_bytes":0,"status":200,"headers":[["Status","200 OK"]],"body_bytes":0,"app_status":0,"protocol_status":"REQUEST_COMPLETE","duration_us":0}` + "\n"
	if got := exchangeJSONLine(t, e); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestEchoJSONNotUTF8: the echo's JSON keeps params that are not UTF-8 in
// params_base64, and has no such field otherwise.
func TestEchoJSONNotUTF8(t *testing.T) {
	r := &EchoReport{RequestID: 1, Role: fcgiwire.RoleResponder, ConnID: 3,
		Params: []fcgiwire.Pair{{Name: "A", Value: "1"}, {Name: "B", Value: "\xff"}}, StdinSHA256: "e3"}
	var b strings.Builder
	if err := WriteEcho(&b, r, JSON); err != nil {
		t.Fatal(err)
	}
	want := `{
  "request_id": 1,
  "role": "RESPONDER",
  "keep_conn": false,
  "connection": 3,
  "params": [
    ["A", "1"],
    ["B", "\ufffd"]
  ],
  "params_base64": [
    ["QQ==", "MQ=="],
    ["Qg==", "/w=="]
  ],
  "stdin_bytes": 0,
  "stdin_sha256": "e3"
}
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	r.Params = r.Params[:1]
	if err := WriteEcho(&b, r, JSON); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "params_base64") {
		t.Errorf("params_base64 with UTF-8 params:\n%s", b.String())
	}
}

// TestExchangeStderrTruncated: a truncated stderr says so in JSON and
// text, and a cut that split a character drops its start, so that a
// stderr otherwise UTF-8 stays text.
func TestExchangeStderrTruncated(t *testing.T) {
	base := func(stderr string, truncated bool) *Exchange {
		return &Exchange{Seq: 1, Conn: 2, RequestID: 1, Role: fcgiwire.RoleResponder, Stderr: []byte(stderr), StderrTruncated: truncated}
	}
	head := `{"seq":1,"conn":2,"request_id":1,"role":"RESPONDER","keep_conn":false,"params":[],"stdin_bytes":0,"status":null,"headers":[],"body_bytes":0`
	tail := `,"app_status":null,"protocol_status":null,"duration_us":0}` + "\n"
	for _, tt := range []struct {
		stderr    string
		truncated bool
		json      string
		text      string
	}{
		{"warn", false, `,"stderr":"warn"`, "  stderr: warn\n"},
		{"cut héé", true, `,"stderr":"cut héé","stderr_truncated":true`, "  stderr (truncated to 9 bytes): cut héé\n"},
		{"cut h\xc3", true, `,"stderr":"cut h","stderr_truncated":true`, "  stderr (truncated to 5 bytes): cut h\n"},
		{"cut €\xe2\x82", true, `,"stderr":"cut €","stderr_truncated":true`, "  stderr (truncated to 7 bytes): cut €\n"},
		{"\xf0\x9f\x98", true, `,"stderr_truncated":true`, "  stderr (truncated to 0 bytes): \n"},
		// Not UTF-8 before the cut: kept whole, in base64.
		{"\xff \xc3", true, `,"stderr_base64":"/yDD","stderr_truncated":true`, "  stderr (truncated to 3 bytes): \"\\xff \\xc3\"\n"},
		// Not cut: a partial character is the application's, kept.
		{"h\xc3", false, `,"stderr_base64":"aMM="`, "  stderr: \"h\\xc3\"\n"},
	} {
		e := base(tt.stderr, tt.truncated)
		if got, want := exchangeJSONLine(t, e), head+tt.json+tail; got != want {
			t.Errorf("%q JSON:\n got %s\nwant %s", tt.stderr, got, want)
		}
		var b strings.Builder
		if err := WriteExchange(&b, e, Text, NewPalette(false)); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), "\n"+tt.text) {
			t.Errorf("%q text:\n%s\nwant the line %q", tt.stderr, b.String(), tt.text)
		}
	}
}

// The text report quotes what the peer sent that holds control bytes:
// the method and URI on the first line, param names and values, header
// names and values. Plain text stays as it is.
func TestExchangeTextQuoted(t *testing.T) {
	e := &Exchange{
		Seq: 1, Conn: 2, RequestID: 1, Role: fcgiwire.RoleResponder,
		Params: []fcgiwire.Pair{{Name: "REQUEST_METHOD", Value: "GET"}, {Name: "REQUEST_URI", Value: "/a\x1b[2J"}, {Name: "X\x1bY", Value: "v"}},
		CGI:    &fcgiwire.CGIResponse{Status: 200, Headers: []fcgiwire.Pair{{Name: "X-A", Value: "1\x1b[31m"}, {Name: "X-B", Value: "plain"}}},
	}
	var b strings.Builder
	if err := WriteExchange(&b, e, Text, NewPalette(false)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"#1 conn 2 req 1 RESPONDER GET \"/a\\x1b[2J\" -> 200",
		"\n    \"X\\x1bY\" = v\n",
		"\n    X-A: \"1\\x1b[31m\"\n",
		"\n    X-B: plain\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "\x1b") {
		t.Errorf("an escape byte reached the report:\n%q", b.String())
	}
}
