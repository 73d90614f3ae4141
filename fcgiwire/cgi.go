package fcgiwire

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// DefaultMaxHeaderBytes bounds the CGI header block a ResponseParser
// buffers unless told otherwise.
const DefaultMaxHeaderBytes = 1 << 20

// DefaultMaxHeaderLines bounds the number of CGI header lines a
// ResponseParser accepts unless told otherwise. Each parsed line costs
// about a hundred bytes over its own, so without it a block of short lines
// took some hundred times its size in memory; nginx, within its 4 or 8 KiB
// header buffer, takes fewer still.
const DefaultMaxHeaderLines = 1000

// ErrCGIHeader: the FCGI_STDOUT stream does not start with a well-formed
// CGI header block.
var ErrCGIHeader = errors.New("malformed CGI response header")

// ErrEmptyResponse: the FCGI_STDOUT stream ended without a byte, so no
// header block at all (what a web server answers with 502 Bad Gateway).
// It wraps ErrCGIHeader.
var ErrEmptyResponse = fmt.Errorf("%w: empty response", ErrCGIHeader)

// CGIResponse is the parsed header block of a CGI response.
type CGIResponse struct {
	// Status is the code of the first Status header; without one, 302 when a
	// Location header is present, else 200 (RFC 3875, section 6.3).
	Status int
	// Reason is the text after the code in the Status header, if any.
	Reason string
	// Headers in arrival order, Status included, names as sent.
	Headers []Pair
	// HeaderBytes is the size of the header block with its blank line.
	HeaderBytes int
}

// Header returns the value of the first header named name, compared
// case-insensitively, and whether there was one.
func (r *CGIResponse) Header(name string) (string, bool) {
	for _, h := range r.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value, true
		}
	}
	return "", false
}

// ResponseParser is an io.Writer for the FCGI_STDOUT stream. It parses the
// CGI header block (LF or CRLF line ends) and passes the body on to Body as
// it arrives, so memory stays flat whatever the body size.
//
// Write never fails because of what the application sent: a malformed
// header block is recorded in Err, and every byte received, the header
// bytes included, is then passed on to Body, so nothing is lost.
type ResponseParser struct {
	Body io.Writer
	// OnHeaders, if set, is called once when the header block is complete,
	// before any body byte is written. An error it returns is returned by
	// Write, and the body bytes of that Write are not passed on.
	OnHeaders func(*CGIResponse) error
	// MaxHeaderBytes bounds the header block, its blank line included
	// (0: DefaultMaxHeaderBytes), however the stream is split into writes.
	MaxHeaderBytes int
	// MaxHeaderLines bounds the number of header lines (0:
	// DefaultMaxHeaderLines); one more is a malformed header block.
	MaxHeaderLines int

	Response CGIResponse
	// Done reports that the header block was complete.
	Done bool
	// Err is set when the header block was malformed.
	Err error

	buf    []byte
	failed bool
	// lines are the header lines of the responses parsed since the parser
	// was made, parsed, by position: a line that comes again (the usual
	// case with Reset, every response alike) is taken from here, neither
	// allocated nor parsed anew.
	lines  []headerLine
	nlines int
}

// headerLine is a parsed header line.
type headerLine struct {
	raw    string
	pair   Pair
	status int // of a Status line, else 0
	reason string
}

// Reset readies p for another response, keeping Body, OnHeaders and
// MaxHeaderBytes and reusing p's memory: the previous Response's Headers
// are overwritten.
func (p *ResponseParser) Reset() {
	*p = ResponseParser{
		Body: p.Body, OnHeaders: p.OnHeaders, MaxHeaderBytes: p.MaxHeaderBytes, MaxHeaderLines: p.MaxHeaderLines,
		Response: CGIResponse{Headers: p.Response.Headers[:0]},
		buf:      p.buf[:0],
		lines:    p.lines,
	}
}

// Write implements io.Writer.
func (p *ResponseParser) Write(b []byte) (int, error) {
	if p.Done || p.failed {
		return p.body(b, len(b))
	}
	// The header block is parsed from b itself when it starts there (the
	// usual case: it comes whole in the first record), and from what was
	// buffered of it otherwise.
	data := b
	if len(p.buf) > 0 {
		p.buf = append(p.buf, b...)
		data = p.buf
	}
	for {
		i := bytes.IndexByte(data[p.Response.HeaderBytes:], '\n')
		if i < 0 {
			break
		}
		lineStart := p.Response.HeaderBytes
		line := data[lineStart : lineStart+i]
		p.Response.HeaderBytes += i + 1
		if p.Response.HeaderBytes > p.maxHeader() {
			return p.fail(lineStart, data, fmt.Errorf("header block exceeds %d bytes", p.maxHeader()), len(b))
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(line) == 0 {
			return p.finish(data, len(b))
		}
		if err := p.header(line); err != nil {
			return p.fail(lineStart, data, err, len(b))
		}
	}
	if len(data) > p.maxHeader() {
		return p.fail(p.Response.HeaderBytes, data, fmt.Errorf("header block exceeds %d bytes", p.maxHeader()), len(b))
	}
	if len(p.buf) == 0 {
		p.buf = append(p.buf, b...) // the block goes on in the next Write
	}
	return len(b), nil
}

// Close reports the end of the stream: a header block that never ended is
// recorded in Err and its bytes are passed on to Body.
func (p *ResponseParser) Close() error {
	if p.Done || p.failed {
		return nil
	}
	if len(p.buf) == 0 {
		p.Err = ErrEmptyResponse
		p.failed = true
		return nil
	}
	_, err := p.fail(len(p.buf), p.buf, errors.New("stream ended before the blank line that ends the headers"), 0)
	return err
}

func (p *ResponseParser) maxLines() int {
	if p.MaxHeaderLines > 0 {
		return p.MaxHeaderLines
	}
	return DefaultMaxHeaderLines
}

func (p *ResponseParser) maxHeader() int {
	if p.MaxHeaderBytes > 0 {
		return p.MaxHeaderBytes
	}
	return DefaultMaxHeaderBytes
}

// header adds the next header line, parsed, or as it was parsed before
// when the same position held the same line.
func (p *ResponseParser) header(line []byte) error {
	i := p.nlines
	if i >= p.maxLines() {
		return fmt.Errorf("more than %d header lines", p.maxLines())
	}
	p.nlines++
	if i >= len(p.lines) || p.lines[i].raw != string(line) {
		h, err := parseHeader(string(line))
		if err != nil {
			return err
		}
		if i < len(p.lines) {
			p.lines[i] = h
		} else {
			p.lines = append(p.lines, h)
		}
	}
	h := &p.lines[i]
	// The first Status counts, as nginx takes it: a later one cannot turn
	// a 500 into a success.
	if h.status != 0 && p.Response.Status == 0 {
		p.Response.Status = h.status
		p.Response.Reason = h.reason
	}
	p.Response.Headers = append(p.Response.Headers, h.pair)
	return nil
}

func parseHeader(line string) (headerLine, error) {
	h := headerLine{raw: line}
	name, value, ok := strings.Cut(line, ":")
	if !ok {
		return h, fmt.Errorf("line %q has no colon", truncate(line, 40))
	}
	if name == "" || strings.ContainsAny(name, " \t") {
		return h, fmt.Errorf("bad header name %q", truncate(name, 40))
	}
	value = strings.Trim(value, " \t")
	if strings.EqualFold(name, "Status") {
		// The code ends at a space or, as nginx reads it, a tab.
		code, reason := value, ""
		if i := strings.IndexAny(value, " \t"); i >= 0 {
			code, reason = value[:i], value[i+1:]
		}
		n, err := strconv.Atoi(code)
		if err != nil || len(code) != 3 || n < 100 {
			return h, fmt.Errorf("bad Status header %q", truncate(value, 40))
		}
		h.status = n
		h.reason = strings.TrimSpace(reason)
	}
	h.pair = Pair{Name: name, Value: value}
	return h, nil
}

// finish ends the header block at p.Response.HeaderBytes of data and
// passes the rest on to Body.
func (p *ResponseParser) finish(data []byte, n int) (int, error) {
	p.Done = true
	if p.Response.Status == 0 {
		p.Response.Status = 200
		if _, ok := p.Response.Header("Location"); ok {
			p.Response.Status = 302
		}
	}
	rest := data[p.Response.HeaderBytes:]
	p.buf = nil
	if p.OnHeaders != nil {
		if err := p.OnHeaders(&p.Response); err != nil {
			return n, err
		}
	}
	return p.body(rest, n)
}

// fail records a malformed header block and passes data, everything
// received so far, on to Body.
func (p *ResponseParser) fail(at int, data []byte, err error, n int) (int, error) {
	p.failed = true
	p.Err = fmt.Errorf("%w at byte %d of stdout: %v", ErrCGIHeader, at, err)
	p.Response = CGIResponse{}
	p.buf = nil
	return p.body(data, n)
}

func (p *ResponseParser) body(b []byte, n int) (int, error) {
	if p.Body == nil || len(b) == 0 {
		return n, nil
	}
	if _, err := p.Body.Write(b); err != nil {
		return n, err
	}
	return n, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
