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
