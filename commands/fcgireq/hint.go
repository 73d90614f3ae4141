package fcgireq

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

// Answer is what a request got back, as far as the hints read it.
type Answer struct {
	// ScriptFilename is the SCRIPT_FILENAME sent; Sent says whether one was.
	ScriptFilename string
	Sent           bool
	// Status is the CGI status, 0 when no header block came.
	Status int
	// Body and Stderr are the first bytes of the body and of the
	// application's stderr (HintHead of each is enough).
	Body, Stderr []byte
	// Err is the request's error, nil when it ended well.
	Err error
	// Accepted is how long the connect took, when the request had a
	// connection (0: not known); Started says that a byte of the answer
	// came.
	Accepted time.Duration
	Started  bool
}

// HintHead is how much of the body and of the stderr the hints read.
const HintHead = 512

// hint is one known answer: when it applies, and what it means.
type hint struct {
	name  string
	match func(a *Answer) bool
	say   func(a *Answer) string
}

// hints is the table of the answers fcgicli recognises, php-fpm's first;
// the first entry that matches gives the hint.
func hints() []hint {
	return []hint{
		{"http-port", func(a *Answer) bool { return fcgiwire.IsHTTPAnswer(a.Err) }, func(*Answer) string {
			return "this address is an HTTP server's (a web server, php -S), not a FastCGI one: connect to the pool's listen address (its listen = line, often 127.0.0.1:9000 or a socket under /run/php/)"
		}},
		{"deadline", func(a *Answer) bool {
			_, ok := errors.AsType[*runenv.TimeoutError](a.Err)
			return ok && a.Accepted > 0
		}, func(a *Answer) string {
			if a.Started {
				return fmt.Sprintf("the connection was accepted in %s and the answer began, but did not end in time: the script is slow, and php-fpm goes on running it after the abort (until request_terminate_timeout); the pool's slowlog shows where it waits", formatters.Millis(a.Accepted))
			}
			return fmt.Sprintf("the connection was accepted in %s, then nothing answered: every child of the pool may be busy (the request waits in the listen queue), or the script is slow, and php-fpm goes on running it after the abort; look at the pool's status page (fcgicli status; with pm.status_listen it answers even when every child is busy)", formatters.Millis(a.Accepted))
		}},
		{"empty", func(a *Answer) bool {
			pe, ok := errors.AsType[*fcgiwire.ProtocolError](a.Err)
			return ok && pe.Offset == 0 && errors.Is(pe, fcgiwire.ErrNoEndRequest) || errors.Is(a.Err, fcgiwire.ErrEmptyResponse)
		}, func(a *Answer) string {
			if errors.Is(a.Err, fcgiwire.ErrEmptyResponse) {
				return "the application ended the request without a CGI header, without a byte on stdout (a web server would answer 502 Bad Gateway): its own log says why"
			}
			return "the connection closed before any response (a web server would answer 502 Bad Gateway): the child probably died; look in php-fpm's error_log for \"exited on signal\" or \"execution timed out\" (request_terminate_timeout)"
		}},
		{"script-unknown", func(a *Answer) bool {
			return bytes.Contains(a.Stderr, []byte("Primary script unknown")) || a.Status == 404 && bytes.Equal(a.Body, []byte("File not found.\n"))
		}, func(a *Answer) string {
			if !a.Sent || a.ScriptFilename == "" {
				return "php-fpm got no SCRIPT_FILENAME, so it knows no script to run: give SCRIPT (or -r DOCROOT and the URI path)"
			}
			return fmt.Sprintf("php-fpm found no file at SCRIPT_FILENAME %s: give the path as php-fpm sees it (inside its chroot or container), or -r DOCROOT with the URI path", a.ScriptFilename)
		}},
		{"limit-extensions", func(a *Answer) bool {
			return bytes.Contains(a.Stderr, []byte("security.limit_extensions")) || a.Status == 403 && bytes.Equal(a.Body, []byte("Access denied.\n")) && !bytes.Contains(a.Stderr, []byte("Permission denied"))
		}, func(a *Answer) string {
			ext := path.Ext(a.ScriptFilename)
			if ext == "" {
				ext = "no extension"
			}
			return fmt.Sprintf("php-fpm runs only scripts whose extension is in the pool's security.limit_extensions, and %s has %s: send a .php script, or add the extension there", a.ScriptFilename, ext)
		}},
		{"access-denied", func(a *Answer) bool {
			return a.Status == 403 && bytes.Equal(a.Body, []byte("Access denied.\n"))
		}, func(a *Answer) string {
			return fmt.Sprintf("php-fpm's child may not read %s: check the permissions of the file and of its directories for the pool's user (its user = line)", a.ScriptFilename)
		}},
		{"no-input-file", func(a *Answer) bool {
			return bytes.Equal(a.Body, []byte("No input file specified.\n"))
		}, func(a *Answer) string {
			return fmt.Sprintf("php-fpm could not open %s as a script (a directory, a file gone meanwhile, a path outside open_basedir): give the path of a PHP file as php-fpm sees it", a.ScriptFilename)
		}},
	}
}

// Hint returns the one-line hint for a known answer, or "".
func Hint(a *Answer) string {
	for _, h := range hints() {
		if h.match(a) {
			return h.say(a)
		}
	}
	return ""
}

// Hint returns the hint for the answer the last Send got: pairs are the
// params sent, body and stderr the first bytes of the body and of the
// application's stderr, err the error Send returned.
func (x *Exchange) Hint(pairs []fcgiwire.Pair, body, stderr []byte, err error) string {
	a := &Answer{Body: body, Stderr: stderr, Err: err, Started: !x.Result.FirstByte.IsZero()}
	if !x.Connected.IsZero() {
		a.Accepted = max(x.Connected.Sub(x.Start), time.Nanosecond)
	}
	a.ScriptFilename, a.Sent = ScriptFilename(pairs)
	if x.Parser != nil && x.Parser.Done {
		a.Status = x.Parser.Response.Status
	}
	return Hint(a)
}

// ScriptFilename returns the SCRIPT_FILENAME among pairs, and whether one is.
func ScriptFilename(pairs []fcgiwire.Pair) (string, bool) {
	for i := len(pairs) - 1; i >= 0; i-- {
		if pairs[i].Name == "SCRIPT_FILENAME" {
			return pairs[i].Value, true
		}
	}
	return "", false
}
