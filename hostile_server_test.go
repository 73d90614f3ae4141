package main

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/fcgicli/fcgicli/fcgiwire"
)

// A hostile server misbehaves in one chosen way, for faults no real server
// can be made to produce. Each connection reads the request up to the end
// of its STDIN stream, or up to a management record, then answers as its
// kind says:
//
//	hang              never answers
//	noread            never reads and never answers
//	close             closes right after accept, reading nothing
//	close-mid-header  sends 3 bytes of a record header, then closes
//	close-mid-body    sends a header announcing 100 bytes and 10 of them, then closes
//	close-before-end  sends part of a response (no END_REQUEST), then closes
//	huge-no-body      announces 65535 content bytes, sends none, keeps the connection open
//	slowloris         sends a valid response one byte per 100ms
//	trickle           sends a valid response one byte per write, without pauses
//	http              answers in HTTP/1.1, not FastCGI
//	wrong-id          answers STDOUT for request id+1
//	end-wrong-id      answers STDOUT, then END_REQUEST for request id+1
//	stream-id0        answers STDOUT on request id 0
//	bad-version       answers a record of version 2
//	type42            answers a record of unknown type 42 on the request id
//	bad-cgi           answers a stdout stream with no CGI header block
//	app-status        answers a valid response with app status 3
//	overloaded, cant-mpx-conn, unknown-role
//	                  answers END_REQUEST with that protocol status
//	after-end         sends a STDOUT record after END_REQUEST
//	mgmt-mid          puts a GET_VALUES_RESULT between two STDOUT records
//	big-padding       pads every record with 255 bytes (legal)
//	unknown-type      answers a management record with UNKNOWN_TYPE (type 9)
//	bad-values        answers GET_VALUES_RESULT with a pair running past it
//	after-terminator  sends STDOUT, the empty STDOUT that ends it, more STDOUT, END_REQUEST
//	status-999        answers "Status: 999" without a reason
//	repeat            answers every request on a kept connection twice
//	endless           streams NUL bytes as the body and never ends
//	stdout-N, stderr-N
//	                  streams N MiB of "x" on that stream, then ends well
//	nul-N             streams an N MiB body of NUL bytes, then ends well
//
// A management record gets the same fault where it makes sense; where it
// does not, a valid GET_VALUES_RESULT (FCGI_MPXS_CONNS=0).
type hostileServer struct {
	Addr string
	l    net.Listener
	mu   sync.Mutex
	cs   []net.Conn
	wg   sync.WaitGroup
}

// hostileBody is the stdout of the hostile responses that send one.
const hostileBody = "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nhello from a hostile server\n"

func knownHostile(kind string) bool {
	switch kind {
	case "hang", "noread", "close", "close-mid-header", "close-mid-body", "close-before-end", "huge-no-body",
		"slowloris", "trickle", "http", "wrong-id", "end-wrong-id", "stream-id0", "bad-version", "type42",
		"bad-cgi", "app-status", "overloaded", "cant-mpx-conn", "unknown-role", "after-end", "mgmt-mid",
		"big-padding", "unknown-type", "bad-values", "after-terminator", "status-999", "repeat", "endless":
		return true
	}
	_, ok := streamSize(kind)
	return ok
}

// streamSize parses stdout-N, stderr-N and nul-N.
func streamSize(kind string) (int64, bool) {
	for _, p := range []string{"stdout-", "stderr-", "nul-"} {
		if n, ok := strings.CutPrefix(kind, p); ok {
			mb, err := strconv.Atoi(n)
			return int64(mb) << 20, err == nil && mb > 0
		}
	}
	return 0, false
}

// startHostile listens on network/addr and serves kind until Close.
func startHostile(network, addr, kind string) (*hostileServer, error) {
	l, err := net.Listen(network, addr)
	if err != nil {
		return nil, err
	}
	h := &hostileServer{Addr: l.Addr().String(), l: l}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			h.mu.Lock()
			h.cs = append(h.cs, c)
			h.mu.Unlock()
			h.wg.Add(1)
			go func() {
				defer h.wg.Done()
				hostileConn(c, kind)
			}()
		}
	}()
	return h, nil
}

// Close stops the server, closes every connection and waits for its
// goroutines.
func (h *hostileServer) Close() {
	h.l.Close()
	h.mu.Lock()
	for _, c := range h.cs {
		c.Close()
	}
	h.mu.Unlock()
	h.wg.Wait()
}

// hostile VAR KIND: start a hostile server on 127.0.0.1 and set VAR to its
// address.
func cmdHostile(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: hostile VAR KIND")
	}
	if !knownHostile(args[1]) {
		ts.Fatalf("unknown hostile kind %q", args[1])
	}
	h, err := startHostile("tcp", "127.0.0.1:0", args[1])
	ts.Check(err)
	ts.Defer(h.Close)
	ts.Setenv(args[0], h.Addr)
}

func hostileConn(c net.Conn, kind string) {
	defer c.Close()
	switch kind {
	case "close":
		return
	case "noread":
		waitClosed(c)
		return
	}
	r := fcgiwire.NewReader(c)
	if kind == "repeat" {
		repeatAnswers(c, r)
		return
	}
	id, mgmt := uint16(1), false
	for {
		rec, err := r.ReadRecord()
		if err != nil {
			return
		}
		if rec.Type == fcgiwire.TypeBeginRequest {
			id = rec.RequestID
		}
		if rec.RequestID == 0 {
			mgmt = true
			break
		}
		if rec.Type == fcgiwire.TypeStdin && len(rec.Content) == 0 {
			break
		}
	}
	if size, ok := streamSize(kind); ok {
		if strings.HasPrefix(kind, "nul-") {
			streamNUL(c, id, size)
			return
		}
		streamX(c, id, kind[:6], size)
		return
	}
	if kind == "endless" {
		streamNUL(c, id, -1)
		return
	}
	resp, perByte, hold := hostileAnswer(kind, id, mgmt)
	if perByte >= 0 {
		for i := range resp {
			if _, err := c.Write(resp[i : i+1]); err != nil {
				return
			}
			time.Sleep(perByte)
		}
	} else if _, err := c.Write(resp); err != nil {
		return
	}
	if hold {
		waitClosed(c)
	}
}

// waitClosed blocks until the peer closes or the server closes c.
func waitClosed(c net.Conn) {
	b := make([]byte, 4096)
	for {
		if _, err := c.Read(b); err != nil {
			return
		}
	}
}

// streamX sends size bytes of "x" on stdout or stderr, then ends the
// request, without holding the stream in memory.
func streamX(c net.Conn, id uint16, stream string, size int64) {
	t := fcgiwire.TypeStdout
	if stream == "stderr" {
		t = fcgiwire.TypeStderr
		if _, err := c.Write(record(fcgiwire.TypeStdout, id, []byte("Content-Type: text/plain\r\n\r\n"), 4)); err != nil {
			return
		}
	} else if _, err := c.Write(record(t, id, []byte("Content-Type: text/plain\r\n\r\n"), 4)); err != nil {
		return
	}
	xs := bytes.Repeat([]byte("x"), 65528)
	for size > 0 {
		n := min(size, int64(len(xs)))
		if _, err := c.Write(record(t, id, xs[:n], 0)); err != nil {
			return
		}
		size -= n
	}
	c.Write(endRequest(id, 0, fcgiwire.RequestComplete))
}

// streamNUL sends a body of size NUL bytes (forever when size < 0), then
// ends the request.
func streamNUL(c net.Conn, id uint16, size int64) {
	if _, err := c.Write(record(fcgiwire.TypeStdout, id, []byte("Content-Type: application/octet-stream\r\n\r\n"), 0)); err != nil {
		return
	}
	nul := record(fcgiwire.TypeStdout, id, make([]byte, 65528), 0)
	for size != 0 {
		b := nul
		if size > 0 && size < 65528 {
			b = record(fcgiwire.TypeStdout, id, make([]byte, size), 0)
		}
		if _, err := c.Write(b); err != nil {
			return
		}
		if size > 0 {
			size -= int64(len(b) - fcgiwire.HeaderLen - int(b[6]))
		}
	}
	c.Write(endRequest(id, 0, fcgiwire.RequestComplete))
}

// repeatAnswers answers each request on the connection, then sends the
// same answer again, as an application that lost track of its requests.
func repeatAnswers(c net.Conn, r *fcgiwire.Reader) {
	for {
		rec, err := r.ReadRecord()
		if err != nil {
			return
		}
		if rec.Type != fcgiwire.TypeStdin || len(rec.Content) != 0 {
			continue
		}
		id := rec.RequestID
		resp := append(record(fcgiwire.TypeStdout, id, []byte(hostileBody), 0), record(fcgiwire.TypeStdout, id, nil, 0)...)
		resp = append(resp, endRequest(id, 0, fcgiwire.RequestComplete)...)
		if _, err := c.Write(append(resp, resp...)); err != nil {
			return
		}
	}
}

// hostileAnswer returns what kind answers, whether to send it one byte at
// a time (perByte >= 0, with that pause) and whether to keep the
// connection open afterwards.
func hostileAnswer(kind string, id uint16, mgmt bool) (resp []byte, perByte time.Duration, hold bool) {
	out := []byte(hostileBody)
	good := append(record(fcgiwire.TypeStdout, id, out, 0), endRequest(id, 0, fcgiwire.RequestComplete)...)
	if mgmt {
		good = record(fcgiwire.TypeGetValuesResult, 0, fcgiwire.EncodePairs([]fcgiwire.Pair{{Name: fcgiwire.MpxsConns, Value: "0"}}), 6)
	}
	perByte = -1
	switch kind {
	case "hang":
		return nil, -1, true
	case "close-mid-header":
		resp = good[:3]
	case "close-mid-body":
		resp = record(fcgiwire.TypeStdout, id, bytes.Repeat([]byte("y"), 100), 4)[:18]
		if mgmt {
			resp = record(fcgiwire.TypeGetValuesResult, 0, bytes.Repeat([]byte("y"), 100), 4)[:18]
		}
	case "close-before-end":
		resp = record(fcgiwire.TypeStdout, id, out, 0)
		if mgmt {
			resp = nil
		}
	case "huge-no-body":
		h := fcgiwire.Header{Version: 1, Type: fcgiwire.TypeStdout, RequestID: id, ContentLength: 65535, PaddingLength: 1}
		if mgmt {
			h.Type, h.RequestID = fcgiwire.TypeGetValuesResult, 0
		}
		resp = make([]byte, fcgiwire.HeaderLen)
		h.Encode(resp)
		return resp, -1, true
	case "slowloris":
		return good, 100 * time.Millisecond, false
	case "trickle":
		if mgmt {
			return good, 0, false
		}
		resp = append(record(fcgiwire.TypeStdout, id, out, 0), record(fcgiwire.TypeStderr, id, []byte("warning\n"), 0)...)
		resp = append(resp, endRequest(id, 0, fcgiwire.RequestComplete)...)
		return resp, 0, false
	case "http":
		resp = []byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	case "wrong-id":
		resp = record(fcgiwire.TypeStdout, id+1, out, 0)
	case "end-wrong-id":
		resp = append(record(fcgiwire.TypeStdout, id, out, 0), endRequest(id+1, 0, fcgiwire.RequestComplete)...)
	case "stream-id0":
		resp = record(fcgiwire.TypeStdout, 0, out, 0)
	case "bad-version":
		resp = good
		resp[0] = 2
	case "type42":
		resp = record(42, id, []byte("what is this"), 4)
		if mgmt {
			resp = record(42, 0, []byte("what is this"), 4)
		}
	case "bad-cgi":
		resp = append(record(fcgiwire.TypeStdout, id, []byte("no header block here\n"), 0), endRequest(id, 0, fcgiwire.RequestComplete)...)
	case "app-status":
		resp = append(record(fcgiwire.TypeStdout, id, out, 0), endRequest(id, 3, fcgiwire.RequestComplete)...)
	case "overloaded":
		resp = endRequest(id, 0, fcgiwire.Overloaded)
	case "cant-mpx-conn":
		resp = endRequest(id, 0, fcgiwire.CantMpxConn)
	case "unknown-role":
		resp = endRequest(id, 0, fcgiwire.UnknownRole)
	case "after-terminator":
		resp = append(record(fcgiwire.TypeStdout, id, out, 0), record(fcgiwire.TypeStdout, id, nil, 0)...)
		resp = append(resp, record(fcgiwire.TypeStdout, id, []byte("AFTER-TERMINATOR"), 0)...)
		resp = append(resp, endRequest(id, 0, fcgiwire.RequestComplete)...)
	case "status-999":
		resp = append(record(fcgiwire.TypeStdout, id, []byte("Status: 999\r\n\r\nodd\n"), 0), endRequest(id, 0, fcgiwire.RequestComplete)...)
	case "after-end":
		resp = append(good, record(fcgiwire.TypeStdout, id, []byte("late"), 4)...)
	case "mgmt-mid":
		resp = record(fcgiwire.TypeStdout, id, out[:20], 0)
		resp = append(resp, record(fcgiwire.TypeGetValuesResult, 0, fcgiwire.EncodePairs([]fcgiwire.Pair{{Name: "FCGI_MPXS_CONNS", Value: "0"}}), 0)...)
		resp = append(resp, record(fcgiwire.TypeStdout, id, out[20:], 0)...)
		resp = append(resp, endRequest(id, 0, fcgiwire.RequestComplete)...)
	case "big-padding":
		resp = append(record(fcgiwire.TypeStdout, id, out, 255), record(fcgiwire.TypeStdout, id, nil, 255)...)
		resp = append(resp, record(fcgiwire.TypeEndRequest, id, fcgiwire.EndRequest{}.Encode(), 255)...)
		if mgmt {
			resp = record(fcgiwire.TypeGetValuesResult, 0, fcgiwire.EncodePairs([]fcgiwire.Pair{{Name: fcgiwire.MpxsConns, Value: "0"}}), 255)
		}
	case "unknown-type":
		resp = record(fcgiwire.TypeUnknownType, 0, fcgiwire.UnknownTypeBody(fcgiwire.TypeGetValues), 0)
	case "bad-values":
		resp = record(fcgiwire.TypeGetValuesResult, 0, append([]byte{14, 0x80, 0, 0, 200}, "FCGI_MAX_CONNS"...), 5)
	default:
		resp = good
	}
	return resp, perByte, hold
}
