package fcgiwire

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// Direction says which way a record travelled.
type Direction uint8

// The two directions seen by an Observer.
const (
	Sent     Direction = 1
	Received Direction = 2
)

// String returns "sent" or "received".
func (d Direction) String() string {
	if d == Sent {
		return "sent"
	}
	return "received"
}

// Event is one record as an Observer sees it.
type Event struct {
	Dir Direction
	// Offset is the byte offset of the record's header in the stream of
	// its direction on this connection.
	Offset int64
	Header Header
	// Content is the record's content, without padding. It is only valid
	// during the call to the Observer.
	Content []byte
}

// Observer is called for every record read or written. A client calls it
// from two goroutines (one writing, one reading), so it must be safe for
// concurrent use. It must not keep Content after it returns.
type Observer func(Event)

// Reader reads records from a byte stream, whatever its read boundaries.
type Reader struct {
	br      *bufio.Reader
	offset  int64
	buf     []byte
	hb      [HeaderLen]byte // here, not on the stack, where it would escape: no allocation per record
	Observe Observer
}

// NewReader returns a Reader that reads records from r.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, HeaderLen+MaxContent+MaxPadding), buf: make([]byte, MaxContent+MaxPadding)}
}

// Offset returns the number of bytes consumed so far.
func (r *Reader) Offset() int64 { return r.offset }

// Reset makes r read from src from offset 0, keeping its buffers, so a
// busy tool can reuse readers across connections. The observer is cleared.
func (r *Reader) Reset(src io.Reader) {
	r.br.Reset(src)
	r.offset = 0
	r.Observe = nil
}

// ReadRecord reads the next record. Its Content is only valid until the
// next call. At a clean end of stream between records it returns io.EOF;
// a stream that ends inside a record gives a *ProtocolError wrapping
// ErrTruncated, a version other than 1 one wrapping ErrBadVersion. Other
// errors (timeouts, resets) are returned as they are.
func (r *Reader) ReadRecord() (Record, error) {
	start := r.offset
	hb := &r.hb
	n, err := io.ReadFull(r.br, hb[:])
	r.offset += int64(n)
	if err != nil {
		if err == io.EOF {
			return Record{}, io.EOF
		}
		if err == io.ErrUnexpectedEOF {
			return Record{}, protoErr(start, 0, ErrTruncated, "stream ended after %d of %d header bytes", n, HeaderLen)
		}
		return Record{}, err
	}
	h := DecodeHeader(hb[:])
	if h.Version != Version1 {
		if string(hb[:5]) == "HTTP/" {
			return Record{}, &ProtocolError{Offset: start, Err: ErrBadVersion, Reason: fmt.Sprintf("%s (%q), not FastCGI", httpAnswer, hb[:])}
		}
		return Record{}, protoErr(start, h.Type, ErrBadVersion, "version byte is %d", h.Version)
	}
	body := r.buf[:int(h.ContentLength)+int(h.PaddingLength)]
	n, err = io.ReadFull(r.br, body)
	r.offset += int64(n)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return Record{}, protoErr(start, h.Type, ErrTruncated, "header announces %d content and %d padding bytes, stream ended after %d", h.ContentLength, h.PaddingLength, n)
		}
		return Record{}, err
	}
	rec := Record{Header: h, Content: body[:h.ContentLength]}
	if r.Observe != nil {
		r.Observe(Event{Dir: Received, Offset: start, Header: h, Content: rec.Content})
	}
	return rec, nil
}

// Writer writes records to a byte stream through a buffer; call Flush to
// push them out.
type Writer struct {
	bw      *bufio.Writer
	offset  int64
	hb      [HeaderLen]byte // here, not on the stack, where it would escape: no allocation per record
	Observe Observer
}

// NewWriter returns a Writer that writes records to w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{bw: bufio.NewWriterSize(w, HeaderLen+MaxContent+MaxPadding)}
}

// Offset returns the number of bytes written so far (buffered included).
func (w *Writer) Offset() int64 { return w.offset }

// Flush writes any buffered bytes to the underlying stream.
func (w *Writer) Flush() error { return w.bw.Flush() }

var zeroPad [MaxPadding]byte

// WriteRecord writes one record of type t for request id with the given
// content (at most MaxContent bytes), padded to a multiple of 8 unless
// content and padding would pass 65535 bytes, in which case it gets none.
// Management records (request id 0) are always padded, with 8 bytes when
// the content is already a multiple of 8.
func (w *Writer) WriteRecord(t RecordType, id uint16, content []byte) error {
	if len(content) > MaxContent {
		return errors.New("fcgiwire: record content longer than 65535 bytes")
	}
	pad := PaddingFor(len(content))
	if id == 0 {
		pad = managementPadding(len(content))
	}
	if len(content)+pad > MaxContent {
		// Padding is only a recommendation, and php-fpm drops the
		// connection on a PARAMS record whose content and padding
		// together pass 65535 bytes.
		pad = 0
	}
	h := Header{Version: Version1, Type: t, RequestID: id, ContentLength: uint16(len(content)), PaddingLength: uint8(pad)}
	return w.WriteRawRecord(h, content, zeroPad[:pad])
}

// WriteRawRecord writes a header, content and padding exactly as given,
// even when they disagree with each other: the header's lengths are not
// checked against len(content) and len(padding). It is the one path for
// sending deliberately malformed records.
func (w *Writer) WriteRawRecord(h Header, content, padding []byte) error {
	start := w.offset
	hb := &w.hb
	h.Encode(hb[:])
	for _, b := range [][]byte{hb[:], content, padding} {
		n, err := w.bw.Write(b)
		w.offset += int64(n)
		if err != nil {
			return err
		}
	}
	if w.Observe != nil {
		w.Observe(Event{Dir: Sent, Offset: start, Header: h, Content: content})
	}
	return nil
}

// WriteStream writes b as a stream of records of type t, split into
// records of at most MaxContent bytes. It does not close the stream.
func (w *Writer) WriteStream(t RecordType, id uint16, b []byte) error {
	for len(b) > 0 {
		n := min(len(b), MaxContent)
		if err := w.WriteRecord(t, id, b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// WritePairs writes pairs as a stream of records of type t (PARAMS or
// GET_VALUES(_RESULT)), pairs never straddling two records. It does not
// write the empty closing record.
func (w *Writer) WritePairs(t RecordType, id uint16, pairs []Pair) error {
	bodies, err := SplitPairs(pairs)
	if err != nil {
		return err
	}
	for _, b := range bodies {
		if err := w.WriteRecord(t, id, b); err != nil {
			return err
		}
	}
	return nil
}
