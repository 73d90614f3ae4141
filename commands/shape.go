package commands

import (
	"context"
	"io"
	"math"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/fcgicli/fcgicli/commands/netio"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

// shapeFlags are the flags that shape a request: its params, body, role
// and ids. Every command that sends a request takes them.
func shapeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "document-root", Aliases: []string{"r"}, Usage: "treat SCRIPT as a URI path under `DIR` (SCRIPT_FILENAME = DIR + path)"},
		&cli.StringFlag{Name: "method", Aliases: []string{"X"}, Usage: "REQUEST_METHOD (default GET, or POST with a body)"},
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

// shape is a request as the shape flags describe it.
type shape struct {
	net        netOptions
	spec       paramSpec
	data       *string // -d, nil when not given
	filterData *string
	keepConn   bool
	requestID  uint16
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
func shapeFrom(c *cli.Context, env *runenv.Env) (*shape, error) {
	netOpts, err := netOptionsFrom(c, env)
	if err != nil {
		return nil, err
	}
	o := &shape{net: netOpts, keepConn: c.Bool("keep-conn")}
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
	o.requestID = uint16(id)
	if c.IsSet("data") {
		d := c.String("data")
		o.data = &d
		if role == fcgiwire.RoleAuthorizer {
			return nil, runenv.Usagef("the authorizer role sends no body: drop -d")
		}
	}
	if c.IsSet("filter-data") {
		if role != fcgiwire.RoleFilter {
			return nil, runenv.Usagef("--filter-data needs --role filter")
		}
		d := c.String("filter-data")
		o.filterData = &d
	}
	if o.data != nil && o.filterData != nil && *o.data == "@-" && *o.filterData == "@-" {
		return nil, runenv.Usagef("-d and --filter-data cannot both read stdin")
	}
	o.spec = paramSpec{
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
		o.spec.Environ = env.Environ()
	}
	return o, nil
}

// prepared is a request ready to send: its params built and checked, its
// body and filter data open with their sizes known.
type prepared struct {
	pairs       []fcgiwire.Pair
	stdin, data io.Reader
	closers     []func()
}

func (p *prepared) close() {
	for _, c := range p.closers {
		c()
	}
}

// request returns the fcgiwire request, without output writers.
func (p *prepared) request(s *shape) *fcgiwire.Request {
	return &fcgiwire.Request{
		ID: s.requestID, Role: s.spec.Role, KeepConn: s.keepConn, Params: p.pairs,
		Stdin: p.stdin, Data: p.data,
	}
}

// prepare opens the body and filter data and builds the params; a pair
// too big for one record is refused here, before connecting.
func prepare(ctx context.Context, s *shape, env *runenv.Env) (*prepared, error) {
	p := &prepared{}
	spec := s.spec
	if s.data != nil {
		b, err := openBody(ctx, "-d", *s.data, env.Stdin)
		if err != nil {
			return nil, err
		}
		p.closers = append(p.closers, b.close)
		p.stdin, spec.BodyLen = b.r, b.size
	}
	if spec.Role == fcgiwire.RoleFilter && s.filterData != nil {
		b, err := openBody(ctx, "--filter-data", *s.filterData, env.Stdin)
		if err != nil {
			p.close()
			return nil, err
		}
		p.closers = append(p.closers, b.close)
		p.data, spec.DataLen, spec.DataLastMod = b.r, b.size, b.lastMod
	}
	var err error
	if p.pairs, err = buildParams(spec); err == nil {
		_, err = fcgiwire.SplitPairs(p.pairs)
	}
	if err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

// connect dials the target and returns a client connection, traced by tr
// when set, its bytes copied to the tee writers when set; done closes it
// and stops a builtin responder.
func connect(ctx context.Context, o netOptions, tr *formatters.Tracer, tee *netio.Tee) (*fcgiwire.Conn, func(), error) {
	tgt, err := openTarget(o, nil)
	if err != nil {
		return nil, nil, err
	}
	if tr != nil {
		tr.Info("connecting to %s", tgt.display)
	}
	nc, err := tgt.dial(ctx, o.ConnectTimeout)
	if err != nil {
		tgt.close()
		return nil, nil, err
	}
	if tee != nil {
		nc = tee.Wrap(nc)
	}
	conn := fcgiwire.NewConn(nc)
	if tr != nil {
		conn.SetObserver(tr.Observe)
	}
	return conn, func() { conn.Close(); tgt.close() }, nil
}
