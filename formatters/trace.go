package formatters

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/fcgicli/fcgicli/fcgiwire"
)

// Tracer writes a curl -v style trace of every record, one line per record
// ("> " sent, "< " received) plus its decoded body where it is short: the
// role and flags of BEGIN_REQUEST, each param, the END_REQUEST statuses.
// Stream content is not dumped, only its length. It is safe for
// concurrent use, as an fcgiwire.Observer must be.
type Tracer struct {
	W io.Writer
	P *Palette

	mu sync.Mutex
}

// Info writes a "* " line about the connection.
func (t *Tracer) Info(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintln(t.W, t.P.Info.Sprint("* "+fmt.Sprintf(format, args...)))
}

// Observe is an fcgiwire.Observer.
func (t *Tracer) Observe(ev fcgiwire.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	mark, c := "< ", t.P.Received
	if ev.Dir == fcgiwire.Sent {
		mark, c = "> ", t.P.Sent
	}
	var b strings.Builder
	for _, line := range RecordLines(ev.Header, ev.Content) {
		b.WriteString(c.Sprint(mark + line))
		b.WriteByte('\n')
	}
	_, _ = io.WriteString(t.W, b.String())
}

// RecordLines describes one record: a summary line, then one line per
// name-value pair for PARAMS and GET_VALUES(_RESULT) records.
func RecordLines(h fcgiwire.Header, content []byte) []string {
	head := fmt.Sprintf("%s id=%d len=%d pad=%d", h.Type, h.RequestID, h.ContentLength, h.PaddingLength)
	if h.Version != fcgiwire.Version1 {
		head += fmt.Sprintf(" version=%d", h.Version)
	}
	lines := []string{head}
	switch h.Type {
	case fcgiwire.TypeBeginRequest:
		if br, err := fcgiwire.DecodeBeginRequest(content); err == nil {
			flags := "0"
			if br.KeepConn() {
				flags = "KEEP_CONN"
			} else if br.Flags != 0 {
				flags = fmt.Sprintf("0x%02x", br.Flags)
			}
			lines[0] += fmt.Sprintf(" role=%s flags=%s", br.Role, flags)
		}
	case fcgiwire.TypeEndRequest:
		if er, err := fcgiwire.DecodeEndRequest(content); err == nil {
			lines[0] += fmt.Sprintf(" app_status=%d protocol_status=%s", er.AppStatus, er.ProtocolStatus)
		}
	case fcgiwire.TypeUnknownType:
		if t, err := fcgiwire.DecodeUnknownType(content); err == nil {
			lines[0] += fmt.Sprintf(" type=%d", uint8(t))
		}
	case fcgiwire.TypeParams, fcgiwire.TypeGetValues, fcgiwire.TypeGetValuesResult:
		if len(content) == 0 {
			if h.Type == fcgiwire.TypeParams {
				lines[0] += " (end of params)"
			}
			break
		}
		pairs, err := fcgiwire.DecodePairs(content, 0)
		for _, p := range pairs {
			lines = append(lines, "  "+Printable(p.Name)+"="+Printable(p.Value))
		}
		if err != nil {
			lines = append(lines, "  (undecodable: "+err.Error()+")")
		}
	default:
		if h.Type.IsStream() && len(content) == 0 {
			lines[0] += " (end of stream)"
		}
	}
	return lines
}

// Printable returns s as is when it is printable UTF-8, else quoted.
func Printable(s string) string {
	if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return !strconv.IsPrint(r) }) {
		return strconv.Quote(s)
	}
	return s
}

// Millis prints a duration in milliseconds with two decimals, as the
// trace's lines and ping's report show it.
func Millis(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}
