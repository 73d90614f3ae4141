package fcgireq

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/fcgicli/fcgicli/fcgiwire"
)

// A Copy hands out the request again and again with its bodies whole each
// time, from memory and from a file larger than maxMemoryBody, and the
// params encoded once as Prepare built them.
func TestReplayCopies(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), maxMemoryBody/16+100)
	name := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(name, big, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		data string
		want []byte
	}{
		{"a=1&b=2", []byte("a=1&b=2")},
		{"@" + name, big},
	} {
		prep := prepared(t, &Shape{Data: &c.data, KeepConn: true, Spec: ParamSpec{Script: "/x", BodyLen: -1}})
		ps, _ := fcgiwire.SplitPairs(prep.Pairs)
		if cl := names(prep.Pairs)[3]; cl != "CONTENT_LENGTH="+strconv.Itoa(len(c.want)) {
			t.Errorf("%.20s: %s", c.data, cl)
		}
		rep, err := prep.Replay()
		if err != nil {
			t.Fatal(err)
		}
		for _, cp := range []*Copy{rep.Copy(), rep.Copy()} {
			for range 3 {
				req := cp.Request(io.Discard)
				got, err := io.ReadAll(req.Stdin)
				if err != nil || !bytes.Equal(got, c.want) {
					t.Fatalf("%.20s: read %d bytes, %v; want %d", c.data, len(got), err, len(c.want))
				}
				if req.ID != 0 || !req.KeepConn || req.Data != nil || !equalBodies(req.EncodedParams, ps) {
					t.Errorf("%.20s: request %+v", c.data, req)
				}
			}
		}
	}
}

func equalBodies(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// bench takes its request from a Copy for every request it sends: that
// costs no allocation for a body in memory or none.
func TestCopyRequestAllocatesNothing(t *testing.T) {
	data := "a=1&b=2"
	for _, d := range []*string{nil, &data} {
		cp := replayed(t, &Shape{Data: d, Spec: ParamSpec{Script: "/x", BodyLen: -1}}).Copy()
		parser := &fcgiwire.ResponseParser{}
		if n := testing.AllocsPerRun(200, func() { _ = cp.Request(parser) }); n != 0 {
			t.Errorf("body %v: %.1f allocations per request, want 0", d != nil, n)
		}
	}
}

// Verbatim params go out as they are, in order, with nothing added; a
// pair too big for one record is still refused before connecting.
func TestPrepareVerbatim(t *testing.T) {
	pairs := []fcgiwire.Pair{{Name: "Z", Value: "1"}, {Name: "A", Value: ""}}
	prep := prepared(t, &Shape{RequestID: 1, Verbatim: true, Pairs: pairs, Spec: ParamSpec{Role: fcgiwire.RoleResponder}})
	want, _ := fcgiwire.SplitPairs(pairs)
	if req := prep.Request(); req.ID != 1 || req.Role != fcgiwire.RoleResponder || req.Stdin != nil || !equalBodies(req.EncodedParams, want) {
		t.Errorf("request %+v", req)
	}
	big := []fcgiwire.Pair{{Name: "BIG", Value: string(bytes.Repeat([]byte("x"), 70000))}}
	if _, err := Prepare(context.Background(), &Shape{Verbatim: true, Pairs: big}, nil); err == nil || err.Error() != "param BIG is 70008 bytes encoded; one record holds at most 65535" {
		t.Errorf("a pair too big: %v", err)
	}
}
