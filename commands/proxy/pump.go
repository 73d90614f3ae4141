package proxy

import (
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

// pump copies src to dst byte for byte, decoding the records on the way
// for the report. Each record is reported before its bytes go on, so the
// report of a request always comes before the application can answer it;
// a record is forwarded as soon as it is complete (never a whole body).
// Where the stream stops decoding, everything else, the bytes of the bad
// record included, is copied undecoded. At the end it half-closes dst so
// the other side sees the end too. It returns a nil error at a clean end
// of src, else whether the error came writing to dst (else reading src)
// and the error.
func (p *proxy) pump(src, dst net.Conn, save io.Writer, dir fcgiwire.Direction, t *tap, dumper *formatters.Dumper) (bool, error) {
	var w io.Writer = dst
	if dir == fcgiwire.Received {
		w = t.toClient
	} else if save != nil {
		w = io.MultiWriter(dst, save)
	}
	pend := &pendingReader{src: src, dst: w, save: save, idle: t.closeIfIdle}
	if dir == fcgiwire.Sent {
		pend.arm = t.armClient
	}
	r, _ := p.readers.Get().(*fcgiwire.Reader)
	if r == nil {
		r = fcgiwire.NewReader(nil)
	}
	defer p.readers.Put(r)
	r.Reset(pend)
	r.Observe = func(ev fcgiwire.Event) {
		ev.Dir = dir
		if dumper != nil {
			dumper.Observe(ev)
		}
		drop, answer := t.record(ev)
		end := ev.Offset + int64(ev.Header.Len())
		pend.recEnd = end
		if drop {
			pend.drop(ev.Offset, end)
		} else {
			pend.complete = end
		}
		if answer != nil {
			_, _ = t.toClient.Write(answer)
		}
	}
	var err error
	for pend.err == nil {
		if _, err = r.ReadRecord(); err != nil {
			break
		}
	}
	if dir == fcgiwire.Sent && pend.err == nil && isTimeout(err) {
		switch t.clientDeadline() {
		case deadlineIdle:
			// Idle past --idle-timeout: close as at a shutdown (below).
			t.closeIdle()
		case deadlineStall:
			p.logf("conn %d: the client sent nothing for %s mid-record or mid-request (--read-timeout); closing", t.conn, p.Deadlines.Read)
			t.forceClose(fmt.Sprintf("the client stalled past --read-timeout %s", p.Deadlines.Read))
			return false, nil
		}
	}
	// What was read but not forwarded: complete records, then a bad or
	// cut one.
	if pend.err == nil {
		pend.forward(pend.end())
	}
	if dir == fcgiwire.Sent && t.isClosing() {
		// Shutting down: drain the client so that it sees the proxy's
		// FIN, not a reset (the read deadline bounds it).
		_, _ = io.Copy(io.Discard, src)
		return false, nil
	}
	var pe *fcgiwire.ProtocolError
	if pend.err == nil && errors.As(err, &pe) {
		p.logf("conn %d: %s stream stopped decoding: %v; copying the rest undecoded", t.conn, dir, err)
		_, err = io.Copy(w, src)
	}
	writing := pend.err != nil
	switch {
	case writing:
		err = pend.err
	case err == io.EOF || errors.Is(err, errForward):
		err = nil
	}
	// Note why the requests in flight end before the other side hears of
	// it: the side that closed first is the cause.
	t.noteEnd(dir, err, writing)
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	} else {
		dst.Close()
	}
	return writing, err
}

// errForward stops the reader once forwarding failed.
var errForward = errors.New("forwarding failed")

// pendingReader keeps the bytes read from src until they are forwarded to
// dst. The complete records among them go on just before it would block
// reading more, so records that arrived together leave together, and
// after the reader has reported them.
type pendingReader struct {
	src      io.Reader
	dst      io.Writer
	buf      []byte
	base     int64     // stream offset of buf[0]
	complete int64     // stream offset where the last reported record ends
	err      error     // the first error forwarding
	save     io.Writer // where dropped records go, if anywhere
	idle     func()    // called before blocking on src
	// arm, when set, is called before each read from src, told whether
	// a record has begun and not ended (recEnd: where the last ended).
	arm    func(midRecord bool)
	recEnd int64
}

func (p *pendingReader) Read(b []byte) (int, error) {
	p.forward(p.complete)
	if p.err != nil {
		return 0, errForward
	}
	if p.idle != nil {
		p.idle()
	}
	if p.arm != nil {
		p.arm(p.end() > p.recEnd)
	}
	n, err := p.src.Read(b)
	p.buf = append(p.buf, b[:n]...)
	return n, err
}

// end is the stream offset after the last byte read.
func (p *pendingReader) end() int64 { return p.base + int64(len(p.buf)) }

// forward writes the pending bytes up to stream offset end.
func (p *pendingReader) forward(end int64) {
	k := int(end - p.base)
	if k <= 0 || p.err != nil {
		return
	}
	if _, err := p.dst.Write(p.buf[:k]); err != nil {
		p.err = err
		return
	}
	p.buf = append(p.buf[:0], p.buf[k:]...)
	p.base = end
}

// drop forwards the pending bytes up to start and discards the record
// from start to end (to save only).
func (p *pendingReader) drop(start, end int64) {
	p.forward(start)
	k := int(end - p.base)
	if p.err != nil || k <= 0 || k > len(p.buf) {
		return
	}
	if p.save != nil {
		_, _ = p.save.Write(p.buf[:k])
	}
	p.buf = append(p.buf[:0], p.buf[k:]...)
	p.base = end
}
