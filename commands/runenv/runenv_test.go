package runenv

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
)

func TestLineTracker(t *testing.T) {
	env, _, errOut := bufferEnv()
	lt := &LineTracker{W: env.Stderr, AtStart: true}
	for _, c := range []struct {
		write   string
		atStart bool
	}{
		{"", true},
		{"partial", false},
		{" line\n", true},
		{"\n", true},
		{"no newline", false},
	} {
		if _, err := lt.Write([]byte(c.write)); err != nil {
			t.Fatal(err)
		}
		if lt.AtStart != c.atStart {
			t.Errorf("after %q: AtStart = %v, want %v", c.write, lt.AtStart, c.atStart)
		}
	}
	if got, want := errOut.String(), "partial line\n\nno newline"; got != want {
		t.Errorf("wrote %q, want %q", got, want)
	}
	if IsTerminal(lt) {
		t.Error("a LineTracker over a buffer is a terminal")
	}
}

func TestPalette(t *testing.T) {
	env, out, _ := bufferEnv("NO_COLOR=1")
	for _, c := range []struct {
		color string
		on    bool
	}{
		{"auto", false}, // not a terminal, and NO_COLOR
		{"never", false},
		{"always", true}, // beats NO_COLOR
	} {
		p, err := Palette(c.color, env, out)
		if err != nil {
			t.Fatalf("Palette(%q): %v", c.color, err)
		}
		if got := p.Enabled; got != c.on {
			t.Errorf("Palette(%q) colours: %v, want %v", c.color, got, c.on)
		}
	}
	_, err := Palette("sometimes", env, out)
	var ue *UsageError
	if !errors.As(err, &ue) {
		t.Fatalf("Palette(sometimes) = %v, want a usage error", err)
	}
}

func TestCapBuffer(t *testing.T) {
	b := &CapBuffer{Max: 5}
	for _, s := range []string{"abc", "def", "gh"} {
		if n, err := b.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if string(b.Buf) != "abcde" || !b.Truncated {
		t.Errorf("kept %q, truncated %v; want \"abcde\", true", b.Buf, b.Truncated)
	}
	var c CountWriter
	_, _ = c.Write([]byte("12345678"))
	_, _ = c.Write(nil)
	if c.N != 8 {
		t.Errorf("CountWriter counted %d, want 8", c.N)
	}
}

// TestLockedWriter: writes from many goroutines arrive whole, to W or,
// with W nil, to the buffer String reads.
func TestLockedWriter(t *testing.T) {
	var own LockedWriter
	var b bytes.Buffer
	to := &LockedWriter{W: &b}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 100; j++ {
				_, _ = own.Write([]byte("abcd\n"))
				_, _ = to.Write([]byte("efgh\n"))
			}
		}()
	}
	wg.Wait()
	if got, want := own.String(), strings.Repeat("abcd\n", 800); got != want {
		t.Errorf("own buffer: %d bytes, not 800 whole lines", len(got))
	}
	if got, want := b.String(), strings.Repeat("efgh\n", 800); got != want || to.String() != "" {
		t.Errorf("W: %d bytes, not 800 whole lines; String %q", len(got), to.String())
	}
}

// fcgicli's own lines start on a line of their own after the
// application's stderr, whose bytes stay as they came; a writer that is
// not a terminal is left as it is by AfterStderr.
func TestOwnLines(t *testing.T) {
	var buf bytes.Buffer
	lt := &LineTracker{W: &buf, AtStart: true}
	own := Own(lt)
	lt.Write([]byte("Primary script unknown"))
	own.Write([]byte("< STDOUT\n"))
	lt.Write([]byte("line\n"))
	own.Write([]byte("* done\n"))
	EndLine(lt)
	if got, want := buf.String(), "Primary script unknown\n< STDOUT\nline\n* done\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if Own(&buf) != io.Writer(&buf) || AfterStderr(&buf, lt) != io.Writer(&buf) {
		t.Error("a writer that is no LineTracker, or no terminal, was wrapped")
	}
}

// A hint rides on its error, which keeps its message and its exit code.
func TestWithHint(t *testing.T) {
	err := WithHint(&ConnectError{Addr: "a:1", Err: errors.New("connection refused")}, "start it")
	if code, msg := ExitCode(err); code != ExitConnect || msg != "cannot connect to a:1: connection refused" {
		t.Errorf("exit %d %q", code, msg)
	}
	if HintOf(err) != "start it" || HintOf(errors.New("x")) != "" || WithHint(nil, "h") != nil {
		t.Error("HintOf or WithHint got it wrong")
	}
}
