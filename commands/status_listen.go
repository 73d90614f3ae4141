package commands

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fcgicli/fcgicli/commands/exporter"
	"github.com/fcgicli/fcgicli/commands/health"
	"github.com/fcgicli/fcgicli/commands/netio"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

// listenConflicts refuses what status --listen cannot honour: the
// exporter answers every scrape with the metrics, and alerting on them is
// Prometheus's.
func listenConflicts(c *cli.Context, o *statusOptions) error {
	switch {
	case c.IsSet("output") && c.String("output") != string(formatters.Prometheus):
		return runenv.Usagef("--listen serves the Prometheus format: -o %s does not go with it", c.String("output"))
	case o.quiet:
		return runenv.Usagef("-q does not go with --listen, which prints no pages")
	case o.check.Limits.Any():
		return runenv.Usagef("thresholds do not go with --listen: alert on the metrics in Prometheus")
	case o.check.StateFile != "":
		return runenv.Usagef("--state-file does not go with --listen: Prometheus keeps the history")
	case o.watch != 0 || c.IsSet("count"):
		return runenv.Usagef("--watch and --count do not go with --listen")
	case o.check.BusyOK:
		return runenv.Usagef("--busy-ok does not go with --listen: a pool that does not answer is phpfpm_up 0, busy or not")
	}
	return nil
}

// runExporter serves the exporter on --listen until SIGINT or SIGTERM
// (exit 0). Each scrape resolves the --connect values and reads the
// --fpm-config files again, so that a socket a glob matches from now on,
// or a pool added to the configuration, is read at the next scrape.
func runExporter(ctx context.Context, env *runenv.Env, o *statusOptions) error {
	addr, err := fcgiwire.ParseListenAddr(o.listen)
	if err != nil {
		return err
	}
	l, err := netio.Listen(addr, 0)
	if err != nil {
		return err
	}
	// Scrapes log from goroutines of their own: one line at a time.
	stderr := &runenv.LockedWriter{W: env.Stderr}
	logf := func(format string, args ...any) {
		fmt.Fprintf(stderr, "fcgicli: status: "+format+"\n", args...)
	}
	read := func(ctx context.Context) ([]exporter.Reading, error) {
		targets, _, err := o.resolve()
		if err != nil {
			return nil, err
		}
		health.ApplyMaxChildren(targets, o.maxChildren)
		results := health.ReadPools(ctx, o.net, targets, o.uri)
		pools := health.PromPools(results, o.uri)
		out := make([]exporter.Reading, len(results))
		for i := range results {
			out[i] = exporter.Reading{PromPool: pools[i], Err: results[i].Err}
		}
		return out, nil
	}
	e := exporter.New(exporter.Config{Read: read, PerProcess: o.prom.PerProcess, Logf: logf})
	where := netio.ListenerAddr(l)
	if addr.Network == "tcp" {
		where = "http://" + where
	}
	for _, n := range o.notes {
		logf("note: %s", n)
	}
	logf("serving /metrics on %s", where)
	// A scrape in flight lasts at most a pool's deadline.
	grace := o.net.Timeout + time.Second
	if o.net.Timeout == 0 {
		grace = 5 * time.Second
	}
	return e.Serve(ctx, []net.Listener{l}, grace)
}
