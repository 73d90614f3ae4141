package commands

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/fcgicli/fcgicli/commands/fpmconfig"
	"github.com/fcgicli/fcgicli/commands/health"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
)

// fpmConfigFlag is --fpm-config, which status and ping take: the pools of
// php-fpm's own configuration.
func fpmConfigFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "fpm-config", Usage: "check every pool of php-fpm's main config `FILE` and what it includes (repeatable; auto: look in the usual places)"}
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
