package commands

import (
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fcgicli/fcgicli/commands/rawdump"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/formatters"
)

func rawDumpCommand(env *runenv.Env) *cli.Command {
	return &cli.Command{
		Name:      "raw-dump",
		Usage:     "run a request and print every record in both directions",
		ArgsUsage: "SCRIPT[?QUERY]",
		Description: `Runs the same request as 'fcgicli request' (same flags, same params) and
prints every record sent and received, in order: direction (> sent,
< received), byte offset in that direction's stream, version, type, request
id, content and padding length, then the content decoded. Stream content is
shown as an xxd-style hex dump (--max-bytes per record). Anomalies (a wrong
request id, a record after END_REQUEST, a stream record on request id 0) get
a "!" warning line. -o json writes one JSON object per record (JSON Lines).

--decode FILE decodes a saved byte stream (from --save-request or
--save-response, or any capture) offline, and --send-raw FILE sends FILE's
bytes verbatim instead of building a request, to test a server against
malformed input.

EXAMPLES:
   fcgicli raw-dump -c 127.0.0.1:9000 /var/www/html/index.php
   fcgicli raw-dump -c /run/php/php8.2-fpm.sock /srv/app.php -d 'a=1' --max-bytes 0
   fcgicli raw-dump -c 127.0.0.1:9000 /srv/app.php \
       --save-request req.bin --save-response resp.bin
   fcgicli raw-dump --decode resp.bin -o json | jq -c '[.type, .content_length]'
   fcgicli raw-dump -c 127.0.0.1:9000 --send-raw split-pair.bin`,
		Flags: flagList(networkFlags(30*time.Second), shapeFlags(), []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "`FORMAT`: text or json (one object per record)"},
			&cli.IntFlag{Name: "max-bytes", Value: 256, Usage: "show at most `N` bytes of each stream record (0: all)"},
			&cli.StringFlag{Name: "save-request", Usage: "write the exact bytes sent to `FILE`"},
			&cli.StringFlag{Name: "save-response", Usage: "write the exact bytes received to `FILE`"},
			&cli.StringFlag{Name: "decode", Usage: "decode the saved byte stream in `FILE` (- for stdin) instead of connecting"},
			&cli.StringFlag{Name: "direction", Usage: "with --decode: `DIR` sent or received (default: guessed from the first record)"},
			&cli.StringFlag{Name: "send-raw", Usage: "send the bytes of `FILE` (- for stdin) verbatim instead of building a request"},
			colorFlag(),
		}),
		Action: func(c *cli.Context) error {
			if err := checkRawDumpFlags(c); err != nil {
				return err
			}
			format, err := formatters.ParseFormat(c.String("output"), formatters.Text, formatters.JSON)
			if err != nil {
				return &runenv.UsageError{Msg: err.Error()}
			}
			if c.Int("max-bytes") < 0 {
				return runenv.Usagef("--max-bytes cannot be negative")
			}
			pal, err := palette(c, env, env.Stdout)
			if err != nil {
				return err
			}
			d := &formatters.Dumper{W: env.Stdout, P: pal, Format: format, MaxBytes: c.Int("max-bytes")}
			switch {
			case c.IsSet("decode"):
				return rawdump.Decode(c.Context, env.Stdin, c.String("decode"), c.String("direction"), d)
			case c.IsSet("send-raw"):
				o, err := netOptionsFrom(c, env)
				if err != nil {
					return err
				}
				return rawdump.SendRaw(c.Context, o, env.Stdin, c.String("send-raw"), d, saveFrom(c))
			}
			sh, err := shapeFrom(c, env)
			if err != nil {
				return err
			}
			return rawdump.Dump(c.Context, sh, env.Stdin, d, saveFrom(c))
		},
	}
}

// checkRawDumpFlags refuses the flags and arguments that the way raw-dump
// runs would ignore: --decode reads saved bytes and connects nowhere, so it
// takes no address, timeout, request flag, save file, --send-raw or SCRIPT;
// --send-raw sends a file as it is, so it takes no request flag and no
// SCRIPT; --direction goes with --decode only. The first such flag, in the
// order of --help, is named.
func checkRawDumpFlags(c *cli.Context) error {
	mode := ""
	switch {
	case c.IsSet("decode"):
		mode = "decode"
	case c.IsSet("send-raw"):
		mode = "send-raw"
	}
	connecting := map[string]bool{"save-request": true, "save-response": true, "send-raw": true}
	for _, f := range networkFlags(0) {
		connecting[f.Names()[0]] = true
	}
	shaping := map[string]bool{}
	for _, f := range shapeFlags() {
		shaping[f.Names()[0]] = true
	}
	for _, f := range c.Command.Flags {
		name := f.Names()[0]
		if !c.IsSet(name) {
			continue
		}
		switch {
		case name == "direction" && mode != "decode":
			return runenv.Usagef("--direction goes with --decode")
		case mode == "decode" && (connecting[name] || shaping[name]):
			return runenv.Usagef("--%s does not go with --decode, which reads saved bytes and connects nowhere", name)
		case mode == "send-raw" && shaping[name]:
			return runenv.Usagef("--%s does not go with --send-raw, which sends the file's bytes as they are", name)
		}
	}
	switch {
	case mode == "decode" && c.NArg() > 0:
		return runenv.Usagef("--decode reads a file: it takes no SCRIPT")
	case mode == "send-raw" && c.NArg() > 0:
		return runenv.Usagef("--send-raw sends a file's bytes: it takes no SCRIPT")
	}
	return nil
}

// saveFrom is --save-request and --save-response.
func saveFrom(c *cli.Context) rawdump.Save {
	return rawdump.Save{Request: c.String("save-request"), Response: c.String("save-response")}
}
