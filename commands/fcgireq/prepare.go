package fcgireq

import (
	"context"
	"io"

	"github.com/fcgicli/fcgicli/fcgiwire"
)

// Shape is a request as the request flags describe it.
type Shape struct {
	Net        NetOptions
	Spec       ParamSpec
	Data       *string // -d: TEXT, @FILE or @-; nil when not given
	FilterData *string // --filter-data, for the filter role; nil when not given
	KeepConn   bool
	// RequestID is the request id; 0 lets the connection number its
	// requests (see fcgiwire.Request.ID).
	RequestID uint16
	// Verbatim sends Pairs as they are, in order, instead of the params
	// Spec builds (the cgi-fcgi mode sends its environment so); Data and
	// FilterData are not read then.
	Verbatim bool
	Pairs    []fcgiwire.Pair
}

// Prepared is a request ready to send: its params built, checked and
// encoded, its body and filter data open with their sizes known. Close
// lets go of them.
type Prepared struct {
	Pairs       []fcgiwire.Pair
	encoded     [][]byte // Pairs as PARAMS records' bodies
	id          uint16
	role        fcgiwire.Role
	keepConn    bool
	stdin, data *body
	closers     []func()
}

// Close closes the body and filter data.
func (p *Prepared) Close() {
	for _, c := range p.closers {
		c()
	}
}

// Prepare opens the body and filter data and builds the params (or takes
// the Verbatim ones); a pair too big for one record is refused here,
// before connecting. stdin is what -d @- and --filter-data @- read.
func Prepare(ctx context.Context, s *Shape, stdin io.Reader) (*Prepared, error) {
	p := &Prepared{id: s.RequestID, role: s.Spec.Role, keepConn: s.KeepConn}
	if s.Verbatim {
		encoded, err := fcgiwire.SplitPairs(s.Pairs)
		if err != nil {
			return nil, err
		}
		p.Pairs, p.encoded = s.Pairs, encoded
		return p, nil
	}
	spec := s.Spec
	if s.Data != nil {
		b, err := openBody(ctx, "-d", *s.Data, stdin)
		if err != nil {
			return nil, err
		}
		p.closers = append(p.closers, b.close)
		p.stdin, spec.BodyLen = b, b.size
	}
	if spec.Role == fcgiwire.RoleFilter && s.FilterData != nil {
		b, err := openBody(ctx, "--filter-data", *s.FilterData, stdin)
		if err != nil {
			p.Close()
			return nil, err
		}
		p.closers = append(p.closers, b.close)
		p.data, spec.DataLen, spec.DataLastMod = b, b.size, b.lastMod
	}
	var err error
	if p.Pairs, err = BuildParams(spec); err == nil {
		p.encoded, err = fcgiwire.SplitPairs(p.Pairs)
	}
	if err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// Request returns the request to send once, without output writers.
func (p *Prepared) Request() *fcgiwire.Request {
	req := &fcgiwire.Request{ID: p.id, Role: p.role, KeepConn: p.keepConn, EncodedParams: p.encoded}
	if p.stdin != nil {
		req.Stdin = p.stdin.r
	}
	if p.data != nil {
		req.Data = p.data.r
	}
	return req
}

// Replay is a prepared request made to be sent again and again, as a load
// generator sends it: each sender takes a Copy.
type Replay struct {
	p           *Prepared
	stdin, data *replayable
}

// Replay makes the request one to send again and again: a body of up to
// 1 MiB is read into memory, a larger one is read again from its file
// each time. p's own Request is not to be sent after it.
func (p *Prepared) Replay() (*Replay, error) {
	r := &Replay{p: p}
	var err error
	if p.stdin != nil {
		if r.stdin, err = newReplayable(p.stdin); err != nil {
			return nil, err
		}
	}
	if p.data != nil {
		if r.data, err = newReplayable(p.data); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Copy is one sender's copy of a replayed request: it hands out the same
// request again and again, its bodies read from the start each time,
// allocating nothing for params or for a body in memory.
type Copy struct {
	r           *Replay
	req         fcgiwire.Request
	stdin, data replayReader
}

// Copy returns a new sender's copy of the request.
func (r *Replay) Copy() *Copy { return &Copy{r: r} }

// Request returns the request with its bodies rewound, writing
// FCGI_STDOUT to stdout (nil discards it); FCGI_STDERR is discarded. The
// request is the Copy's own, the same each time: it may be sent again once
// the last send of it is over.
func (c *Copy) Request(stdout io.Writer) *fcgiwire.Request {
	r, p := c.r, c.r.p
	c.req = fcgiwire.Request{
		ID: p.id, Role: p.role, KeepConn: p.keepConn, EncodedParams: p.encoded,
		Stdin: c.stdin.rewind(r.stdin), Data: c.data.rewind(r.data), Stdout: stdout,
	}
	return &c.req
}
