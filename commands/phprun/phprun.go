// Package phprun runs PHP code inside a php-fpm pool, for php: the code
// goes into a file of its own under a temp dir the pool can read, wrapped
// in a script that frames its output with a random marker and reports
// how it ended; the file is sent as SCRIPT_FILENAME through the shared
// request path (fcgireq), and removed when the request is over, however
// it ended. It also holds the code behind php's questions (info, ini,
// opcache, apcu) and their answers' decoding into formatters' types.
//
// It never sets PHP_VALUE or PHP_ADMIN_VALUE: php-fpm keeps those for
// the later requests of the same worker. It never prints and holds no
// package-level mutable state.
package phprun

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

// Options are where and how the code runs.
type Options struct {
	Net fcgireq.NetOptions
	// TmpDir is the directory the pool must be able to read, where the
	// script's own directory is made.
	TmpDir string
	// Params are extra params (NAME=VALUE), as request's -p.
	Params []string
	// MaxOutput bounds the output kept, and the application's stderr.
	MaxOutput int64
}

// DefaultMaxOutput is the output a run keeps when Options.MaxOutput is 0.
const DefaultMaxOutput = 64 << 20

// DefaultTmpDir is the --tmp-dir default: /dev/shm, which php-fpm sees
// under systemd's PrivateTmp (Debian's php-fpm units have none, RHEL's
// and Fedora's set it, hiding the caller's /tmp from the pool), or the
// system's temp dir where there is no /dev/shm.
func DefaultTmpDir() string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		return "/dev/shm"
	}
	return os.TempDir()
}

// Code is PHP code to run.
type Code struct {
	// Source is PHP source, opening tag included.
	Source []byte
	// Name is how errors name the code: "Command line code" for a
	// snippet, as php -r does, or the file it came from.
	Name string
	// Quiet turns PHP's own display and logging of errors off for the
	// request (the wrapper reports them instead).
	Quiet bool
}

// Snippet makes code given as php -r takes it into Code: PHP without an
// opening tag, unless it starts with one.
func Snippet(src []byte) Code {
	if !bytes.HasPrefix(src, []byte("<?")) {
		src = append([]byte("<?php "), src...)
	}
	return Code{Source: src, Name: "Command line code", Quiet: true}
}

// File makes a PHP file's contents into Code named name. A first "#!"
// line is skipped, as the php command skips it, and still counts as line
// 1: it becomes "<?php ?>", whose closing tag takes its newline.
func File(src []byte, name string) Code {
	if bytes.HasPrefix(src, []byte("#!")) {
		rest := []byte{}
		if i := bytes.IndexByte(src, '\n'); i >= 0 {
			rest = src[i:]
		}
		src = append([]byte("<?php ?>"), rest...)
	}
	return Code{Source: src, Name: name, Quiet: true}
}

// Run is one run's outcome: what the code printed and how it ended, and
// the value it returned (JSON), for the questions.
type Run struct {
	formatters.PHPRun
	Result json.RawMessage
	// Script is the path the pool was asked to run.
	Script string
}

// trailer is what the wrapper writes after its last marker.
type trailer struct {
	End        string                `json:"end"`
	ExitStatus *int                  `json:"exit_status"`
	Errors     []formatters.PHPError `json:"errors"`
	Result     json.RawMessage       `json:"result"`
}

// Exec runs code in o's pool and returns its outcome. Its error is the
// request's (connect, timeout, interrupted, protocol, refused) or a
// *BlindError when the pool could not run the file, or a plain error when
// its answer has no trailer. The script's directory is gone when Exec
// returns, whatever happened, an interruption included: ctx ending aborts
// the request first.
func Exec(ctx context.Context, o Options, code Code) (*Run, error) {
	ctx, cancel := o.Net.WithTimeout(ctx)
	defer cancel()
	s, err := newScript(code.Source, code.Name, code.Quiet)
	if err != nil {
		return nil, err
	}
	path, cleanup, err := writeScript(o.TmpDir, s.source)
	if err != nil {
		return nil, err
	}
	defer cleanup()

	prep, err := fcgireq.Prepare(ctx, &fcgireq.Shape{Net: o.Net, RequestID: 1, Spec: fcgireq.ParamSpec{
		Script: path, Role: fcgiwire.RoleResponder, Params: o.Params, BodyLen: -1,
	}}, nil)
	if err != nil {
		return nil, err
	}
	defer prep.Close()
	conn, done, err := fcgireq.Connect(ctx, o.Net, nil, nil)
	if err != nil {
		return nil, err
	}
	defer done()
	limit := o.MaxOutput
	if limit <= 0 {
		limit = DefaultMaxOutput
	}
	body, stderr := &runenv.CapBuffer{Max: limit}, &runenv.CapBuffer{Max: limit}
	x := &fcgireq.Exchange{Parser: &fcgiwire.ResponseParser{Body: body}, JudgeCGI: true}
	req := prep.Request()
	req.Stdout, req.Stderr = x.Parser, stderr
	if err := x.Send(ctx, conn, req); err != nil {
		return nil, err
	}
	r := &Run{Script: path}
	r.Stderr = stderr.Buf
	if err := r.parse(s.mark, body.Buf); err != nil {
		if be := blind(path, o.TmpDir, x.Parser, stderr.Buf); be != nil {
			return r, be
		}
		if body.Truncated {
			return r, fmt.Errorf("the pool's answer is over %d bytes: its end was not kept", limit)
		}
		return r, err
	}
	return r, nil
}

// writeScript makes a directory of its own under dir (so that no
// .user.ini of someone else's applies to the script) and the script in
// it, readable by the pool's user; cleanup removes both.
func writeScript(dir string, source []byte) (path string, cleanup func(), err error) {
	sub, err := os.MkdirTemp(dir, "fcgicli-")
	if err != nil {
		if pe, ok := errors.AsType[*fs.PathError](err); ok {
			err = pe.Err
		}
		return "", nil, runenv.Usagef("--tmp-dir %s: %v", dir, err)
	}
	cleanup = func() { os.RemoveAll(sub) }
	// Others may enter it, not list it.
	if err := os.Chmod(sub, 0o711); err != nil {
		cleanup()
		return "", nil, err
	}
	f, err := os.CreateTemp(sub, "*.php")
	if err == nil {
		_, err = f.Write(source)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err != nil {
		cleanup()
		return "", nil, err
	}
	abs, err := filepath.Abs(f.Name())
	if err != nil {
		cleanup()
		return "", nil, err
	}
	return abs, cleanup, nil
}

// parse finds the output between the markers and decodes the trailer.
func (r *Run) parse(mark string, body []byte) error {
	begin := []byte(mark + "B\n")
	end := []byte("\n" + mark + "E")
	j := bytes.LastIndex(body, end)
	if j < 0 {
		return errors.New("the pool's answer has no fcgicli trailer: the code did not run to fcgicli's end (a worker killed by request_terminate_timeout, a shutdown function that called exit)")
	}
	// A fatal error discards the output PHP still buffers (output_buffering),
	// the first marker with it: what is left came after it.
	r.Output = body[:j]
	if i := bytes.Index(body[:j], begin); i >= 0 {
		r.Output = body[i+len(begin) : j]
	}
	rest := body[j+len(end):]
	if k := bytes.IndexByte(rest, '\n'); k >= 0 {
		rest = rest[:k]
	}
	var t trailer
	if err := json.Unmarshal(rest, &t); err != nil {
		return fmt.Errorf("the pool's trailer is not JSON: %v", err)
	}
	r.End, r.ExitStatus, r.Errors, r.Result = t.End, t.ExitStatus, t.Errors, t.Result
	return nil
}
