package commands

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fcgicli/fcgicli/commands/netio"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

func proxyCommand(env *runenv.Env) *cli.Command {
	return &cli.Command{
		Name:  "proxy",
		Usage: "a transparent FastCGI proxy that shows every request passing through",
		Description: `Listens on --listen and forwards every connection, byte for byte, to
--upstream (one upstream connection per client connection, so keep-alive and
multiplexing pass through unchanged), while showing what passes: per request
the params in arrival order, the stdin size and sha256, the response's status
and headers, stderr, the app and protocol status and the duration. Point the
web server's fastcgi_pass at --listen to see exactly what it sends.

--records shows every record as raw-dump does instead; -o json writes one
JSON line per request (or per record); --save DIR writes each connection's
bytes in both directions for 'raw-dump --decode'. Any mix of TCP and unix
sockets on either side. SIGINT or SIGTERM stops it gracefully, as serve
stops: idle connections close at once, a request that begins afterwards is
answered OVERLOADED, those in flight get up to --shutdown-timeout, then it
exits 0.

EXAMPLES:
   fcgicli proxy --listen 127.0.0.1:9001 --upstream /run/php/php8.2-fpm.sock
   fcgicli proxy --listen /run/php/tap.sock --upstream 127.0.0.1:9000 -o json | jq .params
   fcgicli proxy --listen 127.0.0.1:9001 --upstream 127.0.0.1:9000 --records --max-bytes 64
   fcgicli proxy --listen 127.0.0.1:9001 --upstream 127.0.0.1:9000 --save /tmp/capture`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "listen", Aliases: []string{"l"}, Usage: "listen on `ADDR` (repeatable; same forms as --connect)"},
			&cli.StringFlag{Name: "upstream", Aliases: []string{"u"}, Usage: "forward to the FastCGI application at `ADDR`"},
			&cli.DurationFlag{Name: "connect-timeout", Value: 5 * time.Second, Usage: "give up connecting upstream after `DURATION`"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "`FORMAT`: text or json (one line per request, or per record with --records)"},
			&cli.BoolFlag{Name: "records", Usage: "show every record, as raw-dump does"},
			&cli.IntFlag{Name: "max-bytes", Value: 256, Usage: "with --records, show at most `N` bytes of each stream record (0: all)"},
			&cli.StringFlag{Name: "save", Usage: "write each connection's bytes to `DIR`/conn-N-request.bin and -response.bin"},
			&cli.StringFlag{Name: "socket-mode", Usage: "file mode for unix socket listeners, octal `MODE` such as 0660"},
			&cli.DurationFlag{Name: "shutdown-timeout", Value: 5 * time.Second, Usage: "on SIGINT/SIGTERM, wait up to `DURATION` for connections in flight"},
			readTimeoutFlag(),
			idleTimeoutFlag(),
			colorFlag(),
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return runenv.Usagef("proxy takes no arguments, got %q", c.Args().First())
			}
			listens, err := parseListens(c.StringSlice("listen"))
			if err != nil {
				return err
			}
			if c.String("upstream") == "" {
				return runenv.Usagef("give --upstream ADDR, the FastCGI application to forward to")
			}
			up, err := fcgiwire.ParseAddr(c.String("upstream"))
			if err != nil {
				return err
			}
			format, err := formatters.ParseFormat(c.String("output"), formatters.Text, formatters.JSON)
			if err != nil {
				return &runenv.UsageError{Msg: err.Error()}
			}
			mode, err := parseSocketMode(c.String("socket-mode"))
			if err != nil {
				return err
			}
			pal, err := palette(c, env, env.Stdout)
			if err != nil {
				return err
			}
			if c.Int("max-bytes") < 0 {
				return runenv.Usagef("--max-bytes cannot be negative")
			}
			if c.Duration("connect-timeout") < 0 || c.Duration("shutdown-timeout") < 0 {
				return runenv.Usagef("--connect-timeout and --shutdown-timeout cannot be negative")
			}
			deadlines, err := connDeadlinesFrom(c)
			if err != nil {
				return err
			}
			if dir := c.String("save"); dir != "" {
				if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
					return runenv.Usagef("--save %s: not a directory", dir)
				}
			}
			p := &proxy{
				env: env, upstream: up, connectTimeout: c.Duration("connect-timeout"), format: format,
				records: c.Bool("records"), maxBytes: c.Int("max-bytes"), save: c.String("save"), pal: pal,
				deadlines: deadlines,
			}
			return p.run(c.Context, listens, mode, c.Duration("shutdown-timeout"))
		},
	}
}

// proxy forwards connections and reports what passes.
type proxy struct {
	env            *runenv.Env
	upstream       fcgiwire.Addr
	connectTimeout time.Duration
	format         formatters.Format
	records        bool
	maxBytes       int
	save           string
	pal            *formatters.Palette
	deadlines      netio.Deadlines

	outMu sync.Mutex // one report at a time on stdout
	logMu sync.Mutex
	conns atomic.Uint64
	seq   atomic.Uint64
	wg    sync.WaitGroup
	mu    sync.Mutex
	live  map[net.Conn]struct{}
	taps  map[*tap]struct{}
	// shutting: SIGINT or SIGTERM came; idle connections close, new
	// requests are refused.
	shutting atomic.Bool
	// dialCtx ends when the shutdown deadline passes.
	dialCtx context.Context
}

func (p *proxy) logf(format string, args ...any) {
	p.logMu.Lock()
	defer p.logMu.Unlock()
	fmt.Fprintf(p.env.Stderr, "fcgicli: proxy: "+format+"\n", args...)
}

func (p *proxy) run(ctx context.Context, addrs []fcgiwire.Addr, mode os.FileMode, shutdownTimeout time.Duration) error {
	listeners, err := netio.ListenAll(addrs, mode)
	if err != nil {
		return err
	}
	p.live = map[net.Conn]struct{}{}
	p.taps = map[*tap]struct{}{}
	dialCtx, cancelDials := context.WithCancel(context.Background())
	defer cancelDials()
	p.dialCtx = dialCtx
	errc := make(chan error, len(listeners))
	for _, l := range listeners {
		p.logf("listening on %s, forwarding to %s", netio.ListenerAddr(l), p.upstream)
		go func() { errc <- p.accept(l) }()
	}
	select {
	case <-ctx.Done():
		p.logf("shutting down")
	case err = <-errc:
	}
	// As serve does: stop accepting, close the idle connections at once,
	// refuse the requests that begin from now on, and give those in
	// flight up to shutdownTimeout.
	p.shutting.Store(true)
	for _, l := range listeners {
		l.Close()
	}
	p.mu.Lock()
	for t := range p.taps {
		t.closeIfIdle()
	}
	p.mu.Unlock()
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(shutdownTimeout):
		p.logf("closing connections still open after %s", shutdownTimeout)
		cancelDials()
		p.mu.Lock()
		for t := range p.taps {
			t.forceClose(fmt.Sprintf("cut by the shutdown after --shutdown-timeout %s", shutdownTimeout))
		}
		for c := range p.live {
			c.Close()
		}
		p.mu.Unlock()
		<-done
	}
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("proxy: %w", err)
	}
	return nil
}

func (p *proxy) accept(l net.Listener) error {
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.serveConn(c)
		}()
	}
}

func (p *proxy) track(cs ...net.Conn) func() {
	p.mu.Lock()
	for _, c := range cs {
		p.live[c] = struct{}{}
	}
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		for _, c := range cs {
			delete(p.live, c)
			c.Close()
		}
		p.mu.Unlock()
	}
}

// drainTimeout bounds how long a client connection the proxy ends goes on
// being read after its half-close, as fcgiwire.Server's lingering close
// does: long enough for a client on this host or the LAN to see the end
// and close, short enough not to hold a shutdown.
const drainTimeout = time.Second

// closeDrained ends a client connection cleanly: it sends FIN, then reads
// and discards what the client sent or still sends until the client
// closes or drainTimeout passes. Closing with the client's bytes unread
// would make the kernel reset the connection instead.
func closeDrained(c net.Conn) {
	defer c.Close()
	cw, ok := c.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	_ = c.SetReadDeadline(time.Now().Add(drainTimeout))
	_, _ = io.Copy(io.Discard, c)
}

// serveConn forwards one client connection to its own upstream connection
// until both directions are done.
func (p *proxy) serveConn(client net.Conn) {
	id := p.conns.Add(1)
	d := net.Dialer{Timeout: p.connectTimeout}
	up, err := d.DialContext(p.dialCtx, p.upstream.Network, p.upstream.Address)
	if err != nil {
		p.logf("conn %d: upstream %s unreachable: %v; closing the client connection", id, p.upstream, runenv.UnwrapOp(err))
		untrack := p.track(client)
		defer untrack()
		closeDrained(client)
		return
	}
	untrack := p.track(client, up)
	defer untrack()
	t := &tap{p: p, conn: id, reqs: map[uint16]*tapReq{}, client: client, up: up}
	p.mu.Lock()
	p.taps[t] = struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.taps, t)
		p.mu.Unlock()
	}()
	var reqSave, respSave io.Writer
	if p.save != "" {
		files, err := netio.OpenTee(filepath.Join(p.save, fmt.Sprintf("conn-%d-request.bin", id)), filepath.Join(p.save, fmt.Sprintf("conn-%d-response.bin", id)))
		if err != nil {
			p.logf("conn %d: %v", id, err)
		} else {
			defer func() {
				if err := files.Close(); err != nil {
					p.logf("conn %d: %v", id, err)
				}
			}()
			reqSave, respSave = files.Req, files.Resp
		}
	}
	var dumper *formatters.Dumper
	if p.records {
		dumper = &formatters.Dumper{W: p.env.Stdout, P: p.pal, Format: p.format, MaxBytes: p.maxBytes, Conn: id, Lock: &p.outMu}
	}
	var wg sync.WaitGroup
	wg.Add(2)
	// The client gets the forwarded answers and the proxy's own
	// (OVERLOADED at shutdown) through one lock, whole records each.
	var toClient io.Writer = client
	if respSave != nil {
		toClient = io.MultiWriter(client, respSave)
	}
	t.toClient = &runenv.LockedWriter{W: toClient}
	go func() {
		defer wg.Done()
		writing, err := p.pump(client, up, reqSave, fcgiwire.Sent, t, dumper)
		t.logEnd("client", "upstream", err, writing)
	}()
	go func() {
		defer wg.Done()
		writing, err := p.pump(up, client, nil, fcgiwire.Received, t, dumper)
		t.logEnd("upstream", "client", err, writing)
	}()
	wg.Wait()
	t.flush()
}

// pump copies src to dst byte for byte, decoding the records on the way
// for the report. Each record is reported before its bytes go on, so the
// report of a request always comes before the application can answer it;
// a record is forwarded as soon as it is complete (never a whole body).
// Where the stream stops decoding, everything else, the bytes of the bad
// record included, is copied undecoded. At the end it half-closes dst so
// the other side sees the end too. It returns a nil error at a clean end
// of src, else whether the error came writing to dst (else reading src)
// and the error.
func (p *proxy) pump(src, dst net.Conn, save io.Writer, dir fcgiwire.Direction, t *tap, dumper *formatters.Dumper) (bool, error) {
	var w io.Writer = dst
	if dir == fcgiwire.Received {
		w = t.toClient
	} else if save != nil {
		w = io.MultiWriter(dst, save)
	}
	pend := &pendingReader{src: src, dst: w, save: save, idle: t.closeIfIdle}
	if dir == fcgiwire.Sent {
		pend.arm = t.armClient
	}
	r := readerPool.Get().(*fcgiwire.Reader)
	defer readerPool.Put(r)
	r.Reset(pend)
	r.Observe = func(ev fcgiwire.Event) {
		ev.Dir = dir
		if dumper != nil {
			dumper.Observe(ev)
		}
		drop, answer := t.record(ev)
		end := ev.Offset + int64(ev.Header.Len())
		pend.recEnd = end
		if drop {
			pend.drop(ev.Offset, end)
		} else {
			pend.complete = end
		}
		if answer != nil {
			_, _ = t.toClient.Write(answer)
		}
	}
	var err error
	for pend.err == nil {
		if _, err = r.ReadRecord(); err != nil {
			break
		}
	}
	if dir == fcgiwire.Sent && pend.err == nil && isTimeout(err) {
		switch t.clientDeadline() {
		case deadlineIdle:
			// Idle past --idle-timeout: close as at a shutdown (below).
			t.closeIdle()
		case deadlineStall:
			p.logf("conn %d: the client sent nothing for %s mid-record or mid-request (--read-timeout); closing", t.conn, p.deadlines.Read)
			t.forceClose(fmt.Sprintf("the client stalled past --read-timeout %s", p.deadlines.Read))
			return false, nil
		}
	}
	// What was read but not forwarded: complete records, then a bad or
	// cut one.
	if pend.err == nil {
		pend.forward(pend.end())
	}
	if dir == fcgiwire.Sent && t.isClosing() {
		// Shutting down: drain the client so that it sees the proxy's
		// FIN, not a reset (the read deadline bounds it).
		_, _ = io.Copy(io.Discard, src)
		return false, nil
	}
	var pe *fcgiwire.ProtocolError
	if pend.err == nil && errors.As(err, &pe) {
		p.logf("conn %d: %s stream stopped decoding: %v; copying the rest undecoded", t.conn, dir, err)
		_, err = io.Copy(w, src)
	}
	writing := pend.err != nil
	switch {
	case writing:
		err = pend.err
	case err == io.EOF || errors.Is(err, errForward):
		err = nil
	}
	// Note why the requests in flight end before the other side hears of
	// it: the side that closed first is the cause.
	t.noteEnd(dir, err, writing)
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	} else {
		dst.Close()
	}
	return writing, err
}

// readerPool keeps record readers (and their 128 KiB of buffers) across
// connections.
var readerPool = sync.Pool{New: func() any { return fcgiwire.NewReader(nil) }}

// errForward stops the reader once forwarding failed.
var errForward = errors.New("forwarding failed")

// pendingReader keeps the bytes read from src until they are forwarded to
// dst. The complete records among them go on just before it would block
// reading more, so records that arrived together leave together, and
// after the reader has reported them.
type pendingReader struct {
	src      io.Reader
	dst      io.Writer
	buf      []byte
	base     int64     // stream offset of buf[0]
	complete int64     // stream offset where the last reported record ends
	err      error     // the first error forwarding
	save     io.Writer // where dropped records go, if anywhere
	idle     func()    // called before blocking on src
	// arm, when set, is called before each read from src, told whether
	// a record has begun and not ended (recEnd: where the last ended).
	arm    func(midRecord bool)
	recEnd int64
}

func (p *pendingReader) Read(b []byte) (int, error) {
	p.forward(p.complete)
	if p.err != nil {
		return 0, errForward
	}
	if p.idle != nil {
		p.idle()
	}
	if p.arm != nil {
		p.arm(p.end() > p.recEnd)
	}
	n, err := p.src.Read(b)
	p.buf = append(p.buf, b[:n]...)
	return n, err
}

// end is the stream offset after the last byte read.
func (p *pendingReader) end() int64 { return p.base + int64(len(p.buf)) }

// forward writes the pending bytes up to stream offset end.
func (p *pendingReader) forward(end int64) {
	k := int(end - p.base)
	if k <= 0 || p.err != nil {
		return
	}
	if _, err := p.dst.Write(p.buf[:k]); err != nil {
		p.err = err
		return
	}
	p.buf = append(p.buf[:0], p.buf[k:]...)
	p.base = end
}

// drop forwards the pending bytes up to start and discards the record
// from start to end (to save only).
func (p *pendingReader) drop(start, end int64) {
	p.forward(start)
	k := int(end - p.base)
	if p.err != nil || k <= 0 || k > len(p.buf) {
		return
	}
	if p.save != nil {
		_, _ = p.save.Write(p.buf[:k])
	}
	p.buf = append(p.buf[:0], p.buf[k:]...)
	p.base = end
}

// tap follows the requests of one connection through their records.
type tap struct {
	p    *proxy
	conn uint64
	mu   sync.Mutex
	reqs map[uint16]*tapReq

	client, up net.Conn
	toClient   io.Writer
	closing    bool // the proxy is ending the connection (shutdown)
	// dl: the deadline the client's read is under.
	dl deadlineKind
}

// deadlineKind says which deadline a client connection's read is under.
type deadlineKind uint8

const (
	deadlineNone deadlineKind = iota
	deadlineIdle
	deadlineStall
)

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// armClient sets the client's read deadline before a read: --read-timeout
// mid-record or while a request still owes input, --idle-timeout when no
// request is in flight, else none. A connection the proxy is closing keeps
// the deadline its close set.
func (t *tap) armClient(midRecord bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closing {
		return
	}
	d := t.p.deadlines
	var at time.Time
	t.dl = deadlineNone
	switch {
	case midRecord || t.owing():
		if d.Read > 0 {
			at, t.dl = time.Now().Add(d.Read), deadlineStall
		}
	case len(t.reqs) == 0:
		if d.Idle > 0 {
			at, t.dl = time.Now().Add(d.Idle), deadlineIdle
		}
	}
	_ = t.client.SetReadDeadline(at)
}

// armIdleLocked puts the client's pending read under --idle-timeout once
// the last request has ended. Called with t.mu held.
func (t *tap) armIdleLocked() {
	if t.closing || len(t.reqs) > 0 || t.p.deadlines.Idle <= 0 {
		return
	}
	t.dl = deadlineIdle
	_ = t.client.SetReadDeadline(time.Now().Add(t.p.deadlines.Idle))
}

// owing reports whether a request in flight still owes input: its PARAMS,
// STDIN or (FILTER) DATA stream has not ended. Called with t.mu held.
func (t *tap) owing() bool {
	for _, r := range t.reqs {
		if !r.paramsEnded || (r.ex.Role != fcgiwire.RoleAuthorizer && !r.stdinEnded) || (r.ex.Role == fcgiwire.RoleFilter && !r.dataEnded) {
			return true
		}
	}
	return false
}

func (t *tap) clientDeadline() deadlineKind {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.dl
}

type tapReq struct {
	refused bool // begun after the shutdown began: not forwarded
	ex      formatters.Exchange
	start   time.Time
	params  []byte
	stdin   hash.Hash
	// The client's streams that have ended.
	paramsEnded, stdinEnded, dataEnded bool
	parser                             *fcgiwire.ResponseParser
	body                               *runenv.CountWriter
	stderr                             runenv.CapBuffer
}

// maxTapParams bounds the PARAMS bytes kept per request for the report.
const maxTapParams = 1 << 20

// record follows one record. A client record it returns drop for is not
// forwarded; answer, when set, goes to the client after it.
func (t *tap) record(ev fcgiwire.Event) (drop bool, answer []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	h := ev.Header
	if h.RequestID == 0 {
		return false, nil
	}
	r := t.reqs[h.RequestID]
	if ev.Dir == fcgiwire.Sent && t.p.shutting.Load() && (r == nil || r.refused) {
		return true, t.refuse(ev, r)
	}
	if ev.Dir == fcgiwire.Sent {
		switch h.Type {
		case fcgiwire.TypeBeginRequest:
			br, err := fcgiwire.DecodeBeginRequest(ev.Content)
			if err != nil {
				return false, nil
			}
			t.begin(h.RequestID, br, false)
		case fcgiwire.TypeParams:
			if r != nil && len(ev.Content) == 0 {
				r.paramsEnded = true
			}
			if r != nil && len(r.params)+len(ev.Content) <= maxTapParams {
				r.params = append(r.params, ev.Content...)
			}
		case fcgiwire.TypeStdin:
			if r != nil {
				r.ex.StdinBytes += int64(len(ev.Content))
				r.stdin.Write(ev.Content)
				r.stdinEnded = r.stdinEnded || len(ev.Content) == 0
			}
		case fcgiwire.TypeData:
			if r != nil {
				r.ex.DataBytes += int64(len(ev.Content))
				r.dataEnded = r.dataEnded || len(ev.Content) == 0
			}
		case fcgiwire.TypeAbortRequest:
			if r != nil {
				r.ex.Note = "aborted by the client"
			}
		}
		return false, nil
	}
	if r == nil {
		return false, nil
	}
	switch h.Type {
	case fcgiwire.TypeStdout:
		_, _ = r.parser.Write(ev.Content)
	case fcgiwire.TypeStderr:
		_, _ = r.stderr.Write(ev.Content)
	case fcgiwire.TypeEndRequest:
		if er, err := fcgiwire.DecodeEndRequest(ev.Content); err == nil {
			r.ex.Ended, r.ex.AppStatus, r.ex.ProtocolStatus = true, er.AppStatus, er.ProtocolStatus
		}
		t.finish(h.RequestID, r)
	}
	return false, nil
}

// refuse follows a client record of a request that begins after the
// shutdown began (r nil or refused): as serve does, the request is not
// started (its records are not forwarded) and is answered OVERLOADED when
// its params end (or it is aborted). Called with t.mu held.
func (t *tap) refuse(ev fcgiwire.Event, r *tapReq) []byte {
	h := ev.Header
	switch {
	case h.Type == fcgiwire.TypeBeginRequest:
		br, err := fcgiwire.DecodeBeginRequest(ev.Content)
		if err != nil {
			return nil
		}
		t.begin(h.RequestID, br, true)
		return nil
	case r == nil:
		return nil // a request already answered, or never begun
	case h.Type == fcgiwire.TypeParams && len(ev.Content) > 0:
		if len(r.params)+len(ev.Content) <= maxTapParams {
			r.params = append(r.params, ev.Content...)
		}
		return nil
	case h.Type == fcgiwire.TypeParams, h.Type == fcgiwire.TypeAbortRequest:
		r.ex.Ended, r.ex.ProtocolStatus = true, fcgiwire.Overloaded
		r.ex.Note = "refused: shutting down"
		t.finish(h.RequestID, r)
		end := fcgiwire.Header{Version: fcgiwire.Version1, Type: fcgiwire.TypeEndRequest, RequestID: h.RequestID}
		return fcgiwire.AppendRecord(nil, end, fcgiwire.EndRequest{ProtocolStatus: fcgiwire.Overloaded}.Encode())
	}
	return nil
}

// begin starts following request id; refused: it began after the
// shutdown began and is not forwarded. Called with t.mu held.
func (t *tap) begin(id uint16, br fcgiwire.BeginRequest, refused bool) {
	r := &tapReq{refused: refused, start: time.Now(), stdin: sha256.New(), body: &runenv.CountWriter{}, stderr: runenv.CapBuffer{Max: formatters.MaxExchangeStderr}}
	r.ex = formatters.Exchange{Conn: t.conn, RequestID: id, Role: br.Role, KeepConn: br.KeepConn()}
	r.parser = &fcgiwire.ResponseParser{Body: r.body}
	t.reqs[id] = r
}

// closeIfIdle ends the connection once the shutdown has begun and no
// request is in flight on it: the upstream connection closes, the client
// gets the answers already read and then a FIN (pump's half-close), and
// is drained for up to drainTimeout so that it sees no reset.
func (t *tap) closeIfIdle() {
	if t.p.shutting.Load() {
		t.closeIdle()
	}
}

// closeIdle ends the connection as closeIfIdle does, if no request is in
// flight on it.
func (t *tap) closeIdle() {
	t.mu.Lock()
	if t.closing || len(t.reqs) > 0 {
		t.mu.Unlock()
		return
	}
	t.closing = true
	t.mu.Unlock()
	_ = t.client.SetReadDeadline(time.Now().Add(drainTimeout))
	t.up.Close()
}

// forceClose cuts the connection at the shutdown deadline, noting why on
// the requests in flight.
func (t *tap) forceClose(note string) {
	t.mu.Lock()
	t.closing = true
	t.noteLocked(note)
	t.mu.Unlock()
	t.client.Close()
	t.up.Close()
}

func (t *tap) isClosing() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closing
}

// finish reports a request and forgets it. Called with t.mu held.
func (t *tap) finish(id uint16, r *tapReq) {
	delete(t.reqs, id)
	t.armIdleLocked()
	r.parser.Close()
	if r.parser.Done {
		r.ex.CGI = &r.parser.Response
	}
	r.ex.BodyBytes = r.body.N
	r.ex.Stderr, r.ex.StderrTruncated = r.stderr.Buf, r.stderr.Truncated
	r.ex.DurationUS = time.Since(r.start).Microseconds()
	r.ex.StdinSHA256 = hex.EncodeToString(r.stdin.Sum(nil))
	if pairs, err := fcgiwire.DecodePairs(r.params, 0); err == nil || len(pairs) > 0 {
		r.ex.Params = pairs
	}
	if t.p.records {
		return // the records are the report
	}
	r.ex.Seq = t.p.seq.Add(1)
	t.p.outMu.Lock()
	defer t.p.outMu.Unlock()
	if err := formatters.WriteExchange(t.p.env.Stdout, &r.ex, t.p.format, t.p.pal); err != nil {
		t.p.logf("writing the report: %v", err)
	}
}

// noteEnd notes on the requests still in flight why a direction ended:
// the client closed or went away (reading from it or writing to it
// failed), or the upstream closed.
func (t *tap) noteEnd(dir fcgiwire.Direction, err error, writing bool) {
	if t.isClosing() || (err != nil && errors.Is(err, net.ErrClosed)) {
		return
	}
	switch {
	case dir == fcgiwire.Sent && err == nil:
		t.noteInFlight("the client closed the connection before END_REQUEST")
	case dir == fcgiwire.Sent && !writing, dir == fcgiwire.Received && writing:
		t.noteInFlight(fmt.Sprintf("the client went away before END_REQUEST (%s)", runenv.UnwrapOp(err)))
	case dir == fcgiwire.Received:
		t.noteInFlight("connection closed before END_REQUEST")
	}
}

// logEnd logs how the direction from one side to the other ended, naming
// the side that failed: the one written to when writing failed, else the
// one read from.
func (t *tap) logEnd(from, to string, err error, writing bool) {
	if err == nil || errors.Is(err, net.ErrClosed) || t.isClosing() {
		return
	}
	if writing {
		t.p.logf("conn %d: writing to the %s: %s", t.conn, to, runenv.UnwrapOp(err))
		return
	}
	t.p.logf("conn %d: reading from the %s: %s", t.conn, from, runenv.UnwrapOp(err))
}

// noteInFlight notes what happened on the requests still in flight that
// have no note yet.
func (t *tap) noteInFlight(note string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.noteLocked(note)
}

// noteLocked is noteInFlight with t.mu held.
func (t *tap) noteLocked(note string) {
	for _, r := range t.reqs {
		if r.ex.Note == "" {
			r.ex.Note = note
		}
	}
}

// flush reports the requests that never got their END_REQUEST.
func (t *tap) flush() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, r := range t.reqs {
		if r.ex.Note == "" {
			r.ex.Note = "connection closed before END_REQUEST"
		}
		t.finish(id, r)
	}
}
