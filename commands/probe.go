package commands

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/commands/fpmconfig"
	"github.com/fcgicli/fcgicli/commands/health"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
)

// probeTimeout is the default of status's and ping's --timeout and
// --connect-timeout, one for both, short enough for the health checks of
// Docker and Kubernetes: a probe's own timeout (often 3s) should be above
// it, so that fcgicli reports the timeout itself (exit 4) instead of being
// killed.
const probeTimeout = 2 * time.Second

// probeFlags are the flags status and ping share: the pools (--connect,
// repeatable, and --fpm-config) and the deadlines, each pool's own. verb
// says what is done to each match of a glob.
func probeFlags(verb string) []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "connect", Aliases: []string{"c"}, Usage: "pool `ADDR` (repeatable; a unix socket glob such as '/run/php/*.sock' " + verb + " every match; default $FCGI_CONNECT)"},
		&cli.DurationFlag{Name: "connect-timeout", Value: probeTimeout, Usage: "give up connecting after `DURATION`"},
		&cli.DurationFlag{Name: "timeout", Aliases: []string{"t"}, Value: probeTimeout, Usage: "give up on each pool after `DURATION` (0: never)"},
		&cli.StringSliceFlag{Name: "fpm-config", Usage: "check every pool of php-fpm's main config `FILE` and what it includes (repeatable; auto: look in the usual places)"},
	}
}

// probeNetOptions are the deadlines of status and ping.
func probeNetOptions(c *cli.Context) (fcgireq.NetOptions, error) {
	o := fcgireq.NetOptions{ConnectTimeout: c.Duration("connect-timeout"), Timeout: c.Duration("timeout")}
	if o.ConnectTimeout < 0 || o.Timeout < 0 {
		return o, runenv.Usagef("timeouts cannot be negative")
	}
	return o, nil
}

// probeTargets are the pools status and ping check: the --connect values
// (their globs expanded), then the pools of each --fpm-config, which
// fromConfig turns into targets. $FCGI_CONNECT stands in for --connect
// only when neither is given. warnings are what php-fpm would accept in
// the configurations with a warning.
func probeTargets(c *cli.Context, env *runenv.Env, fromConfig func([]*fpmconfig.Config) []health.Target) (targets []health.Target, warnings []string, err error) {
	values := c.StringSlice("connect")
	files := c.StringSlice("fpm-config")
	if len(values) == 0 && len(files) == 0 {
		if values, err = connectValues(c, env); err != nil {
			return nil, nil, err
		}
	}
	if targets, err = health.Targets(values); err != nil {
		return nil, nil, err
	}
	cfgs, err := health.ReadConfigs(files)
	if err != nil {
		return nil, nil, err
	}
	for _, cfg := range cfgs {
		for _, w := range cfg.Warnings {
			warnings = append(warnings, w.String())
		}
		if len(cfg.Pools) == 0 {
			warnings = append(warnings, fmt.Sprintf("%s: no pool", cfg.File))
		}
	}
	return append(targets, fromConfig(cfgs)...), warnings, nil
}

// connectValues are the --connect values, or $FCGI_CONNECT when there
// are none; no address at all is a usage error.
func connectValues(c *cli.Context, env *runenv.Env) ([]string, error) {
	values := c.StringSlice("connect")
	if len(values) == 0 {
		if v := env.Getenv("FCGI_CONNECT"); v != "" {
			values = []string{v}
		}
	}
	if len(values) == 0 {
		return nil, runenv.Usagef("no server address: give -c ADDR or set FCGI_CONNECT (forms: %s, or builtin)", fcgiwire.AddrForms)
	}
	return values, nil
}
