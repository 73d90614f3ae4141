package formatters

import (
	"fmt"
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
	DataBytes   int64
	DataSHA256  string
}

type echoJSON struct {
	RequestID   uint16      `json:"request_id"`
	Role        string      `json:"role"`
	KeepConn    bool        `json:"keep_conn"`
	Connection  uint64      `json:"connection"`
	Params      [][2]string `json:"params"`
	StdinBytes  int64       `json:"stdin_bytes"`
	StdinSHA256 string      `json:"stdin_sha256"`
	DataBytes   *int64      `json:"data_bytes,omitempty"`
	DataSHA256  string      `json:"data_sha256,omitempty"`
}

// WriteEcho writes the body of the echo responder's answer, as text or
// JSON. Params are listed in arrival order.
func WriteEcho(w io.Writer, r *EchoReport, f Format) error {
	if f == JSON {
		out := echoJSON{
			RequestID: r.RequestID, Role: r.Role.String(), KeepConn: r.KeepConn, Connection: r.ConnID,
			Params: [][2]string{}, StdinBytes: r.StdinBytes, StdinSHA256: r.StdinSHA256,
		}
		for _, p := range r.Params {
			out.Params = append(out.Params, [2]string{p.Name, p.Value})
		}
		if r.Role == fcgiwire.RoleFilter {
			out.DataBytes, out.DataSHA256 = &r.DataBytes, r.DataSHA256
		}
		return writeJSON(w, out)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "request_id: %d\nrole: %s\nkeep_conn: %t\nconnection: %d\nparams: %d\n",
		r.RequestID, r.Role, r.KeepConn, r.ConnID, len(r.Params))
	for _, p := range r.Params {
		fmt.Fprintf(&b, "  %s=%s\n", p.Name, Printable(p.Value))
	}
	fmt.Fprintf(&b, "stdin_bytes: %d\nstdin_sha256: %s\n", r.StdinBytes, r.StdinSHA256)
	if r.Role == fcgiwire.RoleFilter {
		fmt.Fprintf(&b, "data_bytes: %d\ndata_sha256: %s\n", r.DataBytes, r.DataSHA256)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
