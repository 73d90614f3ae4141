package netio

import (
	"fmt"
	"net"
	"os"

	"github.com/fcgicli/fcgicli/commands/runenv"
)

// Tee copies the bytes of a connection to files: those written to it to
// Req (--save-request), those read from it to Resp (--save-response).
// Either may be nil.
type Tee struct {
	Req, Resp *os.File
	err       error // the first failure writing either file
}

// OpenTee creates the files named ("" for none); a file that cannot be
// created is a usage error naming its flag.
func OpenTee(reqName, respName string) (*Tee, error) {
	t := &Tee{}
	var err error
	if reqName != "" {
		if t.Req, err = os.Create(reqName); err != nil {
			return nil, runenv.Usagef("--save-request: %v", err)
		}
	}
	if respName != "" {
		if t.Resp, err = os.Create(respName); err != nil {
			_ = t.Close()
			return nil, runenv.Usagef("--save-response: %v", err)
		}
	}
	return t, nil
}

// Close closes the files and returns the first error writing them.
func (t *Tee) Close() error {
	for _, f := range []*os.File{t.Req, t.Resp} {
		if f != nil {
			if err := f.Close(); err != nil && t.err == nil {
				t.err = err
			}
		}
	}
	return t.err
}

// CloseTee closes the tee files; a failure saving bytes is reported when
// nothing worse happened (err).
func CloseTee(t *Tee, err error) error {
	if terr := t.Close(); terr != nil && err == nil {
		return terr
	}
	return err
}

func (t *Tee) write(f *os.File, p []byte) {
	if _, err := f.Write(p); err != nil && t.err == nil {
		t.err = fmt.Errorf("saving bytes to %s: %w", f.Name(), err)
	}
}

// Wrap returns nc copying its bytes to the files (nc itself when there
// are none).
func (t *Tee) Wrap(nc net.Conn) net.Conn {
	if t.Req == nil && t.Resp == nil {
		return nc
	}
	return &teeConn{Conn: nc, t: t}
}

type teeConn struct {
	net.Conn
	t *Tee
}

func (c *teeConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && c.t.Resp != nil {
		c.t.write(c.t.Resp, p[:n])
	}
	return n, err
}

func (c *teeConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if n > 0 && c.t.Req != nil {
		c.t.write(c.t.Req, p[:n])
	}
	return n, err
}
