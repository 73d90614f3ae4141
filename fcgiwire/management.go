package fcgiwire

import (
	"context"
	"errors"
	"time"
)

// ErrNoAnswer: the peer closed or reset the connection before answering a
// management record.
var ErrNoAnswer = errors.New("connection closed before an answer to the management record")

// ErrUnknownTypeAnswer: the peer answered a management record with
// FCGI_UNKNOWN_TYPE.
var ErrUnknownTypeAnswer = errors.New("the application answered FCGI_UNKNOWN_TYPE")

// Management sends one management record of type t (request id 0) with the
// given content, and returns the first record of request id 0 that comes
// back, its content copied. Records for other request ids are a protocol
// error. It gives up when ctx ends, returning ctx's error.
func (c *Conn) Management(ctx context.Context, t RecordType, content []byte) (Record, error) {
	if c.broken != nil {
		return Record{}, c.broken
	}
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	stop := context.AfterFunc(ctx, func() {
		// Unblock the read or write in progress.
		_ = c.nc.SetDeadline(time.Now())
	})
	defer stop()
	c.broken = ErrConnBroken // until the answer arrives whole
	// A failed write is not the end: the peer may have answered, or
	// closed, and the read below says which.
	_ = c.locked(func() error { return c.w.WriteRecord(t, 0, content) })
	rec, err := c.r.ReadRecord()
	if err != nil {
		if ctx.Err() != nil {
			return Record{}, ctx.Err()
		}
		return Record{}, c.readFault(err, ErrNoAnswer)
	}
	off := c.r.Offset() - int64(rec.Len())
	if rec.RequestID != 0 {
		return Record{}, protoErr(off, rec.Type, ErrRequestID, "got request id %d in answer to %s, expected 0", rec.RequestID, t)
	}
	rec.Content = append([]byte(nil), rec.Content...)
	if !stop() {
		// ctx ended as the answer came, and its callback has left (or is
		// about to leave) a deadline in the past on the connection: the
		// answer stands, but the connection can carry nothing more.
		return rec, nil
	}
	c.broken = nil
	return rec, nil
}

// GetValues sends FCGI_GET_VALUES asking for names and returns the pairs
// of the FCGI_GET_VALUES_RESULT that answers it, in the order received.
// Names the application leaves out are simply absent. An answer of
// FCGI_UNKNOWN_TYPE gives a *ProtocolError wrapping ErrUnknownTypeAnswer.
// A malformed pair gives a *ProtocolError wrapping ErrBadPair together
// with the pairs decoded before it, so that nothing received is lost.
func (c *Conn) GetValues(ctx context.Context, names []string) ([]Pair, error) {
	asked := make([]Pair, len(names))
	for i, n := range names {
		asked[i] = Pair{Name: n}
	}
	body := EncodePairs(asked)
	if len(body) > MaxContent {
		return nil, errors.New("fcgiwire: GET_VALUES names exceed one record")
	}
	rec, err := c.Management(ctx, TypeGetValues, body)
	if err != nil {
		return nil, err
	}
	off := c.r.Offset() - int64(rec.Len())
	switch rec.Type {
	case TypeGetValuesResult:
		return DecodePairs(rec.Content, off+HeaderLen)
	case TypeUnknownType:
		return nil, protoErr(off, rec.Type, ErrUnknownTypeAnswer, "it does not support GET_VALUES")
	}
	return nil, protoErr(off, rec.Type, ErrUnexpectedType, "expected GET_VALUES_RESULT")
}
