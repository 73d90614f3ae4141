package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/fcgicli/fcgicli/fcgiwire"
)

// A hostile client misbehaves against a FastCGI server (serve, proxy) in
// one chosen way, for what no well-behaved client sends. Each returns how
// the server took it:
//
//	stall-header     sends 3 bytes of a record header, then nothing
//	stall-params     begins a request, sends part of its params, then nothing
//	idle             connects and sends nothing
//	filter-misorder  a FILTER whose 300 KiB of DATA come before its STDIN
//	                 ends, then a GET_VALUES: the server must go on reading
//	abort-early      begins request 2 without KEEP_CONN while request 1
//	                 (KEEP_CONN) runs, aborts 2 before its params end, then
//	                 sends 1's STDIN: both must be answered
//	mgmt-answers     sends UNKNOWN_TYPE and GET_VALUES_RESULT, then
//	                 GET_VALUES: the first answer must be its result
//	values-many      GET_VALUES asking for 3,800 names
//	flood            begins 100 multiplexed requests with part of their
//	                 params, and a stream of unknown management records;
//	                 with wait, then a GET_VALUES, and says how many
//	                 requests got OVERLOADED before its answer
//	close-mid        sends a request up to part of its STDIN, then closes
//
// With wait, the stall and idle kinds wait (up to bound) for the server to
// close the connection; else every kind closes abruptly once it has sent
// its part.
func hostileClient(network, addr, kind string, wait bool, bound time.Duration) (string, error) {
	c, err := net.DialTimeout(network, addr, bound)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(bound))
	r := fcgiwire.NewReader(c)
	send := func(recs ...[]byte) error {
		_, err := c.Write(bytes.Join(recs, nil))
		return err
	}
	begin := func(id uint16, role fcgiwire.Role, flags uint8) []byte {
		return record(fcgiwire.TypeBeginRequest, id, fcgiwire.BeginRequest{Role: role, Flags: flags}.Encode(), 0)
	}
	stream := func(t fcgiwire.RecordType, id uint16, b []byte) []byte {
		return record(t, id, b, fcgiwire.PaddingFor(len(b)))
	}
	closed := func() (string, error) {
		if !wait {
			return "sent", nil
		}
		for {
			if _, err := r.ReadRecord(); err != nil {
				if err == io.EOF || errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "reset") {
					return "closed by the server", nil
				}
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					return "", fmt.Errorf("still open after %s", bound)
				}
				return "closed by the server", nil
			}
		}
	}
	// answers reads records until END_REQUEST for each of ids, describing them.
	answers := func(ids ...uint16) (string, error) {
		var out []string
		for left := len(ids); left > 0; {
			rec, err := r.ReadRecord()
			if err != nil {
				return strings.Join(out, "; "), err
			}
			if rec.Type == fcgiwire.TypeEndRequest {
				er, err := fcgiwire.DecodeEndRequest(rec.Content)
				if err != nil {
					return "", err
				}
				out = append(out, fmt.Sprintf("END_REQUEST %d %s", rec.RequestID, er.ProtocolStatus))
				left--
			}
		}
		return strings.Join(out, "; "), nil
	}
	firstAnswer := func() (string, error) {
		rec, err := r.ReadRecord()
		if err != nil {
			return "", err
		}
		pairs, _ := fcgiwire.DecodePairs(rec.Content, 0)
		return fmt.Sprintf("%s %d pairs", rec.Type, len(pairs)), nil
	}
	switch kind {
	case "stall-header":
		if err := send([]byte{1, 1, 0}); err != nil {
			return "", err
		}
		return closed()
	case "stall-params":
		if err := send(begin(1, fcgiwire.RoleResponder, 0), stream(fcgiwire.TypeParams, 1, []byte("\x01\x01ab"))); err != nil {
			return "", err
		}
		return closed()
	case "idle":
		return closed()
	case "filter-misorder":
		recs := [][]byte{begin(1, fcgiwire.RoleFilter, fcgiwire.FlagKeepConn), record(fcgiwire.TypeParams, 1, nil, 0)}
		chunk := bytes.Repeat([]byte("d"), 60000)
		for range 5 {
			recs = append(recs, stream(fcgiwire.TypeData, 1, chunk))
		}
		recs = append(recs, record(fcgiwire.TypeGetValues, 0, nil, 8))
		if err := send(recs...); err != nil {
			return "", err
		}
		if !wait {
			return "sent", nil
		}
		return firstAnswer()
	case "abort-early":
		// All in one write, so that no pause of the client's counts
		// against the server's --read-timeout: the server still takes
		// the abort before request 1's STDIN.
		if err := send(begin(1, fcgiwire.RoleResponder, fcgiwire.FlagKeepConn), record(fcgiwire.TypeParams, 1, nil, 0),
			begin(2, fcgiwire.RoleResponder, 0), stream(fcgiwire.TypeParams, 2, []byte("\x01\x01ab")), record(fcgiwire.TypeAbortRequest, 2, nil, 0),
			stream(fcgiwire.TypeStdin, 1, []byte("in")), record(fcgiwire.TypeStdin, 1, nil, 0)); err != nil {
			return "", err
		}
		if !wait {
			return "sent", nil
		}
		return answers(2, 1)
	case "mgmt-answers":
		if err := send(record(fcgiwire.TypeUnknownType, 0, fcgiwire.UnknownTypeBody(fcgiwire.TypeGetValues), 0),
			record(fcgiwire.TypeGetValuesResult, 0, nil, 8), record(fcgiwire.TypeGetValues, 0, nil, 8)); err != nil {
			return "", err
		}
		if !wait {
			return "sent", nil
		}
		return firstAnswer()
	case "values-many":
		var ask []fcgiwire.Pair
		for range 3800 {
			ask = append(ask, fcgiwire.Pair{Name: fcgiwire.MaxConns})
		}
		if err := send(record(fcgiwire.TypeGetValues, 0, fcgiwire.EncodePairs(ask), 0)); err != nil {
			return "", err
		}
		if !wait {
			return "sent", nil
		}
		return firstAnswer()
	case "flood":
		var recs [][]byte
		for id := uint16(1); id <= 100; id++ {
			recs = append(recs, begin(id, fcgiwire.RoleResponder, fcgiwire.FlagKeepConn), stream(fcgiwire.TypeParams, id, bytes.Repeat([]byte("\x01\x7fa"+strings.Repeat("v", 127)), 8)))
		}
		for range 200 {
			recs = append(recs, record(42, 0, []byte("junk"), 4))
		}
		if err := send(recs...); err != nil {
			return "", err
		}
		if !wait {
			return "sent", nil
		}
		// The server refuses at BEGIN_REQUEST, so every refusal comes
		// before the answer to a GET_VALUES sent after them.
		if err := send(record(fcgiwire.TypeGetValues, 0, fcgiwire.EncodePairs([]fcgiwire.Pair{{Name: fcgiwire.MaxReqs}}), 0)); err != nil {
			return "", err
		}
		overloaded := 0
		for {
			rec, err := r.ReadRecord()
			if err != nil {
				return fmt.Sprintf("%d OVERLOADED, then", overloaded), err
			}
			switch rec.Type {
			case fcgiwire.TypeEndRequest:
				if er, err := fcgiwire.DecodeEndRequest(rec.Content); err == nil && er.ProtocolStatus == fcgiwire.Overloaded {
					overloaded++
				}
			case fcgiwire.TypeGetValuesResult:
				return fmt.Sprintf("%d OVERLOADED before GET_VALUES_RESULT", overloaded), nil
			}
		}
	case "close-mid":
		return "sent", send(begin(1, fcgiwire.RoleResponder, 0), record(fcgiwire.TypeParams, 1, nil, 0), stream(fcgiwire.TypeStdin, 1, []byte("part of a body")))
	}
	return "", fmt.Errorf("unknown hostile client kind %q", kind)
}

// hostileclient KIND ADDR WANT: run a hostile client against ADDR
// (host:port or a unix socket path), wait for the server's answer or
// close, and require that what happened contains WANT.
func cmdHostileClient(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: hostileclient KIND ADDR WANT")
	}
	network := "tcp"
	if strings.HasPrefix(args[1], "/") {
		network = "unix"
	}
	out, err := hostileClient(network, args[1], args[0], true, 20*time.Second)
	if err != nil {
		ts.Fatalf("hostile client %s: %s: %v", args[0], out, err)
	}
	ts.Logf("hostile client %s: %s", args[0], out)
	if !strings.Contains(out, args[2]) {
		ts.Fatalf("hostile client %s: %q, want %q", args[0], out, args[2])
	}
}
