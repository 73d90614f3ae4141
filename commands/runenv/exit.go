package runenv

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

// UsageError is a bad flag, argument or address.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Usagef returns a *UsageError with the formatted message.
func Usagef(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// ConnectError is a failed dial of Addr. A dial that timed out is a
// timeout, not a connect error, and is reported as such.
type ConnectError struct {
	Addr string
	Err  error
	// Reason, when set, says what failed instead of Err's own words (a
	// unix socket's path that is a directory is refused, in Err's words).
	Reason string
}

func (e *ConnectError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("cannot connect to %s: %s", e.Addr, e.Reason)
	}
	return fmt.Sprintf("cannot connect to %s: %v", e.Addr, UnwrapOp(e.Err))
}
func (e *ConnectError) Unwrap() error { return e.Err }

// TimeoutError is a deadline that passed, with what it bounded, and the
// error the operation it bounded failed with, when one came (a dial's).
type TimeoutError struct {
	Msg string
	Err error
}

func (e *TimeoutError) Error() string { return e.Msg }
func (e *TimeoutError) Unwrap() error { return e.Err }

// HintedError is an error with a hint: one line saying what it likely
// means and what to do, which is shown after its message.
type HintedError struct {
	Err  error
	Hint string
}

func (e *HintedError) Error() string { return e.Err.Error() }
func (e *HintedError) Unwrap() error { return e.Err }

// WithHint returns err carrying hint; err as it is when either is empty.
func WithHint(err error, hint string) error {
	if err == nil || hint == "" {
		return err
	}
	return &HintedError{Err: err, Hint: hint}
}

// HintOf returns the hint err carries, "" when none.
func HintOf(err error) string {
	var he *HintedError
	if errors.As(err, &he) {
		return he.Hint
	}
	return ""
}

// CodeError ends a command with Code and the message Msg (empty: none).
type CodeError struct {
	Code int
	Msg  string
}

func (e *CodeError) Error() string { return e.Msg }

// ExitCode maps an error to the exit code and the one-line message the
// user sees. It is the only place that decides exit codes.
func ExitCode(err error) (int, string) {
	if err == nil {
		return ExitOK, ""
	}
	var (
		ue *UsageError
		ae *fcgiwire.AddrError
		pt *fcgiwire.PairTooLargeError
		ce *ConnectError
		te *TimeoutError
		pe *fcgiwire.ProtocolError
		xe *CodeError
	)
	switch {
	case errors.As(err, &xe):
		return xe.Code, xe.Msg
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

// UnwrapOp drops the "dial tcp 127.0.0.1:9: connect: " prefixes of a dial
// error, whose address the message already carries.
func UnwrapOp(err error) error {
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

// IsReset reports whether err is a connection that failed other than by a
// timeout: a reset, a broken pipe.
func IsReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && !ne.Timeout()
}
