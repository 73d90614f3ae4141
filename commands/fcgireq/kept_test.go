package fcgireq

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
	"unicode/utf8"
)

// utf8Check agrees with utf8.Valid however the stream is cut.
func TestUTF8CheckInPieces(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	alphabet := []string{"a", "\u00e9", "\u20ac", "\U0001F600", "\xff", "\xe2\x82", "\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80"}
	for range 5000 {
		var b []byte
		for range r.IntN(12) {
			b = append(b, alphabet[r.IntN(len(alphabet))]...)
		}
		var c utf8Check
		for rest := b; len(rest) > 0; {
			n := 1 + r.IntN(len(rest))
			c.feed(rest[:n])
			rest = rest[n:]
		}
		if c.valid() != utf8.Valid(b) {
			t.Fatalf("%q: utf8Check says %v, utf8.Valid %v", b, c.valid(), utf8.Valid(b))
		}
	}
}

// KeptStream keeps the first Max bytes, in memory and past keptInMemory in
// a temporary file, and reads them back whole.
func TestKeptStream(t *testing.T) {
	for _, size := range []int{0, 10, keptInMemory, keptInMemory + 1, 3*keptInMemory + 17} {
		in := bytes.Repeat([]byte("\u00e9x"), size/3+1)
		k := &KeptStream{Max: int64(size)}
		for rest := in; len(rest) > 0; {
			n := min(len(rest), 65535)
			if w, err := k.Write(rest[:n]); w != n || err != nil {
				t.Fatalf("Write = %d, %v", w, err)
			}
			rest = rest[n:]
		}
		s := k.Stream()
		got, err := io.ReadAll(s.R)
		if err != nil {
			t.Fatal(err)
		}
		want := in[:size]
		if !bytes.Equal(got, want) || !k.Truncated || s.UTF8 != utf8.Valid(want) {
			t.Errorf("size %d: got %d bytes (equal %v), truncated %v, UTF8 %v", size, len(got), bytes.Equal(got, want), k.Truncated, s.UTF8)
		}
		if (k.file != nil) != (size > keptInMemory) {
			t.Errorf("size %d: in a file: %v", size, k.file != nil)
		}
		k.Close()
	}
}
