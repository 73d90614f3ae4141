// Package runenv is the bottom of fcgicli's command tree: what a command
// gets from its process (Env: the streams and the environment), the kinds
// of error a command ends with and the exit code each maps to (ExitCode,
// the only place that decides one), and the few small helpers every engine
// needs below it: the terminal check, the colour choice, two writers that
// keep or count what a report shows and one that serializes the writes of
// several goroutines.
//
// Every package under commands/ may import runenv; runenv imports only the
// standard library, fcgiwire, formatters and go-isatty. It must not import
// package commands, any engine or urfave/cli, must not print, must not call
// os.Exit and holds no package-level mutable state.
package runenv

import (
	"bytes"
	"io"
	"os"
	"sync"

	"github.com/mattn/go-isatty"

	"github.com/fcgicli/fcgicli/formatters"
)

// Env is everything a command takes from its process: its streams and its
// environment. Tests pass their own.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// Environ lists the environment as KEY=VALUE, for --env.
	Environ func() []string
}

// IsTerminal reports whether w is a terminal; a *LineTracker, and a
// writer AfterStderr or Own wrapped, are judged by the writer they wrap.
func IsTerminal(w any) bool {
	if a, ok := w.(*afterStderr); ok {
		w = a.w
	}
	if o, ok := w.(*ownLines); ok {
		w = o.lt
	}
	if lt, ok := w.(*LineTracker); ok {
		w = lt.W
	}
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// LineTracker writes to W and remembers whether what was written last
// ended a line, so that a diagnostic can start on a line of its own.
type LineTracker struct {
	W       io.Writer
	AtStart bool // nothing written yet, or the last write ended a line
}

func (l *LineTracker) Write(p []byte) (int, error) {
	if len(p) > 0 {
		l.AtStart = p[len(p)-1] == '\n'
	}
	return l.W.Write(p)
}

// AfterStderr returns out, or, when out and errOut are both terminals
// (the same screen, as a person sees them) and errOut is a *LineTracker,
// out wrapped so that each write first ends the line that errOut's last
// write left open: the application's stderr then ends on a line of its
// own before the body. Redirected output is left byte for byte.
func AfterStderr(out, errOut io.Writer) io.Writer {
	lt, ok := errOut.(*LineTracker)
	if !ok || !IsTerminal(out) || !IsTerminal(lt) {
		return out
	}
	return &afterStderr{w: out, lt: lt}
}

type afterStderr struct {
	w  io.Writer
	lt *LineTracker
}

func (a *afterStderr) Write(p []byte) (int, error) {
	if len(p) > 0 {
		if err := a.lt.EndLine(); err != nil {
			return 0, err
		}
	}
	return a.w.Write(p)
}

// Own returns the writer for fcgicli's own lines on w (a trace, a dump):
// when w is a *LineTracker (the command's stderr), each write first ends
// the line the application's stderr left open; other writers are w.
func Own(w io.Writer) io.Writer {
	if lt, ok := w.(*LineTracker); ok {
		return &ownLines{lt: lt}
	}
	return w
}

type ownLines struct{ lt *LineTracker }

func (o *ownLines) Write(p []byte) (int, error) {
	if len(p) > 0 {
		if err := o.lt.EndLine(); err != nil {
			return 0, err
		}
	}
	return o.lt.Write(p)
}

// EndLine ends the line the last write to w left open, when w is a
// *LineTracker (the command's stderr); other writers are left as they are.
func EndLine(w io.Writer) error {
	if lt, ok := w.(*LineTracker); ok {
		return lt.EndLine()
	}
	return nil
}

// EndLine ends the line the last write left open, if it did.
func (l *LineTracker) EndLine() error {
	if l.AtStart {
		return nil
	}
	_, err := l.Write([]byte{'\n'})
	return err
}

// Palette returns the colour palette for w under --color's value color
// (auto, always or never): NO_COLOR turns auto off, and auto colours only
// a terminal. A bad value is a usage error.
func Palette(color string, env *Env, w io.Writer) (*formatters.Palette, error) {
	mode, err := formatters.ParseColorMode(color)
	if err != nil {
		return nil, &UsageError{Msg: err.Error()}
	}
	return formatters.NewPalette(formatters.UseColor(mode, env.Getenv("NO_COLOR"), IsTerminal(w))), nil
}

// CapBuffer keeps the first Max bytes written to it and counts the rest.
type CapBuffer struct {
	Buf       []byte
	Max       int64
	Truncated bool // more than Max bytes were written
}

func (b *CapBuffer) Write(p []byte) (int, error) {
	room := b.Max - int64(len(b.Buf))
	if int64(len(p)) > room {
		b.Buf = append(b.Buf, p[:max(room, 0)]...)
		b.Truncated = true
		return len(p), nil
	}
	b.Buf = append(b.Buf, p...)
	return len(p), nil
}

// CountWriter counts the bytes written to it and drops them.
type CountWriter struct{ N int64 }

func (c *CountWriter) Write(p []byte) (int, error) { c.N += int64(len(p)); return len(p), nil }

// LockedWriter lets one Write at a time through to W, whole, so that the
// writes of several goroutines never interleave within one: the proxy's two
// directions answering one client, a server's report and its log, the
// conformance prober's dump of two connections. With W nil it writes to a
// buffer of its own, which String reads under the same lock: a capture
// that is safe to read while goroutines still write to it. W is set before
// the first Write and not changed after; the zero value is ready to use.
type LockedWriter struct {
	W   io.Writer
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *LockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.W == nil {
		return l.buf.Write(p)
	}
	return l.W.Write(p)
}

// String returns what was written to the buffer of its own (W nil).
func (l *LockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
