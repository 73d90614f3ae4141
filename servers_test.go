package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/fcgi"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/fcgicli/fcgicli/fcgiwire"
)

// gofcgi VAR: run Go's net/http/fcgi server on 127.0.0.1 and set VAR to
// its address. /status/N answers with status N; anything else reports the
// method, query, CONTENT_LENGTH and the body's size and sha256.
func cmdGoFCGI(ts *testscript.TestScript, neg bool, args []string) {
	l := listenLoopback(ts, "tcp", "127.0.0.1:0")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if code, ok := strings.CutPrefix(r.URL.Path, "/status/"); ok {
			n, _ := strconv.Atoi(code)
			w.Header().Set("X-Go", "yes")
			w.WriteHeader(n)
			fmt.Fprintf(w, "status %d\n", n)
			return
		}
		sum := sha256.New()
		n, _ := io.Copy(sum, r.Body)
		w.Header().Add("Set-Cookie", "a=1")
		w.Header().Add("Set-Cookie", "b=2")
		fmt.Fprintf(w, "method=%s\nquery=%s\ncontent_length=%d\nbytes=%d\nsha256=%s\n",
			r.Method, r.URL.RawQuery, r.ContentLength, n, hex.EncodeToString(sum.Sum(nil)))
	})
	go fcgi.Serve(l, h)
	ts.Setenv(args[0], l.Addr().String())
}

// hostile VAR KIND: run a server on 127.0.0.1 that misbehaves as KIND and
// set VAR to its address. Each connection reads the request up to the end
// of its STDIN stream (except for "close"), then:
//
//	hang               never answers
//	close              closes right after accept, reading nothing
//	close-before-end   sends part of a response, then closes
//	wrong-id           answers with request id 2
//	bad-version        answers with a version 2 record
//	bad-cgi            answers a stdout stream that has no header block
//	app-status         answers a valid response with app status 3
//	overloaded         answers END_REQUEST with OVERLOADED
//	trickle            answers a valid response one byte per write
//	mgmt-mid           puts a GET_VALUES_RESULT between two STDOUT records
//	big-padding        answers with 255 bytes of padding on every record
//	after-end          sends a STDOUT record after END_REQUEST
//	stream-id0         sends STDOUT on request id 0
//	unknown-type       answers a management record with UNKNOWN_TYPE (type 9)
//	bad-values         answers GET_VALUES_RESULT with a pair running past it
//
// "hang" also never answers a management record.
func cmdHostile(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: hostile VAR KIND")
	}
	kind := args[1]
	if _, ok := hostileKinds[kind]; !ok {
		ts.Fatalf("unknown hostile kind %q", kind)
	}
	l := listenLoopback(ts, "tcp", "127.0.0.1:0")
	var mu sync.Mutex
	var conns []net.Conn
	ts.Defer(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go hostileConn(c, kind)
		}
	}()
	ts.Setenv(args[0], l.Addr().String())
}

var hostileKinds = map[string]bool{
	"hang": true, "close": true, "close-before-end": true, "wrong-id": true, "bad-version": true,
	"bad-cgi": true, "app-status": true, "overloaded": true, "trickle": true, "mgmt-mid": true,
	"big-padding": true, "unknown-type": true, "bad-values": true, "after-end": true, "stream-id0": true,
}

// record encodes one record with the given padding.
func record(t fcgiwire.RecordType, id uint16, content []byte, pad int) []byte {
	h := fcgiwire.Header{Version: fcgiwire.Version1, Type: t, RequestID: id, ContentLength: uint16(len(content)), PaddingLength: uint8(pad)}
	b := make([]byte, fcgiwire.HeaderLen, fcgiwire.HeaderLen+len(content)+pad)
	h.Encode(b)
	b = append(b, content...)
	return append(b, make([]byte, pad)...)
}

func endRequest(id uint16, app uint32, ps fcgiwire.ProtocolStatus) []byte {
	return record(fcgiwire.TypeEndRequest, id, fcgiwire.EndRequest{AppStatus: app, ProtocolStatus: ps}.Encode(), 0)
}

const hostileBody = "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nhello from a hostile server\n"

func hostileConn(c net.Conn, kind string) {
	if kind == "close" {
		c.Close()
		return
	}
	r := fcgiwire.NewReader(c)
	id := uint16(1)
	for {
		rec, err := r.ReadRecord()
		if err != nil {
			c.Close()
			return
		}
		if rec.Type == fcgiwire.TypeBeginRequest {
			id = rec.RequestID
		}
		if rec.Type == fcgiwire.TypeStdin && len(rec.Content) == 0 || rec.RequestID == 0 {
			break
		}
	}
	out := []byte(hostileBody)
	var resp []byte
	switch kind {
	case "hang":
		return // the deferred close ends it
	case "close-before-end":
		resp = record(fcgiwire.TypeStdout, id, out, 0)
	case "wrong-id":
		resp = record(fcgiwire.TypeStdout, id+1, out, 0)
	case "bad-version":
		resp = record(fcgiwire.TypeStdout, id, out, 0)
		resp[0] = 2
	case "bad-cgi":
		resp = append(record(fcgiwire.TypeStdout, id, []byte("no header block here\n"), 0), endRequest(id, 0, fcgiwire.RequestComplete)...)
	case "app-status":
		resp = append(record(fcgiwire.TypeStdout, id, out, 0), endRequest(id, 3, fcgiwire.RequestComplete)...)
	case "overloaded":
		resp = endRequest(id, 0, fcgiwire.Overloaded)
	case "trickle":
		resp = append(record(fcgiwire.TypeStdout, id, out, 0), record(fcgiwire.TypeStderr, id, []byte("warning\n"), 0)...)
		resp = append(resp, endRequest(id, 0, fcgiwire.RequestComplete)...)
		for i := range resp {
			if _, err := c.Write(resp[i : i+1]); err != nil {
				break
			}
		}
		c.Close()
		return
	case "mgmt-mid":
		resp = record(fcgiwire.TypeStdout, id, out[:20], 0)
		resp = append(resp, record(fcgiwire.TypeGetValuesResult, 0, fcgiwire.EncodePairs([]fcgiwire.Pair{{Name: "FCGI_MPXS_CONNS", Value: "0"}}), 0)...)
		resp = append(resp, record(fcgiwire.TypeStdout, id, out[20:], 0)...)
		resp = append(resp, endRequest(id, 0, fcgiwire.RequestComplete)...)
	case "after-end":
		resp = append(record(fcgiwire.TypeStdout, id, out, 0), endRequest(id, 0, fcgiwire.RequestComplete)...)
		resp = append(resp, record(fcgiwire.TypeStdout, id, []byte("late"), 4)...)
	case "stream-id0":
		resp = record(fcgiwire.TypeStdout, 0, out, 0)
	case "unknown-type":
		resp = record(fcgiwire.TypeUnknownType, 0, fcgiwire.UnknownTypeBody(fcgiwire.TypeGetValues), 0)
	case "bad-values":
		resp = record(fcgiwire.TypeGetValuesResult, 0, append([]byte{14, 0x80, 0, 0, 200}, "FCGI_MAX_CONNS"...), 5)
	case "big-padding":
		resp = append(record(fcgiwire.TypeStdout, id, out, 255), record(fcgiwire.TypeStdout, id, nil, 255)...)
		resp = append(resp, record(fcgiwire.TypeEndRequest, id, fcgiwire.EndRequest{}.Encode(), 255)...)
	}
	c.Write(resp)
	c.Close()
}

// rawreq FILE KIND: write a raw request for --send-raw:
//
//	split-pair    a responder request whose SCRIPT_FILENAME pair is split
//	              across two PARAMS records (legal, php-fpm refuses it)
//	bad-version   a BEGIN_REQUEST whose version byte is 2
//	get-values    a GET_VALUES record for FCGI_MPXS_CONNS
func cmdRawreq(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 && len(args) != 2 {
		ts.Fatalf("usage: rawreq FILE KIND [SCRIPT]")
	}
	script := "/index.php"
	if len(args) == 3 {
		script = args[2]
	}
	begin := record(fcgiwire.TypeBeginRequest, 1, fcgiwire.BeginRequest{Role: fcgiwire.RoleResponder}.Encode(), 0)
	var b []byte
	switch args[1] {
	case "split-pair":
		params := fcgiwire.EncodePairs([]fcgiwire.Pair{
			{Name: "REQUEST_METHOD", Value: "GET"},
			{Name: "SCRIPT_NAME", Value: script},
			{Name: "SCRIPT_FILENAME", Value: script},
		})
		cut := len(params) - 5
		b = append(b, begin...)
		b = append(b, record(fcgiwire.TypeParams, 1, params[:cut], fcgiwire.PaddingFor(cut))...)
		b = append(b, record(fcgiwire.TypeParams, 1, params[cut:], fcgiwire.PaddingFor(len(params)-cut))...)
		b = append(b, record(fcgiwire.TypeParams, 1, nil, 0)...)
		b = append(b, record(fcgiwire.TypeStdin, 1, nil, 0)...)
	case "bad-version":
		b = append(b, begin...)
		b[0] = 2
	case "get-values":
		b = record(fcgiwire.TypeGetValues, 0, fcgiwire.EncodePairs([]fcgiwire.Pair{{Name: fcgiwire.MpxsConns}}), 7)
	default:
		ts.Fatalf("unknown rawreq kind %q", args[1])
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), b, 0o644))
}
