// Command rpmfiles lists the files an rpm package installs, one line each,
// "MODE PATH" with the mode in octal, from the package's header, so that
// the release check can read the rpm nfpm built on a machine with no rpm
// tools:
//
//	go run ./rpmfiles PACKAGE.rpm
package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// Header tags of the file list (rpm's lib/rpmtag.h).
const (
	tagFileModes  = 1030 // INT16: the files' modes
	tagDirIndexes = 1116 // INT32: each file's directory, an index into DIRNAMES
	tagBaseNames  = 1117 // STRING_ARRAY: each file's name in its directory
	tagDirNames   = 1118 // STRING_ARRAY: the directories, ending in "/"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: rpmfiles PACKAGE.rpm")
		os.Exit(2)
	}
	lines, err := list(os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "rpmfiles: %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	for _, l := range lines {
		fmt.Println(l)
	}
}

// header is an rpm header: its index entries by tag, and its data store.
type header struct {
	entries map[uint32][3]uint32 // tag: type, offset, count
	store   []byte
}

// readHeader reads a header structure (magic, index, store) from r.
func readHeader(r io.Reader) (*header, error) {
	var intro [16]byte
	if _, err := io.ReadFull(r, intro[:]); err != nil {
		return nil, err
	}
	if intro[0] != 0x8e || intro[1] != 0xad || intro[2] != 0xe8 || intro[3] != 0x01 {
		return nil, errors.New("no header magic")
	}
	n, size := binary.BigEndian.Uint32(intro[8:]), binary.BigEndian.Uint32(intro[12:])
	if n > 1<<16 || size > 1<<28 {
		return nil, fmt.Errorf("header of %d entries and %d bytes: too large", n, size)
	}
	index := make([]byte, 16*n)
	h := &header{entries: map[uint32][3]uint32{}, store: make([]byte, size)}
	if _, err := io.ReadFull(r, index); err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(r, h.store); err != nil {
		return nil, err
	}
	for i := 0; i < len(index); i += 16 {
		e := index[i:]
		h.entries[binary.BigEndian.Uint32(e)] = [3]uint32{binary.BigEndian.Uint32(e[4:]), binary.BigEndian.Uint32(e[8:]), binary.BigEndian.Uint32(e[12:])}
	}
	return h, nil
}

// data returns the store from tag's entry on, and its count.
func (h *header) data(tag uint32) ([]byte, int, error) {
	e, ok := h.entries[tag]
	if !ok {
		return nil, 0, fmt.Errorf("no tag %d", tag)
	}
	if int(e[1]) > len(h.store) {
		return nil, 0, fmt.Errorf("tag %d: offset %d past the store", tag, e[1])
	}
	return h.store[e[1]:], int(e[2]), nil
}

// strings returns tag's string array.
func (h *header) strings(tag uint32) ([]string, error) {
	b, n, err := h.data(tag)
	if err != nil {
		return nil, err
	}
	var out []string
	for range n {
		end := 0
		for end < len(b) && b[end] != 0 {
			end++
		}
		if end == len(b) {
			return nil, fmt.Errorf("tag %d: unterminated string", tag)
		}
		out = append(out, string(b[:end]))
		b = b[end+1:]
	}
	return out, nil
}

// ints returns tag's integers of width bytes (2 or 4).
func (h *header) ints(tag uint32, width int) ([]uint32, error) {
	b, n, err := h.data(tag)
	if err != nil {
		return nil, err
	}
	if n*width > len(b) {
		return nil, fmt.Errorf("tag %d: %d values past the store", tag, n)
	}
	out := make([]uint32, n)
	for i := range out {
		if width == 2 {
			out[i] = uint32(binary.BigEndian.Uint16(b[2*i:]))
		} else {
			out[i] = binary.BigEndian.Uint32(b[4*i:])
		}
	}
	return out, nil
}

// list reads the package's lead, its signature header (padded to 8
// bytes) and its main header, and returns the file list.
func list(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lead [96]byte
	if _, err := io.ReadFull(f, lead[:]); err != nil {
		return nil, err
	}
	if lead[0] != 0xed || lead[1] != 0xab || lead[2] != 0xee || lead[3] != 0xdb {
		return nil, errors.New("not an rpm package")
	}
	sig, err := readHeader(f)
	if err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	if pad := -(16*len(sig.entries) + len(sig.store)) & 7; pad > 0 {
		if _, err := io.CopyN(io.Discard, f, int64(pad)); err != nil {
			return nil, err
		}
	}
	h, err := readHeader(f)
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	dirs, err := h.strings(tagDirNames)
	if err != nil {
		return nil, err
	}
	names, err := h.strings(tagBaseNames)
	if err != nil {
		return nil, err
	}
	index, err := h.ints(tagDirIndexes, 4)
	if err != nil {
		return nil, err
	}
	modes, err := h.ints(tagFileModes, 2)
	if err != nil {
		return nil, err
	}
	if len(index) != len(names) || len(modes) != len(names) {
		return nil, fmt.Errorf("%d names, %d directory indexes, %d modes", len(names), len(index), len(modes))
	}
	var out []string
	for i, name := range names {
		if int(index[i]) >= len(dirs) {
			return nil, fmt.Errorf("file %d: directory %d of %d", i, index[i], len(dirs))
		}
		out = append(out, fmt.Sprintf("%o %s%s", modes[i], dirs[index[i]], name))
	}
	return out, nil
}
