// Package netio is the plumbing of sockets and files that commands share
// below the engines and the request path: opening the listeners of the two
// servers, serve and proxy (address forms, a stale unix socket, the socket
// mode, the address as logged), the read and idle deadlines of the
// connections they serve, and the tee that copies a connection's bytes to
// files for raw-dump's --save-request/--save-response and proxy's --save.
//
// It sits at the bottom beside runenv, so that the proxy engine, the
// request path and package commands can all import it with no arrow
// pointing up; the flags that fill its values (--listen, --socket-mode,
// --read-timeout, --idle-timeout) are parsed in package commands. It
// imports only the standard library, fcgiwire and runenv. It must not
// accept or serve connections, speak FastCGI, print, call os.Exit or hold
// package-level mutable state.
package netio

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"syscall"
	"time"

	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
)

// Deadlines are --read-timeout and --idle-timeout, which serve and proxy
// share: how long a client may stall while it owes input, and how long a
// connection may idle without a request. Zero is never.
type Deadlines struct {
	Read, Idle time.Duration
}

// Listen listens on a, first removing a stale unix socket that nothing
// answers on any more, and gives a unix socket file the mode when set.
func Listen(a fcgiwire.Addr, mode os.FileMode) (net.Listener, error) {
	return listen(a, mode, socketModes)
}

// socketModes tells whether a unix socket's file has a mode that chmod
// sets: not on Windows, where --socket-mode is refused.
const socketModes = runtime.GOOS != "windows"

// listen is Listen, refusing a mode for a unix socket unless modes is set.
func listen(a fcgiwire.Addr, mode os.FileMode, modes bool) (net.Listener, error) {
	if mode != 0 && a.Network == "unix" && !modes {
		return nil, runenv.Usagef("--socket-mode: a unix socket on Windows has no file mode")
	}
	l, err := listenOnce(a)
	if err == nil && mode != 0 && a.Network == "unix" && a.Address[0] != '@' {
		if cerr := os.Chmod(a.Address, mode); cerr != nil {
			l.Close()
			return nil, fmt.Errorf("--socket-mode: %w", cerr)
		}
	}
	return l, err
}

func listenOnce(a fcgiwire.Addr) (net.Listener, error) {
	l, err := net.Listen(a.Network, a.Address)
	if err == nil || a.Network != "unix" || a.Address[0] == '@' || !errors.Is(err, syscall.EADDRINUSE) {
		if err != nil {
			return nil, fmt.Errorf("cannot listen on %s: %w", a, runenv.UnwrapOp(err))
		}
		return l, nil
	}
	if fi, serr := os.Stat(a.Address); serr == nil && fi.Mode()&os.ModeSocket != 0 {
		if c, derr := net.DialTimeout("unix", a.Address, time.Second); derr == nil {
			c.Close()
		} else if errors.Is(derr, syscall.ECONNREFUSED) {
			os.Remove(a.Address)
			if l, err = net.Listen(a.Network, a.Address); err == nil {
				return l, nil
			}
		}
	}
	return nil, fmt.Errorf("cannot listen on %s: %w", a, runenv.UnwrapOp(err))
}

// ListenAll listens on every address, or on none: when one fails, those
// already open are closed.
func ListenAll(addrs []fcgiwire.Addr, mode os.FileMode) ([]net.Listener, error) {
	var listeners []net.Listener
	for _, a := range addrs {
		l, err := Listen(a, mode)
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
			return nil, err
		}
		listeners = append(listeners, l)
	}
	return listeners, nil
}

// ListenerAddr is the address l listens on, as the servers log it: a unix
// socket in the unix: form --connect takes.
func ListenerAddr(l net.Listener) string {
	a := l.Addr()
	if a.Network() == "unix" {
		return fcgiwire.Addr{Network: "unix", Address: a.String()}.String()
	}
	return a.String()
}
