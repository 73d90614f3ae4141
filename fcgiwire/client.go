package fcgiwire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"
)

// DefaultAbortGrace is how long a client waits, after sending
// FCGI_ABORT_REQUEST, for the application's FCGI_END_REQUEST.
const DefaultAbortGrace = 250 * time.Millisecond

// Request is one request as a client sends it.
type Request struct {
	// ID is the request id. 0 lets the connection choose: 1 for its
	// first request, and for each later one the id after the previous
	// one's, so that records a finished request's application sends late
	// are told apart from the next request's (see Result.StrayRecords).
	ID       uint16
	Role     Role   // 0 means RoleResponder
	KeepConn bool   // set FCGI_KEEP_CONN
	Params   []Pair // sent in this order
	// EncodedParams, when set, is sent instead of Params: the record
	// bodies SplitPairs made of them, each at most MaxContent bytes. A
	// client that sends the same params many times (a load generator)
	// encodes them once.
	EncodedParams [][]byte
	Stdin         io.Reader
	Data          io.Reader // FCGI_DATA, for the filter role
	Stdout        io.Writer // receives FCGI_STDOUT content as it arrives; nil discards
	Stderr        io.Writer // receives FCGI_STDERR content as it arrives; nil discards
}

// Result is what a client learnt about a request. Do fills it as far as
// the request got, also when it returns an error.
type Result struct {
	ID             uint16 // the request id the request was sent with
	Ended          bool   // FCGI_END_REQUEST arrived
	AppStatus      uint32
	ProtocolStatus ProtocolStatus
	BytesSent      int64 // wire bytes written for this request
	BytesReceived  int64 // wire bytes read for this request
	StdoutBytes    int64
	StderrBytes    int64
	FirstByte      time.Time // when the first response record arrived
	// StrayRecords counts the records that arrived during the request for
	// a request that had already ended on the connection (an application
	// that repeats an answer, or goes on after FCGI_END_REQUEST). They
	// reach the observer and are otherwise left out of the response.
	StrayRecords int
}

// LocalError wraps a failure on the client's own side during a request:
// reading the request body or writing the response to Stdout or Stderr.
type LocalError struct {
	Op  string // "read request body", "write stdout", ...
	Err error
}

func (e *LocalError) Error() string { return e.Op + ": " + e.Err.Error() }
func (e *LocalError) Unwrap() error { return e.Err }

// Conn is the client side of one FastCGI connection. It runs one request at
// a time; with KeepConn, several one after another.
type Conn struct {
	nc net.Conn
	r  *Reader
	w  *Writer

	// AbortGrace overrides DefaultAbortGrace when non-zero.
	AbortGrace time.Duration

	wmu      sync.Mutex
	wStopped bool        // no more records may be written for the current request
	wFailed  bool        // a write failed part way: the stream is unusable
	wErr     error       // the first failed write's error
	wSentAll bool        // the current request's last record is flushed
	wBodyErr *LocalError // the request body could not be read (set before the abort)

	broken error // set when the connection cannot carry another request

	// The reading of the request body, which the writer does and the end
	// of the request stops (see stopBody). rmu guards these.
	rmu   sync.Mutex
	rStop bool      // the request is over: no Read of its body may start
	rSrc  io.Reader // the body, while a Read of it is under way
	rCut  bool      // that Read was cut short with a read deadline

	// Request ids: the last one sent, and the span of those of the
	// requests that ended on the connection (0, 0 before the first),
	// whose late records are strays rather than faults.
	lastID           uint16
	endedLo, endedHi uint16

	// The watch that aborts a request when its context ends. It is
	// registered once per context rather than once per request (a load
	// generator sends thousands on one context, and registering cost
	// more than the rest of the client), and kept until a request comes
	// with a context that ends otherwise, or Close. watchMu guards the
	// fields below; the watch holds it while it aborts.
	watchMu   sync.Mutex
	watchDone <-chan struct{} // the watched context's Done channel: a watch on another does nothing
	stopWatch func() bool
	inflight  uint16 // the id of the request under way; 0 between requests
	aborted   bool   // the watch aborted the request under way

	beginBody [8]byte // BEGIN_REQUEST's body, reused: no allocation per request
	params    []byte  // the params' encoding, reused likewise
	bodies    [][]byte
}

// NewConn wraps an established connection.
func NewConn(nc net.Conn) *Conn {
	return &Conn{nc: nc, r: NewReader(nc), w: NewWriter(nc)}
}

// SetObserver installs an observer that sees every record both ways.
func (c *Conn) SetObserver(o Observer) {
	c.r.Observe = o
	c.w.Observe = o
}

// NetConn returns the underlying connection.
func (c *Conn) NetConn() net.Conn { return c.nc }

// NextID returns the id the next request run with Request.ID 0 gets: the
// one after the last request's, 1 for the first (and after 65535). A
// caller that shows the records of a request checks their id against it.
func (c *Conn) NextID() uint16 {
	if c.lastID == 65535 {
		return 1
	}
	return c.lastID + 1
}

// Reusable reports whether another request may be run on the connection.
func (c *Conn) Reusable() bool { return c.broken == nil }

// Close closes the connection, and lets go of the context the last
// request was run with. A request under way on another goroutine fails;
// its body is read no further (see Do).
func (c *Conn) Close() error {
	c.stopBody()
	c.watchMu.Lock()
	c.unwatchLocked()
	c.watchMu.Unlock()
	return c.nc.Close()
}

// watch makes sure that ctx ending, and only ctx, aborts the request
// under way: it keeps the current watch when ctx ends with the same Done
// channel, and otherwise replaces it (by none for a context that cannot
// end).
func (c *Conn) watch(ctx context.Context) {
	done := ctx.Done()
	c.watchMu.Lock()
	defer c.watchMu.Unlock()
	if done == c.watchDone {
		return
	}
	c.unwatchLocked()
	if done == nil {
		return
	}
	c.watchDone = done
	c.stopWatch = context.AfterFunc(ctx, func() {
		c.watchMu.Lock()
		defer c.watchMu.Unlock()
		// A replaced watch may still fire: it is current only while
		// the request under way ends with the same Done channel.
		if c.watchDone == done && c.inflight != 0 && !c.aborted {
			c.abort(c.inflight)
			c.aborted = true
		}
	})
}

// unwatchLocked drops the current watch; one that already fired finds
// itself replaced and does nothing. watchMu is held.
func (c *Conn) unwatchLocked() {
	if c.stopWatch != nil {
		c.stopWatch()
		c.stopWatch = nil
	}
	c.watchDone = nil
}

// begin marks request id under way, for the watch.
func (c *Conn) begin(id uint16) {
	c.watchMu.Lock()
	c.inflight, c.aborted = id, false
	c.watchMu.Unlock()
}

// end marks the request over, after any abort the watch started is
// through, and reports whether the watch aborted it.
func (c *Conn) end() bool {
	c.watchMu.Lock()
	defer c.watchMu.Unlock()
	c.inflight = 0
	return c.aborted
}

// Do runs one request and returns when FCGI_END_REQUEST arrives, the
// connection fails, or ctx ends. When ctx ends, Do sends
// FCGI_ABORT_REQUEST, waits up to the abort grace for FCGI_END_REQUEST,
// and returns ctx's error; the connection is then not reusable. The watch
// on ctx outlives Do, for the next request on the same context: Close
// ends it.
//
// Once Do returns (or Close is called), no Read of Request.Stdin or
// Request.Data starts. A Read already under way on a body that takes read
// deadlines (an *os.File pipe, a net.Conn) is cut short by one in the
// past, which is cleared again before Do returns; one on any other reader
// cannot be interrupted, and the bytes it returns are dropped.
//
// A record for a request that ended earlier on the connection is not a
// fault of the request under way: it is counted in Result.StrayRecords and
// otherwise skipped.
//
// Errors: a *PairTooLargeError before anything is sent; a *ProtocolError
// for malformed or unexpected records, or a connection closed before
// FCGI_END_REQUEST (ErrNoEndRequest); a *LocalError when the body cannot
// be read or the output cannot be written; ctx.Err() when ctx ended.
func (c *Conn) Do(ctx context.Context, req *Request) (*Result, error) {
	res := &Result{}
	return res, c.DoResult(ctx, req, res)
}

// DoResult is Do filling the caller's res, which it zeroes first: a loop
// of requests reusing one Result allocates none.
func (c *Conn) DoResult(ctx context.Context, req *Request, res *Result) error {
	*res = Result{}
	if c.broken != nil {
		return c.broken
	}
	id := req.ID
	if id == 0 {
		id = c.NextID()
	}
	res.ID = id
	role := req.Role
	if role == 0 {
		role = RoleResponder
	}
	// Params are encoded into the connection's buffers, which are free: a
	// request whose writer might still be using them left the connection
	// broken.
	bodies := req.EncodedParams
	if bodies == nil {
		var err error
		c.params, c.bodies, err = splitPairsInto(c.params, c.bodies, req.Params)
		if err != nil {
			return err
		}
		bodies = c.bodies
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	startR := c.r.Offset()
	c.wmu.Lock()
	startW := c.w.Offset()
	c.wStopped = false
	c.wSentAll = false
	c.wBodyErr = nil
	c.wmu.Unlock()
	c.rmu.Lock()
	c.rStop = false
	c.rmu.Unlock()
	c.lastID = id

	var flags uint8
	if req.KeepConn {
		flags = FlagKeepConn
	}
	// When ctx ends, abort: no goroutine waits for it meanwhile. A context
	// that cannot end (context.Background) needs no watch at all.
	c.watch(ctx)
	c.begin(id)
	if ctx.Err() != nil {
		// ctx has ended: a watch that fired before begin found nothing
		// to abort, and nothing is sent.
		if c.end() {
			// One that fired after it wrote FCGI_ABORT_REQUEST for a
			// request never begun.
			c.broken = ErrConnBroken
		}
		return ctx.Err()
	}

	// A small request in memory fits in the socket's buffers: it is
	// written here, in one write, before the response is read, sparing a
	// goroutine, its channels and a wake-up per request. Anything else is
	// written by a goroutine while the response is read.
	var (
		werr       error
		writeErr   chan error
		writerDone chan struct{}
	)
	br := BeginRequest{Role: role, Flags: flags}
	if small(bodies, req) {
		werr = c.send(id, br, bodies, req)
	} else {
		writeErr = make(chan error, 1)
		writerDone = make(chan struct{})
		go func() {
			defer close(writerDone)
			writeErr <- c.send(id, br, bodies, req)
		}()
	}

	err := c.readResponse(id, req, res)
	aborted := c.end() // waits for an abort under way to finish
	c.noteEnded(id)

	// Stop the writer if it is still sending (the application answered
	// before reading all of stdin, or the request failed).
	writerFinished := writerDone == nil
	if !writerFinished {
		cut := c.stopBody()
		select {
		case <-writerDone:
			writerFinished = true
		default:
			c.wmu.Lock()
			sentAll := c.wSentAll
			if !sentAll {
				c.wStopped = true
			}
			c.wmu.Unlock()
			if sentAll {
				// The last record is out and the writer is only returning:
				// the application may answer before it has.
				<-writerDone
				writerFinished = true
			} else {
				_ = c.nc.SetWriteDeadline(time.Now())
				if cut {
					// Its read of the body was cut short: it ends now,
					// and leaves the body's deadline as it found it.
					<-writerDone
				}
			}
		}
	}
	c.wmu.Lock()
	res.BytesSent = c.w.Offset() - startW
	failed, wErr := c.wFailed, c.wErr
	bodyErr := c.wBodyErr
	c.wmu.Unlock()
	res.BytesReceived = c.r.Offset() - startR

	if writerDone != nil && writerFinished {
		werr = <-writeErr
	}
	local, _ := errors.AsType[*LocalError](werr)
	if local == nil {
		// The writer may still be returning from its abort.
		local = bodyErr
	}
	switch {
	case aborted && ctx.Err() != nil:
		// The deadline or cancellation wins over what the read saw.
		if err == nil {
			err = ctx.Err()
		} else if _, isLocal := errors.AsType[*LocalError](err); !isLocal {
			err = ctx.Err()
		}
	case local != nil:
		// The body could not be read: that is the cause, whatever the
		// application did with the aborted request.
		err = local
	case errors.Is(wErr, syscall.ECONNRESET):
		// A reset while the request was still being sent is the writer's
		// to see; the reader then sees only the end of the stream. (The
		// writer records it under wmu, which the read above waited for
		// if the write was under way.)
		if pe, ok := errors.AsType[*ProtocolError](err); ok && pe.Err == ErrNoEndRequest && pe.Reason == "" {
			pe.Reason = netReason(wErr)
		}
	}
	if err != nil || aborted || failed || !writerFinished || !req.KeepConn {
		c.broken = ErrConnBroken
		if err != nil {
			c.broken = fmt.Errorf("%w: %v", ErrConnBroken, err)
		}
	}
	return err
}

// send writes the request records. It runs in its own goroutine so that a
// response that arrives while stdin is still being sent is read at once.
//
// A body already in memory (none, or readers with a Len method such as
// bytes.Reader and strings.Reader) cannot block, so the records wait in the
// buffer until the last one and a small request leaves in one write. When
// a body may block (a file, a pipe), each record is flushed as it is
// written, so the application can start on the params meanwhile.
func (c *Conn) send(id uint16, br BeginRequest, params [][]byte, req *Request) error {
	flush := !inMemory(req.Stdin) || !inMemory(req.Data)
	err := c.lockedWrite(func() error {
		br.put(&c.beginBody)
		if err := c.w.WriteRecord(TypeBeginRequest, id, c.beginBody[:]); err != nil {
			return err
		}
		for _, b := range params {
			if err := c.w.WriteRecord(TypeParams, id, b); err != nil {
				return err
			}
		}
		return c.w.WriteRecord(TypeParams, id, nil)
	}, flush)
	if err != nil {
		return err
	}
	data := req.Data != nil || br.Role == RoleFilter
	if err := c.sendStream(id, TypeStdin, req.Stdin, !data, flush); err != nil {
		return err
	}
	if data {
		return c.sendStream(id, TypeData, req.Data, true, flush)
	}
	return nil
}

// maxInlineRequest bounds the request Do writes before reading: far less
// than a loopback or unix socket buffers, so the write cannot wait on an
// application that answers before reading its stdin.
const maxInlineRequest = 32 << 10

// small reports whether a request is in memory and at most
// maxInlineRequest bytes of params and body.
func small(params [][]byte, req *Request) bool {
	if !inMemory(req.Stdin) || !inMemory(req.Data) {
		return false
	}
	n := 0
	for _, b := range params {
		n += len(b)
	}
	for _, r := range []io.Reader{req.Stdin, req.Data} {
		if l, ok := r.(interface{ Len() int }); ok {
			n += l.Len()
		}
	}
	return n <= maxInlineRequest
}

// inMemory reports whether reading r cannot block: r is nil or has the
// Len method of bytes.Reader, strings.Reader and bytes.Buffer.
func inMemory(r io.Reader) bool {
	if r == nil {
		return true
	}
	_, ok := r.(interface{ Len() int })
	return ok
}

// errStopped ends the writer quietly once the request is over.
var errStopped = errors.New("request over")

func (c *Conn) locked(f func() error) error {
	return c.lockedWrite(f, true)
}

func (c *Conn) lockedWrite(f func() error, flush bool) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.wStopped {
		return errStopped
	}
	err := f()
	if err == nil && flush {
		err = c.w.Flush()
	}
	if err != nil {
		c.wFailed = true
		if c.wErr == nil {
			c.wErr = err
		}
	}
	return err
}

// sendStream sends src as a stream of type t and closes it; last says it
// is the request's final stream, flush whether each record is flushed
// (the last one always is).
func (c *Conn) sendStream(id uint16, t RecordType, src io.Reader, last, flush bool) error {
	if src != nil {
		size := MaxContent
		if l, ok := src.(interface{ Len() int }); ok {
			size = min(max(l.Len(), 1), MaxContent) // no 64 KiB buffer for a small body
		}
		buf := make([]byte, size)
		for {
			n, ok, rerr := c.readBody(src, buf)
			if !ok {
				return errStopped
			}
			if n > 0 {
				if err := c.lockedWrite(func() error { return c.w.WriteRecord(t, id, buf[:n]) }, flush); err != nil {
					return err
				}
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				lerr := &LocalError{Op: "read request body", Err: rerr}
				c.wmu.Lock()
				c.wBodyErr = lerr
				c.wmu.Unlock()
				c.abort(id)
				return lerr
			}
		}
	}
	return c.locked(func() error {
		if err := c.w.WriteRecord(t, id, nil); err != nil {
			return err
		}
		if err := c.w.Flush(); err != nil {
			return err
		}
		c.wSentAll = last
		return nil
	})
}

// readDeadliner is a body whose Read a deadline can cut short.
type readDeadliner interface{ SetReadDeadline(time.Time) error }

// readBody reads the request body into buf unless the request is over;
// ok is false when it is, and what a Read under way returned is dropped.
func (c *Conn) readBody(src io.Reader, buf []byte) (n int, ok bool, err error) {
	c.rmu.Lock()
	if c.rStop {
		c.rmu.Unlock()
		return 0, false, nil
	}
	c.rSrc = src
	c.rmu.Unlock()
	n, err = src.Read(buf)
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.rSrc = nil
	if c.rCut {
		_ = src.(readDeadliner).SetReadDeadline(time.Time{})
		c.rCut = false
	}
	if c.rStop {
		return 0, false, nil
	}
	return n, true, err
}

// stopBody ends the reading of the request body: no Read of it starts
// afterwards, and one under way on a body that takes read deadlines is
// cut short. It reports whether one was, in which case the writer is
// about to end.
func (c *Conn) stopBody() bool {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.rStop = true
	if d, ok := c.rSrc.(readDeadliner); ok && !c.rCut && d.SetReadDeadline(time.Unix(1, 0)) == nil {
		c.rCut = true
	}
	return c.rCut
}

// noteEnded adds id to the requests that ended on the connection.
func (c *Conn) noteEnded(id uint16) {
	if c.endedLo == 0 {
		c.endedLo, c.endedHi = id, id
		return
	}
	c.endedLo, c.endedHi = min(c.endedLo, id), max(c.endedHi, id)
}

// endedEarlier reports whether id is that of a request that ended on the
// connection: between the lowest and the highest such id, which, ids
// going up one by one, are all of them.
func (c *Conn) endedEarlier(id uint16) bool {
	return c.endedLo != 0 && id >= c.endedLo && id <= c.endedHi
}

func (c *Conn) grace() time.Duration {
	if c.AbortGrace > 0 {
		return c.AbortGrace
	}
	return DefaultAbortGrace
}

// Abort sends FCGI_ABORT_REQUEST for request id, unless a write was cut
// off mid-record, and leaves the connection's deadlines a grace from now.
// It is for a request Do gave up on at a deadline set on the connection
// rather than through its context (which aborts by itself): the caller
// tells the application before closing the connection.
func (c *Conn) Abort(id uint16) { c.abort(id) }

// abort sends FCGI_ABORT_REQUEST at a record boundary, unless a write is
// stuck, and then bounds the wait for the application's answer.
func (c *Conn) abort(id uint16) {
	g := c.grace()
	_ = c.nc.SetWriteDeadline(time.Now().Add(g))
	c.wmu.Lock()
	if !c.wFailed {
		if err := c.w.WriteRecord(TypeAbortRequest, id, nil); err == nil {
			err = c.w.Flush()
			if err != nil {
				c.wFailed = true
			}
		} else {
			c.wFailed = true
		}
	}
	c.wStopped = true
	c.wmu.Unlock()
	_ = c.nc.SetReadDeadline(time.Now().Add(g))
}

// readResponse reads records until FCGI_END_REQUEST for id.
func (c *Conn) readResponse(id uint16, req *Request, res *Result) error {
	var stdoutClosed, stderrClosed bool
	for {
		rec, err := c.r.ReadRecord()
		if err != nil {
			return c.readFault(err, ErrNoEndRequest)
		}
		if res.FirstByte.IsZero() {
			res.FirstByte = time.Now()
		}
		h := rec.Header
		off := c.r.Offset() - int64(h.Len())
		if h.RequestID == 0 {
			if h.Type.IsManagement() || h.Type > TypeMax || h.Type == 0 {
				continue // a management or unknown record mid-response: seen by the observer only
			}
			return protoErr(off, h.Type, ErrRequestID, "%s record with request id 0", h.Type)
		}
		if h.RequestID != id {
			if c.endedEarlier(h.RequestID) {
				res.StrayRecords++
				continue
			}
			return protoErr(off, h.Type, ErrRequestID, "got request id %d, expected %d", h.RequestID, id)
		}
		switch h.Type {
		case TypeStdout, TypeStderr:
			// A stream ends with its empty record: nothing may follow it.
			closed := &stdoutClosed
			if h.Type == TypeStderr {
				closed = &stderrClosed
			}
			if *closed {
				return protoErr(off, h.Type, ErrUnexpectedType, "%s record after the stream's empty closing record", h.Type)
			}
			*closed = len(rec.Content) == 0
		}
		switch h.Type {
		case TypeStdout:
			res.StdoutBytes += int64(len(rec.Content))
			if err := writeOut(req.Stdout, rec.Content, "write stdout"); err != nil {
				return err
			}
		case TypeStderr:
			res.StderrBytes += int64(len(rec.Content))
			if err := writeOut(req.Stderr, rec.Content, "write stderr"); err != nil {
				return err
			}
		case TypeEndRequest:
			er, err := DecodeEndRequest(rec.Content)
			if err != nil {
				return badBody(off, h.Type, err)
			}
			if er.ProtocolStatus > UnknownRole {
				// Not a refusal the caller could act on: a malformed record.
				return protoErr(off, h.Type, ErrBadBody, "protocol status %d is not one FastCGI 1.0 defines", uint8(er.ProtocolStatus))
			}
			res.Ended = true
			res.AppStatus = er.AppStatus
			res.ProtocolStatus = er.ProtocolStatus
			return nil
		default:
			return protoErr(off, h.Type, ErrUnexpectedType, "a client does not expect %s", h.Type)
		}
	}
}

// readFault turns a failed read into the error a caller reports: a
// malformed record or a timeout as it is, and the peer closing or
// resetting the connection as missing, the sentinel for what never came
// (END_REQUEST, an answer to a management record), at the offset reached.
func (c *Conn) readFault(err, missing error) error {
	var pe *ProtocolError
	switch {
	case errors.As(err, &pe), isTimeout(err):
		return err
	case err == io.EOF:
		return protoErr(c.r.Offset(), 0, missing, "")
	}
	return protoErr(c.r.Offset(), 0, missing, "%s", netReason(err))
}

func writeOut(w io.Writer, b []byte, op string) error {
	if w == nil || len(b) == 0 {
		return nil
	}
	if _, err := w.Write(b); err != nil {
		return &LocalError{Op: op, Err: err}
	}
	return nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
