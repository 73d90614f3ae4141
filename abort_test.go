package main

import (
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fcgicli/fcgicli/fcgiwire"
)

// silentServer accepts one connection, reads the request up to the end of
// its STDIN stream, signals that on got, then reads on without answering
// and reports on seen the first record that arrives after STDIN.
func silentServer(t *testing.T) (addr string, got chan struct{}, seen chan fcgiwire.Header) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	got, seen = make(chan struct{}), make(chan fcgiwire.Header, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		r := fcgiwire.NewReader(c)
		for {
			rec, err := r.ReadRecord()
			if err != nil {
				return
			}
			if rec.Type == fcgiwire.TypeStdin && len(rec.Content) == 0 {
				break
			}
		}
		close(got)
		rec, err := r.ReadRecord()
		if err == nil {
			seen <- rec.Header
		}
	}()
	return l.Addr().String(), got, seen
}

func exitCodeOf(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

func checkAbort(t *testing.T, seen chan fcgiwire.Header, id uint16) {
	t.Helper()
	select {
	case h := <-seen:
		if h.Type != fcgiwire.TypeAbortRequest || h.RequestID != id {
			t.Fatalf("after the deadline the server got %s id=%d, want ABORT_REQUEST id=%d", h.Type, h.RequestID, id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the server never got FCGI_ABORT_REQUEST")
	}
}

// TestTimeoutSendsAbort: when --timeout passes mid-request, fcgicli sends
// FCGI_ABORT_REQUEST, exits 4 and says so.
func TestTimeoutSendsAbort(t *testing.T) {
	addr, _, seen := silentServer(t)
	cmd := fcgicliCmd(t, "request", "-c", addr, "/x", "-t", "300ms", "--request-id", "9")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	code := exitCodeOf(t, cmd.Run())
	if code != 4 {
		t.Fatalf("exit %d, want 4; stderr: %s", code, stderr.String())
	}
	// The message, then the hint that the connection had been accepted.
	want := regexp.MustCompile(`^fcgicli: timed out after 300ms \(--timeout\)\nfcgicli: hint: the connection was accepted in [0-9.]+ms, then nothing answered: .*\n$`)
	if got := stderr.String(); !want.MatchString(got) {
		t.Fatalf("stderr %q, want a match of %s", got, want)
	}
	checkAbort(t, seen, 9)
}

// TestInterruptSendsAbort: Ctrl-C mid-request sends FCGI_ABORT_REQUEST and
// exits 130.
func TestInterruptSendsAbort(t *testing.T) {
	addr, got, seen := silentServer(t)
	cmd := fcgicliCmd(t, "request", "-c", addr, "/x")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	signalOnRequest(t, cmd, got, os.Interrupt)
	code := exitCodeOf(t, cmd.Wait())
	if code != 130 {
		t.Fatalf("exit %d, want 130; stderr: %s", code, stderr.String())
	}
	if got, want := stderr.String(), "fcgicli: interrupted\n"; got != want {
		t.Fatalf("stderr %q, want %q", got, want)
	}
	checkAbort(t, seen, 1)
}

// TestShellTerminatedIdle: SIGTERM ends a shell waiting for its next line
// (exit 130), where it used to be ignored until stdin closed.
func TestShellTerminatedIdle(t *testing.T) {
	cmd := fcgicliCmd(t, "shell", "-c", "builtin", "--color", "never")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The answer to a first line shows the session is up and reading.
	if _, err := io.WriteString(in, "show\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := out.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, out)
	if code := waitBounded(t, cmd, 10*time.Second); code != 130 {
		t.Fatalf("exit %d, want 130; stderr: %s", code, stderr.String())
	}
	if got, want := stderr.String(), "fcgicli: interrupted\n"; got != want {
		t.Fatalf("stderr %q, want %q", got, want)
	}
}

// TestShellTerminatedMidRequest: SIGTERM during a shell's request aborts
// it (FCGI_ABORT_REQUEST) and ends the session; a Ctrl-C would only have
// ended the request.
func TestShellTerminatedMidRequest(t *testing.T) {
	addr, got, seen := silentServer(t)
	cmd := fcgicliCmd(t, "shell", "-c", addr, "--color", "never")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(in, "get /x\nget /never-sent\n"); err != nil {
		t.Fatal(err)
	}
	signalOnRequest(t, cmd, got, syscall.SIGTERM)
	if code := waitBounded(t, cmd, 10*time.Second); code != 130 {
		t.Fatalf("exit %d, want 130; stderr: %s", code, stderr.String())
	}
	checkAbort(t, seen, 1)
	if !strings.HasSuffix(stderr.String(), "fcgicli: interrupted\n") {
		t.Fatalf("stderr %q", stderr.String())
	}
}

// signalOnRequest sends sig to cmd once the request has reached the server
// (got closed), and kills cmd if it never does.
func signalOnRequest(t *testing.T, cmd *exec.Cmd, got chan struct{}, sig os.Signal) {
	t.Helper()
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the request never arrived")
	}
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// waitBounded waits for cmd, killing it after d, and returns its exit code.
func waitBounded(t *testing.T, cmd *exec.Cmd, d time.Duration) int {
	t.Helper()
	timer := time.AfterFunc(d, func() { cmd.Process.Kill() })
	defer timer.Stop()
	err := cmd.Wait()
	if !timer.Stop() {
		t.Fatalf("still running after %v: killed", d)
	}
	return exitCodeOf(t, err)
}

// TestBenchRequestTimeoutSendsAbort: a request bench gives up on at
// --request-timeout is aborted before its connection closes, as -t does.
func TestBenchRequestTimeoutSendsAbort(t *testing.T) {
	addr, got, seen := silentServer(t)
	cmd := fcgicliCmd(t, "bench", "-c", addr, "/x", "-n", "1", "--request-timeout", "300ms", "--request-id", "7", "--color", "never")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if code := waitBounded(t, cmd, 10*time.Second); code != 1 {
		t.Fatalf("exit %d, want 1; stderr: %s", code, stderr.String())
	}
	select {
	case <-got:
	default:
		t.Fatal("the request never arrived")
	}
	checkAbort(t, seen, 7)
}
