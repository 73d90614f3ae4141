package commands

import (
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fcgicli/fcgicli/commands/proxy"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

func proxyCommand(env *runenv.Env) *cli.Command {
	return &cli.Command{
		Name:  "proxy",
		Usage: "a transparent FastCGI proxy that shows every request passing through",
		Description: `Listens on --listen and forwards every connection, byte for byte, to
--upstream (one upstream connection per client connection, so keep-alive and
multiplexing pass through unchanged), while showing what passes: per request
the params in arrival order, the stdin size and sha256, the response's status
and headers, stderr, the app and protocol status and the duration. Point the
web server's fastcgi_pass at --listen to see exactly what it sends.

--records shows every record as raw-dump does instead; -o json writes one
JSON line per request (or per record); --save DIR writes each connection's
bytes in both directions for 'raw-dump --decode'. Any mix of TCP and unix
sockets on either side. SIGINT or SIGTERM stops it gracefully, as serve
stops: idle connections close at once, a request that begins afterwards is
answered OVERLOADED, those in flight get up to --shutdown-timeout, then it
exits 0.

EXAMPLES:
   fcgicli proxy --listen 127.0.0.1:9001 --upstream /run/php/php8.2-fpm.sock
   fcgicli proxy --listen /run/php/tap.sock --upstream 127.0.0.1:9000 -o json | jq .params
   fcgicli proxy --listen 127.0.0.1:9001 --upstream 127.0.0.1:9000 --records --max-bytes 64
   fcgicli proxy --listen 127.0.0.1:9001 --upstream 127.0.0.1:9000 --save /tmp/capture`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "listen", Aliases: []string{"l"}, Usage: "listen on `ADDR` (repeatable; same forms as --connect)"},
			&cli.StringFlag{Name: "upstream", Aliases: []string{"u"}, Usage: "forward to the FastCGI application at `ADDR`"},
			&cli.DurationFlag{Name: "connect-timeout", Value: 5 * time.Second, Usage: "give up connecting upstream after `DURATION`"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "`FORMAT`: text or json (one line per request, or per record with --records)"},
			&cli.BoolFlag{Name: "records", Usage: "show every record, as raw-dump does"},
			&cli.IntFlag{Name: "max-bytes", Value: 256, Usage: "with --records, show at most `N` bytes of each stream record (0: all)"},
			&cli.StringFlag{Name: "save", Usage: "write each connection's bytes to `DIR`/conn-N-request.bin and -response.bin"},
			&cli.StringFlag{Name: "socket-mode", Usage: "file mode for unix socket listeners, octal `MODE` such as 0660 (not on Windows, whose sockets have none)"},
			&cli.DurationFlag{Name: "shutdown-timeout", Value: 5 * time.Second, Usage: "on SIGINT/SIGTERM, wait up to `DURATION` for connections in flight"},
			readTimeoutFlag(),
			idleTimeoutFlag(),
			colorFlag(),
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return runenv.Usagef("proxy takes no arguments, got %q", c.Args().First())
			}
			listens, err := parseListens(c.StringSlice("listen"))
			if err != nil {
				return err
			}
			if c.String("upstream") == "" {
				return runenv.Usagef("give --upstream ADDR, the FastCGI application to forward to")
			}
			up, err := fcgiwire.ParseAddr(c.String("upstream"))
			if err != nil {
				return err
			}
			format, err := formatters.ParseFormat(c.String("output"), formatters.Text, formatters.JSON)
			if err != nil {
				return &runenv.UsageError{Msg: err.Error()}
			}
			mode, err := parseSocketMode(c.String("socket-mode"))
			if err != nil {
				return err
			}
			pal, err := palette(c, env, env.Stdout)
			if err != nil {
				return err
			}
			if c.Int("max-bytes") < 0 {
				return runenv.Usagef("--max-bytes cannot be negative")
			}
			if c.IsSet("max-bytes") && !c.Bool("records") {
				return runenv.Usagef("--max-bytes goes with --records, which shows the records' bytes")
			}
			if c.Duration("connect-timeout") < 0 || c.Duration("shutdown-timeout") < 0 {
				return runenv.Usagef("--connect-timeout and --shutdown-timeout cannot be negative")
			}
			deadlines, err := connDeadlinesFrom(c)
			if err != nil {
				return err
			}
			if dir := c.String("save"); dir != "" {
				if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
					return runenv.Usagef("--save %s: not a directory", dir)
				}
			}
			return proxy.Run(c.Context, env, listens, proxy.Options{
				Upstream: up, ConnectTimeout: c.Duration("connect-timeout"), Format: format,
				Records: c.Bool("records"), MaxBytes: c.Int("max-bytes"), Save: c.String("save"), Palette: pal,
				Deadlines: deadlines, SocketMode: mode, ShutdownTimeout: c.Duration("shutdown-timeout"),
			})
		},
	}
}
