package commands

import (
	"context"
	"time"

	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
)

// fetched is a whole response kept in memory, for commands that judge a
// small page (ping, status) rather than stream it.
type fetched struct {
	cgi     *fcgiwire.CGIResponse // nil when no header block was parsed
	body    []byte
	stderr  []byte
	res     *fcgiwire.Result
	elapsed time.Duration
}

// maxPage bounds the body a page fetch keeps: a status page with a few
// hundred processes is well under it.
const maxPage = 8 << 20

// fetchPage sends a GET for uri (path and query) to the target with the
// default params, and returns the response. Its error is that of request:
// connect, timeout, protocol, refused, app status or a malformed CGI
// response.
func fetchPage(ctx context.Context, o netOptions, uri string) (*fetched, error) {
	start := time.Now()
	ctx, cancel := o.withTimeout(ctx)
	defer cancel()
	sh := &shape{net: o, requestID: 1, spec: paramSpec{Script: uri, Role: fcgiwire.RoleResponder, BodyLen: -1}}
	prep, err := prepare(ctx, sh, nil)
	if err != nil {
		return nil, err
	}
	defer prep.close()
	conn, done, err := connect(ctx, o, nil, nil)
	if err != nil {
		return nil, err
	}
	defer done()
	body, errs := &runenv.CapBuffer{Max: maxPage}, &runenv.CapBuffer{Max: maxPage}
	parser := &fcgiwire.ResponseParser{Body: body}
	req := prep.request(sh)
	req.Stdout, req.Stderr = parser, errs
	res, doErr := conn.Do(ctx, req)
	if res.Ended {
		parser.Close()
	}
	f := &fetched{body: body.Buf, stderr: errs.Buf, res: res, elapsed: time.Since(start)}
	if parser.Done {
		f.cgi = &parser.Response
	}
	return f, transportOutcome(res, timeoutCause(ctx, doErr), parser.Err)
}
