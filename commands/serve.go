package commands

import (
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fcgicli/fcgicli/commands/echo"
	"github.com/fcgicli/fcgicli/commands/netio"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

func serveCommand(env *runenv.Env) *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "a FastCGI application to test web servers and clients: echo, mock, faults",
		Description: `Runs a FastCGI application. By default it echoes: each request is answered
with what it received (params in arrival order, stdin size and sha256,
request id, role, keep-conn flag), as text, JSON or HTML by --echo-format or
the request's Accept header. --status, --body (either turns the echo off),
--header, --stderr, --app-status and --delay make it a mock; --script FILE
maps params to answers (see docs/serve.md). FILTER requests get their
FCGI_DATA back, AUTHORIZER requests the echo (200, allow) unless a rule
says otherwise, and --refuse-role answers UNKNOWN_ROLE. --fault injects
failures for testing clients.

Each request is reported on stdout as it ends (-o json: one JSON line per
request), those it refuses included; the listeners and faults are logged on
stderr. It answers
FCGI_GET_VALUES with --max-conns, --max-reqs and multiplexing, and enforces
them (OVERLOADED past max-reqs or max-conns, CANT_MPX_CONN with --no-mpxs).
SIGINT or SIGTERM stops it gracefully (exit 0).

The echo alone runs in-process for any command given --connect builtin.

EXAMPLES:
   fcgicli serve --listen 127.0.0.1:9000
   fcgicli serve --listen /tmp/echo.sock --socket-mode 0666 -o json
   fcgicli serve --listen 127.0.0.1:9000 --status 503 --body 'down for maintenance'
   fcgicli serve --listen 127.0.0.1:9000 --script rules.txt
   fcgicli serve --listen 127.0.0.1:9000 --fault close-before-end:0.1`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "listen", Aliases: []string{"l"}, Usage: "listen on `ADDR` (repeatable; same forms as --connect; port 0 picks a free one)"},
			&cli.StringFlag{Name: "socket-mode", Usage: "file mode for unix socket listeners, octal `MODE` such as 0660 (not on Windows, whose sockets have none)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "report `FORMAT` on stdout: text or json (one line per request)"},
			&cli.StringFlag{Name: "echo-format", Usage: "echo as `FORMAT` text, json or html (default: by the Accept header, else text)"},
			&cli.IntFlag{Name: "status", Usage: "answer with CGI status `CODE` instead of the echo"},
			&cli.StringFlag{Name: "body", Usage: "answer with `TEXT` or @FILE instead of the echo"},
			&cli.StringSliceFlag{Name: "header", Aliases: []string{"H"}, Usage: "add `'Name: value'` to every answer (repeatable)"},
			&cli.StringFlag{Name: "stderr", Usage: "send `TEXT` on FCGI_STDERR with a mock answer"},
			&cli.UintFlag{Name: "app-status", Usage: "end mock answers with app status `N`"},
			&cli.DurationFlag{Name: "delay", Usage: "wait `DURATION` before a mock answer"},
			&cli.StringFlag{Name: "script", Usage: "answer by the rules in `FILE` (first match wins; no match: mock or echo)"},
			&cli.StringSliceFlag{Name: "refuse-role", Usage: "answer UNKNOWN_ROLE to `ROLE` responder, authorizer or filter (repeatable)"},
			&cli.IntFlag{Name: "max-conns", Value: echo.DefaultMaxConns, Usage: "FCGI_MAX_CONNS: requests on connections past `N` get OVERLOADED"},
			&cli.IntFlag{Name: "max-reqs", Value: echo.DefaultMaxReqs, Usage: "FCGI_MAX_REQS: requests past `N` at once get OVERLOADED"},
			&cli.IntFlag{Name: "max-conn-reqs", Value: echo.DefaultMaxConnReqs, Usage: "requests past `N` at once on one connection get OVERLOADED (at most --max-reqs)"},
			&cli.BoolFlag{Name: "no-mpxs", Usage: "FCGI_MPXS_CONNS=0: a second request on a busy connection gets CANT_MPX_CONN"},
			&cli.StringSliceFlag{Name: "fault", Usage: "inject `KIND[:PROBABILITY]` (repeatable): " + faultList()},
			&cli.DurationFlag{Name: "shutdown-timeout", Value: 5 * time.Second, Usage: "on SIGINT/SIGTERM, wait up to `DURATION` for requests in flight"},
			readTimeoutFlag(),
			idleTimeoutFlag(),
			colorFlag(),
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return runenv.Usagef("serve takes no arguments, got %q", c.Args().First())
			}
			parsed, err := parseListens(c.StringSlice("listen"))
			if err != nil {
				return err
			}
			mode, err := parseSocketMode(c.String("socket-mode"))
			if err != nil {
				return err
			}
			format, err := formatters.ParseFormat(c.String("output"), formatters.Text, formatters.JSON)
			if err != nil {
				return &runenv.UsageError{Msg: err.Error()}
			}
			h, err := responderFrom(c, env)
			if err != nil {
				return err
			}
			if c.Int("max-conns") < 1 || c.Int("max-reqs") < 1 || c.Int("max-conn-reqs") < 1 {
				return runenv.Usagef("--max-conns, --max-reqs and --max-conn-reqs must be at least 1")
			}
			if c.Duration("shutdown-timeout") < 0 {
				return runenv.Usagef("--shutdown-timeout cannot be negative")
			}
			deadlines, err := connDeadlinesFrom(c)
			if err != nil {
				return err
			}
			pal, err := palette(c, env, env.Stdout)
			if err != nil {
				return err
			}
			// The responder reports one request at a time.
			h.Report = func(ex *formatters.Exchange) {
				_ = formatters.WriteExchange(env.Stdout, ex, format, pal)
			}
			lim := echo.Limits{MaxConns: c.Int("max-conns"), MaxReqs: c.Int("max-reqs"), MaxConnReqs: c.Int("max-conn-reqs"), Multiplex: !c.Bool("no-mpxs")}
			s := &echo.Serving{Responder: h, Addrs: parsed, SocketMode: mode, Limits: lim, Deadlines: deadlines, ShutdownTimeout: c.Duration("shutdown-timeout")}
			return s.Run(c.Context, env.Stderr)
		},
	}
}

func faultList() string {
	var names []string
	for k := range echo.FaultKinds() {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// responderFrom builds the responder from serve's flags.
func responderFrom(c *cli.Context, env *runenv.Env) (*echo.Responder, error) {
	h := &echo.Responder{Headers: c.StringSlice("header"), Refuse: map[fcgiwire.Role]bool{}}
	for _, hd := range h.Headers {
		if n, _, ok := strings.Cut(hd, ":"); !ok || strings.TrimSpace(n) == "" {
			return nil, runenv.Usagef("bad --header %q: want 'Name: value'", hd)
		}
	}
	if f := c.String("echo-format"); f != "" {
		ef, err := formatters.ParseFormat(f, formatters.Text, formatters.JSON, formatters.HTML)
		if err != nil {
			return nil, runenv.Usagef("--echo-format: %v", err)
		}
		h.EchoFormat = ef
	}
	if c.IsSet("status") || c.IsSet("body") || c.IsSet("stderr") || c.IsSet("app-status") || c.IsSet("delay") {
		m := &echo.Mock{Status: c.Int("status"), Stderr: c.String("stderr"), AppStatus: uint32(c.Uint("app-status")), Delay: c.Duration("delay")}
		if c.IsSet("status") && (m.Status < 100 || m.Status > 999) {
			return nil, runenv.Usagef("--status %d: want a number from 100 to 999", m.Status)
		}
		if m.Delay < 0 {
			return nil, runenv.Usagef("--delay cannot be negative")
		}
		if body := c.String("body"); strings.HasPrefix(body, "@") {
			b, err := os.ReadFile(body[1:])
			if err != nil {
				return nil, runenv.Usagef("--body: %v", err)
			}
			m.Body = b
		} else {
			m.Body = []byte(body)
		}
		if c.IsSet("status") || c.IsSet("body") {
			h.Mock = m
		} else {
			// --stderr, --app-status or --delay alone keep the echo.
			return nil, runenv.Usagef("--stderr, --app-status and --delay go with --status or --body (the mock answer)")
		}
	}
	if f := c.String("script"); f != "" {
		rules, err := echo.ParseRules(f)
		if err != nil {
			return nil, err
		}
		h.Rules = rules
	}
	for _, r := range c.StringSlice("refuse-role") {
		role, err := parseRole(r)
		if err != nil {
			return nil, runenv.Usagef("--refuse-role: %v", err)
		}
		h.Refuse[role] = true
	}
	for _, f := range c.StringSlice("fault") {
		kind, prob, hasProb := strings.Cut(f, ":")
		if _, ok := echo.FaultKinds()[kind]; !ok {
			return nil, runenv.Usagef("unknown --fault %q (known: %s)", kind, faultList())
		}
		p := 1.0
		if hasProb {
			var err error
			// !(p >= 0 && p <= 1) also refuses NaN, which ParseFloat takes.
			if p, err = strconv.ParseFloat(prob, 64); err != nil || !(p >= 0 && p <= 1) {
				return nil, runenv.Usagef("--fault %s: the probability must be a number from 0 to 1", f)
			}
		}
		h.Faults = append(h.Faults, echo.Fault{Kind: kind, Prob: p})
	}
	return h, nil
}

func readTimeoutFlag() cli.Flag {
	return &cli.DurationFlag{Name: "read-timeout", Value: time.Minute, Usage: "cut a client that stalls `DURATION` mid-record or mid-request (0: never)"}
}

func idleTimeoutFlag() cli.Flag {
	return &cli.DurationFlag{Name: "idle-timeout", Value: 2 * time.Minute, Usage: "close a kept-alive connection `DURATION` without a request (0: never)"}
}

// connDeadlinesFrom reads --read-timeout and --idle-timeout, which serve
// and proxy share.
func connDeadlinesFrom(c *cli.Context) (netio.Deadlines, error) {
	d := netio.Deadlines{Read: c.Duration("read-timeout"), Idle: c.Duration("idle-timeout")}
	if d.Read < 0 || d.Idle < 0 {
		return d, runenv.Usagef("--read-timeout and --idle-timeout cannot be negative")
	}
	return d, nil
}

// parseListens parses the --listen values, where port 0 picks a free
// port; at least one is needed.
func parseListens(values []string) ([]fcgiwire.Addr, error) {
	if len(values) == 0 {
		return nil, runenv.Usagef("give at least one --listen ADDR")
	}
	var out []fcgiwire.Addr
	for _, v := range values {
		a, err := fcgiwire.ParseListenAddr(v)
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
		return 0, runenv.Usagef("--socket-mode %q: want an octal mode such as 0660", s)
	}
	return os.FileMode(m), nil
}
