package fcgiwire

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// cat concatenates byte slices and strings into one slice.
func cat(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch p := p.(type) {
		case []byte:
			b = append(b, p...)
		case string:
			b = append(b, p...)
		case byte:
			b = append(b, p)
		default:
			panic("cat: unexpected type")
		}
	}
	return b
}

func TestEncodePair(t *testing.T) {
	n127 := strings.Repeat("n", 127)
	n128 := strings.Repeat("n", 128)
	v127 := strings.Repeat("v", 127)
	v128 := strings.Repeat("v", 128)
	v300 := strings.Repeat("v", 300)
	v70000 := strings.Repeat("v", 70000)
	tests := []struct {
		name string
		p    Pair
		wire []byte
	}{
		{"empty name and value", Pair{}, []byte{0x00, 0x00}},
		{"empty value", Pair{"REQUEST_METHOD", ""}, cat([]byte{14, 0}, "REQUEST_METHOD")},
		{"short", Pair{"A", "bc"}, []byte{1, 2, 'A', 'b', 'c'}},
		{"name 127 one byte", Pair{n127, "x"}, cat([]byte{0x7f, 0x01}, n127, "x")},
		{"name 128 four bytes", Pair{n128, "x"}, cat([]byte{0x80, 0x00, 0x00, 0x80, 0x01}, n128, "x")},
		{"value 127 one byte", Pair{"N", v127}, cat([]byte{0x01, 0x7f}, "N", v127)},
		{"value 128 four bytes", Pair{"N", v128}, cat([]byte{0x01, 0x80, 0x00, 0x00, 0x80}, "N", v128)},
		{"both 128", Pair{n128, v128}, cat([]byte{0x80, 0, 0, 0x80, 0x80, 0, 0, 0x80}, n128, v128)},
		{"value 300", Pair{"N", v300}, cat([]byte{0x01, 0x80, 0x00, 0x01, 0x2c}, "N", v300)},
		{"value 70000", Pair{"N", v70000}, cat([]byte{0x01, 0x80, 0x01, 0x11, 0x70}, "N", v70000)},
		{"binary bytes kept", Pair{"\x00\xff", "\r\n"}, []byte{2, 2, 0x00, 0xff, '\r', '\n'}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendPair([]byte("prefix"), tt.p)
			if want := cat("prefix", tt.wire); !bytes.Equal(got, want) {
				t.Errorf("AppendPair = % x, want % x", head(got, 16), head(want, 16))
			}
			if got := EncodePairs([]Pair{tt.p}); !bytes.Equal(got, tt.wire) {
				t.Errorf("EncodePairs = % x, want % x", head(got, 16), head(tt.wire, 16))
			}
			if n := PairSize(tt.p); n != len(tt.wire) {
				t.Errorf("PairSize = %d, want %d", n, len(tt.wire))
			}
			pairs, err := DecodePairs(tt.wire, 0)
			if err != nil || len(pairs) != 1 || pairs[0] != tt.p {
				t.Errorf("DecodePairs = %q, %v", pairs, err)
			}
		})
	}
}

func head(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

func TestEncodePairsKeepsOrder(t *testing.T) {
	pairs := []Pair{{"Z", "1"}, {"A", ""}, {"Z", "3"}, {"m", "x"}}
	want := []byte{1, 1, 'Z', '1', 1, 0, 'A', 1, 1, 'Z', '3', 1, 1, 'm', 'x'}
	got := EncodePairs(pairs)
	if !bytes.Equal(got, want) {
		t.Fatalf("EncodePairs = % x, want % x", got, want)
	}
	back, err := DecodePairs(got, 0)
	if err != nil || !reflect.DeepEqual(back, pairs) {
		t.Errorf("DecodePairs = %q, %v", back, err)
	}
	if got := EncodePairs(nil); len(got) != 0 {
		t.Errorf("EncodePairs(nil) = % x", got)
	}
}

func TestDecodePairsNonCanonical(t *testing.T) {
	// A four-byte length may carry a small value; it is legal and decodes.
	b := []byte{0x80, 0, 0, 1, 0x80, 0, 0, 2, 'a', 'b', 'c'}
	pairs, err := DecodePairs(b, 0)
	if err != nil || !reflect.DeepEqual(pairs, []Pair{{"a", "bc"}}) {
		t.Errorf("DecodePairs = %q, %v", pairs, err)
	}
	pairs, err = DecodePairs(nil, 0)
	if err != nil || pairs != nil {
		t.Errorf("DecodePairs(nil) = %q, %v", pairs, err)
	}
}

func TestDecodePairsErrors(t *testing.T) {
	const base = 1000
	good := []byte{1, 1, 'a', 'b'} // one valid pair, 4 bytes
	tests := []struct {
		name   string
		in     []byte
		offset int64
		before []Pair // pairs decoded before the fault
		reason string
	}{
		{"name length missing 4-byte tail", []byte{0x80, 0x00, 0x00}, base, nil, "name length needs 4 bytes, 3 left"},
		{"value length missing", []byte{0x05}, base, nil, "missing value length"},
		{"value length missing 4-byte tail", []byte{0x01, 0x80, 0x00}, base, nil, "value length needs 4 bytes, 2 left"},
		{"value runs past the end", []byte{1, 2, 'a', 'b'}, base, nil, "name length 1 and value length 2 run past the 2 bytes left"},
		{"name runs past the end", []byte{3, 0, 'a', 'b'}, base, nil, "name length 3 and value length 0 run past the 2 bytes left"},
		{"huge 4-byte name length", []byte{0xff, 0xff, 0xff, 0xff, 0x00, 'a'}, base, nil, "name length 2147483647 and value length 0 run past the 1 bytes left"},
		{"second pair truncated after a good one", cat(good, byte(0x00)), base + 4, []Pair{{"a", "b"}}, "missing value length"},
		{"second pair runs past", cat(good, good, []byte{0x01, 0x80, 0, 1, 0, 'x'}), base + 8, []Pair{{"a", "b"}, {"a", "b"}}, "name length 1 and value length 256 run past the 1 bytes left"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pairs, err := DecodePairs(tt.in, base)
			if !errors.Is(err, ErrBadPair) {
				t.Fatalf("error = %v, want ErrBadPair", err)
			}
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *ProtocolError", err)
			}
			if pe.Offset != tt.offset {
				t.Errorf("Offset = %d, want %d", pe.Offset, tt.offset)
			}
			if pe.Reason != tt.reason {
				t.Errorf("Reason = %q, want %q", pe.Reason, tt.reason)
			}
			if !reflect.DeepEqual(pairs, tt.before) {
				t.Errorf("pairs before the fault = %q, want %q", pairs, tt.before)
			}
		})
	}
}

func TestSplitPairs(t *testing.T) {
	big := func(name string, size int) Pair {
		// A pair with a one-byte name and a value long enough for a
		// four-byte length, whose encoding is exactly size bytes.
		return Pair{name, strings.Repeat("v", size-len(name)-1-4)}
	}
	p30k := []Pair{big("A", 30006), big("B", 30006), big("C", 30006)}
	exact := big("X", MaxPairLen)
	half := []Pair{big("H", 32768), big("I", 32767)}
	tests := []struct {
		name  string
		pairs []Pair
		split [][]Pair // pairs of each body
	}{
		{"none", nil, nil},
		{"one small", []Pair{{"A", "1"}}, [][]Pair{{{"A", "1"}}}},
		{"sum over 65535 splits at a pair boundary", p30k, [][]Pair{p30k[:2], p30k[2:]}},
		{"one pair of exactly 65535 fits", []Pair{exact}, [][]Pair{{exact}}},
		{"exact pair then a small one", []Pair{exact, {"S", ""}}, [][]Pair{{exact}, {{"S", ""}}}},
		{"small one then the exact pair", []Pair{{"S", ""}, exact}, [][]Pair{{{"S", ""}}, {exact}}},
		{"two pairs summing to 65535 share a body", half, [][]Pair{half}},
		{"two pairs summing to 65536 do not", []Pair{big("H", 32768), big("I", 32768)}, [][]Pair{{big("H", 32768)}, {big("I", 32768)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bodies, err := SplitPairs(tt.pairs)
			if err != nil {
				t.Fatal(err)
			}
			if len(bodies) != len(tt.split) {
				t.Fatalf("got %d bodies, want %d", len(bodies), len(tt.split))
			}
			for i, b := range bodies {
				if want := EncodePairs(tt.split[i]); !bytes.Equal(b, want) {
					t.Errorf("body %d: %d bytes, want %d bytes of pairs %d", i, len(b), len(want), len(tt.split[i]))
				}
				if len(b) > MaxContent {
					t.Errorf("body %d is %d bytes", i, len(b))
				}
			}
		})
	}
	if n := PairSize(exact); n != 65535 {
		t.Fatalf("PairSize(exact) = %d", n)
	}
}

func TestSplitPairsTooLarge(t *testing.T) {
	p := Pair{"BIG", strings.Repeat("v", 65536-3-1-4)}
	if n := PairSize(p); n != 65536 {
		t.Fatalf("PairSize = %d", n)
	}
	bodies, err := SplitPairs([]Pair{{"A", "1"}, p, {"B", "2"}})
	if bodies != nil {
		t.Errorf("bodies = %d, want none", len(bodies))
	}
	if !errors.Is(err, ErrPairTooLarge) {
		t.Fatalf("error = %v, want ErrPairTooLarge", err)
	}
	var pe *PairTooLargeError
	if !errors.As(err, &pe) {
		t.Fatalf("error %T is not a *PairTooLargeError", err)
	}
	if pe.Name != "BIG" || pe.Size != 65536 {
		t.Errorf("PairTooLargeError = %+v", pe)
	}
	if want := "param BIG is 65536 bytes encoded; one record holds at most 65535"; err.Error() != want {
		t.Errorf("message = %q, want %q", err, want)
	}
	var proto *ProtocolError
	if errors.As(err, &proto) {
		t.Errorf("a caller's pair must not be a ProtocolError")
	}
}

func TestWritePairsRecordBoundaries(t *testing.T) {
	pairs := []Pair{
		{"A", strings.Repeat("a", 40000)},
		{"B", strings.Repeat("b", 40000)},
		{"C", ""},
	}
	var buf bytes.Buffer
	w := NewWriter(&buf)
	if err := w.WritePairs(TypeParams, 3, pairs); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	r := NewReader(&buf)
	var got []Pair
	for i := 0; ; i++ {
		rec, err := r.ReadRecord()
		if err != nil {
			if i != 2 {
				t.Fatalf("record %d: %v", i, err)
			}
			break
		}
		if rec.Type != TypeParams || rec.RequestID != 3 {
			t.Errorf("record %d header %+v", i, rec.Header)
		}
		// Every record decodes alone: no pair straddles two records.
		ps, err := DecodePairs(rec.Content, 0)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		got = append(got, ps...)
	}
	if !reflect.DeepEqual(got, pairs) {
		t.Errorf("pairs differ after the round trip")
	}

	var none bytes.Buffer
	w = NewWriter(&none)
	if err := w.WritePairs(TypeParams, 1, []Pair{{"X", strings.Repeat("x", 70000)}}); !errors.Is(err, ErrPairTooLarge) {
		t.Errorf("WritePairs(too large) = %v", err)
	}
	if w.Offset() != 0 {
		t.Errorf("a refused pair wrote %d bytes", w.Offset())
	}
}

func TestDecodePair(t *testing.T) {
	b := cat(EncodePairs([]Pair{{"NAME", strings.Repeat("v", 200)}}), "next")
	p, n, err := DecodePair(b)
	if err != nil || n != 1+4+4+200 || p.Name != "NAME" || len(p.Value) != 200 {
		t.Errorf("DecodePair = %q, %d, %v", p.Name, n, err)
	}
	// Every proper prefix is incomplete: "need more bytes".
	for i := range n {
		if _, _, err := DecodePair(b[:i]); err == nil {
			t.Errorf("DecodePair(%d of %d bytes) succeeded", i, n)
		}
	}
}
