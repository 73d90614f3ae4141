package fcgiwire

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"slices"
	"testing"
	"testing/iotest"
)

// The seed corpora live in testdata/fuzz/<FuzzName>/; plain go test runs
// them.

// readOutcome reads records from src until an error and describes what it
// saw: the headers and contents, and the final error.
func readOutcome(t *testing.T, data []byte, src io.Reader) ([]Record, error) {
	r := NewReader(src)
	var recs []Record
	var off int64
	// A record is at least 8 bytes: more than len/8 records is a loop.
	for range len(data)/HeaderLen + 1 {
		rec, err := r.ReadRecord()
		if err != nil {
			if err == io.EOF && off != int64(len(data)) {
				t.Fatalf("io.EOF at offset %d of %d", off, len(data))
			}
			return recs, err
		}
		if rec.Version != Version1 {
			t.Fatalf("record with version %d accepted", rec.Version)
		}
		if len(rec.Content) != int(rec.ContentLength) {
			t.Fatalf("content of %d bytes, header says %d", len(rec.Content), rec.ContentLength)
		}
		// The record is exactly the bytes at its offset.
		want := data[off : off+HeaderLen+int64(rec.ContentLength)]
		hb := make([]byte, HeaderLen)
		rec.Header.Encode(hb)
		if !bytes.Equal(append(hb, rec.Content...), want) {
			t.Fatalf("record at %d does not match its bytes", off)
		}
		off += int64(rec.Len())
		if r.Offset() != off {
			t.Fatalf("Offset %d, records add up to %d", r.Offset(), off)
		}
		rec.Content = append([]byte{}, rec.Content...)
		recs = append(recs, rec)
	}
	t.Fatalf("more records than %d bytes can hold", len(data))
	return nil, nil
}

func FuzzReader(f *testing.F) {
	f.Add(cat(beginRec(1, RoleResponder, FlagKeepConn), streamRec(TypeStdout, 1, "hi"), endRec(1, 0, RequestComplete)))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := readOutcome(t, data, bytes.NewReader(data))
		if err != io.EOF {
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T %v is not a *ProtocolError", err, err)
			}
			if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrBadVersion) {
				t.Fatalf("unexpected error %v", err)
			}
			var end int64
			for _, r := range recs {
				end += int64(r.Len())
			}
			if pe.Offset != end {
				t.Fatalf("error at offset %d, the bad record starts at %d", pe.Offset, end)
			}
		}
		// Read boundaries change nothing.
		recs1, err1 := readOutcome(t, data, iotest.OneByteReader(bytes.NewReader(data)))
		if !reflect.DeepEqual(recs, recs1) || fmtErr(err) != fmtErr(err1) {
			t.Fatalf("one byte at a time: %v, whole: %v", err1, err)
		}
	})
}

func fmtErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func FuzzDecodePairs(f *testing.F) {
	f.Add([]byte{1, 1, 'a', 'b'})
	f.Fuzz(func(t *testing.T, data []byte) {
		const base = 100
		pairs, err := DecodePairs(data, base)
		if err != nil {
			var pe *ProtocolError
			if !errors.As(err, &pe) || !errors.Is(err, ErrBadPair) {
				t.Fatalf("error %v is not a ProtocolError wrapping ErrBadPair", err)
			}
			if pe.Offset < base || pe.Offset >= base+int64(len(data)) {
				t.Fatalf("error offset %d outside the input [%d, %d)", pe.Offset, base, base+len(data))
			}
			// The pairs before the fault decode from the bytes before it.
			if n := len(EncodePairs(pairs)); int64(n) > pe.Offset-base {
				t.Fatalf("%d bytes of pairs before offset %d", n, pe.Offset)
			}
			return
		}
		// encode -> decode -> encode round-trips. The input itself need
		// not come back: a four-byte length may carry a small value.
		enc := EncodePairs(pairs)
		if len(enc) > len(data) {
			t.Fatalf("canonical encoding of %d bytes is longer than the %d-byte input", len(enc), len(data))
		}
		back, err := DecodePairs(enc, 0)
		if err != nil {
			t.Fatalf("decoding our own encoding: %v", err)
		}
		if !reflect.DeepEqual(back, pairs) {
			t.Fatalf("decode(encode(pairs)) = %q, want %q", back, pairs)
		}
		if !bytes.Equal(EncodePairs(back), enc) {
			t.Fatalf("encoding is not stable")
		}
		// SplitPairs yields the same bytes in bodies that each decode alone.
		bodies, err := SplitPairs(pairs)
		if err != nil {
			if !errors.Is(err, ErrPairTooLarge) {
				t.Fatalf("SplitPairs: %v", err)
			}
			return
		}
		var joined []byte
		var again []Pair
		for _, b := range bodies {
			if len(b) == 0 || len(b) > MaxContent {
				t.Fatalf("body of %d bytes", len(b))
			}
			ps, err := DecodePairs(b, 0)
			if err != nil {
				t.Fatalf("a body does not decode alone: %v", err)
			}
			again = append(again, ps...)
			joined = append(joined, b...)
		}
		if !bytes.Equal(joined, enc) || !reflect.DeepEqual(again, pairs) {
			t.Fatalf("SplitPairs changed the pairs")
		}
	})
}

func FuzzCGIParser(f *testing.F) {
	f.Add([]byte("Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nbody"), byte(3), uint16(0))
	f.Fuzz(func(t *testing.T, data []byte, chunk byte, maxHeader uint16) {
		run := func(chunk int) (*ResponseParser, []byte, int) {
			var body bytes.Buffer
			calls := 0
			p := &ResponseParser{Body: &body, MaxHeaderBytes: int(maxHeader)}
			p.OnHeaders = func(*CGIResponse) error {
				calls++
				if body.Len() != 0 {
					t.Fatalf("OnHeaders after %d body bytes", body.Len())
				}
				return nil
			}
			for rest := data; len(rest) > 0; {
				k := min(chunk, len(rest))
				if n, err := p.Write(rest[:k]); n != k || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
				rest = rest[k:]
			}
			if err := p.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			return p, body.Bytes(), calls
		}
		p, body, calls := run(int(chunk%32) + 1)
		switch {
		case p.Done && p.Err == nil:
			// The header block and the body account for every byte.
			hb := p.Response.HeaderBytes
			if hb < 1 || hb > len(data) || !bytes.Equal(data[hb:], body) {
				t.Fatalf("header block of %d bytes and %d body bytes do not make the %d-byte input", hb, len(body), len(data))
			}
			if !bytes.HasSuffix(data[:hb], []byte("\n\n")) && !bytes.HasSuffix(data[:hb], []byte("\n\r\n")) && hb > 2 {
				t.Fatalf("header block %q does not end with a blank line", data[:hb])
			}
			if calls != 1 {
				t.Fatalf("OnHeaders called %d times", calls)
			}
			if s := p.Response.Status; s < 100 || s > 999 {
				t.Fatalf("status %d", s)
			}
		case !p.Done && p.Err != nil:
			if !errors.Is(p.Err, ErrCGIHeader) {
				t.Fatalf("Err %v does not wrap ErrCGIHeader", p.Err)
			}
			if !bytes.Equal(body, data) {
				t.Fatalf("malformed: %d bytes reached Body, want all %d", len(body), len(data))
			}
			if calls != 0 {
				t.Fatalf("OnHeaders called on a malformed response")
			}
		default:
			t.Fatalf("Done %v, Err %v", p.Done, p.Err)
		}
		// Write boundaries change nothing, the header limit included.
		p1, body1, _ := run(len(data) + 1)
		if p1.Done != p.Done || fmtErr(p1.Err) != fmtErr(p.Err) || !reflect.DeepEqual(p1.Response, p.Response) || !bytes.Equal(body1, body) {
			t.Fatalf("one write: Done %v Err %v %+v; chunks of %d: Done %v Err %v %+v",
				p1.Done, p1.Err, p1.Response, chunk%32+1, p.Done, p.Err, p.Response)
		}
		// A parser used before, with Reset, parses as a new one does,
		// whatever lines it kept from the responses before.
		reused := &ResponseParser{MaxHeaderBytes: int(maxHeader)}
		for _, in := range [][]byte{data, []byte("Status: 404 Gone\r\nX-A: 1\r\n\r\n"), data, data} {
			reused.Reset()
			if _, err := reused.Write(in); err != nil {
				t.Fatal(err)
			}
			if err := reused.Close(); err != nil {
				t.Fatal(err)
			}
		}
		r, n := reused.Response, p1.Response
		sameResponse := r.Status == n.Status && r.Reason == n.Reason && r.HeaderBytes == n.HeaderBytes && slices.Equal(r.Headers, n.Headers)
		if reused.Done != p1.Done || fmtErr(reused.Err) != fmtErr(p1.Err) || !sameResponse {
			t.Fatalf("reused parser: Done %v Err %v %+v; a new one: Done %v Err %v %+v",
				reused.Done, reused.Err, reused.Response, p1.Done, p1.Err, p1.Response)
		}
	})
}
