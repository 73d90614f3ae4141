package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
)

// A socket the caller may not open (mode 0660, root's, as php-fpm makes it
// from listen.owner, listen.group and listen.mode) says whose it is, who
// the caller is and which pool settings decide it; a socket in a directory
// the caller may not search says that. fcgicli runs as nobody, which needs
// root; php-fpm runs from a config in a temp dir.
func TestConnectPermissionDenied(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run fcgicli as nobody")
	}
	if findFPM() == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("php-fpm is not installed")
		}
		t.Skip("php-fpm is not installed")
	}
	// A directory nobody may search, holding the copy of this binary that
	// runs as fcgicli, the config and the socket.
	dir, err := os.MkdirTemp("", "fcgicli-perm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	fcgicli := filepath.Join(dir, "fcgicli")
	copyFile(t, self, fcgicli, 0o755)
	closed := filepath.Join(dir, "closed")
	if err := os.Mkdir(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	sock, hidden := filepath.Join(dir, "fpm.sock"), filepath.Join(closed, "fpm.sock")
	conf := filepath.Join(dir, "php-fpm.conf")
	if err := os.WriteFile(conf, []byte(`[global]
error_log = `+dir+`/php-fpm.log
[www]
listen = `+sock+`
listen.mode = 0660
pm = static
pm.max_children = 1
[hidden]
listen = `+hidden+`
listen.mode = 0666
pm = static
pm.max_children = 1
`), 0o644); err != nil {
		t.Fatal(err)
	}
	fpm, err := runFPM(conf, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fpm.stop)
	if err := fpm.waitListening(sock, hidden); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		sock string
		want string
	}{
		{sock, `^fcgicli: cannot connect to unix:` + regexp.QuoteMeta(sock) + `: permission denied: the socket is root\(0\):root\(0\), mode 0660; you are uid nobody\(65534\), groups [a-z]+\(65534\)
fcgicli: hint: php-fpm sets the socket's owner, group and mode from the pool's listen.owner, listen.group and listen.mode \(or listen.acl_users and listen.acl_groups\): run as a user they let in, or change them
$`},
		{hidden, `^fcgicli: cannot connect to unix:` + regexp.QuoteMeta(hidden) + `: permission denied: a directory on the path may not be searched
fcgicli: hint: you are uid nobody\(65534\), groups [a-z]+\(65534\): give this user the x permission on the socket's directories, or run as one who has it
$`},
	} {
		code, stdout, stderr := runAsNobody(t, dir, fcgicli, "request", "-c", c.sock, "/x")
		if code != 3 {
			t.Errorf("%s: exit %d, want 3; stderr:\n%s", c.sock, code, stderr)
		}
		if stdout != "" {
			t.Errorf("%s: stdout %q, want none", c.sock, stdout)
		}
		if !regexp.MustCompile(c.want).MatchString(stderr) {
			t.Errorf("%s: stderr:\n%s\nwant it to match:\n%s", c.sock, stderr, c.want)
		}
	}

	// doctor stops at the connect, with the same diagnosis: exit 3.
	code, stdout, stderr := runAsNobody(t, dir, fcgicli, "doctor", "-c", sock, "--color", "never")
	want := `(?m)^ok    address  unix socket ` + regexp.QuoteMeta(sock) + ` \(root\(0\):root\(0\), mode 0660\)
fail  connect  cannot connect to unix:` + regexp.QuoteMeta(sock) + `: permission denied: the socket is root\(0\):root\(0\), mode 0660; you are uid nobody\(65534\), groups [a-z]+\(65534\)
 +do: php-fpm sets the socket's owner, group and mode from the pool's listen.owner, listen.group and listen.mode`
	if code != 3 || stderr != "" || !regexp.MustCompile(want).MatchString(stdout) {
		t.Errorf("doctor as nobody: exit %d, stdout:\n%s\nstderr:\n%s\nwant exit 3 and stdout matching:\n%s", code, stdout, stderr, want)
	}
}

// runAsNobody runs the fcgicli at bin as nobody, in dir, and returns its
// exit code, stdout and stderr.
func runAsNobody(t *testing.T, dir, bin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.Dir = &stdout, &stderr, dir
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), stdout.String(), stderr.String()
	}
	t.Fatal(err)
	return 0, "", ""
}

// copyFile copies src to dst with mode.
func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
