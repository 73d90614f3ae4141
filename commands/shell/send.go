package shell

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

// request parses a request line, sends it on the session's connection,
// keeps the response and renders it.
func (s *Session) request(ctx context.Context, user []string, fill map[string]string, input string) error {
	o, err := s.cli.ParseRequest(ctx, user, fill, s.Settings())
	if err != nil || o == nil { // nil: --help was shown
		return err
	}
	if (o.Data != nil && *o.Data == "@-") || (o.FilterData != nil && *o.FilterData == "@-") {
		return runenv.Usagef("in the shell, stdin carries the commands: give the body as TEXT or @FILE")
	}
	o.KeepConn = true
	r, err := s.send(ctx, o)
	if r == nil {
		return err
	}
	r.cmd = input
	s.count++
	r.n = s.count
	s.responses = append(s.responses, r)
	if len(s.responses) > 2 {
		s.responses = s.responses[1:]
	}
	if werr := s.render(r, o.Output, o.Include, o.Fail && !o.FailWithBody); werr != nil && err == nil {
		err = werr
	}
	if o.Output == formatters.Raw {
		return err
	}
	return runenv.WithHint(err, r.hint)
}

// send runs a request on the session's connection and keeps what came
// back. A nil response means nothing was sent.
func (s *Session) send(ctx context.Context, o *Request) (*response, error) {
	start := time.Now()
	ctx, cancel := o.Net.WithTimeout(ctx)
	defer cancel()
	prep, err := fcgireq.Prepare(ctx, &o.Shape, s.env.Stdin)
	if err != nil {
		return nil, err
	}
	defer prep.Close()
	if o.Verbose {
		s.verbose = true
		defer func() { s.verbose = false }()
	}
	var conn *fcgiwire.Conn
	if o.Net.Connect == s.settings.Net.Connect {
		conn, err = s.connection(ctx, o.Net)
	} else {
		// A -c of its own: a connection for this request only, the kept
		// one stays.
		var done func()
		if conn, done, err = fcgireq.Connect(ctx, o.Net, s.tracer(), nil); err == nil {
			defer done()
			conn.SetObserver(s.observeEvent)
		}
	}
	if err != nil {
		return nil, err
	}
	connected := time.Now()

	r := &response{script: o.Spec.Script}
	var mu chanLock = make(chan struct{}, 1)
	var dumper *formatters.Dumper
	if s.dump {
		pal, _ := runenv.Palette(s.settings.Color, s.env, s.env.Stderr)
		dumper = &formatters.Dumper{W: runenv.Own(s.env.Stderr), P: pal, Format: formatters.Text, MaxBytes: 256}
		id := o.RequestID
		if id == 0 {
			id = conn.NextID()
		}
		dumper.Expect(id)
	}
	var tr *formatters.Tracer
	if s.verbose {
		pal, _ := runenv.Palette(s.settings.Color, s.env, s.env.Stderr)
		tr = &formatters.Tracer{W: runenv.Own(s.env.Stderr), P: pal}
	}
	observe := fcgiwire.Observer(func(ev fcgiwire.Event) {
		mu.lock()
		if len(r.events) < maxEvents {
			ev.Content = bytes.Clone(ev.Content)
			r.events = append(r.events, ev)
		}
		mu.unlock()
		if tr != nil {
			tr.Observe(ev)
		}
		if dumper != nil {
			dumper.Observe(ev)
		}
	})
	s.observe.Store(&observe)
	defer s.observe.Store(nil)

	parser := &fcgiwire.ResponseParser{}
	raw := &runenv.CapBuffer{Max: maxOutput}
	body := &runenv.CapBuffer{Max: maxOutput}
	errBuf := &runenv.CapBuffer{Max: maxOutput}
	parser.Body = body
	x := &fcgireq.Exchange{Parser: parser, JudgeCGI: o.Output != formatters.Raw, Fail: o.Fail, Trace: tr, Start: start, Connected: connected}
	req := prep.Request()
	req.Stdout, req.Stderr = io.MultiWriter(raw, parser), errBuf
	r.err = x.Send(ctx, conn, req)
	end := time.Now()
	r.hint = x.Hint(prep.Pairs, body.Buf, errBuf.Buf, r.err)
	if conn == s.conn && !conn.Reusable() {
		s.closeConn()
	}
	res := &x.Result
	r.res, r.raw, r.body, r.stderr = res, raw.Buf, body.Buf, errBuf.Buf
	if parser.Done {
		cgi := parser.Response
		r.cgi = &cgi
	}
	r.connect, r.total = connected.Sub(start), end.Sub(start)
	r.first = -1
	if !res.FirstByte.IsZero() {
		r.first = res.FirstByte.Sub(start)
	}
	return r, r.err
}

const maxEvents = 1 << 16

// chanLock is a mutex that needs no zero-value care in a closure.
type chanLock chan struct{}

func (l chanLock) lock()   { l <- struct{}{} }
func (l chanLock) unlock() { <-l }

// connection returns the kept connection when it still works, or a new
// one, saying so when the server had closed the old one.
func (s *Session) connection(ctx context.Context, o fcgireq.NetOptions) (*fcgiwire.Conn, error) {
	if s.conn != nil && s.connAddr == o.Connect {
		if s.conn.Reusable() && alive(s.conn.NetConn()) {
			return s.conn, nil
		}
		s.closeConn()
		fmt.Fprintf(s.env.Stderr, "fcgicli: the server closed the connection; reconnecting to %s\n", o.Connect)
	}
	s.closeConn()
	conn, done, err := fcgireq.Connect(ctx, o, s.tracer(), nil)
	if err != nil {
		return nil, err
	}
	conn.SetObserver(s.observeEvent)
	s.conn, s.connDone, s.connAddr = conn, done, o.Connect
	return conn, nil
}

// observeEvent passes a record to the observer of the request in flight.
func (s *Session) observeEvent(ev fcgiwire.Event) {
	if o := s.observe.Load(); o != nil {
		(*o)(ev)
	}
}

// tracer traces connecting in verbose mode.
func (s *Session) tracer() *formatters.Tracer {
	if !s.verbose {
		return nil
	}
	pal, _ := runenv.Palette(s.settings.Color, s.env, s.env.Stderr)
	return &formatters.Tracer{W: runenv.Own(s.env.Stderr), P: pal}
}

// alive reports whether an idle connection is still open: a read that
// times out at once means nothing came, not even an EOF.
func alive(nc net.Conn) bool {
	if err := nc.SetReadDeadline(time.Now().Add(time.Millisecond)); err != nil {
		return false
	}
	var b [1]byte
	n, err := nc.Read(b[:])
	_ = nc.SetReadDeadline(time.Time{})
	if n > 0 {
		return false // bytes nobody asked for: start afresh
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (s *Session) closeConn() {
	if s.connDone != nil {
		s.connDone()
	}
	s.conn, s.connDone, s.connAddr = nil, nil, ""
}

func (s *Session) connectTo(ctx context.Context, addr string) error {
	o := s.settings.Net
	o.Connect = addr
	if err := fcgireq.CheckClientAddr(addr); err != nil {
		return err
	}
	old := s.settings.Net.Connect
	s.closeConn()
	s.settings.Net.Connect = addr
	ctx, cancel := o.WithTimeout(ctx)
	defer cancel()
	if _, err := s.connection(ctx, o); err != nil {
		s.settings.Net.Connect = old
		return err
	}
	fmt.Fprintf(s.env.Stdout, "connected to %s\n", addr)
	return nil
}

// render writes a kept response as format.
func (s *Session) render(r *response, format formatters.Format, include, quietFail bool) error {
	// On a terminal, the application's stderr ends its line before the body.
	out := runenv.AfterStderr(s.env.Stdout, s.env.Stderr)
	switch format {
	case formatters.JSON:
		j := &formatters.ResponseResult{
			CGI: r.cgi, Body: r.body, Stderr: r.stderr,
			Ended: r.res.Ended, AppStatus: r.res.AppStatus, ProtocolStatus: r.res.ProtocolStatus,
			BytesSent: r.res.BytesSent, BytesReceived: r.res.BytesReceived,
			ConnectUS: r.connect.Microseconds(), FirstByteUS: -1, TotalUS: r.total.Microseconds(),
		}
		if r.first >= 0 {
			j.FirstByteUS = r.first.Microseconds()
		}
		if r.err != nil {
			_, j.Err = runenv.ExitCode(r.err)
		}
		j.Hint = r.hint
		if err := formatters.WriteResponseJSON(out, j); err != nil {
			return err
		}
		return s.writeHint(r)
	case formatters.Raw:
		s.env.Stderr.Write(r.stderr)
		_, err := out.Write(r.raw)
		return err
	}
	s.env.Stderr.Write(r.stderr)
	if quietFail && r.cgi != nil && r.cgi.Status >= 400 {
		return nil // the failure's message carries the hint
	}
	if include && r.cgi != nil {
		pal, _ := runenv.Palette(s.settings.Color, s.env, out)
		if err := formatters.WriteCGIHeaders(out, r.cgi, pal); err != nil {
			return err
		}
	}
	if _, err := out.Write(r.body); err != nil {
		return err
	}
	if len(r.body) > 0 && r.body[len(r.body)-1] != '\n' && runenv.IsTerminal(out) {
		fmt.Fprintln(out)
	}
	return s.writeHint(r)
}

// writeHint writes a response's hint, unless its error will carry it.
func (s *Session) writeHint(r *response) error {
	if r.hint == "" || r.err != nil {
		return nil
	}
	_ = runenv.EndLine(s.env.Stderr)
	return formatters.WriteHint(s.env.Stderr, r.hint)
}
