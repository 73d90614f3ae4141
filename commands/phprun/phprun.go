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
	"io"
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
	// Stdout and Stderr, when set, get the code's output and the
	// application's FCGI_STDERR as they arrive; when nil, the Run keeps
	// them, up to MaxOutput bytes each.
	Stdout, Stderr io.Writer
	// MaxOutput bounds what is kept in memory: the output and stderr
	// when kept, what the pool sends outside the code's output.
	MaxOutput int
}

// DefaultMaxOutput is MaxOutput when it is 0.
const DefaultMaxOutput = 64 << 20

// blindStderr is how much of the application's stderr is kept to
// recognise a pool that cannot run the file.
const blindStderr = 64 << 10

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
}

// Snippet makes code given as php -r takes it into Code: PHP without an
// opening tag, unless it starts with one.
func Snippet(src []byte) Code {
	if !bytes.HasPrefix(src, []byte("<?")) {
		src = append([]byte("<?php "), src...)
	}
	return Code{Source: src, Name: "Command line code"}
}

// File makes a PHP file's contents into Code named name. A first "#!"
// line is skipped, as the php command skips it, and still counts as line
// 1: the opening tag that follows moves up to it ("<?php\n"), or it
// becomes "<?php ?>", whose closing tag takes its newline.
func File(src []byte, name string) Code {
	if bytes.HasPrefix(src, []byte("#!")) {
		rest := []byte{}
		if i := bytes.IndexByte(src, '\n'); i >= 0 {
			rest = src[i+1:]
		}
		if after, ok := bytes.CutPrefix(rest, []byte("<?php")); ok && len(after) > 0 && (after[0] == ' ' || after[0] == '\t' || after[0] == '\n' || after[0] == '\r') {
			src = append([]byte("<?php\n"), after...)
		} else {
			src = append([]byte("<?php ?>\n"), rest...)
		}
	}
	return Code{Source: src, Name: name}
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
	s, err := newScript(code.Source, code.Name)
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
	r := &Run{Script: path}
	stdout, stderr := o.Stdout, o.Stderr
	var kept, keptErr *runenv.CapBuffer
	if stdout == nil {
		kept = &runenv.CapBuffer{Max: int64(limit)}
		stdout = kept
	}
	if stderr == nil {
		keptErr = &runenv.CapBuffer{Max: int64(limit)}
		stderr = keptErr
	}
	// The start of the stderr, to recognise php-fpm's messages by.
	head := &runenv.CapBuffer{Max: blindStderr}
	f := newFramer(s.mark, stdout, limit)
	x := &fcgireq.Exchange{Parser: &fcgiwire.ResponseParser{Body: f}, JudgeCGI: true}
	req := prep.Request()
	req.Stdout, req.Stderr = x.Parser, io.MultiWriter(stderr, head)
	err = x.Send(ctx, conn, req)
	if keptErr != nil {
		r.Stderr = keptErr.Buf
	}
	if err != nil {
		_ = f.cut()
		return r, err
	}
	line, err := f.trailer()
	if kept != nil {
		r.Output = kept.Buf
		if kept.Truncated && err == nil {
			err = fmt.Errorf("the code's output is over %d bytes", limit)
		}
	}
	if err == nil {
		err = r.decode(line)
	}
	if err != nil {
		if be := blind(path, o.TmpDir, x.Parser, head.Buf); be != nil {
			return r, be
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

// decode reads the trailer's JSON.
func (r *Run) decode(line []byte) error {
	var t trailer
	if err := json.Unmarshal(line, &t); err != nil {
		return fmt.Errorf("the pool's trailer is not JSON: %v", err)
	}
	r.End, r.ExitStatus, r.Errors, r.Result = t.End, t.ExitStatus, t.Errors, t.Result
	return nil
}
