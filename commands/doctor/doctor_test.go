package doctor

import (
	"context"
	"testing"
	"time"

	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

// A TLS peer's first byte (an alert, a handshake) is told from other bad
// versions.
func TestIsTLS(t *testing.T) {
	for _, c := range []struct {
		reason string
		want   bool
	}{
		{"version byte is 21", true},
		{"version byte is 22", true},
		{"version byte is 2", false},
	} {
		err := &fcgiwire.ProtocolError{Err: fcgiwire.ErrBadVersion, Reason: c.reason}
		if got := isTLS(err); got != c.want {
			t.Errorf("%s: isTLS %v, want %v", c.reason, got, c.want)
		}
	}
}

// Nothing listens: the connect fails, exit 3, and no step follows it.
func TestRunRefused(t *testing.T) {
	o := Options{Net: fcgireq.NetOptions{ConnectTimeout: time.Second}, Step: time.Second}
	reps, code := Run(context.Background(), o, []Pool{{Label: "127.0.0.1:1", Addr: "127.0.0.1:1", PingPath: "/ping"}})
	rep := reps[0]
	if code != runenv.ExitConnect || rep.Verdict != Fail {
		t.Fatalf("exit %d, verdict %s, want 3 and fail", code, rep.Verdict)
	}
	last := rep.Steps[len(rep.Steps)-1]
	if last.Name != "connect" || last.Result != Fail || last.Do == "" {
		t.Errorf("last step %+v, want a failed connect with what to do", last)
	}
}

// An application that answers FCGI_GET_VALUES with FCGI_UNKNOWN_TYPE, or
// closes instead, still speaks FastCGI: the fastcgi step does not fail.
func TestFastCGIStep(t *testing.T) {
	for _, c := range []struct {
		err    error
		result string
	}{
		{&fcgiwire.ProtocolError{RecordType: fcgiwire.TypeUnknownType, Err: fcgiwire.ErrUnknownTypeAnswer}, OK},
		{&fcgiwire.ProtocolError{Err: fcgiwire.ErrNoAnswer}, Warn},
		{&fcgiwire.ProtocolError{Err: fcgiwire.ErrBadVersion, Reason: "version byte is 21"}, Fail},
	} {
		d := &doctor{r: &formatters.DoctorReport{}}
		code := d.fastcgiResult(c.err, 0)
		if got := d.r.Steps[0].Result; got != c.result || (c.result == Fail) != (code == runenv.ExitProtocol) {
			t.Errorf("%v: %s, exit %d; want %s", c.err, got, code, c.result)
		}
	}
}
