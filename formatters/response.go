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
	ConnectUS      int64 // -1 when the connect failed
	FirstByteUS    int64 // -1 when nothing arrived
	TotalUS        int64
	Err            string // the fault that ended the request, if any
}

type responseJSON struct {
	Status          *int        `json:"status"`
	Headers         [][2]string `json:"headers"`
	HeadersBase64   [][2]string `json:"headers_base64,omitempty"`
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
	ConnectUS   *int64 `json:"connect_us"`
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
		Timings:         timingsJSON{TotalUS: r.TotalUS},
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

// StatusText returns the standard reason phrase of an HTTP status code, or
// "" for an unknown one.
func StatusText(code int) string {
	switch code {
	case 100:
		return "Continue"
	case 101:
		return "Switching Protocols"
	case 103:
		return "Early Hints"
	case 200:
		return "OK"
	case 201:
		return "Created"
	case 202:
		return "Accepted"
	case 203:
		return "Non-Authoritative Information"
	case 204:
		return "No Content"
	case 205:
		return "Reset Content"
	case 206:
		return "Partial Content"
	case 300:
		return "Multiple Choices"
	case 301:
		return "Moved Permanently"
	case 302:
		return "Found"
	case 303:
		return "See Other"
	case 304:
		return "Not Modified"
	case 307:
		return "Temporary Redirect"
	case 308:
		return "Permanent Redirect"
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 402:
		return "Payment Required"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 406:
		return "Not Acceptable"
	case 408:
		return "Request Timeout"
	case 409:
		return "Conflict"
	case 410:
		return "Gone"
	case 411:
		return "Length Required"
	case 412:
		return "Precondition Failed"
	case 413:
		return "Content Too Large"
	case 414:
		return "URI Too Long"
	case 415:
		return "Unsupported Media Type"
	case 416:
		return "Range Not Satisfiable"
	case 417:
		return "Expectation Failed"
	case 418:
		return "I'm a teapot"
	case 421:
		return "Misdirected Request"
	case 422:
		return "Unprocessable Content"
	case 425:
		return "Too Early"
	case 426:
		return "Upgrade Required"
	case 428:
		return "Precondition Required"
	case 429:
		return "Too Many Requests"
	case 431:
		return "Request Header Fields Too Large"
	case 451:
		return "Unavailable For Legal Reasons"
	case 500:
		return "Internal Server Error"
	case 501:
		return "Not Implemented"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Gateway Timeout"
	case 505:
		return "HTTP Version Not Supported"
	}
	return ""
}
