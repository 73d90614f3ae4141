package fpmconfig

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// findFPM finds php-fpm as the repository's tests do ($PHP_FPM, php-fpm
// on PATH, /usr/sbin/php-fpm*); without one the test skips, or fails in
// CI.
func findFPM(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PHP_FPM"); p != "" {
		return p
	}
	if p, err := exec.LookPath("php-fpm"); err == nil {
		return p
	}
	if m, _ := filepath.Glob("/usr/sbin/php-fpm*"); len(m) > 0 {
		return m[0]
	}
	if os.Getenv("CI") != "" {
		t.Fatal("php-fpm not found (install php-fpm, or set PHP_FPM): CI needs it")
	}
	t.Skip("php-fpm not found (install php-fpm, or set PHP_FPM)")
	return ""
}

// fpmDump is what php-fpm -tt prints of each pool: name -> directive ->
// value, "undefined" as "".
type fpmDump map[string]map[string]string

// parseDump reads php-fpm -tt's NOTICE lines: "[name]" opens a section,
// "\tkey = value" fills it.
func parseDump(out []byte) (fpmDump, []string) {
	dump := fpmDump{}
	var order []string
	var cur map[string]string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		_, line, ok := strings.Cut(sc.Text(), "NOTICE: ")
		if !ok {
			continue
		}
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			name := line[1 : len(line)-1]
			cur = nil
			if name != "global" {
				cur = map[string]string{}
				dump[name] = cur
				order = append(order, name)
			}
			continue
		}
		if k, v, ok := strings.Cut(strings.TrimPrefix(line, "\t"), " = "); ok && cur != nil && strings.HasPrefix(line, "\t") {
			if v == "undefined" {
				v = ""
			}
			cur[k] = v
		}
	}
	return dump, order
}

// TestAgainstPHPFPM writes configurations into a temporary prefix, has
// php-fpm check them (-t) and print what it parsed (-tt), and compares
// the pools the reader returns with php-fpm's.
func TestAgainstPHPFPM(t *testing.T) {
	fpm := findFPM(t)
	env := map[string]string{"FCGICLI_TEST_PORT": "19311", "FCGICLI_TEST_USER": "nobody"}
	lookup := func(name string) (string, bool) { v, ok := env[name]; return v, ok }
	for _, c := range []struct {
		name  string
		files map[string]string // relative to the prefix
	}{{
		name: "Debian's shape: [global], include= of pool.d, a unix socket",
		files: map[string]string{
			"etc/php-fpm.conf": strings.NewReplacer("include=/etc/php/8.2/fpm/pool.d/*.conf", "include=etc/pool.d/*.conf",
				"error_log = /var/log/php8.2-fpm.log", "error_log = log/fpm.log", "/run/php/php8.2-fpm.pid", "run/fpm.pid").Replace(debianMain),
			"etc/pool.d/www.conf": strings.ReplaceAll(strings.ReplaceAll(debianWWW, "/run/php/php8.2-fpm.sock", "run/php-fpm.sock"),
				"user = www-data\ngroup = www-data\n", ""),
			"etc/pool.d/api.conf": `[api]
listen = 127.0.0.1:${FCGICLI_TEST_PORT}
pm = ondemand
pm.max_children = 7
pm.process_idle_timeout = 5s
pm.status_path = /$pool-status
pm.status_listen = run/$pool-status.sock
ping.path = /ping
ping.response = "pong; ok"
env[POOL] = $pool
php_admin_value[memory_limit] = 128M
php_flag[display_errors] = off
`,
			"etc/pool.d/www.conf.disabled": "[disabled]\nlisten = 1\n",
		},
	}, {
		name: "several pools in one file, [global] between, a section reopened, booleans, quotes, an expression",
		files: map[string]string{"etc/php-fpm.conf": `[global]
error_log = log/fpm.log
log_level = notice ; a comment
[static]
listen = 19312
pm = static
pm.max_children = (5|2)&~1
catch_workers_output = yes
pm.status_path = '/status'
[dynamic]
listen = [::1]:19313
pm = DYNAMIC
pm.max_children = 8
pm.min_spare_servers = 2
pm.max_spare_servers = 4
ping.path = "/health-check"
[global]
daemonize = no
[Static]
ping.path = /ping
listen.mode = 0660
listen.owner = ${FCGICLI_TEST_USER}
`},
	}, {
		name: "nested includes, a section carried back into the including file, a glob that matches nothing",
		files: map[string]string{
			"etc/php-fpm.conf":        "[global]\ninclude = etc/d/*.conf\npm.max_children = 3\ninclude = etc/d/*.none\n",
			"etc/d/a.conf":            "[a]\nlisten = run/a.sock\npm = static\npm.max_children = 1\n",
			"etc/d/b.conf":            "[b]\nlisten = 0.0.0.0:19314\npm = dynamic\npm.max_children = 9\npm.start_servers = 3\npm.min_spare_servers = 1\npm.max_spare_servers = 5\ninclude = \"etc/d/more/[!x]*.conf\"\n",
			"etc/d/more/c.conf":       "[c]\nlisten = run/c.sock\npm = static\n",
			"etc/d/more/x.conf":       "[x]\n",
			"etc/d/.hidden-pool.conf": "[hidden]\nlisten = 1\n",
		},
	}} {
		t.Run(c.name, func(t *testing.T) {
			prefix := t.TempDir()
			for _, d := range []string{"log", "run"} {
				if err := os.MkdirAll(filepath.Join(prefix, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			files := map[string]string{}
			for p, content := range c.files {
				if p == "etc/php-fpm.conf" && !strings.Contains(content, "error_log") {
					content = strings.Replace(content, "[global]\n", "[global]\nerror_log = log/fpm.log\n", 1)
				}
				files["/"+p] = content
			}
			writeTree(t, prefix, files)
			main := filepath.Join(prefix, "etc/php-fpm.conf")

			run := func(flag string) []byte {
				args := []string{flag, "-y", main, "-p", prefix}
				if os.Geteuid() == 0 {
					args = append(args, "-R")
				}
				cmd := exec.Command(fpm, args...)
				cmd.Env = os.Environ()
				for k, v := range env {
					cmd.Env = append(cmd.Env, k+"="+v)
				}
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("php-fpm %s refuses the configuration: %v\n%s", flag, err, out)
				}
				return out
			}
			run("-t")
			dump, order := parseDump(run("-tt"))

			cfg, err := Read(main, Options{Prefix: prefix, LookupEnv: lookup})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, p := range cfg.Pools {
				names = append(names, p.Name)
			}
			if strings.Join(names, ",") != strings.Join(order, ",") {
				t.Fatalf("pools %q, php-fpm has %q", names, order)
			}
			for _, p := range cfg.Pools {
				fpmPool := dump[p.Name]
				for key, ours := range map[string]string{
					"listen": p.Listen, "pm": p.PM, "pm.max_children": strconv.Itoa(p.MaxChildren),
					"pm.start_servers": strconv.Itoa(p.StartServers), "pm.min_spare_servers": strconv.Itoa(p.MinSpareServers),
					"pm.max_spare_servers": strconv.Itoa(p.MaxSpareServers), "pm.status_path": p.StatusPath,
					"pm.status_listen": p.StatusListen, "ping.path": p.PingPath, "ping.response": p.PingResponse,
					"listen.owner": p.ListenOwner, "listen.group": p.ListenGroup, "listen.mode": p.ListenMode,
				} {
					theirs, ok := fpmPool[key]
					if !ok {
						t.Errorf("[%s] php-fpm -tt prints no %s", p.Name, key)
						continue
					}
					if ours != theirs {
						t.Errorf("[%s] %s = %q, php-fpm has %q", p.Name, key, ours, theirs)
					}
				}
			}
		})
	}
}
