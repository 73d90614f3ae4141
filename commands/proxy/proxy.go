// Package proxy is the engine of 'fcgicli proxy', a transparent FastCGI
// tap. It owns the forwarding of each client connection to an upstream
// connection of its own, byte for byte and record by record (pump,
// pendingReader); following the requests through their records (tap) and
// reporting each exchange as it ends, or each record with Records; the
// --read-timeout and --idle-timeout deadlines of client connections; --save;
// and the graceful shutdown: idle connections closed at once, a request
// begun afterwards answered OVERLOADED, those in flight given
// ShutdownTimeout.
//
// It must not import package commands or parse flags (the command turns
// them into Options), must not change what it forwards (the OVERLOADED
// answer at a shutdown is the only record it writes itself), must not call
// os.Exit, and holds no package-level mutable state: it writes only to the
// Env it is given.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fcgicli/fcgicli/commands/netio"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

// Options are what the proxy command's flags decide.
type Options struct {
	Upstream       fcgiwire.Addr // the FastCGI application to forward to
	ConnectTimeout time.Duration // for each upstream connection
	Format         formatters.Format
	// Records reports every record, as raw-dump shows it (MaxBytes of
	// each stream record, 0 for all), instead of one report per request.
	Records  bool
	MaxBytes int
	// Save, when set, is the directory where each connection's bytes go,
	// conn-N-request.bin and conn-N-response.bin.
	Save            string
	Palette         *formatters.Palette
	Deadlines       netio.Deadlines
	SocketMode      os.FileMode   // for unix socket listeners; 0 leaves it
	ShutdownTimeout time.Duration // how long those in flight get at a shutdown
}

// Run listens on every address and forwards each connection to
// o.Upstream, reporting on env's stdout what passes and logging on its
// stderr, until ctx ends (SIGINT, SIGTERM): then it shuts down gracefully
// and returns nil. It returns an error when it cannot listen or a listener
// fails.
func Run(ctx context.Context, env *runenv.Env, addrs []fcgiwire.Addr, o Options) error {
	p := &proxy{Options: o, env: env}
	return p.run(ctx, addrs)
}

// proxy forwards connections and reports what passes.
type proxy struct {
	Options
	env *runenv.Env

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
	// readers keeps record readers (and their 128 KiB of buffers) across
	// connections.
	readers sync.Pool
}

func (p *proxy) logf(format string, args ...any) {
	p.logMu.Lock()
	defer p.logMu.Unlock()
	fmt.Fprintf(p.env.Stderr, "fcgicli: proxy: "+format+"\n", args...)
}

func (p *proxy) run(ctx context.Context, addrs []fcgiwire.Addr) error {
	shutdownTimeout := p.ShutdownTimeout
	listeners, err := netio.ListenAll(addrs, p.SocketMode)
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
		p.logf("listening on %s, forwarding to %s", netio.ListenerAddr(l), p.Upstream)
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
	d := net.Dialer{Timeout: p.ConnectTimeout}
	up, err := d.DialContext(p.dialCtx, p.Upstream.Network, p.Upstream.Address)
	if err != nil {
		p.logf("conn %d: upstream %s unreachable: %v; closing the client connection", id, p.Upstream, runenv.UnwrapOp(err))
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
	if p.Save != "" {
		files, err := netio.OpenTee(filepath.Join(p.Save, fmt.Sprintf("conn-%d-request.bin", id)), filepath.Join(p.Save, fmt.Sprintf("conn-%d-response.bin", id)))
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
	if p.Records {
		dumper = &formatters.Dumper{W: p.env.Stdout, P: p.Palette, Format: p.Format, MaxBytes: p.MaxBytes, Conn: id, Lock: &p.outMu}
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
