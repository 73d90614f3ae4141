package formatters

import (
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/fatih/color"

	"github.com/fcgicli/fcgicli/fcgiwire"
)

// Dumper prints records as raw-dump shows them: one header line per record
// (direction, byte offset in that direction's stream, version, type,
// request id, content and padding length), then the content decoded, and
// a warning line for each anomaly. With Format JSON it writes one JSON
// object per record instead (JSON Lines). It is safe for concurrent use
// and its Observe method is an fcgiwire.Observer.
type Dumper struct {
	W        io.Writer
	P        *Palette
	Format   Format // Text or JSON
	MaxBytes int    // stream content shown per record; 0 for all
	// Conn, when set, labels every record with a connection number (the
	// proxy dumps many connections into one stream).
	Conn uint64
	// Lock, when set, is held while a record is written, so that dumpers
	// of several connections can share one writer.
	Lock sync.Locker

	mu    sync.Mutex
	dirs  [3]dumpDir // indexed by fcgiwire.Direction
	err   error
	Count int // records dumped
}

// dumpDir is what the dumper remembers about one direction.
type dumpDir struct {
	carry   map[uint16][]byte  // PARAMS bytes of a pair not yet complete
	spans   map[uint16]bool    // the carried pair began in an earlier record
	skip    map[uint16]bool    // a pair ran past maxCarry: PARAMS left undecoded
	ended   map[uint16]bool    // END_REQUEST seen for the id
	begun   map[uint16]bool    // BEGIN_REQUEST seen for the id
	closed  map[streamKey]bool // the stream's empty closing record seen
	current uint16             // the request id of the stream, once known
}

// streamKey names one stream of one request.
type streamKey struct {
	id uint16
	t  fcgiwire.RecordType
}

// Expect tells the dumper which request id the received records belong
// to, so a record for another id is flagged.
func (d *Dumper) Expect(id uint16) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dir(fcgiwire.Received).current = id
}

// Err returns the first error writing to W.
func (d *Dumper) Err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

func (d *Dumper) dir(dir fcgiwire.Direction) *dumpDir {
	s := &d.dirs[dir%3]
	if s.carry == nil {
		s.carry, s.spans, s.skip = map[uint16][]byte{}, map[uint16]bool{}, map[uint16]bool{}
		s.ended, s.begun = map[uint16]bool{}, map[uint16]bool{}
		s.closed = map[streamKey]bool{}
	}
	return s
}

// begunSent reports whether a record received is for a request the
// other direction began: raw-dump --send-raw can send several.
func (d *Dumper) begunSent(dir fcgiwire.Direction, id uint16) bool {
	return dir == fcgiwire.Received && d.dir(fcgiwire.Sent).begun[id]
}

// Observe dumps one record.
func (d *Dumper) Observe(ev fcgiwire.Event) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.Count++
	rec := d.decode(ev)
	rec.Conn = d.Conn
	if d.Lock != nil {
		d.Lock.Lock()
		defer d.Lock.Unlock()
	}
	var err error
	if d.Format == JSON {
		err = writeJSONLine(d.W, rec)
	} else {
		_, err = io.WriteString(d.W, d.text(rec))
	}
	if err != nil && d.err == nil {
		d.err = err
	}
}

// Warn writes a warning line that is not about one record (text only;
// JSON gets {"warning": ...}).
func (d *Dumper) Warn(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	msg := fmt.Sprintf(format, args...)
	var err error
	if d.Format == JSON {
		err = writeJSONLine(d.W, struct {
			Warning string `json:"warning"`
		}{msg})
	} else {
		_, err = fmt.Fprintln(d.W, d.P.Error.Sprint("! "+msg))
	}
	if err != nil && d.err == nil {
		d.err = err
	}
}

// dumpRecord is a record decoded for output; its JSON form is raw-dump's
// JSON Lines schema.
type dumpRecord struct {
	Conn           uint64      `json:"conn,omitempty"`
	Dir            string      `json:"dir"`
	Offset         int64       `json:"offset"`
	Version        uint8       `json:"version"`
	Type           string      `json:"type"`
	TypeCode       uint8       `json:"type_code"`
	RequestID      uint16      `json:"request_id"`
	ContentLength  uint16      `json:"content_length"`
	PaddingLength  uint8       `json:"padding_length"`
	ContentBase64  string      `json:"content_base64"`
	Role           string      `json:"role,omitempty"`
	Flags          *uint8      `json:"flags,omitempty"`
	KeepConn       *bool       `json:"keep_conn,omitempty"`
	Params         [][2]string `json:"params,omitempty"`
	SpansRecords   []string    `json:"spans_records,omitempty"`
	AppStatus      *uint32     `json:"app_status,omitempty"`
	ProtocolStatus string      `json:"protocol_status,omitempty"`
	UnknownType    *uint8      `json:"unknown_type,omitempty"`
	EndOfStream    bool        `json:"end_of_stream,omitempty"`
	Warnings       []string    `json:"warnings,omitempty"`

	content []byte
	ev      fcgiwire.Event
}

func (d *Dumper) decode(ev fcgiwire.Event) *dumpRecord {
	h := ev.Header
	r := &dumpRecord{
		Dir: ev.Dir.String(), Offset: ev.Offset, Version: h.Version, Type: h.Type.String(), TypeCode: uint8(h.Type),
		RequestID: h.RequestID, ContentLength: h.ContentLength, PaddingLength: h.PaddingLength,
		ContentBase64: base64.StdEncoding.EncodeToString(ev.Content), content: ev.Content, ev: ev,
	}
	st := d.dir(ev.Dir)
	warn := func(format string, args ...any) { r.Warnings = append(r.Warnings, fmt.Sprintf(format, args...)) }

	if h.RequestID == 0 && (h.Type.IsStream() || h.Type == fcgiwire.TypeBeginRequest || h.Type == fcgiwire.TypeEndRequest || h.Type == fcgiwire.TypeAbortRequest) {
		warn("%s record on request id 0, which only management records use", h.Type)
	}
	if h.RequestID != 0 && h.Type.IsManagement() {
		warn("management record %s on request id %d, not 0", h.Type, h.RequestID)
	}
	if h.RequestID != 0 {
		switch {
		case h.Type == fcgiwire.TypeBeginRequest:
			st.begun[h.RequestID] = true
			// A new request with the id: its streams start afresh, both ways.
			for _, dir := range []fcgiwire.Direction{fcgiwire.Sent, fcgiwire.Received} {
				for _, t := range []fcgiwire.RecordType{fcgiwire.TypeParams, fcgiwire.TypeStdin, fcgiwire.TypeData, fcgiwire.TypeStdout, fcgiwire.TypeStderr} {
					delete(d.dir(dir).closed, streamKey{h.RequestID, t})
				}
			}
			if st.current == 0 {
				st.current = h.RequestID
			}
		case st.current == 0:
			st.current = h.RequestID
		case h.RequestID != st.current && !st.begun[h.RequestID] && !d.begunSent(ev.Dir, h.RequestID):
			warn("request id %d, expected %d", h.RequestID, st.current)
		}
		if st.ended[h.RequestID] {
			warn("record after END_REQUEST for request id %d", h.RequestID)
		}
		if h.Type.IsStream() {
			k := streamKey{h.RequestID, h.Type}
			if st.closed[k] {
				warn("%s record after the stream's empty closing record for request id %d", h.Type, h.RequestID)
			} else if len(ev.Content) == 0 {
				st.closed[k] = true
			}
		}
	}

	switch h.Type {
	case fcgiwire.TypeBeginRequest:
		br, err := fcgiwire.DecodeBeginRequest(ev.Content)
		if err != nil {
			warn("%v", err)
			break
		}
		flags, keep := br.Flags, br.KeepConn()
		r.Role, r.Flags, r.KeepConn = br.Role.String(), &flags, &keep
	case fcgiwire.TypeEndRequest:
		er, err := fcgiwire.DecodeEndRequest(ev.Content)
		if err != nil {
			warn("%v", err)
		} else {
			app := er.AppStatus
			r.AppStatus, r.ProtocolStatus = &app, er.ProtocolStatus.String()
		}
		if h.RequestID != 0 {
			st.ended[h.RequestID] = true
		}
	case fcgiwire.TypeUnknownType:
		t, err := fcgiwire.DecodeUnknownType(ev.Content)
		if err != nil {
			warn("%v", err)
			break
		}
		n := uint8(t)
		r.UnknownType = &n
	case fcgiwire.TypeGetValues, fcgiwire.TypeGetValuesResult:
		pairs, err := fcgiwire.DecodePairs(ev.Content, ev.Offset+fcgiwire.HeaderLen)
		for _, p := range pairs {
			r.Params = append(r.Params, [2]string{p.Name, p.Value})
		}
		if err != nil {
			warn("%v", err)
		}
	case fcgiwire.TypeParams:
		d.decodeParams(st, r, warn)
	}
	if h.Type.IsStream() && len(ev.Content) == 0 {
		r.EndOfStream = true
	}
	return r
}

// maxCarry bounds the bytes of one pair the dumper gathers across PARAMS
// records: the PARAMS stream a server accepts by default, far past what
// any real pair needs, so that a peer announcing a pair of 2 GiB and
// sending records forever costs no more memory than that.
const maxCarry = fcgiwire.DefaultMaxParamsBytes

// decodeParams decodes the pairs of a PARAMS record, carrying over a pair
// that goes on in the next record (as the specification allows) and
// flagging the pairs that spanned records.
func (d *Dumper) decodeParams(st *dumpDir, r *dumpRecord, warn func(string, ...any)) {
	id := r.RequestID
	if len(r.content) == 0 {
		if rest := st.carry[id]; len(rest) > 0 {
			warn("PARAMS stream ended inside a pair: %d bytes left undecoded", len(rest))
		}
		delete(st.carry, id)
		delete(st.spans, id)
		delete(st.skip, id)
		return
	}
	if st.skip[id] {
		return
	}
	carried := len(st.carry[id])
	b := append(st.carry[id], r.content...)
	off := 0
	for off < len(b) {
		p, n, err := fcgiwire.DecodePair(b[off:])
		if err != nil {
			break // the pair goes on in the next record
		}
		r.Params = append(r.Params, [2]string{p.Name, p.Value})
		if off < carried {
			r.SpansRecords = append(r.SpansRecords, p.Name)
		}
		off += n
	}
	switch {
	case len(b)-off > maxCarry:
		warn("a PARAMS pair runs past %d bytes: the rest of this PARAMS stream is left undecoded", maxCarry)
		delete(st.carry, id)
		st.skip[id] = true
	case off < len(b):
		st.carry[id] = append([]byte(nil), b[off:]...)
	default:
		delete(st.carry, id)
	}
}

// typeAttr is the colour of a record type in a dump (0: none of its own).
func typeAttr(t fcgiwire.RecordType) color.Attribute {
	switch t {
	case fcgiwire.TypeBeginRequest, fcgiwire.TypeEndRequest:
		return color.FgMagenta
	case fcgiwire.TypeAbortRequest:
		return color.FgRed
	case fcgiwire.TypeParams:
		return color.FgCyan
	case fcgiwire.TypeStdin, fcgiwire.TypeData:
		return color.FgBlue
	case fcgiwire.TypeStdout:
		return color.FgGreen
	case fcgiwire.TypeStderr:
		return color.FgYellow
	case fcgiwire.TypeGetValues, fcgiwire.TypeGetValuesResult:
		return color.FgHiCyan
	case fcgiwire.TypeUnknownType:
		return color.FgHiRed
	}
	return 0
}

func (d *Dumper) typeColor(t fcgiwire.RecordType) *color.Color {
	c := color.New(color.Bold)
	if a := typeAttr(t); a != 0 {
		c.Add(a)
	}
	if d.P.Enabled {
		c.EnableColor()
	} else {
		c.DisableColor()
	}
	return c
}

func (d *Dumper) text(r *dumpRecord) string {
	var b strings.Builder
	mark := "<"
	if r.ev.Dir == fcgiwire.Sent {
		mark = ">"
	}
	if r.Conn != 0 {
		mark = fmt.Sprintf("c%d %s", r.Conn, mark)
	}
	h := r.ev.Header
	fmt.Fprintf(&b, "%s %s %s %s %s\n",
		mark,
		d.P.Dim.Sprintf("@%-8d v%d", r.Offset, r.Version),
		d.typeColor(h.Type).Sprintf("%-17s", h.Type),
		fmt.Sprintf("id=%-5d", r.RequestID),
		d.P.Dim.Sprintf("len=%-5d pad=%d", r.ContentLength, r.PaddingLength))
	indent := "    "
	switch {
	case r.Role != "":
		fmt.Fprintf(&b, "%srole=%s flags=%d keep_conn=%t\n", indent, r.Role, *r.Flags, *r.KeepConn)
	case r.AppStatus != nil:
		fmt.Fprintf(&b, "%sapp_status=%d protocol_status=%s\n", indent, *r.AppStatus, r.ProtocolStatus)
	case r.UnknownType != nil:
		fmt.Fprintf(&b, "%stype=%d\n", indent, *r.UnknownType)
	}
	spans := map[string]bool{}
	for _, n := range r.SpansRecords {
		spans[n] = true
	}
	for _, p := range r.Params {
		line := fmt.Sprintf("%s%s = %s", indent, Printable(p[0]), Printable(p[1]))
		if spans[p[0]] {
			line += d.P.Info.Sprint("  (pair spans records)")
		}
		b.WriteString(line + "\n")
	}
	hexTypes := h.Type == fcgiwire.TypeStdin || h.Type == fcgiwire.TypeStdout || h.Type == fcgiwire.TypeStderr ||
		h.Type == fcgiwire.TypeData || h.Type > fcgiwire.TypeMax || h.Type == 0
	if r.EndOfStream {
		fmt.Fprintf(&b, "%s(end of stream)\n", indent)
	} else if hexTypes && len(r.content) > 0 {
		shown := r.content
		if d.MaxBytes > 0 && len(shown) > d.MaxBytes {
			shown = shown[:d.MaxBytes]
		}
		b.WriteString(HexDump(shown, indent))
		if len(shown) < len(r.content) {
			fmt.Fprintf(&b, "%s... %d more bytes (--max-bytes 0 shows all)\n", indent, len(r.content)-len(shown))
		}
	}
	for _, w := range r.Warnings {
		fmt.Fprintln(&b, d.P.Error.Sprint("! "+w))
	}
	return b.String()
}

// HexDump formats b as xxd does: an offset, 16 bytes in groups of two,
// and their printable ASCII, each line prefixed with indent.
func HexDump(b []byte, indent string) string {
	var s strings.Builder
	for off := 0; off < len(b); off += 16 {
		line := b[off:min(off+16, len(b))]
		fmt.Fprintf(&s, "%s%08x: ", indent, off)
		for i := 0; i < 16; i++ {
			if i < len(line) {
				fmt.Fprintf(&s, "%02x", line[i])
			} else {
				s.WriteString("  ")
			}
			if i%2 == 1 {
				s.WriteByte(' ')
			}
		}
		s.WriteByte(' ')
		for _, c := range line {
			if c >= 0x20 && c < 0x7f {
				s.WriteByte(c)
			} else {
				s.WriteByte('.')
			}
		}
		s.WriteByte('\n')
	}
	return s.String()
}

// writeJSONLine writes v as one line of JSON.
func writeJSONLine(w io.Writer, v any) error {
	var b strings.Builder
	enc := newCompactEncoder(&b)
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := io.WriteString(w, b.String())
	return err
}
