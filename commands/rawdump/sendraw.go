package rawdump

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/commands/netio"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

// SendRaw sends a file's bytes verbatim, dumping them as records as far
// as they decode, and dumps what comes back until every request the file
// began has its END_REQUEST and every management record its answer, or,
// when the file told nothing, until the application closes. The file
// named "-" is stdin. The save files are created once the file has been
// read through, so that a file that cannot be read leaves none.
func SendRaw(ctx context.Context, o fcgireq.NetOptions, stdin io.Reader, name string, d *formatters.Dumper, save Save) (err error) {
	in, closeIn, err := openInput("--send-raw", name, stdin)
	if err != nil {
		return err
	}
	defer closeIn()
	// What the file asks for is known before a byte goes out: an answer
	// can arrive while the file is still being sent, or the application
	// can answer and never read the rest.
	src, want, err := rawExpectOf(in)
	if err != nil {
		return runenv.Usagef("--send-raw: %v", err)
	}
	tee, err := netio.OpenTee(save.Request, save.Response)
	if err != nil {
		return err
	}
	defer func() { err = netio.CloseTee(tee, err) }()
	ctx, cancel := o.WithTimeout(ctx)
	defer cancel()
	tgt, err := fcgireq.OpenTarget(o)
	if err != nil {
		return err
	}
	defer tgt.Close()
	nc, err := tgt.Dial(ctx, o.ConnectTimeout)
	if err != nil {
		return err
	}
	nc = tee.Wrap(nc)
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Now()) })
	defer stop()

	sent := make(chan struct{})
	go func() {
		defer close(sent)
		sendRawFile(src, nc, d)
	}()
	// Closing the connection ends a send the application stopped reading.
	defer func() { nc.Close(); <-sent }()

	r := fcgiwire.NewReader(nc)
	r.Observe = d.Observe
	ended := map[uint16]bool{}
	answers := 0
	for {
		if want.known() && want.metBy(ended, answers) {
			return d.Err()
		}
		rec, err := r.ReadRecord()
		if err != nil {
			if ctx.Err() != nil {
				return fcgireq.TimeoutCause(ctx, err)
			}
			if err == io.EOF || runenv.IsReset(err) {
				if want.known() && !want.metBy(ended, answers) {
					return &fcgiwire.ProtocolError{Offset: r.Offset(), Err: fcgiwire.ErrNoEndRequest, Reason: want.missing(ended, answers)}
				}
				return d.Err()
			}
			return err
		}
		if rec.RequestID == 0 {
			answers++
		} else if rec.Type == fcgiwire.TypeEndRequest {
			ended[rec.RequestID] = true
		}
	}
}

// rawExpect is what a raw request file asks for: the request ids it began
// and the number of management records it sent, counted over the records
// that decode (the rest of the file is sent undecoded).
type rawExpect struct {
	ids        []uint16
	management int
}

// rawExpectOf reads in through once to learn what it asks for, and
// returns it rewound. Input that cannot seek (a pipe) is read into memory.
func rawExpectOf(in io.Reader) (io.Reader, rawExpect, error) {
	src, ok := in.(io.ReadSeeker)
	if ok {
		_, err := src.Seek(0, io.SeekCurrent)
		ok = err == nil
	}
	if !ok {
		data, err := io.ReadAll(in)
		if err != nil {
			return nil, rawExpect{}, err
		}
		src = bytes.NewReader(data)
	}
	start, err := src.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, rawExpect{}, err
	}
	var want rawExpect
	r := fcgiwire.NewReader(src)
	for {
		rec, err := r.ReadRecord()
		if err != nil {
			var pe *fcgiwire.ProtocolError
			if err != io.EOF && !errors.As(err, &pe) {
				return nil, rawExpect{}, err
			}
			break
		}
		want.count(rec.Header)
	}
	if _, err := src.Seek(start, io.SeekStart); err != nil {
		return nil, rawExpect{}, err
	}
	return src, want, nil
}

func (w *rawExpect) count(h fcgiwire.Header) {
	switch {
	case h.Type == fcgiwire.TypeBeginRequest:
		w.ids = append(w.ids, h.RequestID)
	case h.RequestID == 0:
		w.management++
	}
}

func (w *rawExpect) known() bool { return len(w.ids) > 0 || w.management > 0 }

func (w *rawExpect) metBy(ended map[uint16]bool, answers int) bool {
	for _, id := range w.ids {
		if !ended[id] {
			return false
		}
	}
	return answers >= w.management
}

func (w *rawExpect) missing(ended map[uint16]bool, answers int) string {
	var ids []string
	for _, id := range w.ids {
		if !ended[id] {
			ids = append(ids, fmt.Sprint(id))
		}
	}
	if len(ids) > 0 {
		return "no END_REQUEST for request id " + strings.Join(ids, ", ")
	}
	return fmt.Sprintf("%d of %d management records unanswered", w.management-answers, w.management)
}

// sendRawFile copies src to w verbatim, decoding it as records on the way
// for the dump. Each record is dumped before its bytes go out, so that
// nothing the application sends in answer can be dumped before it. Where
// the bytes stop decoding, a warning says so and the rest is sent
// undecoded.
func sendRawFile(src io.Reader, w io.Writer, d *formatters.Dumper) {
	// The decoder reads ahead; the bytes it has read and not yet sent
	// wait in held until their record has been dumped.
	held := &heldReader{r: src}
	r := fcgiwire.NewReader(held)
	r.Observe = func(ev fcgiwire.Event) {
		ev.Dir = fcgiwire.Sent
		d.Observe(ev)
	}
	sent := int64(0)
	for {
		_, err := r.ReadRecord()
		if err != nil {
			var pe *fcgiwire.ProtocolError
			isPE := errors.As(err, &pe)
			if isPE {
				d.Warn("sent bytes stop decoding at byte %d: %v", pe.Offset, pe.Err)
			}
			if isPE {
				_, _ = io.Copy(w, io.MultiReader(&held.buf, src))
			}
			return
		}
		if _, err := w.Write(held.buf.Next(int(r.Offset() - sent))); err != nil {
			return
		}
		sent = r.Offset()
	}
}

// heldReader keeps a copy of the bytes read from r in buf.
type heldReader struct {
	r   io.Reader
	buf bytes.Buffer
}

func (h *heldReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.buf.Write(p[:n])
	return n, err
}
