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

// DefaultMaxBufferedBytes bounds what a Server holds for one connection's
// requests, unless Server.MaxBufferedBytes says otherwise (see there).
const DefaultMaxBufferedBytes = 4 << 20

// streamWindow is how much of one STDIN or DATA stream a connection takes
// in ahead of its handler before it waits for the handler to read.
const streamWindow = 64 << 10

// ErrStalled wraps the error a Server hands OnError when it cuts a
// connection that stalled past Server.ReadTimeout.
var ErrStalled = errors.New("stalled past the read timeout")

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
	// RefusedConnReqs: the connection already had MaxConnReqs requests
	// in flight. OVERLOADED.
	RefusedConnReqs
	// RefusedBuffer: its PARAMS would have taken the unfinished PARAMS
	// streams held for the connection past MaxBufferedBytes. OVERLOADED.
	RefusedBuffer
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
	case RefusedConnReqs:
		return "too many requests on the connection"
	case RefusedBuffer:
		return "too many unfinished params on the connection"
	}
	return "reason " + strconv.Itoa(int(r))
}

// Server answers FastCGI requests on the connections it accepts: it
// multiplexes when MultiplexConns is set, answers FCGI_GET_VALUES, and
// replies FCGI_UNKNOWN_TYPE to management records it does not know (but
// never to an FCGI_UNKNOWN_TYPE or FCGI_GET_VALUES_RESULT: two peers doing
// that would answer each other forever). The
// requests it refuses (CANT_MPX_CONN, UNKNOWN_ROLE, OVERLOADED), and those
// aborted before their params ended, never reach Handler; OnRefuse hears
// of them.
type Server struct {
	Handler Handler
	// Values reported for FCGI_MAX_CONNS and FCGI_MAX_REQS (0 reports 1).
	// Both are enforced when set: a request beyond MaxReqs at once, or on
	// a connection beyond MaxConns open at once, gets OVERLOADED. When a
	// connection comes past MaxConns and some open connection has no
	// request in flight, the one idle the longest is closed to make room
	// instead.
	MaxConns int
	MaxReqs  int
	// MaxConnReqs bounds the requests in flight at once on one
	// multiplexed connection; past it a request gets OVERLOADED. 0: what
	// FCGI_MAX_REQS reports when MaxReqs is set, else no bound but the
	// request ids.
	MaxConnReqs int
	// ReadTimeout, when set, cuts a connection whose client stalls while
	// it owes input: a record not whole that long after its first byte
	// came, or no record for that long while a request's PARAMS, STDIN or
	// DATA stream has not ended. It also bounds how long the connection
	// waits for a handler to read the input it holds for it (see
	// MaxBufferedBytes). OnError hears of the cut (ErrStalled). 0: none.
	ReadTimeout time.Duration
	// IdleTimeout, when set, closes a connection that has had no request
	// in flight and no record begun for that long. 0: none.
	IdleTimeout time.Duration
	// MaxBufferedBytes bounds what a connection holds for requests that
	// cannot take it yet (0: DefaultMaxBufferedBytes): the PARAMS of
	// requests whose PARAMS stream has not ended (a request that would
	// pass it is answered OVERLOADED), and FCGI_DATA or FCGI_STDIN that
	// arrives while the handler waits on the request's other stream (a
	// FILTER's DATA before its STDIN ends: past the bound, both streams
	// fail for the handler with an error wrapping ErrTooLarge). Besides
	// it, each stream holds up to 64 KiB for a handler that has not read
	// it; past that the connection waits for the handler, up to
	// ReadTimeout.
	MaxBufferedBytes int
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
		// A connection waiting for a handler to read its input is not
		// reading the socket: wake it.
		c.wakeStreams()
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

// connReqLimit is the most requests in flight at once on one connection,
// 0 for no bound.
func (s *Server) connReqLimit() int {
	switch {
	case !s.MultiplexConns:
		return 1
	case s.MaxConnReqs > 0:
		return s.MaxConnReqs
	}
	return max(s.MaxReqs, 0)
}

func (s *Server) maxBuffered() int64 {
	if s.MaxBufferedBytes > 0 {
		return int64(s.MaxBufferedBytes)
	}
	return DefaultMaxBufferedBytes
}

// ServeConn serves one connection until the client closes it, a request
// without FCGI_KEEP_CONN ends, the client sends malformed records or
// stalls (ReadTimeout), or it idles (IdleTimeout).
func (s *Server) ServeConn(nc net.Conn) {
	c := &serverConn{srv: s, nc: nc, id: s.nextConn.Add(1), w: NewWriter(nc), reqs: map[uint16]*serverReq{}}
	c.r = NewReader(connReader{c})
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
	if s.MaxConns > 0 {
		c.overLimit = s.makeRoom()
	}
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

// makeRoom is called, with s.mu held, for a connection about to join
// s.conns. When MaxConns connections are open it closes the one idle the
// longest, if any is idle, and reports whether the new one is still over
// the limit.
func (s *Server) makeRoom() bool {
	open := 0
	var idlest *serverConn
	var since time.Time
	for oc := range s.conns {
		if oc.closing.Load() {
			continue // on its way out: it no longer counts
		}
		open++
		if t := oc.idleSince(); !t.IsZero() && (idlest == nil || t.Before(since)) {
			idlest, since = oc, t
		}
	}
	if open >= s.MaxConns && idlest != nil && idlest.giveWay() {
		open--
	}
	return open >= s.MaxConns
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
	// held counts the bytes held for requests: unfinished PARAMS and
	// STDIN and DATA not yet read by the handlers.
	held atomic.Int64

	// Read deadlines. got, recStart, recDeadline and dlKind belong to
	// the connection's goroutine; dlMu orders setting a deadline with
	// the lingering close, and guards idle.
	dlMu        sync.Mutex
	got         int64     // bytes read from the socket
	recStart    int64     // stream offset of the record being read
	recDeadline time.Time // when the record being read must be whole
	dlKind      deadlineKind
	idle        time.Time // since when the connection idles; zero when not
}

// deadlineKind says which deadline a connection's read is under.
type deadlineKind uint8

const (
	dlNone deadlineKind = iota
	dlIdle
	dlRecord
	dlRequest
)

// connReader is what a connection's Reader reads the socket through: each
// read is under the deadline the connection's state calls for.
type connReader struct{ c *serverConn }

func (cr connReader) Read(p []byte) (int, error) {
	c := cr.c
	c.armDeadline()
	n, err := c.nc.Read(p)
	if n > 0 {
		c.dlMu.Lock()
		if c.got == c.recStart && c.srv.ReadTimeout > 0 {
			c.recDeadline = time.Now().Add(c.srv.ReadTimeout)
		}
		c.got += int64(n)
		c.idle = time.Time{}
		c.dlMu.Unlock()
	}
	return n, err
}

// armDeadline sets the read deadline: mid-record, ReadTimeout from the
// record's first byte; between records, IdleTimeout when no request is in
// flight, ReadTimeout when one still owes input, else none. A connection
// that is closing keeps the deadline its close set.
func (c *serverConn) armDeadline() {
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
	if c.closing.Load() {
		return
	}
	s := c.srv
	now := time.Now()
	var d time.Time
	kind := dlNone
	switch {
	case c.got > c.recStart:
		if s.ReadTimeout > 0 {
			d, kind = c.recDeadline, dlRecord
		}
	default:
		inFlight, owing := c.requestState()
		switch {
		case !inFlight:
			if c.idle.IsZero() {
				c.idle = now
			}
			if s.IdleTimeout > 0 {
				d, kind = c.idle.Add(s.IdleTimeout), dlIdle
			}
		case owing && s.ReadTimeout > 0:
			d, kind = now.Add(s.ReadTimeout), dlRequest
		}
	}
	c.dlKind = kind
	_ = c.nc.SetReadDeadline(d)
}

// requestState says whether requests are in flight, and whether one of
// them still owes input (its PARAMS, STDIN or DATA stream has not ended).
func (c *serverConn) requestState() (inFlight, owing bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.reqs {
		if !r.paramsDone || r.in.owing() {
			return true, true
		}
	}
	return len(c.reqs) > 0, false
}

// idleSince returns since when the connection idles, or zero.
func (c *serverConn) idleSince() time.Time {
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
	return c.idle
}

// giveWay closes the connection, as the end of a last response does, if
// it still idles.
func (c *serverConn) giveWay() bool {
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
	if c.idle.IsZero() || c.closing.Load() {
		return false
	}
	c.lingerLocked()
	return true
}

type serverReq struct {
	req        ServerRequest
	params     []byte
	paramsDone bool
	in         *input
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
			c.held.Add(-int64(len(r.params)))
		}
		r.in.fail(io.ErrUnexpectedEOF)
	}
	c.mu.Unlock()
}

// wakeStreams makes the connection's goroutine stop waiting for a handler
// to read.
func (c *serverConn) wakeStreams() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.reqs {
		r.in.wake()
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

// readRecord reads the next record under the deadlines. At an idle
// deadline it closes the connection as the end of a last response does;
// at a read deadline it returns an error wrapping ErrStalled.
func (c *serverConn) readRecord() (Record, error) {
	c.dlMu.Lock()
	c.recStart = c.r.Offset()
	if c.got > c.recStart && c.srv.ReadTimeout > 0 {
		// Already begun while the connection was busy: from now.
		c.recDeadline = time.Now().Add(c.srv.ReadTimeout)
	}
	c.dlMu.Unlock()
	rec, err := c.r.ReadRecord()
	var ne net.Error
	if err == nil || c.closing.Load() || !errors.As(err, &ne) || !ne.Timeout() {
		return rec, err
	}
	c.dlMu.Lock()
	kind := c.dlKind
	c.dlMu.Unlock()
	switch kind {
	case dlIdle:
		// Idle too long: close as after a last response, reading on
		// (and dropping) what the client may have sent meanwhile.
		c.closeAfterResponse()
		return c.readRecord()
	case dlRecord:
		return rec, fmt.Errorf("%w: a record not whole %s after its first byte, at byte %d", ErrStalled, c.srv.ReadTimeout, c.recStart)
	case dlRequest:
		return rec, fmt.Errorf("%w: no record for %s while a request's input had not ended", ErrStalled, c.srv.ReadTimeout)
	}
	return rec, err
}

func (c *serverConn) serve() error {
	for {
		rec, err := c.readRecord()
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
			if c.held.Load()+int64(len(rec.Content)) > c.srv.maxBuffered() {
				if err := c.refuseBegun(r, RefusedBuffer); err != nil {
					return err
				}
				continue
			}
			r.params = append(r.params, rec.Content...)
			c.held.Add(int64(len(rec.Content)))
		case TypeStdin, TypeData:
			if r == nil {
				continue
			}
			if !r.paramsDone {
				return protoErr(off, h.Type, ErrUnexpectedType, "%s before the PARAMS stream ended", h.Type)
			}
			s := &r.in.s[0]
			if h.Type == TypeData {
				s = &r.in.s[1]
			}
			if len(rec.Content) == 0 {
				s.end()
				continue
			}
			if err := s.put(rec.Content, c); err != nil {
				var pe *ProtocolError
				if !errors.As(err, &pe) {
					return err
				}
				// That request fails; the connection goes on.
				pe.Offset, pe.RecordType = off, h.Type
				r.cancel()
				r.in.fail(pe)
			}
		case TypeAbortRequest:
			if r == nil {
				continue
			}
			if r.cancel != nil {
				r.cancel()
				r.in.fail(ErrAborted)
				continue
			}
			// Aborted before the handler started: end it at once.
			c.mu.Lock()
			delete(c.reqs, h.RequestID)
			c.mu.Unlock()
			c.srv.active.Add(-1)
			c.held.Add(-int64(len(r.params)))
			if c.srv.OnRefuse != nil {
				c.srv.OnRefuse(&r.req, RequestComplete, RefusedAborted)
			}
			if err := c.endRequest(h.RequestID, 0, RequestComplete); err != nil {
				return err
			}
			// As when a handler ends: without FCGI_KEEP_CONN the
			// connection closes, cleanly, once no request is left.
			if c.ended(h.RequestID, r.req.KeepConn()) {
				c.closeAfterResponse()
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

// ended forgets request id, accepted on the connection and now ended, and
// reports whether the connection is to close now: a request without
// FCGI_KEEP_CONN closes it, but not under the other requests multiplexed
// on it: then the last of them to end closes it.
func (c *serverConn) ended(id uint16, keepConn bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.reqs, id)
	c.closeIdle = c.closeIdle || !keepConn
	return c.closeIdle && len(c.reqs) == 0
}

func (c *serverConn) maxParams() int {
	if c.srv.MaxParamsBytes > 0 {
		return c.srv.MaxParamsBytes
	}
	return DefaultMaxParamsBytes
}

func (c *serverConn) management(rec Record, off int64) error {
	h := rec.Header
	switch h.Type {
	case TypeGetValues:
	case TypeUnknownType, TypeGetValuesResult:
		// Answers, not questions: answering them could loop with a peer
		// that answers UNKNOWN_TYPE in turn.
		return nil
	default:
		return c.write(func() error { return c.w.WriteRecord(TypeUnknownType, 0, UnknownTypeBody(h.Type)) })
	}
	asked, err := DecodePairs(rec.Content, off+HeaderLen)
	if err != nil {
		return err
	}
	// Only the names it knows, each once: the answer fits one record
	// however many names are asked.
	var out []Pair
	seen := map[string]bool{}
	for _, p := range asked {
		if seen[p.Name] {
			continue
		}
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
		default:
			continue
		}
		seen[p.Name] = true
	}
	body := EncodePairs(out)
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
	n := len(c.reqs)
	c.mu.Unlock()
	if dup {
		return protoErr(off, h.Type, ErrRequestID, "request id %d is already in flight", h.RequestID)
	}
	busy := n > 0
	req := ServerRequest{
		ID: h.RequestID, Role: br.Role, Flags: br.Flags, ConnID: c.id,
		LocalAddr: c.nc.LocalAddr(), RemoteAddr: c.nc.RemoteAddr(),
	}
	refuse := func(ps ProtocolStatus, why RefuseReason) error { return c.refuse(&req, ps, why, busy) }
	limit := c.srv.connReqLimit()
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
	if limit > 0 && n >= limit {
		c.srv.active.Add(-1)
		return refuse(Overloaded, RefusedConnReqs)
	}
	c.mu.Lock()
	c.reqs[h.RequestID] = &serverReq{req: req, in: newInput(c, h.RequestID)}
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

// refuseBegun refuses a request begun but not started (its PARAMS stream
// has not ended): it is forgotten, its slot freed, and it is answered
// OVERLOADED; the records still coming for it are dropped.
func (c *serverConn) refuseBegun(r *serverReq, why RefuseReason) error {
	c.mu.Lock()
	delete(c.reqs, r.req.ID)
	busy := len(c.reqs) > 0
	c.mu.Unlock()
	c.srv.active.Add(-1)
	c.held.Add(-int64(len(r.params)))
	r.params = nil
	return c.refuse(&r.req, Overloaded, why, busy)
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
		r.req.Params, r.req.ParamsBytes = pairs, len(r.params)
		return c.refuseBegun(r, RefusedShutdown)
	}
	c.held.Add(-int64(len(r.params)))
	r.paramsDone = true
	r.req.Params = pairs
	r.req.ParamsBytes = len(r.params)
	r.params = nil
	r.req.Stdin, r.req.Data = &r.in.s[0], &r.in.s[1]
	if r.req.Role == RoleAuthorizer {
		// Authorizers get no stdin stream; tolerate an empty one anyway.
		r.in.s[0].end()
	}
	if r.req.Role != RoleFilter {
		r.in.s[1].end()
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go c.run(ctx, r)
	return nil
}

func (c *serverConn) run(ctx context.Context, r *serverReq) {
	defer c.srv.inflight.Done()
	w := &ResponseWriter{c: c, id: r.req.ID}
	w.stdout.init(w, TypeStdout)
	w.stderr.init(w, TypeStderr)
	if c.srv.Handler != nil {
		c.srv.Handler.ServeFCGI(ctx, w, &r.req)
	}
	r.cancel()
	r.in.handlerDone()
	var err error
	if w.abandoned {
		err = errAbandoned
	} else {
		err = w.stdout.close()
		if err == nil && w.stderr.used {
			err = w.stderr.close()
		}
	}
	closeNow := c.ended(r.req.ID, r.req.KeepConn())
	// Free the slot, and count the connection idle if it now is, before
	// END_REQUEST: the client may go on as soon as it reads it.
	c.srv.active.Add(-1)
	if err == nil && !closeNow {
		c.armIdle()
	}
	if err == nil {
		err = c.endRequest(r.req.ID, w.appStatus, w.protocolStatus)
	}
	switch {
	case err != nil:
		c.closing.Store(true)
		c.nc.Close()
	case closeNow:
		c.closeAfterResponse()
	}
}

// armIdle puts the read the connection's goroutine is blocked in, armed
// while requests were in flight, under the idle deadline once none is
// left.
func (c *serverConn) armIdle() {
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
	if c.closing.Load() || c.got > c.recStart {
		return
	}
	if inFlight, _ := c.requestState(); inFlight {
		return
	}
	if c.idle.IsZero() {
		c.idle = time.Now()
	}
	if c.srv.IdleTimeout > 0 {
		c.dlKind = dlIdle
		_ = c.nc.SetReadDeadline(c.idle.Add(c.srv.IdleTimeout))
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
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
	c.lingerLocked()
}

// lingerLocked is closeAfterResponse with c.dlMu held.
func (c *serverConn) lingerLocked() {
	if c.closing.Swap(true) {
		return
	}
	cw, ok := c.nc.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		c.nc.Close()
		return
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(lingerTimeout))
}

// input carries a request's STDIN and DATA streams from the connection's
// goroutine, which puts what arrives, to the handler, which reads. It
// never makes the connection wait on a stream the handler is not reading:
// while the handler waits on one stream, what arrives on the other is
// held (within MaxBufferedBytes for the connection), so a FILTER whose
// DATA comes before its STDIN ends cannot stop the connection.
type input struct {
	c    *serverConn
	id   uint16
	mu   sync.Mutex
	cond sync.Cond
	s    [2]inStream // STDIN, DATA
	// gone: the handler returned; what arrives is dropped. woken: the
	// connection is being closed; stop waiting.
	gone, woken bool
}

// inStream is one input stream: an io.Reader for the handler.
type inStream struct {
	in      *input
	i       int
	buf     []byte
	err     error // what Read returns once buf is empty; io.EOF at the end
	waiting bool  // the handler is blocked reading it
}

func newInput(c *serverConn, id uint16) *input {
	in := &input{c: c, id: id}
	in.cond.L = &in.mu
	in.s[0] = inStream{in: in, i: 0}
	in.s[1] = inStream{in: in, i: 1}
	return in
}

// Read reads what has arrived of the stream, waiting for more.
func (s *inStream) Read(p []byte) (int, error) {
	in := s.in
	in.mu.Lock()
	defer in.mu.Unlock()
	for len(s.buf) == 0 && s.err == nil {
		s.waiting = true
		in.cond.Broadcast() // the connection may be waiting for this
		in.cond.Wait()
	}
	s.waiting = false
	if len(s.buf) == 0 {
		return 0, s.err
	}
	n := copy(p, s.buf)
	s.buf = s.buf[n:]
	if len(s.buf) == 0 {
		s.buf = nil
	}
	in.c.held.Add(-int64(n))
	in.cond.Broadcast()
	return n, nil
}

// put hands b to the handler. Past streamWindow bytes unread it waits for
// the handler to read, unless the handler waits on the other stream: then
// it holds b if the connection's MaxBufferedBytes allows, else returns a
// *ProtocolError wrapping ErrTooLarge. A handler that reads none of it for
// ReadTimeout gives an error wrapping ErrStalled. Once the handler has
// returned, or the stream has failed, b is dropped.
func (s *inStream) put(b []byte, c *serverConn) error {
	in := s.in
	in.mu.Lock()
	defer in.mu.Unlock()
	other := &in.s[1-s.i]
	var timer *time.Timer
	timedOut := false
	for !in.gone && !in.woken && s.err == nil && len(s.buf) >= streamWindow && !other.waiting && !timedOut {
		if timer == nil && c.srv.ReadTimeout > 0 {
			timer = time.AfterFunc(c.srv.ReadTimeout, func() {
				in.mu.Lock()
				timedOut = true
				in.cond.Broadcast()
				in.mu.Unlock()
			})
		}
		in.cond.Wait()
	}
	if timer != nil {
		timer.Stop()
	}
	switch {
	case in.gone || in.woken || s.err != nil:
		return nil
	case timedOut:
		return fmt.Errorf("%w: request %d's handler read none of its %s for %s", ErrStalled, in.id, s.name(), c.srv.ReadTimeout)
	case len(s.buf) >= streamWindow && c.held.Load()+int64(len(b)) > c.srv.maxBuffered():
		return &ProtocolError{Err: ErrTooLarge, Reason: fmt.Sprintf("%s ran %d bytes ahead of the %s its handler reads first, past the %d bytes a connection holds (MaxBufferedBytes)",
			s.name(), len(s.buf), other.name(), c.srv.maxBuffered())}
	}
	s.buf = append(s.buf, b...)
	c.held.Add(int64(len(b)))
	in.cond.Broadcast()
	return nil
}

func (s *inStream) name() string {
	if s.i == 0 {
		return "FCGI_STDIN"
	}
	return "FCGI_DATA"
}

// end marks the end of the stream: Read returns io.EOF after the rest.
func (s *inStream) end() {
	s.in.mu.Lock()
	defer s.in.mu.Unlock()
	if s.err == nil {
		s.err = io.EOF
	}
	s.in.cond.Broadcast()
}

// owing reports whether a stream has not ended (the connection's
// goroutine only: it alone ends them, but for fail, whose error also
// counts as an end).
func (in *input) owing() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return !in.gone && (in.s[0].err == nil || in.s[1].err == nil)
}

// fail makes the streams that have not ended fail with err, dropping
// what they hold. One that ended keeps its end and what is left of it.
func (in *input) fail(err error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for i := range in.s {
		s := &in.s[i]
		if s.err != nil {
			continue
		}
		s.err = err
		in.c.held.Add(-int64(len(s.buf)))
		s.buf = nil
	}
	in.cond.Broadcast()
}

// handlerDone drops what the streams hold: nobody will read it.
func (in *input) handlerDone() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.gone = true
	for i := range in.s {
		s := &in.s[i]
		in.c.held.Add(-int64(len(s.buf)))
		s.buf = nil
	}
	in.cond.Broadcast()
}

// wake stops the connection's goroutine waiting in put.
func (in *input) wake() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.woken = true
	in.cond.Broadcast()
}

var errAbandoned = errors.New("response abandoned")

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
