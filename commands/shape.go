package commands

import (
	"math"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
)

// networkFlags are the flags of every command that connects to a server.
func networkFlags(defaultTimeout time.Duration) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "connect", Aliases: []string{"c"}, Usage: "server `ADDR`: host:port, [::1]:port, unix:/path, /path, @abstract or builtin (default $FCGI_CONNECT)"},
		&cli.DurationFlag{Name: "connect-timeout", Value: 5 * time.Second, Usage: "give up connecting after `DURATION`"},
		&cli.DurationFlag{Name: "timeout", Aliases: []string{"t"}, Value: defaultTimeout, Usage: "give up on the whole command after `DURATION` (0: never)"},
	}
}

// netOptionsFrom reads the network flags, -c falling back on
// $FCGI_CONNECT.
func netOptionsFrom(c *cli.Context, env *runenv.Env) (fcgireq.NetOptions, error) {
	o := fcgireq.NetOptions{Connect: c.String("connect"), ConnectTimeout: c.Duration("connect-timeout"), Timeout: c.Duration("timeout")}
	if o.Connect == "" {
		o.Connect = env.Getenv("FCGI_CONNECT")
	}
	if o.Connect == "" {
		return o, runenv.Usagef("no server address: give -c ADDR or set FCGI_CONNECT (forms: %s, or builtin)", fcgiwire.AddrForms)
	}
	if err := fcgireq.CheckClientAddr(o.Connect); err != nil {
		return o, err
	}
	if o.ConnectTimeout < 0 || o.Timeout < 0 {
		return o, runenv.Usagef("timeouts cannot be negative")
	}
	return o, nil
}

// shapeFlags are the flags that shape a request: its params, body, role
// and ids. Every command that sends a request takes them.
func shapeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "document-root", Aliases: []string{"r"}, Usage: "treat SCRIPT as a URI path under `DIR` (SCRIPT_FILENAME = DIR + path)"},
		&cli.StringFlag{Name: "method", Aliases: []string{"X"}, Usage: "send REQUEST_METHOD `METHOD` (default GET, or POST with a body)"},
		&cli.StringSliceFlag{Name: "param", Aliases: []string{"p"}, Usage: "set param `NAME=VALUE` (repeatable; replaces a default)"},
		&cli.StringSliceFlag{Name: "unset-param", Usage: "do not send the default param `NAME` (a -p NAME=... still sets it)"},
		&cli.StringSliceFlag{Name: "header", Aliases: []string{"H"}, Usage: "send HTTP header `'Name: value'` as HTTP_NAME (repeatable)"},
		&cli.StringSliceFlag{Name: "params-file", Usage: "read params from `FILE`, one NAME=VALUE per line (repeatable)"},
		&cli.BoolFlag{Name: "env", Usage: "also send the caller's environment as params, as cgi-fcgi does"},
		&cli.StringFlag{Name: "data", Aliases: []string{"d"}, Usage: "request body: `TEXT`, @FILE or @- for stdin, sent byte for byte"},
		&cli.StringFlag{Name: "role", Value: "responder", Usage: "FastCGI role: `responder`, authorizer or filter"},
		&cli.StringFlag{Name: "filter-data", Usage: "FCGI_DATA for the filter role: `TEXT`, @FILE or @-"},
		&cli.BoolFlag{Name: "keep-conn", Usage: "set FCGI_KEEP_CONN in BEGIN_REQUEST"},
		&cli.UintFlag{Name: "request-id", Value: 1, Usage: "request `ID` (1-65535)"},
	}
}

// flagList joins flag lists.
func flagList(lists ...[]cli.Flag) []cli.Flag {
	var out []cli.Flag
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

func parseRole(s string) (fcgiwire.Role, error) {
	switch strings.ToLower(s) {
	case "responder":
		return fcgiwire.RoleResponder, nil
	case "authorizer":
		return fcgiwire.RoleAuthorizer, nil
	case "filter":
		return fcgiwire.RoleFilter, nil
	}
	return 0, runenv.Usagef("unknown --role %q (known: responder, authorizer, filter)", s)
}

// shapeFrom reads the network and shape flags and the SCRIPT argument.
func shapeFrom(c *cli.Context, env *runenv.Env) (*fcgireq.Shape, error) {
	netOpts, err := netOptionsFrom(c, env)
	if err != nil {
		return nil, err
	}
	o := &fcgireq.Shape{Net: netOpts, KeepConn: c.Bool("keep-conn")}
	if c.NArg() != 1 {
		if c.NArg() == 0 {
			return nil, runenv.Usagef("missing SCRIPT (see 'fcgicli %s --help')", c.Command.Name)
		}
		return nil, runenv.Usagef("want one SCRIPT, got %d arguments: %s", c.NArg(), strings.Join(c.Args().Slice(), " "))
	}
	role, err := parseRole(c.String("role"))
	if err != nil {
		return nil, err
	}
	id := c.Uint("request-id")
	if id < 1 || id > math.MaxUint16 {
		return nil, runenv.Usagef("--request-id must be from 1 to 65535, got %d", id)
	}
	o.RequestID = uint16(id)
	if c.IsSet("data") {
		d := c.String("data")
		o.Data = &d
		if role == fcgiwire.RoleAuthorizer {
			return nil, runenv.Usagef("the authorizer role sends no body: drop -d")
		}
	}
	if c.IsSet("filter-data") {
		if role != fcgiwire.RoleFilter {
			return nil, runenv.Usagef("--filter-data needs --role filter")
		}
		d := c.String("filter-data")
		o.FilterData = &d
	}
	if o.Data != nil && o.FilterData != nil && *o.Data == "@-" && *o.FilterData == "@-" {
		return nil, runenv.Usagef("-d and --filter-data cannot both read stdin")
	}
	o.Spec = fcgireq.ParamSpec{
		Script:      c.Args().First(),
		DocRoot:     c.String("document-root"),
		Method:      c.String("method"),
		Role:        role,
		Params:      c.StringSlice("param"),
		Unset:       c.StringSlice("unset-param"),
		Headers:     c.StringSlice("header"),
		ParamsFiles: c.StringSlice("params-file"),
		BodyLen:     -1,
	}
	if c.Bool("env") {
		o.Spec.Environ = env.Environ()
	}
	return o, nil
}
