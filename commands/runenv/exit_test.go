package runenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/fcgicli/fcgicli/fcgiwire"
)

func TestExitCode(t *testing.T) {
	pe := &fcgiwire.ProtocolError{Offset: 8, Err: fcgiwire.ErrBadVersion, Reason: "version byte is 2"}
	for _, c := range []struct {
		err  error
		code int
		msg  string
	}{
		{nil, 0, ""},
		{Usagef("bad"), 2, "bad"},
		{&fcgiwire.AddrError{Addr: "x", Reason: "missing port"}, 2, `bad address "x": missing port (accepted forms: ` + fcgiwire.AddrForms + ")"},
		{&fcgiwire.PairTooLargeError{Name: "BIG", Size: 70000}, 2, "param BIG is 70000 bytes encoded; one record holds at most 65535"},
		{&ConnectError{Addr: "127.0.0.1:1", Err: errors.New("connection refused")}, 3, "cannot connect to 127.0.0.1:1: connection refused"},
		{&TimeoutError{Msg: "timed out after 1s (--timeout)"}, 4, "timed out after 1s (--timeout)"},
		// The dial error a connect timeout wraps changes neither.
		{&TimeoutError{Msg: "connecting to x timed out after 1s (--connect-timeout)", Err: os.ErrDeadlineExceeded}, 4, "connecting to x timed out after 1s (--connect-timeout)"},
		{context.DeadlineExceeded, 4, "timed out"},
		{os.ErrDeadlineExceeded, 4, "timed out"},
		{fmt.Errorf("wrapped: %w", pe), 5, "wrapped: protocol error at byte 8: unsupported FastCGI version: version byte is 2"},
		{&CodeError{Code: 6, Msg: "refused"}, 6, "refused"},
		{context.Canceled, 130, "interrupted"},
		{errors.New("disk full"), 1, "disk full"},
	} {
		code, msg := ExitCode(c.err)
		if code != c.code || msg != c.msg {
			t.Errorf("ExitCode(%v) = %d, %q; want %d, %q", c.err, code, msg, c.code, c.msg)
		}
	}
}
