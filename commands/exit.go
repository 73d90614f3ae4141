package commands

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/fcgicli/fcgicli/fcgiwire"
)

// Exit codes, as in the README's exit-code table (one table for every command).
const (
	ExitOK          = 0
	ExitCheckFailed = 1 // a check failed, or an unexpected internal error
	ExitUsage       = 2
	ExitConnect     = 3
	ExitTimeout     = 4
	ExitProtocol    = 5
	ExitRefused     = 6
	ExitAppStatus   = 7
	ExitHTTPFail    = 22
	ExitInterrupted = 130
)

// usageError is a bad flag, argument or address.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// connectError is a failed dial. A dial that timed out is a timeout, not a
// connect error, and is reported as such.
type connectError struct {
	addr string
	err  error
}

func (e *connectError) Error() string {
	return fmt.Sprintf("cannot connect to %s: %v", e.addr, unwrapOp(e.err))
}
func (e *connectError) Unwrap() error { return e.err }

// timeoutError is a deadline that passed, with what it bounded.
type timeoutError struct{ msg string }

func (e *timeoutError) Error() string { return e.msg }

// codeError ends a command with a code and a message (empty: none).
type codeError struct {
	code int
	msg  string
}

func (e *codeError) Error() string { return e.msg }

// exitCode maps an error to the exit code and the one-line message the
// user sees. It is the only place that decides exit codes.
func exitCode(err error) (int, string) {
	if err == nil {
		return ExitOK, ""
	}
	var (
		ue *usageError
		ae *fcgiwire.AddrError
		pt *fcgiwire.PairTooLargeError
		ce *connectError
		te *timeoutError
		pe *fcgiwire.ProtocolError
		xe *codeError
	)
	switch {
	case errors.As(err, &xe):
		return xe.code, xe.msg
	case errors.As(err, &ue), errors.As(err, &ae), errors.As(err, &pt):
		return ExitUsage, err.Error()
	case errors.Is(err, context.Canceled):
		return ExitInterrupted, "interrupted"
	case errors.As(err, &te):
		return ExitTimeout, err.Error()
	case errors.As(err, &ce):
		return ExitConnect, err.Error()
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return ExitTimeout, "timed out"
	case errors.As(err, &pe), errors.Is(err, fcgiwire.ErrCGIHeader):
		return ExitProtocol, err.Error()
	}
	return ExitCheckFailed, err.Error()
}

// unwrapOp drops the "dial tcp 127.0.0.1:9: connect: " prefixes of a dial
// error, whose address the message already carries.
func unwrapOp(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		err = oe.Err
	}
	var se *os.SyscallError
	if errors.As(err, &se) && se.Err != nil {
		err = se.Err
	}
	return err
}
