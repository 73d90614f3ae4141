package commands

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

func requestCommand(env *Env) *cli.Command {
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
   fcgicli request -c 127.0.0.1:9000 /srv/app.php -p APP_ENV=test --unset-param HTTP_HOST -o json | jq .status
   fcgicli request -c 127.0.0.1:9000 /ping -f -t 2s || echo unhealthy`,
		Flags: append(append(networkFlags(30*time.Second), requestFlags()...), colorFlag()),
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

// requestFlags are the flags that shape a request, shared by the commands
// that send one.
func requestFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "document-root", Aliases: []string{"r"}, Usage: "treat SCRIPT as a URI path under `DIR` (SCRIPT_FILENAME = DIR + path)"},
		&cli.StringFlag{Name: "method", Aliases: []string{"X"}, Usage: "REQUEST_METHOD (default GET, or POST with a body)"},
		&cli.StringSliceFlag{Name: "param", Aliases: []string{"p"}, Usage: "set param `NAME=VALUE` (repeatable; replaces a default)"},
		&cli.StringSliceFlag{Name: "unset-param", Usage: "do not send the default param `NAME` (a -p NAME=... still sets it)"},
		&cli.StringSliceFlag{Name: "header", Aliases: []string{"H"}, Usage: "send HTTP header `'Name: value'` as HTTP_NAME (repeatable)"},
		&cli.StringSliceFlag{Name: "params-file", Usage: "read params from `FILE`, one NAME=VALUE per line (repeatable)"},
		&cli.BoolFlag{Name: "env", Usage: "also send the caller's environment as params, as cgi-fcgi does"},
		&cli.StringFlag{Name: "data", Aliases: []string{"d"}, Usage: "request body: `TEXT`, @FILE or @- for stdin, sent byte for byte"},
		&cli.StringFlag{Name: "role", Value: "responder", Usage: "FastCGI role: `responder`, authorizer or filter"},
		&cli.StringFlag{Name: "filter-data", Usage: "FCGI_DATA for the filter role: `TEXT`, @FILE or @-"},
		&cli.BoolFlag{Name: "keep-conn", Usage: "set FCGI_KEEP_CONN in BEGIN_REQUEST"},
		&cli.UintFlag{Name: "request-id", Value: 1, Usage: "request `ID` (1-65535)"},
		&cli.BoolFlag{Name: "include", Aliases: []string{"i"}, Usage: "print the status line and CGI headers before the body"},
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "`FORMAT`: text (the body), raw (the whole FCGI_STDOUT stream) or json"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "trace every record in both directions on stderr"},
		&cli.BoolFlag{Name: "fail", Aliases: []string{"f"}, Usage: "exit 22 without printing the body when the CGI status is 400 or more"},
		&cli.BoolFlag{Name: "fail-with-body", Usage: "like --fail, but print the body"},
		&cli.Int64Flag{Name: "max-body", Value: 64 << 20, Usage: "with -o json, keep at most `BYTES` of body and of stderr"},
	}
}

type requestOptions struct {
	net          netOptions
	spec         paramSpec
	data         *string // -d, nil when not given
	filterData   *string
	keepConn     bool
	requestID    uint16
	include      bool
	output       formatters.Format
	verbose      bool
	fail         bool
	failWithBody bool
	maxBody      int64
}

func parseRole(s string) (fcgiwire.Role, error) {
	switch strings.ToLower(s) {
	case "responder":
		return fcgiwire.RoleResponder, nil
	case "authorizer":
		return fcgiwire.RoleAuthorizer, nil
	case "filter":
		return fcgiwire.RoleFilter, nil
	}
	return 0, usagef("unknown --role %q (known: responder, authorizer, filter)", s)
}

func requestOptionsFrom(c *cli.Context, env *Env) (*requestOptions, error) {
	netOpts, err := netOptionsFrom(c, env)
	if err != nil {
		return nil, err
	}
	o := &requestOptions{
		net:          netOpts,
		keepConn:     c.Bool("keep-conn"),
		include:      c.Bool("include"),
		verbose:      c.Bool("verbose"),
		fail:         c.Bool("fail") || c.Bool("fail-with-body"),
		failWithBody: c.Bool("fail-with-body"),
		maxBody:      c.Int64("max-body"),
	}
	if c.NArg() != 1 {
		if c.NArg() == 0 {
			return nil, usagef("missing SCRIPT (see 'fcgicli request --help')")
		}
		return nil, usagef("want one SCRIPT, got %d arguments: %s", c.NArg(), strings.Join(c.Args().Slice(), " "))
	}
	role, err := parseRole(c.String("role"))
	if err != nil {
		return nil, err
	}
	id := c.Uint("request-id")
	if id < 1 || id > math.MaxUint16 {
		return nil, usagef("--request-id must be from 1 to 65535, got %d", id)
	}
	o.requestID = uint16(id)
	if o.output, err = formatters.ParseFormat(c.String("output"), formatters.Text, formatters.Raw, formatters.JSON); err != nil {
		return nil, &usageError{msg: err.Error()}
	}
	if o.maxBody < 0 {
		return nil, usagef("--max-body cannot be negative")
	}
	if c.IsSet("data") {
		d := c.String("data")
		o.data = &d
		if role == fcgiwire.RoleAuthorizer {
			return nil, usagef("the authorizer role sends no body: drop -d")
		}
	}
	if c.IsSet("filter-data") {
		if role != fcgiwire.RoleFilter {
			return nil, usagef("--filter-data needs --role filter")
		}
		d := c.String("filter-data")
		o.filterData = &d
	}
	if o.data != nil && o.filterData != nil && *o.data == "@-" && *o.filterData == "@-" {
		return nil, usagef("-d and --filter-data cannot both read stdin")
	}
	o.spec = paramSpec{
		Script:      c.Args().First(),
		DocRoot:     c.String("document-root"),
		Method:      c.String("method"),
		Role:        role,
		Params:      c.StringSlice("param"),
		Unset:       c.StringSlice("unset-param"),
		Headers:     c.StringSlice("header"),
		ParamsFiles: c.StringSlice("params-file"),
		BodyLen:     -1,
	}
	if c.Bool("env") {
		o.spec.Environ = env.Environ()
	}
	return o, nil
}

// capBuffer keeps the first max bytes written to it and counts the rest.
type capBuffer struct {
	buf       []byte
	max       int64
	truncated bool
}

func (b *capBuffer) Write(p []byte) (int, error) {
	room := b.max - int64(len(b.buf))
	if int64(len(p)) > room {
		b.buf = append(b.buf, p[:max(room, 0)]...)
		b.truncated = true
		return len(p), nil
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func runRequest(ctx context.Context, o *requestOptions, env *Env, outPal, errPal *formatters.Palette) error {
	start := time.Now()
	ctx, cancel := o.net.withTimeout(ctx)
	defer cancel()

	spec := o.spec
	var stdin, data io.Reader
	if o.data != nil {
		b, err := openBody(ctx, "-d", *o.data, env.Stdin)
		if err != nil {
			return err
		}
		defer b.close()
		stdin, spec.BodyLen = b.r, b.size
	}
	if spec.Role == fcgiwire.RoleFilter {
		spec.DataLen = 0
		if o.filterData != nil {
			b, err := openBody(ctx, "--filter-data", *o.filterData, env.Stdin)
			if err != nil {
				return err
			}
			defer b.close()
			data, spec.DataLen, spec.DataLastMod = b.r, b.size, b.lastMod
		}
	}
	pairs, err := buildParams(spec)
	if err != nil {
		return err
	}
	if _, err := fcgiwire.SplitPairs(pairs); err != nil {
		return err
	}

	tgt, err := openTarget(o.net, func(string) {})
	if err != nil {
		return err
	}
	defer tgt.close()
	var tr *formatters.Tracer
	if o.verbose {
		tr = &formatters.Tracer{W: env.Stderr, P: errPal}
		tr.Info("connecting to %s", tgt.display)
	}
	nc, err := tgt.dial(ctx, o.net.ConnectTimeout)
	if err != nil {
		return err
	}
	connected := time.Now()
	conn := fcgiwire.NewConn(nc)
	defer conn.Close()
	if tr != nil {
		tr.Info("connected in %s", fmtDuration(connected.Sub(start)))
		conn.SetObserver(tr.Observe)
	}

	parser := &fcgiwire.ResponseParser{}
	var stdout, stderr io.Writer = parser, env.Stderr
	var bodyBuf, errBuf *capBuffer
	switch o.output {
	case formatters.Text:
		parser.Body = env.Stdout
		parser.OnHeaders = func(r *fcgiwire.CGIResponse) error {
			if o.fail && !o.failWithBody && r.Status >= 400 {
				parser.Body = io.Discard
				return nil
			}
			if o.include {
				return formatters.WriteCGIHeaders(env.Stdout, r, outPal)
			}
			return nil
		}
	case formatters.Raw:
		stdout = io.MultiWriter(env.Stdout, parser)
	case formatters.JSON:
		bodyBuf, errBuf = &capBuffer{max: o.maxBody}, &capBuffer{max: o.maxBody}
		parser.Body, stderr = bodyBuf, errBuf
	}
	req := &fcgiwire.Request{
		ID: o.requestID, Role: spec.Role, KeepConn: o.keepConn, Params: pairs,
		Stdin: stdin, Data: data, Stdout: stdout, Stderr: stderr,
	}
	res, doErr := conn.Do(ctx, req)
	if res.Ended {
		parser.Close()
	}
	end := time.Now()
	if doErr != nil && ctx.Err() != nil {
		doErr = context.Cause(ctx)
		if doErr == context.DeadlineExceeded {
			doErr = &timeoutError{msg: "timed out"}
		}
	}
	if tr != nil {
		if doErr == nil {
			tr.Info("request done in %s: %d bytes sent, %d received", fmtDuration(end.Sub(start)), res.BytesSent, res.BytesReceived)
		}
	}

	err = requestOutcome(o, res, parser, doErr)
	if o.output == formatters.JSON {
		r := &formatters.ResponseResult{
			Body: bodyBuf.buf, BodyTruncated: bodyBuf.truncated,
			Stderr: errBuf.buf, StderrTruncate: errBuf.truncated,
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
			_, r.Err = exitCode(err)
		}
		if werr := formatters.WriteResponseJSON(env.Stdout, r); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}

// requestOutcome decides a request's error, in the order of the exit-code
// table: a transport or protocol fault first, then the protocol status,
// the app status, and --fail last.
func requestOutcome(o *requestOptions, res *fcgiwire.Result, parser *fcgiwire.ResponseParser, doErr error) error {
	if doErr != nil {
		return doErr
	}
	// A refused request carries no response to judge.
	if res.ProtocolStatus != fcgiwire.RequestComplete {
		return &codeError{code: ExitRefused, msg: fmt.Sprintf("the application refused the request: %s", res.ProtocolStatus)}
	}
	if parser.Err != nil && o.output != formatters.Raw {
		return parser.Err
	}
	if res.AppStatus != 0 {
		return &codeError{code: ExitAppStatus, msg: fmt.Sprintf("the application ended with app status %d", res.AppStatus)}
	}
	if o.fail && parser.Done && parser.Response.Status >= 400 {
		return &codeError{code: ExitHTTPFail, msg: fmt.Sprintf("the application returned CGI status %d", parser.Response.Status)}
	}
	return nil
}

// fmtDuration prints a duration in milliseconds with two decimals.
func fmtDuration(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}
