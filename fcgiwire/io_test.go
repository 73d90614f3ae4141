package fcgiwire

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
	"testing/iotest"
)

// hdr returns the 8 header bytes of a version 1 record.
func hdr(t RecordType, id uint16, clen, plen int) []byte {
	b := make([]byte, HeaderLen)
	Header{Version: Version1, Type: t, RequestID: id, ContentLength: uint16(clen), PaddingLength: uint8(plen)}.Encode(b)
	return b
}

// rec returns a whole record: header, content and plen zero bytes.
func rec(t RecordType, id uint16, content string, plen int) []byte {
	return AppendRecord(nil, Header{Version: Version1, Type: t, RequestID: id, PaddingLength: uint8(plen)}, []byte(content))
}

func writeAll(t *testing.T, f func(w *Writer) error) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf)
	if err := f(w); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if w.Offset() != int64(buf.Len()) {
		t.Errorf("Offset = %d, wrote %d", w.Offset(), buf.Len())
	}
	return buf.Bytes()
}

func TestWriteRecordPadding(t *testing.T) {
	for _, n := range []int{0, 1, 2, 7, 8, 9, 15, 16, 17, 100, 465, 65528, 65529, 65535} {
		content := bytes.Repeat([]byte{'x'}, n)
		pad := -n & 7
		if n > 65528 {
			pad = 0 // content and padding stay within 65535 bytes (php-fpm needs it)
		}
		got := writeAll(t, func(w *Writer) error { return w.WriteRecord(TypeStdout, 1, content) })
		want := cat(
			[]byte{1, 6, 0, 1, byte(n >> 8), byte(n), byte(pad), 0},
			content, make([]byte, pad))
		if !bytes.Equal(got, want) {
			t.Errorf("n=%d: header % x, %d bytes; want header % x, %d bytes", n, got[:8], len(got), want[:8], len(want))
		}
		if len(got)%8 != 0 && n <= 65528 {
			t.Errorf("n=%d: record of %d bytes is not a multiple of 8", n, len(got))
		}
	}
}

func TestWriteRecordExact(t *testing.T) {
	tests := []struct {
		name    string
		t       RecordType
		id      uint16
		content []byte
		want    []byte
	}{
		{
			name:    "begin request",
			t:       TypeBeginRequest,
			id:      1,
			content: BeginRequest{Role: RoleResponder, Flags: FlagKeepConn}.Encode(),
			want:    []byte{1, 1, 0, 1, 0, 8, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0},
		},
		{
			name: "empty stdin closes the stream",
			t:    TypeStdin,
			id:   0x0203,
			want: []byte{1, 5, 2, 3, 0, 0, 0, 0},
		},
		{
			name:    "stdout of 5 bytes padded with 3",
			t:       TypeStdout,
			id:      1,
			content: []byte("hello"),
			want:    []byte{1, 6, 0, 1, 0, 5, 3, 0, 'h', 'e', 'l', 'l', 'o', 0, 0, 0},
		},
		{
			name: "GET_VALUES of the three standard names: 48 bytes get 8 of padding",
			t:    TypeGetValues,
			content: EncodePairs([]Pair{
				{MaxConns, ""}, {MaxReqs, ""}, {MpxsConns, ""},
			}),
			want: cat(
				[]byte{1, 9, 0, 0, 0, 48, 8, 0},
				[]byte{14, 0}, "FCGI_MAX_CONNS",
				[]byte{13, 0}, "FCGI_MAX_REQS",
				[]byte{15, 0}, "FCGI_MPXS_CONNS",
				make([]byte, 8)),
		},
		{
			name: "empty GET_VALUES is padded with 8",
			t:    TypeGetValues,
			want: []byte{1, 9, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		},
		{
			name:    "UNKNOWN_TYPE body of 8 gets 8 of padding",
			t:       TypeUnknownType,
			content: UnknownTypeBody(20),
			want:    cat([]byte{1, 11, 0, 0, 0, 8, 8, 0, 20, 0, 0, 0, 0, 0, 0, 0}, make([]byte, 8)),
		},
		{
			name:    "GET_VALUES_RESULT not a multiple of 8 gets the usual padding",
			t:       TypeGetValuesResult,
			content: EncodePairs([]Pair{{MpxsConns, "0"}}),
			want:    cat([]byte{1, 10, 0, 0, 0, 18, 6, 0, 15, 1}, "FCGI_MPXS_CONNS0", make([]byte, 6)),
		},
		{
			name:    "any record on request id 0 is padded like a management record",
			t:       TypeStdout,
			content: []byte("8 bytes!"),
			want:    cat([]byte{1, 6, 0, 0, 0, 8, 8, 0}, "8 bytes!", make([]byte, 8)),
		},
		{
			name: "probe of an unknown type on id 0",
			t:    20,
			want: []byte{1, 20, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		},
		{
			name:    "END_REQUEST is not a management record: no padding",
			t:       TypeEndRequest,
			id:      1,
			content: EndRequest{AppStatus: 1, ProtocolStatus: RequestComplete}.Encode(),
			want:    []byte{1, 3, 0, 1, 0, 8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := writeAll(t, func(w *Writer) error { return w.WriteRecord(tt.t, tt.id, tt.content) })
			if !bytes.Equal(got, tt.want) {
				t.Errorf("wrote\n% x\nwant\n% x", got, tt.want)
			}
		})
	}
}

func TestWriteRecordTooLong(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	if err := w.WriteRecord(TypeStdout, 1, make([]byte, MaxContent+1)); err == nil {
		t.Fatal("no error for 65536 bytes of content")
	}
	w.Flush()
	if w.Offset() != 0 || buf.Len() != 0 {
		t.Errorf("wrote %d bytes (Offset %d) for a refused record", buf.Len(), w.Offset())
	}
}

func TestWriteStream66000(t *testing.T) {
	data := make([]byte, 66000)
	for i := range data {
		data[i] = byte(i*7 + 3)
	}
	got := writeAll(t, func(w *Writer) error { return w.WriteStream(TypeStdin, 1, data) })
	want := cat(
		[]byte{1, 5, 0, 1, 0xff, 0xff, 0, 0}, data[:65535],
		[]byte{1, 5, 0, 1, 0x01, 0xd1, 7, 0}, data[65535:], make([]byte, 7),
	)
	if len(got) != 66023 {
		t.Errorf("wrote %d bytes, want 66023", len(got))
	}
	if !bytes.Equal(got, want) {
		t.Errorf("stream differs: first header % x, second header % x", got[:8], got[65543:65551])
	}
	if got := writeAll(t, func(w *Writer) error { return w.WriteStream(TypeStdin, 1, nil) }); len(got) != 0 {
		t.Errorf("WriteStream(nil) wrote % x, want nothing (it does not close the stream)", got)
	}
}

func TestWriteRawRecord(t *testing.T) {
	tests := []struct {
		name     string
		h        Header
		content  []byte
		padding  []byte
		wantWire []byte
	}{
		{
			name:     "lengths that lie",
			h:        Header{Version: 1, Type: TypeStdout, RequestID: 1, ContentLength: 100, PaddingLength: 9},
			content:  []byte("abc"),
			padding:  []byte("ZZ"),
			wantWire: []byte{1, 6, 0, 1, 0, 100, 9, 0, 'a', 'b', 'c', 'Z', 'Z'},
		},
		{
			name:     "version 2, reserved byte, nothing else",
			h:        Header{Version: 2, Type: 99, Reserved: 0xaa},
			wantWire: []byte{2, 99, 0, 0, 0, 0, 0, 0xaa},
		},
		{
			name:     "management record without padding",
			h:        Header{Version: 1, Type: TypeGetValues, ContentLength: 2},
			content:  []byte{0, 0},
			wantWire: []byte{1, 9, 0, 0, 0, 2, 0, 0, 0, 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := writeAll(t, func(w *Writer) error { return w.WriteRawRecord(tt.h, tt.content, tt.padding) })
			if !bytes.Equal(got, tt.wantWire) {
				t.Errorf("wrote % x, want % x", got, tt.wantWire)
			}
		})
	}
}

func TestWriterOffsetAndObserver(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	var events []Event
	w.Observe = func(e Event) {
		e.Content = append([]byte(nil), e.Content...)
		events = append(events, e)
	}
	steps := []struct {
		f          func() error
		offsetThen int64
	}{
		{func() error { return w.WriteRecord(TypeBeginRequest, 1, BeginRequest{Role: RoleResponder}.Encode()) }, 16},
		{func() error { return w.WriteRecord(TypeParams, 1, []byte{1, 1, 'a', 'b'}) }, 32},
		{func() error { return w.WriteRecord(TypeParams, 1, nil) }, 40},
		{func() error { return w.WriteRecord(TypeGetValues, 0, nil) }, 56},
		{func() error {
			return w.WriteRawRecord(Header{Version: 1, Type: TypeStdin, RequestID: 1, ContentLength: 3}, []byte("xyz"), nil)
		}, 67},
		{func() error { return w.WriteStream(TypeStdin, 1, make([]byte, 65536)) }, 67 + 8 + 65535 + 8 + 1 + 7},
	}
	for i, s := range steps {
		if err := s.f(); err != nil {
			t.Fatal(err)
		}
		if w.Offset() != s.offsetThen {
			t.Errorf("step %d: Offset = %d, want %d", i, w.Offset(), s.offsetThen)
		}
	}
	// Offset counts buffered bytes; nothing reached buf before Flush.
	if buf.Len() != 0 {
		t.Errorf("%d bytes reached the stream before Flush", buf.Len())
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if int64(buf.Len()) != w.Offset() {
		t.Errorf("flushed %d bytes, Offset %d", buf.Len(), w.Offset())
	}
	want := []struct {
		off  int64
		t    RecordType
		clen uint16
		plen uint8
		n    int
	}{
		{0, TypeBeginRequest, 8, 0, 8},
		{16, TypeParams, 4, 4, 4},
		{32, TypeParams, 0, 0, 0},
		{40, TypeGetValues, 0, 8, 0},
		{56, TypeStdin, 3, 0, 3},
		{67, TypeStdin, 65535, 0, 65535},
		{67 + 65543, TypeStdin, 1, 7, 1},
	}
	if len(events) != len(want) {
		t.Fatalf("%d events, want %d", len(events), len(want))
	}
	for i, e := range events {
		wt := want[i]
		if e.Dir != Sent || e.Offset != wt.off || e.Header.Type != wt.t || e.Header.ContentLength != wt.clen ||
			e.Header.PaddingLength != wt.plen || len(e.Content) != wt.n {
			t.Errorf("event %d = {%v %d %+v %d bytes}, want {sent %d %v clen %d plen %d, %d bytes}",
				i, e.Dir, e.Offset, e.Header, len(e.Content), wt.off, wt.t, wt.clen, wt.plen, wt.n)
		}
	}
	if string(events[4].Content) != "xyz" {
		t.Errorf("raw record content = %q", events[4].Content)
	}
}

// failWriter accepts limit bytes, then fails.
type failWriter struct {
	limit int
	n     int
}

var errWrite = errors.New("write failed")

func (f *failWriter) Write(b []byte) (int, error) {
	if f.n+len(b) > f.limit {
		k := f.limit - f.n
		f.n = f.limit
		return k, errWrite
	}
	f.n += len(b)
	return len(b), nil
}

func TestWriterError(t *testing.T) {
	w := NewWriter(&failWriter{limit: 10})
	err := w.WriteStream(TypeStdin, 1, make([]byte, 200000))
	if err == nil {
		err = w.Flush()
	}
	if !errors.Is(err, errWrite) {
		t.Errorf("error = %v, want the underlying write error", err)
	}
}

// A sample multi-record stream and the records it holds.
func sampleStream() ([]byte, []Record) {
	recs := []Record{
		{Header: Header{Version: 1, Type: TypeStdout, RequestID: 1, ContentLength: 5, PaddingLength: 3}, Content: []byte("hello")},
		{Header: Header{Version: 1, Type: TypeGetValuesResult, ContentLength: 0, PaddingLength: 8}, Content: []byte{}},
		{Header: Header{Version: 1, Type: TypeStderr, RequestID: 1, ContentLength: 3, PaddingLength: 0}, Content: []byte("err")},
		{Header: Header{Version: 1, Type: TypeStdout, RequestID: 1, ContentLength: 1, PaddingLength: 255}, Content: []byte("!")},
		{Header: Header{Version: 1, Type: TypeStdout, RequestID: 1}, Content: []byte{}},
		{Header: Header{Version: 1, Type: TypeEndRequest, RequestID: 1, ContentLength: 8, PaddingLength: 0, Reserved: 9}, Content: EndRequest{AppStatus: 3}.Encode()},
	}
	var b []byte
	for _, r := range recs {
		hb := make([]byte, HeaderLen)
		r.Header.Encode(hb)
		b = append(b, hb...)
		b = append(b, r.Content...)
		b = append(b, bytes.Repeat([]byte{0xa5}, int(r.PaddingLength))...)
	}
	return b, recs
}

// readAll reads records until an error and returns copies of them.
func readAll(r *Reader) ([]Record, error) {
	var out []Record
	for i := 0; i < 1000; i++ {
		rec, err := r.ReadRecord()
		if err != nil {
			return out, err
		}
		rec.Content = append([]byte{}, rec.Content...)
		out = append(out, rec)
	}
	return out, errors.New("readAll: too many records")
}

func TestReaderBoundaries(t *testing.T) {
	stream, want := sampleStream()
	check := func(t *testing.T, name string, src io.Reader) {
		t.Helper()
		r := NewReader(src)
		got, err := readAll(r)
		if err != io.EOF {
			t.Errorf("%s: error = %v, want io.EOF", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: records differ:\n%+v\nwant\n%+v", name, got, want)
		}
		if r.Offset() != int64(len(stream)) {
			t.Errorf("%s: Offset = %d, want %d", name, r.Offset(), len(stream))
		}
	}
	check(t, "whole", bytes.NewReader(stream))
	check(t, "one byte", iotest.OneByteReader(bytes.NewReader(stream)))
	check(t, "half", iotest.HalfReader(bytes.NewReader(stream)))
	check(t, "data with EOF", iotest.DataErrReader(bytes.NewReader(stream)))
	for i := 1; i < len(stream); i++ {
		check(t, "split", io.MultiReader(bytes.NewReader(stream[:i]), bytes.NewReader(stream[i:])))
	}
	// Two splits, at every pair of positions in the first few records.
	for i := 1; i < 40; i++ {
		for j := i + 1; j < 48; j++ {
			check(t, "split twice", io.MultiReader(bytes.NewReader(stream[:i]), bytes.NewReader(stream[i:j]), bytes.NewReader(stream[j:])))
		}
	}
}

func TestReaderPadding(t *testing.T) {
	for pad := 0; pad <= MaxPadding; pad++ {
		stream := cat(
			hdr(TypeStdout, 1, 3, pad), "abc", bytes.Repeat([]byte{0xff}, pad),
			rec(TypeStdout, 1, "", 0),
		)
		r := NewReader(iotest.HalfReader(bytes.NewReader(stream)))
		got, err := r.ReadRecord()
		if err != nil || string(got.Content) != "abc" || int(got.PaddingLength) != pad {
			t.Fatalf("pad %d: %+v, %v", pad, got, err)
		}
		if r.Offset() != int64(11+pad) {
			t.Fatalf("pad %d: Offset = %d", pad, r.Offset())
		}
		got, err = r.ReadRecord()
		if err != nil || got.Type != TypeStdout || got.ContentLength != 0 {
			t.Fatalf("pad %d: record after padding = %+v, %v", pad, got, err)
		}
		if _, err := r.ReadRecord(); err != io.EOF {
			t.Fatalf("pad %d: error = %v, want io.EOF", pad, err)
		}
	}
}

func TestReaderObserver(t *testing.T) {
	stream, want := sampleStream()
	r := NewReader(bytes.NewReader(stream))
	var events []Event
	r.Observe = func(e Event) {
		e.Content = append([]byte{}, e.Content...)
		events = append(events, e)
	}
	if _, err := readAll(r); err != io.EOF {
		t.Fatal(err)
	}
	var off int64
	for i, e := range events {
		if e.Dir != Received || e.Offset != off || e.Header != want[i].Header || !bytes.Equal(e.Content, want[i].Content) {
			t.Errorf("event %d = %+v, want offset %d %+v", i, e, off, want[i])
		}
		off += int64(want[i].Len())
	}
	if len(events) != len(want) {
		t.Errorf("%d events, want %d", len(events), len(want))
	}
}

func TestReaderErrors(t *testing.T) {
	good := rec(TypeStdout, 1, "hello", 3) // 16 bytes
	tests := []struct {
		name     string
		in       []byte
		sentinel error
		offset   int64
		rt       RecordType
		records  int // records read before the error
		reason   string
	}{
		{"bad version 2 after a good record", cat(good, []byte{2, 6, 0, 1, 0, 0, 0, 0}), ErrBadVersion, 16, TypeStdout, 1, "version byte is 2"},
		{"bad version 0 first", []byte{0, 3, 0, 1, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, ErrBadVersion, 0, TypeEndRequest, 0, "version byte is 0"},
		{"an HTTP answer", []byte("HTTP/1.1 400 Bad Request\r\n\r\n"), ErrBadVersion, 0, 0, 0, `the peer answered in HTTP ("HTTP/1.1"), not FastCGI`},
		{"truncated header", cat(good, []byte{1, 6, 0, 1, 0}), ErrTruncated, 16, 0, 1, "stream ended after 5 of 8 header bytes"},
		{"one header byte", []byte{1}, ErrTruncated, 0, 0, 0, "stream ended after 1 of 8 header bytes"},
		{"truncated content", cat(good, hdr(TypeStdout, 1, 10, 6), "abc"), ErrTruncated, 16, TypeStdout, 1, "header announces 10 content and 6 padding bytes, stream ended after 3"},
		{"header only", cat(good, good, hdr(TypeStderr, 1, 1, 7)), ErrTruncated, 32, TypeStderr, 2, "header announces 1 content and 7 padding bytes, stream ended after 0"},
		{"truncated padding", cat(good, hdr(TypeStdout, 1, 2, 6), "ab", make([]byte, 5)), ErrTruncated, 16, TypeStdout, 1, "header announces 2 content and 6 padding bytes, stream ended after 7"},
	}
	for _, tt := range tests {
		for _, mode := range []string{"whole", "one byte"} {
			t.Run(tt.name+"/"+mode, func(t *testing.T) {
				var src io.Reader = bytes.NewReader(tt.in)
				if mode == "one byte" {
					src = iotest.OneByteReader(src)
				}
				got, err := readAll(NewReader(src))
				if len(got) != tt.records {
					t.Errorf("read %d records before the error, want %d", len(got), tt.records)
				}
				if !errors.Is(err, tt.sentinel) {
					t.Fatalf("error = %v, want %v", err, tt.sentinel)
				}
				var pe *ProtocolError
				if !errors.As(err, &pe) {
					t.Fatalf("error %T is not a *ProtocolError", err)
				}
				if pe.Offset != tt.offset || pe.RecordType != tt.rt || pe.Reason != tt.reason {
					t.Errorf("ProtocolError = {Offset %d, %v, %q}, want {%d, %v, %q}", pe.Offset, pe.RecordType, pe.Reason, tt.offset, tt.rt, tt.reason)
				}
			})
		}
	}
}

func TestReaderCleanEOF(t *testing.T) {
	for _, in := range [][]byte{nil, rec(TypeStdout, 1, "x", 7), cat(rec(TypeStdout, 1, "x", 7), rec(TypeStdout, 1, "", 0))} {
		_, err := readAll(NewReader(bytes.NewReader(in)))
		if err != io.EOF {
			t.Errorf("%d bytes: error = %#v, want io.EOF itself", len(in), err)
		}
	}
}

func TestReaderPassesOtherErrors(t *testing.T) {
	errBoom := errors.New("boom")
	// Inside a header, inside a body, and between records.
	for _, cut := range []int{3, 12, 16} {
		src := io.MultiReader(bytes.NewReader(rec(TypeStdout, 1, "hello", 3)[:cut]), iotest.ErrReader(errBoom))
		_, err := readAll(NewReader(src))
		if err != errBoom {
			t.Errorf("cut %d: error = %v, want the reader's own error", cut, err)
		}
	}
}

func TestWriterReaderRoundTrip(t *testing.T) {
	data := make([]byte, 200003)
	for i := range data {
		data[i] = byte(i % 251)
	}
	stream := writeAll(t, func(w *Writer) error {
		if err := w.WriteStream(TypeStdout, 9, data); err != nil {
			return err
		}
		return w.WriteRecord(TypeStdout, 9, nil)
	})
	r := NewReader(iotest.HalfReader(bytes.NewReader(stream)))
	var got []byte
	for {
		rec, err := r.ReadRecord()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec.Type != TypeStdout || rec.RequestID != 9 || (rec.Len()%8 != 0 && rec.ContentLength <= 65528) {
			t.Fatalf("header %+v", rec.Header)
		}
		got = append(got, rec.Content...)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("round trip lost bytes: %d of %d", len(got), len(data))
	}
}
