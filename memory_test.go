package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
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
