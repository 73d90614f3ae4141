package formatters

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/fcgicli/fcgicli/fcgiwire"
)

// ResponseResult is everything a request learnt, as the response
// formatters take it.
type ResponseResult struct {
	CGI            *fcgiwire.CGIResponse // nil when no header block was parsed
	Body           []byte                // as much of the body as was kept
	BodyTruncated  bool
	Stderr         []byte
	StderrTruncate bool
	Ended          bool // FCGI_END_REQUEST arrived
	AppStatus      uint32
	ProtocolStatus fcgiwire.ProtocolStatus
	BytesSent      int64
	BytesReceived  int64
	ConnectUS      int64
	FirstByteUS    int64 // -1 when nothing arrived
	TotalUS        int64
	Err            string // the fault that ended the request, if any
}

type responseJSON struct {
	Status          *int        `json:"status"`
	Headers         [][2]string `json:"headers"`
	Body            *string     `json:"body,omitempty"`
	BodyBase64      *string     `json:"body_base64,omitempty"`
	BodyTruncated   bool        `json:"body_truncated"`
	Stderr          *string     `json:"stderr,omitempty"`
	StderrBase64    *string     `json:"stderr_base64,omitempty"`
	StderrTruncated bool        `json:"stderr_truncated"`
	AppStatus       *uint32     `json:"app_status"`
	ProtocolStatus  *string     `json:"protocol_status"`
	BytesSent       int64       `json:"bytes_sent"`
	BytesReceived   int64       `json:"bytes_received"`
	Timings         timingsJSON `json:"timings"`
	Error           string      `json:"error,omitempty"`
}

type timingsJSON struct {
	ConnectUS   int64  `json:"connect_us"`
	FirstByteUS *int64 `json:"first_byte_us"`
	TotalUS     int64  `json:"total_us"`
}

// textOrBase64 returns b as a string when it is valid UTF-8, else base64.
func textOrBase64(b []byte) (text, b64 *string) {
	if utf8.Valid(b) {
		s := string(b)
		return &s, nil
	}
	s := base64.StdEncoding.EncodeToString(b)
	return nil, &s
}

// WriteResponseJSON writes r as one indented JSON document. status,
// app_status and protocol_status are null when the response never got
// that far.
func WriteResponseJSON(w io.Writer, r *ResponseResult) error {
	out := responseJSON{
		Headers:         [][2]string{},
		BodyTruncated:   r.BodyTruncated,
		StderrTruncated: r.StderrTruncate,
		BytesSent:       r.BytesSent,
		BytesReceived:   r.BytesReceived,
		Timings:         timingsJSON{ConnectUS: r.ConnectUS, TotalUS: r.TotalUS},
		Error:           r.Err,
	}
	if r.CGI != nil {
		status := r.CGI.Status
		out.Status = &status
		for _, h := range r.CGI.Headers {
			out.Headers = append(out.Headers, [2]string{h.Name, h.Value})
		}
	}
	out.Body, out.BodyBase64 = textOrBase64(r.Body)
	out.Stderr, out.StderrBase64 = textOrBase64(r.Stderr)
	if r.Ended {
		app := r.AppStatus
		ps := r.ProtocolStatus.String()
		out.AppStatus, out.ProtocolStatus = &app, &ps
	}
	if r.FirstByteUS >= 0 {
		fb := r.FirstByteUS
		out.Timings.FirstByteUS = &fb
	}
	return writeJSON(w, out)
}

// newCompactEncoder returns a JSON encoder that leaves <, > and & alone.
func newCompactEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}

// writeJSON writes v indented, with every array of strings (a header
// pair, a list of names) on one line.
func writeJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := newCompactEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	out := stringArray().ReplaceAllFunc(buf.Bytes(), func(m []byte) []byte {
		return elemSep().ReplaceAllFunc(m, func(sep []byte) []byte {
			switch sep[0] {
			case '[':
				return []byte("[")
			case ',':
				return []byte(", ")
			}
			return []byte("]")
		})
	})
	_, err := w.Write(out)
	return err
}

// stringArray matches an array of strings as the indenting encoder spreads
// it over lines, and elemSep the breaks inside one. JSON strings hold no
// raw newline, so neither can match inside a string.
var (
	stringArray = sync.OnceValue(func() *regexp.Regexp {
		const str = `"(?:[^"\\]|\\.)*"`
		return regexp.MustCompile(`\[\n\s*` + str + `(?:,\n\s*` + str + `)*\n\s*\]`)
	})
	elemSep = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`\[\n\s*|,\n\s*|\n\s*\]`)
	})
)

// WriteCGIHeaders writes the header block as -i shows it: a status line
// "Status: CODE REASON", the other headers as received, and a blank line.
func WriteCGIHeaders(w io.Writer, r *fcgiwire.CGIResponse, p *Palette) error {
	var b strings.Builder
	reason := r.Reason
	if reason == "" {
		reason = StatusText(r.Status)
	}
	b.WriteString(p.Header.Sprintf("Status: %d %s", r.Status, reason))
	b.WriteByte('\n')
	for _, h := range r.Headers {
		if strings.EqualFold(h.Name, "Status") {
			continue
		}
		fmt.Fprintf(&b, "%s: %s\n", p.Header.Sprint(h.Name), h.Value)
	}
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

var statusText = map[int]string{
	100: "Continue", 101: "Switching Protocols", 103: "Early Hints",
	200: "OK", 201: "Created", 202: "Accepted", 203: "Non-Authoritative Information",
	204: "No Content", 205: "Reset Content", 206: "Partial Content",
	300: "Multiple Choices", 301: "Moved Permanently", 302: "Found", 303: "See Other",
	304: "Not Modified", 307: "Temporary Redirect", 308: "Permanent Redirect",
	400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
	404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable", 408: "Request Timeout",
	409: "Conflict", 410: "Gone", 411: "Length Required", 412: "Precondition Failed",
	413: "Content Too Large", 414: "URI Too Long", 415: "Unsupported Media Type",
	416: "Range Not Satisfiable", 417: "Expectation Failed", 418: "I'm a teapot",
	421: "Misdirected Request", 422: "Unprocessable Content", 425: "Too Early",
	426: "Upgrade Required", 428: "Precondition Required", 429: "Too Many Requests",
	431: "Request Header Fields Too Large", 451: "Unavailable For Legal Reasons",
	500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
	503: "Service Unavailable", 504: "Gateway Timeout", 505: "HTTP Version Not Supported",
}

// StatusText returns the standard reason phrase of an HTTP status code, or
// "" for an unknown one.
func StatusText(code int) string { return statusText[code] }
