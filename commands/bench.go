package commands

import (
	"runtime"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fcgicli/fcgicli/commands/bench"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/formatters"
)

func benchCommand(env *runenv.Env) *cli.Command {
	return &cli.Command{
		Name:      "bench",
		Usage:     "load-test an application: requests on many connections, latency percentiles",
		ArgsUsage: "SCRIPT[?QUERY]",
		Description: `Sends the request that "fcgicli request" would send (same flags, same
params) over -C connections, as fast as the application answers or at
--rate requests per second, for -n requests or -z time (default: 10s), and
reports requests/s, bytes, latency percentiles with a histogram, and the
responses by CGI status, app status, protocol status and error class.

Connections are kept alive (FCGI_KEEP_CONN) unless --no-keep-conn, and
redialled when the application closes one (php-fpm children exiting at
pm.max_requests): a request that got nothing back is then sent again.
php-fpm gives each kept-alive connection a child of its own until the
client closes it: with more connections than children the rest wait in the
listen queue, and the report says how many connections were served.

With --rate the load is open-loop: each request has its intended start
time, and its latency counts from then, so a stalling application cannot
hide behind requests that were never sent. The requests due and not
answered when the run ends, in flight or never sent, count in the latencies
at what they had waited by then, a lower bound.

Exit 0 when every request succeeded, 1 when any failed (an error, a body
without --expect's text, with --fail a CGI status of 400 or more, a non-zero
app status) or none was answered at all, 3 when no connection could be made
at all, 4 at --timeout and 130 on Ctrl-C, both after printing the report for
what was done. Requests in flight when -z ends are unfinished, neither: to
fail on a stall, give a --request-timeout well under -z.

EXAMPLES:
   fcgicli bench -c 127.0.0.1:9000 /var/www/html/index.php -C 16 -z 10s
   fcgicli bench -c /run/php/php8.2-fpm.sock -r /var/www/html /index.php -n 10000 \
       --expect 'Welcome'
   fcgicli bench -c 127.0.0.1:9000 /srv/api.php -d @payload.json \
       -H 'Content-Type: application/json' --rate 500 -z 30s
   fcgicli bench -c 127.0.0.1:9000 /ping -C 4 -n 1000 -o json | jq .latency_us`,
		Flags: flagList(networkFlags(0), benchShapeFlags(), benchFlags(), []cli.Flag{colorFlag()}),
		Action: func(c *cli.Context) error {
			o, err := benchOptionsFrom(c, env)
			if err != nil {
				return err
			}
			outPal, err := palette(c, env, env.Stdout)
			if err != nil {
				return err
			}
			errPal, _ := palette(c, env, env.Stderr)
			return bench.Run(c.Context, &o.Options, env, errPal, func(rep *formatters.BenchReport) error {
				if o.output == formatters.JSON {
					return formatters.WriteBenchJSON(env.Stdout, rep)
				}
				return formatters.WriteBenchText(env.Stdout, rep, outPal)
			})
		},
	}
}

// benchShapeFlags are the request flags, with --keep-conn on by default.
func benchShapeFlags() []cli.Flag {
	var out []cli.Flag
	for _, f := range shapeFlags() {
		if f.Names()[0] == "keep-conn" {
			continue
		}
		out = append(out, f)
	}
	return append(out,
		&cli.BoolFlag{Name: "keep-conn", Value: true, Usage: "keep each connection for the next request (FCGI_KEEP_CONN)"},
		&cli.BoolFlag{Name: "no-keep-conn", Usage: "open a new connection for every request"},
	)
}

func benchFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "concurrency", Aliases: []string{"C"}, Value: 1, Usage: "run `N` connections at once (at most 65535)"},
		&cli.IntFlag{Name: "cpus", Usage: "run on at most `N` CPUs at once", DefaultText: "half of them, at most -C; $GOMAXPROCS when set"},
		&cli.Int64Flag{Name: "requests", Aliases: []string{"n"}, Usage: "stop after `N` requests"},
		&cli.DurationFlag{Name: "duration", Aliases: []string{"z"}, Usage: "stop after `DURATION`", DefaultText: "10s, none with -n"},
		&cli.Float64Flag{Name: "rate", Usage: "send `R` requests per second in all, open-loop (0: as fast as answered)"},
		&cli.DurationFlag{Name: "warmup", Usage: "run for `DURATION` first without measuring"},
		&cli.DurationFlag{Name: "request-timeout", Value: 10 * time.Second, Usage: "give up on one request after `DURATION`"},
		&cli.StringFlag{Name: "expect", Usage: "count a response whose body lacks `TEXT` as failed"},
		&cli.BoolFlag{Name: "fail", Aliases: []string{"f"}, Usage: "count a CGI status of 400 or more as failed"},
		&cli.StringFlag{Name: "status-path", Value: "/status", Usage: "php-fpm's pm.status_path `PATH`, read to explain unserved connections (empty: never)"},
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "`FORMAT`: text or json"},
	}
}

// benchOptions is the run the engine makes, and the report's format.
type benchOptions struct {
	bench.Options
	output formatters.Format
}

// maxConcurrency is the most connections -C asks for: a client has 65535
// ports to connect to one address from (fewer in practice: Linux's
// ephemeral range is 28232), and each connection takes a worker of the
// application, which no application has tens of thousands of.
const maxConcurrency = 65535

// defaultBenchDuration is how long a run lasts without -n or -z.
const defaultBenchDuration = 10 * time.Second

func benchOptionsFrom(c *cli.Context, env *runenv.Env) (*benchOptions, error) {
	sh, err := shapeFrom(c, env)
	if err != nil {
		return nil, err
	}
	o := &benchOptions{Options: bench.Options{
		Shape:          *sh,
		Concurrency:    c.Int("concurrency"),
		Requests:       c.Int64("requests"),
		Duration:       c.Duration("duration"),
		Rate:           c.Float64("rate"),
		Warmup:         c.Duration("warmup"),
		RequestTimeout: c.Duration("request-timeout"),
		Expect:         []byte(c.String("expect")),
		Fail:           c.Bool("fail"),
		StatusPath:     c.String("status-path"),
	}}
	o.KeepConn = c.Bool("keep-conn") && !c.Bool("no-keep-conn")
	if !c.IsSet("request-id") {
		// Each connection numbers its requests 1, 2, 3...: records an
		// application sends for a request after its END_REQUEST are then
		// told from the next request's (stray_record).
		o.RequestID = 0
	}
	if o.output, err = formatters.ParseFormat(c.String("output"), formatters.Text, formatters.JSON); err != nil {
		return nil, &runenv.UsageError{Msg: err.Error()}
	}
	switch {
	case o.Concurrency < 1:
		return nil, runenv.Usagef("-C must be at least 1, got %d", o.Concurrency)
	case o.Concurrency > maxConcurrency:
		return nil, runenv.Usagef("-C must be at most %d, got %d", maxConcurrency, o.Concurrency)
	case o.Requests < 0:
		return nil, runenv.Usagef("-n cannot be negative")
	case c.IsSet("requests") && o.Requests == 0:
		return nil, runenv.Usagef("-n must be at least 1")
	case o.Duration < 0 || o.Warmup < 0:
		return nil, runenv.Usagef("-z and --warmup cannot be negative")
	case c.IsSet("duration") && o.Duration == 0:
		return nil, runenv.Usagef("-z must be more than 0")
	case o.Rate < 0:
		return nil, runenv.Usagef("--rate cannot be negative")
	case o.RequestTimeout <= 0:
		return nil, runenv.Usagef("--request-timeout must be more than 0")
	case c.IsSet("expect") && len(o.Expect) == 0:
		return nil, runenv.Usagef("--expect needs a TEXT")
	case c.IsSet("cpus") && c.Int("cpus") < 1:
		return nil, runenv.Usagef("--cpus must be at least 1, got %d", c.Int("cpus"))
	}
	o.Procs = bench.Procs(c.Int("cpus"), o.Concurrency, env.Getenv("GOMAXPROCS") != "", runtime.GOMAXPROCS(0))
	if o.Requests == 0 && o.Duration == 0 {
		o.Duration = defaultBenchDuration
	}
	if runenv.IsTerminal(env.Stderr) {
		o.Progress = 200 * time.Millisecond
	}
	return o, nil
}
