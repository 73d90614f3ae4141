package formatters

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"testing"

	"github.com/fcgicli/fcgicli/fcgiwire"
)

// FuzzDumper decodes arbitrary bytes as raw-dump --decode does, in both
// directions and both formats: it must not panic, must stop, and every
// JSON line must be valid JSON whose content decodes to what the record
// carried. The seed corpus holds captures of php-fpm, fcgiwrap and
// net/http/fcgi traffic (see TestWriteCaptureCorpus).
func FuzzDumper(f *testing.F) {
	f.Add([]byte{1, 6, 0, 1, 0, 2, 6, 0, 'h', 'i', 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, dir := range []fcgiwire.Direction{fcgiwire.Sent, fcgiwire.Received} {
			for _, format := range []Format{Text, JSON} {
				var out bytes.Buffer
				d := &Dumper{W: &out, P: NewPalette(format == Text), Format: format, MaxBytes: 64}
				r := fcgiwire.NewReader(bytes.NewReader(data))
				n := 0
				r.Observe = func(ev fcgiwire.Event) {
					ev.Dir = dir
					d.Observe(ev)
					n++
				}
				for i := 0; ; i++ {
					if i > len(data) {
						t.Fatalf("more records than bytes")
					}
					if _, err := r.ReadRecord(); err != nil {
						if err != io.EOF && r.Offset() > int64(len(data)) {
							t.Fatalf("offset %d past the %d bytes", r.Offset(), len(data))
						}
						break
					}
				}
				if d.Count != n {
					t.Fatalf("dumped %d records, observed %d", d.Count, n)
				}
				if format != JSON {
					continue
				}
				sc := bufio.NewScanner(&out)
				sc.Buffer(nil, 1<<20)
				lines := 0
				for sc.Scan() {
					var rec struct {
						ContentLength int    `json:"content_length"`
						Content       []byte `json:"content_base64"`
					}
					if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
						t.Fatalf("invalid JSON line %q: %v", sc.Text(), err)
					}
					if len(rec.Content) != rec.ContentLength {
						t.Fatalf("content_base64 holds %d bytes, content_length says %d", len(rec.Content), rec.ContentLength)
					}
					lines++
				}
				if lines != n {
					t.Fatalf("%d JSON lines for %d records", lines, n)
				}
			}
		}
	})
}
