package cgifcgi

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/fcgicli/fcgicli/commands/runenv"
)

// InstallOptions are install-cgi-fcgi's: the directory, the binary the
// link points to, and --force.
type InstallOptions struct {
	Dir   string
	Exe   string
	Force bool
}

// Install makes Dir/cgi-fcgi a symbolic link to Exe, and says what it did
// on stdout.
func Install(o *InstallOptions, stdout io.Writer) error {
	fi, err := os.Stat(o.Dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return runenv.Usagef("%s: no such directory", o.Dir)
	case err != nil:
		return err
	case !fi.IsDir():
		return runenv.Usagef("%s is not a directory", o.Dir)
	}
	exe, err := filepath.Abs(o.Exe)
	if err != nil {
		return err
	}
	link := filepath.Join(o.Dir, Name)
	if lfi, err := os.Lstat(link); err == nil {
		efi, _ := os.Stat(exe)
		// Already a way to run this binary: a link to it, or the binary
		// itself (a hard link, or fcgicli installed as cgi-fcgi).
		if tfi, err := os.Stat(link); err == nil && efi != nil && os.SameFile(tfi, efi) {
			fmt.Fprintf(stdout, "%s already runs %s\n", link, exe)
			return nil
		}
		what := "a file"
		if target, err := os.Readlink(link); err == nil {
			what = "a link to " + target
		} else if lfi.IsDir() {
			return &runenv.CodeError{Code: runenv.ExitCheckFailed, Msg: fmt.Sprintf("%s already exists and is a directory", link)}
		}
		if !o.Force {
			return &runenv.CodeError{Code: runenv.ExitCheckFailed, Msg: fmt.Sprintf("%s already exists (%s): remove it, or use --force to replace it", link, what)}
		}
	}
	// Make the link under a temporary name and rename it into place, so
	// that a replaced cgi-fcgi never goes missing.
	tmp := filepath.Join(o.Dir, fmt.Sprintf(".%s.%d.tmp", Name, os.Getpid()))
	os.Remove(tmp)
	if err := os.Symlink(exe, tmp); err != nil {
		return &runenv.CodeError{Code: runenv.ExitCheckFailed, Msg: fmt.Sprintf("cannot create %s: %v", link, unwrapPath(err))}
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return &runenv.CodeError{Code: runenv.ExitCheckFailed, Msg: fmt.Sprintf("cannot create %s: %v", link, unwrapPath(err))}
	}
	fmt.Fprintf(stdout, "%s -> %s\n", link, exe)
	return nil
}

// unwrapPath drops the "symlink a b: " prefix of a file error.
func unwrapPath(err error) error {
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
