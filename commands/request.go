package commands

import (
	"context"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

func requestCommand(env *runenv.Env) *cli.Command {
	return &cli.Command{
		Name:      "request",
		Usage:     "send one request and print the response",
		ArgsUsage: "SCRIPT[?QUERY]",
		Description: `Sends one request the way nginx with its stock fastcgi_params (plus
SCRIPT_FILENAME, PATH_INFO and HTTP_HOST) would, and prints the response body
on stdout and the application's stderr on stderr, byte for byte.

SCRIPT is the script's path as the server sees it. With -r DIR it is the URI
path instead, and SCRIPT_FILENAME is DIR followed by it.

EXAMPLES:
   fcgicli request -c 127.0.0.1:9000 /var/www/html/index.php
   fcgicli request -c /run/php/php8.2-fpm.sock -r /var/www/html '/index.php/a/b?x=1' -i
   fcgicli request -c 127.0.0.1:9000 /srv/upload.php -d @photo.jpg -H 'Content-Type: image/jpeg'
   fcgicli request -c 127.0.0.1:9000 /srv/app.php -p APP_ENV=test --unset-param HTTP_HOST \
       -o json | jq .status
   fcgicli request -c 127.0.0.1:9000 /ping -f -t 2s || echo unhealthy`,
		Flags: flagList(networkFlags(30*time.Second), shapeFlags(), requestOutputFlags(), []cli.Flag{colorFlag()}),
		Action: func(c *cli.Context) error {
			o, err := requestOptionsFrom(c, env)
			if err != nil {
				return err
			}
			outPal, err := palette(c, env, env.Stdout)
			if err != nil {
				return err
			}
			errPal, _ := palette(c, env, env.Stderr)
			return runRequest(c.Context, o, env, outPal, errPal)
		},
	}
}

// requestOutputFlags are request's own output flags.
func requestOutputFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "include", Aliases: []string{"i"}, Usage: "print the status line and CGI headers before the body"},
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "`FORMAT`: text (the body), raw (the whole FCGI_STDOUT stream) or json"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "trace every record in both directions on stderr"},
		&cli.BoolFlag{Name: "fail", Aliases: []string{"f"}, Usage: "exit 22 without printing the body when the CGI status is 400 or more"},
		&cli.BoolFlag{Name: "fail-with-body", Usage: "like --fail, but print the body"},
		&cli.Int64Flag{Name: "max-body", Value: 64 << 20, Usage: "with -o json, keep at most `BYTES` of body and of stderr"},
	}
}

type requestOptions struct {
	fcgireq.Shape
	include      bool
	output       formatters.Format
	verbose      bool
	fail         bool
	failWithBody bool
	maxBody      int64
}

func requestOptionsFrom(c *cli.Context, env *runenv.Env) (*requestOptions, error) {
	sh, err := shapeFrom(c, env)
	if err != nil {
		return nil, err
	}
	o := &requestOptions{
		Shape:        *sh,
		include:      c.Bool("include"),
		verbose:      c.Bool("verbose"),
		fail:         c.Bool("fail") || c.Bool("fail-with-body"),
		failWithBody: c.Bool("fail-with-body"),
		maxBody:      c.Int64("max-body"),
	}
	if o.output, err = formatters.ParseFormat(c.String("output"), formatters.Text, formatters.Raw, formatters.JSON); err != nil {
		return nil, &runenv.UsageError{Msg: err.Error()}
	}
	if o.maxBody < 0 {
		return nil, runenv.Usagef("--max-body cannot be negative")
	}
	// A flag the output format would ignore is refused, as raw-dump does
	// (given, not a default: the shell's settings are its flags' defaults).
	switch {
	case c.IsSet("include") && o.include && o.output == formatters.JSON:
		return nil, runenv.Usagef("-i/--include does not go with -o json, whose document has the status and headers")
	case c.IsSet("include") && o.include && o.output == formatters.Raw:
		return nil, runenv.Usagef("-i/--include does not go with -o raw, which prints the headers as they came")
	case c.IsSet("max-body") && o.output != formatters.JSON:
		return nil, runenv.Usagef("--max-body goes with -o json (the other formats stream the body whole)")
	}
	return o, nil
}

// heldRaw is -o raw's stdout under --fail: the stream is held until its
// CGI header block is complete, then dropped when the status is 400 or
// more (as --fail drops the body in text mode) and passed on otherwise. A
// stream whose header block is malformed or never ends is passed on whole:
// raw output does not judge it. What is held is bounded by the parser's
// limit on the header block.
type heldRaw struct {
	w       io.Writer
	parser  *fcgiwire.ResponseParser
	buf     []byte
	decided bool
	drop    bool
}

func (h *heldRaw) Write(p []byte) (int, error) {
	if _, err := h.parser.Write(p); err != nil {
		return 0, err
	}
	if h.decided {
		if h.drop {
			return len(p), nil
		}
		return h.w.Write(p)
	}
	h.buf = append(h.buf, p...)
	if !h.parser.Done && h.parser.Err == nil {
		return len(p), nil
	}
	h.decided = true
	h.drop = h.parser.Done && h.parser.Response.Status >= 400
	if err := h.release(); err != nil {
		return 0, err
	}
	return len(p), nil
}

// release writes what is held, unless it is dropped.
func (h *heldRaw) release() error {
	b := h.buf
	h.buf = nil
	if h.drop || len(b) == 0 {
		return nil
	}
	_, err := h.w.Write(b)
	return err
}

func runRequest(ctx context.Context, o *requestOptions, env *runenv.Env, outPal, errPal *formatters.Palette) error {
	start := time.Now()
	ctx, cancel := o.Net.WithTimeout(ctx)
	defer cancel()

	prep, err := fcgireq.Prepare(ctx, &o.Shape, env.Stdin)
	if err != nil {
		return err
	}
	defer prep.Close()
	var tr *formatters.Tracer
	if o.verbose {
		tr = &formatters.Tracer{W: runenv.Own(env.Stderr), P: errPal}
	}
	conn, done, err := fcgireq.Connect(ctx, o.Net, tr, nil)
	if err != nil {
		if o.output == formatters.JSON {
			// A document for jq all the same: no response, and why.
			r := &formatters.ResponseResult{ConnectUS: -1, FirstByteUS: -1, TotalUS: time.Since(start).Microseconds()}
			_, r.Err = runenv.ExitCode(err)
			r.Hint = runenv.HintOf(err)
			_ = formatters.WriteResponseJSON(env.Stdout, r)
		}
		return err
	}
	defer done()
	connected := time.Now()
	if tr != nil {
		tr.Info("connected in %s", formatters.Millis(connected.Sub(start)))
	}

	parser := &fcgiwire.ResponseParser{}
	x := &fcgireq.Exchange{Parser: parser, JudgeCGI: o.output != formatters.Raw, Fail: o.fail, Trace: tr, Start: start, Connected: connected}
	var stdout, stderr io.Writer = parser, env.Stderr
	var bodyBuf, errBuf *fcgireq.KeptStream
	// The first bytes of the body and of the stderr, which the hints read.
	bodyHead, errHead := &runenv.CapBuffer{Max: fcgireq.HintHead}, &runenv.CapBuffer{Max: fcgireq.HintHead}
	// On a terminal, the application's stderr ends its line before the body.
	out := runenv.AfterStderr(env.Stdout, env.Stderr)
	switch o.output {
	case formatters.Text:
		parser.Body = io.MultiWriter(out, bodyHead)
		parser.OnHeaders = func(r *fcgiwire.CGIResponse) error {
			if o.fail && !o.failWithBody && r.Status >= 400 {
				parser.Body = bodyHead
				return nil
			}
			if o.include {
				return formatters.WriteCGIHeaders(out, r, outPal)
			}
			return nil
		}
	case formatters.Raw:
		stdout = io.MultiWriter(out, parser)
		if o.fail && !o.failWithBody {
			held := &heldRaw{w: out, parser: parser}
			stdout = held
			x.Finish = func(_ *fcgiwire.Result, err error) error {
				if werr := held.release(); werr != nil && err == nil {
					return &fcgiwire.LocalError{Op: "write stdout", Err: werr}
				}
				return err
			}
		}
	case formatters.JSON:
		bodyBuf, errBuf = &fcgireq.KeptStream{Max: o.maxBody}, &fcgireq.KeptStream{Max: o.maxBody}
		defer bodyBuf.Close()
		defer errBuf.Close()
		parser.Body, stderr = io.MultiWriter(bodyBuf, bodyHead), errBuf
	}
	if o.output != formatters.Raw {
		stderr = io.MultiWriter(stderr, errHead)
	}
	req := prep.Request()
	req.Stdout, req.Stderr = stdout, stderr
	err = x.Send(ctx, conn, req)
	end := time.Now()
	var hint string
	if o.output != formatters.Raw {
		hint = x.Hint(prep.Pairs, bodyHead.Buf, errHead.Buf, err)
	}
	if o.output == formatters.JSON {
		res := &x.Result
		r := &formatters.ResponseResult{
			BodyStream: bodyBuf.Stream(), BodyTruncated: bodyBuf.Truncated,
			StderrStream: errBuf.Stream(), StderrTruncate: errBuf.Truncated,
			Ended: res.Ended, AppStatus: res.AppStatus, ProtocolStatus: res.ProtocolStatus,
			BytesSent: res.BytesSent, BytesReceived: res.BytesReceived,
			ConnectUS: connected.Sub(start).Microseconds(), FirstByteUS: -1, TotalUS: end.Sub(start).Microseconds(),
		}
		if parser.Done {
			r.CGI = &parser.Response
		}
		if !res.FirstByte.IsZero() {
			r.FirstByteUS = res.FirstByte.Sub(start).Microseconds()
		}
		if err != nil {
			_, r.Err = runenv.ExitCode(err)
		}
		r.Hint = hint
		if werr := formatters.WriteResponseJSON(env.Stdout, r); werr != nil && err == nil {
			err = werr
		}
	}
	if err == nil && hint != "" {
		_ = runenv.EndLine(env.Stderr)
		return formatters.WriteHint(env.Stderr, hint)
	}
	return runenv.WithHint(err, hint)
}
