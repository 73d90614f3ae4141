package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fcgicli/fcgicli/commands"
	"github.com/fcgicli/fcgicli/commands/runenv"
)

// phpPools is a php-fpm of the php tests' own: pool main (opcache on,
// memory_limit set by php_admin_value, a file's cache entry made at
// once), pool off (OPcache and APCu off, an opcache.restrict_api that
// lets the temp dir in), pool jail (an open_basedir
// without the temp dir), pool restricted (an opcache.restrict_api
// without the temp dir), pool killed (a request_terminate_timeout of 1s)
// and, as root, pool chroot (a chroot without it) and pool nobody
// (workers of another user).
type phpPools struct {
	main, off, jail string // socket paths
	restricted      string
	killed          string
	chroot, nobody  string // as root: a chrooted pool, a pool running as nobody
	tmp             string // the --tmp-dir the tests list
	dir             string
}

func startPHPPools(t *testing.T) *phpPools {
	t.Helper()
	if findFPM() == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("php-fpm is not installed")
		}
		t.Skip("php-fpm is not installed (apt-get install php-fpm)")
	}
	dir := t.TempDir()
	p := &phpPools{main: dir + "/main.sock", off: dir + "/off.sock", jail: dir + "/jail.sock", restricted: dir + "/restricted.sock", killed: dir + "/killed.sock", tmp: dir + "/tmp", dir: dir}
	for _, d := range []string{p.tmp, dir + "/jail", dir + "/root"} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conf := fmt.Sprintf(`[global]
pid = %[1]s/php-fpm.pid
error_log = %[1]s/php-fpm.log
daemonize = no
[main]
listen = %[1]s/main.sock
pm = static
pm.max_children = 4
php_admin_value[memory_limit] = 200M
php_admin_value[opcache.enable] = 1
php_admin_value[opcache.file_update_protection] = 0
php_admin_value[output_buffering] = 4096
[off]
listen = %[1]s/off.sock
pm = static
pm.max_children = 1
php_admin_value[opcache.enable] = 0
php_admin_value[apc.enabled] = 0
; a restrict_api that lets fcgicli's script in: off is still off
php_admin_value[opcache.restrict_api] = %[1]s
[jail]
listen = %[1]s/jail.sock
pm = static
pm.max_children = 1
php_admin_value[open_basedir] = %[1]s/jail
[restricted]
listen = %[1]s/restricted.sock
pm = static
pm.max_children = 1
php_admin_value[opcache.restrict_api] = %[1]s/jail
[killed]
listen = %[1]s/killed.sock
pm = static
pm.max_children = 1
request_terminate_timeout = 1s
`, dir)
	root := os.Geteuid() == 0
	if root {
		p.chroot = dir + "/chroot.sock"
		conf += fmt.Sprintf("[chroot]\nlisten = %[1]s/chroot.sock\npm = static\npm.max_children = 1\nchroot = %[1]s/root\n", dir)
		// A pool of another user, as a stock one runs as www-data: it
		// must be able to reach --tmp-dir (t.TempDir's are 0700).
		p.nobody = dir + "/nobody.sock"
		conf += fmt.Sprintf("[nobody]\nlisten = %[1]s/nobody.sock\nlisten.mode = 0666\nuser = nobody\npm = static\npm.max_children = 1\n", dir)
		for _, d := range []string{filepath.Dir(dir), dir} {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.WriteFile(dir+"/php-fpm.conf", []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	fpm, err := runFPM(dir+"/php-fpm.conf", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fpm.stop)
	var socks []string
	for _, sock := range []string{p.main, p.off, p.jail, p.restricted, p.killed, p.chroot, p.nobody} {
		if sock != "" {
			socks = append(socks, sock)
		}
	}
	if err := fpm.waitListening(socks...); err != nil {
		log, _ := os.ReadFile(dir + "/php-fpm.log")
		t.Fatalf("%v\n%s", err, log)
	}
	return p
}

// php runs fcgicli php ACTION -c sock --tmp-dir p.tmp ARGS... in-process.
func (p *phpPools) php(ctx context.Context, sock string, args ...string) (code int, stdout, stderr string) {
	return p.phpStdin(ctx, "", sock, args...)
}

// phpStdin is php with stdin.
func (p *phpPools) phpStdin(ctx context.Context, stdin, sock string, args ...string) (code int, stdout, stderr string) {
	var out, errOut strings.Builder
	env := &runenv.Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut,
		Getenv: func(string) string { return "" }, Environ: func() []string { return nil }}
	full := append([]string{"fcgicli", "php"}, args...)
	full = append(full, "-c", sock)
	if !slices.Contains(args, "--tmp-dir") {
		full = append(full, "--tmp-dir", p.tmp)
	}
	code = commands.RunEnv(ctx, env, full)
	return code, out.String(), errOut.String()
}

// checkEmpty fails when the temp dir holds anything after a run.
func (p *phpPools) checkEmpty(t *testing.T, after string) {
	t.Helper()
	left, err := os.ReadDir(p.tmp)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("after %s, --tmp-dir still holds %v", after, left)
	}
}

func TestPHP(t *testing.T) {
	p := startPHPPools(t)
	ctx := context.Background()

	t.Run("eval", func(t *testing.T) {
		for _, c := range []struct {
			name, code     string
			exit           int
			stdout, stderr string
		}{
			{"output", `echo "hello ", PHP_SAPI, "\n";`, 0, "hello fpm-fcgi\n", ""},
			{"exit status", `echo "out\n"; exit(3);`, 7, "out\n", "fcgicli: the PHP code exited with status 3\n"},
			{"exit in a function", `function f() { die(4); } f(); echo "never";`, 7, "", "fcgicli: the PHP code exited with status 4\n"},
			{"exit with a message", `exit("bye\n");`, 0, "bye\n", ""},
			{"warning", `echo $nope, "after\n";`, 0, "after\n", "PHP Warning:  Undefined variable $nope in Command line code on line 1\n"},
			{"parse error", `echo 1 +;`, 7, "", "PHP Parse error:  syntax error, unexpected token \";\" in Command line code on line 1\nfcgicli: the PHP code ended with a fatal error (exit status 255)\n"},
			{"fatal", `str_repeat("x", 300 << 20);`, 7, "", "PHP Fatal error:  Allowed memory size of 209715200 bytes exhausted (tried to allocate 314576896 bytes) in Command line code on line 1\nfcgicli: the PHP code ended with a fatal error (exit status 255)\n"},
			{"stray output", `ob_start(); echo "kept\n";`, 0, "kept\n", ""},
			{"application stderr, then errors on a line of their own", `error_log("logged"); echo $u;`, 0, "", "PHP message: logged\nPHP Warning:  Undefined variable $u in Command line code on line 1\n"},
			{"exit in a shutdown function", `register_shutdown_function(function () { echo "sd\n"; exit(9); }); echo "x\n";`, 7, "x\nsd\n", "fcgicli: the PHP code exited with status 9\n"},
			{"declare first", `declare(strict_types=1); namespace N; function f(int $i) { return $i; } echo f(1), "\n";`, 0, "1\n", ""},
		} {
			t.Run(c.name, func(t *testing.T) {
				code, stdout, stderr := p.php(ctx, p.main, "eval", c.code)
				if code != c.exit || stdout != c.stdout || stderr != c.stderr {
					t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q, %q", code, stdout, stderr, c.exit, c.stdout, c.stderr)
				}
				p.checkEmpty(t, c.name)
			})
		}
		// A pool whose workers are another user reads the file.
		if p.nobody != "" {
			code, stdout, stderr := p.php(ctx, p.nobody, "eval", `echo posix_getpwuid(posix_geteuid())["name"], "\n";`)
			if code != 0 || stdout != "nobody\n" || stderr != "" {
				t.Errorf("pool of nobody: exit %d, stdout %q, stderr %q", code, stdout, stderr)
			}
		}
		// From stdin, and from a file whose #! line still counts.
		code, stdout, stderr := p.phpStdin(ctx, `echo "stdin\n", $u;`, p.main, "eval", "-")
		if want := "PHP Warning:  Undefined variable $u in Standard input code on line 1\n"; code != 0 || stdout != "stdin\n" || stderr != want {
			t.Errorf("eval -: exit %d, stdout %q, stderr %q; want 0, %q, %q", code, stdout, stderr, "stdin\n", want)
		}
		file := filepath.Join(p.dir, "script.php")
		if err := os.WriteFile(file, []byte("#!/usr/bin/env php\n<?php\ndeclare(strict_types=1);\necho \"file\\n\", $u;\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		code, stdout, stderr = p.php(ctx, p.main, "eval", "-f", file)
		if want := "PHP Warning:  Undefined variable $u in " + file + " on line 4\n"; code != 0 || stdout != "file\n" || stderr != want {
			t.Errorf("eval -f: exit %d, stdout %q, stderr %q; want 0, %q, %q", code, stdout, stderr, "file\n", want)
		}
		code, stdout, _ = p.php(ctx, p.main, "eval", `echo "x"; exit(5);`, "-o", "json")
		want := "{\n  \"output\": \"x\",\n  \"stderr\": \"\",\n  \"errors\": [],\n  \"end\": \"exit\",\n  \"exit_status\": 5\n}\n"
		if code != 7 || stdout != want {
			t.Errorf("-o json: exit %d, stdout %q; want 7, %q", code, stdout, want)
		}
	})

	t.Run("ini", func(t *testing.T) {
		code, stdout, stderr := p.php(ctx, p.main, "ini", "memory_limit", "-o", "json")
		want := "[\n  {\n    \"name\": \"memory_limit\",\n    \"local_value\": \"200M\",\n    \"master_value\": \"200M\",\n    \"access\": \"PHP_INI_SYSTEM\",\n    \"source\": \"pool\"\n  }\n]\n"
		if code != 0 || stdout != want {
			t.Errorf("exit %d, stdout %q, stderr %q; want 0, %q", code, stdout, stderr, want)
		}
		php, err := exec.LookPath("php")
		if err != nil {
			t.Skip("no php command for --diff-cli")
		}
		out, err := exec.Command(php, "-r", `echo ini_get("memory_limit");`).Output()
		if err != nil {
			t.Fatal(err)
		}
		cli := string(out)
		code, stdout, stderr = p.php(ctx, p.main, "ini", "memory_limit", "--diff-cli", "-o", "json")
		want = strings.Replace(want, `"source": "pool"`, `"source": "pool",`+"\n    \"cli_value\": "+fmt.Sprintf("%q", cli), 1)
		if code != 0 || stdout != want {
			t.Errorf("--diff-cli: exit %d, stderr %q, stdout %q; want %q", code, stderr, stdout, want)
		}
		code, _, stderr = p.php(ctx, p.main, "ini", "no_such.setting")
		if code != 1 || stderr != "fcgicli: the pool has no ini setting named no_such.setting\n" {
			t.Errorf("unknown name: exit %d, stderr %q", code, stderr)
		}
		p.checkEmpty(t, "ini")
	})

	t.Run("info", func(t *testing.T) {
		code, stdout, stderr := p.php(ctx, p.main, "info", "-o", "json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var in struct {
			SAPI       string `json:"sapi"`
			UID        *int   `json:"uid"`
			Extensions []struct {
				Name string `json:"name"`
				Zend bool   `json:"zend"`
			} `json:"extensions"`
			OpenBasedir string `json:"open_basedir"`
		}
		if err := json.Unmarshal([]byte(stdout), &in); err != nil {
			t.Fatalf("%v: %s", err, stdout)
		}
		opcache := false
		for _, e := range in.Extensions {
			opcache = opcache || e.Name == "Zend OPcache" && e.Zend
		}
		// php-fpm runs its workers as the user that started it here.
		if in.SAPI != "fpm-fcgi" || !opcache || in.OpenBasedir != "" || in.UID != nil && *in.UID != os.Geteuid() {
			t.Errorf("sapi %q, OPcache as a Zend extension %v, open_basedir %q, uid %v (want %d):\n%s", in.SAPI, opcache, in.OpenBasedir, in.UID, os.Geteuid(), stdout)
		}
		code, stdout, _ = p.php(ctx, p.main, "info")
		if code != 0 || !strings.HasPrefix(stdout, "+---") || !strings.Contains(stdout, "| sapi              | fpm-fcgi ") || !strings.Contains(stdout, "| Zend OPcache ") {
			t.Errorf("text: exit %d:\n%s", code, stdout)
		}
		p.checkEmpty(t, "info")
	})

	t.Run("opcache", func(t *testing.T) {
		status := func() map[string]any {
			t.Helper()
			code, stdout, stderr := p.php(ctx, p.main, "opcache", "status", "-o", "json")
			if code != 0 {
				t.Fatalf("opcache status: exit %d: %s", code, stderr)
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(stdout), &m); err != nil {
				t.Fatal(err)
			}
			return m
		}
		// A script of its own, requested twice: a miss, then a hit.
		docroot := filepath.Join(p.dir, "www")
		if err := os.Mkdir(docroot, 0o755); err != nil {
			t.Fatal(err)
		}
		page := filepath.Join(docroot, "page.php")
		if err := os.WriteFile(page, []byte("<?php echo 'page';\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		before := status()
		for i := 0; i < 2; i++ {
			if _, err := fcgicliOutput(nil, "request", "-c", p.main, page); err != nil {
				t.Fatal(err)
			}
		}
		after := status()
		if after["hits"].(float64) <= before["hits"].(float64) || after["cached_scripts"].(float64) <= before["cached_scripts"].(float64) {
			t.Errorf("after two requests: hits %v -> %v, cached_scripts %v -> %v: want both to grow", before["hits"], after["hits"], before["cached_scripts"], after["cached_scripts"])
		}
		code, stdout, stderr := p.php(ctx, p.main, "opcache", "reset")
		if code != 0 || stdout != "opcache reset: done\n" {
			t.Fatalf("reset: exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
		// The status request after the reset is the first to find the
		// cache empty: its own script is all it holds.
		reset := status()
		for k, want := range map[string]float64{"hits": 0, "cached_scripts": 1, "misses": 1, "manual_restarts": after["manual_restarts"].(float64) + 1} {
			if reset[k].(float64) != want {
				t.Errorf("after reset, %s = %v, want %v", k, reset[k], want)
			}
		}
		code, stdout, _ = p.php(ctx, p.main, "opcache", "invalidate", page, "/no/such.php")
		if want := "opcache invalidate " + page + ": done\nopcache invalidate /no/such.php: no such file in the pool\n"; code != 0 || stdout != want {
			t.Errorf("invalidate: exit %d, stdout %q, want %q", code, stdout, want)
		}
		for _, action := range []string{"status", "reset"} {
			code, stdout, stderr = p.php(ctx, p.off, "opcache", action)
			if code != 1 || stdout != "" || stderr != "fcgicli: OPcache is loaded but off in this pool (opcache.enable=0)\n" {
				t.Errorf("opcache %s in a pool with it off: exit %d, stdout %q, stderr %q", action, code, stdout, stderr)
			}
		}
		// opcache.restrict_api refuses fcgicli's script: every action
		// says so, none claims a file is missing or passes.
		for _, args := range [][]string{{"opcache", "status"}, {"opcache", "reset"}, {"opcache", "invalidate", page}} {
			code, stdout, stderr = p.php(ctx, p.restricted, args...)
			if want := "fcgicli: OPcache's API is restricted to scripts under " + p.dir + "/jail (opcache.restrict_api): give --tmp-dir a directory there\n"; code != 1 || stdout != "" || stderr != want {
				t.Errorf("%s in a pool whose restrict_api leaves --tmp-dir out: exit %d, stdout %q, stderr %q, want exit 1 and %q", strings.Join(args, " "), code, stdout, stderr, want)
			}
		}
		p.checkEmpty(t, "opcache")
	})

	t.Run("apcu", func(t *testing.T) {
		code, stdout, stderr := p.php(ctx, p.main, "apcu", "status", "-o", "json")
		if code == 1 && strings.Contains(stderr, "does not load APCu") {
			if os.Getenv("CI") != "" {
				t.Fatalf("APCu is not loaded in CI: %s", stderr)
			}
			t.Skip("APCu is not installed (apt-get install php-apcu)")
		}
		entries := func(stdout string) float64 {
			var m map[string]any
			if err := json.Unmarshal([]byte(stdout), &m); err != nil {
				t.Fatalf("%v: %q", err, stdout)
			}
			return m["entries"].(float64)
		}
		if code != 0 {
			t.Fatalf("apcu status: exit %d: %s", code, stderr)
		}
		if code, _, stderr := p.php(ctx, p.main, "eval", `apcu_store("fcgicli-test", 1);`); code != 0 {
			t.Fatalf("apcu_store: exit %d: %s", code, stderr)
		}
		_, stdout, _ = p.php(ctx, p.main, "apcu", "status", "-o", "json")
		if n := entries(stdout); n < 1 {
			t.Errorf("after apcu_store, %v entries", n)
		}
		if code, stdout, _ := p.php(ctx, p.main, "apcu", "clear"); code != 0 || stdout != "apcu clear: done\n" {
			t.Errorf("clear: exit %d, stdout %q", code, stdout)
		}
		_, stdout, _ = p.php(ctx, p.main, "apcu", "status", "-o", "json")
		if n := entries(stdout); n != 0 {
			t.Errorf("after clear, %v entries", n)
		}
		for _, action := range []string{"status", "clear"} {
			code, stdout, stderr = p.php(ctx, p.off, "apcu", action, "-o", "json")
			want := "{\n  \"error\": \"APCu is loaded but off in this pool (apc.enabled=0)\"\n}\n"
			if code != 1 || stdout != want || stderr != "fcgicli: APCu is loaded but off in this pool (apc.enabled=0)\n" {
				t.Errorf("apcu %s in a pool with it off: exit %d, stdout %q, stderr %q", action, code, stdout, stderr)
			}
		}
		p.checkEmpty(t, "apcu")
	})

	t.Run("blind", func(t *testing.T) {
		re := regexp.QuoteMeta
		cases := []struct{ sock, why, hint string }{
			{p.jail, "open_basedir forbids it (CGI status 404)", "give --tmp-dir a directory inside the pool's open_basedir"},
			{p.chroot, `php-fpm answered "Primary script unknown": the pool does not see the file, or its user may not reach it (CGI status 404)`, "give --tmp-dir, instead of " + p.tmp + ", a directory the pool sees under the same path and its user may enter: inside the pool's chroot"},
		}
		for _, c := range cases {
			if c.sock == "" {
				t.Log("not root: no chroot pool")
				continue
			}
			code, stdout, stderr := p.php(ctx, c.sock, "eval", "echo 1;")
			want := regexp.MustCompile(`(?m)^fcgicli: the pool could not run ` + re(p.tmp) + `/fcgicli-\d+/\d+\.php: ` + re(c.why) + "\nfcgicli: hint: " + re(c.hint) + `.*\n\z`)
			if code != 1 || stdout != "" || !want.MatchString(stderr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want 1 and %s", code, stdout, stderr, want)
			}
			p.checkEmpty(t, "a pool that cannot see the file")
		}
		if p.nobody == "" {
			return
		}
		// A --tmp-dir the pool's user may not enter.
		private := filepath.Join(p.dir, "private")
		if err := os.Mkdir(private, 0o700); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := p.php(ctx, p.nobody, "eval", "echo 1;", "--tmp-dir", private)
		// php-fpm cannot tell it from a file that is not there.
		want := regexp.MustCompile(`(?m)^fcgicli: the pool could not run ` + re(private) + `/fcgicli-\d+/\d+\.php: php-fpm answered "Primary script unknown": the pool does not see the file, or its user may not reach it \(CGI status 404\)\nfcgicli: hint: give --tmp-dir, instead of ` + re(private) + `, a directory .*not a directory private to you; .*\n\z`)
		if code != 1 || !want.MatchString(stderr) {
			t.Errorf("a private --tmp-dir: exit %d, stderr %q; want %s", code, stderr, want)
		}
		if left, _ := os.ReadDir(private); len(left) > 0 {
			t.Errorf("the private --tmp-dir still holds %v", left)
		}
	})

	t.Run("timeout", func(t *testing.T) {
		code, _, stderr := p.php(ctx, p.main, "eval", `for ($i = 0; $i < 600; $i++) { echo " "; flush(); usleep(100000); }`, "-t", "1s")
		if code != 4 || stderr != "fcgicli: timed out after 1s (--timeout)\n" {
			t.Errorf("exit %d, stderr %q; want 4", code, stderr)
		}
		p.checkEmpty(t, "a timeout")
	})

	// Ctrl-C (the context ending) and SIGTERM to a real fcgicli process,
	// each once the code is running in the pool: it writes a file first.
	busy := func(marker string) string {
		return fmt.Sprintf(`echo "started\n"; while (ob_get_level()) { ob_end_flush(); } flush(); file_put_contents(%q, "1"); for ($i = 0; $i < 600; $i++) { echo " "; flush(); usleep(100000); }`, marker)
	}
	waitFile := func(t *testing.T, path string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			if _, err := os.Stat(path); err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the code never started: no %s", path)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	t.Run("interrupt", func(t *testing.T) {
		marker := filepath.Join(p.dir, "interrupt-started")
		ictx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		var code int
		var stdout, stderr string
		go func() {
			code, stdout, stderr = p.php(ictx, p.main, "eval", busy(marker))
			close(done)
		}()
		waitFile(t, marker)
		cancel()
		<-done
		// The output that came before is out: it streams.
		if code != 130 || stderr != "fcgicli: interrupted\n" || strings.TrimRight(stdout, " ") != "started\n" {
			t.Errorf("exit %d, stdout %q, stderr %q; want 130 and the output so far", code, stdout, stderr)
		}
		p.checkEmpty(t, "an interruption")
	})
	t.Run("request_terminate_timeout", func(t *testing.T) {
		// php-fpm kills the worker and resets the connection: a protocol
		// error (exit 5), and the directory is gone.
		code, _, stderr := p.php(ctx, p.killed, "eval", `sleep(30);`)
		if code != 5 || !strings.HasPrefix(stderr, "fcgicli: protocol error at byte 0: connection closed before FCGI_END_REQUEST") {
			t.Errorf("exit %d, stderr %q; want 5 and the connection closed", code, stderr)
		}
		p.checkEmpty(t, "request_terminate_timeout")
	})

	t.Run("stdout closed", func(t *testing.T) {
		// A reader that stops early (php eval ... | head) ends fcgicli by
		// SIGPIPE, as it ends any filter, once the script's directory is
		// gone.
		cmd := fcgicliCmd(t, "php", "eval", `for ($i = 0; $i < 100; $i++) { echo str_repeat("x", 65536); }`, "-c", p.main, "--tmp-dir", p.tmp)
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stdout, cmd.Stderr = w, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		w.Close()
		head := make([]byte, 10)
		_, err = io.ReadFull(r, head)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		timer := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
		err = cmd.Wait()
		if !timer.Stop() {
			t.Fatal("still running after 30s: killed")
		}
		ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if !ws.Signaled() || ws.Signal() != syscall.SIGPIPE || stderr.String() != "" {
			t.Errorf("ended with %v, stderr %q; want SIGPIPE and nothing on stderr", err, stderr.String())
		}
		p.checkEmpty(t, "stdout closed")
	})

	t.Run("sigterm", func(t *testing.T) {
		marker := filepath.Join(p.dir, "sigterm-started")
		cmd := fcgicliCmd(t, "php", "eval", busy(marker), "-c", p.main, "--tmp-dir", p.tmp)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitFile(t, marker)
		left, _ := os.ReadDir(p.tmp)
		if len(left) != 1 {
			t.Errorf("mid-request, --tmp-dir holds %v, want the script's directory", left)
		}
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if code := waitBounded(t, cmd, 30*time.Second); code != 130 || stderr.String() != "fcgicli: interrupted\n" || strings.TrimRight(stdout.String(), " ") != "started\n" {
			t.Errorf("exit %d, stdout %q, stderr %q; want 130 and the output so far", code, stdout.String(), stderr.String())
		}
		p.checkEmpty(t, "SIGTERM")
	})
}
