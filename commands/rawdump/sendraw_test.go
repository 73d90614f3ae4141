package rawdump

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

// dumpedBeforeWire is the connection of TestSendRawDumpsBeforeSending: at
// every write it checks that each record the bytes on the wire so far
// complete has already been dumped, and that bytes past the last record
// that decodes go out only after the warning that says so.
type dumpedBeforeWire struct {
	t    *testing.T
	dump *bytes.Buffer
	wire []byte
}

func (c *dumpedBeforeWire) Write(p []byte) (int, error) {
	c.wire = append(c.wire, p...)
	r := fcgiwire.NewReader(bytes.NewReader(c.wire))
	records := 0
	for {
		if _, err := r.ReadRecord(); err != nil {
			break
		}
		records++
	}
	dumped := strings.Count(c.dump.String(), "\n> ")
	if strings.HasPrefix(c.dump.String(), "> ") {
		dumped++
	}
	if dumped < records {
		c.t.Errorf("%d bytes on the wire complete %d records, only %d dumped:\n%s", len(c.wire), records, dumped, c.dump)
	}
	if r.Offset() < int64(len(c.wire)) && records == 8 && !strings.Contains(c.dump.String(), "! sent bytes stop decoding at byte ") {
		c.t.Errorf("undecodable bytes on the wire before the warning:\n%s", c.dump)
	}
	return len(p), nil
}

// TestSendRawDumpsBeforeSending: every record --send-raw sends is dumped
// before its bytes are written, so that an answer cannot be dumped before
// the records that caused it; the bytes still go out verbatim, the
// undecodable rest included. The file used to be written ahead of the
// decoding (through a TeeReader), and an answer to request 2 could be
// dumped before request 2 began, with a false "request id 2" warning.
func TestSendRawDumpsBeforeSending(t *testing.T) {
	file := append(twoRequests(t), 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	var dump bytes.Buffer
	d := &formatters.Dumper{W: &dump, P: formatters.NewPalette(false), Format: formatters.Text}
	wire := &dumpedBeforeWire{t: t, dump: &dump}
	sendRawFile(bytes.NewReader(file), wire, d)
	if !bytes.Equal(wire.wire, file) {
		t.Errorf("sent %x, want the file's bytes %x", wire.wire, file)
	}
	if got := strings.Count(dump.String(), "\n! "); got != 1 {
		t.Errorf("%d warnings, want one (the undecodable rest):\n%s", got, dump.String())
	}
}

// TestSendRawAnswerAfterRequest: an application that answers each request
// as soon as it has read its BEGIN_REQUEST, while the client is still
// sending the file. Every record received is dumped after the sent
// BEGIN_REQUEST of its request, and nothing is flagged.
func TestSendRawAnswerAfterRequest(t *testing.T) {
	file := filepath.Join(t.TempDir(), "two.bin")
	if err := os.WriteFile(file, twoRequests(t), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		r, w := fcgiwire.NewReader(c), fcgiwire.NewWriter(c)
		for {
			rec, err := r.ReadRecord()
			if err != nil {
				return
			}
			if rec.Type != fcgiwire.TypeBeginRequest {
				continue
			}
			_ = w.WriteRecord(fcgiwire.TypeStdout, rec.RequestID, []byte("Status: 200 OK\r\n\r\n"))
			_ = w.WriteRecord(fcgiwire.TypeEndRequest, rec.RequestID, fcgiwire.EndRequest{ProtocolStatus: fcgiwire.RequestComplete}.Encode())
			if err := w.Flush(); err != nil {
				return
			}
		}
	}()
	var dump bytes.Buffer
	d := &formatters.Dumper{W: &dump, P: formatters.NewPalette(false), Format: formatters.JSON}
	o := fcgireq.NetOptions{Connect: l.Addr().String(), ConnectTimeout: 5 * time.Second, Timeout: 10 * time.Second}
	if err := SendRaw(context.Background(), o, nil, file, d, Save{}); err != nil {
		t.Fatalf("SendRaw: %v\n%s", err, dump.String())
	}
	begun := map[uint16]bool{}
	received := 0
	for _, line := range strings.Split(strings.TrimSpace(dump.String()), "\n") {
		var rec struct {
			Dir       string   `json:"dir"`
			Type      string   `json:"type"`
			RequestID uint16   `json:"request_id"`
			Warnings  []string `json:"warnings"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if len(rec.Warnings) > 0 {
			t.Errorf("warnings %q:\n%s", rec.Warnings, dump.String())
		}
		switch {
		case rec.Dir == "sent" && rec.Type == "BEGIN_REQUEST":
			begun[rec.RequestID] = true
		case rec.Dir == "received":
			received++
			if !begun[rec.RequestID] {
				t.Fatalf("a %s for request %d dumped before its BEGIN_REQUEST:\n%s", rec.Type, rec.RequestID, dump.String())
			}
		}
	}
	if received != 4 {
		t.Fatalf("%d records received, want 4:\n%s", received, dump.String())
	}
}
