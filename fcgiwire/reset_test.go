package fcgiwire

import (
	"bytes"
	"io"
	"testing"
)

func TestReaderReset(t *testing.T) {
	stream := func(content string) []byte {
		var b bytes.Buffer
		w := NewWriter(&b)
		if err := w.WriteRecord(TypeStdout, 1, []byte(content)); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		return b.Bytes()
	}
	r := NewReader(bytes.NewReader(append(stream("first"), 1, 6))) // a cut header left in the buffer
	observed := 0
	r.Observe = func(Event) { observed++ }
	if rec, err := r.ReadRecord(); err != nil || string(rec.Content) != "first" {
		t.Fatalf("first stream: %q, %v", rec.Content, err)
	}
	r.Reset(bytes.NewReader(stream("second")))
	if r.Offset() != 0 || r.Observe != nil {
		t.Fatalf("after Reset: offset %d, observer set %t", r.Offset(), r.Observe != nil)
	}
	rec, err := r.ReadRecord()
	if err != nil || string(rec.Content) != "second" || r.Offset() != 16 {
		t.Fatalf("second stream: %q at %d, %v", rec.Content, r.Offset(), err)
	}
	if _, err := r.ReadRecord(); err != io.EOF {
		t.Fatalf("end of the second stream: %v, want io.EOF (nothing left of the first)", err)
	}
	if observed != 1 {
		t.Fatalf("the old observer saw %d records after Reset", observed-1)
	}
}
