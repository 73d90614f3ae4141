package fcgireq

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/fcgicli/fcgicli/commands/runenv"
)

// body is a request body (-d) or filter data (--filter-data) whose exact
// size is known before anything is sent, because CONTENT_LENGTH (or
// FCGI_DATA_LENGTH) goes out first and must equal the bytes sent.
type body struct {
	r       io.Reader
	size    int64
	lastMod int64 // unix seconds; 0 for text and stdin
	close   func()
}

// openBody opens TEXT, @FILE or @- (stdin). A file or stdin that is not a
// regular file (a pipe, a terminal) is first copied to a temporary file,
// so its size is known and memory stays flat whatever its size (to memory
// where there is no temporary directory).
func openBody(ctx context.Context, flag, spec string, stdin io.Reader) (*body, error) {
	if !strings.HasPrefix(spec, "@") {
		return &body{r: strings.NewReader(spec), size: int64(len(spec)), close: func() {}}, nil
	}
	name := spec[1:]
	var src io.Reader
	closeSrc := func() {}
	if name == "-" {
		src = stdin
		if f, ok := stdin.(*os.File); ok {
			if b, ok := regularBody(f); ok {
				return b, nil
			}
		}
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, runenv.Usagef("%s: %v", flag, err)
		}
		if b, ok := regularBody(f); ok {
			b.close = func() { f.Close() }
			return b, nil
		}
		src, closeSrc = f, func() { f.Close() }
	}
	defer closeSrc()
	return spool(ctx, flag, src)
}

// regularBody returns a body for the rest of a regular file.
func regularBody(f *os.File) (*body, bool) {
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil, false
	}
	pos, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, false
	}
	size := fi.Size() - pos
	return &body{r: &exactReader{r: f, left: size}, size: size, lastMod: fi.ModTime().Unix(), close: func() {}}, true
}

// spool copies src to a temporary file, bounded by ctx; where there is no
// temporary directory (a scratch container has no /tmp), into memory.
func spool(ctx context.Context, flag string, src io.Reader) (*body, error) {
	tmp, err := os.CreateTemp("", "fcgicli-body-")
	if err != nil {
		var buf bytes.Buffer
		if err := copyCtx(ctx, flag, &buf, src); err != nil {
			return nil, err
		}
		return &body{r: bytes.NewReader(buf.Bytes()), size: int64(buf.Len()), close: func() {}}, nil
	}
	os.Remove(tmp.Name()) // the open file stays readable
	if err := copyCtx(ctx, flag, tmp, src); err != nil {
		tmp.Close()
		return nil, err
	}
	size, err := tmp.Seek(0, io.SeekCurrent)
	if err == nil {
		_, err = tmp.Seek(0, io.SeekStart)
	}
	if err != nil {
		tmp.Close()
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	return &body{r: &exactReader{r: tmp, left: size}, size: size, close: func() { tmp.Close() }}, nil
}

// copyCtx copies src to dst until src ends or ctx does. When ctx ends
// first, the copy goes on into dst until src ends or fails, which the
// caller sees to by closing dst (a file) or dropping it (memory).
func copyCtx(ctx context.Context, flag string, dst io.Writer, src io.Reader) error {
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(dst, src)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("%s: reading: %w", flag, err)
		}
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// exactReader yields exactly left bytes: it stops there if the file grew,
// and fails if it shrank, so the bytes sent always match the length
// announced.
type exactReader struct {
	r    io.Reader
	left int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF && e.left > 0 {
		return n, fmt.Errorf("file shrank while sending: %d bytes short", e.left)
	}
	if e.left == 0 && err == nil {
		err = io.EOF
	}
	return n, err
}

// maxMemoryBody is the largest body a replayed request keeps in memory; a
// larger one is read again from its file for every request.
const maxMemoryBody = 1 << 20

// replayable is a body that is sent again with every request, byte for
// byte, always the size its length param announced.
type replayable struct {
	mem  []byte
	file *os.File // when not nil, the body is size bytes of file from off
	off  int64
	size int64
}

// newReplayable makes b sendable again and again: a small body is read
// into memory, a large file is read again from its offset each time (a
// body from a pipe was spooled to a temporary file by openBody).
func newReplayable(b *body) (*replayable, error) {
	if er, ok := b.r.(*exactReader); ok && b.size > maxMemoryBody {
		if f, ok := er.r.(*os.File); ok {
			off, err := f.Seek(0, io.SeekCurrent)
			if err != nil {
				return nil, err
			}
			return &replayable{file: f, off: off, size: b.size}, nil
		}
	}
	mem := make([]byte, b.size)
	if _, err := io.ReadFull(b.r, mem); err != nil {
		return nil, fmt.Errorf("reading the request body: %w", err)
	}
	return &replayable{mem: mem, size: b.size}, nil
}

// replayReader reads a replayable body from its start, again after each
// rewind; one per sender, as it holds the reading position.
type replayReader struct {
	mem  bytes.Reader
	sec  io.SectionReader
	file exactReader
}

// rewind returns a reader of the whole of r, nil for no body. It allocates
// nothing for a body in memory.
func (rr *replayReader) rewind(r *replayable) io.Reader {
	switch {
	case r == nil:
		return nil
	case r.file == nil:
		rr.mem.Reset(r.mem)
		return &rr.mem
	}
	rr.sec = *io.NewSectionReader(r.file, r.off, r.size)
	rr.file = exactReader{r: &rr.sec, left: r.size}
	return &rr.file
}
