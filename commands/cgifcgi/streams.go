package cgifcgi

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
)

// shortBodyError is stdin ending before CONTENT_LENGTH bytes.
type shortBodyError struct{ want, got int64 }

func (e *shortBodyError) Error() string {
	return fmt.Sprintf("CONTENT_LENGTH is %d but stdin ended after %d bytes", e.want, e.got)
}

// contentReader yields exactly CONTENT_LENGTH bytes of stdin, and fails if
// stdin ends first. It then also records the failure in short, for the
// outcome whatever the request did next, and for the output writers to
// stop.
type contentReader struct {
	r          io.Reader
	want, read int64
	short      *atomic.Pointer[shortBodyError]
}

func (c *contentReader) Read(p []byte) (int, error) {
	left := c.want - c.read
	if left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > left {
		p = p[:left]
	}
	n, err := c.r.Read(p)
	c.read += int64(n)
	if err == io.EOF && c.read < c.want {
		e := &shortBodyError{want: c.want, got: c.read}
		c.short.Store(e)
		return n, e
	}
	if err == nil && c.read == c.want {
		err = io.EOF
	}
	return n, err
}

// unlessWriter writes to w until over says the request was aborted, and
// then discards: what the application answers to an aborted request is
// not its answer.
type unlessWriter struct {
	w    io.Writer
	over func() bool
}

func (u *unlessWriter) Write(p []byte) (int, error) {
	if u.over() {
		return len(p), nil
	}
	return u.w.Write(p)
}

// ioErrConn remembers the first read error other than EOF, or write error
// that is a reset, whose errno is the exit code when the application
// resets the connection: the writer is the one to see a reset that comes
// while the body is sent. (A write into a connection the application
// closed cleanly fails too, with EPIPE: that stays a close, 253.)
type ioErrConn struct {
	net.Conn
	mu  sync.Mutex
	err error
}

func (c *ioErrConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.note(err)
	return n, err
}

func (c *ioErrConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if errors.Is(err, syscall.ECONNRESET) {
		c.note(err)
	}
	return n, err
}

func (c *ioErrConn) note(err error) {
	if err == nil || err == io.EOF {
		return
	}
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
}

func (c *ioErrConn) firstErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// errnoOf returns the errno inside err, if any.
func errnoOf(err error) (int, bool) {
	var errno syscall.Errno
	if errors.As(err, &errno) && errno != 0 {
		return int(errno) & 0xff, true
	}
	return 0, false
}
