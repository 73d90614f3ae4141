package rawdump

import (
	"bytes"
	"testing"

	"github.com/fcgicli/fcgicli/fcgiwire"
)

// twoRequests encodes two requests (ids 1 and 2) as --send-raw sends them,
// with padding that is not zeros, so that a copy that rebuilt the records
// instead of sending the bytes would show.
func twoRequests(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	w := fcgiwire.NewWriter(&b)
	for _, id := range []uint16{1, 2} {
		begin := fcgiwire.BeginRequest{Role: fcgiwire.RoleResponder, Flags: fcgiwire.FlagKeepConn}.Encode()
		params := fcgiwire.EncodePairs([]fcgiwire.Pair{{Name: "SCRIPT_FILENAME", Value: "/x.php"}})
		for _, r := range []struct {
			typ     fcgiwire.RecordType
			content []byte
		}{{fcgiwire.TypeBeginRequest, begin}, {fcgiwire.TypeParams, params}, {fcgiwire.TypeParams, nil}, {fcgiwire.TypeStdin, nil}} {
			pad := bytes.Repeat([]byte{0xAA}, -len(r.content)&7)
			h := fcgiwire.Header{Version: fcgiwire.Version1, Type: r.typ, RequestID: id, ContentLength: uint16(len(r.content)), PaddingLength: uint8(len(pad))}
			if err := w.WriteRawRecord(h, r.content, pad); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
