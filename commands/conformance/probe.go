package conformance

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
)

// probe is what a case works with: connections to the server, bounded by
// the case's deadline, and the log of the records.
type probe struct {
	ctx      context.Context
	dialer   Dial
	opts     Options
	deadline time.Time
	log      *wireLog
	conns    []*pconn
}

func (p *probe) closeAll() {
	for _, c := range p.conns {
		c.stop()
		c.nc.Close()
	}
}

// timeout is the case timeout as the details say it: "2s".
func (p *probe) timeout() string { return p.opts.CaseTimeout.String() }

// quiet is how long a case waits to see that nothing more comes.
func (p *probe) quiet() time.Duration {
	return min(p.opts.CaseTimeout/5, 200*time.Millisecond)
}

// pconn is one connection of a case.
type pconn struct {
	p       *probe
	nc      net.Conn
	w       *fcgiwire.Writer
	r       *fcgiwire.Reader
	sendErr error       // the first failed write
	stop    func() bool // ends the watch on the command's context
}

// dial opens a connection for the case.
func (p *probe) dial() (*pconn, error) {
	ctx, cancel := context.WithDeadline(p.ctx, p.deadline)
	defer cancel()
	nc, err := p.dialer(ctx)
	if err != nil {
		return nil, err
	}
	_ = nc.SetDeadline(p.deadline)
	c := &pconn{p: p, nc: nc, w: fcgiwire.NewWriter(nc), r: fcgiwire.NewReader(nc)}
	c.stop = context.AfterFunc(p.ctx, func() { _ = nc.SetDeadline(time.Now()) })
	o := p.log.observer(len(p.conns) + 1)
	c.w.Observe, c.r.Observe = o, o
	p.conns = append(p.conns, c)
	return c, nil
}

// dialFail is the verdict of a case whose connection failed.
func dialFail(err error) verdict {
	return failf("cannot connect for this case: %v", err)
}

// send runs f on the writer and flushes; the first failure is kept, and
// later sends do nothing.
func (c *pconn) send(f func(w *fcgiwire.Writer) error) {
	if c.sendErr != nil {
		return
	}
	err := f(c.w)
	if err == nil {
		err = c.w.Flush()
	}
	if err != nil {
		c.sendErr = err
	}
}

var zeroPadding [fcgiwire.MaxPadding]byte

// raw writes one record with the given version and padding.
func raw(w *fcgiwire.Writer, version uint8, t fcgiwire.RecordType, id uint16, content []byte, pad int) error {
	h := fcgiwire.Header{Version: version, Type: t, RequestID: id, ContentLength: uint16(len(content)), PaddingLength: uint8(pad)}
	return w.WriteRawRecord(h, content, zeroPadding[:pad])
}

// reqSpec is a request as a case sends it.
type reqSpec struct {
	id        uint16
	role      fcgiwire.Role
	keep      bool
	params    []fcgiwire.Pair
	paramRecs [][]byte // PARAMS bodies as given, instead of params
	stdin     []byte
	chunk     int // STDIN record size (0: one record)
	pad       int // STDIN padding (-1: none; 0: to a multiple of 8)
	data      []byte
	version   uint8 // 0 means 1
	noStdin   bool  // stop after the PARAMS stream
}

// writeRequest sends BEGIN_REQUEST, the PARAMS stream, and STDIN (and
// DATA for a filter), each stream closed by its empty record.
func (c *pconn) writeRequest(s reqSpec) {
	v := s.version
	if v == 0 {
		v = fcgiwire.Version1
	}
	var flags uint8
	if s.keep {
		flags = fcgiwire.FlagKeepConn
	}
	c.send(func(w *fcgiwire.Writer) error {
		if err := raw(w, v, fcgiwire.TypeBeginRequest, s.id, fcgiwire.BeginRequest{Role: s.role, Flags: flags}.Encode(), 0); err != nil {
			return err
		}
		bodies := s.paramRecs
		if bodies == nil {
			var err error
			if bodies, err = fcgiwire.SplitPairs(s.params); err != nil {
				return err
			}
		}
		for _, b := range bodies {
			if err := raw(w, v, fcgiwire.TypeParams, s.id, b, streamPad(len(b), 0)); err != nil {
				return err
			}
		}
		if err := raw(w, v, fcgiwire.TypeParams, s.id, nil, 0); err != nil {
			return err
		}
		if s.noStdin {
			return nil
		}
		if err := writeStreamRecords(w, v, fcgiwire.TypeStdin, s.id, s.stdin, s.chunk, s.pad); err != nil {
			return err
		}
		if s.role == fcgiwire.RoleFilter {
			return writeStreamRecords(w, v, fcgiwire.TypeData, s.id, s.data, 0, 0)
		}
		return nil
	})
}

// streamPad is the padding of a record of n content bytes: pad when
// positive, none when negative, else to a multiple of 8 unless that passes
// 65535 bytes.
func streamPad(n, pad int) int {
	switch {
	case pad > 0:
		return pad
	case pad < 0:
		return 0
	}
	if p := fcgiwire.PaddingFor(n); n+p <= fcgiwire.MaxContent {
		return p
	}
	return 0
}

// writeStreamRecords writes b as records of chunk bytes (0: as large as
// allowed) and the empty record that closes the stream.
func writeStreamRecords(w *fcgiwire.Writer, v uint8, t fcgiwire.RecordType, id uint16, b []byte, chunk, pad int) error {
	if chunk <= 0 {
		chunk = fcgiwire.MaxContent
	}
	for len(b) > 0 {
		n := min(chunk, len(b))
		if pad > 0 {
			n = min(n, fcgiwire.MaxContent-pad)
		}
		if err := raw(w, v, t, id, b[:n], streamPad(n, pad)); err != nil {
			return err
		}
		b = b[n:]
	}
	return raw(w, v, t, id, nil, 0)
}

// response is what came back for the requests a case waits on.
type response struct {
	recs   []fcgiwire.Record // every record read, content copied
	ends   map[uint16][]fcgiwire.EndRequest
	err    error // what stopped the read early; nil when every request ended
	stdout map[uint16]int
}

// end returns the END_REQUEST of id, if one came.
func (r *response) end(id uint16) (fcgiwire.EndRequest, bool) {
	e := r.ends[id]
	if len(e) == 0 {
		return fcgiwire.EndRequest{}, false
	}
	return e[0], true
}

// read reads one record, copying its content.
func (c *pconn) read() (fcgiwire.Record, error) {
	rec, err := c.r.ReadRecord()
	if err != nil {
		return rec, err
	}
	rec.Content = append([]byte(nil), rec.Content...)
	return rec, nil
}

// collect reads until every id has its END_REQUEST, the connection fails
// or the case's deadline passes.
func (c *pconn) collect(ids ...uint16) *response {
	resp := &response{ends: map[uint16][]fcgiwire.EndRequest{}, stdout: map[uint16]int{}}
	for bound := 0; bound < 1<<20; bound++ {
		done := true
		for _, id := range ids {
			if len(resp.ends[id]) == 0 {
				done = false
			}
		}
		if done {
			return resp
		}
		rec, err := c.read()
		if err != nil {
			resp.err = err
			c.p.log.note(c.p.describeErr(err))
			return resp
		}
		resp.recs = append(resp.recs, rec)
		c.account(resp, rec)
	}
	resp.err = errors.New("too many records")
	return resp
}

func (c *pconn) account(resp *response, rec fcgiwire.Record) {
	switch rec.Type {
	case fcgiwire.TypeEndRequest:
		if er, err := fcgiwire.DecodeEndRequest(rec.Content); err == nil {
			resp.ends[rec.RequestID] = append(resp.ends[rec.RequestID], er)
		}
	case fcgiwire.TypeStdout:
		resp.stdout[rec.RequestID] += len(rec.Content)
	}
}

// describeErr says in words why a read stopped.
func (p *probe) describeErr(err error) string {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		if p.ctx.Err() != nil {
			// The whole run's end: -t, or Ctrl-C.
			if te, ok := errors.AsType[*runenv.TimeoutError](context.Cause(p.ctx)); ok {
				return te.Msg
			}
			return "interrupted"
		}
		return "no answer within " + p.timeout()
	case err == io.EOF:
		return "the connection closed"
	case runenv.IsReset(err):
		return "the connection closed: " + runenv.UnwrapOp(err).Error()
	}
	return err.Error()
}

// failed is the verdict for a response that stopped before every
// END_REQUEST: the reason, and a failed send if there was one.
func (c *pconn) failed(resp *response, what string) verdict {
	reason := c.p.describeErr(resp.err)
	if c.sendErr != nil && !errors.Is(c.sendErr, os.ErrDeadlineExceeded) {
		reason += " (sending failed: " + runenv.UnwrapOp(c.sendErr).Error() + ")"
	}
	return failf("%s: %s", what, reason)
}

// afterEnd waits a moment after END_REQUEST and reports what the
// connection did: "closed", "open", or a record that came.
func (c *pconn) afterEnd(wait time.Duration) (string, *fcgiwire.Record) {
	_ = c.nc.SetReadDeadline(minTime(time.Now().Add(wait), c.p.deadline))
	defer c.nc.SetReadDeadline(c.p.deadline)
	rec, err := c.read()
	switch {
	case err == nil:
		return "record", &rec
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "open", nil
	}
	c.p.log.note(c.p.describeErr(err))
	return "closed", nil
}

// waitClose reads until the connection closes or the case's deadline
// passes; a record that comes meanwhile is returned.
func (c *pconn) waitClose() (bool, *fcgiwire.Record) {
	rec, err := c.read()
	if err == nil {
		return false, &rec
	}
	c.p.log.note(c.p.describeErr(err))
	return !errors.Is(err, os.ErrDeadlineExceeded), nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// params returns the params of a responder request for the script: GET
// without a body, POST with one of bodyLen bytes.
func (p *probe) params(bodyLen int, extra ...fcgiwire.Pair) []fcgiwire.Pair {
	script := p.opts.Script
	name := "/" + filepath.Base(script)
	method, length := "GET", ""
	if bodyLen > 0 {
		method, length = "POST", strconv.Itoa(bodyLen)
	}
	ps := []fcgiwire.Pair{
		{Name: "GATEWAY_INTERFACE", Value: "CGI/1.1"},
		{Name: "SERVER_SOFTWARE", Value: "fcgicli-conformance"},
		{Name: "SERVER_PROTOCOL", Value: "HTTP/1.1"},
		{Name: "SERVER_NAME", Value: "localhost"},
		{Name: "SERVER_PORT", Value: "80"},
		{Name: "REMOTE_ADDR", Value: "127.0.0.1"},
		{Name: "REQUEST_METHOD", Value: method},
		{Name: "SCRIPT_FILENAME", Value: script},
		{Name: "SCRIPT_NAME", Value: name},
		{Name: "REQUEST_URI", Value: name},
		{Name: "DOCUMENT_ROOT", Value: filepath.Dir(script)},
		{Name: "QUERY_STRING", Value: ""},
		{Name: "CONTENT_LENGTH", Value: length},
	}
	if bodyLen > 0 {
		ps = append(ps, fcgiwire.Pair{Name: "CONTENT_TYPE", Value: "application/octet-stream"})
	}
	return append(ps, extra...)
}

// complete checks that id ended with REQUEST_COMPLETE, once.
func (c *pconn) complete(resp *response, id uint16, what string) verdict {
	if resp.err != nil {
		return c.failed(resp, what+": no END_REQUEST")
	}
	e, _ := resp.end(id)
	if e.ProtocolStatus != fcgiwire.RequestComplete {
		return failf("%s: END_REQUEST with %s, expected REQUEST_COMPLETE", what, e.ProtocolStatus)
	}
	return passf("%s: END_REQUEST REQUEST_COMPLETE, app status %d, %d stdout bytes", what, e.AppStatus, resp.stdout[id])
}

// simple runs one request on a fresh connection and checks it completes.
func (p *probe) simple(s reqSpec, what string) verdict {
	c, err := p.dial()
	if err != nil {
		return dialFail(err)
	}
	c.writeRequest(s)
	return c.complete(c.collect(s.id), s.id, what)
}
