// Package cgifcgi is the cgi-fcgi mode: libfcgi's "cgi-fcgi -bind -connect
// ADDR" as fcgicli runs it, for scripts written for it. It owns reading a
// cgi-fcgi command line and its environment as cgi-fcgi does, the address
// in cgi-fcgi's forms, CONTENT_LENGTH bytes of stdin as the body, and
// turning each way a request can end into cgi-fcgi's exit numbers and
// words; and install-cgi-fcgi's link. The request itself goes the one way
// every command sends one (fcgireq's Prepare, Connect and Exchange.Send).
//
// Its exit codes are cgi-fcgi's, not the table every other command uses.
// It must not import package commands, parse fcgicli's flags, call
// os.Exit or hold package-level mutable state; it writes only the
// request's output and its one closing line, to the streams it is given.
package cgifcgi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
)

// Name is the program name that runs the cgi-fcgi mode: the subcommand's
// name, and the name of the link install-cgi-fcgi makes.
const Name = "cgi-fcgi"

// Exit codes of the cgi-fcgi mode. They are cgi-fcgi's own, not the table
// every other command uses: scripts written for libfcgi's cgi-fcgi test
// these numbers. Besides them the mode exits with the application's app
// status or with an errno (111 refused, 2 no such socket, 104 reset...).
const (
	// exitUsage: a bad command line (cgi-fcgi's code), and what this
	// mode adds: -start or -f, a port out of range, a bad FCGI_TIMEOUT or
	// CONTENT_LENGTH, stdin shorter than CONTENT_LENGTH.
	exitUsage = 1
	// exitTimeout: FCGI_TIMEOUT passed (the code of timeout(1)).
	exitTimeout = 124
	// exitUnknownHost: cgi-fcgi calls exit(1000) for a host it cannot
	// resolve or a socket path too long, which the shell sees as 232.
	exitUnknownHost = 1000 & 0xff
	// exitProtocol: libfcgi's FCGX_PROTOCOL_ERROR (-3) as an exit code.
	exitProtocol = 253
	// exitVersion: libfcgi's FCGX_UNSUPPORTED_VERSION (-2): a record
	// whose version byte is not 1, such as an HTTP server's answer.
	exitVersion = 254
	// maxAppStatus: app statuses above it exit with it, where cgi-fcgi
	// keeps the low byte and so turns 256 into a success.
	maxAppStatus = 255
	// unixPathMax is the longest socket path Go can connect to: sun_path
	// (108 bytes on Linux) less its terminating NUL. cgi-fcgi refuses
	// paths longer than 108 bytes and tries one of exactly 108.
	unixPathMax = 107
)

// usage is the usage text cgi-fcgi prints on stderr for a bad command
// line, word for word, so that scripts and people see what they know.
const usage = `Usage:
    cgi-fcgi -f <cmdPath> , or
    cgi-fcgi -connect <connName> <appPath> [<nServers>] , or
    cgi-fcgi -start -connect <connName> <appPath> [<nServers>] , or
    cgi-fcgi -bind -connect <connName> ,
where <connName> is either the pathname of a UNIX domain socket
or (if -bind is given) a hostName:portNumber specification
or (if -start is given) a :portNumber specification (uses local host).
`

// exit is how the mode ends: an exit code and at most one line on
// stderr, either cgi-fcgi's own words (plain) or a "fcgicli: " message.
type exit struct {
	code  int
	line  string
	plain bool
}

func fail(code int, format string, a ...any) *exit {
	return &exit{code: code, line: fmt.Sprintf(format, a...)}
}

// Run runs the cgi-fcgi mode with args (the arguments after the program
// name) and returns the exit code.
func Run(ctx context.Context, env *runenv.Env, args []string) int {
	// libfcgi ignores SIGPIPE: a closed stdout (cgi-fcgi ... | grep -q pong)
	// ends cgi-fcgi with EPIPE's errno, 32, not by the signal.
	signal.Ignore(syscall.SIGPIPE)
	x := run(ctx, env, args)
	if x.line != "" {
		if lt, ok := env.Stderr.(*runenv.LineTracker); ok && !lt.AtStart {
			// The application's stderr ended mid-line.
			fmt.Fprintln(lt)
		}
		if !x.plain {
			x.line = "fcgicli: " + x.line
		}
		fmt.Fprintln(env.Stderr, x.line)
	}
	return x.code
}

func run(ctx context.Context, env *runenv.Env, args []string) *exit {
	a, problems := parseArgs(args)
	switch {
	case a.commandFile:
		return fail(exitUsage, "cgi-fcgi -f is not supported: give -bind -connect ADDR on the command line")
	case len(problems) > 0:
		problems = append(problems, strings.TrimSuffix(usage, "\n"))
		return &exit{code: exitUsage, line: strings.Join(problems, "\n"), plain: true}
	case a.start:
		return fail(exitUsage, "cgi-fcgi -start is not supported: fcgicli does not start applications; start it yourself and use -bind -connect ADDR")
	case !a.bind:
		return fail(exitUsage, "cgi-fcgi without -bind starts %s when nothing answers on %s, which fcgicli does not do: start it yourself and use -bind -connect ADDR", a.appPath, a.connect)
	}
	s, err := settingsFrom(ctx, env)
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	defer s.prep.Close()
	if s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	// ctxExit reports a deadline or an interrupt, whichever ended ctx.
	ctxExit := func() *exit {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fail(exitTimeout, "timed out after %s (FCGI_TIMEOUT)", s.timeout)
		}
		return fail(runenv.ExitInterrupted, "interrupted")
	}

	addr, err := parseAddr(a.connect)
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	if addr.Network == "unix" && len(addr.Address) > unixPathMax {
		return &exit{code: exitUnknownHost, line: "Listening socket's path name is too long.", plain: true}
	}
	var rc *ioErrConn
	conn, done, err := fcgireq.Connect(ctx, fcgireq.NetOptions{Connect: a.connect, Addr: &addr}, nil, func(nc net.Conn) net.Conn {
		rc = &ioErrConn{Conn: nc}
		return rc
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctxExit()
		}
		return dialExit(a.connect, err)
	}
	defer done()

	// The request is aborted when stdin comes out short, or at the
	// deadline or an interrupt.
	short := new(atomic.Pointer[shortBodyError])
	over := func() bool { return short.Load() != nil || ctx.Err() != nil }
	req := s.prep.Request()
	req.Stdout = &unlessWriter{w: env.Stdout, over: over}
	req.Stderr = &unlessWriter{w: env.Stderr, over: over}
	if s.contentLength > 0 {
		req.Stdin = &contentReader{r: env.Stdin, want: s.contentLength, short: short}
	}
	// Unjudged: the answer's protocol and app status become cgi-fcgi's
	// numbers here, not the exit-code table's.
	x := &fcgireq.Exchange{Unjudged: true}
	err = x.Send(ctx, conn, req)
	switch {
	case err != nil && ctx.Err() != nil:
		return ctxExit()
	case short.Load() != nil:
		// Whatever the application made of the aborted request.
		return fail(exitUsage, "%v", short.Load())
	}
	return outcome(&x.Result, err, rc.firstErr())
}

// dialExit says why connecting to ADDR failed, in cgi-fcgi's words: err
// is fcgireq's connect or timeout error, which wraps the dial's.
func dialExit(connect string, err error) *exit {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		host, _, _ := strings.Cut(connect, ":")
		return &exit{code: exitUnknownHost, line: "Unknown host: " + host, plain: true}
	}
	code, ok := errnoOf(err)
	if !ok {
		// Not an errno (cgi-fcgi would exit with a stale one): say what.
		if inner := errors.Unwrap(err); inner != nil {
			err = inner
		}
		return fail(exitUsage, "could not connect to %s: %v", connect, runenv.UnwrapOp(err))
	}
	return &exit{code: code, line: "Could not connect to " + connect, plain: true}
}

// outcome is the exit of a request that ran: the app status, or the code
// cgi-fcgi gives for its failure. ioErr is the connection's first read or
// write error.
func outcome(res *fcgiwire.Result, err, ioErr error) *exit {
	var local *fcgiwire.LocalError
	switch {
	case err == nil && res.ProtocolStatus != fcgiwire.RequestComplete:
		// cgi-fcgi's answer to any refusal, OVERLOADED included.
		return fail(exitProtocol, "the application refused the request: %s", res.ProtocolStatus)
	case err == nil && res.AppStatus > maxAppStatus:
		return fail(maxAppStatus, "the application ended with app status %d, which exits as %d", res.AppStatus, maxAppStatus)
	case err == nil:
		// Silent, as a CGI program's exit status would be.
		return &exit{code: int(res.AppStatus)}
	case errors.As(err, &local):
		code, ok := errnoOf(local)
		switch {
		case !ok:
			code = exitUsage
		case errors.Is(local, syscall.EPIPE):
			// Whoever read stdout has had enough: silent, as cgi-fcgi.
			return &exit{code: code}
		}
		return fail(code, "%v", local)
	case errors.Is(err, fcgiwire.ErrBadVersion):
		return fail(exitVersion, "%v", err)
	}
	// A reset exits with its errno, as cgi-fcgi does; a clean close
	// before FCGI_END_REQUEST, or malformed records, with 253.
	if code, ok := errnoOf(ioErr); ok {
		return fail(code, "%v", err)
	}
	return fail(exitProtocol, "%v", err)
}
