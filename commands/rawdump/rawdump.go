// Package rawdump is raw-dump's engine: a request sent with every record
// in both directions handed to a formatters.Dumper, then the records an
// application sends too late (Dump); a saved byte stream decoded offline
// (Decode); and a file's bytes sent verbatim, dumped as far as they
// decode, with the answers read until every request the file began has
// ended (SendRaw). The request goes the one way every command sends one
// (fcgireq); the bytes on the wire can be saved through netio's tee.
//
// It must not import package commands or parse flags, prints only
// through the Dumper it is given, and holds no package-level mutable
// state.
package rawdump

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/commands/netio"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

// Save names the files of --save-request and --save-response ("" for
// none), where the bytes sent and received are written.
type Save struct{ Request, Response string }

// Dump runs the request with the dumper as its observer. After
// END_REQUEST it keeps reading briefly, so that records the application
// sends after it are shown (and flagged). The save files are created once
// the body is open, so that a body that cannot be read leaves none.
func Dump(ctx context.Context, sh *fcgireq.Shape, stdin io.Reader, d *formatters.Dumper, save Save) (err error) {
	ctx, cancel := sh.Net.WithTimeout(ctx)
	defer cancel()
	prep, err := fcgireq.Prepare(ctx, sh, stdin)
	if err != nil {
		return err
	}
	defer prep.Close()
	tee, err := netio.OpenTee(save.Request, save.Response)
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

// Decode dumps a saved byte stream, the file name or stdin for "-", up to
// its first fault. direction is sent, received, or "" to guess it from
// the first record.
func Decode(ctx context.Context, stdin io.Reader, name, direction string, d *formatters.Dumper) error {
	src, closeSrc, err := openInput("--decode", name, stdin)
	if err != nil {
		return err
	}
	defer closeSrc()
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

// openInput opens the file name, or stdin for "-"; a file that cannot be
// opened is a usage error of flag. done closes it.
func openInput(flag, name string, stdin io.Reader) (r io.Reader, done func(), err error) {
	if name == "-" {
		return stdin, func() {}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, runenv.Usagef("%s: %v", flag, err)
	}
	return f, func() { f.Close() }, nil
}
