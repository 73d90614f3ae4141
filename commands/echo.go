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
	"sync"
	"time"

	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

// Limits the echo responder reports in GET_VALUES and enforces, unless
// serve is told otherwise.
const (
	echoMaxConns = 1024
	echoMaxReqs  = 1024
	// echoMaxConnReqs bounds the requests in flight on one multiplexed
	// connection, so that one client cannot take every slot (nginx's
	// default for concurrent HTTP/2 streams on a connection is the same).
	echoMaxConnReqs = 128
)

// NewEchoServer returns a server running the echo responder: every
// request is answered with a CGI response listing what it received. logf,
// when set, hears each connection fault.
func NewEchoServer(logf func(string), multiplex bool) *fcgiwire.Server {
	return newResponderServer(&responder{}, logf, serveLimits{maxConns: echoMaxConns, maxReqs: echoMaxReqs, maxConnReqs: echoMaxConnReqs, mpxs: multiplex})
}

// newResponderServer returns a server for h with lim's limits (not its
// deadlines).
func newResponderServer(h *responder, logf func(string), lim serveLimits) *fcgiwire.Server {
	maxConns, maxReqs, maxConnReqs := lim.maxConns, lim.maxReqs, min(lim.maxConnReqs, lim.maxReqs)
	return &fcgiwire.Server{
		Handler:           h,
		MaxConns:          maxConns,
		MaxReqs:           maxReqs,
		MaxConnReqs:       maxConnReqs,
		MultiplexConns:    lim.mpxs,
		RefuseRole:        h.refuseRole,
		SplitValuesResult: h.splitPairs,
		OnRefuse: func(r *fcgiwire.ServerRequest, ps fcgiwire.ProtocolStatus, why fcgiwire.RefuseReason) {
			h.refused(r, ps, refuseNote(why, r.Role, h.refuse[r.Role], maxConns, maxReqs, maxConnReqs))
		},
		OnError: func(connID uint64, err error) {
			if logf != nil {
				logf(fmt.Sprintf("conn %d: %v", connID, err))
			}
		},
	}
}

// responder answers requests for serve: by the first matching rule of
// --script, else with the mock response of the flags, else with the echo.
// It reports each request to report, when set, those the server refuses
// included, numbered in the order they are reported.
type responder struct {
	echoFormat formatters.Format // "" chooses by HTTP_ACCEPT
	mock       *mockResponse     // nil: echo
	headers    []string          // added to every answer
	rules      []rule
	refuse     map[fcgiwire.Role]bool
	faults     []fault
	report     func(*formatters.Exchange)
	reportMu   sync.Mutex // orders seq and report
	seq        uint64
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
	a := newAnswer(w)
	stdin := newHashingReader(r.Stdin)
	_, err := io.Copy(io.Discard, stdin)
	ex.StdinBytes, ex.StdinSHA256 = stdin.n, stdin.sum()
	if err != nil {
		// Aborted or cut off: end the request without an answer.
		a.SetAppStatus(1)
		ex.Note = "aborted: " + err.Error()
		h.finish(ex, start, a)
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
			h.finish(ex, start, a)
			return
		case <-time.After(resp.delay):
		}
	}
	if f := pickFault(h.faults); f != "" {
		ex.Note = "fault " + f
		injectFault(ctx, f, a, r)
		h.finish(ex, start, a)
		return
	}
	switch {
	case r.Role == fcgiwire.RoleFilter && resp == nil:
		ex.DataBytes, err = h.echoFilter(a, r)
	case resp != nil:
		err = h.writeMock(a, resp)
		a.SetAppStatus(resp.appStatus)
	default:
		err = h.writeEcho(a, r, ex)
	}
	if err != nil {
		ex.Note = "writing the answer: " + err.Error()
	}
	h.finish(ex, start, a)
}

// finish reports the request with what its answer carried.
func (h *responder) finish(ex *formatters.Exchange, start time.Time, a *answer) {
	if h.report == nil {
		return
	}
	a.fill(ex)
	ex.DurationUS = time.Since(start).Microseconds()
	h.emit(ex)
}

// refused reports a request the server answered itself before the handler
// could run: no answer but the END_REQUEST with protocol status ps, the
// params only if they had all arrived, and why in the note.
func (h *responder) refused(r *fcgiwire.ServerRequest, ps fcgiwire.ProtocolStatus, note string) {
	if h.report == nil {
		return
	}
	h.emit(&formatters.Exchange{
		Conn: r.ConnID, RequestID: r.ID, Role: r.Role, KeepConn: r.KeepConn(), Params: r.Params,
		Ended: true, ProtocolStatus: ps, Note: note,
	})
}

// refuseNote says why a request was refused, naming the flag that made it.
func refuseNote(why fcgiwire.RefuseReason, role fcgiwire.Role, refusedRole bool, maxConns, maxReqs, maxConnReqs int) string {
	switch why {
	case fcgiwire.RefusedMpx:
		return "refused: another request in flight on the connection (--no-mpxs)"
	case fcgiwire.RefusedRole:
		if refusedRole {
			return fmt.Sprintf("refused: role %s (--refuse-role)", role)
		}
		return fmt.Sprintf("refused: %s is not a FastCGI role", role)
	case fcgiwire.RefusedMaxConns:
		return fmt.Sprintf("refused: connection past --max-conns %d", maxConns)
	case fcgiwire.RefusedMaxReqs:
		return fmt.Sprintf("refused: --max-reqs %d reached", maxReqs)
	case fcgiwire.RefusedShutdown:
		return "refused: shutting down"
	case fcgiwire.RefusedAborted:
		return "aborted before its params ended"
	case fcgiwire.RefusedConnReqs:
		return fmt.Sprintf("refused: more than --max-conn-reqs %d on one connection", maxConnReqs)
	case fcgiwire.RefusedBuffer:
		return fmt.Sprintf("refused: the connection's unfinished params passed %d bytes", fcgiwire.DefaultMaxBufferedBytes)
	}
	return "refused: " + why.String()
}

// emit numbers ex and reports it; the numbers go out in order.
func (h *responder) emit(ex *formatters.Exchange) {
	h.reportMu.Lock()
	defer h.reportMu.Unlock()
	h.seq++
	ex.Seq = h.seq
	h.report(ex)
}

// maxReportStderr bounds the FCGI_STDERR a report keeps of one answer.
const maxReportStderr = 64 << 10

// answer is a request's ResponseWriter that remembers what went out
// through it, so that the report says what the client was sent: the CGI
// header block and body size of FCGI_STDOUT, FCGI_STDERR, and the
// END_REQUEST, or none when the answer was abandoned.
type answer struct {
	w              *fcgiwire.ResponseWriter
	cgi            fcgiwire.ResponseParser
	body           runenv.CountWriter
	stderr         runenv.CapBuffer
	appStatus      uint32
	protocolStatus fcgiwire.ProtocolStatus
	abandoned      bool
}

func newAnswer(w *fcgiwire.ResponseWriter) *answer {
	a := &answer{w: w, stderr: runenv.CapBuffer{Max: maxReportStderr}}
	a.cgi.Body = &a.body
	return a
}

// Stdout returns the FCGI_STDOUT stream.
func (a *answer) Stdout() io.Writer { return teeWriter{w: a.w.Stdout(), also: &a.cgi} }

// Stderr returns the FCGI_STDERR stream.
func (a *answer) Stderr() io.Writer { return teeWriter{w: a.w.Stderr(), also: &a.stderr} }

// SetAppStatus sets the app status of END_REQUEST.
func (a *answer) SetAppStatus(s uint32) { a.w.SetAppStatus(s); a.appStatus = s }

// SetProtocolStatus sets the protocol status of END_REQUEST.
func (a *answer) SetProtocolStatus(s fcgiwire.ProtocolStatus) {
	a.w.SetProtocolStatus(s)
	a.protocolStatus = s
}

// Abandon closes the connection instead of sending END_REQUEST.
func (a *answer) Abandon() { a.w.Abandon(); a.abandoned = true }

// WriteRaw writes bytes as they are; a fault that sends FCGI_STDOUT of the
// request this way says so with sentStdout.
func (a *answer) WriteRaw(b []byte) error { return a.w.WriteRaw(b) }

// sentStdout records FCGI_STDOUT content sent for the request by WriteRaw.
func (a *answer) sentStdout(b []byte) { _, _ = a.cgi.Write(b) }

// fill sets the response fields of ex to what the answer carried.
func (a *answer) fill(ex *formatters.Exchange) {
	_ = a.cgi.Close()
	if a.cgi.Done {
		ex.CGI = &a.cgi.Response
	}
	ex.BodyBytes, ex.Stderr, ex.StderrTruncated = a.body.N, a.stderr.Buf, a.stderr.Truncated
	ex.Ended = !a.abandoned
	if ex.Ended {
		ex.AppStatus, ex.ProtocolStatus = a.appStatus, a.protocolStatus
	}
}

// teeWriter writes to w, and what w took to also.
type teeWriter struct{ w, also io.Writer }

func (t teeWriter) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	_, _ = t.also.Write(p[:n])
	return n, err
}

// headerBlock writes a CGI header block.
func headerBlock(w io.Writer, status int, headers []string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Status: %d %s\r\n", status, formatters.StatusText(status))
	for _, hd := range headers {
		fmt.Fprintf(&b, "%s\r\n", hd)
	}
	b.WriteString("\r\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func (h *responder) writeMock(a *answer, m *mockResponse) error {
	status := m.status
	if status == 0 {
		status = 200
	}
	headers := append(append([]string{}, h.headers...), m.headers...)
	if !hasHeader(headers, "Content-Type") {
		headers = append(headers, "Content-Type: text/plain; charset=utf-8")
	}
	if m.stderr != "" {
		_, _ = io.WriteString(a.Stderr(), m.stderr)
	}
	err := headerBlock(a.Stdout(), status, headers)
	if err == nil {
		_, err = a.Stdout().Write(m.body)
	}
	return err
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
func (h *responder) writeEcho(a *answer, r *fcgiwire.ServerRequest, ex *formatters.Exchange) error {
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
	var body bytes.Buffer
	if err := formatters.WriteEcho(&body, rep, format); err != nil {
		return err
	}
	headers := append([]string{"Content-Type: " + ctype, fmt.Sprintf("Content-Length: %d", body.Len())}, h.headers...)
	err := headerBlock(a.Stdout(), 200, headers)
	if err == nil {
		_, err = a.Stdout().Write(body.Bytes())
	}
	return err
}

// echoFilter answers a FILTER request with its FCGI_DATA, streamed, and
// returns how many bytes of it it read.
func (h *responder) echoFilter(a *answer, r *fcgiwire.ServerRequest) (int64, error) {
	headers := append([]string{"Content-Type: application/octet-stream"}, h.headers...)
	if err := headerBlock(a.Stdout(), 200, headers); err != nil {
		return 0, err
	}
	return io.Copy(a.Stdout(), r.Data)
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

// rawRecord is one record of the given version, padded to a multiple of 8,
// for the faults that write their own records.
func rawRecord(version uint8, t fcgiwire.RecordType, id uint16, content []byte) []byte {
	h := fcgiwire.Header{Version: version, Type: t, RequestID: id, PaddingLength: uint8(fcgiwire.PaddingFor(len(content)))}
	return fcgiwire.AppendRecord(nil, h, content)
}

func injectFault(ctx context.Context, kind string, a *answer, r *fcgiwire.ServerRequest) {
	end := func(id uint16) []byte {
		return rawRecord(1, fcgiwire.TypeEndRequest, id, fcgiwire.EndRequest{}.Encode())
	}
	switch kind {
	case "close-before-end":
		if a.WriteRaw(rawRecord(1, fcgiwire.TypeStdout, r.ID, []byte(faultBody))) == nil {
			a.sentStdout([]byte(faultBody))
		}
		a.Abandon()
	case "wrong-request-id":
		// Nothing goes out on this request's id.
		_ = a.WriteRaw(append(rawRecord(1, fcgiwire.TypeStdout, r.ID+1, []byte(faultBody)), end(r.ID+1)...))
		a.Abandon()
	case "bad-version":
		_ = a.WriteRaw(rawRecord(2, fcgiwire.TypeStdout, r.ID, []byte(faultBody)))
		a.Abandon()
	case "overloaded":
		a.SetProtocolStatus(fcgiwire.Overloaded)
	case "slow-trickle":
		b := rawRecord(1, fcgiwire.TypeStdout, r.ID, []byte(faultBody))
		for i := range b {
			if ctx.Err() != nil || a.WriteRaw(b[i:i+1]) != nil {
				a.Abandon()
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
		a.sentStdout([]byte(faultBody))
	case "never-answer":
		<-ctx.Done()
		a.Abandon()
	case "app-error":
		_, _ = io.WriteString(a.Stdout(), faultBody)
		a.SetAppStatus(1)
	}
}
