package fcgireq

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fcgicli/fcgicli/commands/echo"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
)

// Send's error follows the exit-code table: refused (6) before the app
// status (7) before --fail's CGI status (22), and Unjudged leaves all
// three to the caller.
func TestSendOutcome(t *testing.T) {
	for _, c := range []struct {
		name     string
		h        *echo.Responder
		fail     bool
		unjudged bool
		code     int
	}{
		{"complete", &echo.Responder{Mock: &echo.Mock{Body: []byte("ok")}}, true, false, runenv.ExitOK},
		{"404 without --fail", &echo.Responder{Mock: &echo.Mock{Status: 404}}, false, false, runenv.ExitOK},
		{"404 with --fail", &echo.Responder{Mock: &echo.Mock{Status: 404}}, true, false, runenv.ExitHTTPFail},
		{"app status before --fail", &echo.Responder{Mock: &echo.Mock{Status: 500, AppStatus: 3}}, true, false, runenv.ExitAppStatus},
		{"refused", &echo.Responder{Refuse: map[fcgiwire.Role]bool{fcgiwire.RoleResponder: true}}, true, false, runenv.ExitRefused},
		{"unjudged", &echo.Responder{Mock: &echo.Mock{Status: 500, AppStatus: 3}}, true, true, runenv.ExitOK},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := serveResponder(t, c.h)
			prep := prepared(t, &Shape{Net: o, RequestID: 1, Spec: ParamSpec{Script: "/x", BodyLen: -1}})
			x := &Exchange{Parser: &fcgiwire.ResponseParser{Body: io.Discard}, JudgeCGI: true, Fail: c.fail, Unjudged: c.unjudged}
			req := prep.Request()
			req.Stdout = x.Parser
			err := x.Send(context.Background(), connected(t, o), req)
			if code, msg := runenv.ExitCode(err); code != c.code {
				t.Errorf("exit %d (%s), want %d", code, msg, c.code)
			}
			if !x.Result.Ended {
				t.Errorf("result %+v: not ended", x.Result)
			}
		})
	}
}

// Finish sees the transport's error and decides the one judged; a
// request cut by ctx's end fails with ctx's cause.
func TestSendFinishAndTimeout(t *testing.T) {
	o := serveResponder(t, &echo.Responder{})
	prep := prepared(t, &Shape{Net: o, RequestID: 1, Spec: ParamSpec{Script: "/x", BodyLen: -1}})
	ctx := context.Background()
	mine := errors.New("mine")
	var seen error = mine
	x := &Exchange{Finish: func(res *fcgiwire.Result, err error) error { seen = err; return mine }}
	if err := x.Send(ctx, connected(t, o), prep.Request()); err != mine || seen != nil {
		t.Errorf("Send = %v, Finish saw %v; want mine and nil", err, seen)
	}

	cause := &runenv.TimeoutError{Msg: "the test's deadline"}
	cctx, cancel := context.WithCancelCause(ctx)
	cancel(cause)
	x = &Exchange{}
	if err := x.Send(cctx, connected(t, o), prep.Request()); err != cause {
		t.Errorf("Send after ctx ended = %v, want its cause", err)
	}
}

// bench's path, a Copy's request sent by an Exchange, allocates nothing
// per request once warmed up, CGI parser included. (A body costs one
// buffer per request, fcgiwire's stream buffer; its reader costs none,
// see TestCopyRequestAllocatesNothing.)
func TestReplaySendAllocatesNothing(t *testing.T) {
	var resp bytes.Buffer
	w := fcgiwire.NewWriter(&resp)
	_ = w.WriteStream(fcgiwire.TypeStdout, 1, []byte("Content-type: text/html\r\n\r\n"+strings.Repeat("x", 4096)))
	_ = w.WriteRecord(fcgiwire.TypeStdout, 1, nil)
	_ = w.WriteRecord(fcgiwire.TypeEndRequest, 1, fcgiwire.EndRequest{}.Encode())
	_ = w.Flush()
	o := serveCanned(t, resp.Bytes())
	cp := replayed(t, &Shape{Net: o, KeepConn: true, RequestID: 1, Spec: ParamSpec{Script: "/x", BodyLen: -1}}).Copy()
	conn := connected(t, o)
	parser := &fcgiwire.ResponseParser{Body: io.Discard}
	x := &Exchange{Parser: parser, Unjudged: true}
	send := func() {
		parser.Reset()
		if err := x.Send(context.Background(), conn, cp.Request(parser)); err != nil || !parser.Done || x.Result.BytesReceived == 0 {
			t.Fatalf("Send = %v, result %+v", err, x.Result)
		}
	}
	send()
	if n := testing.AllocsPerRun(200, send); n != 0 {
		t.Errorf("%.1f allocations per request, want 0", n)
	}
}

// serveCanned answers every request on one connection with resp, without
// looking at it beyond its records' headers.
func serveCanned(t *testing.T, resp []byte) NetOptions {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "canned.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		nc, err := l.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		br := bufio.NewReaderSize(nc, 64<<10)
		for {
			h, err := br.Peek(fcgiwire.HeaderLen)
			if err != nil {
				return
			}
			hd := fcgiwire.DecodeHeader(h)
			if _, err := br.Discard(hd.Len()); err != nil {
				return
			}
			if hd.Type == fcgiwire.TypeStdin && hd.ContentLength == 0 {
				if _, err := nc.Write(resp); err != nil {
					return
				}
			}
		}
	}()
	return NetOptions{Connect: "unix:" + sock, ConnectTimeout: 5 * time.Second}
}
