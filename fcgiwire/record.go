// Package fcgiwire implements the FastCGI 1.0 protocol: records, name-value
// pairs, management records, a client that runs requests on a connection, a
// server that answers them, and a streaming CGI response parser.
//
// The package uses the standard library only. It never prints and never
// exits: every fault is returned as an error, and malformed input from the
// wire is reported as a *ProtocolError carrying the byte offset.
package fcgiwire

import (
	"encoding/binary"
	"fmt"
)

// Version1 is the only protocol version FastCGI defines (FCGI_VERSION_1).
const Version1 = 1

// Limits of the record format.
const (
	HeaderLen  = 8     // FCGI_HEADER_LEN
	MaxContent = 65535 // largest content length a record can carry
	MaxPadding = 255   // largest padding length a record can carry
	// MaxPairLen is the largest encoded name-value pair that fits in one
	// record: a pair must never straddle two PARAMS records.
	MaxPairLen = MaxContent
)

// RecordType is the type byte of a record header.
type RecordType uint8

// The record types of FastCGI 1.0.
const (
	TypeBeginRequest    RecordType = 1
	TypeAbortRequest    RecordType = 2
	TypeEndRequest      RecordType = 3
	TypeParams          RecordType = 4
	TypeStdin           RecordType = 5
	TypeStdout          RecordType = 6
	TypeStderr          RecordType = 7
	TypeData            RecordType = 8
	TypeGetValues       RecordType = 9
	TypeGetValuesResult RecordType = 10
	TypeUnknownType     RecordType = 11
	// TypeMax is the highest type the specification defines.
	TypeMax = TypeUnknownType
)

var typeNames = [...]string{
	TypeBeginRequest:    "BEGIN_REQUEST",
	TypeAbortRequest:    "ABORT_REQUEST",
	TypeEndRequest:      "END_REQUEST",
	TypeParams:          "PARAMS",
	TypeStdin:           "STDIN",
	TypeStdout:          "STDOUT",
	TypeStderr:          "STDERR",
	TypeData:            "DATA",
	TypeGetValues:       "GET_VALUES",
	TypeGetValuesResult: "GET_VALUES_RESULT",
	TypeUnknownType:     "UNKNOWN_TYPE",
}

// String returns the name of the type without the FCGI_ prefix, or
// "TYPE_n" for a type the specification does not define.
func (t RecordType) String() string {
	if t >= TypeBeginRequest && t <= TypeMax {
		return typeNames[t]
	}
	return fmt.Sprintf("TYPE_%d", uint8(t))
}

// IsStream reports whether records of this type form a stream that ends
// with an empty record (PARAMS, STDIN, STDOUT, STDERR, DATA).
func (t RecordType) IsStream() bool {
	switch t {
	case TypeParams, TypeStdin, TypeStdout, TypeStderr, TypeData:
		return true
	}
	return false
}

// IsManagement reports whether the type is one of the management record
// types, which always travel with request id 0.
func (t RecordType) IsManagement() bool {
	return t == TypeGetValues || t == TypeGetValuesResult || t == TypeUnknownType
}

// Role is the role field of FCGI_BEGIN_REQUEST.
type Role uint16

// The three roles of FastCGI 1.0.
const (
	RoleResponder  Role = 1
	RoleAuthorizer Role = 2
	RoleFilter     Role = 3
)

// String returns the role's name, or "ROLE_n" for an undefined one.
func (r Role) String() string {
	switch r {
	case RoleResponder:
		return "RESPONDER"
	case RoleAuthorizer:
		return "AUTHORIZER"
	case RoleFilter:
		return "FILTER"
	}
	return fmt.Sprintf("ROLE_%d", uint16(r))
}

// FlagKeepConn is the FCGI_KEEP_CONN bit of FCGI_BEGIN_REQUEST's flags: the
// application keeps the connection open after the request.
const FlagKeepConn = 1

// ProtocolStatus is the protocolStatus field of FCGI_END_REQUEST.
type ProtocolStatus uint8

// The four protocol statuses of FastCGI 1.0.
const (
	RequestComplete ProtocolStatus = 0
	CantMpxConn     ProtocolStatus = 1
	Overloaded      ProtocolStatus = 2
	UnknownRole     ProtocolStatus = 3
)

// String returns the status's name without the FCGI_ prefix, or "STATUS_n".
func (s ProtocolStatus) String() string {
	switch s {
	case RequestComplete:
		return "REQUEST_COMPLETE"
	case CantMpxConn:
		return "CANT_MPX_CONN"
	case Overloaded:
		return "OVERLOADED"
	case UnknownRole:
		return "UNKNOWN_ROLE"
	}
	return fmt.Sprintf("STATUS_%d", uint8(s))
}

// The variable names of FCGI_GET_VALUES defined by the specification.
const (
	MaxConns  = "FCGI_MAX_CONNS"
	MaxReqs   = "FCGI_MAX_REQS"
	MpxsConns = "FCGI_MPXS_CONNS"
)

// Header is the fixed 8-byte header that starts every record.
type Header struct {
	Version       uint8
	Type          RecordType
	RequestID     uint16
	ContentLength uint16
	PaddingLength uint8
	Reserved      uint8
}

// Encode writes the header into b, which must be at least HeaderLen long.
func (h Header) Encode(b []byte) {
	_ = b[HeaderLen-1]
	b[0] = h.Version
	b[1] = byte(h.Type)
	binary.BigEndian.PutUint16(b[2:4], h.RequestID)
	binary.BigEndian.PutUint16(b[4:6], h.ContentLength)
	b[6] = h.PaddingLength
	b[7] = h.Reserved
}

// DecodeHeader reads a header from the first HeaderLen bytes of b without
// validating it. It panics if b is shorter than HeaderLen.
func DecodeHeader(b []byte) Header {
	_ = b[HeaderLen-1]
	return Header{
		Version:       b[0],
		Type:          RecordType(b[1]),
		RequestID:     binary.BigEndian.Uint16(b[2:4]),
		ContentLength: binary.BigEndian.Uint16(b[4:6]),
		PaddingLength: b[6],
		Reserved:      b[7],
	}
}

// Len returns the length of the whole record on the wire.
func (h Header) Len() int {
	return HeaderLen + int(h.ContentLength) + int(h.PaddingLength)
}

// AppendRecord appends one encoded record to dst and returns the extended
// slice: h's header with its ContentLength set to len(content), then
// content, then h.PaddingLength zero bytes. The version, type, request id,
// padding length and reserved byte are written as given, so that fault
// injection and raw tests can build a record a strict peer refuses.
// It panics if content is longer than MaxContent, which no header can say.
func AppendRecord(dst []byte, h Header, content []byte) []byte {
	if len(content) > MaxContent {
		panic(fmt.Sprintf("fcgiwire: AppendRecord with %d content bytes, more than %d", len(content), MaxContent))
	}
	h.ContentLength = uint16(len(content))
	var hb [HeaderLen]byte
	h.Encode(hb[:])
	dst = append(dst, hb[:]...)
	dst = append(dst, content...)
	return append(dst, make([]byte, h.PaddingLength)...)
}

// Record is one decoded record. Content excludes padding.
type Record struct {
	Header
	Content []byte
}

// PaddingFor returns the padding that brings n content bytes to a multiple
// of 8, as the specification recommends.
func PaddingFor(n int) int { return -n & 7 }

// managementPadding returns the padding for a management record: a multiple
// of 8 that is never zero, because libfcgi 2.4.2 does not answer a
// GET_VALUES record sent without padding.
func managementPadding(n int) int {
	if p := PaddingFor(n); p != 0 {
		return p
	}
	return 8
}

// BeginRequest is the body of FCGI_BEGIN_REQUEST.
type BeginRequest struct {
	Role  Role
	Flags uint8
}

// KeepConn reports whether FCGI_KEEP_CONN is set.
func (b BeginRequest) KeepConn() bool { return b.Flags&FlagKeepConn != 0 }

// Encode returns the 8-byte body.
func (b BeginRequest) Encode() []byte {
	c := make([]byte, 8)
	b.put((*[8]byte)(c))
	return c
}

// put writes the body into c, which the caller may reuse.
func (b BeginRequest) put(c *[8]byte) {
	*c = [8]byte{}
	binary.BigEndian.PutUint16(c[:], uint16(b.Role))
	c[2] = b.Flags
}

// DecodeBeginRequest decodes the body of FCGI_BEGIN_REQUEST, which must be
// exactly 8 bytes.
func DecodeBeginRequest(c []byte) (BeginRequest, error) {
	if len(c) != 8 {
		return BeginRequest{}, fmt.Errorf("%w: BEGIN_REQUEST body is %d bytes, want 8", ErrBadBody, len(c))
	}
	return BeginRequest{Role: Role(binary.BigEndian.Uint16(c)), Flags: c[2]}, nil
}

// EndRequest is the body of FCGI_END_REQUEST.
type EndRequest struct {
	AppStatus      uint32
	ProtocolStatus ProtocolStatus
}

// Encode returns the 8-byte body.
func (e EndRequest) Encode() []byte {
	c := make([]byte, 8)
	binary.BigEndian.PutUint32(c, e.AppStatus)
	c[4] = byte(e.ProtocolStatus)
	return c
}

// DecodeEndRequest decodes the body of FCGI_END_REQUEST, which must be
// exactly 8 bytes.
func DecodeEndRequest(c []byte) (EndRequest, error) {
	if len(c) != 8 {
		return EndRequest{}, fmt.Errorf("%w: END_REQUEST body is %d bytes, want 8", ErrBadBody, len(c))
	}
	return EndRequest{AppStatus: binary.BigEndian.Uint32(c), ProtocolStatus: ProtocolStatus(c[4])}, nil
}

// UnknownTypeBody returns the 8-byte body of FCGI_UNKNOWN_TYPE naming t.
func UnknownTypeBody(t RecordType) []byte {
	c := make([]byte, 8)
	c[0] = byte(t)
	return c
}

// DecodeUnknownType decodes the body of FCGI_UNKNOWN_TYPE.
func DecodeUnknownType(c []byte) (RecordType, error) {
	if len(c) != 8 {
		return 0, fmt.Errorf("%w: UNKNOWN_TYPE body is %d bytes, want 8", ErrBadBody, len(c))
	}
	return RecordType(c[0]), nil
}
