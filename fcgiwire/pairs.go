package fcgiwire

import (
	"encoding/binary"
	"fmt"
)

// Pair is one name-value pair of a PARAMS or GET_VALUES(_RESULT) body.
// Pairs are kept in a slice, not a map, so their order is kept.
type Pair struct {
	Name  string
	Value string
}

// maxLen1 is the largest length encoded in one byte; longer lengths take
// four bytes with the high bit set.
const maxLen1 = 127

func lenSize(n int) int {
	if n <= maxLen1 {
		return 1
	}
	return 4
}

// PairSize returns the encoded size of a pair.
func PairSize(p Pair) int {
	return lenSize(len(p.Name)) + lenSize(len(p.Value)) + len(p.Name) + len(p.Value)
}

func appendLen(b []byte, n int) []byte {
	if n <= maxLen1 {
		return append(b, byte(n))
	}
	return binary.BigEndian.AppendUint32(b, uint32(n)|1<<31)
}

// AppendPair appends the encoding of p to b.
func AppendPair(b []byte, p Pair) []byte {
	b = appendLen(b, len(p.Name))
	b = appendLen(b, len(p.Value))
	b = append(b, p.Name...)
	return append(b, p.Value...)
}

// EncodePairs returns the concatenated encoding of pairs, in order.
func EncodePairs(pairs []Pair) []byte {
	n := 0
	for _, p := range pairs {
		n += PairSize(p)
	}
	b := make([]byte, 0, n)
	for _, p := range pairs {
		b = AppendPair(b, p)
	}
	return b
}

// PairTooLargeError reports a pair whose encoding exceeds one record.
type PairTooLargeError struct {
	Name string
	Size int // encoded size
}

func (e *PairTooLargeError) Error() string {
	return fmt.Sprintf("param %s is %d bytes encoded; one record holds at most %d", e.Name, e.Size, MaxPairLen)
}

func (e *PairTooLargeError) Unwrap() error { return ErrPairTooLarge }

// SplitPairs encodes pairs into record bodies of at most MaxContent bytes,
// in order, without ever splitting a pair across two bodies. A pair too
// large for one record yields a *PairTooLargeError.
func SplitPairs(pairs []Pair) ([][]byte, error) {
	_, bodies, err := splitPairsInto(nil, nil, pairs)
	if err != nil {
		return nil, err
	}
	return bodies, nil
}

// splitPairsInto is SplitPairs encoding into buf and listing the bodies in
// bodies, both reused from their start, so a caller that keeps them
// between requests allocates nothing once they are large enough. The
// bodies are slices of the returned buffer.
func splitPairsInto(buf []byte, bodies [][]byte, pairs []Pair) ([]byte, [][]byte, error) {
	buf, bodies = buf[:0], bodies[:0]
	start, n := 0, 0
	for _, p := range pairs {
		n += PairSize(p)
	}
	if cap(buf) < n {
		buf = make([]byte, 0, n)
	}
	for _, p := range pairs {
		size := PairSize(p)
		if size > MaxPairLen {
			return buf, bodies, &PairTooLargeError{Name: p.Name, Size: size}
		}
		if len(buf)-start+size > MaxContent {
			bodies = append(bodies, buf[start:len(buf):len(buf)])
			start = len(buf)
		}
		buf = AppendPair(buf, p)
	}
	if len(buf) > start {
		bodies = append(bodies, buf[start:len(buf):len(buf)])
	}
	return buf, bodies, nil
}

// DecodePairs decodes a complete name-value body. base is the offset of b
// in the peer's stream, used in errors. Malformed input yields a
// *ProtocolError wrapping ErrBadPair with the offset of the bad pair.
func DecodePairs(b []byte, base int64) ([]Pair, error) {
	var pairs []Pair
	for off := 0; off < len(b); {
		p, n, err := decodePair(b[off:])
		if err != nil {
			return pairs, protoErr(base+int64(off), 0, ErrBadPair, "%s", err)
		}
		pairs = append(pairs, p)
		off += n
	}
	return pairs, nil
}

// DecodePair decodes the pair at the start of b and returns its encoded
// size. It fails when b ends before the pair does, which, for a pair that
// may go on in the next record, means "need more bytes".
func DecodePair(b []byte) (Pair, int, error) { return decodePair(b) }

// decodePair decodes the pair at the start of b and returns its size.
func decodePair(b []byte) (Pair, int, error) {
	nameLen, n1, err := decodeLen(b, "name")
	if err != nil {
		return Pair{}, 0, err
	}
	valueLen, n2, err := decodeLen(b[n1:], "value")
	if err != nil {
		return Pair{}, 0, err
	}
	start := n1 + n2
	rest := len(b) - start
	if nameLen > rest || valueLen > rest-nameLen {
		return Pair{}, 0, fmt.Errorf("name length %d and value length %d run past the %d bytes left", nameLen, valueLen, rest)
	}
	name := string(b[start : start+nameLen])
	value := string(b[start+nameLen : start+nameLen+valueLen])
	return Pair{Name: name, Value: value}, start + nameLen + valueLen, nil
}

func decodeLen(b []byte, what string) (int, int, error) {
	if len(b) == 0 {
		return 0, 0, fmt.Errorf("missing %s length", what)
	}
	if b[0]>>7 == 0 {
		return int(b[0]), 1, nil
	}
	if len(b) < 4 {
		return 0, 0, fmt.Errorf("%s length needs 4 bytes, %d left", what, len(b))
	}
	return int(binary.BigEndian.Uint32(b) &^ (1 << 31)), 4, nil
}
