package fcgiwire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxParamsBytes bounds the PARAMS stream a Server accepts for one
// request unless Server.MaxParamsBytes says otherwise.
const DefaultMaxParamsBytes = 1 << 20

// ErrAborted is what a request's Stdin and Data return after the client
// sent FCGI_ABORT_REQUEST.
var ErrAborted = errors.New("request aborted by the client")

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("fcgiwire: server closed")

// ServerRequest is one request as a Server hands it to its Handler.
type ServerRequest struct {
	ID          uint16
	Role        Role
	Flags       uint8
	Params      []Pair
	ParamsBytes int       // size of the PARAMS stream
	Stdin       io.Reader // FCGI_STDIN as it arrives
	Data        io.Reader // FCGI_DATA as it arrives (filter role)
	ConnID      uint64    // which connection, counting from 1
	LocalAddr   net.Addr
	RemoteAddr  net.Addr
}

// KeepConn reports whether the client set FCGI_KEEP_CONN.
func (r *ServerRequest) KeepConn() bool { return r.Flags&FlagKeepConn != 0 }

// Param returns the value of the last param named name, or "".
func (r *ServerRequest) Param(name string) string {
	v := ""
	for _, p := range r.Params {
		if p.Name == name {
			v = p.Value
		}
	}
	return v
}

// Handler answers requests. ServeFCGI writes the response through w and
// returns; the Server then closes the streams and sends FCGI_END_REQUEST.
// ctx ends when the client aborts the request or the connection closes.
type Handler interface {
	ServeFCGI(ctx context.Context, w *ResponseWriter, r *ServerRequest)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, w *ResponseWriter, r *ServerRequest)

// ServeFCGI calls f.
func (f HandlerFunc) ServeFCGI(ctx context.Context, w *ResponseWriter, r *ServerRequest) {
	f(ctx, w, r)
}

// RefuseReason says why a Server answered a request itself instead of
// running its Handler (see Server.OnRefuse).
type RefuseReason uint8

// The reasons a Server refuses a request, with the protocol status each
// answers.
const (
	// RefusedMpx: a request began on a connection that has one in flight
	// and MultiplexConns is off. CANT_MPX_CONN.
	RefusedMpx RefuseReason = iota + 1
	// RefusedRole: the role is not one of the specification's three, or
	// RefuseRole refuses it. UNKNOWN_ROLE.
	RefusedRole
	// RefusedMaxConns: the connection was accepted past MaxConns open at
	// once. OVERLOADED.
	RefusedMaxConns
	// RefusedMaxReqs: MaxReqs requests were in flight when it began.
	// OVERLOADED.
	RefusedMaxReqs
	// RefusedShutdown: its PARAMS stream ended after Shutdown began.
	// OVERLOADED.
	RefusedShutdown
	// RefusedAborted: the client sent FCGI_ABORT_REQUEST before the
	// request's PARAMS stream ended, so Handler never ran.
	// REQUEST_COMPLETE.
	RefusedAborted
)

// String returns the reason in a few words, or "reason n".
func (r RefuseReason) String() string {
	switch r {
	case RefusedMpx:
		return "no multiplexing"
	case RefusedRole:
		return "role refused"
	case RefusedMaxConns:
		return "too many connections"
	case RefusedMaxReqs:
		return "too many requests"
	case RefusedShutdown:
		return "shutting down"
	case RefusedAborted:
		return "aborted before it started"
	}
	return "reason " + strconv.Itoa(int(r))
}

// Server answers FastCGI requests on the connections it accepts: it
// multiplexes when MultiplexConns is set, answers FCGI_GET_VALUES, and
// replies FCGI_UNKNOWN_TYPE to management records it does not know. The
// requests it refuses (CANT_MPX_CONN, UNKNOWN_ROLE, OVERLOADED), and those
// aborted before their params ended, never reach Handler; OnRefuse hears
// of them.
type Server struct {
	Handler Handler
	// Values reported for FCGI_MAX_CONNS and FCGI_MAX_REQS (0 reports 1).
	// Both are enforced when set: a request beyond MaxReqs at once, or on
	// a connection beyond MaxConns open at once, gets OVERLOADED.
	MaxConns int
	MaxReqs  int
	// MultiplexConns allows several requests at once on a connection; a
	// second request on a connection without it gets CANT_MPX_CONN.
	MultiplexConns bool
	// RefuseRole, when set, says which roles to answer UNKNOWN_ROLE (roles
	// other than the three of the specification always are).
	RefuseRole func(Role) bool
	// SplitValuesResult, when set and returning true, makes the server
	// answer a GET_VALUES with its pairs split across two
	// GET_VALUES_RESULT records: a protocol violation, for testing clients.
	SplitValuesResult func() bool
	// MaxParamsBytes bounds one request's PARAMS stream (0: the default).
	MaxParamsBytes int
	// Observer, when set, returns the observer for a new connection.
	Observer func(connID uint64) Observer
	// OnError, when set, hears connection-level faults (malformed records
	// from the client). The connection is closed after it. Connections
	// the Server closes itself, Shutdown's included, are not faults.
	OnError func(connID uint64, err error)
	// OnRefuse, when set, hears of each request the Server answers itself,
	// without running Handler: status is the protocol status of the
	// FCGI_END_REQUEST it answers with (app status 0, no stream records)
	// and why says what made it refuse. r carries the request's ConnID,
	// ID, Role, Flags and addresses; Params and ParamsBytes only when the
	// PARAMS stream had ended (RefusedShutdown), and Stdin and Data are
	// nil. It is called on the connection's goroutine, from several
	// connections at once, just before the END_REQUEST is written, and the
	// connection reads nothing more until it returns: like a Handler that
	// reports, it should not take long. r is not used after it returns.
	OnRefuse func(r *ServerRequest, status ProtocolStatus, why RefuseReason)

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*serverConn]struct{}
	closed    bool
	nextConn  atomic.Uint64
	active    atomic.Int64
	inflight  sync.WaitGroup
}

// Serve accepts connections on l until l fails or Shutdown is called.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	if s.listeners == nil {
		s.listeners = map[net.Listener]struct{}{}
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	for {
		nc, err := l.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			delete(s.listeners, l)
			s.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			return err
		}
		go s.ServeConn(nc)
	}
}

// Shutdown stops accepting, waits for requests in flight to finish or ctx
// to end, then closes every connection. A request whose params arrive on an
// open connection after Shutdown began is not started: it is answered
// FCGI_OVERLOADED.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	for l := range s.listeners {
		l.Close()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.inflight.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.mu.Lock()
	for c := range s.conns {
		// Marked first: what the close makes its reads fail with is not
		// a fault to report (OnError).
		c.closing.Store(true)
		c.nc.Close()
	}
	s.mu.Unlock()
	return err
}

// takeSlot counts a request begun, unless MaxReqs are already in flight.
// Checking and counting are one step: connections beginning requests at
// the same time cannot together go over the limit.
func (s *Server) takeSlot() bool {
	if s.MaxReqs <= 0 {
		s.active.Add(1)
		return true
	}
	for {
		n := s.active.Load()
		if n >= int64(s.MaxReqs) {
			return false
		}
		if s.active.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// startHandler counts a handler about to start, unless Shutdown has begun.
func (s *Server) startHandler() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.inflight.Add(1)
	return true
}

// ServeConn serves one connection until the client closes it, a request
// without FCGI_KEEP_CONN ends, or the client sends malformed records.
func (s *Server) ServeConn(nc net.Conn) {
	c := &serverConn{srv: s, nc: nc, id: s.nextConn.Add(1), r: NewReader(nc), w: NewWriter(nc), reqs: map[uint16]*serverReq{}}
	if s.Observer != nil {
		if o := s.Observer(c.id); o != nil {
			c.r.Observe = o
			c.w.Observe = o
		}
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		nc.Close()
		return
	}
	if s.conns == nil {
		s.conns = map[*serverConn]struct{}{}
	}
	c.overLimit = s.MaxConns > 0 && len(s.conns) >= s.MaxConns
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	err := c.serve()
	if err != nil && s.OnError != nil && !c.closing.Load() {
		s.OnError(c.id, err)
	}
	c.close()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

type serverConn struct {
	srv  *Server
	nc   net.Conn
	id   uint64
	r    *Reader
	wmu  sync.Mutex
	w    *Writer
	mu   sync.Mutex // guards reqs and closeIdle
	reqs map[uint16]*serverReq
	// closeIdle: a request without FCGI_KEEP_CONN has ended while others
	// were in flight; the connection closes after the last of them.
	closeIdle bool
	closing   atomic.Bool
	// overLimit: the connection came past MaxConns; its requests get
	// OVERLOADED.
	overLimit bool
}

type serverReq struct {
	req        ServerRequest
	params     []byte
	paramsDone bool
	stdin      *io.PipeWriter
	data       *io.PipeWriter
	cancel     context.CancelFunc
}

func (c *serverConn) close() {
	c.closing.Store(true)
	c.nc.Close()
	c.mu.Lock()
	for id, r := range c.reqs {
		if r.cancel != nil {
			r.cancel()
		} else {
			// Never started, so no handler will free its slot.
			delete(c.reqs, id)
			c.srv.active.Add(-1)
		}
		closePipes(r, io.ErrUnexpectedEOF)
	}
	c.mu.Unlock()
}

func closePipes(r *serverReq, err error) {
	if r.stdin != nil {
		r.stdin.CloseWithError(err)
	}
	if r.data != nil {
		r.data.CloseWithError(err)
	}
}

func (c *serverConn) write(f func() error) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := f(); err != nil {
		return err
	}
	return c.w.Flush()
}

func (c *serverConn) endRequest(id uint16, appStatus uint32, ps ProtocolStatus) error {
	return c.write(func() error {
		return c.w.WriteRecord(TypeEndRequest, id, EndRequest{AppStatus: appStatus, ProtocolStatus: ps}.Encode())
	})
}

func (c *serverConn) serve() error {
	for {
		rec, err := c.r.ReadRecord()
		if err != nil {
			if err == io.EOF || c.closing.Load() {
				return nil
			}
			return err
		}
		if c.closing.Load() {
			continue // draining after the last response
		}
		h := rec.Header
		off := c.r.Offset() - int64(h.Len())
		if h.RequestID == 0 {
			if err := c.management(rec, off); err != nil {
				return err
			}
			continue
		}
		c.mu.Lock()
		r := c.reqs[h.RequestID]
		c.mu.Unlock()
		switch h.Type {
		case TypeBeginRequest:
			if err := c.begin(rec, off); err != nil {
				return err
			}
		case TypeParams:
			if r == nil {
				continue // a request already answered or refused
			}
			if r.paramsDone {
				return protoErr(off, h.Type, ErrUnexpectedType, "PARAMS after the PARAMS stream ended")
			}
			if len(rec.Content) == 0 {
				if err := c.start(r, off); err != nil {
					return err
				}
				continue
			}
			if len(r.params)+len(rec.Content) > c.maxParams() {
				return protoErr(off, h.Type, ErrTooLarge, "PARAMS stream exceeds %d bytes", c.maxParams())
			}
			r.params = append(r.params, rec.Content...)
		case TypeStdin, TypeData:
			if r == nil {
				continue
			}
			if !r.paramsDone {
				return protoErr(off, h.Type, ErrUnexpectedType, "%s before the PARAMS stream ended", h.Type)
			}
			pw := r.stdin
			if h.Type == TypeData {
				pw = r.data
			}
			if len(rec.Content) == 0 {
				pw.Close()
				continue
			}
			// A handler that stopped reading closed the pipe: drop the rest.
			_, _ = pw.Write(rec.Content)
		case TypeAbortRequest:
			if r == nil {
				continue
			}
			if r.cancel != nil {
				r.cancel()
				closePipes(r, ErrAborted)
				continue
			}
			// Aborted before the handler started: end it at once.
			c.mu.Lock()
			delete(c.reqs, h.RequestID)
			c.mu.Unlock()
			c.srv.active.Add(-1)
			if c.srv.OnRefuse != nil {
				c.srv.OnRefuse(&r.req, RequestComplete, RefusedAborted)
			}
			if err := c.endRequest(h.RequestID, 0, RequestComplete); err != nil {
				return err
			}
			if !r.req.KeepConn() {
				return nil
			}
		default:
			if h.Type > TypeMax {
				if err := c.write(func() error { return c.w.WriteRecord(TypeUnknownType, 0, UnknownTypeBody(h.Type)) }); err != nil {
					return err
				}
				continue
			}
			return protoErr(off, h.Type, ErrUnexpectedType, "an application does not expect %s", h.Type)
		}
	}
}

func (c *serverConn) maxParams() int {
	if c.srv.MaxParamsBytes > 0 {
		return c.srv.MaxParamsBytes
	}
	return DefaultMaxParamsBytes
}

func (c *serverConn) management(rec Record, off int64) error {
	h := rec.Header
	if h.Type != TypeGetValues {
		return c.write(func() error { return c.w.WriteRecord(TypeUnknownType, 0, UnknownTypeBody(h.Type)) })
	}
	asked, err := DecodePairs(rec.Content, off+HeaderLen)
	if err != nil {
		return err
	}
	var out []Pair
	for _, p := range asked {
		switch p.Name {
		case MaxConns:
			out = append(out, Pair{p.Name, strconv.Itoa(max(c.srv.MaxConns, 1))})
		case MaxReqs:
			out = append(out, Pair{p.Name, strconv.Itoa(max(c.srv.MaxReqs, 1))})
		case MpxsConns:
			v := "0"
			if c.srv.MultiplexConns {
				v = "1"
			}
			out = append(out, Pair{p.Name, v})
		}
	}
	body := EncodePairs(out)
	if len(body) > MaxContent {
		return protoErr(off, h.Type, ErrTooLarge, "GET_VALUES asks for more than one record can answer")
	}
	if c.srv.SplitValuesResult != nil && len(body) > 1 && c.srv.SplitValuesResult() {
		// A deliberate violation: a management record is one record.
		return c.write(func() error {
			if err := c.w.WriteRecord(TypeGetValuesResult, 0, body[:len(body)/2]); err != nil {
				return err
			}
			return c.w.WriteRecord(TypeGetValuesResult, 0, body[len(body)/2:])
		})
	}
	return c.write(func() error { return c.w.WriteRecord(TypeGetValuesResult, 0, body) })
}

func (c *serverConn) begin(rec Record, off int64) error {
	h := rec.Header
	br, err := DecodeBeginRequest(rec.Content)
	if err != nil {
		return badBody(off, h.Type, err)
	}
	c.mu.Lock()
	_, dup := c.reqs[h.RequestID]
	busy := len(c.reqs) > 0
	c.mu.Unlock()
	if dup {
		return protoErr(off, h.Type, ErrRequestID, "request id %d is already in flight", h.RequestID)
	}
	req := ServerRequest{
		ID: h.RequestID, Role: br.Role, Flags: br.Flags, ConnID: c.id,
		LocalAddr: c.nc.LocalAddr(), RemoteAddr: c.nc.RemoteAddr(),
	}
	refuse := func(ps ProtocolStatus, why RefuseReason) error { return c.refuse(&req, ps, why, busy) }
	switch {
	case busy && !c.srv.MultiplexConns:
		return refuse(CantMpxConn, RefusedMpx)
	case br.Role < RoleResponder || br.Role > RoleFilter, c.srv.RefuseRole != nil && c.srv.RefuseRole(br.Role):
		return refuse(UnknownRole, RefusedRole)
	case c.overLimit:
		return refuse(Overloaded, RefusedMaxConns)
	}
	if !c.srv.takeSlot() {
		return refuse(Overloaded, RefusedMaxReqs)
	}
	c.mu.Lock()
	c.reqs[h.RequestID] = &serverReq{req: req}
	c.mu.Unlock()
	return nil
}

// refuse ends request r at once with protocol status ps, after telling
// OnRefuse why, and closes the connection after it when the client did not
// ask to keep it and no other request is in flight on it.
func (c *serverConn) refuse(r *ServerRequest, ps ProtocolStatus, why RefuseReason, busy bool) error {
	if c.srv.OnRefuse != nil {
		c.srv.OnRefuse(r, ps, why)
	}
	if err := c.endRequest(r.ID, 0, ps); err != nil {
		return err
	}
	if !r.KeepConn() && !busy {
		c.closeAfterResponse()
	}
	return nil
}

// start decodes the params and runs the handler in its own goroutine.
func (c *serverConn) start(r *serverReq, off int64) error {
	pairs, err := DecodePairs(r.params, 0)
	if err != nil {
		var pe *ProtocolError
		if errors.As(err, &pe) {
			pe.RecordType = TypeParams
			pe.Reason = fmt.Sprintf("%s (offset %d of the PARAMS stream ending at byte %d)", pe.Reason, pe.Offset, off)
			pe.Offset = off
		}
		return err
	}
	// Shutdown waits for the handlers running when it began: once it has
	// begun, a request is refused rather than started (nor is the count
	// Shutdown waits on added to while it waits).
	if !c.srv.startHandler() {
		c.mu.Lock()
		delete(c.reqs, r.req.ID)
		busy := len(c.reqs) > 0
		c.mu.Unlock()
		c.srv.active.Add(-1)
		r.req.Params, r.req.ParamsBytes = pairs, len(r.params)
		return c.refuse(&r.req, Overloaded, RefusedShutdown, busy)
	}
	r.paramsDone = true
	r.req.Params = pairs
	r.req.ParamsBytes = len(r.params)
	r.params = nil
	stdinR, stdinW := io.Pipe()
	dataR, dataW := io.Pipe()
	r.stdin, r.data = stdinW, dataW
	r.req.Stdin, r.req.Data = stdinR, dataR
	if r.req.Role == RoleAuthorizer {
		// Authorizers get no stdin stream; tolerate an empty one anyway.
		stdinW.Close()
	}
	if r.req.Role != RoleFilter {
		dataW.Close()
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go c.run(ctx, r, stdinR, dataR)
	return nil
}

func (c *serverConn) run(ctx context.Context, r *serverReq, stdinR, dataR *io.PipeReader) {
	defer c.srv.inflight.Done()
	w := &ResponseWriter{c: c, id: r.req.ID}
	w.stdout.init(w, TypeStdout)
	w.stderr.init(w, TypeStderr)
	if c.srv.Handler != nil {
		c.srv.Handler.ServeFCGI(ctx, w, &r.req)
	}
	r.cancel()
	stdinR.CloseWithError(errHandlerDone)
	dataR.CloseWithError(errHandlerDone)
	var err error
	if w.abandoned {
		err = errAbandoned
	} else {
		err = w.stdout.close()
		if err == nil && w.stderr.used {
			err = w.stderr.close()
		}
	}
	// A request without FCGI_KEEP_CONN closes the connection after its
	// response, but not under the other requests multiplexed on it: then
	// the last of them to end closes it.
	c.mu.Lock()
	delete(c.reqs, r.req.ID)
	c.closeIdle = c.closeIdle || !r.req.KeepConn()
	closeNow := c.closeIdle && len(c.reqs) == 0
	c.mu.Unlock()
	// Free the slot before END_REQUEST: the client may send its next
	// request as soon as it reads it.
	c.srv.active.Add(-1)
	if err == nil {
		err = c.endRequest(r.req.ID, w.appStatus, w.protocolStatus)
	}
	if err != nil {
		c.closing.Store(true)
		c.nc.Close()
	} else if closeNow {
		c.closeAfterResponse()
	}
}

// lingerTimeout bounds how long a connection whose last response is sent
// goes on draining the client's input before it is closed.
const lingerTimeout = 5 * time.Second

// closeAfterResponse ends a connection whose last response is written. It
// sends FIN at once, then lets serve read and discard what the client is
// still sending until the client closes or lingerTimeout passes. Closing
// with input unread would make the kernel reset the connection and drop
// response bytes it has not sent yet.
func (c *serverConn) closeAfterResponse() {
	c.closing.Store(true)
	cw, ok := c.nc.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		c.nc.Close()
		return
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(lingerTimeout))
}

var (
	errHandlerDone = errors.New("handler returned")
	errAbandoned   = errors.New("response abandoned")
)

// ResponseWriter is a handler's side of the response.
type ResponseWriter struct {
	c              *serverConn
	id             uint16
	stdout         streamWriter
	stderr         streamWriter
	appStatus      uint32
	protocolStatus ProtocolStatus
	abandoned      bool
}

// Stdout returns the FCGI_STDOUT stream (the CGI response).
func (w *ResponseWriter) Stdout() io.Writer { return &w.stdout }

// Stderr returns the FCGI_STDERR stream.
func (w *ResponseWriter) Stderr() io.Writer { return &w.stderr }

// SetAppStatus sets the appStatus of FCGI_END_REQUEST.
func (w *ResponseWriter) SetAppStatus(s uint32) { w.appStatus = s }

// SetProtocolStatus sets the protocolStatus of FCGI_END_REQUEST, so a
// handler can answer OVERLOADED, say, after reading the request.
func (w *ResponseWriter) SetProtocolStatus(s ProtocolStatus) { w.protocolStatus = s }

// WriteRaw writes bytes to the connection as they are, between records of
// other requests, for handlers that inject faults (a record of another
// request id, a bad version byte, a response trickled byte by byte). Flush
// the streams first if their order matters.
func (w *ResponseWriter) WriteRaw(b []byte) error {
	return w.c.write(func() error {
		_, err := w.c.w.bw.Write(b)
		return err
	})
}

// Abandon makes the server close the connection when the handler returns,
// without closing the streams or sending FCGI_END_REQUEST: a handler's way
// to fail as a crashing application would.
func (w *ResponseWriter) Abandon() { w.abandoned = true }

// Flush sends what Stdout and Stderr hold so far.
func (w *ResponseWriter) Flush() error {
	if err := w.stdout.flush(); err != nil {
		return err
	}
	return w.stderr.flush()
}

// streamWriter buffers a stream and sends it in records of at most
// MaxContent bytes.
type streamWriter struct {
	w    *ResponseWriter
	t    RecordType
	buf  []byte
	used bool
}

func (s *streamWriter) init(w *ResponseWriter, t RecordType) { s.w, s.t = w, t }

func (s *streamWriter) Write(p []byte) (int, error) {
	s.used = true
	n := 0
	for len(p) > 0 {
		if s.buf == nil {
			s.buf = make([]byte, 0, MaxContent)
		}
		k := min(len(p), MaxContent-len(s.buf))
		s.buf = append(s.buf, p[:k]...)
		p = p[k:]
		n += k
		if len(s.buf) == MaxContent {
			if err := s.flush(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

func (s *streamWriter) flush() error {
	if len(s.buf) == 0 {
		return nil
	}
	c := s.w.c
	err := c.write(func() error { return c.w.WriteRecord(s.t, s.w.id, s.buf) })
	s.buf = s.buf[:0]
	return err
}

func (s *streamWriter) close() error {
	if err := s.flush(); err != nil {
		return err
	}
	c := s.w.c
	return c.write(func() error { return c.w.WriteRecord(s.t, s.w.id, nil) })
}
