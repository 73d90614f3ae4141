package commands

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

func pingCommand(env *runenv.Env) *cli.Command {
	return &cli.Command{
		Name:  "ping",
		Usage: "check that php-fpm pools answer their ping page",
		Description: `Requests php-fpm's ping.path (--path, default /ping) and checks that the
CGI status is 200 and the body is --expect (default pong; a trailing newline
is ignored). Prints one line per pool, "OK pong 0.42ms" or "FAIL" with what
came back, unless -q.

--connect may be repeated, and may be a glob of unix sockets: every pool is
checked, and a glob that matches nothing is a failing pool with its own line.
Exit 0 when all are healthy; otherwise the code of the first failing pool in
the order given: 1 unhealthy (wrong status or body), 3 cannot connect (a glob
that matches nothing included), 4 timeout, 5 protocol error, 6 the
application refused the request (OVERLOADED...), 7 a non-zero app status.

EXAMPLES:
   fcgicli ping -c 127.0.0.1:9000
   fcgicli ping -c '/run/php/*.sock' -q || echo unhealthy
   fcgicli ping -c /run/php/php8.2-fpm.sock --path /healthz --expect ok -t 1s`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "connect", Aliases: []string{"c"}, Usage: "pool `ADDR` (repeatable; a unix socket glob such as '/run/php/*.sock' checks every match; default $FCGI_CONNECT)"},
			&cli.DurationFlag{Name: "connect-timeout", Value: 2 * time.Second, Usage: "give up connecting after `DURATION`"},
			&cli.DurationFlag{Name: "timeout", Aliases: []string{"t"}, Value: 2 * time.Second, Usage: "give up on each pool after `DURATION` (0: never)"},
			&cli.StringFlag{Name: "path", Value: "/ping", Usage: "php-fpm's ping.path `PATH`"},
			&cli.StringFlag{Name: "expect", Value: "pong", Usage: "the body a healthy pool answers, `TEXT` (php-fpm's ping.response)"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print nothing: the exit code says it all"},
			colorFlag(),
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return runenv.Usagef("ping takes no arguments, got %q (the path is --path)", c.Args().First())
			}
			targets, err := pingTargets(c.StringSlice("connect"), env)
			if err != nil {
				return err
			}
			o := fcgireq.NetOptions{ConnectTimeout: c.Duration("connect-timeout"), Timeout: c.Duration("timeout")}
			if o.ConnectTimeout < 0 || o.Timeout < 0 {
				return runenv.Usagef("timeouts cannot be negative")
			}
			path := c.String("path")
			if !strings.HasPrefix(path, "/") {
				return runenv.Usagef("--path %q must start with /", path)
			}
			pal, err := palette(c, env, env.Stdout)
			if err != nil {
				return err
			}
			return runPing(c.Context, env, pal, o, targets, path, c.String("expect"), c.Bool("quiet"))
		},
	}
}

// pingTarget is one pool to check: an address, or the failure that stands
// for it (a glob that matches nothing), reported in its turn like any
// other pool's.
type pingTarget struct {
	addr string
	err  error
}

// pingTargets expands the --connect values: globs of unix sockets become
// their matches, in order; a glob that matches nothing is a pool that
// cannot be connected to.
func pingTargets(values []string, env *runenv.Env) ([]pingTarget, error) {
	if len(values) == 0 {
		if v := env.Getenv("FCGI_CONNECT"); v != "" {
			values = []string{v}
		}
	}
	if len(values) == 0 {
		return nil, runenv.Usagef("no server address: give -c ADDR or set FCGI_CONNECT (forms: %s, or builtin)", fcgiwire.AddrForms)
	}
	var out []pingTarget
	for _, v := range values {
		if err := fcgireq.CheckClientAddr(v); err != nil {
			return nil, err
		}
		if !isSocketGlob(v) {
			out = append(out, pingTarget{addr: v})
			continue
		}
		pattern := strings.TrimPrefix(strings.TrimPrefix(v, "unix://"), "unix:")
		matches, err := filepath.Glob(pattern)
		if err != nil {
			return nil, runenv.Usagef("bad glob %q: %v", v, err)
		}
		if len(matches) == 0 {
			out = append(out, pingTarget{addr: v, err: &runenv.ConnectError{Addr: v, Err: fmt.Errorf("no socket matches")}})
			continue
		}
		for _, m := range matches {
			out = append(out, pingTarget{addr: socketPath(m)})
		}
	}
	return out, nil
}

// isSocketGlob reports whether a --connect value is a glob of unix
// sockets: a path with a glob character.
func isSocketGlob(v string) bool {
	pattern := strings.TrimPrefix(strings.TrimPrefix(v, "unix://"), "unix:")
	return strings.ContainsAny(pattern, "*?[") && (strings.HasPrefix(pattern, "/") || strings.HasPrefix(pattern, "."))
}

// socketPath keeps a glob match an address of a unix socket: filepath.Glob
// cleans "./*.sock" into "fpm.sock", which would read as host:port, so a
// relative match gets its "./" back.
func socketPath(m string) string {
	if filepath.IsAbs(m) || strings.HasPrefix(m, "./") || strings.HasPrefix(m, "../") {
		return m
	}
	return "./" + m
}

// runPing checks each target in turn and returns the error of the first
// that failed.
func runPing(ctx context.Context, env *runenv.Env, pal *formatters.Palette, o fcgireq.NetOptions, targets []pingTarget, path, expect string, quiet bool) error {
	var first error
	for _, t := range targets {
		var line string
		err := t.err
		if err != nil {
			line = failLine(err, pal)
		} else {
			o.Connect = t.addr
			line, err = pingOne(ctx, o, path, expect, pal)
		}
		if !quiet {
			if len(targets) > 1 {
				line = t.addr + " " + line
			}
			fmt.Fprintln(env.Stdout, line)
		}
		if err != nil && first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	if first != nil {
		// The lines above say what failed; only the code is left to give.
		code, _ := runenv.ExitCode(first)
		return &runenv.CodeError{Code: code}
	}
	return nil
}

// pingOne checks one pool and returns its report line.
func pingOne(ctx context.Context, o fcgireq.NetOptions, path, expect string, pal *formatters.Palette) (string, error) {
	f, err := fcgireq.FetchPage(ctx, o, path)
	if err != nil {
		return failLine(err, pal), err
	}
	body := strings.TrimSuffix(string(f.Body), "\n")
	took := formatters.Millis(f.Elapsed)
	if f.CGI.Status != 200 || body != expect {
		return fmt.Sprintf("%s status %d body %s %s", pal.Error.Sprint("FAIL"), f.CGI.Status, quoteBody(body), took),
			&runenv.CodeError{Code: runenv.ExitCheckFailed, Msg: "unhealthy"}
	}
	return fmt.Sprintf("%s %s %s", pal.Good.Sprint("OK"), formatters.Printable(body), took), nil
}

// failLine is the report line of a pool that could not be checked.
func failLine(err error, pal *formatters.Palette) string {
	_, msg := runenv.ExitCode(err)
	return pal.Error.Sprint("FAIL") + " " + msg
}

// quoteBody shows at most 60 bytes of a body, quoted.
func quoteBody(b string) string {
	if len(b) > 60 {
		return fmt.Sprintf("%q...", b[:60])
	}
	return fmt.Sprintf("%q", b)
}
