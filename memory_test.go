package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fcgicliCmd returns a command that runs this test binary as fcgicli
// (testscript.Main dispatches on the program name).
func fcgicliCmd(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "fcgicli")
	if err := os.Symlink(self, link); err != nil {
		t.Fatal(err)
	}
	return exec.Command(link, args...)
}

// TestLargeResponseBoundedMemory streams a 100 MiB response from php-fpm
// through fcgicli and checks every byte arrives while the process's peak
// resident memory is no larger than for a 4 MiB response (within a small
// margin): memory stays flat whatever the response size. Comparing two
// runs keeps the check valid under the race detector, whose runtime has a
// larger base.
func TestLargeResponseBoundedMemory(t *testing.T) {
	if os.Getenv("CI") == "" && findFPM() == "" {
		t.Skip("php-fpm is not installed")
	}
	vars, err := fpm.start()
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"text", "raw"} {
		t.Run(format, func(t *testing.T) {
			small := streamBig(t, vars, format, 4)
			large := streamBig(t, vars, format, 100)
			t.Logf("%s: peak RSS %.1f MiB for 4 MiB, %.1f MiB for 100 MiB", format, float64(small)/(1<<20), float64(large)/(1<<20))
			if large > small+16<<20 {
				t.Fatalf("peak RSS grew from %d to %d bytes with the response size: memory is not flat", small, large)
			}
		})
	}
}

// streamBig runs fcgicli on big.php?mb=MB, checks the bytes on stdout and
// returns the process's peak RSS in bytes.
func streamBig(t *testing.T, vars map[string]string, format string, mb int) int64 {
	t.Helper()
	cmd := fcgicliCmd(t, "request", "-c", vars["FPM_TCP"], fmt.Sprintf("%s/big.php?mb=%d", vars["DOCROOT"], mb), "-o", format, "-t", "120s")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	want := int64(mb) << 20
	skip := int64(0)
	if format == "raw" {
		skip = int64(len(rawHeader))
		want += skip
	}
	check := &xChecker{skip: skip, bad: -1}
	n, err := io.Copy(check, out)
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("fcgicli: %v\n%s", err, stderr.String())
	}
	if n != want {
		t.Fatalf("got %d bytes on stdout, want %d", n, want)
	}
	if check.bad >= 0 {
		t.Fatalf("byte %d of stdout is not the body's \"x\"", check.bad)
	}
	return cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss * 1024
}

// rawHeader is big.php's CGI header block as php-fpm sends it.
const rawHeader = "Content-Type: application/octet-stream\r\n\r\n"

// xChecker checks that everything after the first skip bytes is "x",
// without keeping it; bad is the offset of the first other byte, or -1.
type xChecker struct {
	skip, off int64
	bad       int64
}

func (x *xChecker) Write(p []byte) (int, error) {
	for i, b := range p {
		if x.off+int64(i) >= x.skip && b != 'x' && x.bad < 0 {
			x.bad = x.off + int64(i)
		}
	}
	x.off += int64(len(p))
	return len(p), nil
}

// TestHugeStreamsFlatMemory streams 1 GiB of stdout and 100 MiB of stderr
// from a hostile server through fcgicli: every byte arrives, and the peak
// resident memory is that of a 4 MiB stream, within a small margin.
func TestHugeStreamsFlatMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 1 GiB")
	}
	for _, c := range []struct {
		stream     string
		small, big int
	}{{"stdout", 4, 1024}, {"stderr", 4, 100}} {
		t.Run(c.stream, func(t *testing.T) {
			small := streamHostile(t, c.stream, c.small)
			big := streamHostile(t, c.stream, c.big)
			t.Logf("%s: peak RSS %.1f MiB for %d MiB, %.1f MiB for %d MiB", c.stream, float64(small)/(1<<20), c.small, float64(big)/(1<<20), c.big)
			if big > small+16<<20 {
				t.Fatalf("peak RSS grew from %d to %d bytes with the stream size: memory is not flat", small, big)
			}
		})
	}
}

// streamHostile runs fcgicli against a hostile stdout-N or stderr-N server,
// checks the stream's bytes and returns the peak RSS.
func streamHostile(t *testing.T, stream string, mb int) int64 {
	t.Helper()
	h, err := startHostile("tcp", "127.0.0.1:0", fmt.Sprintf("%s-%d", stream, mb))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	cmd := fcgicliCmd(t, "request", "-c", h.Addr, "/x", "-t", "5m")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errOut, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	outCheck, errCheck := &xChecker{bad: -1}, &xChecker{bad: -1}
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(errCheck, errOut)
		done <- err
	}()
	if _, err := io.Copy(outCheck, out); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("fcgicli: %v", err)
	}
	check, other := outCheck, errCheck
	if stream == "stderr" {
		check, other = errCheck, outCheck
	}
	if want := int64(mb) << 20; check.off != want || check.bad >= 0 {
		t.Fatalf("%s: %d bytes (first bad byte at %d), want %d bytes of x", stream, check.off, check.bad, want)
	}
	if other.off != 0 {
		t.Fatalf("%d stray bytes on the other stream", other.off)
	}
	return cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss * 1024
}

// runJSON runs fcgicli request -o json with args against a hostile server
// of kind, reading its stdout as it comes (counting the bytes and keeping
// the document's start and end) and killing it after a generous deadline.
// It returns the exit code, the peak RSS, the bytes on stdout and the
// last kilobyte of them.
func runJSON(t *testing.T, kind string, args ...string) (code int, rss, n int64, tail string) {
	t.Helper()
	h, err := startHostile("tcp", "127.0.0.1:0", kind)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	cmd := fcgicliCmd(t, append([]string{"request", "-c", h.Addr, "/x", "-o", "json"}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Only a hang reaches this: the command's own deadlines are far shorter.
	killer := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() })
	defer killer.Stop()
	last := &tailWriter{max: 1024}
	n, err = io.Copy(last, out)
	if err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	if ws := cmd.ProcessState.Sys().(syscall.WaitStatus); ws.Signaled() {
		t.Fatalf("fcgicli killed after 2 minutes: it did not end\n%s", stderr.String())
	}
	return cmd.ProcessState.ExitCode(), cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss * 1024, n, string(last.b)
}

// tailWriter keeps the last max bytes written to it.
type tailWriter struct {
	b   []byte
	max int
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	if len(w.b) > w.max {
		w.b = append(w.b[:0], w.b[len(w.b)-w.max:]...)
	}
	return len(p), nil
}

// TestJSONBoundedMemory: request -o json keeps --max-body of the body
// outside memory and streams it into the document, so a 64 MiB body of
// NUL bytes (six bytes each in JSON) takes the memory of a 1 MiB one.
func TestJSONBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 384 MiB document")
	}
	_, small, smallN, _ := runJSON(t, "nul-1", "-t", "5m")
	code, large, largeN, tail := runJSON(t, "nul-64", "-t", "5m")
	t.Logf("peak RSS %.1f MiB for a 1 MiB body (%d bytes of JSON), %.1f MiB for 64 MiB (%d bytes)", float64(small)/(1<<20), smallN, float64(large)/(1<<20), largeN)
	if code != 0 {
		t.Fatalf("exit code %d for the 64 MiB body", code)
	}
	if want := int64(6 << 26); largeN < want || !strings.Contains(tail, `"body_truncated": false`) || !strings.HasSuffix(tail, "}\n") {
		t.Fatalf("%d bytes of JSON ending %q, want at least %d and the whole document", largeN, tail, want)
	}
	if large > small+16<<20 || large > 4*(64<<20) {
		t.Fatalf("peak RSS grew from %d to %d bytes with the body size", small, large)
	}
}

// TestJSONTimeoutEndless: against a server that streams a body forever,
// request -o json -t 2s ends with exit 4 as text mode does, with the
// document of what came (the first --max-body bytes), and its memory does
// not grow with what the server sent.
func TestJSONTimeoutEndless(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 384 MiB document")
	}
	_, small, _, _ := runJSON(t, "nul-1", "-t", "5m")
	code, rss, n, tail := runJSON(t, "endless", "-t", "2s")
	t.Logf("peak RSS %.1f MiB (%.1f MiB for a 1 MiB body), %d bytes of JSON", float64(rss)/(1<<20), float64(small)/(1<<20), n)
	if code != 4 {
		t.Fatalf("exit code %d, want 4", code)
	}
	if !strings.Contains(tail, `"error": "timed out after 2s (--timeout)"`) {
		t.Errorf("document ends %q, want the timeout in error", tail)
	}
	if rss > small+16<<20 {
		t.Fatalf("peak RSS %d bytes, %d for a 1 MiB body: memory grows with what the server sends", rss, small)
	}
}
