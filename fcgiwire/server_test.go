package fcgiwire

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestDoParamsInOrder(t *testing.T) {
	addr := startTCP(t, &Server{Handler: HandlerFunc(echoHandler)})
	c := dialConn(t, "tcp", addr)
	params := []Pair{
		{"SCRIPT_FILENAME", "/index.php"},
		{"Z", "1"},
		{"A", ""},
		{"Z", "2"},
		{"BIG1", strings.Repeat("x", 40000)}, // forces a second PARAMS record
		{"BIG2", strings.Repeat("y", 40000)},
		{"LAST", "é\x00"},
	}
	var stdout, stderr bytes.Buffer
	res, err := c.Do(context.Background(), &Request{Params: params, Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	if want := echoOutput(1, RoleResponder, false, 1, params, nil); stdout.String() != want {
		t.Errorf("stdout differs:\n%.300q\nwant\n%.300q", stdout.String(), want)
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr = %q", stderr.String())
	}
	if !res.Ended || res.AppStatus != 0 || res.ProtocolStatus != RequestComplete {
		t.Errorf("Result = %+v", res)
	}
	if res.StdoutBytes != int64(stdout.Len()) || res.StderrBytes != 0 {
		t.Errorf("StdoutBytes %d, StderrBytes %d; stdout is %d", res.StdoutBytes, res.StderrBytes, stdout.Len())
	}
	if res.FirstByte.IsZero() {
		t.Errorf("FirstByte not set")
	}
}

func TestDoStdin5MiB(t *testing.T) {
	addr := startTCP(t, &Server{Handler: HandlerFunc(echoHandler)})
	c := dialConn(t, "tcp", addr)
	var log eventLog
	c.SetObserver(log.observe)
	stdin := make([]byte, 5<<20)
	x := uint32(1)
	for i := range stdin {
		x = x*1664525 + 1013904223
		stdin[i] = byte(x >> 24)
	}
	var stdout bytes.Buffer
	res, err := c.Do(context.Background(), &Request{
		ID:     3,
		Params: []Pair{{"A", "b"}},
		Stdin:  bytes.NewReader(stdin),
		Stdout: &stdout,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := echoOutput(3, RoleResponder, false, 1, []Pair{{"A", "b"}}, stdin)
	if stdout.String() != want {
		t.Errorf("stdout = %q, want %q", stdout.String(), want)
	}
	// BEGIN (16) + PARAMS (8+4+4) + empty PARAMS (8) + 80 STDIN records of
	// 65535 bytes (no padding: it would pass 65535) + one of the last 80
	// bytes + empty STDIN.
	wantSent := int64(16 + 16 + 8 + 80*(8+65535) + (8 + 80) + 8)
	if res.BytesSent != wantSent {
		t.Errorf("BytesSent = %d, want %d", res.BytesSent, wantSent)
	}
	var sent, received int64
	for _, e := range log.list(Sent) {
		sent += int64(e.Header.Len())
	}
	for _, e := range log.list(Received) {
		received += int64(e.Header.Len())
	}
	if sent != res.BytesSent || received != res.BytesReceived {
		t.Errorf("observer saw %d sent, %d received; Result says %d, %d", sent, received, res.BytesSent, res.BytesReceived)
	}
	if n := len(log.list(Sent)); n != 1+2+81+1 {
		t.Errorf("observer saw %d sent records, want 85", n)
	}
}

func TestDoStdoutStderrDemux(t *testing.T) {
	bigErr := strings.Repeat("E", 70000)
	h := HandlerFunc(func(_ context.Context, w *ResponseWriter, r *ServerRequest) {
		for i := range 5 {
			fmt.Fprintf(w.Stdout(), "out%d\n", i)
			w.Flush()
			fmt.Fprintf(w.Stderr(), "err%d\n", i)
			w.Flush()
		}
		io.WriteString(w.Stderr(), bigErr)
		io.WriteString(w.Stdout(), "done\n")
		w.SetAppStatus(42)
	})
	addr := startTCP(t, &Server{Handler: h})
	c := dialConn(t, "tcp", addr)
	var log eventLog
	c.SetObserver(log.observe)
	var stdout, stderr bytes.Buffer
	res, err := c.Do(context.Background(), &Request{Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	if want := "out0\nout1\nout2\nout3\nout4\ndone\n"; stdout.String() != want {
		t.Errorf("stdout = %q, want %q", stdout.String(), want)
	}
	if want := "err0\nerr1\nerr2\nerr3\nerr4\n" + bigErr; stderr.String() != want {
		t.Errorf("stderr differs: %d bytes, want %d", stderr.Len(), len(want))
	}
	if !res.Ended || res.AppStatus != 42 || res.ProtocolStatus != RequestComplete {
		t.Errorf("Result = %+v", res)
	}
	if res.StdoutBytes != int64(stdout.Len()) || res.StderrBytes != int64(stderr.Len()) {
		t.Errorf("StdoutBytes %d, StderrBytes %d", res.StdoutBytes, res.StderrBytes)
	}
	// The records interleave on the wire; both streams end with an empty
	// record before END_REQUEST.
	var types []RecordType
	for _, e := range log.list(Received) {
		if len(types) == 0 || types[len(types)-1] != e.Header.Type {
			types = append(types, e.Header.Type)
		}
	}
	if len(types) < 10 || types[0] != TypeStdout || types[1] != TypeStderr || types[len(types)-1] != TypeEndRequest {
		t.Errorf("record types on the wire: %v", types)
	}
}

func TestDoAppStatusAndStderr(t *testing.T) {
	addr := startTCP(t, &Server{Handler: HandlerFunc(echoHandler)})
	c := dialConn(t, "tcp", addr)
	var stderr bytes.Buffer
	params := []Pair{{"APP_STATUS", "4294967295"}, {"STDERR", "PHP Warning: x\n"}}
	res, err := c.Do(context.Background(), &Request{Params: params, Stderr: &stderr}) // stdout discarded
	if err != nil {
		t.Fatal(err)
	}
	if res.AppStatus != 4294967295 || res.ProtocolStatus != RequestComplete || !res.Ended {
		t.Errorf("Result = %+v", res)
	}
	if stderr.String() != "PHP Warning: x\n" {
		t.Errorf("stderr = %q", stderr.String())
	}
	if res.StdoutBytes == 0 {
		t.Errorf("StdoutBytes = 0 although stdout was discarded, not absent")
	}
}

func TestDoKeepConnTwoRequests(t *testing.T) {
	addr := startTCP(t, &Server{Handler: HandlerFunc(echoHandler)})
	c := dialConn(t, "tcp", addr)
	for i, id := range []uint16{1, 2, 2, 65535} {
		var stdout bytes.Buffer
		params := []Pair{{"N", fmt.Sprint(i)}}
		stdin := []byte(strings.Repeat("s", i*1000))
		res, err := c.Do(context.Background(), &Request{ID: id, KeepConn: true, Params: params, Stdin: bytes.NewReader(stdin), Stdout: &stdout})
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		// Same connection (conn=1) every time.
		if want := echoOutput(id, RoleResponder, true, 1, params, stdin); stdout.String() != want {
			t.Errorf("request %d: stdout = %q, want %q", i, stdout.String(), want)
		}
		if !res.Ended || res.ProtocolStatus != RequestComplete {
			t.Errorf("request %d: %+v", i, res)
		}
		if !c.Reusable() {
			t.Fatalf("request %d: KeepConn connection not reusable", i)
		}
	}
}

func TestDoWithoutKeepConn(t *testing.T) {
	addr := startTCP(t, &Server{Handler: HandlerFunc(echoHandler)})
	c := dialConn(t, "tcp", addr)
	if !c.Reusable() {
		t.Fatal("a new Conn is not reusable")
	}
	res, err := c.Do(context.Background(), &Request{})
	if err != nil || !res.Ended {
		t.Fatalf("Do = %+v, %v", res, err)
	}
	if c.Reusable() {
		t.Errorf("Conn reusable after a request without KeepConn")
	}
	res, err = c.Do(context.Background(), &Request{})
	if !errors.Is(err, ErrConnBroken) || res == nil || res.Ended || res.BytesSent != 0 {
		t.Errorf("second Do = %+v, %v; want ErrConnBroken and nothing sent", res, err)
	}
	// The server closed its side.
	c.NetConn().SetReadDeadline(time.Now().Add(testBound))
	if n, err := c.NetConn().Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("read after the request = %d, %v; want EOF", n, err)
	}
}

func TestDoUnixSocket(t *testing.T) {
	path := startUnix(t, &Server{Handler: HandlerFunc(echoHandler)})
	c := dialConn(t, "unix", path)
	var stdout bytes.Buffer
	params := []Pair{{"OVER", "unix"}}
	if _, err := c.Do(context.Background(), &Request{Params: params, Stdin: strings.NewReader("hi"), Stdout: &stdout}); err != nil {
		t.Fatal(err)
	}
	if want := echoOutput(1, RoleResponder, false, 1, params, []byte("hi")); stdout.String() != want {
		t.Errorf("stdout = %q, want %q", stdout.String(), want)
	}
}

func TestDoNetPipe(t *testing.T) {
	cs, ss := net.Pipe()
	srv := &Server{Handler: HandlerFunc(echoHandler)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.ServeConn(ss)
	}()
	defer func() {
		cs.Close()
		<-done
	}()
	c := NewConn(cs)
	for i := range 3 {
		var stdout bytes.Buffer
		keep := i < 2
		stdin := bytes.Repeat([]byte{byte(i)}, 100000)
		res, err := c.Do(context.Background(), &Request{ID: uint16(i + 1), KeepConn: keep, Stdin: bytes.NewReader(stdin), Stdout: &stdout})
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if want := echoOutput(uint16(i+1), RoleResponder, keep, 1, nil, stdin); stdout.String() != want || !res.Ended {
			t.Errorf("request %d: stdout %q, Result %+v", i, stdout.String(), res)
		}
	}
	select {
	case <-done:
	case <-time.After(testBound):
		t.Fatal("ServeConn did not return after a request without KeepConn")
	}
}

func TestDoRoles(t *testing.T) {
	h := HandlerFunc(func(_ context.Context, w *ResponseWriter, r *ServerRequest) {
		stdin, err1 := io.ReadAll(r.Stdin)
		data, err2 := io.ReadAll(r.Data)
		fmt.Fprintf(w.Stdout(), "%v stdin=%q %v data=%q %v", r.Role, stdin, err1, data, err2)
	})
	addr := startTCP(t, &Server{Handler: h})
	c := dialConn(t, "tcp", addr)
	tests := []struct {
		role  Role
		stdin string
		data  string
		want  string
	}{
		{RoleResponder, "in", "", `RESPONDER stdin="in" <nil> data="" <nil>`},
		{RoleFilter, "in", "file data", `FILTER stdin="in" <nil> data="file data" <nil>`},
		{RoleFilter, "", "", `FILTER stdin="" <nil> data="" <nil>`},
		{RoleAuthorizer, "", "", `AUTHORIZER stdin="" <nil> data="" <nil>`},
	}
	for _, tt := range tests {
		var stdout bytes.Buffer
		req := &Request{Role: tt.role, KeepConn: true, Stdout: &stdout}
		if tt.stdin != "" {
			req.Stdin = strings.NewReader(tt.stdin)
		}
		if tt.data != "" {
			req.Data = strings.NewReader(tt.data)
		}
		if _, err := c.Do(context.Background(), req); err != nil {
			t.Fatalf("%v: %v", tt.role, err)
		}
		if stdout.String() != tt.want {
			t.Errorf("%v: stdout = %q, want %q", tt.role, stdout.String(), tt.want)
		}
	}
}

func TestServerGetValues(t *testing.T) {
	tests := []struct {
		name string
		srv  *Server
		ask  []Pair
		want []Pair
	}{
		{
			name: "standard names",
			srv:  &Server{MaxConns: 10, MaxReqs: 50, MultiplexConns: true},
			ask:  []Pair{{MaxConns, ""}, {MaxReqs, ""}, {MpxsConns, ""}},
			want: []Pair{{MaxConns, "10"}, {MaxReqs, "50"}, {MpxsConns, "1"}},
		},
		{
			name: "defaults, order of the question kept, unknown names left out",
			srv:  &Server{},
			ask:  []Pair{{MpxsConns, ""}, {"FCGI_OTHER", ""}, {MaxReqs, ""}, {MaxConns, "ignored"}},
			want: []Pair{{MpxsConns, "0"}, {MaxReqs, "1"}, {MaxConns, "1"}},
		},
		{
			name: "nothing asked",
			srv:  &Server{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := startTCP(t, tt.srv)
			c := dialRaw(t, addr)
			c.sendRecord(TypeGetValues, 0, EncodePairs(tt.ask))
			body := EncodePairs(tt.want)
			c.expect("GET_VALUES_RESULT", rec(TypeGetValuesResult, 0, string(body), managementPadding(len(body))))
			// The connection stays open for more.
			c.sendRecord(TypeGetValues, 0, EncodePairs(tt.ask))
			rec, err := c.r.ReadRecord()
			if err != nil || rec.Type != TypeGetValuesResult || !bytes.Equal(rec.Content, body) {
				t.Errorf("second answer %+v, %v", rec, err)
			}
		})
	}
}

func TestServerGetValuesExactBytes(t *testing.T) {
	addr := startTCP(t, &Server{MaxConns: 10, MaxReqs: 50})
	c := dialRaw(t, addr)
	// GET_VALUES for the three names, 48 bytes of content and 8 of padding.
	c.send(cat([]byte{1, 9, 0, 0, 0, 48, 8, 0},
		[]byte{14, 0}, "FCGI_MAX_CONNS", []byte{13, 0}, "FCGI_MAX_REQS", []byte{15, 0}, "FCGI_MPXS_CONNS",
		make([]byte, 8)))
	c.expect("GET_VALUES_RESULT", cat(
		[]byte{1, 10, 0, 0, 0, 53, 3, 0},
		[]byte{14, 2}, "FCGI_MAX_CONNS10",
		[]byte{13, 2}, "FCGI_MAX_REQS50",
		[]byte{15, 1}, "FCGI_MPXS_CONNS0",
		[]byte{0, 0, 0}))
}

func TestServerUnknownType(t *testing.T) {
	addr := startTCP(t, &Server{Handler: HandlerFunc(echoHandler)})
	c := dialRaw(t, addr)
	unknown := func(rt RecordType) []byte {
		return cat([]byte{1, 11, 0, 0, 0, 8, 8, 0, byte(rt), 0, 0, 0, 0, 0, 0, 0}, make([]byte, 8))
	}
	c.send(rec(20, 0, "", 0))
	c.expect("UNKNOWN_TYPE for type 20", unknown(20))
	c.send(rec(255, 0, "abc", 5))
	c.expect("UNKNOWN_TYPE for type 255", unknown(255))
	// An undefined type on a request id is answered the same way.
	c.send(rec(12, 9, "", 0))
	c.expect("UNKNOWN_TYPE for type 12 on id 9", unknown(12))
	// The connection still serves requests.
	c.send(beginRec(1, RoleResponder, 0), rec(TypeParams, 1, "", 0), rec(TypeStdin, 1, "", 0))
	got := c.readResponses(1)[1]
	if want := echoOutput(1, RoleResponder, false, 1, nil, nil); string(got.stdout) != want || *got.end != (EndRequest{}) {
		t.Errorf("response after UNKNOWN_TYPE: %q %+v", got.stdout, got.end)
	}
	c.expectEOF()
}

func TestServerCantMpxConn(t *testing.T) {
	addr := startTCP(t, &Server{Handler: HandlerFunc(echoHandler)})
	c := dialRaw(t, addr)
	c.send(beginRec(1, RoleResponder, FlagKeepConn), streamRec(TypeParams, 1, "\x01\x01ab"))
	c.send(beginRec(2, RoleResponder, 0), streamRec(TypeParams, 2, "\x01\x01cd"), rec(TypeParams, 2, "", 0), rec(TypeStdin, 2, "", 0))
	c.expect("END_REQUEST CANT_MPX_CONN for id 2", []byte{1, 3, 0, 2, 0, 8, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0})
	// Request 1 goes on undisturbed, and the connection stays open.
	c.send(rec(TypeParams, 1, "", 0), streamRec(TypeStdin, 1, "in"), rec(TypeStdin, 1, "", 0))
	got := c.readResponses(1)[1]
	if want := echoOutput(1, RoleResponder, true, 1, []Pair{{"a", "b"}}, []byte("in")); string(got.stdout) != want {
		t.Errorf("stdout = %q, want %q", got.stdout, want)
	}
	if *got.end != (EndRequest{}) || !got.stdoutClosed || got.stderr != nil {
		t.Errorf("response %+v", got)
	}
	c.send(rec(TypeGetValues, 0, "", 8))
	if r, err := c.r.ReadRecord(); err != nil || r.Type != TypeGetValuesResult {
		t.Errorf("connection unusable after CANT_MPX_CONN: %+v %v", r.Header, err)
	}
}

// On a multiplexed connection, a request without FCGI_KEEP_CONN that ends
// while another is in flight does not close the connection under it: the
// other's response comes whole, then the connection closes.
func TestServerCloseAfterLastMultiplexed(t *testing.T) {
	release := make(chan struct{})
	addr := startTCP(t, &Server{MultiplexConns: true, Handler: HandlerFunc(func(ctx context.Context, w *ResponseWriter, r *ServerRequest) {
		if r.ID == 1 {
			select {
			case <-release:
			case <-ctx.Done():
			}
		}
		io.WriteString(w.Stdout(), "Status: 200 OK\r\n\r\nanswer")
	})})
	c := dialRaw(t, addr)
	c.send(beginRec(1, RoleResponder, FlagKeepConn), rec(TypeParams, 1, "", 0), rec(TypeStdin, 1, "", 0))
	c.send(beginRec(2, RoleResponder, 0), rec(TypeParams, 2, "", 0), rec(TypeStdin, 2, "", 0))
	if got := c.readResponses(2)[2]; got.end == nil || *got.end != (EndRequest{}) {
		t.Fatalf("request 2: %+v", got)
	}
	close(release)
	got := c.readResponses(1)[1]
	if got.end == nil || *got.end != (EndRequest{}) || string(got.stdout) != "Status: 200 OK\r\n\r\nanswer" {
		t.Errorf("request 1: %+v", got)
	}
	c.expectEOF()
}

func TestServerUnknownRole(t *testing.T) {
	addr := startTCP(t, &Server{Handler: HandlerFunc(echoHandler)})
	for _, role := range []Role{0, 4, 0xffff} {
		c := dialRaw(t, addr)
		c.send(beginRec(1, role, 0), rec(TypeParams, 1, "", 0), rec(TypeStdin, 1, "", 0))
		c.expect("END_REQUEST UNKNOWN_ROLE", []byte{1, 3, 0, 1, 0, 8, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0})
		c.expectEOF()
	}
	// With KeepConn the connection stays open for the next request.
	c := dialRaw(t, addr)
	c.send(beginRec(7, 9, FlagKeepConn), rec(TypeParams, 7, "", 0), rec(TypeStdin, 7, "", 0))
	c.expect("END_REQUEST UNKNOWN_ROLE", endRec(7, 0, UnknownRole))
	c.send(beginRec(7, RoleResponder, 0), rec(TypeParams, 7, "", 0), rec(TypeStdin, 7, "", 0))
	if got := c.readResponses(7)[7]; got.end.ProtocolStatus != RequestComplete {
		t.Errorf("request after UNKNOWN_ROLE: %+v", got.end)
	}
}

func TestServerMultiplex(t *testing.T) {
	// Each handler waits for its whole stdin, so both are in flight at once.
	h := HandlerFunc(func(_ context.Context, w *ResponseWriter, r *ServerRequest) {
		in, err := io.ReadAll(r.Stdin)
		fmt.Fprintf(w.Stdout(), "id %d got %q %v %s", r.ID, in, err, r.Param("N"))
	})
	addr := startTCP(t, &Server{Handler: h, MultiplexConns: true})
	c := dialRaw(t, addr)
	c.send(
		beginRec(1, RoleResponder, FlagKeepConn),
		beginRec(2, RoleResponder, FlagKeepConn),
		streamRec(TypeParams, 2, "\x01\x03Ntwo"),
		streamRec(TypeParams, 1, "\x01\x03None"),
		rec(TypeParams, 2, "", 0),
		rec(TypeParams, 1, "", 0),
		streamRec(TypeStdin, 2, "bb"),
		streamRec(TypeStdin, 1, "aa"),
		streamRec(TypeStdin, 2, "BB"),
		rec(TypeStdin, 1, "", 0),
		streamRec(TypeStdin, 1, "ignored after the end"),
		rec(TypeStdin, 2, "", 0),
	)
	got := c.readResponses(1, 2)
	if s := string(got[1].stdout); s != `id 1 got "aa" <nil> one` {
		t.Errorf("request 1 stdout = %q", s)
	}
	if s := string(got[2].stdout); s != `id 2 got "bbBB" <nil> two` {
		t.Errorf("request 2 stdout = %q", s)
	}
	for id, r := range got {
		if *r.end != (EndRequest{}) || !r.stdoutClosed {
			t.Errorf("request %d: %+v", id, r)
		}
	}
}

func TestServerMultiplexInterleaved(t *testing.T) {
	// Request 1's handler cannot finish before request 2 has answered:
	// only a server running both at once passes.
	release := make(chan struct{})
	h := HandlerFunc(func(_ context.Context, w *ResponseWriter, r *ServerRequest) {
		if r.ID == 1 {
			io.WriteString(w.Stdout(), "first part;")
			w.Flush()
			select {
			case <-release:
			case <-time.After(testBound):
			}
			io.WriteString(w.Stdout(), "second part")
			return
		}
		io.WriteString(w.Stdout(), "two")
	})
	addr := startTCP(t, &Server{Handler: h, MultiplexConns: true})
	c := dialRaw(t, addr)
	c.send(beginRec(1, RoleResponder, FlagKeepConn), rec(TypeParams, 1, "", 0), rec(TypeStdin, 1, "", 0))
	c.expect("first STDOUT of request 1", streamRec(TypeStdout, 1, "first part;"))
	c.send(beginRec(2, RoleResponder, FlagKeepConn), rec(TypeParams, 2, "", 0), rec(TypeStdin, 2, "", 0))
	got2 := c.readResponses(2)[2]
	close(release)
	got1 := c.readResponses(1)[1]
	if string(got1.stdout) != "second part" || string(got2.stdout) != "two" {
		t.Errorf("stdout 1 %q, 2 %q", got1.stdout, got2.stdout)
	}
}

func TestServerOverloaded(t *testing.T) {
	srv := &Server{Handler: HandlerFunc(echoHandler), MaxReqs: 1}
	addr := startTCP(t, srv)
	a := dialRaw(t, addr)
	a.send(beginRec(1, RoleResponder, FlagKeepConn))
	// The answer to GET_VALUES proves BEGIN_REQUEST was handled.
	a.send(rec(TypeGetValues, 0, "", 8))
	if r, err := a.r.ReadRecord(); err != nil || r.Type != TypeGetValuesResult {
		t.Fatalf("%+v %v", r.Header, err)
	}
	b := dialRaw(t, addr)
	b.send(beginRec(1, RoleResponder, 0), rec(TypeParams, 1, "", 0), rec(TypeStdin, 1, "", 0))
	b.expect("END_REQUEST OVERLOADED", []byte{1, 3, 0, 1, 0, 8, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0})
	b.expectEOF()

	// The same through a client Conn.
	cc := dialConn(t, "tcp", addr)
	res, err := cc.Do(context.Background(), &Request{})
	if err != nil || !res.Ended || res.ProtocolStatus != Overloaded {
		t.Errorf("Do = %+v, %v; want OVERLOADED", res, err)
	}

	// Once request 1 is over, the slot is free again.
	a.send(rec(TypeParams, 1, "", 0), rec(TypeStdin, 1, "", 0))
	a.readResponses(1)
	d := dialConn(t, "tcp", addr)
	if res, err := d.Do(context.Background(), &Request{}); err != nil || res.ProtocolStatus != RequestComplete {
		t.Errorf("Do after the slot freed = %+v, %v", res, err)
	}
}

func TestServerMaxReqsKeepConn(t *testing.T) {
	// With MaxReqs 1, request after request on one KeepConn connection
	// must never be refused: the slot is free once END_REQUEST is sent.
	addr := startTCP(t, &Server{Handler: HandlerFunc(echoHandler), MaxReqs: 1})
	c := dialConn(t, "tcp", addr)
	for i := range 30 {
		res, err := c.Do(context.Background(), &Request{KeepConn: true})
		if err != nil || res.ProtocolStatus != RequestComplete {
			t.Fatalf("request %d: %+v, %v", i, res, err)
		}
	}
}

func TestServerMaxReqsAbandoned(t *testing.T) {
	// A client that begins a request and goes away must not keep its
	// slot: with MaxReqs 1 the next request is served.
	srv := &Server{Handler: HandlerFunc(echoHandler), MaxReqs: 1}
	for i := range 3 {
		cs, ss := net.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			srv.ServeConn(ss)
		}()
		w := NewWriter(cs)
		w.WriteRecord(TypeBeginRequest, 1, BeginRequest{Role: RoleResponder}.Encode())
		if i == 1 {
			w.WriteRecord(TypeParams, 1, []byte{1, 1, 'a', 'b'})
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		cs.Close()
		<-done
	}
	if n := srv.active.Load(); n != 0 {
		t.Errorf("%d requests still counted active", n)
	}
	cs, ss := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.ServeConn(ss)
	}()
	defer func() { cs.Close(); <-done }()
	res, err := NewConn(cs).Do(context.Background(), &Request{})
	if err != nil || res.ProtocolStatus != RequestComplete {
		t.Errorf("Do = %+v, %v; want REQUEST_COMPLETE", res, err)
	}
}

func TestServerAbortRequest(t *testing.T) {
	h := HandlerFunc(func(ctx context.Context, w *ResponseWriter, r *ServerRequest) {
		_, err := io.ReadAll(r.Stdin)
		select {
		case <-ctx.Done():
		case <-time.After(testBound):
		}
		fmt.Fprintf(w.Stdout(), "stdin: %v; ctx: %v", err, ctx.Err())
		w.SetAppStatus(1)
	})
	addr := startTCP(t, &Server{Handler: h})

	// Aborted while the handler runs: its context ends, stdin fails.
	c := dialRaw(t, addr)
	c.send(beginRec(1, RoleResponder, FlagKeepConn), rec(TypeParams, 1, "", 0), streamRec(TypeStdin, 1, "part"))
	c.send(rec(TypeAbortRequest, 1, "", 0))
	got := c.readResponses(1)[1]
	if s := string(got.stdout); s != "stdin: request aborted by the client; ctx: context canceled" {
		t.Errorf("stdout = %q", s)
	}
	if *got.end != (EndRequest{AppStatus: 1}) {
		t.Errorf("END_REQUEST %+v", got.end)
	}

	// Aborted before the params ended: answered at once, nothing run.
	c.send(beginRec(2, RoleResponder, FlagKeepConn), streamRec(TypeParams, 2, "\x01\x01ab"), rec(TypeAbortRequest, 2, "", 0))
	c.expect("END_REQUEST for the early abort", endRec(2, 0, RequestComplete))
	// Records for the aborted request that were already on their way are dropped.
	c.send(rec(TypeParams, 2, "", 0), rec(TypeStdin, 2, "", 0), rec(TypeAbortRequest, 2, "", 0))
	c.send(rec(TypeGetValues, 0, "", 8))
	if r, err := c.r.ReadRecord(); err != nil || r.Type != TypeGetValuesResult {
		t.Errorf("after the early abort: %+v %v", r.Header, err)
	}

	// Without KeepConn an early abort closes the connection.
	c2 := dialRaw(t, addr)
	c2.send(beginRec(3, RoleResponder, 0), rec(TypeAbortRequest, 3, "", 0))
	c2.expect("END_REQUEST", endRec(3, 0, RequestComplete))
	c2.expectEOF()
}

func TestServerOnError(t *testing.T) {
	tests := []struct {
		name     string
		mpx      bool
		maxPar   int
		send     []byte
		sentinel error
		offset   int64
	}{
		{"bad version", false, 0, cat(rec(TypeGetValues, 0, "", 8), []byte{2, 1, 0, 1, 0, 8, 0, 0}), ErrBadVersion, 16},
		{"BEGIN_REQUEST body too short", false, 0, rec(TypeBeginRequest, 1, "\x00\x01\x00", 5), ErrBadBody, 0},
		{"duplicate request id", true, 0, cat(beginRec(1, RoleResponder, 0), beginRec(1, RoleResponder, 0)), ErrRequestID, 16},
		{"params too large", false, 10, cat(beginRec(1, RoleResponder, 0), streamRec(TypeParams, 1, "\x01\x03abcd"), streamRec(TypeParams, 1, "\x01\x03efgh")), ErrTooLarge, 32},
		{"malformed params", false, 0, cat(beginRec(1, RoleResponder, 0), streamRec(TypeParams, 1, "\x01\x05ab"), rec(TypeParams, 1, "", 0)), ErrBadPair, 32},
		{"stdin before params ended", false, 0, cat(beginRec(1, RoleResponder, 0), streamRec(TypeStdin, 1, "x")), ErrUnexpectedType, 16},
		{"STDOUT sent to an application", false, 0, cat(beginRec(1, RoleResponder, 0), streamRec(TypeStdout, 1, "x")), ErrUnexpectedType, 16},
		{"truncated record", false, 0, []byte{1, 1, 0, 1, 0, 8, 0, 0, 0}, ErrTruncated, 0},
		{"malformed GET_VALUES", false, 0, rec(TypeGetValues, 0, "\x05", 7), ErrBadPair, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := make(chan error, 1)
			srv := Server{Handler: HandlerFunc(echoHandler), MultiplexConns: tt.mpx, MaxParamsBytes: tt.maxPar}
			srv.OnError = func(connID uint64, err error) {
				if connID != 1 {
					t.Errorf("connID = %d", connID)
				}
				errs <- err
			}
			addr := startTCP(t, &srv)
			c := dialRaw(t, addr)
			c.send(tt.send)
			if tt.name == "bad version" {
				c.r.ReadRecord() // the GET_VALUES answer
			}
			if tt.name != "truncated record" {
				c.expectEOF()
			} else {
				c.nc.(*net.TCPConn).CloseWrite()
				c.expectEOF()
			}
			var err error
			select {
			case err = <-errs:
			default:
				t.Fatal("OnError not called before the connection closed")
			}
			if !errors.Is(err, tt.sentinel) {
				t.Fatalf("error = %v, want %v", err, tt.sentinel)
			}
			var pe *ProtocolError
			if !errors.As(err, &pe) || pe.Offset != tt.offset {
				t.Errorf("error %v: want offset %d", err, tt.offset)
			}
		})
	}
}

func TestServerRequestFields(t *testing.T) {
	got := make(chan ServerRequest, 1)
	h := HandlerFunc(func(_ context.Context, w *ResponseWriter, r *ServerRequest) {
		got <- *r
	})
	addr := startTCP(t, &Server{Handler: h})
	c := dialConn(t, "tcp", addr)
	params := []Pair{{"A", "1"}, {"B", "2"}, {"A", "3"}}
	if _, err := c.Do(context.Background(), &Request{ID: 77, Params: params, KeepConn: true}); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r.ID != 77 || r.Role != RoleResponder || r.Flags != FlagKeepConn || !r.KeepConn() || r.ConnID != 1 {
		t.Errorf("request %+v", r)
	}
	if !reflect.DeepEqual(r.Params, params) || r.ParamsBytes != len(EncodePairs(params)) {
		t.Errorf("params %q, %d bytes", r.Params, r.ParamsBytes)
	}
	if r.Param("A") != "3" || r.Param("C") != "" {
		t.Errorf("Param(A) = %q, Param(C) = %q", r.Param("A"), r.Param("C"))
	}
	if r.LocalAddr.String() != addr || r.RemoteAddr.String() != c.NetConn().LocalAddr().String() {
		t.Errorf("addresses %v %v", r.LocalAddr, r.RemoteAddr)
	}
}

func TestServerObserverAndLargeStdout(t *testing.T) {
	big := make([]byte, 3*MaxContent+10)
	for i := range big {
		big[i] = byte(i)
	}
	h := HandlerFunc(func(_ context.Context, w *ResponseWriter, r *ServerRequest) {
		io.Copy(io.Discard, r.Stdin)
		w.Stdout().Write(big[:100])
		w.Stdout().Write(big[100:])
	})
	var log eventLog
	srv := &Server{Handler: h, Observer: func(connID uint64) Observer { return log.observe }}
	addr := startTCP(t, srv)
	c := dialConn(t, "tcp", addr)
	var stdout bytes.Buffer
	if _, err := c.Do(context.Background(), &Request{Stdout: &stdout}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stdout.Bytes(), big) {
		t.Errorf("stdout differs: %d bytes, want %d", stdout.Len(), len(big))
	}
	// Server side: full records of 65535 bytes, then the rest, the empty
	// closing record and END_REQUEST, at consecutive offsets.
	sent := log.list(Sent)
	wantLens := []uint16{65535, 65535, 65535, 10, 0, 8}
	if len(sent) != len(wantLens) {
		t.Fatalf("%d records sent, want %d", len(sent), len(wantLens))
	}
	var off int64
	for i, e := range sent {
		if e.Offset != off || e.Header.ContentLength != wantLens[i] {
			t.Errorf("sent %d: offset %d len %d, want %d %d", i, e.Offset, e.Header.ContentLength, off, wantLens[i])
		}
		off += int64(e.Header.Len())
	}
	// BEGIN_REQUEST, the empty PARAMS and the empty STDIN.
	if n := len(log.list(Received)); n != 3 {
		t.Errorf("%d records received by the server, want 3", n)
	}
}

func TestServerShutdownWaits(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	h := HandlerFunc(func(_ context.Context, w *ResponseWriter, r *ServerRequest) {
		close(started)
		<-release
		io.WriteString(w.Stdout(), "finished")
	})
	srv := &Server{Handler: h}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	c := dialConn(t, "tcp", l.Addr().String())
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	go func() {
		var stdout bytes.Buffer
		_, err := c.Do(context.Background(), &Request{Stdout: &stdout})
		done <- result{stdout.String(), err}
	}()
	<-started
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), testBound)
		defer cancel()
		shut <- srv.Shutdown(ctx)
	}()
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve = %v", err)
	}
	close(release)
	if err := <-shut; err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	if r := <-done; r.err != nil || r.out != "finished" {
		t.Errorf("request in flight during Shutdown: %q, %v", r.out, r.err)
	}
	if err := srv.Serve(l); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Shutdown = %v", err)
	}
}

// TestServerShutdownRefusesNewRequests: once Shutdown has begun, a request
// on a connection already open is answered OVERLOADED instead of started,
// while the one in flight still finishes.
func TestServerShutdownRefusesNewRequests(t *testing.T) {
	started := make(chan struct{})
	var once sync.Once
	release := make(chan struct{})
	h := HandlerFunc(func(_ context.Context, w *ResponseWriter, r *ServerRequest) {
		once.Do(func() { close(started) })
		<-release
		io.WriteString(w.Stdout(), "finished")
	})
	srv := &Server{Handler: h}
	addr := startTCP(t, srv)
	a := dialRaw(t, addr)
	a.send(beginRec(1, RoleResponder, 0), rec(TypeParams, 1, "", 0), rec(TypeStdin, 1, "", 0))
	<-started
	b := dialRaw(t, addr)
	// The answer to GET_VALUES proves the server holds b's connection.
	b.send(rec(TypeGetValues, 0, "", 8))
	if r, err := b.r.ReadRecord(); err != nil || r.Type != TypeGetValuesResult {
		t.Fatalf("%+v %v", r.Header, err)
	}
	shut := beginShutdown(t, srv)
	b.send(beginRec(1, RoleResponder, 0), rec(TypeParams, 1, "", 0), rec(TypeStdin, 1, "", 0))
	b.expect("END_REQUEST OVERLOADED", []byte{1, 3, 0, 1, 0, 8, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0})
	b.expectEOF()
	close(release)
	if got := a.readResponses(1)[1]; string(got.stdout) != "finished" || got.end.ProtocolStatus != RequestComplete {
		t.Errorf("request in flight: %q, %+v", got.stdout, got.end)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown = %v", err)
	}
}

func TestServerShutdownDeadline(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	h := HandlerFunc(func(ctx context.Context, w *ResponseWriter, r *ServerRequest) {
		close(started)
		select {
		case <-release:
		case <-ctx.Done():
		}
	})
	srv := &Server{Handler: h}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	c := dialConn(t, "tcp", l.Addr().String())
	done := make(chan error, 1)
	go func() {
		_, err := c.Do(context.Background(), &Request{})
		done <- err
	}()
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := srv.Shutdown(ctx); err != context.Canceled {
		t.Errorf("Shutdown = %v, want context.Canceled", err)
	}
	// Shutdown closed the connection: the client hears it and the handler's
	// context ends.
	if err := <-done; !errors.Is(err, ErrNoEndRequest) {
		t.Errorf("Do = %v, want ErrNoEndRequest", err)
	}
	<-served
	close(release)
}

func TestServerAnswerWithoutReadingStdin(t *testing.T) {
	// The handler answers without reading the body while the client is
	// still sending it. The whole answer must reach the client: closing
	// with unread input would reset the connection and drop what is
	// still queued to send.
	out := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	h := HandlerFunc(func(_ context.Context, w *ResponseWriter, r *ServerRequest) {
		w.Stdout().Write(out)
	})
	addr := startTCP(t, &Server{Handler: h})
	for i := range 3 {
		c := dialConn(t, "tcp", addr)
		var stdout bytes.Buffer
		res, err := c.Do(context.Background(), &Request{Stdin: bytes.NewReader(make([]byte, 4<<20)), Stdout: &stdout})
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if !res.Ended || !bytes.Equal(stdout.Bytes(), out) {
			t.Fatalf("request %d: Result %+v, %d stdout bytes", i, res, stdout.Len())
		}
		c.Close()
	}
}

// TestServerMaxReqsConcurrentBegins: connections that begin requests at
// the same moment never run more than MaxReqs handlers at once; the rest
// are answered OVERLOADED.
func TestServerMaxReqsConcurrentBegins(t *testing.T) {
	const conns, limit = 16, 2
	var running, most atomic.Int64
	release := make(chan struct{})
	h := HandlerFunc(func(_ context.Context, w *ResponseWriter, r *ServerRequest) {
		n := running.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		<-release
		running.Add(-1)
	})
	srv := &Server{Handler: h, MaxReqs: limit}
	addr := startTCP(t, srv)
	cs := make([]*rawConn, conns)
	for i := range cs {
		cs[i] = dialRaw(t, addr)
	}
	request := slices.Concat(beginRec(1, RoleResponder, 0), rec(TypeParams, 1, "", 0), rec(TypeStdin, 1, "", 0))
	start := make(chan struct{})
	statuses := make(chan ProtocolStatus, conns)
	var overloaded atomic.Int64
	for _, c := range cs {
		go func() {
			<-start
			if _, err := c.nc.Write(request); err != nil {
				statuses <- 255
				return
			}
			for range 10 {
				rec, err := c.r.ReadRecord()
				if err != nil {
					statuses <- 255
					return
				}
				if rec.Type == TypeEndRequest {
					er, _ := DecodeEndRequest(rec.Content)
					if er.ProtocolStatus == Overloaded {
						overloaded.Add(1)
					}
					statuses <- er.ProtocolStatus
					return
				}
			}
			statuses <- 255
		}()
	}
	close(start)
	// Wait until every request is either running or refused, then let the
	// running ones finish.
	for deadline := time.Now().Add(testBound); overloaded.Load()+running.Load() < conns; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d running, %d refused, of %d", running.Load(), overloaded.Load(), conns)
		}
	}
	close(release)
	count := map[ProtocolStatus]int{}
	for range conns {
		count[<-statuses]++
	}
	if m := most.Load(); m > limit {
		t.Errorf("%d handlers ran at once, MaxReqs is %d", m, limit)
	}
	if count[Overloaded] != conns-limit || count[RequestComplete] != limit {
		t.Errorf("answers %v, want %d OVERLOADED and %d REQUEST_COMPLETE", count, conns-limit, limit)
	}
}

// refusal is one call of Server.OnRefuse.
type refusal struct {
	conn        uint64
	id          uint16
	role        Role
	flags       uint8
	params      []Pair
	paramsBytes int
	streams     bool // Stdin or Data set
	status      ProtocolStatus
	why         RefuseReason
}

// refusals returns an OnRefuse that records its calls on a channel.
func refusals() (func(*ServerRequest, ProtocolStatus, RefuseReason), chan refusal) {
	ch := make(chan refusal, 10)
	return func(r *ServerRequest, status ProtocolStatus, why RefuseReason) {
		ch <- refusal{r.ConnID, r.ID, r.Role, r.Flags, r.Params, r.ParamsBytes, r.Stdin != nil || r.Data != nil, status, why}
	}, ch
}

// expectRefusal checks that OnRefuse was called, as want, before the
// END_REQUEST the client just read went out.
func expectRefusal(t *testing.T, ch chan refusal, want refusal) {
	t.Helper()
	select {
	case got := <-ch:
		if !reflect.DeepEqual(got, want) {
			t.Errorf("OnRefuse got %+v, want %+v", got, want)
		}
	default:
		t.Errorf("OnRefuse not called before END_REQUEST %v went out", want.status)
	}
}

// expectNoRefusal checks that OnRefuse heard of nothing more.
func expectNoRefusal(t *testing.T, ch chan refusal) {
	t.Helper()
	select {
	case got := <-ch:
		t.Errorf("OnRefuse called for %+v", got)
	default:
	}
}

// TestServerOnRefuse: each request the server answers itself is told to
// OnRefuse with the status it answers and why, and the requests it serves
// are not.
func TestServerOnRefuse(t *testing.T) {
	tests := []struct {
		name string
		srv  *Server
		run  func(t *testing.T, addr string, ch chan refusal)
	}{
		{"CANT_MPX_CONN", &Server{}, func(t *testing.T, addr string, ch chan refusal) {
			c := dialRaw(t, addr)
			c.send(beginRec(1, RoleResponder, FlagKeepConn), streamRec(TypeParams, 1, "\x01\x01ab"))
			c.send(beginRec(2, RoleFilter, 0), streamRec(TypeParams, 2, "\x01\x01cd"), rec(TypeParams, 2, "", 0))
			c.expect("END_REQUEST CANT_MPX_CONN", endRec(2, 0, CantMpxConn))
			expectRefusal(t, ch, refusal{conn: 1, id: 2, role: RoleFilter, status: CantMpxConn, why: RefusedMpx})
			c.send(rec(TypeParams, 1, "", 0), rec(TypeStdin, 1, "", 0))
			if got := c.readResponses(1)[1]; got.end.ProtocolStatus != RequestComplete {
				t.Errorf("request 1: %+v", got.end)
			}
		}},
		{"undefined role", &Server{}, func(t *testing.T, addr string, ch chan refusal) {
			c := dialRaw(t, addr)
			c.send(beginRec(3, 9, FlagKeepConn))
			c.expect("END_REQUEST UNKNOWN_ROLE", endRec(3, 0, UnknownRole))
			expectRefusal(t, ch, refusal{conn: 1, id: 3, role: 9, flags: FlagKeepConn, status: UnknownRole, why: RefusedRole})
		}},
		{"RefuseRole", &Server{RefuseRole: func(r Role) bool { return r == RoleAuthorizer }}, func(t *testing.T, addr string, ch chan refusal) {
			c := dialRaw(t, addr)
			c.send(beginRec(4, RoleAuthorizer, 0), streamRec(TypeParams, 4, "\x01\x01ab"), rec(TypeParams, 4, "", 0))
			c.expect("END_REQUEST UNKNOWN_ROLE", endRec(4, 0, UnknownRole))
			expectRefusal(t, ch, refusal{conn: 1, id: 4, role: RoleAuthorizer, status: UnknownRole, why: RefusedRole})
			c.expectEOF()
		}},
		{"MaxConns", &Server{MaxConns: 1}, func(t *testing.T, addr string, ch chan refusal) {
			// The answers to GET_VALUES prove the server holds both. The
			// first has a request begun: it is not idle, so it does not
			// give way to the second.
			a := dialRaw(t, addr)
			a.send(beginRec(1, RoleResponder, 0))
			a.sendRecord(TypeGetValues, 0, nil)
			if r, err := a.r.ReadRecord(); err != nil || r.Type != TypeGetValuesResult {
				t.Fatalf("%+v %v", r.Header, err)
			}
			b := dialRaw(t, addr)
			b.sendRecord(TypeGetValues, 0, nil)
			if r, err := b.r.ReadRecord(); err != nil || r.Type != TypeGetValuesResult {
				t.Fatalf("%+v %v", r.Header, err)
			}
			b.send(beginRec(1, RoleResponder, 0))
			b.expect("END_REQUEST OVERLOADED", endRec(1, 0, Overloaded))
			expectRefusal(t, ch, refusal{conn: 2, id: 1, role: RoleResponder, status: Overloaded, why: RefusedMaxConns})
			a.send(rec(TypeParams, 1, "", 0), rec(TypeStdin, 1, "", 0))
			if got := a.readResponses(1)[1]; got.end.ProtocolStatus != RequestComplete {
				t.Errorf("request on the first connection: %+v", got.end)
			}
		}},
		{"aborted before its params ended", &Server{}, func(t *testing.T, addr string, ch chan refusal) {
			c := dialRaw(t, addr)
			c.send(beginRec(5, RoleResponder, FlagKeepConn), streamRec(TypeParams, 5, "\x01\x01ab"), rec(TypeAbortRequest, 5, "", 0))
			c.expect("END_REQUEST REQUEST_COMPLETE", endRec(5, 0, RequestComplete))
			expectRefusal(t, ch, refusal{conn: 1, id: 5, role: RoleResponder, flags: FlagKeepConn, status: RequestComplete, why: RefusedAborted})
		}},
		{"MaxReqs", &Server{MaxReqs: 1, MultiplexConns: true}, func(t *testing.T, addr string, ch chan refusal) {
			c := dialRaw(t, addr)
			c.send(beginRec(1, RoleResponder, 0), beginRec(2, RoleResponder, FlagKeepConn))
			c.expect("END_REQUEST OVERLOADED", endRec(2, 0, Overloaded))
			expectRefusal(t, ch, refusal{conn: 1, id: 2, role: RoleResponder, flags: FlagKeepConn, status: Overloaded, why: RefusedMaxReqs})
			c.send(rec(TypeParams, 1, "", 0), rec(TypeStdin, 1, "", 0))
			if got := c.readResponses(1)[1]; got.end.ProtocolStatus != RequestComplete {
				t.Errorf("request 1: %+v", got.end)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := tt.srv
			srv.Handler = HandlerFunc(echoHandler)
			var ch chan refusal
			srv.OnRefuse, ch = refusals()
			tt.run(t, startTCP(t, srv), ch)
			expectNoRefusal(t, ch)
		})
	}
}

// TestServerOnRefuseShutdown: a request refused because Shutdown began
// after it arrived is told to OnRefuse with the params it had sent.
func TestServerOnRefuseShutdown(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	h := HandlerFunc(func(_ context.Context, w *ResponseWriter, r *ServerRequest) {
		close(started)
		<-release
	})
	onRefuse, ch := refusals()
	srv := &Server{Handler: h, OnRefuse: onRefuse}
	addr := startTCP(t, srv)
	a := dialRaw(t, addr)
	a.send(beginRec(1, RoleResponder, 0), rec(TypeParams, 1, "", 0), rec(TypeStdin, 1, "", 0))
	<-started
	b := dialRaw(t, addr)
	b.send(rec(TypeGetValues, 0, "", 8))
	if r, err := b.r.ReadRecord(); err != nil || r.Type != TypeGetValuesResult {
		t.Fatalf("%+v %v", r.Header, err)
	}
	shut := beginShutdown(t, srv)
	b.send(beginRec(5, RoleResponder, 0), streamRec(TypeParams, 5, "\x01\x03Ntwo"), rec(TypeParams, 5, "", 0))
	b.expect("END_REQUEST OVERLOADED", endRec(5, 0, Overloaded))
	expectRefusal(t, ch, refusal{conn: 2, id: 5, role: RoleResponder, params: []Pair{{"N", "two"}}, paramsBytes: 6, status: Overloaded, why: RefusedShutdown})
	close(release)
	if got := a.readResponses(1)[1]; got.end.ProtocolStatus != RequestComplete {
		t.Errorf("request in flight: %+v", got.end)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	expectNoRefusal(t, ch)
}

func TestRefuseReasonString(t *testing.T) {
	for r, want := range map[RefuseReason]string{
		RefusedMpx: "no multiplexing", RefusedRole: "role refused", RefusedMaxConns: "too many connections",
		RefusedMaxReqs: "too many requests", RefusedShutdown: "shutting down", RefusedAborted: "aborted before it started",
		0: "reason 0", 9: "reason 9",
	} {
		if got := r.String(); got != want {
			t.Errorf("RefuseReason(%d) = %q, want %q", r, got, want)
		}
	}
}

// TestServerShutdownIdleConnsNoError: the connections Shutdown closes, idle
// or halfway through a record, are not reported to OnError: nothing went
// wrong on them.
func TestServerShutdownIdleConnsNoError(t *testing.T) {
	var mu sync.Mutex
	var errs []error
	srv := &Server{Handler: HandlerFunc(echoHandler), OnError: func(_ uint64, err error) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, err)
	}}
	addr := startTCP(t, srv)
	idle := dialRaw(t, addr)
	half := dialRaw(t, addr)
	// The answers to GET_VALUES prove the server holds both connections.
	for _, c := range []*rawConn{idle, half} {
		c.send(rec(TypeGetValues, 0, "", 8))
		if r, err := c.r.ReadRecord(); err != nil || r.Type != TypeGetValuesResult {
			t.Fatalf("%+v %v", r.Header, err)
		}
	}
	half.send(beginRec(1, RoleResponder, FlagKeepConn)[:5])
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	idle.expectEOF()
	half.expectEOF()
	// OnError would be called before the connection is forgotten.
	for deadline := time.Now().Add(testBound); ; time.Sleep(time.Millisecond) {
		srv.mu.Lock()
		n := len(srv.conns)
		srv.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still served after Shutdown", n)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(errs) > 0 {
		t.Errorf("OnError heard %v", errs)
	}
}

// beginShutdown starts srv.Shutdown in the background, waits until it has
// begun (the server is closed to new work), and returns where its result
// will come.
func beginShutdown(t *testing.T, srv *Server) chan error {
	t.Helper()
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), testBound)
		defer cancel()
		shut <- srv.Shutdown(ctx)
	}()
	for deadline := time.Now().Add(testBound); ; time.Sleep(time.Millisecond) {
		srv.mu.Lock()
		closed := srv.closed
		srv.mu.Unlock()
		if closed {
			return shut
		}
		if time.Now().After(deadline) {
			t.Fatal("Shutdown did not begin")
		}
	}
}
