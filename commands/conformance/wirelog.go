package conformance

import (
	"fmt"
	"strings"
	"sync"

	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

// wireLog keeps what a case sent and received: a short summary of each
// record, and with -v the raw-dump.
type wireLog struct {
	mu      sync.Mutex
	sent    []string
	recv    []string
	dump    *formatters.Dumper
	dumpBuf runenv.LockedWriter
}

func (l *wireLog) dumpText() string { return l.dumpBuf.String() }

// observer returns the observer of one connection, numbered conn.
func (l *wireLog) observer(conn int) fcgiwire.Observer {
	var d *formatters.Dumper
	if l.dump != nil {
		d = &formatters.Dumper{W: &l.dumpBuf, P: l.dump.P, Format: formatters.Text, MaxBytes: l.dump.MaxBytes}
		if conn > 1 {
			d.Conn = uint64(conn)
		}
	}
	return func(ev fcgiwire.Event) {
		if d != nil {
			d.Observe(ev)
		}
		s := describeRecord(ev.Header, ev.Content)
		if conn > 1 {
			s = fmt.Sprintf("c%d %s", conn, s)
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if ev.Dir == fcgiwire.Sent {
			l.sent = append(l.sent, s)
		} else {
			l.recv = append(l.recv, s)
		}
	}
}

// note adds an event that is not a record (a close, a timeout) to the
// received side.
func (l *wireLog) note(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recv = append(l.recv, "("+s+")")
}

// summary returns the records both ways, runs of alike records counted.
func (l *wireLog) summary() (string, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return squash(l.sent), squash(l.recv)
}

// squash joins descriptions with ", ", writing a run of equal ones once
// with its count, and keeps at most 12 entries.
func squash(items []string) string {
	if len(items) == 0 {
		return "nothing"
	}
	var out []string
	for i := 0; i < len(items); {
		j := i
		for j < len(items) && items[j] == items[i] {
			j++
		}
		if j-i > 1 {
			out = append(out, fmt.Sprintf("%s ×%d", items[i], j-i))
		} else {
			out = append(out, items[i])
		}
		i = j
	}
	if len(out) > 12 {
		out = append(out[:11], fmt.Sprintf("… %d more", len(out)-11))
	}
	return strings.Join(out, ", ")
}

// describeRecord is a record in a few words: "PARAMS id=1 len=30".
func describeRecord(h fcgiwire.Header, content []byte) string {
	s := fmt.Sprintf("%s id=%d", h.Type, h.RequestID)
	if h.Version != fcgiwire.Version1 {
		s = fmt.Sprintf("v%d %s", h.Version, s)
	}
	switch h.Type {
	case fcgiwire.TypeBeginRequest:
		if br, err := fcgiwire.DecodeBeginRequest(content); err == nil {
			s += " " + br.Role.String()
			if br.KeepConn() {
				s += " keep_conn"
			}
			return s
		}
	case fcgiwire.TypeEndRequest:
		if er, err := fcgiwire.DecodeEndRequest(content); err == nil {
			return fmt.Sprintf("%s %s app_status=%d", s, er.ProtocolStatus, er.AppStatus)
		}
	case fcgiwire.TypeUnknownType:
		if t, err := fcgiwire.DecodeUnknownType(content); err == nil {
			return fmt.Sprintf("%s type=%d", s, uint8(t))
		}
	case fcgiwire.TypeGetValues, fcgiwire.TypeGetValuesResult:
		pairs, err := fcgiwire.DecodePairs(content, 0)
		var names []string
		for _, p := range pairs {
			if h.Type == fcgiwire.TypeGetValues {
				names = append(names, p.Name)
			} else {
				names = append(names, p.Name+"="+p.Value)
			}
		}
		if err != nil {
			names = append(names, "malformed")
		}
		return s + " {" + strings.Join(names, " ") + "}"
	}
	if len(content) == 0 && (h.Type.IsStream() || h.Type == fcgiwire.TypeAbortRequest) {
		if h.Type.IsStream() {
			return s + " end"
		}
		return s
	}
	s += fmt.Sprintf(" len=%d", len(content))
	if h.PaddingLength != 0 {
		s += fmt.Sprintf(" pad=%d", h.PaddingLength)
	}
	return s
}
