package fcgireq

import (
	"strings"
	"testing"

	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
)

func TestCheckUnknownType(t *testing.T) {
	const asked = fcgiwire.RecordType(42)
	for _, c := range []struct {
		rec  fcgiwire.Record
		want string // "" for none
	}{
		{fcgiwire.Record{Header: fcgiwire.Header{Type: fcgiwire.TypeUnknownType}, Content: []byte{42, 0, 0, 0, 0, 0, 0, 0}}, ""},
		{fcgiwire.Record{Header: fcgiwire.Header{Type: fcgiwire.TypeUnknownType}, Content: []byte{41, 0, 0, 0, 0, 0, 0, 0}}, "the application's UNKNOWN_TYPE names type 41, not 42"},
		{fcgiwire.Record{Header: fcgiwire.Header{Type: fcgiwire.TypeUnknownType}, Content: []byte{42}}, "malformed UNKNOWN_TYPE answer: "},
		{fcgiwire.Record{Header: fcgiwire.Header{Type: fcgiwire.TypeGetValuesResult}}, "the application answered type 42 with "},
	} {
		err := CheckUnknownType(asked, c.rec)
		code, msg := runenv.ExitCode(err)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%v: %v, want none", c.rec.Header, err)
		case c.want != "" && (code != runenv.ExitProtocol || !strings.HasPrefix(msg, c.want)):
			t.Errorf("%v: exit %d %q, want exit %d %q...", c.rec.Header, code, msg, runenv.ExitProtocol, c.want)
		}
	}
}
