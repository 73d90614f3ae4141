package commands

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fcgicli/fcgicli/commands/echo"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
)

// builtinAddr is the --connect value that starts the echo responder
// in-process and talks to it through a real unix socket.
const builtinAddr = "builtin"

// networkFlags are the flags of every command that connects to a server.
func networkFlags(defaultTimeout time.Duration) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "connect", Aliases: []string{"c"}, Usage: "server `ADDR`: host:port, [::1]:port, unix:/path, /path, @abstract or builtin (default $FCGI_CONNECT)"},
		&cli.DurationFlag{Name: "connect-timeout", Value: 5 * time.Second, Usage: "give up connecting after `DURATION`"},
		&cli.DurationFlag{Name: "timeout", Aliases: []string{"t"}, Value: defaultTimeout, Usage: "give up on the whole command after `DURATION` (0: never)"},
	}
}

// netOptions are the values of networkFlags.
type netOptions struct {
	Connect        string
	ConnectTimeout time.Duration
	Timeout        time.Duration
}

func netOptionsFrom(c *cli.Context, env *runenv.Env) (netOptions, error) {
	o := netOptions{Connect: c.String("connect"), ConnectTimeout: c.Duration("connect-timeout"), Timeout: c.Duration("timeout")}
	if o.Connect == "" {
		o.Connect = env.Getenv("FCGI_CONNECT")
	}
	if o.Connect == "" {
		return o, runenv.Usagef("no server address: give -c ADDR or set FCGI_CONNECT (forms: %s, or builtin)", fcgiwire.AddrForms)
	}
	if err := checkClientAddr(o.Connect); err != nil {
		return o, err
	}
	if o.ConnectTimeout < 0 || o.Timeout < 0 {
		return o, runenv.Usagef("timeouts cannot be negative")
	}
	return o, nil
}

// checkClientAddr checks an address a client dials: one of fcgiwire's
// forms, or builtin, which a bad address's message lists with them.
func checkClientAddr(addr string) error {
	if addr == builtinAddr {
		return nil
	}
	_, err := fcgiwire.ParseAddr(addr)
	if ae, ok := errors.AsType[*fcgiwire.AddrError](err); ok {
		return runenv.Usagef("bad address %q: %s (accepted forms: %s, or builtin)", ae.Addr, ae.Reason, fcgiwire.AddrForms)
	}
	return err
}

// withTimeout bounds ctx by the whole-command timeout.
func (o netOptions) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if o.Timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeoutCause(ctx, o.Timeout, &runenv.TimeoutError{Msg: fmt.Sprintf("timed out after %s (--timeout)", o.Timeout)})
}

// target is a dialable server; for builtin it also owns the in-process
// responder, which Close stops.
type target struct {
	addr    fcgiwire.Addr
	display string
	close   func()
}

func openTarget(o netOptions, errOut func(string)) (*target, error) {
	if o.Connect != builtinAddr {
		a, err := fcgiwire.ParseAddr(o.Connect)
		if err != nil {
			return nil, err
		}
		return &target{addr: a, display: a.String(), close: func() {}}, nil
	}
	dir, err := os.MkdirTemp("", "fcgicli-builtin-")
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, "echo.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	srv := echo.NewBuiltin(errOut)
	go srv.Serve(l)
	return &target{
		addr:    fcgiwire.Addr{Network: "unix", Address: sock},
		display: "builtin",
		close: func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
			os.RemoveAll(dir)
		},
	}, nil
}

// dial connects within the connect timeout and the context. A dial that
// runs out of time is a timeout (exit 4), any other failure a connect
// error (exit 3).
func (t *target) dial(ctx context.Context, connectTimeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: connectTimeout}
	nc, err := d.DialContext(ctx, t.addr.Network, t.addr.Address)
	if err == nil {
		return nc, nil
	}
	if cause := context.Cause(ctx); ctx.Err() != nil {
		return nil, cause
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return nil, &runenv.TimeoutError{Msg: fmt.Sprintf("connecting to %s timed out after %s (--connect-timeout)", t.display, connectTimeout)}
	}
	return nil, &runenv.ConnectError{Addr: t.display, Err: err}
}

// timeoutCause turns an error that ended with ctx into ctx's cause.
func timeoutCause(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		if cause := context.Cause(ctx); cause != context.DeadlineExceeded {
			return cause
		}
		return &runenv.TimeoutError{Msg: "timed out"}
	}
	return err
}
