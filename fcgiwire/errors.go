package fcgiwire

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
)

// Sentinel errors. Faults in bytes read from the wire come wrapped in a
// *ProtocolError; match them with errors.Is.
var (
	// ErrBadVersion: a record header whose version byte is not 1.
	ErrBadVersion = errors.New("unsupported FastCGI version")
	// ErrTruncated: the stream ended inside a record header or body.
	ErrTruncated = errors.New("truncated record")
	// ErrBadPair: a name-value pair whose lengths run past its record.
	ErrBadPair = errors.New("malformed name-value pair")
	// ErrBadBody: a fixed-size record body (BEGIN_REQUEST, END_REQUEST,
	// UNKNOWN_TYPE) of the wrong length.
	ErrBadBody = errors.New("malformed record body")
	// ErrManagementID: a management record with a non-zero request id.
	ErrManagementID = errors.New("management record with non-zero request id")
	// ErrRequestID: a record for a request id that is not in flight.
	ErrRequestID = errors.New("unexpected request id")
	// ErrUnexpectedType: a record type that makes no sense in its place,
	// such as STDIN sent to a client.
	ErrUnexpectedType = errors.New("unexpected record type")
	// ErrNoEndRequest: the peer closed or reset the connection before
	// FCGI_END_REQUEST.
	ErrNoEndRequest = errors.New("connection closed before FCGI_END_REQUEST")
	// ErrTooLarge: a stream exceeded a limit set by the reader, such as the
	// size of the PARAMS stream a server accepts.
	ErrTooLarge = errors.New("stream too large")
	// ErrPairTooLarge: a name-value pair that cannot fit in one record.
	// It is the caller's fault, not the peer's, so it is never wrapped in
	// a ProtocolError.
	ErrPairTooLarge = errors.New("name-value pair too large for one record")
	// ErrConnBroken: the connection cannot carry another request (an
	// earlier request was aborted or failed part way).
	ErrConnBroken = errors.New("connection is not reusable")
)

// ProtocolError describes malformed or unexpected input from the peer.
type ProtocolError struct {
	// Offset is the byte offset, in the stream read from the peer, of the
	// record (or the byte within it) where the fault was found.
	Offset int64
	// RecordType is the type of the record at fault, 0 when unknown.
	RecordType RecordType
	// Reason says what was wrong, for people.
	Reason string
	// Err is one of the sentinel errors.
	Err error
}

func (e *ProtocolError) Error() string {
	msg := "protocol error at byte " + fmt.Sprint(e.Offset)
	if e.RecordType != 0 {
		msg += " (" + e.RecordType.String() + " record)"
	}
	msg += ": " + e.Err.Error()
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

func (e *ProtocolError) Unwrap() error { return e.Err }

// httpAnswer starts the reason of the ErrBadVersion a reader returns when
// the peer's first bytes are an HTTP status line.
const httpAnswer = "the peer answered in HTTP"

// IsHTTPAnswer reports whether err is the peer answering in HTTP, not
// FastCGI: an address that is a web server's port.
func IsHTTPAnswer(err error) bool {
	var pe *ProtocolError
	return errors.As(err, &pe) && pe.Err == ErrBadVersion && strings.HasPrefix(pe.Reason, httpAnswer)
}

func protoErr(off int64, t RecordType, sentinel error, format string, args ...any) *ProtocolError {
	return &ProtocolError{Offset: off, RecordType: t, Err: sentinel, Reason: fmt.Sprintf(format, args...)}
}

// badBody is the error for a fixed-size record body that err, a decoder's
// error wrapping ErrBadBody, says is malformed; the sentinel is said once.
func badBody(off int64, t RecordType, err error) *ProtocolError {
	return protoErr(off, t, ErrBadBody, "%s", strings.TrimPrefix(err.Error(), ErrBadBody.Error()+": "))
}

// netReason shortens a network error for a Reason: "connection reset by
// peer" rather than "read tcp 127.0.0.1:1->127.0.0.1:2: read: connection
// reset by peer".
func netReason(err error) string {
	var se *os.SyscallError
	if errors.As(err, &se) && se.Err != nil {
		return se.Err.Error()
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err.Error()
	}
	return err.Error()
}
