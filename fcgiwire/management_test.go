package fcgiwire

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestGetValuesAgainstServer(t *testing.T) {
	addr := startTCP(t, &Server{Handler: HandlerFunc(echoHandler), MaxConns: 10, MaxReqs: 50, MultiplexConns: true})
	c := dialConn(t, "tcp", addr)
	// GET_VALUES and requests take turns on one connection, many times,
	// so that a request's end never leaves the writer unusable.
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	for i := range 20 {
		got, err := c.GetValues(ctx, []string{MpxsConns, "FCGI_OTHER", MaxConns, MaxReqs})
		if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		want := []Pair{{MpxsConns, "1"}, {MaxConns, "10"}, {MaxReqs, "50"}}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d: GetValues = %q, want %q", i, got, want)
		}
		if !c.Reusable() {
			t.Fatalf("round %d: not reusable after GET_VALUES", i)
		}
		res, err := c.Do(context.Background(), &Request{KeepConn: true, Stdin: strings.NewReader("x")})
		if err != nil || res.ProtocolStatus != RequestComplete {
			t.Fatalf("round %d: Do = %+v, %v", i, res, err)
		}
	}
}

func TestManagementUnknownType(t *testing.T) {
	addr := startTCP(t, &Server{})
	c := dialConn(t, "tcp", addr)
	rec, err := c.Management(context.Background(), 20, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Type != TypeUnknownType || rec.RequestID != 0 || !bytes.Equal(rec.Content, UnknownTypeBody(20)) {
		t.Errorf("answer %+v % x", rec.Header, rec.Content)
	}
	if rt, err := DecodeUnknownType(rec.Content); err != nil || rt != 20 {
		t.Errorf("DecodeUnknownType = %v, %v", rt, err)
	}
	if !c.Reusable() {
		t.Errorf("not reusable after an answered management record")
	}
}

func TestGetValuesSentBytes(t *testing.T) {
	// libfcgi 2.4.2 needs the padding: 48 bytes of names, 8 of padding.
	got := make(chan []byte, 1)
	answerBody := EncodePairs([]Pair{{MaxConns, "5"}})
	addr := hostile(t, func(nc *net.TCPConn) {
		b := make([]byte, 8+48+8)
		if _, err := io.ReadFull(nc, b); err != nil {
			return
		}
		got <- b
		nc.Write(rec(TypeGetValuesResult, 0, string(answerBody), PaddingFor(len(answerBody))))
	})
	c := dialConn(t, "tcp", addr)
	pairs, err := c.GetValues(context.Background(), []string{MaxConns, MaxReqs, MpxsConns})
	if err != nil || !reflect.DeepEqual(pairs, []Pair{{MaxConns, "5"}}) {
		t.Fatalf("GetValues = %q, %v", pairs, err)
	}
	want := cat([]byte{1, 9, 0, 0, 0, 48, 8, 0},
		[]byte{14, 0}, "FCGI_MAX_CONNS", []byte{13, 0}, "FCGI_MAX_REQS", []byte{15, 0}, "FCGI_MPXS_CONNS",
		make([]byte, 8))
	if b := <-got; !bytes.Equal(b, want) {
		t.Errorf("sent\n% x\nwant\n% x", b, want)
	}
}

func TestGetValuesFaults(t *testing.T) {
	tests := []struct {
		name     string
		answer   []byte
		sentinel error
		offset   int64
	}{
		{"UNKNOWN_TYPE answer", rec(TypeUnknownType, 0, string(UnknownTypeBody(TypeGetValues)), 8), ErrUnknownTypeAnswer, 0},
		{"close without an answer", nil, ErrNoAnswer, 0},
		{"answer on request id 1", rec(TypeGetValuesResult, 1, "", 0), ErrRequestID, 0},
		{"bad version", []byte{2, 10, 0, 0, 0, 0, 0, 0}, ErrBadVersion, 0},
		{"malformed pairs", rec(TypeGetValuesResult, 0, "\x01\x09ab", 4), ErrBadPair, 8},
		{"END_REQUEST with id 0", endRec(0, 0, RequestComplete), ErrUnexpectedType, 0},
		{"truncated answer", hdr(TypeGetValuesResult, 0, 20, 4), ErrTruncated, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := hostile(t, func(nc *net.TCPConn) {
				if _, err := NewReader(nc).ReadRecord(); err != nil {
					return
				}
				nc.Write(tt.answer)
			})
			c := dialConn(t, "tcp", addr)
			_, err := c.GetValues(context.Background(), []string{MaxConns})
			if !errors.Is(err, tt.sentinel) {
				t.Fatalf("GetValues = %v, want %v", err, tt.sentinel)
			}
			var pe *ProtocolError
			if !errors.As(err, &pe) || pe.Offset != tt.offset {
				t.Errorf("error %v: want a ProtocolError at %d", err, tt.offset)
			}
		})
	}
}

// TestGetValuesPairsBeforeFault checks that a malformed pair does not
// lose the pairs decoded before it: they come back with the error.
func TestGetValuesPairsBeforeFault(t *testing.T) {
	body := string(EncodePairs([]Pair{{MaxConns, "5"}})) + "\x0e\xc8FCGI"
	addr := hostile(t, func(nc *net.TCPConn) {
		if _, err := NewReader(nc).ReadRecord(); err != nil {
			return
		}
		nc.Write(rec(TypeGetValuesResult, 0, body, PaddingFor(len(body))))
	})
	c := dialConn(t, "tcp", addr)
	pairs, err := c.GetValues(context.Background(), []string{MaxConns})
	var pe *ProtocolError
	if !errors.Is(err, ErrBadPair) || !errors.As(err, &pe) || pe.Offset != 8+17 {
		t.Fatalf("GetValues error = %v, want ErrBadPair at byte 25", err)
	}
	if want := []Pair{{MaxConns, "5"}}; !reflect.DeepEqual(pairs, want) {
		t.Errorf("GetValues pairs = %q, want %q", pairs, want)
	}
}

func TestGetValuesTimeout(t *testing.T) {
	addr := hostile(t, func(nc *net.TCPConn) { io.Copy(io.Discard, nc) })
	c := dialConn(t, "tcp", addr)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.GetValues(ctx, []string{MaxConns})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("GetValues = %v, want context.DeadlineExceeded", err)
	}
	if c.Reusable() {
		t.Errorf("reusable after an unanswered GET_VALUES")
	}
	if _, err := c.GetValues(context.Background(), nil); !errors.Is(err, ErrConnBroken) {
		t.Errorf("second GetValues = %v, want ErrConnBroken", err)
	}
}

func TestReadTrailing(t *testing.T) {
	extra := cat(streamRec(TypeStdout, 1, "late"), rec(TypeGetValuesResult, 0, "", 8))
	addr := hostile(t, answer(cat(endRec(1, 0, RequestComplete), extra)))
	c := dialConn(t, "tcp", addr)
	var log eventLog
	c.SetObserver(log.observe)
	var stdout bytes.Buffer
	if _, err := c.Do(context.Background(), &Request{KeepConn: true, Stdout: &stdout}); err != nil {
		t.Fatal(err)
	}
	// It ends when the peer closes, not at its bound of an hour.
	endsWithin(t, "ReadTrailing after the peer closed", func() { c.ReadTrailing(context.Background(), time.Hour) })
	recv := log.list(Received)
	if len(recv) != 3 || recv[1].Header.Type != TypeStdout || string(recv[1].Content) != "late" || recv[2].Header.Type != TypeGetValuesResult {
		t.Errorf("received %+v", recv)
	}
	if stdout.Len() != 0 {
		t.Errorf("trailing records reached stdout: %q", stdout.String())
	}
	if c.Reusable() {
		t.Errorf("reusable after ReadTrailing")
	}
}

func TestReadTrailingBounded(t *testing.T) {
	addr := hostile(t, func(nc *net.TCPConn) {
		if _, err := readRequest(NewReader(nc)); err != nil {
			return
		}
		nc.Write(endRec(1, 0, RequestComplete))
		io.Copy(io.Discard, nc) // stays open
	})
	c := dialConn(t, "tcp", addr)
	if _, err := c.Do(context.Background(), &Request{KeepConn: true}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	// It ends at ctx's deadline, the sooner, not at its bound of an hour.
	endsWithin(t, "ReadTrailing at its context's deadline", func() { c.ReadTrailing(ctx, time.Hour) })
}

// endsWithin runs f and fails the test if it has not returned after
// testBound: f waits for an event that comes far sooner, or never.
func endsWithin(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(testBound):
		t.Fatalf("%s: still waiting after %s", what, testBound)
	}
}
