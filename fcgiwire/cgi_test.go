package fcgiwire

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// parseCGI feeds in to a ResponseParser in chunks of size chunk (0: one
// write), then closes it; maxHeader is its MaxHeaderBytes, or when
// negative, minus its MaxHeaderLines. It returns the parser, the body bytes, and the
// number of OnHeaders calls.
func parseCGI(t *testing.T, in []byte, chunk, maxHeader int) (*ResponseParser, []byte, int) {
	t.Helper()
	var body bytes.Buffer
	calls := 0
	p := &ResponseParser{Body: &body, MaxHeaderBytes: maxHeader}
	if maxHeader < 0 { // -n bounds the lines instead
		p.MaxHeaderBytes, p.MaxHeaderLines = 0, -maxHeader
	}
	p.OnHeaders = func(r *CGIResponse) error {
		calls++
		if body.Len() != 0 {
			t.Errorf("OnHeaders called after %d body bytes", body.Len())
		}
		if r != &p.Response {
			t.Errorf("OnHeaders got a copy, not the parser's Response")
		}
		return nil
	}
	if chunk <= 0 {
		chunk = len(in) + 1
	}
	for rest := in; len(rest) > 0; {
		k := min(chunk, len(rest))
		n, err := p.Write(rest[:k])
		if n != k || err != nil {
			t.Fatalf("Write(%d bytes) = %d, %v", k, n, err)
		}
		rest = rest[k:]
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	return p, body.Bytes(), calls
}

func TestResponseParser(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		status  int
		reason  string
		headers []Pair
		hbytes  int
		body    string
	}{
		{
			name:    "LF",
			in:      "Content-Type: text/html\n\n<p>hi</p>\n",
			status:  200,
			headers: []Pair{{"Content-Type", "text/html"}},
			hbytes:  25,
			body:    "<p>hi</p>\n",
		},
		{
			name:    "CRLF",
			in:      "Content-Type: text/plain\r\nX-A: 1\r\n\r\nbody\r\n\r\nmore",
			status:  200,
			headers: []Pair{{"Content-Type", "text/plain"}, {"X-A", "1"}},
			hbytes:  36,
			body:    "body\r\n\r\nmore",
		},
		{
			name:    "mixed line ends",
			in:      "A: 1\r\nB: 2\n\r\nrest",
			status:  200,
			headers: []Pair{{"A", "1"}, {"B", "2"}},
			hbytes:  13,
			body:    "rest",
		},
		{
			name:    "Status with reason",
			in:      "Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nmissing",
			status:  404,
			reason:  "Not Found",
			headers: []Pair{{"Status", "404 Not Found"}, {"Content-Type", "text/plain"}},
			hbytes:  51,
			body:    "missing",
		},
		{
			// nginx takes a tab after the code as it takes a space.
			name:    "Status with a tab before the reason",
			in:      "Status: 404\tNot Found\r\n\r\nmissing",
			status:  404,
			reason:  "Not Found",
			headers: []Pair{{"Status", "404\tNot Found"}},
			hbytes:  25,
			body:    "missing",
		},
		{
			name:    "Status without reason, any case, extra spaces",
			in:      "status:   503  \n\n",
			status:  503,
			headers: []Pair{{"status", "503"}},
			hbytes:  17,
		},
		{
			name:    "Status after Location wins over 302",
			in:      "Location: /x\nStatus: 301 Moved Permanently\n\n",
			status:  301,
			reason:  "Moved Permanently",
			headers: []Pair{{"Location", "/x"}, {"Status", "301 Moved Permanently"}},
			hbytes:  44,
		},
		{
			// nginx answers a second Status with the first one's code too.
			name:    "two Status headers: the first one counts",
			in:      "Status: 500 Boom\r\nStatus: 200 OK\r\n\r\nbody",
			status:  500,
			reason:  "Boom",
			headers: []Pair{{"Status", "500 Boom"}, {"Status", "200 OK"}},
			hbytes:  36,
			body:    "body",
		},
		{
			name:    "Location only is 302",
			in:      "location: http://example.com/\r\n\r\n",
			status:  302,
			headers: []Pair{{"location", "http://example.com/"}},
			hbytes:  33,
		},
		{
			name:    "repeated Set-Cookie kept in order",
			in:      "Set-Cookie: a=1\nContent-Type: text/plain\nSet-Cookie: b=2\nset-cookie: c=3\n\nok",
			status:  200,
			headers: []Pair{{"Set-Cookie", "a=1"}, {"Content-Type", "text/plain"}, {"Set-Cookie", "b=2"}, {"set-cookie", "c=3"}},
			hbytes:  74,
			body:    "ok",
		},
		{
			name:    "empty value and colon in value",
			in:      "X-Empty:\nX-Url: http://h:1/p\n\n",
			status:  200,
			headers: []Pair{{"X-Empty", ""}, {"X-Url", "http://h:1/p"}},
			hbytes:  30,
		},
		{
			name:   "no headers at all",
			in:     "\r\nbody",
			status: 200,
			hbytes: 2,
			body:   "body",
		},
		{
			name:    "binary body",
			in:      "A: b\n\n\x00\xff\r\n\n\x00",
			status:  200,
			headers: []Pair{{"A", "b"}},
			hbytes:  6,
			body:    "\x00\xff\r\n\n\x00",
		},
	}
	for _, tt := range tests {
		for _, chunk := range []int{0, 1, 2, 3, 7} {
			p, body, calls := parseCGI(t, []byte(tt.in), chunk, 0)
			if p.Err != nil || !p.Done {
				t.Errorf("%s/chunk %d: Done %v, Err %v", tt.name, chunk, p.Done, p.Err)
				continue
			}
			want := CGIResponse{Status: tt.status, Reason: tt.reason, Headers: tt.headers, HeaderBytes: tt.hbytes}
			if !reflect.DeepEqual(p.Response, want) {
				t.Errorf("%s/chunk %d: Response = %+v, want %+v", tt.name, chunk, p.Response, want)
			}
			if string(body) != tt.body {
				t.Errorf("%s/chunk %d: body = %q, want %q", tt.name, chunk, body, tt.body)
			}
			if calls != 1 {
				t.Errorf("%s/chunk %d: OnHeaders called %d times", tt.name, chunk, calls)
			}
			if tt.in[:tt.hbytes]+string(body) != tt.in {
				t.Errorf("%s: header bytes and body do not add up to the input", tt.name)
			}
		}
	}
}

func TestResponseParserHeaderLookup(t *testing.T) {
	p, _, _ := parseCGI(t, []byte("Set-Cookie: a\nContent-Type: x\nset-cookie: b\n\n"), 0, 0)
	if v, ok := p.Response.Header("SET-COOKIE"); !ok || v != "a" {
		t.Errorf("Header(SET-COOKIE) = %q, %v; want the first one", v, ok)
	}
	if v, ok := p.Response.Header("X-None"); ok || v != "" {
		t.Errorf("Header(X-None) = %q, %v", v, ok)
	}
}

func TestResponseParserBodyByteForByte(t *testing.T) {
	body := make([]byte, 3000)
	for i := range body {
		body[i] = byte(i * 31)
	}
	in := cat("Status: 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n", body)
	p, got, calls := parseCGI(t, in, 1, 0)
	if p.Err != nil || !p.Done || calls != 1 {
		t.Fatalf("Done %v, Err %v, OnHeaders calls %d", p.Done, p.Err, calls)
	}
	if !bytes.Equal(got, body) {
		t.Errorf("body differs: %d bytes, want %d", len(got), len(body))
	}
	// Writes after the header block go straight to Body.
	var out bytes.Buffer
	p2 := &ResponseParser{Body: &out}
	for _, b := range in {
		if _, err := p2.Write([]byte{b}); err != nil {
			t.Fatal(err)
		}
		if !p2.Done && out.Len() != 0 {
			t.Fatal("body bytes before the header block ended")
		}
	}
	if !bytes.Equal(out.Bytes(), body) {
		t.Errorf("body differs without OnHeaders")
	}
}

func TestResponseParserOnHeadersError(t *testing.T) {
	errStop := errors.New("stop")
	var out bytes.Buffer
	calls := 0
	p := &ResponseParser{Body: &out, OnHeaders: func(*CGIResponse) error { calls++; return errStop }}
	n, err := p.Write([]byte("A: 1\n\nbody"))
	if n != 10 || err != errStop {
		t.Errorf("Write = %d, %v; want 10, the OnHeaders error", n, err)
	}
	if _, err := p.Write([]byte("more")); err != nil || calls != 1 {
		t.Errorf("second Write: %v, OnHeaders calls %d", err, calls)
	}
}

func TestResponseParserNilBody(t *testing.T) {
	p := &ResponseParser{}
	if n, err := p.Write([]byte("A: 1\n\nbody")); n != 10 || err != nil {
		t.Errorf("Write = %d, %v", n, err)
	}
	if !p.Done || p.Response.Status != 200 {
		t.Errorf("Done %v, Status %d", p.Done, p.Response.Status)
	}
}

func TestResponseParserMalformed(t *testing.T) {
	long := strings.Repeat("x", 100)
	tests := []struct {
		name      string
		in        string
		maxHeader int
		err       string // the text after "malformed CGI response header"
	}{
		{"no colon", "Content-Type text/html\n\nbody", 0, ` at byte 0 of stdout: line "Content-Type text/html" has no colon`},
		{"no colon on a later line", "A: 1\r\nbroken\r\n\r\n", 0, ` at byte 6 of stdout: line "broken" has no colon`},
		{"empty name", ": v\n\n", 0, ` at byte 0 of stdout: bad header name ""`},
		{"space in name", "Content Type: x\n\n", 0, ` at byte 0 of stdout: bad header name "Content Type"`},
		{"folded line", "A: 1\n continued\n\n", 0, ` at byte 5 of stdout: line " continued" has no colon`},
		{"leading space in name", "A: 1\n X: y\n\n", 0, ` at byte 5 of stdout: bad header name " X"`},
		{"Status not a number", "Status: abc\n\n", 0, ` at byte 0 of stdout: bad Status header "abc"`},
		{"Status two digits", "Status: 20\n\n", 0, ` at byte 0 of stdout: bad Status header "20"`},
		{"Status four digits", "Status: 2000 OK\n\n", 0, ` at byte 0 of stdout: bad Status header "2000 OK"`},
		{"Status below 100", "Status: 099\n\n", 0, ` at byte 0 of stdout: bad Status header "099"`},
		{"Status signed", "Status: +20\n\n", 0, ` at byte 0 of stdout: bad Status header "+20"`},
		{"Status empty", "X: 1\nStatus:\n\nbody", 0, ` at byte 5 of stdout: bad Status header ""`},
		{"long line is truncated in the message", long + "\n\n", 0, ` at byte 0 of stdout: line "` + long[:40] + `..." has no colon`},
		{"unterminated at Close", "Content-Type: text/html\r\n", 0, ` at byte 25 of stdout: stream ended before the blank line that ends the headers`},
		{"unterminated partial line at Close", "A: 1\nB: 2", 0, ` at byte 9 of stdout: stream ended before the blank line that ends the headers`},
		{"empty response", "", 0, `: empty response`},
		{"header block over MaxHeaderBytes", "A: 1\nB: " + long + "\n\nbody", 64, ` at byte 5 of stdout: header block exceeds 64 bytes`},
		{"partial line over MaxHeaderBytes", long + long, 64, ` at byte 0 of stdout: header block exceeds 64 bytes`},
		{"Status with a tab inside the code", "Status: 40\t4 Not Found\n\n", 0, ` at byte 0 of stdout: bad Status header "40\t4 Not Found"`},
		{"one line over MaxHeaderLines", "A: 1\nB: 2\nC: 3\n\nbody", -2, ` at byte 10 of stdout: more than 2 header lines`},
		{"blank line one byte over MaxHeaderBytes", "A: 1\n\nbody", 5, ` at byte 5 of stdout: header block exceeds 5 bytes`},
	}
	for _, tt := range tests {
		for _, chunk := range []int{0, 1, 5} {
			p, body, calls := parseCGI(t, []byte(tt.in), chunk, tt.maxHeader)
			if p.Done {
				t.Errorf("%s/chunk %d: Done", tt.name, chunk)
			}
			if !errors.Is(p.Err, ErrCGIHeader) {
				t.Errorf("%s/chunk %d: Err = %v, want ErrCGIHeader", tt.name, chunk, p.Err)
				continue
			}
			if want := "malformed CGI response header" + tt.err; p.Err.Error() != want {
				t.Errorf("%s/chunk %d: Err =\n%q, want\n%q", tt.name, chunk, p.Err, want)
			}
			if string(body) != tt.in {
				t.Errorf("%s/chunk %d: body = %q, want every input byte %q", tt.name, chunk, body, tt.in)
			}
			if calls != 0 {
				t.Errorf("%s/chunk %d: OnHeaders called %d times", tt.name, chunk, calls)
			}
			if !reflect.DeepEqual(p.Response, CGIResponse{}) {
				t.Errorf("%s/chunk %d: Response = %+v, want zero", tt.name, chunk, p.Response)
			}
		}
	}
}

func TestResponseParserWritesAfterFailure(t *testing.T) {
	var out bytes.Buffer
	p := &ResponseParser{Body: &out}
	for _, s := range []string{"bad line\n", "more\n\n", "tail"} {
		if n, err := p.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if out.String() != "bad line\nmore\n\ntail" || p.Err == nil || p.Done {
		t.Errorf("body %q, Err %v, Done %v", out.String(), p.Err, p.Done)
	}
}

// errWriterAfter fails every Write.
type errWriterAfter struct{}

func (errWriterAfter) Write([]byte) (int, error) { return 0, errWrite }

func TestResponseParserBodyError(t *testing.T) {
	p := &ResponseParser{Body: errWriterAfter{}}
	if _, err := p.Write([]byte("A: 1\n\nbody")); err != errWrite {
		t.Errorf("Write = %v, want Body's error", err)
	}
	p = &ResponseParser{Body: errWriterAfter{}}
	if _, err := p.Write([]byte("A: 1\n\n")); err != nil {
		t.Errorf("Write without body bytes = %v", err)
	}
}

// TestResponseParserReset checks that a reset parser starts afresh, keeps
// its Body and settings, and that the headers of a block parsed straight
// from the caller's buffer do not change when the caller reuses it.
func TestResponseParserReset(t *testing.T) {
	var body bytes.Buffer
	p := &ResponseParser{Body: &body, MaxHeaderBytes: 64}
	first := []byte("Status: 404 Not Found\r\nX-A: 1\r\n\r\ngone")
	if _, err := p.Write(first); err != nil {
		t.Fatal(err)
	}
	copy(first, bytes.Repeat([]byte{'z'}, len(first)))
	if got := p.Response; got.Status != 404 || got.Reason != "Not Found" || len(got.Headers) != 2 || got.Headers[1] != (Pair{Name: "X-A", Value: "1"}) || body.String() != "gone" {
		t.Fatalf("first response: %+v, body %q", got, body.String())
	}

	p.Reset()
	body.Reset()
	for _, part := range []string{"Loca", "tion: /x\n", "\nmoved"} {
		if _, err := p.Write([]byte(part)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if got := p.Response; !p.Done || p.Err != nil || got.Status != 302 || got.Reason != "" || got.HeaderBytes != 14 ||
		len(got.Headers) != 1 || got.Headers[0] != (Pair{Name: "Location", Value: "/x"}) || body.String() != "moved" {
		t.Fatalf("after Reset: done %v err %v %+v, body %q", p.Done, p.Err, got, body.String())
	}

	p.Reset()
	body.Reset()
	if _, err := p.Write([]byte("X-Long: " + strings.Repeat("v", 70))); err != nil {
		t.Fatal(err)
	}
	if p.Err == nil || p.MaxHeaderBytes != 64 || body.Len() != 78 {
		t.Fatalf("MaxHeaderBytes not kept across Reset: err %v, body %d bytes", p.Err, body.Len())
	}
}

// TestResponseParserHeaderAtLimit: a header block of exactly MaxHeaderBytes,
// blank line included, is accepted however it is split into writes.
func TestResponseParserHeaderAtLimit(t *testing.T) {
	for _, chunk := range []int{0, 1, 5} {
		p, body, calls := parseCGI(t, []byte("A: 1\n\nbody"), chunk, 6)
		if !p.Done || p.Err != nil || calls != 1 || string(body) != "body" || p.Response.HeaderBytes != 6 {
			t.Errorf("chunk %d: Done %v, Err %v, %d OnHeaders calls, body %q, HeaderBytes %d", chunk, p.Done, p.Err, calls, body, p.Response.HeaderBytes)
		}
	}
}

// TestResponseParserReusedLines: a parser used again and again with Reset
// parses every response as a new parser would, whichever of its lines
// came before at the same position.
func TestResponseParserReusedLines(t *testing.T) {
	blocks := []string{
		"Status: 404 Not Found\r\nX-A: 1\r\n\r\n",
		"Status: 404 Not Found\r\nX-A: 2\r\n\r\n",
		"X-A: 1\r\nStatus: 201\r\n\r\n",
		"X-A: 1\r\n\r\n",
		"Location: /x\r\nX-A: 1\r\nX-B: 3\r\n\r\n",
		"X-A: 1\r\nbad line\r\n\r\n",
		"Status: 404 Not Found\r\n\r\n",
	}
	reused := &ResponseParser{}
	for _, i := range []int{0, 0, 1, 0, 2, 3, 2, 4, 3, 5, 0, 6, 5, 4, 4} {
		fresh := &ResponseParser{}
		reused.Reset()
		for _, p := range []*ResponseParser{fresh, reused} {
			if _, err := p.Write([]byte(blocks[i] + "body")); err != nil {
				t.Fatal(err)
			}
		}
		if fmt.Sprint(reused.Response, reused.Done, reused.Err) != fmt.Sprint(fresh.Response, fresh.Done, fresh.Err) {
			t.Fatalf("block %d: reused parser got %+v %v %v, a new one %+v %v %v", i,
				reused.Response, reused.Done, reused.Err, fresh.Response, fresh.Done, fresh.Err)
		}
	}
}

// allocated returns the bytes allocated while f ran. f runs a few times,
// so it must start afresh each time.
func allocated(f func()) uint64 {
	// TotalAlloc counts every goroutine's allocations, the other tests'
	// too: the least of a few runs is f's own.
	least := ^uint64(0)
	for range 5 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		least = min(least, after.TotalAlloc-before.TotalAlloc)
	}
	return least
}

// A block of short header lines costs memory in proportion to its size,
// not some hundred times it: 1 MiB of them, in the records an application
// would send, stops at DefaultMaxHeaderLines, and every byte still reaches
// Body.
func TestResponseParserShortLinesBoundedMemory(t *testing.T) {
	in := bytes.Repeat([]byte("a:b\n"), 1<<18) // 1 MiB
	var body countingWriter
	var p *ResponseParser
	n := allocated(func() {
		body = countingWriter{}
		p = &ResponseParser{Body: &body}
		for rest := in; len(rest) > 0; {
			k := min(MaxContent, len(rest))
			p.Write(rest[:k])
			rest = rest[k:]
		}
		p.Close()
	})
	t.Logf("%d bytes allocated for %d bytes of header lines", n, len(in))
	if want := fmt.Sprintf("more than %d header lines", DefaultMaxHeaderLines); p.Err == nil || !strings.HasSuffix(p.Err.Error(), want) {
		t.Errorf("Err = %v, want one ending %q", p.Err, want)
	}
	if body.n != int64(len(in)) {
		t.Errorf("Body got %d bytes, want %d", body.n, len(in))
	}
	if n > 1<<20 {
		t.Errorf("%d bytes allocated parsing %d bytes of header lines, want at most %d", n, len(in), 1<<20)
	}
	// As many lines as are allowed: still a small multiple of the input.
	full := append(bytes.Repeat([]byte("a:b\n"), DefaultMaxHeaderLines), '\n')
	n = allocated(func() {
		p = &ResponseParser{Body: &body}
		p.Write(full)
	})
	if !p.Done || p.Err != nil || len(p.Response.Headers) != DefaultMaxHeaderLines {
		t.Fatalf("Done %v, Err %v, %d headers", p.Done, p.Err, len(p.Response.Headers))
	}
	if n > 384<<10 {
		t.Errorf("%d bytes allocated parsing %d header lines, want at most %d", n, DefaultMaxHeaderLines, 384<<10)
	}
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(b []byte) (int, error) { w.n += int64(len(b)); return len(b), nil }
