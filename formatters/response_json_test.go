package formatters

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"github.com/fcgicli/fcgicli/fcgiwire"
)

// The response document as it was written before it was streamed: the
// whole document through encoding/json and writeJSON. The streaming
// writer must write the same bytes.

type refResponseJSON struct {
	Status          *int           `json:"status"`
	Headers         [][2]string    `json:"headers"`
	HeadersBase64   [][2]string    `json:"headers_base64,omitempty"`
	Body            *string        `json:"body,omitempty"`
	BodyBase64      *string        `json:"body_base64,omitempty"`
	BodyTruncated   bool           `json:"body_truncated"`
	Stderr          *string        `json:"stderr,omitempty"`
	StderrBase64    *string        `json:"stderr_base64,omitempty"`
	StderrTruncated bool           `json:"stderr_truncated"`
	AppStatus       *uint32        `json:"app_status"`
	ProtocolStatus  *string        `json:"protocol_status"`
	BytesSent       int64          `json:"bytes_sent"`
	BytesReceived   int64          `json:"bytes_received"`
	Timings         refTimingsJSON `json:"timings"`
	Error           string         `json:"error,omitempty"`
}

type refTimingsJSON struct {
	ConnectUS   *int64 `json:"connect_us"`
	FirstByteUS *int64 `json:"first_byte_us"`
	TotalUS     int64  `json:"total_us"`
}

// refWriteResponseJSON writes r as one indented JSON document. status,
// app_status and protocol_status are null when the response never got
// that far.
func refWriteResponseJSON(w io.Writer, r *ResponseResult) error {
	out := refResponseJSON{
		Headers:         [][2]string{},
		BodyTruncated:   r.BodyTruncated,
		StderrTruncated: r.StderrTruncate,
		BytesSent:       r.BytesSent,
		BytesReceived:   r.BytesReceived,
		Timings:         refTimingsJSON{TotalUS: r.TotalUS},
		Error:           r.Err,
	}
	if r.CGI != nil {
		status := r.CGI.Status
		out.Status = &status
		out.Headers, out.HeadersBase64 = pairsJSON(r.CGI.Headers)
	}
	out.Body, out.BodyBase64 = textOrBase64(r.Body)
	out.Stderr, out.StderrBase64 = textOrBase64(r.Stderr)
	if r.Ended {
		app := r.AppStatus
		ps := r.ProtocolStatus.String()
		out.AppStatus, out.ProtocolStatus = &app, &ps
	}
	if r.ConnectUS >= 0 {
		c := r.ConnectUS
		out.Timings.ConnectUS = &c
	}
	if r.FirstByteUS >= 0 {
		fb := r.FirstByteUS
		out.Timings.FirstByteUS = &fb
	}
	return writeJSON(w, out)
}

// jsonSamples are bodies and stderr streams that exercise every escape.
func jsonSamples() [][]byte {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	samples := [][]byte{
		nil, []byte(""), []byte("hello\n"), []byte("\x00\x01\x1f\x7f \"\\/<>&"), []byte("\b\f\n\r\t"),
		[]byte("caf\u00e9 \u2028 \u2029 \U0001F600 \u4e2d\u6587"), all, []byte("\xff\xfe"), []byte("a\xe2\x82"),
		bytes.Repeat([]byte("\u4e2d"), 20000), bytes.Repeat([]byte{0}, 100000),
	}
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "\x00", "\"", "\\", "\n", "\u00e9", "\u2028", "\U0001F600", "\u4e2d", "\x7f", "\x1b"}
	for range 200 {
		var b []byte
		for range r.IntN(200) {
			b = append(b, alphabet[r.IntN(len(alphabet))]...)
		}
		if r.IntN(10) == 0 && len(b) > 0 {
			b[r.IntN(len(b))] = 0xff
		}
		samples = append(samples, b)
	}
	return samples
}

// TestWriteResponseJSONSameAsEncoder: the streamed document is byte for
// byte the one encoding/json and writeJSON wrote, from byte slices and
// from streams read in pieces of any size.
func TestWriteResponseJSONSameAsEncoder(t *testing.T) {
	cgis := []*fcgiwire.CGIResponse{
		nil,
		{Status: 200},
		{Status: 404, Headers: []fcgiwire.Pair{{Name: "Status", Value: "404 Not Found"}, {Name: "X-Q", Value: "a\"b\\c\x01\u2028<&>"}}},
		{Status: 200, Headers: []fcgiwire.Pair{{Name: "X-Name", Value: "caf\xe9"}}},
	}
	samples := jsonSamples()
	for i, body := range samples {
		stderr := samples[(i*7+3)%len(samples)]
		r := &ResponseResult{
			CGI: cgis[i%len(cgis)], Body: body, BodyTruncated: i%3 == 0, Stderr: stderr, StderrTruncate: i%5 == 0,
			Ended: i%2 == 0, AppStatus: uint32(i), ProtocolStatus: fcgiwire.ProtocolStatus(i % 5),
			BytesSent: int64(i), BytesReceived: int64(i * 1000), ConnectUS: int64(i%4 - 1), FirstByteUS: int64(i%3 - 1), TotalUS: int64(i),
		}
		if i%4 == 1 {
			r.Err = fmt.Sprintf("protocol error %q", body[:min(len(body), 20)])
		}
		var want, got bytes.Buffer
		if err := refWriteResponseJSON(&want, r); err != nil {
			t.Fatal(err)
		}
		if err := WriteResponseJSON(&got, r); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Fatalf("sample %d:\n%s\nwant:\n%s", i, head(got.String()), head(want.String()))
		}
		for _, wrap := range []func(io.Reader) io.Reader{iotest.OneByteReader, iotest.HalfReader, iotest.DataErrReader} {
			s := *r
			s.Body, s.Stderr = nil, nil
			s.BodyStream = &Stream{R: wrap(bytes.NewReader(body)), UTF8: utf8.Valid(body)}
			s.StderrStream = &Stream{R: wrap(bytes.NewReader(stderr)), UTF8: utf8.Valid(stderr)}
			got.Reset()
			if err := WriteResponseJSON(&got, &s); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Fatalf("sample %d streamed:\n%s\nwant:\n%s", i, head(got.String()), head(want.String()))
			}
		}
	}
}

func head(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "..."
	}
	return s
}

// appendJSONString escapes every string as encoding/json does.
func TestAppendJSONString(t *testing.T) {
	for _, b := range jsonSamples() {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(string(b)); err != nil {
			t.Fatal(err)
		}
		got := `"` + string(appendJSONString(nil, b)) + "\"\n"
		if got != want.String() {
			t.Fatalf("%q: got %s, want %s", b, head(got), head(want.String()))
		}
	}
}
