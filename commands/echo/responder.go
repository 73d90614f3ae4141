// Package echo is the echo responder: the FastCGI application that serve
// runs and that --connect builtin starts in-process. It answers each
// request with what the request carried (text, JSON or HTML), with a mock
// answer, by the rules of a --script file, or with an injected fault, and
// reports every request, those its server refuses included, as a
// formatters.Exchange.
//
// It owns the answers and the server's limits, not the command line: serve
// turns flags into a Responder and Limits, and owns the listeners and the
// deadlines. It must not import package commands or any other engine,
// never prints (reports go to Responder.Report, faults to logf) and holds
// no package-level mutable state.
package echo

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

// The limits the echo responder reports in GET_VALUES and enforces,
// unless serve is told otherwise.
const (
	DefaultMaxConns = 1024
	DefaultMaxReqs  = 1024
	// DefaultMaxConnReqs bounds the requests in flight on one multiplexed
	// connection, so that one client cannot take every slot (nginx's
	// default for concurrent HTTP/2 streams on a connection is the same).
	DefaultMaxConnReqs = 128
)

// Limits are what GET_VALUES reports and the server enforces.
type Limits struct {
	MaxConns, MaxReqs int
	MaxConnReqs       int // at most MaxReqs: a larger value counts as MaxReqs
	Multiplex         bool
}

// NewBuiltin returns the server --connect builtin runs: the echo with the
// default limits, multiplexing. logf, when set, hears each connection
// fault.
func NewBuiltin(logf func(string)) *fcgiwire.Server {
	return NewServer(&Responder{}, logf, Limits{MaxConns: DefaultMaxConns, MaxReqs: DefaultMaxReqs, MaxConnReqs: DefaultMaxConnReqs, Multiplex: true})
}

// NewServer returns a server for h with lim's limits; its deadlines are
// the caller's to set. logf, when set, hears each connection fault.
func NewServer(h *Responder, logf func(string), lim Limits) *fcgiwire.Server {
	maxConns, maxReqs, maxConnReqs := lim.MaxConns, lim.MaxReqs, min(lim.MaxConnReqs, lim.MaxReqs)
	return &fcgiwire.Server{
		Handler:           h,
		MaxConns:          maxConns,
		MaxReqs:           maxReqs,
		MaxConnReqs:       maxConnReqs,
		MultiplexConns:    lim.Multiplex,
		RefuseRole:        h.refuseRole,
		SplitValuesResult: h.splitPairs,
		OnRefuse: func(r *fcgiwire.ServerRequest, ps fcgiwire.ProtocolStatus, why fcgiwire.RefuseReason) {
			h.refused(r, ps, refuseNote(why, r.Role, h.Refuse[r.Role], maxConns, maxReqs, maxConnReqs))
		},
		OnError: func(connID uint64, err error) {
			if logf != nil {
				logf(fmt.Sprintf("conn %d: %v", connID, err))
			}
		},
	}
}

// Responder answers requests: by the first matching rule of Rules, else
// with Mock, else with the echo. It reports each request to Report, when
// set, those the server refuses included, numbered in the order they are
// reported. Set its fields before the server starts.
type Responder struct {
	EchoFormat formatters.Format          // "" chooses by HTTP_ACCEPT
	Mock       *Mock                      // nil: echo
	Headers    []string                   // added to every answer, "Name: value"
	Rules      []Rule                     // from ParseRules
	Refuse     map[fcgiwire.Role]bool     // roles answered with UNKNOWN_ROLE
	Faults     []Fault                    // injected, each with its probability
	Report     func(*formatters.Exchange) // hears each request as it ends
	reportMu   sync.Mutex                 // orders seq and Report
	seq        uint64
}

// Mock is a fixed answer.
type Mock struct {
	Status    int // 0: 200
	Body      []byte
	Headers   []string
	Stderr    string // sent on FCGI_STDERR
	AppStatus uint32
	Delay     time.Duration // waited before answering
}

func (h *Responder) refuseRole(r fcgiwire.Role) bool { return h.Refuse[r] }

// splitPairs says whether the split-pairs fault strikes a GET_VALUES.
func (h *Responder) splitPairs() bool {
	for _, f := range h.Faults {
		if f.Kind == "split-pairs" && (f.Prob >= 1 || rand.Float64() < f.Prob) {
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

func (h *Responder) ServeFCGI(ctx context.Context, w *fcgiwire.ResponseWriter, r *fcgiwire.ServerRequest) {
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
	resp := h.Mock
	if rl := matchRule(h.Rules, r.Params); rl != nil {
		resp = &rl.Resp
	}
	if resp != nil && resp.Delay > 0 {
		select {
		case <-ctx.Done():
			ex.Note = "aborted during --delay"
			h.finish(ex, start, a)
			return
		case <-time.After(resp.Delay):
		}
	}
	if f := pickFault(h.Faults); f != "" {
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
		a.SetAppStatus(resp.AppStatus)
	default:
		err = h.writeEcho(a, r, ex)
	}
	if err != nil {
		ex.Note = "writing the answer: " + err.Error()
	}
	h.finish(ex, start, a)
}

// finish reports the request with what its answer carried.
func (h *Responder) finish(ex *formatters.Exchange, start time.Time, a *answer) {
	if h.Report == nil {
		return
	}
	a.fill(ex)
	ex.DurationUS = time.Since(start).Microseconds()
	h.emit(ex)
}

// refused reports a request the server answered itself before the handler
// could run: no answer but the END_REQUEST with protocol status ps, the
// params only if they had all arrived, and why in the note.
func (h *Responder) refused(r *fcgiwire.ServerRequest, ps fcgiwire.ProtocolStatus, note string) {
	if h.Report == nil {
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
func (h *Responder) emit(ex *formatters.Exchange) {
	h.reportMu.Lock()
	defer h.reportMu.Unlock()
	h.seq++
	ex.Seq = h.seq
	h.Report(ex)
}

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
	a := &answer{w: w, stderr: runenv.CapBuffer{Max: formatters.MaxExchangeStderr}}
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

func (h *Responder) writeMock(a *answer, m *Mock) error {
	status := m.Status
	if status == 0 {
		status = 200
	}
	headers := append(append([]string{}, h.Headers...), m.Headers...)
	if !hasHeader(headers, "Content-Type") {
		headers = append(headers, "Content-Type: text/plain; charset=utf-8")
	}
	if m.Stderr != "" {
		_, _ = io.WriteString(a.Stderr(), m.Stderr)
	}
	err := headerBlock(a.Stdout(), status, headers)
	if err == nil {
		_, err = a.Stdout().Write(m.Body)
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
func (h *Responder) writeEcho(a *answer, r *fcgiwire.ServerRequest, ex *formatters.Exchange) error {
	format := h.EchoFormat
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
	headers := append([]string{"Content-Type: " + ctype, fmt.Sprintf("Content-Length: %d", body.Len())}, h.Headers...)
	err := headerBlock(a.Stdout(), 200, headers)
	if err == nil {
		_, err = a.Stdout().Write(body.Bytes())
	}
	return err
}

// echoFilter answers a FILTER request with its FCGI_DATA, streamed, and
// returns how many bytes of it it read.
func (h *Responder) echoFilter(a *answer, r *fcgiwire.ServerRequest) (int64, error) {
	headers := append([]string{"Content-Type: application/octet-stream"}, h.Headers...)
	if err := headerBlock(a.Stdout(), 200, headers); err != nil {
		return 0, err
	}
	return io.Copy(a.Stdout(), r.Data)
}
