package phprun

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// errNoTrailer is an answer in which the wrapper's trailer never came.
var errNoTrailer = errors.New("the pool's answer has no fcgicli trailer: the code did not run to fcgicli's end (a fatal error in a shutdown function, or an exit in a shutdown function of a file the code includes)")

// errNotRun is an answer with neither of the wrapper's markers: what
// answered did not run the file as PHP.
var errNotRun = errors.New("the answer holds none of fcgicli's markers: the server did not run fcgicli's file as PHP (is it a php-fpm pool?)")

// framer passes the code's output on as it arrives: what the pool sends
// between the first marker and the trailer. What comes before the first
// marker (auto_prepend_file) is dropped; the bytes that may be the start
// of the trailer are held until the next write tells. A fatal error
// discards the output PHP still buffers, the first marker with it: when
// the answer ends without it, everything before the trailer is output.
// What it holds is bounded by max.
type framer struct {
	begin, end []byte // the first marker's line, the trailer's start
	out        io.Writer
	max        int
	held       []byte
	started    bool   // the first marker has come
	ended      bool   // the trailer's start has come
	rest       []byte // what follows the trailer's start
}

func newFramer(mark string, out io.Writer, max int) *framer {
	return &framer{begin: []byte(mark + "B\n"), end: []byte("\n" + mark + "E"), out: out, max: max}
}

func (f *framer) Write(p []byte) (int, error) {
	if f.ended {
		if len(f.rest)+len(p) > f.max {
			return 0, f.tooBig()
		}
		f.rest = append(f.rest, p...)
		return len(p), nil
	}
	f.held = append(f.held, p...)
	if !f.started {
		// What was held before p was searched already: only the marker's
		// length before p can begin one, so that a long answer before the
		// marker (auto_prepend_file) is searched once, not at each write.
		from := max(0, len(f.held)-len(p)-(len(f.begin)-1))
		i := bytes.Index(f.held[from:], f.begin)
		if i < 0 {
			if len(f.held) > f.max {
				return 0, f.tooBig()
			}
			return len(p), nil
		}
		i += from
		f.started = true
		f.held = f.held[i+len(f.begin):]
	}
	if j := bytes.Index(f.held, f.end); j >= 0 {
		f.ended = true
		f.rest = append([]byte(nil), f.held[j+len(f.end):]...)
		out := f.held[:j]
		f.held = nil
		return len(p), f.emit(out)
	}
	keep := len(f.end) - 1
	if len(f.held) <= keep {
		return len(p), nil
	}
	out := f.held[:len(f.held)-keep]
	err := f.emit(out)
	f.held = append([]byte(nil), f.held[len(f.held)-keep:]...)
	return len(p), err
}

func (f *framer) emit(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	_, err := f.out.Write(b)
	return err
}

func (f *framer) tooBig() error {
	return fmt.Errorf("the pool's answer holds over %d bytes outside the code's output", f.max)
}

// cut ends a stream cut short (a timeout, an interruption): the output
// held back in case it began the trailer is passed on.
func (f *framer) cut() error {
	if !f.started || f.ended {
		return nil
	}
	out := f.held
	f.held = nil
	return f.emit(out)
}

// trailer ends the stream and returns the trailer's JSON. An answer
// without one still passes on the output it held back.
func (f *framer) trailer() ([]byte, error) {
	if !f.ended {
		j := bytes.LastIndex(f.held, f.end)
		if f.started {
			if err := f.cut(); err != nil {
				return nil, err
			}
			return nil, errNoTrailer
		}
		if j < 0 {
			return nil, errNotRun
		}
		if err := f.emit(f.held[:j]); err != nil {
			return nil, err
		}
		f.rest, f.held, f.ended = f.held[j+len(f.end):], nil, true
	}
	line := f.rest
	if k := bytes.IndexByte(line, '\n'); k >= 0 {
		line = line[:k]
	}
	return line, nil
}
