package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/fcgi"
	"os"
	"strconv"
	"strings"

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

// record encodes one record with the given padding.
func record(t fcgiwire.RecordType, id uint16, content []byte, pad int) []byte {
	return fcgiwire.AppendRecord(nil, fcgiwire.Header{Version: fcgiwire.Version1, Type: t, RequestID: id, PaddingLength: uint8(pad)}, content)
}

func endRequest(id uint16, app uint32, ps fcgiwire.ProtocolStatus) []byte {
	return record(fcgiwire.TypeEndRequest, id, fcgiwire.EndRequest{AppStatus: app, ProtocolStatus: ps}.Encode(), 0)
}

// rawreq FILE KIND: write a raw request for --send-raw:
//
//	split-pair    a responder request whose SCRIPT_FILENAME pair is split
//	              across two PARAMS records (legal, php-fpm refuses it)
//	bad-version   a BEGIN_REQUEST whose version byte is 2
//	get-values    a GET_VALUES record for FCGI_MPXS_CONNS
//	two-requests  responder requests 1 and 2 in flight at once on the
//	              connection: 2 begins before 1's params end
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
	case "two-requests":
		// Request 2 begins and ends while request 1 is still taking its
		// params: in flight at once on one connection.
		params := func(id uint16, uri string) []byte {
			p := fcgiwire.EncodePairs([]fcgiwire.Pair{{Name: "REQUEST_METHOD", Value: "GET"}, {Name: "REQUEST_URI", Value: uri}})
			return append(record(fcgiwire.TypeParams, id, p, fcgiwire.PaddingFor(len(p))), record(fcgiwire.TypeParams, id, nil, 0)...)
		}
		b = append(b, begin...)
		b = append(b, record(fcgiwire.TypeBeginRequest, 2, fcgiwire.BeginRequest{Role: fcgiwire.RoleResponder}.Encode(), 0)...)
		b = append(b, params(2, "/two")...)
		b = append(b, record(fcgiwire.TypeStdin, 2, nil, 0)...)
		b = append(b, params(1, "/one")...)
		b = append(b, record(fcgiwire.TypeStdin, 1, nil, 0)...)
	default:
		ts.Fatalf("unknown rawreq kind %q", args[1])
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), b, 0o644))
}
