package formatters

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
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
	// BodyStream and StderrStream, when set, stand for Body and Stderr.
	BodyStream, StderrStream *Stream
	Ended                    bool // FCGI_END_REQUEST arrived
	AppStatus                uint32
	ProtocolStatus           fcgiwire.ProtocolStatus
	BytesSent                int64
	BytesReceived            int64
	ConnectUS                int64 // -1 when the connect failed
	FirstByteUS              int64 // -1 when nothing arrived
	TotalUS                  int64
	Err                      string // the fault that ended the request, if any
	Hint                     string // what a known answer or fault means, if fcgicli knows
}

// WriteHint writes a hint line: what a known answer or fault means and
// what to do.
func WriteHint(w io.Writer, hint string) error {
	_, err := fmt.Fprintf(w, "fcgicli: hint: %s\n", hint)
	return err
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

// Stream is a response stream kept for a JSON document outside a byte
// slice (in a file, say): R yields its bytes, once, and UTF8 says whether
// they are valid UTF-8, which decides between the string and the base64
// field before the first byte is read.
type Stream struct {
	R    io.Reader
	UTF8 bool
}

// WriteResponseJSON writes r as one indented JSON document. status,
// app_status and protocol_status are null when the response never got
// that far. The body and stderr are streamed into the document: writing
// it costs no memory in proportion to them.
func WriteResponseJSON(w io.Writer, r *ResponseResult) error {
	j := &jsonOut{w: bufio.NewWriterSize(w, 64<<10)}
	j.raw("{\n  \"status\": ")
	if r.CGI != nil {
		j.int(int64(r.CGI.Status))
	} else {
		j.raw("null")
	}
	var headers, headers64 [][2]string
	if r.CGI != nil {
		headers, headers64 = pairsJSON(r.CGI.Headers)
	}
	j.raw(",\n  \"headers\": ")
	j.pairs(headers)
	if len(headers64) > 0 {
		j.raw(",\n  \"headers_base64\": ")
		j.pairs(headers64)
	}
	j.kept("body", r.Body, r.BodyStream)
	j.raw(",\n  \"body_truncated\": ")
	j.bool(r.BodyTruncated)
	j.kept("stderr", r.Stderr, r.StderrStream)
	j.raw(",\n  \"stderr_truncated\": ")
	j.bool(r.StderrTruncate)
	j.raw(",\n  \"app_status\": ")
	if r.Ended {
		j.int(int64(r.AppStatus))
		j.raw(",\n  \"protocol_status\": ")
		j.str(r.ProtocolStatus.String())
	} else {
		j.raw("null,\n  \"protocol_status\": null")
	}
	j.raw(",\n  \"bytes_sent\": ")
	j.int(r.BytesSent)
	j.raw(",\n  \"bytes_received\": ")
	j.int(r.BytesReceived)
	j.raw(",\n  \"timings\": {\n    \"connect_us\": ")
	j.us(r.ConnectUS)
	j.raw(",\n    \"first_byte_us\": ")
	j.us(r.FirstByteUS)
	j.raw(",\n    \"total_us\": ")
	j.int(r.TotalUS)
	j.raw("\n  }")
	if r.Err != "" {
		j.raw(",\n  \"error\": ")
		j.str(r.Err)
	}
	if r.Hint != "" {
		j.raw(",\n  \"hint\": ")
		j.str(r.Hint)
	}
	j.raw("\n}\n")
	if j.err != nil {
		return j.err
	}
	return j.w.Flush()
}

// jsonOut writes a JSON document piece by piece, laid out as writeJSON
// lays out what the indenting encoder writes; it keeps the first error.
type jsonOut struct {
	w   *bufio.Writer
	buf []byte
	err error
}

func (j *jsonOut) raw(s string) {
	if j.err == nil {
		_, j.err = j.w.WriteString(s)
	}
}

func (j *jsonOut) bytes(b []byte) {
	if j.err == nil {
		_, j.err = j.w.Write(b)
	}
}

func (j *jsonOut) int(n int64) {
	j.buf = strconv.AppendInt(j.buf[:0], n, 10)
	j.bytes(j.buf)
}

func (j *jsonOut) bool(b bool) { j.raw(strconv.FormatBool(b)) }

// us writes microseconds, null when negative (unknown).
func (j *jsonOut) us(n int64) {
	if n < 0 {
		j.raw("null")
		return
	}
	j.int(n)
}

func (j *jsonOut) str(s string) {
	j.buf = appendJSONString(append(j.buf[:0], '"'), []byte(s))
	j.bytes(append(j.buf, '"'))
}

// pairs writes an array of [name, value] pairs, one to a line.
func (j *jsonOut) pairs(ps [][2]string) {
	if len(ps) == 0 {
		j.raw("[]")
		return
	}
	j.raw("[")
	for i, p := range ps {
		if i > 0 {
			j.raw(",")
		}
		j.raw("\n    [")
		j.str(p[0])
		j.raw(", ")
		j.str(p[1])
		j.raw("]")
	}
	j.raw("\n  ]")
}

// kept writes a kept stream, from s when set, else b: as the field name
// when it is UTF-8, else as name_base64.
func (j *jsonOut) kept(name string, b []byte, s *Stream) {
	if s == nil {
		s = &Stream{R: bytes.NewReader(b), UTF8: utf8.Valid(b)}
	}
	src := s.R
	if src == nil {
		src = bytes.NewReader(nil)
	}
	if !s.UTF8 {
		j.raw(",\n  \"" + name + "_base64\": \"")
		if j.err == nil {
			enc := base64.NewEncoder(base64.StdEncoding, j.w)
			if _, err := io.Copy(enc, src); err != nil {
				j.err = err
			} else {
				j.err = enc.Close()
			}
		}
		j.raw("\"")
		return
	}
	j.raw(",\n  \"" + name + "\": \"")
	// Escaped a piece at a time, each cut at a rune boundary.
	in := make([]byte, 32<<10)
	carry := 0
	for j.err == nil {
		n, err := src.Read(in[carry:])
		n += carry
		end := n
		if err == nil {
			end = runeCut(in[:n])
		}
		j.buf = appendJSONString(j.buf[:0], in[:end])
		j.bytes(j.buf)
		carry = copy(in, in[end:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			j.err = err
		}
	}
	j.raw("\"")
}

// runeCut returns the length of the longest prefix of b that does not end
// inside a rune: a rune cut short by a read waits for the next one.
func runeCut(b []byte) int {
	for i := len(b) - 1; i >= 0 && i > len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return i
			}
			break
		}
	}
	return len(b)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s escaped for a JSON string, without its
// quotes, exactly as encoding/json escapes it with HTML escaping off:
// control bytes, the quote and the backslash escaped, invalid UTF-8 as
// \ufffd, U+2028 and U+2029 escaped.
func appendJSONString(dst []byte, s []byte) []byte {
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRune(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
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
	status := strconv.Itoa(r.Status)
	if reason != "" {
		status += " " + reason // no trailing space for a code without one
	}
	b.WriteString(p.Header.Sprint("Status: " + status))
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
