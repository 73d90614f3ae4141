package fcgiwire

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
)

// The hot paths of a client under load: encoding a request and decoding a
// response allocate nothing per record once warmed up. The benchmarks
// report ns/op and allocs/op; TestHotPathsAllocateNothing holds them to 0.

// benchParams are the params nginx's stock fastcgi_params send, more or
// less: 20 pairs, 448 bytes on the wire with the records around them.
var benchParams = []Pair{
	{"QUERY_STRING", ""}, {"REQUEST_METHOD", "GET"}, {"CONTENT_TYPE", ""}, {"CONTENT_LENGTH", ""},
	{"SCRIPT_NAME", "/index.php"}, {"REQUEST_URI", "/index.php"}, {"DOCUMENT_URI", "/index.php"},
	{"DOCUMENT_ROOT", "/var/www/html"}, {"SERVER_PROTOCOL", "HTTP/1.1"}, {"REQUEST_SCHEME", "http"},
	{"GATEWAY_INTERFACE", "CGI/1.1"}, {"SERVER_SOFTWARE", "fcgicli"}, {"REMOTE_ADDR", "127.0.0.1"},
	{"REMOTE_PORT", "0"}, {"SERVER_ADDR", "127.0.0.1"}, {"SERVER_PORT", "80"}, {"SERVER_NAME", "localhost"},
	{"REDIRECT_STATUS", "200"}, {"SCRIPT_FILENAME", "/var/www/html/index.php"}, {"HTTP_HOST", "localhost"},
}

// requestEncoder encodes whole requests, reusing its buffers.
type requestEncoder struct {
	w      *Writer
	params []byte
	begin  [8]byte
}

func (e *requestEncoder) encode(id uint16, pairs []Pair, stdin []byte) error {
	BeginRequest{Role: RoleResponder, Flags: FlagKeepConn}.put(&e.begin)
	if err := e.w.WriteRecord(TypeBeginRequest, id, e.begin[:]); err != nil {
		return err
	}
	e.params = e.params[:0]
	for _, p := range pairs {
		if len(e.params)+PairSize(p) > MaxContent {
			if err := e.w.WriteRecord(TypeParams, id, e.params); err != nil {
				return err
			}
			e.params = e.params[:0]
		}
		e.params = AppendPair(e.params, p)
	}
	if err := e.w.WriteRecord(TypeParams, id, e.params); err != nil {
		return err
	}
	if err := e.w.WriteRecord(TypeParams, id, nil); err != nil {
		return err
	}
	if err := e.w.WriteStream(TypeStdin, id, stdin); err != nil {
		return err
	}
	if err := e.w.WriteRecord(TypeStdin, id, nil); err != nil {
		return err
	}
	return e.w.Flush()
}

// repeatReader yields the same bytes over and over.
type repeatReader struct {
	b   []byte
	off int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := copy(p, r.b[r.off:])
	r.off = (r.off + n) % len(r.b)
	return n, nil
}

// benchResponse is a response as php-fpm sends a small page: a STDOUT
// record with the headers and 4 KiB of body, the empty STDOUT record and
// END_REQUEST.
func benchResponse() []byte {
	var b bytes.Buffer
	w := NewWriter(&b)
	body := "Content-type: text/html; charset=UTF-8\r\n\r\n" + strings.Repeat("x", 4096)
	_ = w.WriteStream(TypeStdout, 1, []byte(body))
	_ = w.WriteRecord(TypeStdout, 1, nil)
	_ = w.WriteRecord(TypeEndRequest, 1, EndRequest{}.Encode())
	_ = w.Flush()
	return b.Bytes()
}

// decodeResponse reads one response's records up to END_REQUEST.
func decodeResponse(r *Reader) (int, error) {
	n := 0
	for {
		rec, err := r.ReadRecord()
		if err != nil {
			return n, err
		}
		switch rec.Type {
		case TypeStdout:
			n += len(rec.Content)
		case TypeEndRequest:
			if _, err := DecodeEndRequest(rec.Content); err != nil {
				return n, err
			}
			return n, nil
		}
	}
}

func BenchmarkWriteRecord(b *testing.B) {
	w := NewWriter(io.Discard)
	content := make([]byte, 4096)
	b.SetBytes(int64(len(content)))
	b.ReportAllocs()
	for b.Loop() {
		if err := w.WriteRecord(TypeStdin, 1, content); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadRecord(b *testing.B) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	_ = w.WriteRecord(TypeStdout, 1, make([]byte, 4096))
	_ = w.Flush()
	r := NewReader(&repeatReader{b: buf.Bytes()})
	b.SetBytes(4096)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.ReadRecord(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeRequest(b *testing.B) {
	e := &requestEncoder{w: NewWriter(io.Discard)}
	b.ReportAllocs()
	for b.Loop() {
		if err := e.encode(1, benchParams, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeResponse(b *testing.B) {
	resp := benchResponse()
	r := NewReader(&repeatReader{b: resp})
	b.SetBytes(int64(len(resp)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeResponse(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConnDo is a whole request on a kept-alive unix socket through
// Conn.Do, against a peer that answers each request with a pre-encoded
// response as soon as its empty STDIN record arrives, its records' request
// id set to the request's: what the client costs per request, its
// goroutine hand-offs and system calls included. The client numbers the
// requests itself (Request.ID 0), as bench does.
// BenchmarkConnDo runs whole requests on one kept-alive connection, with a
// context that cannot end and with one that can (which Do watches, to
// abort the request when it ends).
func BenchmarkConnDo(b *testing.B) {
	b.Run("background", func(b *testing.B) { benchConnDo(b, context.Background()) })
	b.Run("cancelable", func(b *testing.B) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		benchConnDo(b, ctx)
	})
}

func benchConnDo(b *testing.B, ctx context.Context) {
	client, server, err := socketPair()
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	resp := benchResponse()
	go func() {
		defer server.Close()
		br := bufio.NewReaderSize(server, 64<<10)
		for {
			h, err := br.Peek(HeaderLen)
			if err != nil {
				return
			}
			hd := DecodeHeader(h)
			if _, err := br.Discard(hd.Len()); err != nil {
				return
			}
			if hd.Type == TypeStdin && hd.ContentLength == 0 {
				setRequestID(resp, hd.RequestID)
				if _, err := server.Write(resp); err != nil {
					return
				}
			}
		}
	}()
	c := NewConn(client)
	req := &Request{KeepConn: true, Params: benchParams, Stdout: io.Discard}
	var res Result
	b.ReportAllocs()
	for b.Loop() {
		if err := c.DoResult(ctx, req, &res); err != nil || !res.Ended {
			b.Fatal(res, err)
		}
	}
}

// setRequestID sets the request id of every record in the encoded records
// b, in place.
func setRequestID(b []byte, id uint16) {
	for len(b) >= HeaderLen {
		h := DecodeHeader(b)
		binary.BigEndian.PutUint16(b[2:4], id)
		b = b[min(len(b), h.Len()):]
	}
}

// socketPair returns the two ends of a connected unix socket.
func socketPair() (net.Conn, net.Conn, error) {
	l, err := net.Listen("unix", "")
	if err != nil {
		return nil, nil, err
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	c, err := net.Dial("unix", l.Addr().String())
	if err != nil {
		return nil, nil, err
	}
	s := <-accepted
	if s == nil {
		c.Close()
		return nil, nil, io.ErrUnexpectedEOF
	}
	return c, s, nil
}

// TestHotPathsAllocateNothing holds the encoding and decoding hot paths
// to no allocation per record (and so per request) once warmed up.
func TestHotPathsAllocateNothing(t *testing.T) {
	w := NewWriter(io.Discard)
	content := make([]byte, 4096)
	e := &requestEncoder{w: NewWriter(io.Discard)}
	resp := benchResponse()
	rr := NewReader(&repeatReader{b: resp})
	var one bytes.Buffer
	ow := NewWriter(&one)
	_ = ow.WriteRecord(TypeStdout, 1, content)
	_ = ow.Flush()
	r1 := NewReader(&repeatReader{b: one.Bytes()})
	cgi := []byte("X-Powered-By: PHP/8.2.36\r\nContent-type: text/html; charset=UTF-8\r\n\r\nhello world\n")
	parser := &ResponseParser{Body: io.Discard}
	for _, c := range []struct {
		name string
		f    func() error
	}{
		{"WriteRecord", func() error { return w.WriteRecord(TypeStdin, 1, content) }},
		{"ReadRecord", func() error { _, err := r1.ReadRecord(); return err }},
		{"encode request", func() error { return e.encode(1, benchParams, content) }},
		{"decode response", func() error { _, err := decodeResponse(rr); return err }},
		{"parse CGI headers", func() error {
			parser.Reset()
			_, err := parser.Write(cgi)
			if err == nil && (!parser.Done || len(parser.Response.Headers) != 2 || parser.Response.Headers[1].Value != "text/html; charset=UTF-8") {
				err = fmt.Errorf("parsed %+v", parser.Response)
			}
			return err
		}},
	} {
		var err error
		allocs := testing.AllocsPerRun(200, func() {
			if e := c.f(); e != nil {
				err = e
			}
		})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if allocs != 0 {
			t.Errorf("%s: %.1f allocations per run, want 0", c.name, allocs)
		}
	}
}
