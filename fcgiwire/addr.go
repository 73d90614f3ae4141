package fcgiwire

import (
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
)

// Addr is a parsed FastCGI address: a network ("tcp" or "unix") and an
// address as net.Dial takes it.
type Addr struct {
	Network string
	Address string
}

// String returns the address in a form ParseAddr accepts again.
func (a Addr) String() string {
	if a.Network == "unix" {
		if strings.HasPrefix(a.Address, "@") {
			return a.Address
		}
		return "unix:" + a.Address
	}
	return a.Address
}

// AddrForms lists the accepted address forms, for error messages.
const AddrForms = "host:port, tcp://host:port, [::1]:port, unix:/path, unix:///path, /path, ./path or @abstract"

// AddrError is a malformed address.
type AddrError struct {
	Addr   string
	Reason string
}

func (e *AddrError) Error() string {
	return fmt.Sprintf("bad address %q: %s (accepted forms: %s)", e.Addr, e.Reason, AddrForms)
}

// ParseAddr parses an address to connect to, in one of the forms of
// AddrForms. A TCP port must be from 1 to 65535.
func ParseAddr(s string) (Addr, error) { return parseAddr(s, 1, abstractSockets) }

// ParseListenAddr parses an address to listen on, in one of the forms of
// AddrForms. A TCP port may also be 0, which has the system pick a free
// port.
func ParseListenAddr(s string) (Addr, error) { return parseAddr(s, 0, abstractSockets) }

// abstractSockets tells whether the system has abstract unix sockets
// (@name): Linux only. Elsewhere Go would take "@name" for a file of that
// name in the working directory, so the form is refused instead.
const abstractSockets = runtime.GOOS == "linux" || runtime.GOOS == "android"

// parseAddr parses s, requiring a TCP port from minPort to 65535, and
// refusing @name unless abstract is set.
func parseAddr(s string, minPort int, abstract bool) (Addr, error) {
	bad := func(reason string) (Addr, error) { return Addr{}, &AddrError{Addr: s, Reason: reason} }
	switch {
	case s == "":
		return bad("empty")
	case strings.HasPrefix(s, "unix:"):
		p := strings.TrimPrefix(s, "unix:")
		if strings.HasPrefix(p, "//") {
			p = strings.TrimPrefix(p, "//")
			if !strings.HasPrefix(p, "/") {
				return bad("unix:// needs an absolute path")
			}
		}
		if p == "" {
			return bad("empty socket path")
		}
		return Addr{Network: "unix", Address: p}, nil
	case strings.HasPrefix(s, "/"), strings.HasPrefix(s, "."):
		return Addr{Network: "unix", Address: s}, nil
	case strings.HasPrefix(s, "@"):
		if len(s) == 1 {
			return bad("empty abstract socket name")
		}
		if !abstract {
			return bad("abstract sockets (@name) exist only on Linux")
		}
		return Addr{Network: "unix", Address: s}, nil
	}
	hp := strings.TrimPrefix(s, "tcp://")
	if strings.Contains(hp, "/") {
		return bad("unexpected path in a TCP address")
	}
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		return bad("missing port")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < minPort || n > 65535 {
		return bad(fmt.Sprintf("port must be a number from %d to 65535", minPort))
	}
	if strings.ContainsAny(host, " []") {
		return bad("bad host")
	}
	return Addr{Network: "tcp", Address: net.JoinHostPort(host, port)}, nil
}
