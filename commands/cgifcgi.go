package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
)

// cgiFCGIName is the program name that runs the cgi-fcgi mode: the
// subcommand's name, and the name of the link install-cgi-fcgi makes.
const cgiFCGIName = "cgi-fcgi"

// Exit codes of the cgi-fcgi mode. They are cgi-fcgi's own, not the table
// every other command uses: scripts written for libfcgi's cgi-fcgi test
// these numbers. Besides them the mode exits with the application's app
// status or with an errno (111 refused, 2 no such socket, 104 reset...).
const (
	// cgiExitUsage: a bad command line (cgi-fcgi's code), and what this
	// mode adds: -start or -f, a port out of range, a bad FCGI_TIMEOUT or
	// CONTENT_LENGTH, stdin shorter than CONTENT_LENGTH.
	cgiExitUsage = 1
	// cgiExitTimeout: FCGI_TIMEOUT passed (the code of timeout(1)).
	cgiExitTimeout = 124
	// cgiExitUnknownHost: cgi-fcgi calls exit(1000) for a host it cannot
	// resolve or a socket path too long, which the shell sees as 232.
	cgiExitUnknownHost = 1000 & 0xff
	// cgiExitProtocol: libfcgi's FCGX_PROTOCOL_ERROR (-3) as an exit code.
	cgiExitProtocol = 253
	// cgiExitVersion: libfcgi's FCGX_UNSUPPORTED_VERSION (-2): a record
	// whose version byte is not 1, such as an HTTP server's answer.
	cgiExitVersion = 254
	// cgiMaxAppStatus: app statuses above it exit with it, where cgi-fcgi
	// keeps the low byte and so turns 256 into a success.
	cgiMaxAppStatus = 255
	// unixPathMax is the longest socket path Go can connect to: sun_path
	// (108 bytes on Linux) less its terminating NUL. cgi-fcgi refuses
	// paths longer than 108 bytes and tries one of exactly 108.
	unixPathMax = 107
)

// cgiUsage is the usage text cgi-fcgi prints on stderr for a bad command
// line, word for word, so that scripts and people see what they know.
const cgiUsage = `Usage:
    cgi-fcgi -f <cmdPath> , or
    cgi-fcgi -connect <connName> <appPath> [<nServers>] , or
    cgi-fcgi -start -connect <connName> <appPath> [<nServers>] , or
    cgi-fcgi -bind -connect <connName> ,
where <connName> is either the pathname of a UNIX domain socket
or (if -bind is given) a hostName:portNumber specification
or (if -start is given) a :portNumber specification (uses local host).
`

func cgiFCGICommand(env *runenv.Env) *cli.Command {
	return &cli.Command{
		Name:      cgiFCGIName,
		Usage:     "run as libfcgi's cgi-fcgi -bind -connect (also when installed as cgi-fcgi)",
		UsageText: "fcgicli cgi-fcgi -bind -connect ADDR",
		Description: `Behaves as libfcgi's "cgi-fcgi -bind -connect ADDR", for scripts written for
it: the environment becomes the params, in order; stdin is the body when
CONTENT_LENGTH is set (exactly that many bytes); the raw FCGI_STDOUT stream
goes to stdout and FCGI_STDERR to stderr; the exit code is cgi-fcgi's (the
app status, the errno of a failed connect or a reset, 253 for a protocol
error, 254 for an answer that is not FastCGI). The usage text, the messages
and the exit codes of a bad command line are cgi-fcgi's.

Unlike cgi-fcgi it sends any amount of environment, reads records whatever
the read boundaries, stops after FCGI_TIMEOUT (a duration such as 2s, exit
124) and fails (exit 1) instead of hanging when stdin is shorter than
CONTENT_LENGTH. ADDR may also be [::1]:port. -start and -f are not
supported: fcgicli does not start applications.

Run under the name cgi-fcgi (see install-cgi-fcgi), the binary runs this
mode directly.

EXAMPLES:
   REQUEST_METHOD=GET SCRIPT_NAME=/ping SCRIPT_FILENAME=/ping fcgicli cgi-fcgi -bind -connect 127.0.0.1:9000
   CONTENT_LENGTH=5 REQUEST_METHOD=POST SCRIPT_FILENAME=/srv/app/post.php fcgicli cgi-fcgi -bind -connect /run/php/fpm.sock <<<hello
   FCGI_TIMEOUT=2s REQUEST_METHOD=GET SCRIPT_NAME=/status SCRIPT_FILENAME=/status fcgicli cgi-fcgi -bind -connect '[::1]:9000'`,
		SkipFlagParsing: true,
		HideHelp:        true,
		Action: func(c *cli.Context) error {
			if code := runCGIFCGI(c.Context, env, c.Args().Slice()); code != 0 {
				return &runenv.CodeError{Code: code}
			}
			return nil
		},
	}
}

// cgiArgs is a cgi-fcgi command line.
type cgiArgs struct {
	bind, start bool // -bind, -start
	commandFile bool // -f
	connect     string
	appPath     string
	nServers    int
}

// parseCGIArgs reads a command line as cgi-fcgi does and returns the
// complaints cgi-fcgi prints for it, in its words and order. -f stops
// the parse: cgi-fcgi reads the rest of its command line from a file,
// which this mode does not support.
func parseCGIArgs(args []string) (cgiArgs, []string) {
	var a cgiArgs
	var problems []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case strings.HasPrefix(arg, "-"):
			switch arg {
			case "-f":
				a.commandFile = true
				return a, nil
			case "-start":
				a.start = true
			case "-bind":
				a.bind = true
			case "-connect":
				if i+1 == len(args) {
					problems = append(problems, "Missing connection name after -connect")
				} else {
					i++
					a.connect = args[i]
				}
			default:
				problems = append(problems, "Unknown option "+arg)
			}
		case a.appPath == "":
			a.appPath = arg
		case arg != "" && arg[0] >= '0' && arg[0] <= '9' && a.nServers == 0:
			if a.nServers = leadingInt(arg); a.nServers <= 0 {
				problems = append(problems, "Number of servers must be greater than 0")
			}
		default:
			problems = append(problems, "Unknown argument "+arg)
		}
	}
	// Without -bind cgi-fcgi may start the application, so it needs its path.
	if !a.bind && a.appPath == "" {
		problems = append(problems, "Missing application pathname")
	}
	if a.connect == "" {
		problems = append(problems, "Missing -connect <connName>")
	}
	return a, problems
}

// leadingInt is the number s starts with, as C's atoi reads it for the
// strings that reach it here (digits first), capped instead of overflowing.
func leadingInt(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			break
		}
		n = min(n*10+int(c-'0'), 1<<30)
	}
	return n
}

// atoi reads s as C's atoi does: white space, a sign, then the digits
// that follow (capped instead of overflowing).
func atoi(s string) int {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	switch {
	case strings.HasPrefix(s, "-"):
		return -leadingInt(s[1:])
	case strings.HasPrefix(s, "+"):
		return leadingInt(s[1:])
	}
	return leadingInt(s)
}

// cgiAddr parses ADDR as cgi-fcgi does: host:port when the text after the
// first colon reads, with atoi, as a port from 1 to 65535 (an empty host
// is localhost), a unix socket path when it reads as 0. A number past
// that range, which cgi-fcgi would wrap to another port, is an error.
// [v6]:port is also TCP, which cgi-fcgi cannot do.
func cgiAddr(s string) (fcgiwire.Addr, error) {
	if strings.HasPrefix(s, "[") {
		if host, port, err := net.SplitHostPort(s); err == nil {
			if n, err := strconv.Atoi(port); err == nil && n >= 1 && n <= 65535 {
				return fcgiwire.Addr{Network: "tcp", Address: net.JoinHostPort(host, port)}, nil
			}
		}
	}
	if host, rest, ok := strings.Cut(s, ":"); ok {
		switch n := atoi(rest); {
		case n >= 1 && n <= 65535:
			if host == "" {
				host = "localhost"
			}
			return fcgiwire.Addr{Network: "tcp", Address: net.JoinHostPort(host, strconv.Itoa(n))}, nil
		case n != 0:
			return fcgiwire.Addr{}, fmt.Errorf("%s: port %q is not from 1 to 65535 (cgi-fcgi would connect to another port)", s, rest)
		}
	}
	return fcgiwire.Addr{Network: "unix", Address: s}, nil
}

// cgiSettings is what the mode takes from its environment.
type cgiSettings struct {
	params        []fcgiwire.Pair
	contentLength int64 // -1: no body
	timeout       time.Duration
}

func cgiSettingsFrom(env *runenv.Env) (*cgiSettings, error) {
	s := &cgiSettings{contentLength: -1}
	if v := env.Getenv("FCGI_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("FCGI_TIMEOUT=%q is not a duration such as 2s or 500ms", v)
		}
		s.timeout = d
	}
	// cgi-fcgi reads CONTENT_LENGTH with atoi, so an empty one is no body,
	// and white space around the number (BSD's wc -c pads its count) and a
	// plus sign are fine. What atoi would read as another number, or as 0
	// from something that is no number, is an error here.
	if v := env.Getenv("CONTENT_LENGTH"); v != "" {
		digits := strings.TrimPrefix(strings.Trim(v, " \t\n\v\f\r"), "+")
		n, err := strconv.ParseInt(digits, 10, 64)
		if err != nil || strings.Trim(digits, "0123456789") != "" {
			return nil, fmt.Errorf("CONTENT_LENGTH=%q is not a number of bytes", v)
		}
		if n > 0 {
			s.contentLength = n
		}
	}
	for _, kv := range env.Environ() {
		// An entry without "=" cannot be a param (cgi-fcgi exits 232 on one).
		if name, value, ok := strings.Cut(kv, "="); ok {
			s.params = append(s.params, fcgiwire.Pair{Name: name, Value: value})
		}
	}
	if _, err := fcgiwire.SplitPairs(s.params); err != nil {
		return nil, fmt.Errorf("the environment cannot be sent: %w", err)
	}
	return s, nil
}

// shortBodyError is stdin ending before CONTENT_LENGTH bytes.
type shortBodyError struct{ want, got int64 }

func (e *shortBodyError) Error() string {
	return fmt.Sprintf("CONTENT_LENGTH is %d but stdin ended after %d bytes", e.want, e.got)
}

// contentReader yields exactly CONTENT_LENGTH bytes of stdin, and fails if
// stdin ends first. It then also records the failure in short, for the
// outcome whatever the request did next, and for the output writers to
// stop.
type contentReader struct {
	r          io.Reader
	want, read int64
	short      *atomic.Pointer[shortBodyError]
}

func (c *contentReader) Read(p []byte) (int, error) {
	left := c.want - c.read
	if left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > left {
		p = p[:left]
	}
	n, err := c.r.Read(p)
	c.read += int64(n)
	if err == io.EOF && c.read < c.want {
		e := &shortBodyError{want: c.want, got: c.read}
		c.short.Store(e)
		return n, e
	}
	if err == nil && c.read == c.want {
		err = io.EOF
	}
	return n, err
}

// unlessWriter writes to w until over says the request was aborted, and
// then discards: what the application answers to an aborted request is
// not its answer.
type unlessWriter struct {
	w    io.Writer
	over func() bool
}

func (u *unlessWriter) Write(p []byte) (int, error) {
	if u.over() {
		return len(p), nil
	}
	return u.w.Write(p)
}

// ioErrConn remembers the first read error other than EOF, or write error
// that is a reset, whose errno is the exit code when the application
// resets the connection: the writer is the one to see a reset that comes
// while the body is sent. (A write into a connection the application
// closed cleanly fails too, with EPIPE: that stays a close, 253.)
type ioErrConn struct {
	net.Conn
	mu  sync.Mutex
	err error
}

func (c *ioErrConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.note(err)
	return n, err
}

func (c *ioErrConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if errors.Is(err, syscall.ECONNRESET) {
		c.note(err)
	}
	return n, err
}

func (c *ioErrConn) note(err error) {
	if err == nil || err == io.EOF {
		return
	}
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
}

func (c *ioErrConn) firstErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// errnoOf returns the errno inside err, if any.
func errnoOf(err error) (int, bool) {
	var errno syscall.Errno
	if errors.As(err, &errno) && errno != 0 {
		return int(errno) & 0xff, true
	}
	return 0, false
}

// cgiExit is how the mode ends: an exit code and at most one line on
// stderr, either cgi-fcgi's own words (plain) or a "fcgicli: " message.
type cgiExit struct {
	code  int
	line  string
	plain bool
}

func cgiFail(code int, format string, a ...any) *cgiExit {
	return &cgiExit{code: code, line: fmt.Sprintf(format, a...)}
}

// runCGIFCGI runs the cgi-fcgi mode with args (the arguments after the
// program name) and returns the exit code.
func runCGIFCGI(ctx context.Context, env *runenv.Env, args []string) int {
	// libfcgi ignores SIGPIPE: a closed stdout (cgi-fcgi ... | grep -q pong)
	// ends cgi-fcgi with EPIPE's errno, 32, not by the signal.
	signal.Ignore(syscall.SIGPIPE)
	x := cgiFCGI(ctx, env, args)
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

func cgiFCGI(ctx context.Context, env *runenv.Env, args []string) *cgiExit {
	a, problems := parseCGIArgs(args)
	switch {
	case a.commandFile:
		return cgiFail(cgiExitUsage, "cgi-fcgi -f is not supported: give -bind -connect ADDR on the command line")
	case len(problems) > 0:
		problems = append(problems, strings.TrimSuffix(cgiUsage, "\n"))
		return &cgiExit{code: cgiExitUsage, line: strings.Join(problems, "\n"), plain: true}
	case a.start:
		return cgiFail(cgiExitUsage, "cgi-fcgi -start is not supported: fcgicli does not start applications; start it yourself and use -bind -connect ADDR")
	case !a.bind:
		return cgiFail(cgiExitUsage, "cgi-fcgi without -bind starts %s when nothing answers on %s, which fcgicli does not do: start it yourself and use -bind -connect ADDR", a.appPath, a.connect)
	}
	s, err := cgiSettingsFrom(env)
	if err != nil {
		return cgiFail(cgiExitUsage, "%v", err)
	}
	if s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	// ctxExit reports a deadline or an interrupt, whichever ended ctx.
	ctxExit := func() *cgiExit {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return cgiFail(cgiExitTimeout, "timed out after %s (FCGI_TIMEOUT)", s.timeout)
		}
		return cgiFail(runenv.ExitInterrupted, "interrupted")
	}

	nc, x := cgiDial(ctx, a.connect)
	if x != nil {
		if ctx.Err() != nil {
			return ctxExit()
		}
		return x
	}
	rc := &ioErrConn{Conn: nc}
	conn := fcgiwire.NewConn(rc)
	defer conn.Close()

	// The request is aborted when stdin comes out short, or at the
	// deadline or an interrupt.
	short := new(atomic.Pointer[shortBodyError])
	over := func() bool { return short.Load() != nil || ctx.Err() != nil }
	req := &fcgiwire.Request{
		ID: 1, Role: fcgiwire.RoleResponder, Params: s.params,
		Stdout: &unlessWriter{w: env.Stdout, over: over},
		Stderr: &unlessWriter{w: env.Stderr, over: over},
	}
	if s.contentLength > 0 {
		req.Stdin = &contentReader{r: env.Stdin, want: s.contentLength, short: short}
	}
	res, err := conn.Do(ctx, req)
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return ctxExit()
	case short.Load() != nil:
		// Whatever the application made of the aborted request.
		return cgiFail(cgiExitUsage, "%v", short.Load())
	}
	return cgiOutcome(res, err, rc.firstErr())
}

// cgiDial connects to ADDR, or says why not in cgi-fcgi's words.
func cgiDial(ctx context.Context, connect string) (net.Conn, *cgiExit) {
	addr, err := cgiAddr(connect)
	if err != nil {
		return nil, cgiFail(cgiExitUsage, "%v", err)
	}
	if addr.Network == "unix" && len(addr.Address) > unixPathMax {
		return nil, &cgiExit{code: cgiExitUnknownHost, line: "Listening socket's path name is too long.", plain: true}
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, addr.Network, addr.Address)
	if err == nil {
		return nc, nil
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		host, _, _ := strings.Cut(connect, ":")
		return nil, &cgiExit{code: cgiExitUnknownHost, line: "Unknown host: " + host, plain: true}
	}
	code, ok := errnoOf(err)
	if !ok {
		// Not an errno (cgi-fcgi would exit with a stale one): say what.
		return nil, cgiFail(cgiExitUsage, "could not connect to %s: %v", connect, runenv.UnwrapOp(err))
	}
	return nil, &cgiExit{code: code, line: "Could not connect to " + connect, plain: true}
}

// cgiOutcome is the exit of a request that ran: the app status, or the
// code cgi-fcgi gives for its failure. ioErr is the connection's first
// read or write error.
func cgiOutcome(res *fcgiwire.Result, err, ioErr error) *cgiExit {
	var local *fcgiwire.LocalError
	switch {
	case err == nil && res.ProtocolStatus != fcgiwire.RequestComplete:
		// cgi-fcgi's answer to any refusal, OVERLOADED included.
		return cgiFail(cgiExitProtocol, "the application refused the request: %s", res.ProtocolStatus)
	case err == nil && res.AppStatus > cgiMaxAppStatus:
		return cgiFail(cgiMaxAppStatus, "the application ended with app status %d, which exits as %d", res.AppStatus, cgiMaxAppStatus)
	case err == nil:
		// Silent, as a CGI program's exit status would be.
		return &cgiExit{code: int(res.AppStatus)}
	case errors.As(err, &local):
		code, ok := errnoOf(local)
		switch {
		case !ok:
			code = cgiExitUsage
		case errors.Is(local, syscall.EPIPE):
			// Whoever read stdout has had enough: silent, as cgi-fcgi.
			return &cgiExit{code: code}
		}
		return cgiFail(code, "%v", local)
	case errors.Is(err, fcgiwire.ErrBadVersion):
		return cgiFail(cgiExitVersion, "%v", err)
	}
	// A reset exits with its errno, as cgi-fcgi does; a clean close
	// before FCGI_END_REQUEST, or malformed records, with 253.
	if code, ok := errnoOf(ioErr); ok {
		return cgiFail(code, "%v", err)
	}
	return cgiFail(cgiExitProtocol, "%v", err)
}

func installCGIFCGICommand(env *runenv.Env) *cli.Command {
	return &cli.Command{
		Name:      "install-cgi-fcgi",
		Usage:     "link DIR/cgi-fcgi to fcgicli, so scripts that run cgi-fcgi run fcgicli's cgi-fcgi mode",
		ArgsUsage: "DIR",
		Description: `Makes DIR/cgi-fcgi a symbolic link to this fcgicli binary. Run under the
name cgi-fcgi, fcgicli behaves as libfcgi's cgi-fcgi -bind -connect, so
health-check scripts written for cgi-fcgi (php-fpm-healthcheck, say) work
unchanged without libfcgi in the image.

A link that already points to this binary is left as it is (exit 0). Any
other file in the way is an error (exit 1) unless --force, which replaces
it. DIR must exist (exit 2 otherwise).

EXAMPLES:
   fcgicli install-cgi-fcgi /usr/local/bin
   RUN fcgicli install-cgi-fcgi /usr/local/bin    (in a Dockerfile)`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Usage: "replace a DIR/cgi-fcgi that is not already a link to fcgicli"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return runenv.Usagef("install-cgi-fcgi takes one DIR, got %d arguments (see 'fcgicli install-cgi-fcgi --help')", c.NArg())
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("cannot find the fcgicli binary: %w", err)
			}
			return runInstallCGIFCGI(&installOptions{dir: c.Args().First(), exe: exe, force: c.Bool("force")}, env)
		},
	}
}

// installOptions are install-cgi-fcgi's: the directory, the binary the
// link points to, and --force.
type installOptions struct {
	dir   string
	exe   string
	force bool
}

func runInstallCGIFCGI(o *installOptions, env *runenv.Env) error {
	fi, err := os.Stat(o.dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return runenv.Usagef("%s: no such directory", o.dir)
	case err != nil:
		return err
	case !fi.IsDir():
		return runenv.Usagef("%s is not a directory", o.dir)
	}
	exe, err := filepath.Abs(o.exe)
	if err != nil {
		return err
	}
	link := filepath.Join(o.dir, cgiFCGIName)
	if lfi, err := os.Lstat(link); err == nil {
		efi, _ := os.Stat(exe)
		// Already a way to run this binary: a link to it, or the binary
		// itself (a hard link, or fcgicli installed as cgi-fcgi).
		if tfi, err := os.Stat(link); err == nil && efi != nil && os.SameFile(tfi, efi) {
			fmt.Fprintf(env.Stdout, "%s already runs %s\n", link, exe)
			return nil
		}
		what := "a file"
		if target, err := os.Readlink(link); err == nil {
			what = "a link to " + target
		} else if lfi.IsDir() {
			return &runenv.CodeError{Code: runenv.ExitCheckFailed, Msg: fmt.Sprintf("%s already exists and is a directory", link)}
		}
		if !o.force {
			return &runenv.CodeError{Code: runenv.ExitCheckFailed, Msg: fmt.Sprintf("%s already exists (%s): remove it, or use --force to replace it", link, what)}
		}
	}
	// Make the link under a temporary name and rename it into place, so
	// that a replaced cgi-fcgi never goes missing.
	tmp := filepath.Join(o.dir, fmt.Sprintf(".%s.%d.tmp", cgiFCGIName, os.Getpid()))
	os.Remove(tmp)
	if err := os.Symlink(exe, tmp); err != nil {
		return &runenv.CodeError{Code: runenv.ExitCheckFailed, Msg: fmt.Sprintf("cannot create %s: %v", link, unwrapPath(err))}
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return &runenv.CodeError{Code: runenv.ExitCheckFailed, Msg: fmt.Sprintf("cannot create %s: %v", link, unwrapPath(err))}
	}
	fmt.Fprintf(env.Stdout, "%s -> %s\n", link, exe)
	return nil
}

// unwrapPath drops the "symlink a b: " prefix of a file error.
func unwrapPath(err error) error {
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
