package commands

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fcgicli/fcgicli/commands/doctor"
	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/commands/fpmconfig"
	"github.com/fcgicli/fcgicli/commands/health"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

func doctorCommand(env *runenv.Env) *cli.Command {
	return &cli.Command{
		Name:      "doctor",
		Usage:     "walk the path a request takes to a pool and say what is broken",
		UsageText: "fcgicli doctor [-c ADDR]... [--fpm-config FILE]... [-r DOCROOT] [SCRIPT]",
		ArgsUsage: "[SCRIPT]",
		Description: `Checks, in order, what an experienced operator checks by hand, and stops
at the first broken step: the address (exists, is a socket), the connect
(with this user's permissions), FastCGI spoken (not HTTP, not TLS) and its
FCGI_GET_VALUES, the ping page, the status page (saturation, listen queue,
slow requests, counters that drifted), then a request for SCRIPT, judged
as request judges it, with its hint. Without SCRIPT it asks for a file
that cannot exist, to learn how the pool answers a wrong path.

Each step is ok, warn or fail, with one line of evidence and, unless it is
ok, one of what to do. Exit 0 when nothing failed, 1 when a step failed,
3, 4 or 5 when it could not get as far as FastCGI (cannot connect, timed
out, not FastCGI). With several pools (-c repeated, a glob of sockets,
--fpm-config: each pool with its own ping and status pages, the status
page read on pm.status_listen when set), each gets its checklist under a
"==> POOL <==" heading (-o json: {"pools": [...]}), and the exit code is
the worst.

EXAMPLES:
   fcgicli doctor -c /run/php/php8.2-fpm.sock
   fcgicli doctor -c 127.0.0.1:9000 -r /var/www/html /index.php
   fcgicli doctor -c 127.0.0.1:9000 /srv/app.php -o json | jq .verdict
   fcgicli doctor --fpm-config auto`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "connect", Aliases: []string{"c"}, Usage: "pool `ADDR` (repeatable; a unix socket glob such as '/run/php/*.sock' checks every match; default $FCGI_CONNECT)"},
			&cli.StringSliceFlag{Name: "fpm-config", Usage: "check every pool of php-fpm's main config `FILE` and what it includes (repeatable; auto: look in the usual places)"},
			&cli.DurationFlag{Name: "connect-timeout", Value: probeTimeout, Usage: "give up connecting after `DURATION`"},
			&cli.DurationFlag{Name: "step-timeout", Value: probeTimeout, Usage: "give up on each step that asks the pool after `DURATION`"},
			&cli.DurationFlag{Name: "timeout", Aliases: []string{"t"}, Value: 30 * time.Second, Usage: "give up on the whole command after `DURATION` (0: never)"},
			&cli.StringFlag{Name: "document-root", Aliases: []string{"r"}, Usage: "treat SCRIPT as a URI path under `DIR` (SCRIPT_FILENAME = DIR + path)"},
			&cli.StringFlag{Name: "ping-path", Value: "/ping", Usage: "the ping.path `PATH` of a -c pool (empty: skip the step)"},
			&cli.StringFlag{Name: "status-path", Value: "/status", Usage: "the pm.status_path `PATH` of a -c pool (empty: skip the step)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "`FORMAT`: text or json"},
			colorFlag(),
		},
		Action: func(c *cli.Context) error {
			var cfgs []*fpmconfig.Config
			targets, notes, err := probeTargets(c, env, func(c []*fpmconfig.Config) []health.Target { cfgs = c; return nil })
			if err != nil {
				return err
			}
			for _, t := range targets {
				if t.Addr == fcgireq.BuiltinAddr {
					return runenv.Usagef("doctor checks a real pool: builtin is not one")
				}
			}
			pools := doctorPools(targets, cfgs, c.String("ping-path"), c.String("status-path"))
			net := fcgireq.NetOptions{ConnectTimeout: c.Duration("connect-timeout"), Timeout: c.Duration("timeout")}
			if net.ConnectTimeout < 0 || net.Timeout < 0 {
				return runenv.Usagef("timeouts cannot be negative")
			}
			o := doctor.Options{Net: net, Step: c.Duration("step-timeout"), DocRoot: c.String("document-root")}
			if o.Step <= 0 {
				return runenv.Usagef("--step-timeout must be more than 0")
			}
			switch c.NArg() {
			case 0:
			case 1:
				o.Script = c.Args().First()
			default:
				return runenv.Usagef("want at most one SCRIPT, got %d arguments", c.NArg())
			}
			if o.Script != "" {
				// A SCRIPT that cannot be sent is the user's mistake.
				if _, err := fcgireq.BuildParams(fcgireq.ParamSpec{Script: o.Script, DocRoot: o.DocRoot, Role: fcgiwire.RoleResponder, BodyLen: -1}); err != nil {
					return err
				}
			}
			format, err := formatters.ParseFormat(c.String("output"), formatters.Text, formatters.JSON)
			if err != nil {
				return &runenv.UsageError{Msg: err.Error()}
			}
			pal, err := palette(c, env, env.Stdout)
			if err != nil {
				return err
			}
			for _, n := range notes {
				fmt.Fprintf(env.Stderr, "fcgicli: note: %s\n", n)
			}
			reps, code := doctor.Run(c.Context, o, pools)
			if format == formatters.JSON {
				err = formatters.WriteDoctorJSON(env.Stdout, reps)
			} else {
				err = formatters.WriteDoctorText(env.Stdout, reps, pal)
			}
			if err != nil {
				return err
			}
			if code != 0 {
				return &runenv.CodeError{Code: code}
			}
			return nil
		},
	}
}

// doctorPools are the pools doctor checks: the --connect targets, with
// the pages of --ping-path and --status-path, then each pool of the
// php-fpm configurations, with its own.
func doctorPools(targets []health.Target, cfgs []*fpmconfig.Config, pingPath, statusPath string) []doctor.Pool {
	var pools []doctor.Pool
	for _, t := range targets {
		pools = append(pools, doctor.Pool{Label: t.Label(), Addr: t.Addr, Err: t.Err, PingPath: pingPath, StatusPath: statusPath})
	}
	for _, cfg := range cfgs {
		for _, p := range cfg.Pools {
			pools = append(pools, doctor.Pool{Label: p.Name + " (" + p.Address + ")", Addr: p.Address, MaxChildren: int64(p.MaxChildren),
				PingPath: p.PingPath, PingResponse: p.PingResponse, StatusPath: p.StatusPath, StatusAddr: p.StatusAddress, Section: p.Section.String()})
		}
	}
	return pools
}
