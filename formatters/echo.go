package formatters

import (
	"fmt"
	"html"
	"io"
	"strings"

	"github.com/fcgicli/fcgicli/fcgiwire"
)

// EchoReport is what the echo responder saw of one request.
type EchoReport struct {
	RequestID   uint16
	Role        fcgiwire.Role
	KeepConn    bool
	ConnID      uint64
	Params      []fcgiwire.Pair
	StdinBytes  int64
	StdinSHA256 string
}

type echoJSON struct {
	RequestID    uint16      `json:"request_id"`
	Role         string      `json:"role"`
	KeepConn     bool        `json:"keep_conn"`
	Connection   uint64      `json:"connection"`
	Params       [][2]string `json:"params"`
	ParamsBase64 [][2]string `json:"params_base64,omitempty"`
	StdinBytes   int64       `json:"stdin_bytes"`
	StdinSHA256  string      `json:"stdin_sha256"`
}

// WriteEcho writes the body of the echo responder's answer, as text, JSON
// or HTML. Params are listed in arrival order; in JSON, when a name or
// value is not valid UTF-8, also whole in params_base64 (pairsJSON).
func WriteEcho(w io.Writer, r *EchoReport, f Format) error {
	if f == JSON {
		out := echoJSON{
			RequestID: r.RequestID, Role: r.Role.String(), KeepConn: r.KeepConn, Connection: r.ConnID,
			StdinBytes: r.StdinBytes, StdinSHA256: r.StdinSHA256,
		}
		out.Params, out.ParamsBase64 = pairsJSON(r.Params)
		return writeJSON(w, out)
	}
	if f == HTML {
		return writeEchoHTML(w, r)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "request_id: %d\nrole: %s\nkeep_conn: %t\nconnection: %d\nparams: %d\n",
		r.RequestID, r.Role, r.KeepConn, r.ConnID, len(r.Params))
	for _, p := range r.Params {
		fmt.Fprintf(&b, "  %s=%s\n", Printable(p.Name), Printable(p.Value))
	}
	fmt.Fprintf(&b, "stdin_bytes: %d\nstdin_sha256: %s\n", r.StdinBytes, r.StdinSHA256)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeEchoHTML writes the echo as a small web page, every value escaped.
func writeEchoHTML(w io.Writer, r *EchoReport) error {
	var b strings.Builder
	e := html.EscapeString
	b.WriteString("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>fcgicli echo</title></head><body>\n")
	fmt.Fprintf(&b, "<h1>FastCGI request %d</h1>\n<p>role %s, keep_conn %t, connection %d</p>\n", r.RequestID, e(r.Role.String()), r.KeepConn, r.ConnID)
	fmt.Fprintf(&b, "<table>\n<tr><th>param</th><th>value</th></tr>\n")
	for _, p := range r.Params {
		fmt.Fprintf(&b, "<tr><td>%s</td><td>%s</td></tr>\n", e(p.Name), e(p.Value))
	}
	fmt.Fprintf(&b, "</table>\n<p>stdin: %d bytes, sha256 %s</p>\n", r.StdinBytes, r.StdinSHA256)
	b.WriteString("</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}
