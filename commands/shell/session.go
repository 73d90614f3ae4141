// Package shell is the engine of 'fcgicli shell', an interactive FastCGI
// session. It owns the session: the prompt loop and the scripted loop
// (stdin not a terminal), line editing, the history file and Tab
// completion, the splitting of a line into words, the session's settings
// (address, deadlines, params, headers, root, output, include, verbose and
// dump) and the commands that change and show them (set, unset, show,
// connect), the kept-alive connection and its reconnection, sending a
// request on it and rendering the response, the last two responses (last,
// diff), the history, help, and the handling of Ctrl-C (the request in
// flight is aborted, the session goes on) and SIGTERM (the session ends).
//
// fcgicli's own commands (request's flags, get-values, raw-dump, ping,
// status, and their help) are the CLI's knowledge, not the engine's: the
// session asks for them through CLI, which the shell command fills, and
// never imports package commands or urfave/cli. It must not parse the
// process's command line, call os.Exit or hold package-level mutable
// state: it writes only to the Env it is given.
package shell

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/peterh/liner"

	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

// Settings are the session's settings that the commands it runs take as
// the defaults of their flags.
type Settings struct {
	Net     fcgireq.NetOptions // the address (-c) and the deadlines every command obeys
	Color   string             // --color: auto, always or never
	DocRoot string             // -r
	Params  []string           // NAME=VALUE, in the order set
	Unset   []string           // default params not to send
	Headers []string           // "Name: value"
	Output  string             // request's -o: text, raw or json
	Include bool               // request's -i
}

// Request is a request line parsed: request's flags as options.
type Request struct {
	fcgireq.Shape
	Output       formatters.Format
	Include      bool
	Verbose      bool
	Fail         bool // --fail or --fail-with-body
	FailWithBody bool
}

// CLI is what the session needs of fcgicli's commands. Each function
// takes the session's settings, which are the defaults of the command's
// flags: a flag the line gives replaces a setting for that line only,
// except -p, -H and --unset-param, which add to the session's.
type CLI struct {
	// Run runs fcgicli's command name (get-values, raw-dump, ping,
	// status) with args, the flags and arguments on the line; with
	// args --help it shows the command's help.
	Run func(ctx context.Context, name string, args []string, set Settings) error
	// ParseRequest parses request's flags and SCRIPT from args. fill
	// holds the values of flags the line's command means (get's method,
	// post's method and data), each used only when args do not give
	// that flag. A request id the line does not give is 0: the
	// connection numbers its requests. A nil Request and no error means
	// the help was shown.
	ParseRequest func(ctx context.Context, args []string, fill map[string]string, set Settings) (*Request, error)
	// FlagNames lists the flags of command name as they are typed
	// (--connect, -c), for Tab.
	FlagNames func(name string) []string
}

// Session is the state of a shell.
type Session struct {
	env      *runenv.Env
	cli      CLI
	settings Settings
	verbose  bool
	dump     bool

	conn     *fcgiwire.Conn
	connDone func()
	connAddr string
	observe  atomic.Pointer[fcgiwire.Observer] // the current request's observer

	responses []*response // the last two at most
	count     int         // responses so far, to number them
	history   []string
	lastFail  int
	line      *liner.State
}

// New returns a session with settings set that runs fcgicli's commands
// through cli. An empty Color or Output is auto or text.
func New(env *runenv.Env, set Settings, cli CLI) *Session {
	s := &Session{env: env, cli: cli, settings: set.clone()}
	s.settings.Color = cmp.Or(set.Color, "auto")
	s.settings.Output = cmp.Or(set.Output, "text")
	return s
}

// Settings returns the session's settings as they are now.
func (s *Session) Settings() Settings { return s.settings.clone() }

// clone returns a copy of set that shares no slice with it.
func (set Settings) clone() Settings {
	set.Params, set.Unset, set.Headers = slices.Clone(set.Params), slices.Clone(set.Unset), slices.Clone(set.Headers)
	return set
}

// response is one response kept for last and diff.
type response struct {
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
	hint    string // what fcgicli makes of the answer, if it knows
	connect time.Duration
	first   time.Duration
	total   time.Duration
}

const maxOutput = 64 << 20

// Run runs the session: a prompt when stdin and stdout are terminals,
// otherwise stdin's lines without one. Ctrl-C ends the request in flight,
// not the session, so the session does not run under ctx's cancellation;
// SIGTERM ends it (after aborting the request in flight), idle or not.
// Scripted, it ends with the exit code of the last command that failed.
// Run closes the kept connection before it returns.
func (s *Session) Run(ctx context.Context) error {
	ctx, stop := signal.NotifyContext(context.WithoutCancel(ctx), syscall.SIGTERM)
	defer stop()
	return s.run(ctx)
}

func (s *Session) run(ctx context.Context) error {
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
			if more, _ := s.Exec(ctx, input); !more || ctx.Err() != nil {
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
	s.line.SetWordCompleter(s.Complete)
	histFile := s.historyFile()
	if f, err := os.Open(histFile); err == nil {
		_, _ = s.line.ReadHistory(f)
		f.Close()
	}
	fmt.Fprintf(s.env.Stdout, "fcgicli shell: 'help' lists the commands, Ctrl-D leaves.\n")
	for range maxLines {
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
		if more, _ := s.Exec(ctx, input); !more || ctx.Err() != nil {
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

// maxLines bounds a session's commands.
const maxLines = 1 << 30

// prompt names the session's address.
func (s *Session) prompt() string {
	if s.settings.Net.Connect == "" {
		return "fcgi> "
	}
	return "fcgi " + s.settings.Net.Connect + "> "
}

// historyFile is where the history is kept: $XDG_STATE_HOME/fcgicli/history,
// or ~/.local/state/fcgicli/history; empty when neither is known.
func (s *Session) historyFile() string {
	if d := s.env.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "fcgicli", "history")
	}
	if h := s.env.Getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "state", "fcgicli", "history")
	}
	return ""
}

// Exec runs one line. A failure is reported on stderr, remembered for
// the exit code of a scripted session, and returned; more is false when
// the line ends the session (exit).
func (s *Session) Exec(ctx context.Context, input string) (more bool, err error) {
	args, err := splitWords(input)
	if err != nil {
		err = &runenv.UsageError{Msg: err.Error()}
		s.fail(err)
		return true, err
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "#") {
		return true, nil
	}
	s.history = append(s.history, input)
	if args[0] == "exit" || args[0] == "quit" {
		return false, nil
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
	if err = s.safeCommand(ctx, args, input); err != nil {
		s.fail(err)
	}
	return true, err
}

// Close closes the kept connection, if any.
func (s *Session) Close() { s.closeConn() }

// safeCommand runs a command; a panic in it is reported like an error,
// so that nothing ends the session but exit and Ctrl-D.
func (s *Session) safeCommand(ctx context.Context, args []string, input string) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error in %q: %v", args[0], p)
		}
	}()
	return s.command(ctx, args, input)
}

// fail reports err on stderr and remembers its exit code.
func (s *Session) fail(err error) {
	code, msg := runenv.ExitCode(err)
	if code == runenv.ExitOK {
		return
	}
	s.lastFail = code
	if msg != "" {
		if code == runenv.ExitInterrupted {
			msg = "interrupted: the request was aborted (FCGI_ABORT_REQUEST)"
		}
		// The application's stderr may have ended mid-line.
		_ = runenv.EndLine(s.env.Stderr)
		fmt.Fprintf(s.env.Stderr, "fcgicli: %s\n", msg)
		if hint := runenv.HintOf(err); hint != "" {
			formatters.WriteHint(s.env.Stderr, hint)
		}
	}
}

// commandDoc is a command's line in help.
type commandDoc struct {
	name, args, help string
}

// commandDocs are the session's commands, in the order help lists them.
var commandDocs = []commandDoc{
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

// command runs the line args (input as typed).
func (s *Session) command(ctx context.Context, args []string, input string) error {
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
		return s.cli.Run(ctx, args[0], args[1:], s.Settings())
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

// help lists the commands, or shows one's help: the command's own, for
// fcgicli's commands.
func (s *Session) help(ctx context.Context, args []string) error {
	if len(args) == 0 {
		for _, c := range commandDocs {
			fmt.Fprintf(s.env.Stdout, "  %-11s %s\n", c.name, c.help)
		}
		return nil
	}
	switch args[0] {
	case "request", "get-values", "raw-dump", "ping", "status":
		fmt.Fprintf(s.env.Stdout, "In the shell, the session's settings are the defaults of these flags: a flag on the line\n"+
			"replaces them for that line, except -p, -H and --unset-param, which add to them. The command's own help:\n\n")
		return s.cli.Run(ctx, args[0], []string{"--help"}, s.Settings())
	}
	for _, c := range commandDocs {
		if c.name == args[0] {
			fmt.Fprintf(s.env.Stdout, "%s %s\n   %s\n", c.name, c.args, c.help)
			return nil
		}
	}
	return runenv.Usagef("no command %q ('help' lists them)", args[0])
}
