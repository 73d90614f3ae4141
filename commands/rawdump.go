package commands

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/commands/netio"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

func rawDumpCommand(env *runenv.Env) *cli.Command {
	return &cli.Command{
		Name:      "raw-dump",
		Usage:     "run a request and print every record in both directions",
		ArgsUsage: "SCRIPT[?QUERY]",
		Description: `Runs the same request as 'fcgicli request' (same flags, same params) and
prints every record sent and received, in order: direction (> sent,
< received), byte offset in that direction's stream, version, type, request
id, content and padding length, then the content decoded. Stream content is
shown as an xxd-style hex dump (--max-bytes per record). Anomalies (a wrong
request id, a record after END_REQUEST, a stream record on request id 0) get
a "!" warning line. -o json writes one JSON object per record (JSON Lines).

--decode FILE decodes a saved byte stream (from --save-request or
--save-response, or any capture) offline, and --send-raw FILE sends FILE's
bytes verbatim instead of building a request, to test a server against
malformed input.

EXAMPLES:
   fcgicli raw-dump -c 127.0.0.1:9000 /var/www/html/index.php
   fcgicli raw-dump -c /run/php/php8.2-fpm.sock /srv/app.php -d 'a=1' --max-bytes 0
   fcgicli raw-dump -c 127.0.0.1:9000 /srv/app.php --save-request req.bin --save-response resp.bin
   fcgicli raw-dump --decode resp.bin -o json | jq -c '[.type, .content_length]'
   fcgicli raw-dump -c 127.0.0.1:9000 --send-raw split-pair.bin`,
		Flags: flagList(networkFlags(30*time.Second), shapeFlags(), []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "`FORMAT`: text or json (one object per record)"},
			&cli.IntFlag{Name: "max-bytes", Value: 256, Usage: "show at most `N` bytes of each stream record (0: all)"},
			&cli.StringFlag{Name: "save-request", Usage: "write the exact bytes sent to `FILE`"},
			&cli.StringFlag{Name: "save-response", Usage: "write the exact bytes received to `FILE`"},
			&cli.StringFlag{Name: "decode", Usage: "decode the saved byte stream in `FILE` (- for stdin) instead of connecting"},
			&cli.StringFlag{Name: "direction", Usage: "with --decode: `DIR` sent or received (default: guessed from the first record)"},
			&cli.StringFlag{Name: "send-raw", Usage: "send the bytes of `FILE` (- for stdin) verbatim instead of building a request"},
			colorFlag(),
		}),
		Action: func(c *cli.Context) error {
			if err := checkRawDumpFlags(c); err != nil {
				return err
			}
			format, err := formatters.ParseFormat(c.String("output"), formatters.Text, formatters.JSON)
			if err != nil {
				return &runenv.UsageError{Msg: err.Error()}
			}
			if c.Int("max-bytes") < 0 {
				return runenv.Usagef("--max-bytes cannot be negative")
			}
			pal, err := palette(c, env, env.Stdout)
			if err != nil {
				return err
			}
			d := &formatters.Dumper{W: env.Stdout, P: pal, Format: format, MaxBytes: c.Int("max-bytes")}
			switch {
			case c.IsSet("decode"):
				return runDecode(c.Context, env, c.String("decode"), c.String("direction"), d)
			case c.IsSet("send-raw"):
				o, err := netOptionsFrom(c, env)
				if err != nil {
					return err
				}
				return runSendRaw(c.Context, o, env, c.String("send-raw"), d, saveNamesFrom(c))
			}
			sh, err := shapeFrom(c, env)
			if err != nil {
				return err
			}
			return runRawDump(c.Context, sh, env, d, saveNamesFrom(c))
		},
	}
}

// checkRawDumpFlags refuses the flags and arguments that the way raw-dump
// runs would ignore: --decode reads saved bytes and connects nowhere, so it
// takes no address, timeout, request flag, save file, --send-raw or SCRIPT;
// --send-raw sends a file as it is, so it takes no request flag and no
// SCRIPT; --direction goes with --decode only. The first such flag, in the
// order of --help, is named.
func checkRawDumpFlags(c *cli.Context) error {
	mode := ""
	switch {
	case c.IsSet("decode"):
		mode = "decode"
	case c.IsSet("send-raw"):
		mode = "send-raw"
	}
	connecting := map[string]bool{"save-request": true, "save-response": true, "send-raw": true}
	for _, f := range networkFlags(0) {
		connecting[f.Names()[0]] = true
	}
	shaping := map[string]bool{}
	for _, f := range shapeFlags() {
		shaping[f.Names()[0]] = true
	}
	for _, f := range c.Command.Flags {
		name := f.Names()[0]
		if !c.IsSet(name) {
			continue
		}
		switch {
		case name == "direction" && mode != "decode":
			return runenv.Usagef("--direction goes with --decode")
		case mode == "decode" && (connecting[name] || shaping[name]):
			return runenv.Usagef("--%s does not go with --decode, which reads saved bytes and connects nowhere", name)
		case mode == "send-raw" && shaping[name]:
			return runenv.Usagef("--%s does not go with --send-raw, which sends the file's bytes as they are", name)
		}
	}
	switch {
	case mode == "decode" && c.NArg() > 0:
		return runenv.Usagef("--decode reads a file: it takes no SCRIPT")
	case mode == "send-raw" && c.NArg() > 0:
		return runenv.Usagef("--send-raw sends a file's bytes: it takes no SCRIPT")
	}
	return nil
}

// runRawDump runs the request with the dumper as its observer. After
// END_REQUEST it keeps reading briefly, so that records the application
// sends after it are shown (and flagged). The save files are created once
// the body is open, so that a body that cannot be read leaves none.
func runRawDump(ctx context.Context, sh *fcgireq.Shape, env *runenv.Env, d *formatters.Dumper, save saveNames) (err error) {
	ctx, cancel := sh.Net.WithTimeout(ctx)
	defer cancel()
	prep, err := fcgireq.Prepare(ctx, sh, env.Stdin)
	if err != nil {
		return err
	}
	defer prep.Close()
	tee, err := netio.OpenTee(save.req, save.resp)
	if err != nil {
		return err
	}
	defer func() { err = netio.CloseTee(tee, err) }()
	conn, done, err := fcgireq.Connect(ctx, sh.Net, nil, tee.Wrap)
	if err != nil {
		return err
	}
	defer done()
	d.Expect(sh.RequestID)
	conn.SetObserver(d.Observe)
	req := prep.Request()
	req.Stdout, req.Stderr = io.Discard, io.Discard
	x := &fcgireq.Exchange{Finish: func(_ *fcgiwire.Result, err error) error {
		if err == nil && !sh.KeepConn {
			conn.ReadTrailing(ctx, trailingWait)
		}
		if derr := d.Err(); derr != nil && err == nil {
			return derr
		}
		return err
	}}
	return x.Send(ctx, conn, req)
}

// trailingWait is how long raw-dump waits after END_REQUEST for records
// that should not come, before the application closes.
const trailingWait = 200 * time.Millisecond

// runDecode dumps a saved byte stream, up to its first fault.
func runDecode(ctx context.Context, env *runenv.Env, name, direction string, d *formatters.Dumper) error {
	var src io.Reader = env.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return runenv.Usagef("--decode: %v", err)
		}
		defer f.Close()
		src = f
	}
	br := bufio.NewReader(src)
	var dir fcgiwire.Direction
	switch direction {
	case "sent":
		dir = fcgiwire.Sent
	case "received":
		dir = fcgiwire.Received
	case "":
		dir = guessDirection(br)
	default:
		return runenv.Usagef("unknown --direction %q (known: sent, received)", direction)
	}
	r := fcgiwire.NewReader(br)
	r.Observe = func(ev fcgiwire.Event) {
		ev.Dir = dir
		d.Observe(ev)
	}
	for {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		if _, err := r.ReadRecord(); err != nil {
			if err == io.EOF {
				return d.Err()
			}
			var pe *fcgiwire.ProtocolError
			if errors.As(err, &pe) {
				return err
			}
			return fmt.Errorf("--decode: reading: %w", err)
		}
	}
}

// guessDirection looks at the first record's type: what a web server sends
// (BEGIN_REQUEST, PARAMS, STDIN, DATA, ABORT_REQUEST, GET_VALUES) or what
// an application sends.
func guessDirection(br *bufio.Reader) fcgiwire.Direction {
	b, err := br.Peek(2)
	if err != nil {
		return fcgiwire.Received
	}
	switch fcgiwire.RecordType(b[1]) {
	case fcgiwire.TypeBeginRequest, fcgiwire.TypeAbortRequest, fcgiwire.TypeParams,
		fcgiwire.TypeStdin, fcgiwire.TypeData, fcgiwire.TypeGetValues:
		return fcgiwire.Sent
	}
	return fcgiwire.Received
}

// runSendRaw sends a file's bytes verbatim, dumping them as records as far
// as they decode, and dumps what comes back until every request the file
// began has its END_REQUEST and every management record its answer, or,
// when the file told nothing, until the application closes. The file
// named "-" is stdin. The save files are created once the file has been
// read through, so that a file that cannot be read leaves none.
func runSendRaw(ctx context.Context, o fcgireq.NetOptions, env *runenv.Env, name string, d *formatters.Dumper, save saveNames) (err error) {
	in := env.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return runenv.Usagef("--send-raw: %v", err)
		}
		defer f.Close()
		in = f
	}
	// What the file asks for is known before a byte goes out: an answer
	// can arrive while the file is still being sent, or the application
	// can answer and never read the rest.
	src, want, err := rawExpectOf(in)
	if err != nil {
		return runenv.Usagef("--send-raw: %v", err)
	}
	tee, err := netio.OpenTee(save.req, save.resp)
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

// saveNames are the files of --save-request and --save-response ("" for
// none).
type saveNames struct{ req, resp string }

func saveNamesFrom(c *cli.Context) saveNames {
	return saveNames{req: c.String("save-request"), resp: c.String("save-response")}
}
