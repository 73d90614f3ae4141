package fcgireq

import (
	"errors"
	"strings"
	"testing"

	"github.com/fcgicli/fcgicli/fcgiwire"
)

// Each entry of the table, and its order: the first that matches wins.
// (scripts hints.txtar checks each against a real php-fpm.)
func TestHint(t *testing.T) {
	sf := "/srv/www/x.php"
	httpErr := &fcgiwire.ProtocolError{Err: fcgiwire.ErrBadVersion, Reason: `the peer answered in HTTP ("HTTP/1.1"), not FastCGI`}
	for _, c := range []struct {
		name string
		a    Answer
		want string // the hint's start; "" for none
	}{
		{"ok", Answer{Status: 200, Body: []byte("hello\n")}, ""},
		{"http", Answer{Err: httpErr}, "this address is an HTTP server's"},
		{"other bad version", Answer{Err: &fcgiwire.ProtocolError{Err: fcgiwire.ErrBadVersion, Reason: "version byte is 2"}}, ""},
		{"closed at once", Answer{Err: &fcgiwire.ProtocolError{Err: fcgiwire.ErrNoEndRequest}}, "the connection closed before any response"},
		{"closed after output", Answer{Err: &fcgiwire.ProtocolError{Offset: 80, Err: fcgiwire.ErrNoEndRequest}}, ""},
		{"empty stdout", Answer{Err: fcgiwire.ErrEmptyResponse}, "the application ended the request without a CGI header"},
		{"unknown", Answer{Status: 404, Body: []byte("File not found.\n"), Stderr: []byte("Primary script unknown")}, "php-fpm found no file at SCRIPT_FILENAME " + sf + ":"},
		{"unknown, no stderr", Answer{Status: 404, Body: []byte("File not found.\n")}, "php-fpm found no file at SCRIPT_FILENAME " + sf + ":"},
		{"unknown, none sent", Answer{Status: 404, Body: []byte("File not found.\n")}, "php-fpm got no SCRIPT_FILENAME"},
		{"an app's own 404", Answer{Status: 404, Body: []byte("File not found.\nreally")}, ""},
		{"another 404", Answer{Status: 404, Body: []byte("no such page\n")}, ""},
		{"limit_extensions", Answer{Status: 403, Body: []byte("Access denied.\n"), Stderr: []byte("Access to the script '/srv/www/x.php' has been denied (see security.limit_extensions)")}, "php-fpm runs only scripts whose extension"},
		{"unreadable", Answer{Status: 403, Body: []byte("Access denied.\n"), Stderr: []byte("Unable to open primary script: /srv/www/x.php (Permission denied)")}, "php-fpm's child may not read " + sf},
		{"no input file", Answer{Status: 404, Body: []byte("No input file specified.\n")}, "php-fpm could not open " + sf},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := c.a
			if c.name != "unknown, none sent" {
				a.ScriptFilename, a.Sent = sf, true
			}
			got := Hint(&a)
			if c.want == "" && got != "" || !strings.HasPrefix(got, c.want) {
				t.Errorf("hint %q, want it to start with %q", got, c.want)
			}
			if strings.Contains(got, "\n") {
				t.Errorf("hint %q is more than one line", got)
			}
		})
	}
	if !errors.Is(fcgiwire.ErrEmptyResponse, fcgiwire.ErrCGIHeader) {
		t.Error("ErrEmptyResponse does not wrap ErrCGIHeader")
	}
}

// The last SCRIPT_FILENAME sent is the one php-fpm sees.
func TestScriptFilename(t *testing.T) {
	if _, ok := ScriptFilename([]fcgiwire.Pair{{Name: "A", Value: "1"}}); ok {
		t.Error("found a SCRIPT_FILENAME among none")
	}
	got, ok := ScriptFilename([]fcgiwire.Pair{{Name: "SCRIPT_FILENAME", Value: "/a"}, {Name: "SCRIPT_FILENAME", Value: "/b"}})
	if !ok || got != "/b" {
		t.Errorf("got %q %v, want /b", got, ok)
	}
}
