package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fcgicli/fcgicli/fcgiwire"
)

// captureProxy forwards one connection to upstream and keeps the bytes of
// each direction, as a capture on the socket would.
type captureProxy struct {
	addr       string
	mu         sync.Mutex
	sent, recv bytes.Buffer
	done       chan struct{}
}

func newCaptureProxy(t *testing.T, upstream string) *captureProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	p := &captureProxy{addr: l.Addr().String(), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		u, err := net.Dial("tcp", upstream)
		if err != nil {
			return
		}
		defer u.Close()
		var wg sync.WaitGroup
		wg.Add(2)
		pipe := func(dst, src net.Conn, buf *bytes.Buffer) {
			defer wg.Done()
			b := make([]byte, 4096)
			for {
				n, err := src.Read(b)
				if n > 0 {
					p.mu.Lock()
					buf.Write(b[:n])
					p.mu.Unlock()
					dst.Write(b[:n])
				}
				if err != nil {
					if tc, ok := dst.(*net.TCPConn); ok {
						tc.CloseWrite()
					}
					return
				}
			}
		}
		go pipe(u, c, &p.sent)
		go pipe(c, u, &p.recv)
		wg.Wait()
	}()
	return p
}

type dumpLine struct {
	Dir           string `json:"dir"`
	Offset        int64  `json:"offset"`
	Version       uint8  `json:"version"`
	TypeCode      uint8  `json:"type_code"`
	RequestID     uint16 `json:"request_id"`
	ContentLength uint16 `json:"content_length"`
	PaddingLength uint8  `json:"padding_length"`
	ContentBase64 string `json:"content_base64"`
}

func parseDump(t *testing.T, out []byte) []dumpLine {
	t.Helper()
	var lines []dumpLine
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var l dumpLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("dump line %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	return lines
}

// recordsOf decodes captured bytes independently of fcgicli's dumper.
func recordsOf(t *testing.T, dir string, b []byte) []dumpLine {
	t.Helper()
	r := fcgiwire.NewReader(bytes.NewReader(b))
	var out []dumpLine
	for {
		off := r.Offset()
		rec, err := r.ReadRecord()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("captured %s bytes: %v", dir, err)
		}
		out = append(out, dumpLine{Dir: dir, Offset: off, Version: rec.Version, TypeCode: uint8(rec.Type), RequestID: rec.RequestID,
			ContentLength: rec.ContentLength, PaddingLength: rec.PaddingLength, ContentBase64: base64.StdEncoding.EncodeToString(rec.Content)})
	}
}

func byDir(lines []dumpLine, dir string) []dumpLine {
	var out []dumpLine
	for _, l := range lines {
		if l.Dir == dir {
			out = append(out, l)
		}
	}
	return out
}

func sameRecords(t *testing.T, what string, got, want []dumpLine) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d records, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: record %d is %+v, want %+v", what, i, got[i], want[i])
		}
	}
}

// TestRawDumpMatchesSocket runs raw-dump against php-fpm through a proxy
// that captures the socket's bytes, and checks that every record dumped
// is exactly what crossed the socket, that --save-request/--save-response
// hold those bytes, and that --decode of the saved files reproduces the
// live dump, in JSON and in text.
func TestRawDumpMatchesSocket(t *testing.T) {
	if os.Getenv("CI") == "" && findFPM() == "" {
		t.Skip("php-fpm is not installed")
	}
	vars, err := fpm.start()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	reqFile, respFile := filepath.Join(dir, "req.bin"), filepath.Join(dir, "resp.bin")
	proxy := newCaptureProxy(t, vars["FPM_TCP"])
	cmd := fcgicliCmd(t, "raw-dump", "-c", proxy.addr, vars["DOCROOT"]+"/stderr.php", "-d", strings.Repeat("body", 20000),
		"-o", "json", "--save-request", reqFile, "--save-response", respFile)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("raw-dump: %v", err)
	}
	<-proxy.done
	live := parseDump(t, out)

	sameRecords(t, "sent", byDir(live, "sent"), recordsOf(t, "sent", proxy.sent.Bytes()))
	sameRecords(t, "received", byDir(live, "received"), recordsOf(t, "received", proxy.recv.Bytes()))
	for file, want := range map[string][]byte{reqFile: proxy.sent.Bytes(), respFile: proxy.recv.Bytes()} {
		got, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s holds %d bytes that differ from the %d captured on the socket", file, len(got), len(want))
		}
	}
	if n := len(byDir(live, "received")); n < 3 {
		t.Fatalf("only %d records received from php-fpm", n)
	}

	for file, dirName := range map[string]string{reqFile: "sent", respFile: "received"} {
		out, err := fcgicliCmd(t, "raw-dump", "--decode", file, "-o", "json").Output()
		if err != nil {
			t.Fatalf("--decode %s: %v", file, err)
		}
		sameRecords(t, "--decode "+dirName, parseDump(t, out), byDir(live, dirName))
	}

	// Text: the live dump's blocks of each direction, in order, are the
	// decoded dump of that direction's file.
	text, err := fcgicliCmd(t, "raw-dump", "-c", vars["FPM_TCP"], vars["DOCROOT"]+"/stderr.php", "--color", "never",
		"--save-request", reqFile, "--save-response", respFile).Output()
	if err != nil {
		t.Fatalf("raw-dump: %v", err)
	}
	for file, mark := range map[string]string{reqFile: ">", respFile: "<"} {
		decoded, err := fcgicliCmd(t, "raw-dump", "--decode", file, "--color", "never").Output()
		if err != nil {
			t.Fatalf("--decode %s: %v", file, err)
		}
		if got := blocks(string(text), mark); got != string(decoded) {
			t.Fatalf("live %q blocks:\n%s\ndecoded %s:\n%s", mark, got, file, decoded)
		}
	}
}

// blocks returns the records of a text dump whose header line starts with
// mark, with their decoded lines.
func blocks(dump, mark string) string {
	var b strings.Builder
	keep := false
	for _, line := range strings.SplitAfter(dump, "\n") {
		if strings.HasPrefix(line, "> ") || strings.HasPrefix(line, "< ") {
			keep = strings.HasPrefix(line, mark+" ")
		}
		if keep {
			b.WriteString(line)
		}
	}
	return b.String()
}

// TestSendRawAnsweredBeforeSent: an application that answers a GET_VALUES
// at once and never reads the rest of the file (8 MiB that do not decode)
// still ends the exchange when its answer arrives. The file's expectations
// used to be learnt from sending it, after the last read had started.
func TestSendRawAnsweredBeforeSent(t *testing.T) {
	gv := mgmtRecord(fcgiwire.TypeGetValues, fcgiwire.Pair{Name: "FCGI_MPXS_CONNS"})
	file := filepath.Join(t.TempDir(), "gv.bin")
	if err := os.WriteFile(file, append(append([]byte{}, gv...), bytes.Repeat([]byte{0}, 8<<20)...), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	hold := make(chan struct{})
	t.Cleanup(func() { close(hold) })
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.ReadFull(c, make([]byte, len(gv))); err != nil {
			return
		}
		answer := mgmtRecord(fcgiwire.TypeGetValuesResult, fcgiwire.Pair{Name: "FCGI_MPXS_CONNS", Value: "0"})
		if _, err := c.Write(answer); err != nil {
			return
		}
		<-hold // the connection stays open, and nothing more is read
	}()
	out, err := fcgicliCmd(t, "raw-dump", "-c", l.Addr().String(), "--send-raw", file, "--color", "never", "-t", "60s").CombinedOutput()
	if code := exitCodeOf(t, err); code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if !strings.Contains(string(out), "GET_VALUES_RESULT") || !strings.Contains(string(out), "FCGI_MPXS_CONNS = 0") {
		t.Fatalf("no answer in the dump:\n%s", out)
	}
}

// TestSendRawFromPipe: --send-raw reads a file that cannot seek (here
// stdin, a pipe) into memory, and still knows what it asked for.
func TestSendRawFromPipe(t *testing.T) {
	gv := mgmtRecord(fcgiwire.TypeGetValues, fcgiwire.Pair{Name: "FCGI_MAX_REQS"})
	cmd := fcgicliCmd(t, "raw-dump", "-c", "builtin", "--send-raw", "/dev/stdin", "--color", "never", "-t", "10s")
	cmd.Stdin = bytes.NewReader(gv) // exec feeds it through a pipe
	out, err := cmd.CombinedOutput()
	if code := exitCodeOf(t, err); code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if !strings.Contains(string(out), "> @0        v1 GET_VALUES ") || !strings.Contains(string(out), "< @0        v1 GET_VALUES_RESULT") {
		t.Fatalf("dump:\n%s", out)
	}
}

// mgmtRecord encodes a management record of one pair, padded to 8 bytes.
func mgmtRecord(t fcgiwire.RecordType, p fcgiwire.Pair) []byte {
	content := fcgiwire.EncodePairs([]fcgiwire.Pair{p})
	return record(t, 0, content, -len(content)&7)
}
