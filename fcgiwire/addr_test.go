package fcgiwire

import (
	"errors"
	"strings"
	"testing"
)

func TestParseAddr(t *testing.T) {
	tests := []struct {
		in      string
		network string
		address string
		str     string // Addr.String()
	}{
		{"127.0.0.1:9000", "tcp", "127.0.0.1:9000", "127.0.0.1:9000"},
		{"localhost:9000", "tcp", "localhost:9000", "localhost:9000"},
		{"php-fpm.internal:1", "tcp", "php-fpm.internal:1", "php-fpm.internal:1"},
		{"127.0.0.1:65535", "tcp", "127.0.0.1:65535", "127.0.0.1:65535"},
		{"tcp://127.0.0.1:9000", "tcp", "127.0.0.1:9000", "127.0.0.1:9000"},
		{"tcp://fpm:9000", "tcp", "fpm:9000", "fpm:9000"},
		{"[::1]:9000", "tcp", "[::1]:9000", "[::1]:9000"},
		{"tcp://[::1]:9000", "tcp", "[::1]:9000", "[::1]:9000"},
		{"[2001:db8::1]:9000", "tcp", "[2001:db8::1]:9000", "[2001:db8::1]:9000"},
		{"unix:/run/php/fpm.sock", "unix", "/run/php/fpm.sock", "unix:/run/php/fpm.sock"},
		{"unix:///run/php/fpm.sock", "unix", "/run/php/fpm.sock", "unix:/run/php/fpm.sock"},
		{"unix:relative.sock", "unix", "relative.sock", "unix:relative.sock"},
		{"/run/php/fpm.sock", "unix", "/run/php/fpm.sock", "unix:/run/php/fpm.sock"},
		{"./fpm.sock", "unix", "./fpm.sock", "unix:./fpm.sock"},
		{"../run/fpm.sock", "unix", "../run/fpm.sock", "unix:../run/fpm.sock"},
		{".fpm.sock", "unix", ".fpm.sock", "unix:.fpm.sock"},
		{"@name", "unix", "@name", "@name"},
		{"@php-fpm/www", "unix", "@php-fpm/www", "@php-fpm/www"},
		{"unix:@name", "unix", "@name", "@name"},
	}
	for _, tt := range tests {
		a, err := ParseAddr(tt.in)
		if err != nil {
			t.Errorf("ParseAddr(%q) error %v", tt.in, err)
			continue
		}
		if a.Network != tt.network || a.Address != tt.address {
			t.Errorf("ParseAddr(%q) = %+v, want {%s %s}", tt.in, a, tt.network, tt.address)
		}
		if a.String() != tt.str {
			t.Errorf("ParseAddr(%q).String() = %q, want %q", tt.in, a.String(), tt.str)
		}
		// String gives a form ParseAddr accepts again, to the same address.
		b, err := ParseAddr(a.String())
		if err != nil || b != a {
			t.Errorf("ParseAddr(%q) = %+v, %v; want %+v", a.String(), b, err, a)
		}
	}
}

func TestParseAddrRejects(t *testing.T) {
	tests := []struct {
		in     string
		reason string
	}{
		{"", "empty"},
		{"localhost", "missing port"},
		{"127.0.0.1", "missing port"},
		{"tcp://localhost", "missing port"},
		{"::1", "missing port"},
		{"::1:9000", "missing port"},
		{"localhost:0", "port must be a number from 1 to 65535"},
		{"localhost:70000", "port must be a number from 1 to 65535"},
		{"localhost:65536", "port must be a number from 1 to 65535"},
		{"localhost:abc", "port must be a number from 1 to 65535"},
		{"localhost:-1", "port must be a number from 1 to 65535"},
		{"localhost:", "port must be a number from 1 to 65535"},
		{"tcp://localhost:9000/path", "unexpected path in a TCP address"},
		{"unix:", "empty socket path"},
		{"unix://", "unix:// needs an absolute path"},
		{"unix://run/fpm.sock", "unix:// needs an absolute path"},
		{"@", "empty abstract socket name"},
		{"bad host:9000", "bad host"},
	}
	for _, tt := range tests {
		a, err := ParseAddr(tt.in)
		if err == nil {
			t.Errorf("ParseAddr(%q) = %+v, want an error", tt.in, a)
			continue
		}
		var ae *AddrError
		if !errors.As(err, &ae) {
			t.Errorf("ParseAddr(%q) error %T, want *AddrError", tt.in, err)
			continue
		}
		if ae.Addr != tt.in || ae.Reason != tt.reason {
			t.Errorf("ParseAddr(%q) = %+v, want reason %q", tt.in, ae, tt.reason)
		}
		if a != (Addr{}) {
			t.Errorf("ParseAddr(%q) returned %+v with its error", tt.in, a)
		}
		msg := err.Error()
		if !strings.Contains(msg, AddrForms) || !strings.HasPrefix(msg, "bad address ") {
			t.Errorf("message %q does not show the accepted forms", msg)
		}
	}
	// Where the system has no abstract sockets, @name is refused.
	if _, err := parseAddr("@fpm", 1, false); err == nil || err.Error() != `bad address "@fpm": abstract sockets (@name) exist only on Linux (accepted forms: `+AddrForms+`)` {
		t.Errorf("@fpm without abstract sockets: %v", err)
	}
	if a, err := parseAddr("@fpm", 1, true); err != nil || a != (Addr{Network: "unix", Address: "@fpm"}) {
		t.Errorf("@fpm with abstract sockets: %+v, %v", a, err)
	}
	want := `bad address "localhost": missing port (accepted forms: host:port, tcp://host:port, [::1]:port, unix:/path, unix:///path, /path, ./path or @abstract)`
	if _, err := ParseAddr("localhost"); err == nil || err.Error() != want {
		t.Errorf("message = %v, want %s", err, want)
	}
}

// TestParseListenAddr: a listening address takes the forms of ParseAddr,
// and port 0 as well (a free port), which ParseAddr refuses.
func TestParseListenAddr(t *testing.T) {
	for _, tt := range []struct{ in, network, address string }{
		{"127.0.0.1:0", "tcp", "127.0.0.1:0"},
		{"tcp://localhost:0", "tcp", "localhost:0"},
		{"[::1]:0", "tcp", "[::1]:0"},
		{"127.0.0.1:9000", "tcp", "127.0.0.1:9000"},
		{"127.0.0.1:65535", "tcp", "127.0.0.1:65535"},
		{"unix:/run/echo.sock", "unix", "/run/echo.sock"},
		{"./echo.sock", "unix", "./echo.sock"},
		{"@echo", "unix", "@echo"},
	} {
		a, err := ParseListenAddr(tt.in)
		if err != nil || a.Network != tt.network || a.Address != tt.address {
			t.Errorf("ParseListenAddr(%q) = %+v, %v; want {%s %s}", tt.in, a, err, tt.network, tt.address)
		}
	}
	for _, tt := range []struct{ in, reason string }{
		{"localhost:-1", "port must be a number from 0 to 65535"},
		{"localhost:65536", "port must be a number from 0 to 65535"},
		{"localhost:", "port must be a number from 0 to 65535"},
		{"localhost", "missing port"},
		{"", "empty"},
	} {
		_, err := ParseListenAddr(tt.in)
		var ae *AddrError
		if !errors.As(err, &ae) || ae.Reason != tt.reason {
			t.Errorf("ParseListenAddr(%q) error %v, want reason %q", tt.in, err, tt.reason)
		}
	}
	// A client's address still refuses port 0.
	if _, err := ParseAddr("127.0.0.1:0"); err == nil {
		t.Error("ParseAddr accepts port 0")
	}
}
