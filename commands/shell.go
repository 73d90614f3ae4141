package commands

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/peterh/liner"
	"github.com/urfave/cli/v2"

	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

func shellCommand(env *runenv.Env) *cli.Command {
	return &cli.Command{
		Name:  "shell",
		Usage: "an interactive session: send, change a param, send again, compare",
		Description: `Reads commands from a prompt with line editing, Tab completion and a
history kept in $XDG_STATE_HOME/fcgicli/history (~/.local/state/fcgicli/history).
The session keeps the address, default params and headers, the document root,
the output format and the verbose and dump modes, and sends every request on
one kept-alive connection (FCGI_KEEP_CONN), reconnecting when the server has
closed it. Every command it runs obeys the session's --timeout ('set timeout'
changes it) and --connect-timeout, unless the command gives its own; a
timeout aborts the request (FCGI_ABORT_REQUEST), is reported, and the shell
goes on.

The session's settings are the defaults of the flags of the commands it
runs. A flag given on a command's line (-c, -o, -i, -r, -t...) replaces the
session's setting for that line only, and 'ping -c ADDR' checks ADDR alone;
-p, -H and --unset-param add to the session's params, headers and unset
params (a -p or -H of a name the session sets replaces its value). 'connect'
and 'set' change the session.

Commands: request, get, post, get-values, raw-dump, ping, status, set, unset,
show, connect, last, diff, history, help, exit. 'help COMMAND' says more.
Errors never leave the shell; Ctrl-C aborts the request in flight
(FCGI_ABORT_REQUEST) and returns to the prompt; Ctrl-D exits. SIGTERM
aborts the request in flight, if any, and ends the session with status 130.

When stdin is not a terminal, the shell runs its lines without a prompt and
exits with the status of the last command that failed (0 when none did).

EXAMPLES:
   fcgicli shell -c 127.0.0.1:9000
   fcgicli shell -c /run/php/php8.2-fpm.sock < checks.txt`,
		Flags: flagList(shellNetworkFlags(), []cli.Flag{
			&cli.StringFlag{Name: "document-root", Aliases: []string{"r"}, Usage: "the session's document root `DIR` (see request -r)"},
			colorFlag(),
		}),
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return runenv.Usagef("shell takes no arguments (commands come from stdin)")
			}
			s := &session{
				env:     env,
				color:   "auto",
				output:  "text",
				docRoot: c.String("document-root"),
				net:     fcgireq.NetOptions{Connect: c.String("connect"), ConnectTimeout: c.Duration("connect-timeout"), Timeout: c.Duration("timeout")},
			}
			if s.net.Connect == "" {
				s.net.Connect = env.Getenv("FCGI_CONNECT")
			}
			if s.net.ConnectTimeout < 0 || s.net.Timeout < 0 {
				return runenv.Usagef("timeouts cannot be negative")
			}
			for _, cc := range c.Lineage() {
				if cc.IsSet("color") {
					s.color = cc.String("color")
					break
				}
			}
			if _, err := formatters.ParseColorMode(s.color); err != nil {
				return runenv.Usagef("%v", err)
			}
			// The shell handles SIGINT itself: a Ctrl-C ends the request in
			// flight, not the session, so it does not run under the
			// process's interrupt context. SIGTERM ends the session (after
			// aborting the request in flight), idle or not.
			ctx, stop := signal.NotifyContext(context.WithoutCancel(c.Context), syscall.SIGTERM)
			defer stop()
			return s.run(ctx)
		},
	}
}

// shellNetworkFlags are networkFlags, with -t saying what it bounds in a
// shell: each command the session runs, not the session.
func shellNetworkFlags() []cli.Flag {
	flags := networkFlags(30 * time.Second)
	for _, f := range flags {
		if d, ok := f.(*cli.DurationFlag); ok && d.Name == "timeout" {
			d.Usage = "give up on each command the session runs after `DURATION` (0: never; 'set timeout' changes it)"
		}
	}
	return flags
}

// session is the state of a shell.
type session struct {
	env     *runenv.Env
	net     fcgireq.NetOptions
	color   string
	params  []string // NAME=VALUE, in the order set
	unset   []string // default params not to send
	headers []string // "Name: value"
	docRoot string
	output  string
	include bool
	verbose bool
	dump    bool

	conn     *fcgiwire.Conn
	connDone func()
	connAddr string
	observe  atomic.Pointer[fcgiwire.Observer] // the current request's observer

	responses []*shellResponse // the last two at most
	count     int              // responses so far, to number them
	history   []string
	lastFail  int
	line      *liner.State
}

// shellResponse is one response kept for last and diff.
type shellResponse struct {
	n       int
	cmd     string
	script  string
	res     *fcgiwire.Result
	cgi     *fcgiwire.CGIResponse
	raw     []byte // the FCGI_STDOUT stream
	body    []byte
	stderr  []byte
	events  []fcgiwire.Event
	err     error
	connect time.Duration
	first   time.Duration
	total   time.Duration
}

const maxShellOutput = 64 << 20

func (s *session) run(ctx context.Context) error {
	defer s.closeConn()
	interactive := runenv.IsTerminal(s.env.Stdin) && runenv.IsTerminal(s.env.Stdout)
	if !interactive {
		sc := bufio.NewScanner(s.env.Stdin)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for {
			input, err := readLine(ctx, func() (string, error) {
				if !sc.Scan() {
					return "", cmp.Or(sc.Err(), io.EOF)
				}
				return sc.Text(), nil
			})
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			if !s.exec(ctx, input) || ctx.Err() != nil {
				break
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if s.lastFail != 0 {
			return &runenv.CodeError{Code: s.lastFail}
		}
		return nil
	}

	s.line = liner.NewLiner()
	defer s.line.Close()
	s.line.SetCtrlCAborts(true)
	s.line.SetTabCompletionStyle(liner.TabPrints)
	s.line.SetWordCompleter(s.complete)
	histFile := s.historyFile()
	if f, err := os.Open(histFile); err == nil {
		_, _ = s.line.ReadHistory(f)
		f.Close()
	}
	fmt.Fprintf(s.env.Stdout, "fcgicli shell: 'help' lists the commands, Ctrl-D leaves.\n")
	for range maxShellLines {
		prompt := s.prompt()
		input, err := readLine(ctx, func() (string, error) { return s.line.Prompt(prompt) })
		if errors.Is(err, liner.ErrPromptAborted) {
			continue
		}
		if err != nil { // io.EOF: Ctrl-D; or SIGTERM
			fmt.Fprintln(s.env.Stdout)
			break
		}
		if strings.TrimSpace(input) != "" {
			s.line.AppendHistory(input)
		}
		if !s.exec(ctx, input) || ctx.Err() != nil {
			break
		}
	}
	if histFile != "" {
		if err := os.MkdirAll(filepath.Dir(histFile), 0o700); err == nil {
			if f, err := os.OpenFile(histFile, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600); err == nil {
				_, _ = s.line.WriteHistory(f)
				f.Close()
			}
		}
	}
	return ctx.Err()
}

// readLine returns the next line from read, or ctx's error as soon as ctx
// ends (SIGTERM). The read is then left waiting on stdin: the session is
// over and the process exits.
func readLine(ctx context.Context, read func() (string, error)) (string, error) {
	type line struct {
		text string
		err  error
	}
	ch := make(chan line, 1)
	go func() {
		text, err := read()
		ch <- line{text, err}
	}()
	select {
	case l := <-ch:
		return l.text, l.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// maxShellLines bounds a session's commands.
const maxShellLines = 1 << 30

func (s *session) prompt() string {
	if s.net.Connect == "" {
		return "fcgi> "
	}
	return "fcgi " + s.net.Connect + "> "
}

// historyFile is where the history is kept: $XDG_STATE_HOME/fcgicli/history,
// or ~/.local/state/fcgicli/history; empty when neither is known.
func (s *session) historyFile() string {
	if d := s.env.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "fcgicli", "history")
	}
	if h := s.env.Getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "state", "fcgicli", "history")
	}
	return ""
}

// exec runs one line and reports whether the shell goes on.
func (s *session) exec(ctx context.Context, input string) bool {
	args, err := splitWords(input)
	if err != nil {
		s.fail(&runenv.UsageError{Msg: err.Error()})
		return true
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "#") {
		return true
	}
	s.history = append(s.history, input)
	if args[0] == "exit" || args[0] == "quit" {
		return false
	}
	// Ctrl-C while the command runs cancels it.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	defer signal.Stop(sig)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-sig:
			cancel()
		case <-stop:
		}
	}()
	if err := s.safeCommand(ctx, args, input); err != nil {
		s.fail(err)
	}
	return true
}

// safeCommand runs a command; a panic in it is reported like an error,
// so that nothing ends the session but exit and Ctrl-D.
func (s *session) safeCommand(ctx context.Context, args []string, input string) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error in %q: %v", args[0], p)
		}
	}()
	return s.command(ctx, args, input)
}

// fail reports err on stderr and remembers its exit code.
func (s *session) fail(err error) {
	code, msg := runenv.ExitCode(err)
	if code == runenv.ExitOK {
		return
	}
	s.lastFail = code
	if msg != "" {
		if code == runenv.ExitInterrupted {
			msg = "interrupted: the request was aborted (FCGI_ABORT_REQUEST)"
		}
		fmt.Fprintf(s.env.Stderr, "fcgicli: %s\n", msg)
	}
}

type shellCmd struct {
	name, args, help string
}

var shellCommands = []shellCmd{
	{"request", "SCRIPT [request flags]", "send a request on the session's connection, with its params, headers, root and output; the flags are request's"},
	{"get", "PATH [request flags]", "request -X GET PATH"},
	{"post", "PATH DATA [request flags]", "request -X POST -d DATA PATH (DATA may be @FILE)"},
	{"get-values", "[NAME...] [flags]", "get-values against the session's address"},
	{"raw-dump", "SCRIPT [flags]", "raw-dump a request with the session's params and headers"},
	{"ping", "[flags]", "ping the session's address"},
	{"status", "[flags]", "read the session's pool status page"},
	{"set", "param NAME=VALUE | header 'Name: value' | root DIR | output text|raw|json | include|verbose|dump on|off | timeout DURATION", "change the session"},
	{"unset", "param NAME | header NAME | root", "undo a set (unset param of a default param stops sending it)"},
	{"show", "[SCRIPT]", "the session's state and the params the next request sends"},
	{"connect", "ADDR", "use another address (closes the kept connection)"},
	{"last", "[-o text|raw|json] [-i] | last raw-dump [-o json]", "show the previous response again"},
	{"diff", "", "compare the last two responses: status, headers, body"},
	{"history", "", "the commands of this session"},
	{"help", "[COMMAND]", "this list, or one command's help"},
	{"exit", "", "leave (Ctrl-D too)"},
}

func (s *session) command(ctx context.Context, args []string, input string) error {
	switch args[0] {
	case "request":
		return s.request(ctx, args[1:], nil, input)
	case "get":
		if len(args) < 2 {
			return runenv.Usagef("usage: get PATH [request flags]")
		}
		return s.request(ctx, args[1:], map[string]string{"method": "GET"}, input)
	case "post":
		if len(args) < 3 {
			return runenv.Usagef("usage: post PATH DATA [request flags]")
		}
		return s.request(ctx, slices.Concat(args[1:2], args[3:]), map[string]string{"method": "POST", "data": args[2]}, input)
	case "get-values", "ping", "status", "raw-dump":
		return s.runApp(ctx, args[0], args[1:])
	case "set":
		return s.set(args[1:])
	case "unset":
		return s.unsetCmd(args[1:])
	case "show":
		return s.show(args[1:])
	case "connect":
		if len(args) != 2 {
			return runenv.Usagef("usage: connect ADDR")
		}
		return s.connectTo(ctx, args[1])
	case "last":
		return s.last(args[1:])
	case "diff":
		return s.diff()
	case "history":
		for i, h := range s.history {
			fmt.Fprintf(s.env.Stdout, "%4d  %s\n", i+1, h)
		}
		return nil
	case "help":
		return s.help(ctx, args[1:])
	}
	return runenv.Usagef("unknown command %q ('help' lists them)", args[0])
}

func (s *session) help(ctx context.Context, args []string) error {
	if len(args) == 0 {
		for _, c := range shellCommands {
			fmt.Fprintf(s.env.Stdout, "  %-11s %s\n", c.name, c.help)
		}
		return nil
	}
	switch args[0] {
	case "request", "get-values", "raw-dump", "ping", "status":
		fmt.Fprintf(s.env.Stdout, "In the shell, the session's settings are the defaults of these flags: a flag on the line\n"+
			"replaces them for that line, except -p, -H and --unset-param, which add to them. The command's own help:\n\n")
		return s.runApp(ctx, args[0], []string{"--help"})
	}
	for _, c := range shellCommands {
		if c.name == args[0] {
			fmt.Fprintf(s.env.Stdout, "%s %s\n   %s\n", c.name, c.args, c.help)
			return nil
		}
	}
	return runenv.Usagef("no command %q ('help' lists them)", args[0])
}

// runApp runs fcgicli's own command name with the user's flags, the
// session's settings being the defaults of that command's flags
// (sessionDefaults).
func (s *session) runApp(ctx context.Context, name string, user []string) error {
	args := append([]string{"fcgicli", "--color", s.color, name}, user...)
	app, args := appFor(s.env, args)
	for _, cmd := range app.Commands {
		s.sessionDefaults(cmd)
	}
	return app.RunContext(ctx, args)
}

// sessionDefaults makes the session's settings the defaults of cmd's
// flags, so that whatever the shell runs uses them rather than the
// command's own defaults: the address (-c), the timeout (-t, or set
// timeout) and connect timeout, and, for a command that shapes a request,
// the params, headers, unset params and document root; for request, the
// output format and include too.
//
// Defaults rather than flags put on the line: urfave/cli refuses a line
// with two forms of one flag (-c and --connect), and ping's -c is
// repeatable, so a session's -c next to the user's would check both. A
// flag the user gives on the line replaces the session's value for that
// line, except -p, -H and --unset-param, which add to the session's (a -p
// or -H of a name the session sets replaces its value, as a later -p
// does). Nothing the user gives on a line changes the session.
func (s *session) sessionDefaults(cmd *cli.Command) {
	for _, f := range cmd.Flags {
		switch f := unwrapFlag(f).(type) {
		case *cli.DurationFlag:
			switch f.Name {
			case "timeout":
				f.Value = s.net.Timeout
			case "connect-timeout":
				f.Value = s.net.ConnectTimeout
			}
		case *cli.StringFlag:
			switch {
			case f.Name == "connect":
				f.Value = s.net.Connect
			case f.Name == "document-root":
				f.Value = s.docRoot
			case f.Name == "output" && cmd.Name == "request":
				f.Value = s.output
			}
		case *cli.BoolFlag:
			if f.Name == "include" && cmd.Name == "request" {
				f.Value = s.include
			}
		case *cli.StringSliceFlag:
			switch f.Name {
			case "connect": // ping's and status's: the user's -c checks that pool instead
				if s.net.Connect != "" {
					f.Value = cli.NewStringSlice(s.net.Connect)
				}
			case "param":
				f.Value = addedTo(s.params)
			case "unset-param":
				f.Value = addedTo(s.unset)
			case "header":
				f.Value = addedTo(s.headers)
			}
		}
	}
}

// addedTo returns a default for a slice flag that the values given on the
// line add to instead of replacing. urfave/cli empties a slice's default
// at the first value given, unless the slice was already set; Set of the
// slice's serialized form sets it (and, unlike Set of each value, never
// splits a value at its commas).
func addedTo(values []string) *cli.StringSlice {
	v := cli.NewStringSlice(values...)
	_ = v.Set(v.Serialize())
	return v
}

// unwrapFlag returns the flag that fastNames wrapped, for the types the
// shell sets defaults of; any other flag as it is.
func unwrapFlag(f cli.Flag) cli.Flag {
	switch f := f.(type) {
	case *durationFlag:
		return f.DurationFlag
	case *stringFlag:
		return f.StringFlag
	case *boolFlag:
		return f.BoolFlag
	case *stringSliceFlag:
		return f.StringSliceFlag
	}
	return f
}

// parseRequest parses request flags the way the request command does,
// with the session's settings as their defaults. fill holds the values
// of flags that the line's command means (get's -X GET, post's -X POST
// and -d DATA), each set only when the line does not give that flag.
func (s *session) parseRequest(ctx context.Context, user []string, fill map[string]string) (*requestOptions, error) {
	var opts *requestOptions
	cmd := requestCommand(s.env)
	cmd.Action = func(c *cli.Context) error {
		for name, value := range fill {
			if !c.IsSet(name) {
				if err := c.Set(name, value); err != nil {
					return err
				}
			}
		}
		o, err := requestOptionsFrom(c, s.env)
		if err == nil && !c.IsSet("request-id") {
			// The kept connection numbers its requests, so that records
			// an application sends after a request's END_REQUEST are told
			// from the next request's, not taken for its answer.
			o.RequestID = 0
		}
		opts = o
		return err
	}
	cmd.OnUsageError = onUsageError
	s.sessionDefaults(cmd)
	app := &cli.App{
		Name: "fcgicli", Writer: s.env.Stdout, ErrWriter: s.env.Stderr, HideVersion: true,
		DisableSliceFlagSeparator: true, UseShortOptionHandling: true,
		ExitErrHandler: func(*cli.Context, error) {}, OnUsageError: onUsageError,
		Commands: []*cli.Command{cmd},
	}
	fastNames(app)
	args := append([]string{"fcgicli", "request"}, user...)
	if err := app.RunContext(ctx, reorderArgs(app, args)); err != nil {
		return nil, err
	}
	return opts, nil
}

func (s *session) request(ctx context.Context, user []string, fill map[string]string, input string) error {
	o, err := s.parseRequest(ctx, user, fill)
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
	if werr := s.render(r, o.output, o.include, o.fail && !o.failWithBody); werr != nil && err == nil {
		err = werr
	}
	return err
}

// send runs a request on the session's connection and keeps what came
// back. A nil response means nothing was sent.
func (s *session) send(ctx context.Context, o *requestOptions) (*shellResponse, error) {
	start := time.Now()
	ctx, cancel := o.Net.WithTimeout(ctx)
	defer cancel()
	prep, err := fcgireq.Prepare(ctx, &o.Shape, s.env.Stdin)
	if err != nil {
		return nil, err
	}
	defer prep.Close()
	if o.verbose {
		s.verbose = true
		defer func() { s.verbose = false }()
	}
	var conn *fcgiwire.Conn
	if o.Net.Connect == s.net.Connect {
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

	r := &shellResponse{script: o.Spec.Script}
	var mu chanLock = make(chan struct{}, 1)
	var dumper *formatters.Dumper
	if s.dump {
		pal, _ := s.palette(s.env.Stderr)
		dumper = &formatters.Dumper{W: s.env.Stderr, P: pal, Format: formatters.Text, MaxBytes: 256}
		id := o.RequestID
		if id == 0 {
			id = conn.NextID()
		}
		dumper.Expect(id)
	}
	var tr *formatters.Tracer
	if s.verbose {
		pal, _ := s.palette(s.env.Stderr)
		tr = &formatters.Tracer{W: s.env.Stderr, P: pal}
	}
	observe := fcgiwire.Observer(func(ev fcgiwire.Event) {
		mu.lock()
		if len(r.events) < maxShellEvents {
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
	raw := &runenv.CapBuffer{Max: maxShellOutput}
	body := &runenv.CapBuffer{Max: maxShellOutput}
	errBuf := &runenv.CapBuffer{Max: maxShellOutput}
	parser.Body = body
	x := &fcgireq.Exchange{Parser: parser, JudgeCGI: o.output != formatters.Raw, Fail: o.fail, Trace: tr, Start: start}
	req := prep.Request()
	req.Stdout, req.Stderr = io.MultiWriter(raw, parser), errBuf
	r.err = x.Send(ctx, conn, req)
	end := time.Now()
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

const maxShellEvents = 1 << 16

// chanLock is a mutex that needs no zero-value care in a closure.
type chanLock chan struct{}

func (l chanLock) lock()   { l <- struct{}{} }
func (l chanLock) unlock() { <-l }

func (s *session) palette(w io.Writer) (*formatters.Palette, error) {
	mode, err := formatters.ParseColorMode(s.color)
	if err != nil {
		return nil, err
	}
	return formatters.NewPalette(formatters.UseColor(mode, s.env.Getenv("NO_COLOR"), runenv.IsTerminal(w))), nil
}

// connection returns the kept connection when it still works, or a new
// one, saying so when the server had closed the old one.
func (s *session) connection(ctx context.Context, o fcgireq.NetOptions) (*fcgiwire.Conn, error) {
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
func (s *session) observeEvent(ev fcgiwire.Event) {
	if o := s.observe.Load(); o != nil {
		(*o)(ev)
	}
}

// tracer traces connecting in verbose mode.
func (s *session) tracer() *formatters.Tracer {
	if !s.verbose {
		return nil
	}
	pal, _ := s.palette(s.env.Stderr)
	return &formatters.Tracer{W: s.env.Stderr, P: pal}
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

func (s *session) closeConn() {
	if s.connDone != nil {
		s.connDone()
	}
	s.conn, s.connDone, s.connAddr = nil, nil, ""
}

func (s *session) connectTo(ctx context.Context, addr string) error {
	o := s.net
	o.Connect = addr
	if err := fcgireq.CheckClientAddr(addr); err != nil {
		return err
	}
	old := s.net.Connect
	s.closeConn()
	s.net.Connect = addr
	ctx, cancel := o.WithTimeout(ctx)
	defer cancel()
	if _, err := s.connection(ctx, o); err != nil {
		s.net.Connect = old
		return err
	}
	fmt.Fprintf(s.env.Stdout, "connected to %s\n", addr)
	return nil
}

// render writes a kept response as format.
func (s *session) render(r *shellResponse, format formatters.Format, include, quietFail bool) error {
	out := s.env.Stdout
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
		return formatters.WriteResponseJSON(out, j)
	case formatters.Raw:
		s.env.Stderr.Write(r.stderr)
		_, err := out.Write(r.raw)
		return err
	}
	s.env.Stderr.Write(r.stderr)
	if quietFail && r.cgi != nil && r.cgi.Status >= 400 {
		return nil
	}
	if include && r.cgi != nil {
		pal, _ := s.palette(out)
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
	return nil
}

func (s *session) last(args []string) error {
	if len(s.responses) == 0 {
		return runenv.Usagef("no response yet")
	}
	r := s.responses[len(s.responses)-1]
	fs := flag.NewFlagSet("last", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	output := fs.String("o", s.output, "")
	include := fs.Bool("i", s.include, "")
	maxBytes := fs.Int("max-bytes", 256, "")
	dump := false
	if len(args) > 0 && args[0] == "raw-dump" {
		dump, args = true, args[1:]
		*output = "text"
	}
	if err := fs.Parse(args); err != nil {
		return runenv.Usagef("last: %v", err)
	}
	if fs.NArg() > 0 {
		return runenv.Usagef("usage: last [-o text|raw|json] [-i] | last raw-dump [-o text|json]")
	}
	if dump {
		format, err := formatters.ParseFormat(*output, formatters.Text, formatters.JSON)
		if err != nil {
			return &runenv.UsageError{Msg: err.Error()}
		}
		pal, _ := s.palette(s.env.Stdout)
		d := &formatters.Dumper{W: s.env.Stdout, P: pal, Format: format, MaxBytes: *maxBytes}
		if len(r.events) > 0 {
			d.Expect(r.events[0].Header.RequestID)
		}
		for _, ev := range r.events {
			d.Observe(ev)
		}
		return d.Err()
	}
	format, err := formatters.ParseFormat(*output, formatters.Text, formatters.Raw, formatters.JSON)
	if err != nil {
		return &runenv.UsageError{Msg: err.Error()}
	}
	return s.render(r, format, *include, false)
}

func (s *session) diff() error {
	if len(s.responses) < 2 {
		return runenv.Usagef("diff needs two responses, there are %d", len(s.responses))
	}
	a, b := s.responses[0], s.responses[1]
	out := s.env.Stdout
	fmt.Fprintf(out, "--- #%d %s\n+++ #%d %s\n", a.n, a.cmd, b.n, b.cmd)
	same := true
	st := func(r *shellResponse) string {
		if r.cgi == nil {
			if r.err != nil {
				_, msg := runenv.ExitCode(r.err)
				return "no response (" + msg + ")"
			}
			return "no CGI response"
		}
		return fmt.Sprintf("%d %s", r.cgi.Status, r.cgi.Reason)
	}
	if sa, sb := strings.TrimSpace(st(a)), strings.TrimSpace(st(b)); sa != sb {
		fmt.Fprintf(out, "status: %s -> %s\n", sa, sb)
		same = false
	} else {
		fmt.Fprintf(out, "status: %s (same)\n", sa)
	}
	hdr := func(r *shellResponse) []string {
		var out []string
		if r.cgi != nil {
			for _, h := range r.cgi.Headers {
				out = append(out, h.Name+": "+h.Value)
			}
		}
		return out
	}
	if d := lineDiff(hdr(a), hdr(b)); d != nil {
		fmt.Fprintln(out, "headers:")
		for _, l := range d {
			fmt.Fprintln(out, l)
		}
		same = false
	} else {
		fmt.Fprintln(out, "headers: same")
	}
	if bytes.Equal(a.body, b.body) {
		fmt.Fprintf(out, "body: same (%d bytes)\n", len(a.body))
	} else {
		same = false
		fmt.Fprintf(out, "body: %d -> %d bytes\n", len(a.body), len(b.body))
		la, lb := strings.SplitAfter(string(a.body), "\n"), strings.SplitAfter(string(b.body), "\n")
		if len(la)*len(lb) > maxDiffCells {
			fmt.Fprintln(out, "  (too long to compare line by line)")
		} else {
			for _, l := range lineDiff(trimNL(la), trimNL(lb)) {
				fmt.Fprintln(out, l)
			}
		}
	}
	if same {
		fmt.Fprintln(out, "the two responses are the same")
	}
	return nil
}

const maxDiffCells = 4 << 20

func trimNL(ls []string) []string {
	var out []string
	for _, l := range ls {
		if l != "" {
			out = append(out, strings.TrimSuffix(l, "\n"))
		}
	}
	return out
}

// lineDiff returns a's and b's lines marked "- ", "+ " or "  " along a
// longest common subsequence, or nil when they are equal.
func lineDiff(a, b []string) []string {
	if slices.Equal(a, b) {
		return nil
	}
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []string
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			out = append(out, "  "+a[i])
			i++
			j++
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			out = append(out, "- "+a[i])
			i++
		default:
			out = append(out, "+ "+b[j])
			j++
		}
	}
	return out
}

func (s *session) set(args []string) error {
	if len(args) < 1 {
		return runenv.Usagef("usage: set %s", shellCommands[7].args)
	}
	what, rest := args[0], strings.Join(args[1:], " ")
	onOff := func(p *bool) error {
		switch rest {
		case "on", "true", "1", "":
			*p = true
		case "off", "false", "0":
			*p = false
		default:
			return runenv.Usagef("set %s: want on or off, got %q", what, rest)
		}
		return nil
	}
	switch what {
	case "param":
		name, _, ok := strings.Cut(rest, "=")
		if !ok || name == "" || len(args) != 2 {
			return runenv.Usagef("usage: set param NAME=VALUE")
		}
		s.params = slices.DeleteFunc(s.params, func(p string) bool { return strings.HasPrefix(p, name+"=") })
		s.params = append(s.params, rest)
		s.unset = slices.DeleteFunc(s.unset, func(u string) bool { return u == name })
	case "header":
		name, _, ok := strings.Cut(rest, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return runenv.Usagef("usage: set header 'Name: value'")
		}
		s.headers = slices.DeleteFunc(s.headers, func(h string) bool { return sameHeader(h, name) })
		s.headers = append(s.headers, rest)
	case "root":
		s.docRoot = rest
	case "output":
		if _, err := formatters.ParseFormat(rest, formatters.Text, formatters.Raw, formatters.JSON); err != nil {
			return &runenv.UsageError{Msg: err.Error()}
		}
		s.output = rest
	case "include":
		return onOff(&s.include)
	case "verbose":
		return onOff(&s.verbose)
	case "dump":
		return onOff(&s.dump)
	case "timeout":
		d, err := time.ParseDuration(rest)
		if err != nil || d < 0 {
			return runenv.Usagef("set timeout: want a duration such as 5s, got %q", rest)
		}
		s.net.Timeout = d
	default:
		return runenv.Usagef("cannot set %q (param, header, root, output, include, verbose, dump, timeout)", what)
	}
	return nil
}

func sameHeader(h, name string) bool {
	n, _, _ := strings.Cut(h, ":")
	return strings.EqualFold(strings.TrimSpace(n), strings.TrimSpace(name))
}

func (s *session) unsetCmd(args []string) error {
	if len(args) < 1 {
		return runenv.Usagef("usage: unset param NAME | header NAME | root")
	}
	switch args[0] {
	case "param":
		if len(args) != 2 {
			return runenv.Usagef("usage: unset param NAME")
		}
		name := args[1]
		n := len(s.params)
		s.params = slices.DeleteFunc(s.params, func(p string) bool { return strings.HasPrefix(p, name+"=") })
		if len(s.params) == n && !slices.Contains(s.unset, name) {
			// Not one of ours: a default param, no longer sent.
			s.unset = append(s.unset, name)
		}
	case "header":
		if len(args) != 2 {
			return runenv.Usagef("usage: unset header NAME")
		}
		s.headers = slices.DeleteFunc(s.headers, func(h string) bool { return sameHeader(h, args[1]) })
	case "root":
		s.docRoot = ""
	default:
		return runenv.Usagef("cannot unset %q (param, header, root)", args[0])
	}
	return nil
}

func (s *session) show(args []string) error {
	out := s.env.Stdout
	onOff := map[bool]string{true: "on", false: "off"}
	addr := s.net.Connect
	if addr == "" {
		addr = "(none: connect ADDR)"
	}
	conn := "none"
	if s.conn != nil {
		conn = "open (kept alive)"
	}
	for _, kv := range [][2]string{
		{"address", addr}, {"connection", conn}, {"root", s.docRoot}, {"output", s.output},
		{"include", onOff[s.include]}, {"verbose", onOff[s.verbose]}, {"dump", onOff[s.dump]},
		{"timeout", showTimeouts(s.net)}, {"params", strings.Join(s.params, " ")},
		{"unset", strings.Join(s.unset, " ")}, {"headers", strings.Join(s.headers, "; ")},
	} {
		fmt.Fprintf(out, "%-11s %s\n", kv[0]+":", kv[1])
	}
	script := "/"
	if len(args) > 0 {
		script = args[0]
	} else if len(s.responses) > 0 {
		script = s.responses[len(s.responses)-1].script
	}
	ps, err := fcgireq.BuildParams(fcgireq.ParamSpec{
		Script: script, DocRoot: s.docRoot, Role: fcgiwire.RoleResponder,
		Params: s.params, Unset: s.unset, Headers: s.headers, BodyLen: -1,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "the next request for %s sends:\n", script)
	for _, p := range ps {
		fmt.Fprintf(out, "  %s=%s\n", p.Name, p.Value)
	}
	return nil
}

// showTimeouts is show's line for the deadlines every command obeys:
// "30s (connect 5s)", with 0 shown as none.
func showTimeouts(o fcgireq.NetOptions) string {
	d := func(d time.Duration) string {
		if d == 0 {
			return "none"
		}
		return d.String()
	}
	return d(o.Timeout) + " (connect " + d(o.ConnectTimeout) + ")"
}

// splitWords splits a line into words as a POSIX shell would: quotes
// and backslashes, no expansion.
func splitWords(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated ' quote")
			}
			cur.WriteString(line[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			inWord = true
			i++
			for ; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) && strings.IndexByte(`"\$`+"`", line[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(line[i])
			}
			if i >= len(line) {
				return nil, errors.New(`unterminated " quote`)
			}
		case c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// cgiParamNames are the params Tab completes after "set param".
var cgiParamNames = []string{
	"QUERY_STRING", "REQUEST_METHOD", "CONTENT_TYPE", "CONTENT_LENGTH", "SCRIPT_NAME", "SCRIPT_FILENAME",
	"REQUEST_URI", "DOCUMENT_URI", "DOCUMENT_ROOT", "SERVER_PROTOCOL", "REQUEST_SCHEME", "GATEWAY_INTERFACE",
	"SERVER_SOFTWARE", "REMOTE_ADDR", "REMOTE_PORT", "REMOTE_USER", "AUTH_TYPE", "SERVER_ADDR", "SERVER_PORT",
	"SERVER_NAME", "REDIRECT_STATUS", "PATH_INFO", "PATH_TRANSLATED", "HTTPS", "HTTP_HOST", "HTTP_COOKIE",
	"HTTP_USER_AGENT", "HTTP_ACCEPT", "HTTP_AUTHORIZATION", "HTTP_X_FORWARDED_FOR",
}

// complete is the Tab completion: commands, then set/unset's words, param
// names, and the flags of the command that is mirrored.
func (s *session) complete(line string, pos int) (string, []string, string) {
	head, tail := line[:pos], line[pos:]
	start := strings.LastIndexAny(head, " \t") + 1
	word := head[start:]
	before := strings.Fields(head[:start])
	var cands []string
	switch {
	case len(before) == 0:
		for _, c := range shellCommands {
			cands = append(cands, c.name)
		}
	case len(before) == 1 && before[0] == "set":
		cands = []string{"param", "header", "root", "output", "include", "verbose", "dump", "timeout"}
	case len(before) == 1 && before[0] == "unset":
		cands = []string{"param", "header", "root"}
	case len(before) == 1 && (before[0] == "help"):
		for _, c := range shellCommands {
			cands = append(cands, c.name)
		}
	case len(before) == 2 && before[0] == "set" && before[1] == "param":
		for _, n := range s.paramNames() {
			cands = append(cands, n+"=")
		}
	case len(before) == 2 && before[0] == "unset" && before[1] == "param":
		cands = s.paramNames()
	case len(before) == 2 && before[0] == "set" && before[1] == "output":
		cands = []string{"text", "raw", "json"}
	case len(before) == 2 && before[0] == "set" && slices.Contains([]string{"include", "verbose", "dump"}, before[1]):
		cands = []string{"on", "off"}
	case len(before) >= 1 && (before[len(before)-1] == "-p" || before[len(before)-1] == "--param" || before[len(before)-1] == "--unset-param"):
		for _, n := range s.paramNames() {
			cands = append(cands, n+"=")
		}
	case before[0] == "last":
		cands = []string{"raw-dump", "-o", "-i"}
	case strings.HasPrefix(word, "-"):
		name := before[0]
		switch name {
		case "get", "post":
			name = "request"
		}
		app := newApp(&runenv.Env{Getenv: func(string) string { return "" }})
		for _, c := range app.Commands {
			if c.Name == name {
				for _, f := range compFlags(name, c.Flags) {
					cands = append(cands, f.names()...)
				}
			}
		}
	}
	var out []string
	for _, c := range cands {
		if strings.HasPrefix(c, word) {
			out = append(out, c)
		}
	}
	if len(out) == 1 && !strings.HasSuffix(out[0], "=") {
		out[0] += " "
	}
	return head[:start], out, tail
}

func (s *session) paramNames() []string {
	names := slices.Clone(cgiParamNames)
	for _, p := range s.params {
		n, _, _ := strings.Cut(p, "=")
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names
}
