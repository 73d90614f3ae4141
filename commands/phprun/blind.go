package phprun

import (
	"bytes"
	"fmt"

	"github.com/fcgicli/fcgicli/fcgiwire"
)

// BlindError is a pool that could not run the script fcgicli wrote: it
// does not see the file (a chroot, a private /tmp, another host or
// container) or may not open it (open_basedir, permissions: a directory
// its user may not enter is "Primary script unknown" too).
type BlindError struct {
	Script string
	Why    string // what php-fpm said
	Hint   string // what to do, naming --tmp-dir and the pool setting
}

func (e *BlindError) Error() string {
	return fmt.Sprintf("the pool could not run %s: %s", e.Script, e.Why)
}

// blind recognises php-fpm's answers for a script it cannot run.
func blind(script, tmpDir string, p *fcgiwire.ResponseParser, stderr []byte) *BlindError {
	e := &BlindError{Script: script}
	switch {
	case bytes.Contains(stderr, []byte("open_basedir restriction in effect")):
		e.Why = "open_basedir forbids it"
		e.Hint = fmt.Sprintf("give --tmp-dir a directory inside the pool's open_basedir (php_admin_value[open_basedir]; see 'fcgicli php ini open_basedir' on a pool that has none), instead of %s", tmpDir)
	case bytes.Contains(stderr, []byte("Primary script unknown")):
		e.Why = "php-fpm answered \"Primary script unknown\": the pool does not see the file, or its user may not reach it"
		e.Hint = fmt.Sprintf("give --tmp-dir, instead of %s, a directory the pool sees under the same path and its user may enter: inside the pool's chroot if it has one, not /tmp if its systemd unit has PrivateTmp=true, not a directory private to you; a pool in another container or on another host sees none of this machine's files", tmpDir)
	case bytes.Contains(stderr, []byte("Unable to open primary script")):
		e.Why = "php-fpm cannot open it (" + lastMessage(stderr) + ")"
		e.Hint = fmt.Sprintf("give --tmp-dir a directory the pool's user may enter and read, instead of %s", tmpDir)
	case bytes.Contains(stderr, []byte("Access to the script")) && bytes.Contains(stderr, []byte("has been denied")):
		e.Why = "php-fpm refuses its extension (security.limit_extensions)"
		e.Hint = "fcgicli's scripts end in .php: add .php to the pool's security.limit_extensions"
	default:
		return nil
	}
	if p.Done {
		e.Why += fmt.Sprintf(" (CGI status %d)", p.Response.Status)
	}
	return e
}

// lastMessage is the last message of php-fpm's stderr, for the error line.
func lastMessage(b []byte) string {
	if i := bytes.LastIndex(b, []byte("; ")); i >= 0 {
		b = b[i+2:]
	}
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	return string(bytes.TrimSpace(b))
}
