package commands

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

// Limits the echo responder reports in GET_VALUES and enforces.
const (
	echoMaxConns = 1024
	echoMaxReqs  = 1024
)

// NewEchoServer returns a server running the echo responder: every
// request is answered with a CGI response listing what it received. logf,
// when set, hears one line per request and each connection fault.
func NewEchoServer(logf func(string), multiplex bool) *fcgiwire.Server {
	return &fcgiwire.Server{
		Handler:        &echoHandler{logf: logf},
		MaxConns:       echoMaxConns,
		MaxReqs:        echoMaxReqs,
		MultiplexConns: multiplex,
		OnError: func(connID uint64, err error) {
			if logf != nil {
				logf(fmt.Sprintf("conn %d: %v", connID, err))
			}
		},
	}
}

type echoHandler struct {
	logf func(string)
}

func hashAll(r io.Reader) (int64, string, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	return n, hex.EncodeToString(h.Sum(nil)), err
}

func (h *echoHandler) ServeFCGI(ctx context.Context, w *fcgiwire.ResponseWriter, r *fcgiwire.ServerRequest) {
	start := time.Now()
	rep := &formatters.EchoReport{
		RequestID: r.ID, Role: r.Role, KeepConn: r.KeepConn(), ConnID: r.ConnID, Params: r.Params,
	}
	var err error
	rep.StdinBytes, rep.StdinSHA256, err = hashAll(r.Stdin)
	if err == nil && r.Role == fcgiwire.RoleFilter {
		rep.DataBytes, rep.DataSHA256, err = hashAll(r.Data)
	}
	if err != nil {
		// Aborted or cut off: end the request without a body.
		w.SetAppStatus(1)
		h.log(r, rep, start, "aborted: "+err.Error())
		return
	}
	format, ctype := formatters.Text, "text/plain; charset=utf-8"
	if strings.Contains(r.Param("HTTP_ACCEPT"), "application/json") {
		format, ctype = formatters.JSON, "application/json"
	}
	var body bytes.Buffer
	_ = formatters.WriteEcho(&body, rep, format)
	fmt.Fprintf(w.Stdout(), "Status: 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", ctype, body.Len())
	_, _ = w.Stdout().Write(body.Bytes())
	h.log(r, rep, start, "")
}

func (h *echoHandler) log(r *fcgiwire.ServerRequest, rep *formatters.EchoReport, start time.Time, note string) {
	if h.logf == nil {
		return
	}
	line := fmt.Sprintf("conn %d req %d %s %s %s params=%d stdin=%dB %s",
		r.ConnID, r.ID, r.Role, r.Param("REQUEST_METHOD"), r.Param("REQUEST_URI"), len(r.Params), rep.StdinBytes, fmtDuration(time.Since(start)))
	if note != "" {
		line += " " + note
	}
	h.logf(line)
}
