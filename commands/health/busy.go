package health

import (
	"errors"
	"fmt"
	"strings"

	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/commands/runenv"
)

// BusyError is a pool that accepted the connection and took the request
// but gave no answer before the deadline: no child was free to take it.
// It is the timeout it wraps (exit 4, its message); --busy-ok lets it
// pass, since the pool is alive, only busy. A pool whose connect failed or
// timed out is not busy: it is not listening, or its queue is full.
type BusyError struct{ Err error }

func (e *BusyError) Error() string { return e.Err.Error() }

func (e *BusyError) Unwrap() error { return e.Err }

// busyAfterConnect wraps the timeout of a fetch that got as far as sending
// the request (page is non-nil once connected) in a BusyError.
func busyAfterConnect(page *fcgireq.Page, err error) error {
	var te *runenv.TimeoutError
	if page != nil && errors.As(err, &te) {
		return &BusyError{Err: err}
	}
	return err
}

// IsBusy reports whether err is a BusyError.
func IsBusy(err error) bool {
	var be *BusyError
	return errors.As(err, &be)
}

// BusyLine says what a busy pool did, for its report line.
func BusyLine(err error) string {
	_, msg := runenv.ExitCode(err)
	return msg + ": the pool accepted the connection, but no child was free to answer"
}

// ForgiveBusy applies --busy-ok to a pool that was read and checked: one
// that accepted the connection but had no free child (a BusyError, or a
// page whose listen queue holds connections) passes. Its failed checks
// become a note and Busy is set; a pool that is not listening, or not
// busy, is left as it is.
func (r *PoolResult) ForgiveBusy() {
	switch {
	case IsBusy(r.Err):
		r.Busy = true
	case r.Err == nil && r.Status.ListenQueue > 0 && len(r.Failures) > 0:
		lines := make([]string, len(r.Failures))
		for i, f := range r.Failures {
			lines[i] = f.Line
		}
		r.Notes = append(r.Notes, fmt.Sprintf("busy (listen queue %d: no child is free), passes with --busy-ok: %s", r.Status.ListenQueue, strings.Join(lines, "; ")))
		r.Failures, r.Busy = nil, true
	}
}
