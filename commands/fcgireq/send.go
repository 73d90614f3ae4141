// Package fcgireq is the request path that every command sending a
// FastCGI request shares (request, raw-dump, the shell, ping, status,
// bench and the cgi-fcgi mode): the params built the way nginx builds them
// (BuildParams) or given verbatim, the body and filter data opened with
// their sizes known (Prepare, and Replay for a request sent again and
// again), the address and its deadlines
// (NetOptions, Target, Connect, with builtin starting the echo responder
// in-process), and ONE way to send a request and decide its outcome
// (Exchange.Send), whose hooks carry what differs between the commands.
// FetchPage is that path for a small page kept in memory.
//
// It owns building, connecting, sending and the order in which a
// request's faults become its error, not the command line or the output:
// flags are parsed by package commands, responses rendered by formatters.
// It must not import package commands or any engine but the echo
// responder, never prints except through the Tracer it is given, and holds
// no package-level mutable state.
package fcgireq

import (
	"context"
	"fmt"
	"time"

	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

// Exchange is one request's send and what to do with its answer: what
// differs between the commands that send one, where grpcurl's InvokeRPC
// takes a handler. Send does the rest, the same way for all of them. An
// Exchange may send again once a send is over (bench sends thousands with
// one, allocating nothing).
type Exchange struct {
	// Parser, when set, is the CGI response parser the request's Stdout
	// feeds: Send closes it once FCGI_END_REQUEST has come, so that a
	// header block that never ended is its error.
	Parser *fcgiwire.ResponseParser
	// JudgeCGI makes a malformed CGI response (Parser.Err) the request's
	// error. Raw output does not judge the stream it passes on.
	JudgeCGI bool
	// Fail makes a CGI status of 400 or more the request's error (exit
	// 22), when nothing else is: --fail.
	Fail bool
	// Finish, when set, runs once the request is over, with its error
	// (ctx's cause when ctx ended it, nil when FCGI_END_REQUEST came),
	// and returns the error to judge instead: what a command still does
	// on the connection or with its output before the verdict (raw-dump
	// reads the records an application sends too late).
	Finish func(res *fcgiwire.Result, err error) error
	// Trace, when set, gets the "request done" line, timed from Start.
	Trace *formatters.Tracer
	Start time.Time
	// Connected, when set, is when the connection was made: Hint then
	// tells a deadline that passed after it from one that passed before.
	Connected time.Time
	// Unjudged makes Send return the transport's error alone and leave
	// the answer (protocol status, app status, CGI response) to the
	// caller, which counts each (bench).
	Unjudged bool

	// Result is what the last Send learnt, as far as the request got.
	Result fcgiwire.Result
}

// Send runs req on conn and returns the request's error, in the order of
// the exit-code table: a transport or protocol fault first (a timeout
// being ctx's cause), then the protocol status (a refused request), a
// malformed CGI response, the app status, and Fail's CGI status last.
func (x *Exchange) Send(ctx context.Context, conn *fcgiwire.Conn, req *fcgiwire.Request) error {
	res := &x.Result
	err := conn.DoResult(ctx, req, res)
	if res.Ended && x.Parser != nil {
		x.Parser.Close()
	}
	err = TimeoutCause(ctx, err)
	if x.Finish != nil {
		err = x.Finish(res, err)
	}
	if x.Unjudged {
		return err
	}
	if x.Trace != nil && err == nil {
		x.Trace.Info("request done in %s: %d bytes sent, %d received", formatters.Millis(time.Since(x.Start)), res.BytesSent, res.BytesReceived)
	}
	var cgiErr error
	if x.JudgeCGI && x.Parser != nil {
		cgiErr = x.Parser.Err
	}
	if err := outcome(res, err, cgiErr); err != nil {
		return err
	}
	if x.Fail && x.Parser != nil && x.Parser.Done && x.Parser.Response.Status >= 400 {
		return &runenv.CodeError{Code: runenv.ExitHTTPFail, Msg: fmt.Sprintf("the application returned CGI status %d", x.Parser.Response.Status)}
	}
	return nil
}

// outcome is the error of a request, in the order of the exit-code table:
// a transport or protocol fault, the protocol status, a malformed response
// (cgiErr, when the caller judges one), the app status.
func outcome(res *fcgiwire.Result, doErr, cgiErr error) error {
	if doErr != nil {
		return doErr
	}
	// A refused request carries no response to judge.
	if res.ProtocolStatus != fcgiwire.RequestComplete {
		return &runenv.CodeError{Code: runenv.ExitRefused, Msg: fmt.Sprintf("the application refused the request: %s", res.ProtocolStatus)}
	}
	if cgiErr != nil {
		return cgiErr
	}
	if res.AppStatus != 0 {
		return &runenv.CodeError{Code: runenv.ExitAppStatus, Msg: fmt.Sprintf("the application ended with app status %d", res.AppStatus)}
	}
	return nil
}
