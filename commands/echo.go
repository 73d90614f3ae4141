package commands

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

// Limits the echo responder reports in GET_VALUES and enforces, unless
// serve is told otherwise.
const (
	echoMaxConns = 1024
	echoMaxReqs  = 1024
)

// NewEchoServer returns a server running the echo responder: every
// request is answered with a CGI response listing what it received. logf,
// when set, hears each connection fault.
func NewEchoServer(logf func(string), multiplex bool) *fcgiwire.Server {
	return newResponderServer(&responder{}, logf, echoMaxConns, echoMaxReqs, multiplex)
}

func newResponderServer(h *responder, logf func(string), maxConns, maxReqs int, multiplex bool) *fcgiwire.Server {
	return &fcgiwire.Server{
		Handler:           h,
		MaxConns:          maxConns,
		MaxReqs:           maxReqs,
		MultiplexConns:    multiplex,
		RefuseRole:        h.refuseRole,
		SplitValuesResult: h.splitPairs,
		OnError: func(connID uint64, err error) {
			if logf != nil {
				logf(fmt.Sprintf("conn %d: %v", connID, err))
			}
		},
	}
}

// responder answers requests for serve: by the first matching rule of
// --script, else with the mock response of the flags, else with the echo.
// It reports each request to report, when set.
type responder struct {
	echoFormat formatters.Format // "" chooses by HTTP_ACCEPT
	mock       *mockResponse     // nil: echo
	headers    []string          // added to every answer
	rules      []rule
	refuse     map[fcgiwire.Role]bool
	faults     []fault
	report     func(*formatters.Exchange)
	seq        atomic.Uint64
}

// mockResponse is a fixed answer.
type mockResponse struct {
	status    int
	body      []byte
	headers   []string
	stderr    string
	appStatus uint32
	delay     time.Duration
}

func (h *responder) refuseRole(r fcgiwire.Role) bool { return h.refuse[r] }

// splitPairs says whether the split-pairs fault strikes a GET_VALUES.
func (h *responder) splitPairs() bool {
	for _, f := range h.faults {
		if f.kind == "split-pairs" && (f.prob >= 1 || rand.Float64() < f.prob) {
			return true
		}
	}
	return false
}

// hashingReader hashes and counts what is read through it.
type hashingReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func newHashingReader(r io.Reader) *hashingReader { return &hashingReader{r: r, h: sha256.New()} }

func (hr *hashingReader) Read(p []byte) (int, error) {
	n, err := hr.r.Read(p)
	hr.h.Write(p[:n])
	hr.n += int64(n)
	return n, err
}

func (hr *hashingReader) sum() string { return hex.EncodeToString(hr.h.Sum(nil)) }

func (h *responder) ServeFCGI(ctx context.Context, w *fcgiwire.ResponseWriter, r *fcgiwire.ServerRequest) {
	start := time.Now()
	ex := &formatters.Exchange{
		Conn: r.ConnID, RequestID: r.ID, Role: r.Role, KeepConn: r.KeepConn(), Params: r.Params,
	}
	stdin := newHashingReader(r.Stdin)
	_, err := io.Copy(io.Discard, stdin)
	ex.StdinBytes, ex.StdinSHA256 = stdin.n, stdin.sum()
	if err != nil {
		// Aborted or cut off: end the request without an answer.
		w.SetAppStatus(1)
		ex.Note = "aborted: " + err.Error()
		h.finish(ex, start, nil, 1, fcgiwire.RequestComplete)
		return
	}
	resp := h.mock
	if rl := matchRule(h.rules, r.Params); rl != nil {
		resp = &rl.resp
	}
	if resp != nil && resp.delay > 0 {
		select {
		case <-ctx.Done():
			ex.Note = "aborted during --delay"
			h.finish(ex, start, nil, 0, fcgiwire.RequestComplete)
			return
		case <-time.After(resp.delay):
		}
	}
	if f := pickFault(h.faults); f != "" {
		ex.Note = "fault " + f
		injectFault(ctx, f, w, r)
		h.finish(ex, start, nil, 0, fcgiwire.RequestComplete)
		return
	}
	var cgi *fcgiwire.CGIResponse
	var appStatus uint32
	switch {
	case r.Role == fcgiwire.RoleFilter && resp == nil:
		cgi, ex.DataBytes, err = h.echoFilter(w, r)
	case resp != nil:
		cgi, err = h.writeMock(w, resp)
		appStatus = resp.appStatus
	default:
		cgi, err = h.writeEcho(w, r, ex)
	}
	if err != nil {
		ex.Note = "writing the answer: " + err.Error()
	}
	w.SetAppStatus(appStatus)
	h.finish(ex, start, cgi, appStatus, fcgiwire.RequestComplete)
}

func (h *responder) finish(ex *formatters.Exchange, start time.Time, cgi *fcgiwire.CGIResponse, app uint32, ps fcgiwire.ProtocolStatus) {
	if h.report == nil {
		return
	}
	ex.Seq = h.seq.Add(1)
	ex.CGI = cgi
	ex.Ended, ex.AppStatus, ex.ProtocolStatus = true, app, ps
	ex.DurationUS = time.Since(start).Microseconds()
	h.report(ex)
}

// headerBlock writes a CGI header block and returns it parsed, for the
// report.
func headerBlock(w io.Writer, status int, headers []string) (*fcgiwire.CGIResponse, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "Status: %d %s\r\n", status, formatters.StatusText(status))
	for _, hd := range headers {
		fmt.Fprintf(&b, "%s\r\n", hd)
	}
	b.WriteString("\r\n")
	p := &fcgiwire.ResponseParser{}
	_, _ = p.Write([]byte(b.String()))
	_, err := io.WriteString(w, b.String())
	return &p.Response, err
}

func (h *responder) writeMock(w *fcgiwire.ResponseWriter, m *mockResponse) (*fcgiwire.CGIResponse, error) {
	status := m.status
	if status == 0 {
		status = 200
	}
	headers := append(append([]string{}, h.headers...), m.headers...)
	if !hasHeader(headers, "Content-Type") {
		headers = append(headers, "Content-Type: text/plain; charset=utf-8")
	}
	if m.stderr != "" {
		_, _ = io.WriteString(w.Stderr(), m.stderr)
	}
	cgi, err := headerBlock(w.Stdout(), status, headers)
	if err == nil {
		_, err = w.Stdout().Write(m.body)
	}
	return cgi, err
}

func hasHeader(headers []string, name string) bool {
	for _, h := range headers {
		if n, _, ok := strings.Cut(h, ":"); ok && strings.EqualFold(strings.TrimSpace(n), name) {
			return true
		}
	}
	return false
}

// writeEcho answers with what the request carried, as text, JSON or HTML.
func (h *responder) writeEcho(w *fcgiwire.ResponseWriter, r *fcgiwire.ServerRequest, ex *formatters.Exchange) (*fcgiwire.CGIResponse, error) {
	format := h.echoFormat
	if format == "" {
		accept := r.Param("HTTP_ACCEPT")
		switch {
		case strings.Contains(accept, "application/json"):
			format = formatters.JSON
		case strings.Contains(accept, "text/html"):
			format = formatters.HTML
		default:
			format = formatters.Text
		}
	}
	ctype := map[formatters.Format]string{formatters.JSON: "application/json", formatters.HTML: "text/html; charset=utf-8"}[format]
	if ctype == "" {
		ctype = "text/plain; charset=utf-8"
	}
	rep := &formatters.EchoReport{
		RequestID: r.ID, Role: r.Role, KeepConn: r.KeepConn(), ConnID: r.ConnID, Params: r.Params,
		StdinBytes: ex.StdinBytes, StdinSHA256: ex.StdinSHA256,
	}
	if r.Role == fcgiwire.RoleFilter {
		data := newHashingReader(r.Data)
		if _, err := io.Copy(io.Discard, data); err != nil {
			return nil, err
		}
		rep.DataBytes, rep.DataSHA256 = data.n, data.sum()
		ex.DataBytes = data.n
	}
	var body bytes.Buffer
	if err := formatters.WriteEcho(&body, rep, format); err != nil {
		return nil, err
	}
	headers := append([]string{"Content-Type: " + ctype, fmt.Sprintf("Content-Length: %d", body.Len())}, h.headers...)
	cgi, err := headerBlock(w.Stdout(), 200, headers)
	if err == nil {
		_, err = w.Stdout().Write(body.Bytes())
	}
	ex.BodyBytes = int64(body.Len())
	return cgi, err
}

// echoFilter answers a FILTER request with its FCGI_DATA, streamed.
func (h *responder) echoFilter(w *fcgiwire.ResponseWriter, r *fcgiwire.ServerRequest) (*fcgiwire.CGIResponse, int64, error) {
	headers := append([]string{"Content-Type: application/octet-stream"}, h.headers...)
	cgi, err := headerBlock(w.Stdout(), 200, headers)
	if err != nil {
		return cgi, 0, err
	}
	n, err := io.Copy(w.Stdout(), r.Data)
	return cgi, n, err
}

// fault is a --fault: a kind and the probability it strikes a request.
type fault struct {
	kind string
	prob float64
}

// faultKinds are the faults serve can inject, with what each does.
func faultKinds() map[string]string {
	return map[string]string{
		"close-before-end": "sends part of the answer, then closes the connection without END_REQUEST",
		"wrong-request-id": "answers on request id + 1",
		"bad-version":      "answers with a record of version 2",
		"overloaded":       "ends the request with protocol status OVERLOADED",
		"slow-trickle":     "sends the answer one byte every 50ms",
		"never-answer":     "never answers (until the client gives up)",
		"app-error":        "answers, then ends with app status 1",
		"split-pairs":      "answers GET_VALUES with a pair split across two GET_VALUES_RESULT records",
	}
}

// pickFault returns the first request fault that strikes, or "".
func pickFault(faults []fault) string {
	for _, f := range faults {
		if f.kind == "split-pairs" {
			continue // a management fault: see splitPairs
		}
		if f.prob >= 1 || rand.Float64() < f.prob {
			return f.kind
		}
	}
	return ""
}

// faultBody is what the faulty answers carry.
const faultBody = "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nfault injected by fcgicli serve\n"

func rawRecord(version uint8, t fcgiwire.RecordType, id uint16, content []byte) []byte {
	pad := fcgiwire.PaddingFor(len(content))
	b := make([]byte, fcgiwire.HeaderLen, fcgiwire.HeaderLen+len(content)+pad)
	fcgiwire.Header{Version: version, Type: t, RequestID: id, ContentLength: uint16(len(content)), PaddingLength: uint8(pad)}.Encode(b)
	b = append(b, content...)
	return append(b, make([]byte, pad)...)
}

func injectFault(ctx context.Context, kind string, w *fcgiwire.ResponseWriter, r *fcgiwire.ServerRequest) {
	end := func(id uint16) []byte {
		return rawRecord(1, fcgiwire.TypeEndRequest, id, fcgiwire.EndRequest{}.Encode())
	}
	switch kind {
	case "close-before-end":
		_ = w.WriteRaw(rawRecord(1, fcgiwire.TypeStdout, r.ID, []byte(faultBody)))
		w.Abandon()
	case "wrong-request-id":
		_ = w.WriteRaw(append(rawRecord(1, fcgiwire.TypeStdout, r.ID+1, []byte(faultBody)), end(r.ID+1)...))
		w.Abandon()
	case "bad-version":
		_ = w.WriteRaw(rawRecord(2, fcgiwire.TypeStdout, r.ID, []byte(faultBody)))
		w.Abandon()
	case "overloaded":
		w.SetProtocolStatus(fcgiwire.Overloaded)
	case "slow-trickle":
		b := rawRecord(1, fcgiwire.TypeStdout, r.ID, []byte(faultBody))
		for i := range b {
			if ctx.Err() != nil || w.WriteRaw(b[i:i+1]) != nil {
				w.Abandon()
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	case "never-answer":
		<-ctx.Done()
		w.Abandon()
	case "app-error":
		_, _ = io.WriteString(w.Stdout(), faultBody)
		w.SetAppStatus(1)
	}
}
