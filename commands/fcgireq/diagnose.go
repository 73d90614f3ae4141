package fcgireq

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/fcgicli/fcgicli/commands/runenv"
)

// connectFailure is the error of a dial of t that failed other than by
// running out of time: a connect error (exit 3) that says which failure it
// is, with a hint of what to do when the failure is a known one.
func connectFailure(t *Target, err error) error {
	ce := &runenv.ConnectError{Addr: t.Display, Err: err}
	if t.Addr.Network == "unix" && !strings.HasPrefix(t.Addr.Address, "@") {
		return unixFailure(ce, t.Addr.Address)
	}
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		ce.Reason = fmt.Sprintf("unknown host %s", dnsErr.Name)
		return runenv.WithHint(ce, "the name does not resolve here: check it, or give the pool's IP address")
	case errors.As(err, &dnsErr):
		ce.Reason = fmt.Sprintf("cannot resolve %s: %v", dnsErr.Name, dnsErr.Err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return runenv.WithHint(ce, "nothing listens there: is php-fpm running, and is this address its pool's listen = line?")
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return runenv.WithHint(ce, "no route to that host from here: check the address, and the network between (a firewall, a container's own network)")
	}
	return ce
}

// unixFailure says what is wrong with the unix socket at path.
func unixFailure(ce *runenv.ConnectError, path string) error {
	fi, serr := os.Stat(path)
	switch {
	case errors.Is(serr, fs.ErrNotExist):
		hint := "nothing is at that path: is php-fpm running, and is this the pool's listen = path?"
		if socks := socketsIn(filepath.Dir(path)); socks != "" {
			hint += " Sockets in " + filepath.Dir(path) + ": " + socks
		}
		return runenv.WithHint(ce, hint)
	case errors.Is(serr, fs.ErrPermission):
		ce.Reason = "permission denied: a directory on the path may not be searched"
		return runenv.WithHint(ce, fmt.Sprintf("you are %s: give this user the x permission on the socket's directories, or run as one who has it", caller()))
	case serr != nil:
		return ce
	case fi.IsDir():
		ce.Reason = "not a socket: a directory"
		return runenv.WithHint(ce, "give the path of the socket itself, as the pool's listen = line names it")
	case fi.Mode()&fs.ModeSocket == 0:
		ce.Reason = "not a socket: a " + fileKind(fi.Mode())
		return runenv.WithHint(ce, "give the path of the socket itself, as the pool's listen = line names it")
	case errors.Is(ce.Err, fs.ErrPermission):
		ce.Reason = fmt.Sprintf("permission denied: the socket is %s; you are %s", SocketOwner(fi), caller())
		return runenv.WithHint(ce, "php-fpm sets the socket's owner, group and mode from the pool's listen.owner, listen.group and listen.mode (or listen.acl_users and listen.acl_groups): run as a user they let in, or change them")
	case errors.Is(ce.Err, syscall.ECONNREFUSED):
		ce.Reason = "connection refused: nothing listens on the socket"
		return runenv.WithHint(ce, "a socket left behind by a php-fpm that stopped: start php-fpm, or check that this is the pool's listen = path")
	case errors.Is(ce.Err, syscall.EAGAIN):
		ce.Reason = "the socket's listen queue is full"
		return runenv.WithHint(ce, "every child of the pool is busy and listen.backlog connections already wait: look at the pool's status page (fcgicli status; pm.status_listen answers even then)")
	}
	return ce
}

// SocketOwner describes a socket file's owner, group and mode:
// "root(0):www-data(33), mode 0660".
func SocketOwner(fi fs.FileInfo) string {
	return fmt.Sprintf("%s, mode %04o", owner(fi), fi.Mode().Perm())
}

// fileKind names what a file that is not a socket is.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "regular file"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "file of another kind"
}

// socketsIn lists the unix sockets in dir, at most a few, "" when none.
func socketsIn(dir string) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	var names []string
	for _, e := range entries {
		if e.Type()&fs.ModeSocket != 0 {
			if len(names) == 5 {
				names = append(names, "...")
				break
			}
			names = append(names, e.Name())
		}
	}
	return strings.Join(names, ", ")
}
