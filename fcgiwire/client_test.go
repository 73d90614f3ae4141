package fcgiwire

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// hostile accepts one connection on 127.0.0.1 and runs serve on it; the
// connection is closed when serve returns. The test's cleanup waits for
// the goroutine.
func hostile(t *testing.T, serve func(nc *net.TCPConn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		nc, err := l.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(testBound))
		serve(nc.(*net.TCPConn))
	}()
	t.Cleanup(func() {
		l.Close()
		select {
		case <-done:
		case <-time.After(testBound):
			t.Errorf("hostile server goroutine did not end")
		}
	})
	return l.Addr().String()
}

// readRequest reads a client's records up to the empty STDIN record (or
// an ABORT_REQUEST) and returns their headers.
func readRequest(r *Reader) ([]Header, error) {
	var hs []Header
	for range 10000 {
		rec, err := r.ReadRecord()
		if err != nil {
			return hs, err
		}
		hs = append(hs, rec.Header)
		if (rec.Type == TypeStdin && rec.ContentLength == 0) || rec.Type == TypeAbortRequest {
			return hs, nil
		}
	}
	return hs, errors.New("readRequest: too many records")
}

// answer returns a hostile server that reads the request, then writes
// resp and closes.
func answer(resp []byte) func(nc *net.TCPConn) {
	return func(nc *net.TCPConn) {
		if _, err := readRequest(NewReader(nc)); err != nil {
			return
		}
		nc.Write(resp)
	}
}

func TestDoHostileServers(t *testing.T) {
	good := streamRec(TypeStdout, 1, "Status: 200 OK\r\n\r\nhi") // 21 bytes + 3 padding
	if len(good) != 32 {
		t.Fatalf("good record is %d bytes", len(good))
	}
	tests := []struct {
		name     string
		resp     []byte
		stdout   string
		sentinel error // nil: no error
		offset   int64
		rt       RecordType
		res      Result // Ended, AppStatus, ProtocolStatus checked
		msg      string // the whole error message, when set
	}{
		{
			name:   "complete response",
			resp:   cat(good, rec(TypeStdout, 1, "", 0), endRec(1, 0, RequestComplete)),
			stdout: "Status: 200 OK\r\n\r\nhi",
			res:    Result{Ended: true},
		},
		{
			name:   "OVERLOADED answer is not an error",
			resp:   endRec(1, 0, Overloaded),
			res:    Result{Ended: true, ProtocolStatus: Overloaded},
			stdout: "",
		},
		{
			name:   "app status and odd padding",
			resp:   cat(rec(TypeStdout, 1, "ok", 255), endRec(1, 7, RequestComplete)),
			stdout: "ok",
			res:    Result{Ended: true, AppStatus: 7},
		},
		{
			name: "management records mid-response are skipped",
			resp: cat(
				streamRec(TypeStdout, 1, "hello"),
				rec(TypeGetValuesResult, 0, string(EncodePairs([]Pair{{MaxConns, "1"}})), 0),
				rec(TypeUnknownType, 0, string(UnknownTypeBody(20)), 8),
				rec(30, 0, "junk", 4),
				streamRec(TypeStdout, 1, " world"),
				rec(TypeStdout, 1, "", 0),
				endRec(1, 0, RequestComplete)),
			stdout: "hello world",
			res:    Result{Ended: true},
		},
		{
			name: "type 0 on request id 0 is skipped like other unknown types",
			resp: cat(
				streamRec(TypeStdout, 1, "hello"),
				rec(0, 0, "junk", 4),
				rec(TypeStdout, 1, "", 0),
				endRec(1, 0, RequestComplete)),
			stdout: "hello",
			res:    Result{Ended: true},
		},
		{
			name:     "STDOUT after the empty STDOUT",
			resp:     cat(good, rec(TypeStdout, 1, "", 0), streamRec(TypeStdout, 1, "AFTER-TERMINATOR"), endRec(1, 0, RequestComplete)),
			stdout:   "Status: 200 OK\r\n\r\nhi",
			sentinel: ErrUnexpectedType,
			offset:   40,
			rt:       TypeStdout,
			msg:      "protocol error at byte 40 (STDOUT record): unexpected record type: STDOUT record after the stream's empty closing record",
		},
		{
			name:     "an empty STDOUT after the empty STDOUT",
			resp:     cat(good, rec(TypeStdout, 1, "", 0), rec(TypeStdout, 1, "", 0), endRec(1, 0, RequestComplete)),
			stdout:   "Status: 200 OK\r\n\r\nhi",
			sentinel: ErrUnexpectedType,
			offset:   40,
			rt:       TypeStdout,
		},
		{
			name: "STDERR after the empty STDERR",
			resp: cat(streamRec(TypeStderr, 1, "warn"), rec(TypeStderr, 1, "", 0), good,
				streamRec(TypeStderr, 1, "late"), endRec(1, 0, RequestComplete)),
			stdout:   "Status: 200 OK\r\n\r\nhi",
			sentinel: ErrUnexpectedType,
			offset:   56,
			rt:       TypeStderr,
		},
		{
			name: "STDOUT after the empty STDERR is fine",
			resp: cat(rec(TypeStderr, 1, "", 0), good, rec(TypeStdout, 1, "", 0),
				endRec(1, 0, RequestComplete)),
			stdout: "Status: 200 OK\r\n\r\nhi",
			res:    Result{Ended: true},
		},
		{
			name:     "wrong request id",
			resp:     cat(good, streamRec(TypeStdout, 2, "other"), endRec(1, 0, RequestComplete)),
			stdout:   "Status: 200 OK\r\n\r\nhi",
			sentinel: ErrRequestID,
			offset:   32,
			rt:       TypeStdout,
		},
		{
			name:     "END_REQUEST for another id",
			resp:     endRec(9, 0, RequestComplete),
			sentinel: ErrRequestID,
			offset:   0,
			rt:       TypeEndRequest,
		},
		{
			name:     "stream record with id 0",
			resp:     cat(good, streamRec(TypeStdout, 0, "x")),
			stdout:   "Status: 200 OK\r\n\r\nhi",
			sentinel: ErrRequestID,
			offset:   32,
			rt:       TypeStdout,
		},
		{
			name:     "close before END_REQUEST",
			resp:     cat(good, streamRec(TypeStdout, 1, "partial")),
			stdout:   "Status: 200 OK\r\n\r\nhipartial",
			sentinel: ErrNoEndRequest,
			offset:   48,
		},
		{
			name:     "close after the empty STDOUT",
			resp:     cat(good, rec(TypeStdout, 1, "", 0)),
			stdout:   "Status: 200 OK\r\n\r\nhi",
			sentinel: ErrNoEndRequest,
			offset:   40,
		},
		{
			name:     "close without a byte",
			resp:     nil,
			sentinel: ErrNoEndRequest,
			offset:   0,
		},
		{
			name:     "version 2",
			resp:     cat(good, []byte{2, 6, 0, 1, 0, 1, 7, 0}, "x", make([]byte, 7), endRec(1, 0, RequestComplete)),
			stdout:   "Status: 200 OK\r\n\r\nhi",
			sentinel: ErrBadVersion,
			offset:   32,
			rt:       TypeStdout,
		},
		{
			name:     "version 0 first",
			resp:     []byte{0, 3, 0, 1, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
			sentinel: ErrBadVersion,
			offset:   0,
			rt:       TypeEndRequest,
		},
		{
			name:     "END_REQUEST body of 4 bytes",
			resp:     cat(good, rec(TypeEndRequest, 1, "\x00\x00\x00\x00", 4)),
			stdout:   "Status: 200 OK\r\n\r\nhi",
			sentinel: ErrBadBody,
			offset:   32,
			rt:       TypeEndRequest,
			msg:      "protocol error at byte 32 (END_REQUEST record): malformed record body: END_REQUEST body is 4 bytes, want 8",
		},
		{
			name:     "END_REQUEST with protocol status 4",
			resp:     cat(good, endRec(1, 0, 4)),
			stdout:   "Status: 200 OK\r\n\r\nhi",
			sentinel: ErrBadBody,
			offset:   32,
			rt:       TypeEndRequest,
			msg:      "protocol error at byte 32 (END_REQUEST record): malformed record body: protocol status 4 is not one FastCGI 1.0 defines",
		},
		{
			name:     "END_REQUEST with protocol status 255",
			resp:     endRec(1, 0, 255),
			sentinel: ErrBadBody,
			offset:   0,
			rt:       TypeEndRequest,
			msg:      "protocol error at byte 0 (END_REQUEST record): malformed record body: protocol status 255 is not one FastCGI 1.0 defines",
		},
		{
			name:     "END_REQUEST body of 16 bytes",
			resp:     rec(TypeEndRequest, 1, strings.Repeat("\x00", 16), 0),
			sentinel: ErrBadBody,
			offset:   0,
			rt:       TypeEndRequest,
		},
		{
			name:     "truncated header",
			resp:     cat(good, []byte{1, 6, 0}),
			stdout:   "Status: 200 OK\r\n\r\nhi",
			sentinel: ErrTruncated,
			offset:   32,
		},
		{
			name:     "truncated body",
			resp:     cat(good, hdr(TypeStdout, 1, 100, 4), "only this"),
			stdout:   "Status: 200 OK\r\n\r\nhi",
			sentinel: ErrTruncated,
			offset:   32,
			rt:       TypeStdout,
		},
		{
			name:     "STDIN sent to a client",
			resp:     streamRec(TypeStdin, 1, "x"),
			sentinel: ErrUnexpectedType,
			offset:   0,
			rt:       TypeStdin,
		},
		{
			name:     "BEGIN_REQUEST sent to a client",
			resp:     beginRec(1, RoleResponder, 0),
			sentinel: ErrUnexpectedType,
			offset:   0,
			rt:       TypeBeginRequest,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := hostile(t, answer(tt.resp))
			c := dialConn(t, "tcp", addr)
			var stdout, stderr bytes.Buffer
			res, err := c.Do(context.Background(), &Request{
				Params: []Pair{{"A", "1"}}, Stdin: strings.NewReader("body"), Stdout: &stdout, Stderr: &stderr, KeepConn: true,
			})
			if stdout.String() != tt.stdout {
				t.Errorf("stdout = %q, want %q", stdout.String(), tt.stdout)
			}
			if res == nil {
				t.Fatal("nil Result")
			}
			if tt.sentinel == nil {
				if err != nil {
					t.Fatalf("Do error %v", err)
				}
				if res.Ended != tt.res.Ended || res.AppStatus != tt.res.AppStatus || res.ProtocolStatus != tt.res.ProtocolStatus {
					t.Errorf("Result = %+v, want %+v", res, tt.res)
				}
				if res.BytesReceived != int64(len(tt.resp)) {
					t.Errorf("BytesReceived = %d, want %d", res.BytesReceived, len(tt.resp))
				}
				return
			}
			if !errors.Is(err, tt.sentinel) {
				t.Fatalf("Do error %v, want %v", err, tt.sentinel)
			}
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *ProtocolError", err)
			}
			if pe.Offset != tt.offset || pe.RecordType != tt.rt {
				t.Errorf("ProtocolError at %d (%v), want %d (%v): %v", pe.Offset, pe.RecordType, tt.offset, tt.rt, err)
			}
			if tt.msg != "" && err.Error() != tt.msg {
				t.Errorf("error %q, want %q", err, tt.msg)
			}
			if res.Ended {
				t.Errorf("Result.Ended after %v", err)
			}
			if c.Reusable() {
				t.Errorf("Conn reusable after %v", err)
			}
			if _, err2 := c.Do(context.Background(), &Request{}); !errors.Is(err2, ErrConnBroken) {
				t.Errorf("next Do = %v, want ErrConnBroken", err2)
			}
		})
	}
}

// An application that answers part of the response and resets the
// connection while a large body is still being sent: the error says
// "reset", whichever of the reader and the writer sees it, and the part
// answered is kept.
func TestDoResetDuringUpload(t *testing.T) {
	// The reset comes once the client has read the answer (a reset
	// overtaking it would drop it from the client's socket).
	answered := make(chan struct{})
	addr := hostile(t, func(nc *net.TCPConn) {
		if _, err := io.ReadFull(nc, make([]byte, 16)); err != nil {
			return
		}
		nc.Write(streamRec(TypeStdout, 1, "Status: 413\r\n\r\ntoo big"))
		select {
		case <-answered:
		case <-time.After(testBound):
		}
		nc.SetLinger(0)
	})
	c := dialConn(t, "tcp", addr)
	var once sync.Once
	c.SetObserver(func(e Event) {
		if e.Dir == Received && e.Header.Type == TypeStdout {
			once.Do(func() { close(answered) })
		}
	})
	var stdout bytes.Buffer
	_, err := c.Do(context.Background(), &Request{
		Stdin: bytes.NewReader(make([]byte, 32<<20)), Stdout: &stdout, Stderr: io.Discard,
	})
	if !errors.Is(err, ErrNoEndRequest) || !strings.HasSuffix(err.Error(), ": connection closed before FCGI_END_REQUEST: connection reset by peer") {
		t.Errorf("Do error %v, want a reset before FCGI_END_REQUEST", err)
	}
	if stdout.String() != "Status: 413\r\n\r\ntoo big" {
		t.Errorf("stdout = %q", stdout.String())
	}
}

func TestDoOneBytePerWrite(t *testing.T) {
	body := strings.Repeat("0123456789", 30)
	resp := cat(
		streamRec(TypeStdout, 5, "Content-Type: text/plain\r\n\r\n"),
		streamRec(TypeStderr, 5, "warning"),
		streamRec(TypeStdout, 5, body),
		rec(TypeGetValuesResult, 0, "", 8),
		rec(TypeStdout, 5, "", 0),
		rec(TypeStderr, 5, "", 0),
		endRec(5, 3, RequestComplete),
	)
	addr := hostile(t, func(nc *net.TCPConn) {
		if _, err := readRequest(NewReader(nc)); err != nil {
			return
		}
		nc.SetNoDelay(true)
		for i := range resp {
			if _, err := nc.Write(resp[i : i+1]); err != nil {
				return
			}
		}
	})
	c := dialConn(t, "tcp", addr)
	var stdout, stderr bytes.Buffer
	res, err := c.Do(context.Background(), &Request{ID: 5, Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	if want := "Content-Type: text/plain\r\n\r\n" + body; stdout.String() != want {
		t.Errorf("stdout = %q, want %q", stdout.String(), want)
	}
	if stderr.String() != "warning" {
		t.Errorf("stderr = %q", stderr.String())
	}
	if !res.Ended || res.AppStatus != 3 || res.BytesReceived != int64(len(resp)) {
		t.Errorf("Result = %+v", res)
	}
}

func TestDoRequestBytes(t *testing.T) {
	// What a client sends, exactly.
	got := make(chan []byte, 1)
	resp := endRec(0x0102, 0, RequestComplete)
	addr := hostile(t, func(nc *net.TCPConn) {
		var buf bytes.Buffer
		if _, err := readRequest(NewReader(io.TeeReader(nc, &buf))); err != nil {
			return
		}
		got <- buf.Bytes()
		nc.Write(resp)
	})
	c := dialConn(t, "tcp", addr)
	if _, err := c.Do(context.Background(), &Request{
		ID: 0x0102, Role: RoleResponder, KeepConn: true,
		Params: []Pair{{"SCRIPT_NAME", "/a"}, {"Q", ""}},
		Stdin:  strings.NewReader("hello"),
	}); err != nil {
		t.Fatal(err)
	}
	params := cat([]byte{11, 2}, "SCRIPT_NAME/a", []byte{1, 0}, "Q")
	want := cat(
		[]byte{1, 1, 1, 2, 0, 8, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0},
		[]byte{1, 4, 1, 2, 0, 18, 6, 0}, params, make([]byte, 6),
		[]byte{1, 4, 1, 2, 0, 0, 0, 0},
		[]byte{1, 5, 1, 2, 0, 5, 3, 0}, "hello", make([]byte, 3),
		[]byte{1, 5, 1, 2, 0, 0, 0, 0},
	)
	if b := <-got; !bytes.Equal(b, want) {
		t.Errorf("request bytes\n% x\nwant\n% x", b, want)
	}
}

func TestDoCloseRightAfterAccept(t *testing.T) {
	addr := hostile(t, func(nc *net.TCPConn) {})
	c := dialConn(t, "tcp", addr)
	res, err := c.Do(context.Background(), &Request{Stdin: strings.NewReader("x")})
	if !errors.Is(err, ErrNoEndRequest) {
		t.Fatalf("Do = %v, want ErrNoEndRequest", err)
	}
	var pe *ProtocolError
	if !errors.As(err, &pe) || pe.Offset != 0 {
		t.Errorf("error %v: want a ProtocolError at offset 0", err)
	}
	if res.Ended || c.Reusable() {
		t.Errorf("Result %+v, Reusable %v", res, c.Reusable())
	}
}

func TestDoConnectionReset(t *testing.T) {
	addr := hostile(t, func(nc *net.TCPConn) {
		if _, err := readRequest(NewReader(nc)); err != nil {
			return
		}
		nc.Write(streamRec(TypeStdout, 1, "part"))
		nc.SetLinger(0) // close with a reset
	})
	c := dialConn(t, "tcp", addr)
	var stdout bytes.Buffer
	_, err := c.Do(context.Background(), &Request{Stdout: &stdout})
	if !errors.Is(err, ErrNoEndRequest) {
		t.Fatalf("Do = %v, want ErrNoEndRequest", err)
	}
	var pe *ProtocolError
	if !errors.As(err, &pe) {
		t.Fatalf("error %T", err)
	}
	// The reset may come before or after the STDOUT record is read.
	switch {
	case pe.Offset == 16 && stdout.String() == "part":
	case pe.Offset == 0 && stdout.Len() == 0:
	default:
		t.Errorf("error at %d with stdout %q", pe.Offset, stdout.String())
	}
	if pe.Reason != "connection reset by peer" {
		t.Errorf("Reason = %q, want the bare cause", pe.Reason)
	}
}

func TestDoTimeoutSendsAbort(t *testing.T) {
	seen := make(chan []Header, 1)
	addr := hostile(t, func(nc *net.TCPConn) {
		r := NewReader(nc)
		var hs []Header
		for range 100 {
			rec, err := r.ReadRecord()
			if err != nil {
				break
			}
			hs = append(hs, rec.Header)
			if rec.Type == TypeAbortRequest {
				break
			}
		}
		seen <- hs
		// Never answer; hold the connection until the client closes it.
		io.Copy(io.Discard, nc)
	})
	c := dialConn(t, "tcp", addr)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := c.Do(ctx, &Request{ID: 7, KeepConn: true, Stdin: strings.NewReader("body")})
	elapsed := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Do = %v, want context.DeadlineExceeded", err)
	}
	if elapsed < 200*time.Millisecond {
		t.Errorf("Do returned after %v, before the 200ms timeout", elapsed)
	}
	if res.Ended || c.Reusable() {
		t.Errorf("Result %+v, Reusable %v", res, c.Reusable())
	}
	var hs []Header
	select {
	case hs = <-seen:
	case <-time.After(testBound):
		t.Fatal("the server saw no ABORT_REQUEST")
	}
	if len(hs) == 0 {
		t.Fatal("the server saw no records")
	}
	last := hs[len(hs)-1]
	if want := (Header{Version: 1, Type: TypeAbortRequest, RequestID: 7}); last != want {
		t.Errorf("last record %+v, want %+v", last, want)
	}
	types := make([]RecordType, len(hs))
	for i, h := range hs {
		types[i] = h.Type
	}
	wantTypes := []RecordType{TypeBeginRequest, TypeParams, TypeStdin, TypeStdin, TypeAbortRequest}
	if !reflect.DeepEqual(types, wantTypes) {
		t.Errorf("server saw %v, want %v", types, wantTypes)
	}
	// Every byte sent was counted.
	var sent int64
	for _, h := range hs {
		sent += int64(h.Len())
	}
	if res.BytesSent != sent {
		t.Errorf("BytesSent = %d, server read %d", res.BytesSent, sent)
	}
}

// TestAbortAfterConnDeadline: Do gives up at a deadline set on the
// connection (no context), and Abort then sends FCGI_ABORT_REQUEST for the
// request, right after its records.
func TestAbortAfterConnDeadline(t *testing.T) {
	seen := make(chan []RecordType, 1)
	addr := hostile(t, func(nc *net.TCPConn) {
		r := NewReader(nc)
		var types []RecordType
		for range 100 {
			rec, err := r.ReadRecord()
			if err != nil {
				break
			}
			types = append(types, rec.Type)
			if rec.Type == TypeAbortRequest {
				if rec.RequestID != 9 {
					types = append(types, 0)
				}
				break
			}
		}
		seen <- types
		io.Copy(io.Discard, nc)
	})
	c := dialConn(t, "tcp", addr)
	c.NetConn().SetDeadline(time.Now().Add(200 * time.Millisecond))
	_, err := c.Do(context.Background(), &Request{ID: 9, KeepConn: true})
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Do = %v, want os.ErrDeadlineExceeded", err)
	}
	c.Abort(9)
	c.Close()
	select {
	case types := <-seen:
		want := []RecordType{TypeBeginRequest, TypeParams, TypeStdin, TypeAbortRequest}
		if !reflect.DeepEqual(types, want) {
			t.Errorf("server saw %v, want %v (ABORT_REQUEST for id 9)", types, want)
		}
	case <-time.After(testBound):
		t.Fatal("the server saw no ABORT_REQUEST")
	}
}

func TestDoCancelAnsweredAbort(t *testing.T) {
	// A server that answers the abort: Do returns at once with
	// context.Canceled and the END_REQUEST it got.
	gotRequest := make(chan struct{})
	addr := hostile(t, func(nc *net.TCPConn) {
		r := NewReader(nc)
		if _, err := readRequest(r); err != nil {
			return
		}
		close(gotRequest)
		rec, err := r.ReadRecord()
		if err != nil || rec.Type != TypeAbortRequest {
			return
		}
		nc.Write(cat(streamRec(TypeStdout, 1, "aborted"), endRec(1, 0, RequestComplete)))
	})
	c := dialConn(t, "tcp", addr)
	c.AbortGrace = testBound // only the answer ends the wait
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-gotRequest:
		case <-time.After(testBound):
		}
		cancel()
	}()
	var stdout bytes.Buffer
	res, err := c.Do(ctx, &Request{Stdout: &stdout})
	if err != context.Canceled {
		t.Fatalf("Do = %v, want context.Canceled", err)
	}
	if !res.Ended || stdout.String() != "aborted" {
		t.Errorf("Result %+v, stdout %q", res, stdout.String())
	}
	if c.Reusable() {
		t.Errorf("Conn reusable after an abort")
	}
}

func TestDoContextAlreadyDone(t *testing.T) {
	cs, ss := net.Pipe()
	defer cs.Close()
	defer ss.Close()
	c := NewConn(cs)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// net.Pipe is unbuffered: any write would block, nobody reads ss.
	res, err := c.Do(ctx, &Request{})
	if err != context.Canceled || res.BytesSent != 0 {
		t.Errorf("Do = %+v, %v", res, err)
	}
	if !c.Reusable() {
		t.Errorf("nothing was sent, yet the Conn is not reusable")
	}
}

func TestDoPairTooLarge(t *testing.T) {
	cs, ss := net.Pipe()
	defer cs.Close()
	defer ss.Close()
	c := NewConn(cs)
	res, err := c.Do(context.Background(), &Request{Params: []Pair{{"A", "1"}, {"HUGE", strings.Repeat("x", 70000)}}})
	var pe *PairTooLargeError
	if !errors.As(err, &pe) || pe.Name != "HUGE" || !errors.Is(err, ErrPairTooLarge) {
		t.Fatalf("Do = %v, want a *PairTooLargeError for HUGE", err)
	}
	if res.BytesSent != 0 || !c.Reusable() {
		t.Errorf("Result %+v, Reusable %v; nothing should have been sent", res, c.Reusable())
	}
}

// failingReader returns data, then an error.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(b []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(b, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestDoStdinReadError(t *testing.T) {
	errDisk := errors.New("disk on fire")
	var log eventLog
	srv := &Server{Handler: HandlerFunc(echoHandler), Observer: func(uint64) Observer { return log.observe }}
	addr := startTCP(t, srv)
	for i := range 5 {
		c := dialConn(t, "tcp", addr)
		res, err := c.Do(context.Background(), &Request{
			ID:     uint16(i + 1),
			Stdin:  &failingReader{data: make([]byte, 70000), err: errDisk},
			Stdout: io.Discard,
		})
		var le *LocalError
		if !errors.As(err, &le) || le.Op != "read request body" || !errors.Is(err, errDisk) {
			t.Fatalf("Do = %v, want a LocalError wrapping the read error", err)
		}
		if err.Error() != "read request body: disk on fire" {
			t.Errorf("message %q", err)
		}
		if c.Reusable() || res == nil {
			t.Errorf("Reusable after a failed body")
		}
	}
	// Each time, the server got an ABORT_REQUEST for the request.
	aborts := 0
	for _, e := range log.list(Received) {
		if e.Header.Type == TypeAbortRequest {
			aborts++
		}
	}
	if aborts != 5 {
		t.Errorf("server saw %d ABORT_REQUEST records, want 5", aborts)
	}
}

func TestDoStdoutWriteError(t *testing.T) {
	addr := startTCP(t, &Server{Handler: HandlerFunc(echoHandler)})
	c := dialConn(t, "tcp", addr)
	_, err := c.Do(context.Background(), &Request{KeepConn: true, Stdout: errWriterAfter{}})
	var le *LocalError
	if !errors.As(err, &le) || le.Op != "write stdout" || !errors.Is(err, errWrite) {
		t.Fatalf("Do = %v, want a LocalError for stdout", err)
	}
	if c.Reusable() {
		t.Errorf("Reusable after a failed stdout write")
	}
	_, err = dialConn(t, "tcp", addr).Do(context.Background(), &Request{Params: []Pair{{"STDERR", "x"}}, Stderr: errWriterAfter{}})
	if !errors.As(err, &le) || le.Op != "write stderr" {
		t.Errorf("Do = %v, want a LocalError for stderr", err)
	}
}

func TestDoAnswerBeforeStdinEnds(t *testing.T) {
	// An application that answers without reading stdin: Do returns
	// with its answer, stops sending, and the Conn is not reusable.
	h := HandlerFunc(func(_ context.Context, w *ResponseWriter, r *ServerRequest) {
		io.WriteString(w.Stdout(), "early")
	})
	addr := startTCP(t, &Server{Handler: h})
	c := dialConn(t, "tcp", addr)
	pr, pw := io.Pipe() // a body that never ends
	defer pw.Close()
	var stdout bytes.Buffer
	res, err := c.Do(context.Background(), &Request{KeepConn: true, Stdin: pr, Stdout: &stdout})
	if err != nil || !res.Ended || stdout.String() != "early" {
		t.Fatalf("Do = %+v, %v, stdout %q", res, err, stdout.String())
	}
	if c.Reusable() {
		t.Errorf("Reusable although the request was not fully sent")
	}
}

func TestConnObserverBothWays(t *testing.T) {
	addr := startTCP(t, &Server{Handler: HandlerFunc(echoHandler)})
	c := dialConn(t, "tcp", addr)
	var log eventLog
	c.SetObserver(log.observe)
	if c.NetConn() == nil {
		t.Fatal("NetConn is nil")
	}
	for range 2 {
		if _, err := c.Do(context.Background(), &Request{KeepConn: true, Stdin: strings.NewReader("abc")}); err != nil {
			t.Fatal(err)
		}
	}
	for _, dir := range []Direction{Sent, Received} {
		var off int64
		for i, e := range log.list(dir) {
			if e.Offset != off {
				t.Errorf("%v event %d at offset %d, want %d", dir, i, e.Offset, off)
			}
			off += int64(e.Header.Len())
		}
	}
	sent := log.list(Sent)
	var types []RecordType
	for _, e := range sent {
		types = append(types, e.Header.Type)
	}
	want := []RecordType{
		TypeBeginRequest, TypeParams, TypeStdin, TypeStdin,
		TypeBeginRequest, TypeParams, TypeStdin, TypeStdin,
	}
	if !reflect.DeepEqual(types, want) {
		t.Fatalf("sent %v, want %v", types, want)
	}
	if recv := log.list(Received); recv[len(recv)-1].Header.Type != TypeEndRequest {
		t.Errorf("last received %v", recv[len(recv)-1].Header.Type)
	}
}

// keptAliveServer serves one kept-alive connection: it answers each
// request at once, except the one with the id hold, which it answers when
// release is closed, or never after an FCGI_ABORT_REQUEST. held is closed
// when that request has arrived; aborts receives the id of every
// FCGI_ABORT_REQUEST it reads.
func keptAliveServer(t *testing.T, hold uint16, release <-chan struct{}) (addr string, held chan struct{}, aborts chan uint16) {
	held, aborts = make(chan struct{}), make(chan uint16, 10)
	addr = hostile(t, func(nc *net.TCPConn) {
		// One goroutine reads, so that a held request still sees an
		// abort come.
		recs := make(chan Header, 100)
		go func() {
			defer close(recs)
			r := NewReader(nc)
			for range 1000 {
				rec, err := r.ReadRecord()
				if err != nil {
					return
				}
				recs <- rec.Header
			}
		}()
		for h := range recs {
			switch {
			case h.Type == TypeAbortRequest:
				aborts <- h.RequestID
			case h.Type != TypeStdin || h.ContentLength != 0:
				// More of the request.
			case h.RequestID == hold:
				close(held)
				select {
				case <-release:
				case h, ok := <-recs:
					if ok && h.Type == TypeAbortRequest {
						aborts <- h.RequestID
					}
					return
				}
				fallthrough
			default:
				id := h.RequestID
				nc.Write(cat(streamRec(TypeStdout, id, "ok"), endRec(id, 0, RequestComplete)))
			}
		}
	})
	return addr, held, aborts
}

// TestDoKeepsOneWatch: requests that share a context share one watch on
// it, and its end still aborts the request under way.
func TestDoKeepsOneWatch(t *testing.T) {
	addr, held, aborts := keptAliveServer(t, 3, nil)
	c := dialConn(t, "tcp", addr)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for id := uint16(1); id <= 2; id++ {
		if _, err := c.Do(ctx, &Request{ID: id, KeepConn: true}); err != nil {
			t.Fatalf("request %d: %v", id, err)
		}
	}
	go func() {
		select {
		case <-held:
		case <-time.After(testBound):
		}
		cancel()
	}()
	if _, err := c.Do(ctx, &Request{ID: 3, KeepConn: true}); err != context.Canceled {
		t.Fatalf("request 3 = %v, want context.Canceled", err)
	}
	select {
	case id := <-aborts:
		if id != 3 {
			t.Errorf("ABORT_REQUEST for %d, want 3", id)
		}
	case <-time.After(testBound):
		t.Fatal("the server saw no ABORT_REQUEST")
	}
}

// TestDoWatchesOnlyItsContext: a context an earlier request used ending
// while a later one, on another context or none, is under way aborts
// nothing.
func TestDoWatchesOnlyItsContext(t *testing.T) {
	for _, later := range []string{"another context", "context.Background"} {
		t.Run(later, func(t *testing.T) {
			release := make(chan struct{})
			addr, held, aborts := keptAliveServer(t, 2, release)
			c := dialConn(t, "tcp", addr)
			first, cancelFirst := context.WithCancel(context.Background())
			defer cancelFirst()
			if _, err := c.Do(first, &Request{ID: 1, KeepConn: true}); err != nil {
				t.Fatalf("request 1: %v", err)
			}
			ctx := context.Background()
			if later == "another context" {
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				defer cancel()
			}
			go func() {
				select {
				case <-held:
				case <-time.After(testBound):
				}
				cancelFirst()
				// An abort would follow the cancel at once; give it time
				// to show before the answer comes.
				time.Sleep(100 * time.Millisecond)
				close(release)
			}()
			var stdout bytes.Buffer
			res, err := c.Do(ctx, &Request{ID: 2, KeepConn: true, Stdout: &stdout})
			if err != nil || !res.Ended || stdout.String() != "ok" {
				t.Fatalf("request 2 = %+v, %v, stdout %q; want it answered", res, err, stdout.String())
			}
			select {
			case id := <-aborts:
				t.Errorf("ABORT_REQUEST for %d after another context ended", id)
			default:
			}
			if _, err := c.Do(ctx, &Request{ID: 3, KeepConn: true}); err != nil {
				t.Errorf("request 3: %v", err)
			}
		})
	}
}

// TestDoContextEndedBetweenRequests: the watch of a context that ends
// while the connection is idle aborts nothing, the next request on it
// sends nothing, and the connection still serves another context.
func TestDoContextEndedBetweenRequests(t *testing.T) {
	addr, _, aborts := keptAliveServer(t, 0, nil)
	c := dialConn(t, "tcp", addr)
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := c.Do(ctx, &Request{ID: 1, KeepConn: true}); err != nil {
		t.Fatalf("request 1: %v", err)
	}
	cancel()
	res, err := c.Do(ctx, &Request{ID: 2, KeepConn: true})
	if err != context.Canceled || res.BytesSent != 0 || !c.Reusable() {
		t.Fatalf("request 2 = %+v, %v, reusable %v; want context.Canceled, nothing sent", res, err, c.Reusable())
	}
	var stdout bytes.Buffer
	if _, err := c.Do(context.Background(), &Request{ID: 3, KeepConn: true, Stdout: &stdout}); err != nil || stdout.String() != "ok" {
		t.Fatalf("request 3 = %v, stdout %q", err, stdout.String())
	}
	select {
	case id := <-aborts:
		t.Errorf("ABORT_REQUEST for %d", id)
	default:
	}
}

// TestDoEncodedParams: params encoded once with SplitPairs go out as the
// same records as the pairs themselves, request after request.
func TestDoEncodedParams(t *testing.T) {
	pairs := []Pair{{"SCRIPT_FILENAME", "/x.php"}, {"LONG", strings.Repeat("v", 40000)}, {"MORE", strings.Repeat("w", 40000)}}
	encoded, err := SplitPairs(pairs)
	if err != nil {
		t.Fatal(err)
	}
	wire := make(chan []byte, 3)
	addr := hostile(t, func(nc *net.TCPConn) {
		r := NewReader(nc)
		for range 3 {
			var b []byte
			for range 100 {
				rec, err := r.ReadRecord()
				if err != nil {
					return
				}
				var h [HeaderLen]byte
				rec.Header.Encode(h[:])
				b = append(append(b, h[:]...), rec.Content...)
				if rec.Type == TypeStdin && rec.ContentLength == 0 {
					break
				}
			}
			wire <- b
			id := DecodeHeader(b).RequestID
			nc.Write(endRec(id, 0, RequestComplete))
		}
	})
	c := dialConn(t, "tcp", addr)
	reqs := []*Request{
		{ID: 1, KeepConn: true, Params: pairs},
		{ID: 1, KeepConn: true, EncodedParams: encoded, Params: []Pair{{"IGNORED", "1"}}},
		{ID: 1, KeepConn: true, EncodedParams: encoded},
	}
	var got [][]byte
	for i, req := range reqs {
		if _, err := c.Do(context.Background(), req); err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
		got = append(got, <-wire)
	}
	if len(encoded) != 2 {
		t.Errorf("SplitPairs made %d bodies, want 2", len(encoded))
	}
	for i := 1; i < len(got); i++ {
		if !bytes.Equal(got[i], got[0]) {
			t.Errorf("request %d sent %d bytes unlike the %d of the pairs themselves", i+1, len(got[i]), len(got[0]))
		}
	}
}

// TestDoResultZeroesRes: a Result reused for the next request holds only
// what that request got.
func TestDoResultZeroesRes(t *testing.T) {
	addr := hostile(t, func(nc *net.TCPConn) {
		r := NewReader(nc)
		for _, answer := range [][]byte{
			append(rec(TypeStdout, 1, "Status: 500\r\n\r\nboom", 0), endRec(1, 7, RequestComplete)...),
			endRec(1, 0, RequestComplete),
		} {
			for {
				rec, err := r.ReadRecord()
				if err != nil {
					return
				}
				if rec.Type == TypeStdin && rec.ContentLength == 0 {
					break
				}
			}
			nc.Write(answer)
		}
	})
	c := dialConn(t, "tcp", addr)
	var res Result
	req := &Request{ID: 1, KeepConn: true, Params: []Pair{{"A", "1"}}}
	if err := c.DoResult(context.Background(), req, &res); err != nil || res.AppStatus != 7 || res.StdoutBytes != 19 || res.FirstByte.IsZero() {
		t.Fatalf("first request: %+v, %v", res, err)
	}
	if err := c.DoResult(context.Background(), req, &res); err != nil {
		t.Fatal(err)
	}
	if !res.Ended || res.AppStatus != 0 || res.StdoutBytes != 0 || res.BytesReceived != HeaderLen+8 || res.BytesSent == 0 {
		t.Fatalf("second request: %+v", res)
	}
}

// An application that repeats its answer on a kept-alive connection: the
// repeat reaches the next request as records of the first request's id,
// counted as strays, and the next request gets its own answer.
func TestDoStrayRecordsOfAnEndedRequest(t *testing.T) {
	answerFor := func(id uint16, body string) []byte {
		return cat(streamRec(TypeStdout, id, body), rec(TypeStdout, id, "", 0), endRec(id, 0, RequestComplete))
	}
	ids := make(chan uint16, 2)
	addr := hostile(t, func(nc *net.TCPConn) {
		r := NewReader(nc)
		for i, body := range []string{"one", "two"} {
			hs, err := readRequest(r)
			if err != nil || len(hs) == 0 {
				return
			}
			id := hs[0].RequestID
			ids <- id
			resp := answerFor(id, body)
			if i == 0 {
				resp = cat(resp, resp) // the repeat: three stray records
			}
			if _, err := nc.Write(resp); err != nil {
				return
			}
		}
	})
	c := dialConn(t, "tcp", addr)
	for i, want := range []string{"one", "two"} {
		if next := c.NextID(); next != uint16(i+1) {
			t.Errorf("before request %d NextID is %d", i+1, next)
		}
		var stdout bytes.Buffer
		res, err := c.Do(context.Background(), &Request{KeepConn: true, Stdout: &stdout})
		if err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
		if stdout.String() != want || res.ID != uint16(i+1) || !res.Ended {
			t.Errorf("request %d: stdout %q, id %d, ended %v; want %q, id %d", i+1, stdout.String(), res.ID, res.Ended, want, i+1)
		}
		if wantStray := 3 * i; res.StrayRecords != wantStray {
			t.Errorf("request %d: %d stray records, want %d", i+1, res.StrayRecords, wantStray)
		}
		if got := <-ids; got != uint16(i+1) {
			t.Errorf("request %d sent with id %d", i+1, got)
		}
	}
	if !c.Reusable() {
		t.Errorf("not reusable after stray records")
	}
}

// NextID counts on from the last request's id, wrapping past 65535 to 1:
// 0 is no request's.
func TestNextIDWraps(t *testing.T) {
	for _, c := range []struct{ last, next uint16 }{{0, 1}, {1, 2}, {65534, 65535}, {65535, 1}} {
		if got := (&Conn{lastID: c.last}).NextID(); got != c.next {
			t.Errorf("after id %d NextID is %d, want %d", c.last, got, c.next)
		}
	}
}

// pipeBody returns an *os.File pipe for a request body and its write end,
// both closed when the test ends.
func pipeBody(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pr.Close(); pw.Close() })
	return pr, pw
}

// stillReadable writes to a body's pipe after its request ended and
// checks the bytes are still there for their owner: no writer goroutine
// took them.
func stillReadable(t *testing.T, pr, pw *os.File) {
	t.Helper()
	if _, err := pw.WriteString("late"); err != nil {
		t.Fatal(err)
	}
	pr.SetReadDeadline(time.Now().Add(testBound))
	b := make([]byte, 16)
	n, err := pr.Read(b)
	if err != nil || string(b[:n]) != "late" {
		t.Fatalf("reading the body after the request: %q, %v: the client went on reading it", b[:n], err)
	}
}

// The writer stops reading the body when Do returns: a byte written to
// the body's pipe afterwards is its owner's.
func TestDoStopsReadingStdinWhenItReturns(t *testing.T) {
	h := HandlerFunc(func(_ context.Context, w *ResponseWriter, r *ServerRequest) {
		io.WriteString(w.Stdout(), "early")
	})
	addr := startTCP(t, &Server{Handler: h})
	c := dialConn(t, "tcp", addr)
	pr, pw := pipeBody(t)
	var stdout bytes.Buffer
	res, err := c.Do(context.Background(), &Request{Stdin: pr, Stdout: &stdout})
	if err != nil || !res.Ended || stdout.String() != "early" {
		t.Fatalf("Do = %+v, %v, stdout %q", res, err, stdout.String())
	}
	stillReadable(t, pr, pw)
}

// Close, while Do waits on another goroutine, stops the reading of the
// body likewise.
func TestCloseStopsReadingStdin(t *testing.T) {
	got := make(chan struct{})
	addr := hostile(t, func(nc *net.TCPConn) {
		r := NewReader(nc)
		for {
			rec, err := r.ReadRecord()
			if err != nil {
				return
			}
			if rec.Type == TypeParams && len(rec.Content) == 0 {
				close(got)
			}
		}
	})
	c := dialConn(t, "tcp", addr)
	pr, pw := pipeBody(t)
	done := make(chan error, 1)
	go func() {
		_, err := c.Do(context.Background(), &Request{Stdin: pr})
		done <- err
	}()
	select {
	case <-got:
	case <-time.After(testBound):
		t.Fatal("the params never arrived")
	}
	c.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Do succeeded on a closed connection")
		}
	case <-time.After(testBound):
		t.Fatal("Do did not return after Close")
	}
	stillReadable(t, pr, pw)
}

// cancelOnRead ends a context as the first bytes arrive, and returns them
// only once the context's callback has set a deadline: the answer comes
// whole, and the callback has fired before Management stops it.
type cancelOnRead struct {
	net.Conn
	once     sync.Once
	cancel   func()
	deadline chan struct{}
}

func (c *cancelOnRead) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.once.Do(func() {
			c.cancel()
			select {
			case <-c.deadline:
			case <-time.After(testBound):
			}
		})
	}
	return n, err
}

func (c *cancelOnRead) SetDeadline(t time.Time) error {
	err := c.Conn.SetDeadline(t)
	select {
	case c.deadline <- struct{}{}:
	default:
	}
	return err
}

// A context that ends between a management answer's arrival and the end
// of its watch leaves a deadline in the past: the answer is returned,
// and the connection is not offered for another request.
func TestManagementContextEndsWithTheAnswer(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	go func() {
		r, w := NewReader(server), NewWriter(server)
		if _, err := r.ReadRecord(); err != nil {
			return
		}
		w.WritePairs(TypeGetValuesResult, 0, []Pair{{MaxConns, "5"}})
		w.Flush()
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := NewConn(&cancelOnRead{Conn: client, cancel: cancel, deadline: make(chan struct{}, 1)})
	pairs, err := c.GetValues(ctx, []string{MaxConns})
	if err != nil || len(pairs) != 1 || pairs[0].Value != "5" {
		t.Fatalf("GetValues = %v, %v", pairs, err)
	}
	if c.Reusable() {
		t.Errorf("reusable with a deadline in the past")
	}
}
