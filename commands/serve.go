package commands

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fcgicli/fcgicli/fcgiwire"
)

func serveCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "run the built-in echo responder",
		Description: `Runs a FastCGI responder that answers every request with a CGI response
listing what it received: the params in arrival order, the stdin size and
sha256, the request id, role and keep-conn flag. The answer is text, or JSON
when the request carries HTTP_ACCEPT: application/json. One line per request
is logged to stderr. It answers FCGI_GET_VALUES with its limits and serves
kept-alive and multiplexed connections. SIGINT or SIGTERM stops it
gracefully (exit 0).

The same responder runs in-process for any command given --connect builtin.

EXAMPLES:
   fcgicli serve --listen 127.0.0.1:9000
   fcgicli serve --listen /tmp/echo.sock --listen '[::1]:9001'
   fcgicli request -c 127.0.0.1:9000 /index.php -H 'Accept: application/json'`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "listen", Aliases: []string{"l"}, Usage: "listen on `ADDR` (repeatable; same forms as --connect; port 0 picks a free one)"},
			colorFlag(),
			&cli.DurationFlag{Name: "shutdown-timeout", Value: 5 * time.Second, Usage: "on SIGINT/SIGTERM, wait up to `DURATION` for requests in flight"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("serve takes no arguments, got %q", c.Args().First())
			}
			parsed, err := parseListens(c.StringSlice("listen"))
			if err != nil {
				return err
			}
			return runServe(c.Context, env, parsed, c.Duration("shutdown-timeout"))
		},
	}
}

func runServe(ctx context.Context, env *Env, addrs []fcgiwire.Addr, shutdownTimeout time.Duration) error {
	var logMu sync.Mutex
	logf := func(line string) {
		logMu.Lock()
		defer logMu.Unlock()
		fmt.Fprintf(env.Stderr, "fcgicli: serve: %s\n", line)
	}
	srv := NewEchoServer(logf, true)
	var listeners []net.Listener
	for _, a := range addrs {
		l, err := listen(a, 0)
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
			return err
		}
		listeners = append(listeners, l)
	}
	errc := make(chan error, len(listeners))
	for _, l := range listeners {
		logf("listening on " + listenerAddr(l))
		go func() { errc <- srv.Serve(l) }()
	}
	select {
	case <-ctx.Done():
		logf("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			logf("shutdown: requests still in flight after " + shutdownTimeout.String())
		}
		return nil
	case err := <-errc:
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		_ = srv.Shutdown(sctx)
		return fmt.Errorf("serve: %w", err)
	}
}

func listenerAddr(l net.Listener) string {
	a := l.Addr()
	if a.Network() == "unix" {
		return fcgiwire.Addr{Network: "unix", Address: a.String()}.String()
	}
	return a.String()
}

// parseListens parses the --listen values; at least one is needed.
func parseListens(values []string) ([]fcgiwire.Addr, error) {
	if len(values) == 0 {
		return nil, usagef("give at least one --listen ADDR")
	}
	var out []fcgiwire.Addr
	for _, v := range values {
		a, err := fcgiwire.ParseAddr(v)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// parseSocketMode parses --socket-mode, an octal file mode; "" is none.
func parseSocketMode(s string) (os.FileMode, error) {
	if s == "" {
		return 0, nil
	}
	m, err := strconv.ParseUint(s, 8, 32)
	if err != nil || m > 0o777 {
		return 0, usagef("--socket-mode %q: want an octal mode such as 0660", s)
	}
	return os.FileMode(m), nil
}

// listen listens on a, first removing a stale unix socket that nothing
// answers on any more, and gives a unix socket file the mode when set.
func listen(a fcgiwire.Addr, mode os.FileMode) (net.Listener, error) {
	l, err := listenOnce(a)
	if err == nil && mode != 0 && a.Network == "unix" && a.Address[0] != '@' {
		if cerr := os.Chmod(a.Address, mode); cerr != nil {
			l.Close()
			return nil, fmt.Errorf("--socket-mode: %w", cerr)
		}
	}
	return l, err
}

func listenOnce(a fcgiwire.Addr) (net.Listener, error) {
	l, err := net.Listen(a.Network, a.Address)
	if err == nil || a.Network != "unix" || a.Address[0] == '@' || !errors.Is(err, syscall.EADDRINUSE) {
		if err != nil {
			return nil, fmt.Errorf("cannot listen on %s: %w", a, unwrapOp(err))
		}
		return l, nil
	}
	if fi, serr := os.Stat(a.Address); serr == nil && fi.Mode()&os.ModeSocket != 0 {
		if c, derr := net.DialTimeout("unix", a.Address, time.Second); derr == nil {
			c.Close()
		} else if errors.Is(derr, syscall.ECONNREFUSED) {
			os.Remove(a.Address)
			if l, err = net.Listen(a.Network, a.Address); err == nil {
				return l, nil
			}
		}
	}
	return nil, fmt.Errorf("cannot listen on %s: %w", a, unwrapOp(err))
}
