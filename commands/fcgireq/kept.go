package fcgireq

import (
	"bytes"
	"io"
	"os"
	"unicode/utf8"

	"github.com/fcgicli/fcgicli/formatters"
)

// keptInMemory is how much of a kept stream stays in memory; the rest goes
// to a temporary file, so that request -o json costs the same memory
// whatever --max-body allows.
const keptInMemory = 1 << 20

// KeptStream keeps the first Max bytes written to it for a JSON document
// and counts the rest: up to keptInMemory in memory, then in an unlinked
// temporary file (in memory still if none can be made). It tracks whether
// the bytes kept are valid UTF-8 as they arrive, so the document knows
// before reading them back.
type KeptStream struct {
	Max       int64
	Truncated bool // more than Max bytes were written
	n         int64
	mem       []byte
	file      *os.File
	noFile    bool // a temporary file could not be made: all in memory
	utf8      utf8Check
}

func (k *KeptStream) Write(p []byte) (int, error) {
	take := p[:min(int64(len(p)), max(k.Max-k.n, 0))]
	k.Truncated = k.Truncated || len(take) < len(p)
	if len(take) == 0 {
		return len(p), nil
	}
	k.utf8.feed(take)
	if k.file == nil && (k.noFile || len(k.mem)+len(take) <= keptInMemory) {
		k.mem = append(k.mem, take...)
		k.n += int64(len(take))
		return len(p), nil
	}
	if k.file == nil {
		f, err := os.CreateTemp("", "fcgicli-kept-")
		if err != nil {
			k.noFile = true
			return k.Write(p)
		}
		os.Remove(f.Name()) // the open file stays usable
		if _, err := f.Write(k.mem); err != nil {
			f.Close()
			return 0, err
		}
		k.file, k.mem = f, nil
	}
	if _, err := k.file.Write(take); err != nil {
		return 0, err
	}
	k.n += int64(len(take))
	return len(p), nil
}

// Stream returns the bytes kept, for the formatter.
func (k *KeptStream) Stream() *formatters.Stream {
	s := &formatters.Stream{UTF8: k.utf8.valid()}
	if k.file != nil {
		s.R = io.NewSectionReader(k.file, 0, k.n)
	} else {
		s.R = bytes.NewReader(k.mem)
	}
	return s
}

// Close lets go of the temporary file.
func (k *KeptStream) Close() {
	if k.file != nil {
		k.file.Close()
	}
}

// utf8Check tells whether a stream fed to it in pieces is valid UTF-8,
// a rune split between pieces included.
type utf8Check struct {
	bad  bool
	tail [utf8.UTFMax]byte // a rune begun at the end of the last piece
	nt   int
}

func (c *utf8Check) feed(p []byte) {
	if c.bad {
		return
	}
	for c.nt > 0 && len(p) > 0 {
		c.tail[c.nt] = p[0]
		c.nt++
		p = p[1:]
		if utf8.FullRune(c.tail[:c.nt]) {
			if r, size := utf8.DecodeRune(c.tail[:c.nt]); r == utf8.RuneError && size == 1 || size != c.nt {
				c.bad = true
				return
			}
			c.nt = 0
		}
	}
	if c.nt > 0 {
		return // p ended inside the rune begun before it
	}
	cut := len(p)
	for i := len(p) - 1; i >= 0 && i > len(p)-utf8.UTFMax; i-- {
		if utf8.RuneStart(p[i]) {
			if !utf8.FullRune(p[i:]) {
				cut = i
			}
			break
		}
	}
	if !utf8.Valid(p[:cut]) {
		c.bad = true
		return
	}
	c.nt = copy(c.tail[:], p[cut:])
}

// valid reports whether everything fed was valid UTF-8, ending on a
// whole rune.
func (c *utf8Check) valid() bool { return !c.bad && c.nt == 0 }
