package fcgireq

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/fcgicli/fcgicli/commands/echo"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

// BuiltinAddr is the --connect value that starts the echo responder
// in-process and talks to it through a real unix socket.
const BuiltinAddr = "builtin"

// NetOptions are where a command connects and its deadlines: the values
// of the network flags (-c, --connect-timeout, -t).
type NetOptions struct {
	Connect        string
	ConnectTimeout time.Duration
	Timeout        time.Duration // the whole command's; 0: none
	// Addr, when set, is Connect already parsed, dialled as it is: the
	// cgi-fcgi mode reads its address as cgi-fcgi does.
	Addr *fcgiwire.Addr
}

// CheckClientAddr checks an address a client dials: one of fcgiwire's
// forms, or builtin, which a bad address's message lists with them.
func CheckClientAddr(addr string) error {
	if addr == BuiltinAddr {
		return nil
	}
	_, err := fcgiwire.ParseAddr(addr)
	if ae, ok := errors.AsType[*fcgiwire.AddrError](err); ok {
		return runenv.Usagef("bad address %q: %s (accepted forms: %s, or builtin)", ae.Addr, ae.Reason, fcgiwire.AddrForms)
	}
	return err
}

// WithTimeout bounds ctx by the whole-command timeout.
func (o NetOptions) WithTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if o.Timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeoutCause(ctx, o.Timeout, &runenv.TimeoutError{Msg: fmt.Sprintf("timed out after %s (--timeout)", o.Timeout)})
}

// Target is a dialable server; for builtin it also owns the in-process
// responder, which Close stops.
type Target struct {
	Addr    fcgiwire.Addr
	Display string // the address as messages show it
	close   func()
}

// OpenTarget parses o's address, or starts the builtin responder.
func OpenTarget(o NetOptions) (*Target, error) {
	if o.Addr != nil {
		return &Target{Addr: *o.Addr, Display: o.Connect, close: func() {}}, nil
	}
	if o.Connect != BuiltinAddr {
		a, err := fcgiwire.ParseAddr(o.Connect)
		if err != nil {
			return nil, err
		}
		return &Target{Addr: a, Display: a.String(), close: func() {}}, nil
	}
	l, sock, remove, err := listenBuiltin(abstractSockets)
	if err != nil {
		return nil, err
	}
	srv := echo.NewBuiltin(nil)
	go srv.Serve(l)
	return &Target{
		Addr:    fcgiwire.Addr{Network: "unix", Address: sock},
		Display: "builtin",
		close: func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
			remove()
		},
	}, nil
}

// abstractSockets tells whether the system has abstract unix sockets,
// which live in no file system: Linux only.
const abstractSockets = runtime.GOOS == "linux" || runtime.GOOS == "android"

// listenBuiltin opens the builtin responder's socket: a unix socket in a
// new temporary directory, or, where there is none (a scratch container
// has no /tmp) and abstract is set, an abstract socket of a random name.
// remove removes the directory.
func listenBuiltin(abstract bool) (l net.Listener, sock string, remove func(), err error) {
	dir, err := os.MkdirTemp("", "fcgicli-builtin-")
	if err == nil {
		sock = filepath.Join(dir, "echo.sock")
		if l, err = net.Listen("unix", sock); err == nil {
			return l, sock, func() { os.RemoveAll(dir) }, nil
		}
		os.RemoveAll(dir)
	}
	if abstract {
		sock = fmt.Sprintf("@fcgicli-builtin-%d-%016x", os.Getpid(), rand.Uint64())
		if l, aerr := net.Listen("unix", sock); aerr == nil {
			return l, sock, func() {}, nil
		}
	}
	return nil, "", nil, runenv.Usagef("-c builtin: no place for its socket: %v (set TMPDIR to a writable directory)", runenv.UnwrapOp(err))
}

// Close stops a builtin responder; for any other target it does nothing.
func (t *Target) Close() { t.close() }

// Dial connects within the connect timeout and the context. A dial that
// runs out of time is a timeout (exit 4), any other failure a connect
// error (exit 3); either wraps the dial's own error.
func (t *Target) Dial(ctx context.Context, connectTimeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: connectTimeout}
	nc, err := d.DialContext(ctx, t.Addr.Network, t.Addr.Address)
	if err == nil {
		return nc, nil
	}
	if cause := context.Cause(ctx); ctx.Err() != nil {
		return nil, cause
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return nil, &runenv.TimeoutError{Msg: fmt.Sprintf("connecting to %s timed out after %s (--connect-timeout)", t.Display, connectTimeout), Err: err}
	}
	return nil, connectFailure(t, err)
}

// Connect dials o's target and returns a client connection, traced by tr
// when set, its net.Conn wrapped by wrap when set (raw-dump's
// --save-request and --save-response); done closes it and stops a
// builtin responder.
func Connect(ctx context.Context, o NetOptions, tr *formatters.Tracer, wrap func(net.Conn) net.Conn) (conn *fcgiwire.Conn, done func(), err error) {
	tgt, err := OpenTarget(o)
	if err != nil {
		return nil, nil, err
	}
	if tr != nil {
		tr.Info("connecting to %s", tgt.Display)
	}
	nc, err := tgt.Dial(ctx, o.ConnectTimeout)
	if err != nil {
		tgt.Close()
		return nil, nil, err
	}
	if wrap != nil {
		nc = wrap(nc)
	}
	conn = fcgiwire.NewConn(nc)
	if tr != nil {
		conn.SetObserver(tr.Observe)
	}
	return conn, func() { conn.Close(); tgt.Close() }, nil
}

// TimeoutCause turns an error that ended with ctx into ctx's cause: the
// --timeout that ran out, or an interruption.
func TimeoutCause(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		if cause := context.Cause(ctx); cause != context.DeadlineExceeded {
			return cause
		}
		return &runenv.TimeoutError{Msg: "timed out"}
	}
	return err
}
