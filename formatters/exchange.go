package formatters

import (
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/fcgicli/fcgicli/fcgiwire"
)

// MaxExchangeStderr bounds the FCGI_STDERR an Exchange keeps of one
// answer: the proxy and the echo server keep the first this many bytes
// and set StderrTruncated.
const MaxExchangeStderr = 64 << 10

// Exchange is one request and its response as the proxy (or the echo
// server) saw it pass.
type Exchange struct {
	Seq         uint64 // the how-manieth request the tool has seen
	Conn        uint64
	RequestID   uint16
	Role        fcgiwire.Role
	KeepConn    bool
	Params      []fcgiwire.Pair
	StdinBytes  int64
	StdinSHA256 string
	DataBytes   int64 // FCGI_DATA, filter role
	// The response, when there is one.
	CGI             *fcgiwire.CGIResponse
	BodyBytes       int64
	Stderr          []byte
	StderrTruncated bool // Stderr holds the first bytes of a longer FCGI_STDERR
	Ended           bool
	AppStatus       uint32
	ProtocolStatus  fcgiwire.ProtocolStatus
	DurationUS      int64
	Note            string // what went wrong, if anything (aborted, upstream closed...)
}

func (e *Exchange) param(name string) string {
	v := ""
	for _, p := range e.Params {
		if p.Name == name {
			v = p.Value
		}
	}
	return v
}

// stderr returns Stderr, without the start of a character the cut split
// when it was truncated: a stderr that is UTF-8 up to the cut stays text.
func (e *Exchange) stderr() []byte {
	b := e.Stderr
	if !e.StderrTruncated || utf8.Valid(b) {
		return b
	}
	for k := 1; k < utf8.UTFMax && k <= len(b); k++ {
		tail := b[len(b)-k:]
		if utf8.RuneStart(tail[0]) {
			if !utf8.FullRune(tail) && utf8.Valid(b[:len(b)-k]) {
				return b[:len(b)-k]
			}
			break
		}
	}
	return b
}

type exchangeJSON struct {
	Seq             uint64      `json:"seq"`
	Conn            uint64      `json:"conn"`
	RequestID       uint16      `json:"request_id"`
	Role            string      `json:"role"`
	KeepConn        bool        `json:"keep_conn"`
	Params          [][2]string `json:"params"`
	ParamsBase64    [][2]string `json:"params_base64,omitempty"`
	StdinBytes      int64       `json:"stdin_bytes"`
	StdinSHA256     string      `json:"stdin_sha256,omitempty"`
	DataBytes       int64       `json:"data_bytes,omitempty"`
	Status          *int        `json:"status"`
	Headers         [][2]string `json:"headers"`
	HeadersBase64   [][2]string `json:"headers_base64,omitempty"`
	BodyBytes       int64       `json:"body_bytes"`
	Stderr          *string     `json:"stderr,omitempty"`
	StderrBase64    *string     `json:"stderr_base64,omitempty"`
	StderrTruncated bool        `json:"stderr_truncated,omitempty"`
	AppStatus       *uint32     `json:"app_status"`
	ProtocolStatus  *string     `json:"protocol_status"`
	DurationUS      int64       `json:"duration_us"`
	Note            string      `json:"note,omitempty"`
}

// WriteExchange writes one exchange: a JSON line with Format JSON, else a
// block of text (the params in arrival order, the body's size and
// checksum, the response's status, headers and stderr, and how it ended).
// In JSON, params and headers with a name or value that is not valid UTF-8
// are also written whole in params_base64 and headers_base64 (pairsJSON).
// A truncated stderr says so (stderr_truncated), and loses the part of a
// character the cut split, so that it stays text.
func WriteExchange(w io.Writer, e *Exchange, f Format, p *Palette) error {
	if f == JSON {
		out := exchangeJSON{
			Seq: e.Seq, Conn: e.Conn, RequestID: e.RequestID, Role: e.Role.String(), KeepConn: e.KeepConn,
			StdinBytes: e.StdinBytes, StdinSHA256: e.StdinSHA256, DataBytes: e.DataBytes,
			Headers: [][2]string{}, BodyBytes: e.BodyBytes, DurationUS: e.DurationUS, Note: e.Note,
		}
		out.Params, out.ParamsBase64 = pairsJSON(e.Params)
		if e.CGI != nil {
			st := e.CGI.Status
			out.Status = &st
			out.Headers, out.HeadersBase64 = pairsJSON(e.CGI.Headers)
		}
		if stderr := e.stderr(); len(stderr) > 0 {
			out.Stderr, out.StderrBase64 = textOrBase64(stderr)
		}
		out.StderrTruncated = e.StderrTruncated
		if e.Ended {
			app, ps := e.AppStatus, e.ProtocolStatus.String()
			out.AppStatus, out.ProtocolStatus = &app, &ps
		}
		return writeJSONLine(w, out)
	}
	var b strings.Builder
	status := "-"
	if e.CGI != nil {
		status = fmt.Sprint(e.CGI.Status)
	}
	keep := ""
	if e.KeepConn {
		keep = " keep-conn"
	}
	what := " " + Printable(e.param("REQUEST_METHOD")) + " " + Printable(e.param("REQUEST_URI"))
	if what == "  " {
		what = "" // neither (a request refused before its params came): no blanks
	}
	fmt.Fprintf(&b, "%s%s -> %s  %s\n",
		p.Header.Sprintf("#%d conn %d req %d %s%s", e.Seq, e.Conn, e.RequestID, e.Role, keep),
		what, status, fmtUS(e.DurationUS))
	fmt.Fprintf(&b, "  params (%d):\n", len(e.Params))
	for _, pr := range e.Params {
		fmt.Fprintf(&b, "    %s = %s\n", p.Sent.Sprint(Printable(pr.Name)), Printable(pr.Value))
	}
	fmt.Fprintf(&b, "  stdin: %d bytes", e.StdinBytes)
	if e.StdinSHA256 != "" {
		fmt.Fprintf(&b, ", sha256 %s", e.StdinSHA256)
	}
	b.WriteByte('\n')
	if e.Role == fcgiwire.RoleFilter {
		fmt.Fprintf(&b, "  data: %d bytes\n", e.DataBytes)
	}
	if e.CGI != nil {
		fmt.Fprintf(&b, "  response: %d, %d headers, %d body bytes\n", e.CGI.Status, len(e.CGI.Headers), e.BodyBytes)
		for _, h := range e.CGI.Headers {
			fmt.Fprintf(&b, "    %s: %s\n", p.Received.Sprint(Printable(h.Name)), Printable(h.Value))
		}
	}
	if stderr := e.stderr(); e.StderrTruncated {
		fmt.Fprintf(&b, "  stderr (truncated to %d bytes): %s\n", len(stderr), p.Info.Sprint(Printable(string(stderr))))
	} else if len(stderr) > 0 {
		fmt.Fprintf(&b, "  stderr: %s\n", p.Info.Sprint(Printable(string(stderr))))
	}
	if e.Ended {
		fmt.Fprintf(&b, "  end: app_status=%d protocol_status=%s\n", e.AppStatus, e.ProtocolStatus)
	}
	if e.Note != "" {
		fmt.Fprintf(&b, "  %s\n", p.Error.Sprint("! "+e.Note))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// pairsJSON returns pairs as JSON's [name, value] strings, in order, and,
// when a name or value is not valid UTF-8 (bytes JSON strings cannot carry:
// encoding/json writes U+FFFD for them), every pair again with name and
// value in base64, so that nothing is lost; else nil.
func pairsJSON(pairs []fcgiwire.Pair) (text, b64 [][2]string) {
	text = [][2]string{}
	valid := true
	for _, p := range pairs {
		text = append(text, [2]string{p.Name, p.Value})
		valid = valid && utf8.ValidString(p.Name) && utf8.ValidString(p.Value)
	}
	if valid {
		return text, nil
	}
	enc := base64.StdEncoding.EncodeToString
	for _, p := range pairs {
		b64 = append(b64, [2]string{enc([]byte(p.Name)), enc([]byte(p.Value))})
	}
	return text, b64
}

func fmtUS(us int64) string {
	return fmt.Sprintf("%.2fms", float64(us)/1000)
}
