package fcgireq

import (
	"context"
	"time"

	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
)

// Page is a whole response kept in memory, for commands that judge a
// small page (ping, status, bench's look at php-fpm's status page) rather
// than stream it.
type Page struct {
	CGI     *fcgiwire.CGIResponse // nil when no header block was parsed
	Body    []byte
	Stderr  []byte
	Result  *fcgiwire.Result
	Elapsed time.Duration
}

// maxPage bounds the body a page fetch keeps: a status page with a few
// hundred processes is well under it.
const maxPage = 8 << 20

// FetchPage sends a GET for uri (path and query) to o's target with the
// default params, within o's deadlines, and returns the response. Its
// error is that of request: connect, timeout, protocol, refused, app
// status or a malformed CGI response.
func FetchPage(ctx context.Context, o NetOptions, uri string) (*Page, error) {
	start := time.Now()
	ctx, cancel := o.WithTimeout(ctx)
	defer cancel()
	return fetch(ctx, o, nil, uri, start)
}

// FetchPageFrom is FetchPage on a connection of its own to a target
// already open, within ctx and connectTimeout.
func FetchPageFrom(ctx context.Context, tgt *Target, connectTimeout time.Duration, uri string) (*Page, error) {
	return fetch(ctx, NetOptions{ConnectTimeout: connectTimeout}, tgt, uri, time.Now())
}

// fetch runs a page fetch: on tgt when set, else on o's target.
func fetch(ctx context.Context, o NetOptions, tgt *Target, uri string, start time.Time) (*Page, error) {
	prep, err := Prepare(ctx, &Shape{Net: o, RequestID: 1, Spec: ParamSpec{Script: uri, Role: fcgiwire.RoleResponder, BodyLen: -1}}, nil)
	if err != nil {
		return nil, err
	}
	defer prep.Close()
	var conn *fcgiwire.Conn
	if tgt == nil {
		var done func()
		if conn, done, err = Connect(ctx, o, nil, nil); err != nil {
			return nil, err
		}
		defer done()
	} else {
		nc, err := tgt.Dial(ctx, o.ConnectTimeout)
		if err != nil {
			return nil, err
		}
		conn = fcgiwire.NewConn(nc)
		defer conn.Close()
	}
	body, errs := &runenv.CapBuffer{Max: maxPage}, &runenv.CapBuffer{Max: maxPage}
	x := &Exchange{Parser: &fcgiwire.ResponseParser{Body: body}, JudgeCGI: true}
	req := prep.Request()
	req.Stdout, req.Stderr = x.Parser, errs
	err = x.Send(ctx, conn, req)
	p := &Page{Body: body.Buf, Stderr: errs.Buf, Result: &x.Result, Elapsed: time.Since(start)}
	if x.Parser.Done {
		p.CGI = &x.Parser.Response
	}
	return p, err
}
