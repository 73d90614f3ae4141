package proxy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"sync"
	"time"

	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

// tap follows the requests of one connection through their records.
type tap struct {
	p    *proxy
	conn uint64
	mu   sync.Mutex
	reqs map[uint16]*tapReq

	client, up net.Conn
	toClient   io.Writer
	closing    bool // the proxy is ending the connection (shutdown)
	// dl: the deadline the client's read is under.
	dl deadlineKind
}

// deadlineKind says which deadline a client connection's read is under.
type deadlineKind uint8

const (
	deadlineNone deadlineKind = iota
	deadlineIdle
	deadlineStall
)

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// armClient sets the client's read deadline before a read: --read-timeout
// mid-record or while a request still owes input, --idle-timeout when no
// request is in flight, else none. A connection the proxy is closing keeps
// the deadline its close set.
func (t *tap) armClient(midRecord bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closing {
		return
	}
	d := t.p.Deadlines
	var at time.Time
	t.dl = deadlineNone
	switch {
	case midRecord || t.owing():
		if d.Read > 0 {
			at, t.dl = time.Now().Add(d.Read), deadlineStall
		}
	case len(t.reqs) == 0:
		if d.Idle > 0 {
			at, t.dl = time.Now().Add(d.Idle), deadlineIdle
		}
	}
	_ = t.client.SetReadDeadline(at)
}

// armIdleLocked puts the client's pending read under --idle-timeout once
// the last request has ended. Called with t.mu held.
func (t *tap) armIdleLocked() {
	if t.closing || len(t.reqs) > 0 || t.p.Deadlines.Idle <= 0 {
		return
	}
	t.dl = deadlineIdle
	_ = t.client.SetReadDeadline(time.Now().Add(t.p.Deadlines.Idle))
}

// owing reports whether a request in flight still owes input: its PARAMS,
// STDIN or (FILTER) DATA stream has not ended. Called with t.mu held.
func (t *tap) owing() bool {
	for _, r := range t.reqs {
		if !r.paramsEnded || (r.ex.Role != fcgiwire.RoleAuthorizer && !r.stdinEnded) || (r.ex.Role == fcgiwire.RoleFilter && !r.dataEnded) {
			return true
		}
	}
	return false
}

func (t *tap) clientDeadline() deadlineKind {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.dl
}

type tapReq struct {
	refused bool // begun after the shutdown began: not forwarded
	ex      formatters.Exchange
	start   time.Time
	params  []byte
	stdin   hash.Hash
	// The client's streams that have ended.
	paramsEnded, stdinEnded, dataEnded bool
	parser                             *fcgiwire.ResponseParser
	body                               *runenv.CountWriter
	stderr                             runenv.CapBuffer
}

// maxTapParams bounds the PARAMS bytes kept per request for the report.
const maxTapParams = 1 << 20

// record follows one record. A client record it returns drop for is not
// forwarded; answer, when set, goes to the client after it.
func (t *tap) record(ev fcgiwire.Event) (drop bool, answer []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	h := ev.Header
	if h.RequestID == 0 {
		return false, nil
	}
	r := t.reqs[h.RequestID]
	if ev.Dir == fcgiwire.Sent && t.p.shutting.Load() && (r == nil || r.refused) {
		return true, t.refuse(ev, r)
	}
	if ev.Dir == fcgiwire.Sent {
		switch h.Type {
		case fcgiwire.TypeBeginRequest:
			br, err := fcgiwire.DecodeBeginRequest(ev.Content)
			if err != nil {
				return false, nil
			}
			t.begin(h.RequestID, br, false)
		case fcgiwire.TypeParams:
			if r != nil && len(ev.Content) == 0 {
				r.paramsEnded = true
			}
			if r != nil && len(r.params)+len(ev.Content) <= maxTapParams {
				r.params = append(r.params, ev.Content...)
			}
		case fcgiwire.TypeStdin:
			if r != nil {
				r.ex.StdinBytes += int64(len(ev.Content))
				r.stdin.Write(ev.Content)
				r.stdinEnded = r.stdinEnded || len(ev.Content) == 0
			}
		case fcgiwire.TypeData:
			if r != nil {
				r.ex.DataBytes += int64(len(ev.Content))
				r.dataEnded = r.dataEnded || len(ev.Content) == 0
			}
		case fcgiwire.TypeAbortRequest:
			if r != nil {
				r.ex.Note = "aborted by the client"
			}
		}
		return false, nil
	}
	if r == nil {
		return false, nil
	}
	switch h.Type {
	case fcgiwire.TypeStdout:
		_, _ = r.parser.Write(ev.Content)
	case fcgiwire.TypeStderr:
		_, _ = r.stderr.Write(ev.Content)
	case fcgiwire.TypeEndRequest:
		if er, err := fcgiwire.DecodeEndRequest(ev.Content); err == nil {
			r.ex.Ended, r.ex.AppStatus, r.ex.ProtocolStatus = true, er.AppStatus, er.ProtocolStatus
		}
		t.finish(h.RequestID, r)
	}
	return false, nil
}

// refuse follows a client record of a request that begins after the
// shutdown began (r nil or refused): as serve does, the request is not
// started (its records are not forwarded) and is answered OVERLOADED when
// its params end (or it is aborted). Called with t.mu held.
func (t *tap) refuse(ev fcgiwire.Event, r *tapReq) []byte {
	h := ev.Header
	switch {
	case h.Type == fcgiwire.TypeBeginRequest:
		br, err := fcgiwire.DecodeBeginRequest(ev.Content)
		if err != nil {
			return nil
		}
		t.begin(h.RequestID, br, true)
		return nil
	case r == nil:
		return nil // a request already answered, or never begun
	case h.Type == fcgiwire.TypeParams && len(ev.Content) > 0:
		if len(r.params)+len(ev.Content) <= maxTapParams {
			r.params = append(r.params, ev.Content...)
		}
		return nil
	case h.Type == fcgiwire.TypeParams, h.Type == fcgiwire.TypeAbortRequest:
		r.ex.Ended, r.ex.ProtocolStatus = true, fcgiwire.Overloaded
		r.ex.Note = "refused: shutting down"
		t.finish(h.RequestID, r)
		end := fcgiwire.Header{Version: fcgiwire.Version1, Type: fcgiwire.TypeEndRequest, RequestID: h.RequestID}
		return fcgiwire.AppendRecord(nil, end, fcgiwire.EndRequest{ProtocolStatus: fcgiwire.Overloaded}.Encode())
	}
	return nil
}

// begin starts following request id; refused: it began after the
// shutdown began and is not forwarded. Called with t.mu held.
func (t *tap) begin(id uint16, br fcgiwire.BeginRequest, refused bool) {
	r := &tapReq{refused: refused, start: time.Now(), stdin: sha256.New(), body: &runenv.CountWriter{}, stderr: runenv.CapBuffer{Max: formatters.MaxExchangeStderr}}
	r.ex = formatters.Exchange{Conn: t.conn, RequestID: id, Role: br.Role, KeepConn: br.KeepConn()}
	r.parser = &fcgiwire.ResponseParser{Body: r.body}
	t.reqs[id] = r
}

// closeIfIdle ends the connection once the shutdown has begun and no
// request is in flight on it: the upstream connection closes, the client
// gets the answers already read and then a FIN (pump's half-close), and
// is drained for up to drainTimeout so that it sees no reset.
func (t *tap) closeIfIdle() {
	if t.p.shutting.Load() {
		t.closeIdle()
	}
}

// closeIdle ends the connection as closeIfIdle does, if no request is in
// flight on it.
func (t *tap) closeIdle() {
	t.mu.Lock()
	if t.closing || len(t.reqs) > 0 {
		t.mu.Unlock()
		return
	}
	t.closing = true
	t.mu.Unlock()
	_ = t.client.SetReadDeadline(time.Now().Add(drainTimeout))
	t.up.Close()
}

// forceClose cuts the connection at the shutdown deadline, noting why on
// the requests in flight.
func (t *tap) forceClose(note string) {
	t.mu.Lock()
	t.closing = true
	t.noteLocked(note)
	t.mu.Unlock()
	t.client.Close()
	t.up.Close()
}

func (t *tap) isClosing() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closing
}

// finish reports a request and forgets it. Called with t.mu held.
func (t *tap) finish(id uint16, r *tapReq) {
	delete(t.reqs, id)
	t.armIdleLocked()
	r.parser.Close()
	if r.parser.Done {
		r.ex.CGI = &r.parser.Response
	}
	r.ex.BodyBytes = r.body.N
	r.ex.Stderr, r.ex.StderrTruncated = r.stderr.Buf, r.stderr.Truncated
	r.ex.DurationUS = time.Since(r.start).Microseconds()
	r.ex.StdinSHA256 = hex.EncodeToString(r.stdin.Sum(nil))
	if pairs, err := fcgiwire.DecodePairs(r.params, 0); err == nil || len(pairs) > 0 {
		r.ex.Params = pairs
	}
	if t.p.Records {
		return // the records are the report
	}
	r.ex.Seq = t.p.seq.Add(1)
	t.p.outMu.Lock()
	defer t.p.outMu.Unlock()
	if err := formatters.WriteExchange(t.p.env.Stdout, &r.ex, t.p.Format, t.p.Palette); err != nil {
		t.p.logf("writing the report: %v", err)
	}
}

// noteEnd notes on the requests still in flight why a direction ended:
// the client closed or went away (reading from it or writing to it
// failed), or the upstream closed.
func (t *tap) noteEnd(dir fcgiwire.Direction, err error, writing bool) {
	if t.isClosing() || (err != nil && errors.Is(err, net.ErrClosed)) {
		return
	}
	switch {
	case dir == fcgiwire.Sent && err == nil:
		t.noteInFlight("the client closed the connection before END_REQUEST")
	case dir == fcgiwire.Sent && !writing, dir == fcgiwire.Received && writing:
		t.noteInFlight(fmt.Sprintf("the client went away before END_REQUEST (%s)", runenv.UnwrapOp(err)))
	case dir == fcgiwire.Received:
		t.noteInFlight("connection closed before END_REQUEST")
	}
}

// logEnd logs how the direction from one side to the other ended, naming
// the side that failed: the one written to when writing failed, else the
// one read from.
func (t *tap) logEnd(from, to string, err error, writing bool) {
	if err == nil || errors.Is(err, net.ErrClosed) || t.isClosing() {
		return
	}
	if writing {
		t.p.logf("conn %d: writing to the %s: %s", t.conn, to, runenv.UnwrapOp(err))
		return
	}
	t.p.logf("conn %d: reading from the %s: %s", t.conn, from, runenv.UnwrapOp(err))
}

// noteInFlight notes what happened on the requests still in flight that
// have no note yet.
func (t *tap) noteInFlight(note string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.noteLocked(note)
}

// noteLocked is noteInFlight with t.mu held.
func (t *tap) noteLocked(note string) {
	for _, r := range t.reqs {
		if r.ex.Note == "" {
			r.ex.Note = note
		}
	}
}

// flush reports the requests that never got their END_REQUEST.
func (t *tap) flush() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, r := range t.reqs {
		if r.ex.Note == "" {
			r.ex.Note = "connection closed before END_REQUEST"
		}
		t.finish(id, r)
	}
}
