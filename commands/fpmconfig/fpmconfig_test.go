package fpmconfig

import (
	"errors"
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

// tree builds a file system from path -> content.
func tree(files map[string]string) fstest.MapFS {
	m := fstest.MapFS{}
	for p, c := range files {
		m[strings.TrimPrefix(p, "/")] = &fstest.MapFile{Data: []byte(c)}
	}
	return m
}

func noEnv(name string) (string, bool) {
	v, ok := map[string]string{"FPM_PORT": "9300", "POOL_USER": "app"}[name]
	return v, ok
}

// debianMain and debianWWW are Debian 12's php8.2-fpm files, comments
// shortened.
const debianMain = `;;;;;;;;;;;;;;;;;;;;;
; FPM Configuration ;
;;;;;;;;;;;;;;;;;;;;;

; All relative paths in this configuration file are relative to PHP's install
; prefix (/usr). This prefix can be dynamically changed by using the
; '-p' argument from the command line.

;;;;;;;;;;;;;;;;;;
; Global Options ;
;;;;;;;;;;;;;;;;;;

[global]
; Pid file
; Note: the default prefix is /var
; Default Value: none
; Warning: if you change the value here, you need to modify systemd
; service PIDFile= setting to match the value here.
pid = /run/php/php8.2-fpm.pid

; Error log file
error_log = /var/log/php8.2-fpm.log

;;;;;;;;;;;;;;;;;;;;
; Pool Definitions ;
;;;;;;;;;;;;;;;;;;;;

; To configure the pools it is recommended to have one .conf file per
; pool in the following directory:
include=/etc/php/8.2/fpm/pool.d/*.conf
`

const debianWWW = `; Start a new pool named 'www'.
; the variable $pool can be used in any directive and will be replaced by the
; pool name ('www' here)
[www]

; Unix user/group of the child processes.
user = www-data
group = www-data

; The address on which to accept FastCGI requests.
;   'ip.add.re.ss:port'    - to listen on a TCP socket to a specific IPv4 address on
;                            a specific port;
listen = /run/php/php8.2-fpm.sock

; Set permissions for unix socket, if one is used.
listen.owner = www-data
listen.group = www-data
;listen.mode = 0660

; Choose how the process manager will control the number of child processes.
pm = dynamic
pm.max_children = 5
pm.start_servers = 2
pm.min_spare_servers = 1
pm.max_spare_servers = 3
;pm.max_spawn_rate = 32
;pm.status_path = /status
;ping.path = /ping
;ping.response = pong
`

// dockerMain, dockerWWW and dockerZZ are the official php:fpm image's
// files: a relative include, a [www] in two files, and zz-docker.conf's
// bare port.
const dockerMain = `[global]
include=etc/php-fpm.d/*.conf
`

const dockerWWW = `[www]
user = www-data
group = www-data
listen = 127.0.0.1:9000
pm = dynamic
pm.max_children = 5
pm.start_servers = 2
pm.min_spare_servers = 1
pm.max_spare_servers = 3
`

const dockerDocker = `[global]
error_log = /proc/self/fd/2
log_limit = 8192

[www]
access.log = /proc/self/fd/2
clear_env = no
catch_workers_output = yes
decorate_workers_output = no
`

const dockerZZ = `[global]
daemonize = no

[www]
listen = 9000
`

func TestRead(t *testing.T) {
	at := func(file string, line int) Position { return Position{File: file, Line: line} }
	for _, c := range []struct {
		name   string
		files  map[string]string
		main   string
		prefix string
		pools  []Pool
		warn   []string
	}{{
		name:  "Debian's default",
		files: map[string]string{"/etc/php/8.2/fpm/php-fpm.conf": debianMain, "/etc/php/8.2/fpm/pool.d/www.conf": debianWWW},
		main:  "/etc/php/8.2/fpm/php-fpm.conf",
		pools: []Pool{{
			Name: "www", Listen: "/run/php/php8.2-fpm.sock", Address: "/run/php/php8.2-fpm.sock",
			ListenOwner: "www-data", ListenGroup: "www-data", PM: "dynamic",
			MaxChildren: 5, StartServers: 2, MinSpareServers: 1, MaxSpareServers: 3,
			Section: at("/etc/php/8.2/fpm/pool.d/www.conf", 4),
			Set: map[string]Position{
				"user": at("/etc/php/8.2/fpm/pool.d/www.conf", 7), "group": at("/etc/php/8.2/fpm/pool.d/www.conf", 8),
				"listen":       at("/etc/php/8.2/fpm/pool.d/www.conf", 13),
				"listen.owner": at("/etc/php/8.2/fpm/pool.d/www.conf", 16), "listen.group": at("/etc/php/8.2/fpm/pool.d/www.conf", 17),
				"pm": at("/etc/php/8.2/fpm/pool.d/www.conf", 21), "pm.max_children": at("/etc/php/8.2/fpm/pool.d/www.conf", 22),
				"pm.start_servers": at("/etc/php/8.2/fpm/pool.d/www.conf", 23), "pm.min_spare_servers": at("/etc/php/8.2/fpm/pool.d/www.conf", 24),
				"pm.max_spare_servers": at("/etc/php/8.2/fpm/pool.d/www.conf", 25),
			},
		}},
	}, {
		name: "the official Docker image: a relative include, one pool over three files, a bare port",
		files: map[string]string{
			"/usr/local/etc/php-fpm.conf":               dockerMain,
			"/usr/local/etc/php-fpm.d/www.conf":         dockerWWW,
			"/usr/local/etc/php-fpm.d/docker.conf":      dockerDocker,
			"/usr/local/etc/php-fpm.d/zz-docker.conf":   dockerZZ,
			"/usr/local/etc/php-fpm.d/www.conf.default": "[default]\nlisten = 1\n",
		},
		main: "/usr/local/etc/php-fpm.conf",
		pools: []Pool{{
			Name: "www", Listen: "9000", Address: "127.0.0.1:9000", PM: "dynamic",
			MaxChildren: 5, StartServers: 2, MinSpareServers: 1, MaxSpareServers: 3,
			Section: at("/usr/local/etc/php-fpm.d/docker.conf", 5),
		}},
	}, {
		name: "several pools in one file, $pool, quotes, comments, env, booleans, [global] between",
		files: map[string]string{"/srv/fpm.conf": `[global]
error_log = /var/log/fpm.log ; trailing comment
[www]
user = ${POOL_USER}
listen = /run/php/$pool.sock
listen.mode = 0660
pm = static
pm.max_children = 4
pm.status_path = "/status"   ; quoted
ping.path = '/ping'
ping.response = "pong; all good"
catch_workers_output = yes

[global]
log_level = notice

[api]
listen = 127.0.0.1:${FPM_PORT}
pm = ondemand
pm.max_children = 10
pm.process_idle_timeout = 10s
pm.status_listen = 127.0.0.1:9301
[WWW]
pm.max_children = 6
`},
		main: "/srv/fpm.conf",
		pools: []Pool{{
			Name: "www", Listen: "/run/php/www.sock", Address: "/run/php/www.sock", ListenMode: "0660",
			PM: "static", MaxChildren: 6, StatusPath: "/status", PingPath: "/ping", PingResponse: "pong; all good",
		}, {
			Name: "api", Listen: "127.0.0.1:9300", Address: "127.0.0.1:9300", PM: "ondemand", MaxChildren: 10,
			StatusPath: "/", StatusListen: "127.0.0.1:9301", StatusAddress: "127.0.0.1:9301",
		}},
	}, {
		name: "includes: globs in order, a nested include, a section carried back, an empty glob, dot files and directories skipped",
		files: map[string]string{
			"/opt/php/etc/php-fpm.conf":       "include = etc/pools/*.conf\npm.max_children = 3\ninclude=/opt/php/etc/pools/*.ini\n",
			"/opt/php/etc/pools/b.conf":       "[b]\nlisten = [::]:9002\npm = static\npm.max_children = 1\ninclude = \"etc/pools/more/[!x]*.conf\" ; quoted: ! is an operator\n",
			"/opt/php/etc/pools/a.conf":       "[a]\nlisten = 0.0.0.0:9001\npm = static\npm.max_children = 2\n",
			"/opt/php/etc/pools/.hidden.conf": "[hidden]\n",
			"/opt/php/etc/pools/more/c.conf":  "[c]\nlisten = run/c.sock\nprefix = /srv/c\npm = static\npm.max_children = 1\n",
			"/opt/php/etc/pools/more/x.conf":  "[x]\n",
			"/opt/php/etc/pools/dir.conf/y":   "",
		},
		main: "/opt/php/etc/php-fpm.conf",
		pools: []Pool{
			{Name: "a", Listen: "0.0.0.0:9001", Address: "127.0.0.1:9001", PM: "static", MaxChildren: 2},
			{Name: "b", Listen: "[::]:9002", Address: "[::1]:9002", PM: "static", MaxChildren: 1},
			{Name: "c", Listen: "/srv/c/run/c.sock", Address: "/srv/c/run/c.sock", PM: "static", MaxChildren: 3},
		},
		warn: []string{`/opt/php/etc/php-fpm.conf:3: nothing matches the include pattern "/opt/php/etc/pools/*.ini"`},
	}, {
		name:   "the prefix given: a relative socket",
		files:  map[string]string{"/x/fpm.conf": "[w]\nlisten = var/w.sock\npm = static\npm.max_children = 1\nping.path = /ping\nping.response = ok\nfuture.option = 1\n"},
		main:   "/x/fpm.conf",
		prefix: "/srv/php",
		pools:  []Pool{{Name: "w", Listen: "/srv/php/var/w.sock", Address: "/srv/php/var/w.sock", PM: "static", MaxChildren: 1, PingPath: "/ping", PingResponse: "ok"}},
		warn:   []string{`/x/fpm.conf:7: unknown entry "future.option" (php-fpm refuses it unless a newer version knows it)`},
	}} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Read(c.main, Options{FS: tree(c.files), Prefix: c.prefix, LookupEnv: noEnv})
			if err != nil {
				t.Fatal(err)
			}
			for i := range cfg.Pools {
				if i < len(c.pools) && c.pools[i].Set == nil { // positions checked where the case gives them
					cfg.Pools[i].Set = nil
				}
				if i < len(c.pools) && c.pools[i].Section == (Position{}) {
					cfg.Pools[i].Section = Position{}
				}
			}
			if !reflect.DeepEqual(cfg.Pools, c.pools) {
				t.Errorf("pools:\n got %+v\nwant %+v", cfg.Pools, c.pools)
			}
			var warns []string
			for _, w := range cfg.Warnings {
				warns = append(warns, w.String())
			}
			if !reflect.DeepEqual(warns, c.warn) {
				t.Errorf("warnings %q, want %q", warns, c.warn)
			}
		})
	}
}

// TestReadErrors: what php-fpm refuses is an *Error naming the file and
// line and php-fpm's reason.
func TestReadErrors(t *testing.T) {
	const pool = "listen = 9000\npm = static\npm.max_children = 2\n"
	for _, c := range []struct {
		name  string
		files map[string]string
		want  string // the error's text
		is    error
	}{
		{"no file", map[string]string{}, "/etc/fpm.conf: cannot read the configuration file: file does not exist", fs.ErrNotExist},
		{"no pool", map[string]string{"/etc/fpm.conf": "[global]\npid = /run/fpm.pid\n"}, "/etc/fpm.conf: no pool defined: at least one pool section must be specified in config file", nil},
		{"syntax", map[string]string{"/etc/fpm.conf": "[www]\n" + pool + "ping.response = Hi!\n"}, `/etc/fpm.conf:5: syntax error: unexpected "!", expecting a section, a name or the end of the line`, nil},
		{"unclosed quote", map[string]string{"/etc/fpm.conf": "[www]\nlisten = \"9000\n"}, "/etc/fpm.conf:2: syntax error: a double-quoted string does not end on its line", nil},
		{"a comment with #", map[string]string{"/etc/fpm.conf": "# pools\n[www]\n" + pool}, `/etc/fpm.conf:1: "# pools" has no value (php-fpm: value is NULL for a ZEND_INI_PARSER_ENTRY)`, nil},
		{"no listen", map[string]string{"/etc/fpm.conf": "[www]\npm = static\npm.max_children = 2\n"}, "/etc/fpm.conf:1: [pool www] no listen address have been defined!", nil},
		{"empty listen", map[string]string{"/etc/fpm.conf": "[www]\nlisten =\npm = static\npm.max_children = 2\n"}, "/etc/fpm.conf:2: [pool www] no listen address have been defined!", nil},
		{"bad pm", map[string]string{"/etc/fpm.conf": "[www]\nlisten = 9000\npm = adaptive\n"}, "/etc/fpm.conf:3: unable to parse value for entry 'pm': invalid process manager (static, dynamic or ondemand)", nil},
		{"no pm", map[string]string{"/etc/fpm.conf": "[www]\nlisten = 9000\npm.max_children = 2\n"}, "/etc/fpm.conf:1: [pool www] the process manager is missing (static, dynamic or ondemand)", nil},
		{"no max_children", map[string]string{"/etc/fpm.conf": "[www]\nlisten = 9000\npm = static\n"}, "/etc/fpm.conf:1: [pool www] pm.max_children must be a positive value", nil},
		{"max_children not a number", map[string]string{"/etc/fpm.conf": "[www]\nlisten = 9000\npm = static\npm.max_children = 0x10\n"}, "/etc/fpm.conf:4: unable to parse value for entry 'pm.max_children': is not a valid number (greater or equal than zero)", nil},
		{"dynamic without spares", map[string]string{"/etc/fpm.conf": "[www]\nlisten = 9000\npm = dynamic\npm.max_children = 5\n"}, "/etc/fpm.conf:1: [pool www] pm.min_spare_servers(0) must be a positive value", nil},
		{"$pool in [global]", map[string]string{"/etc/fpm.conf": "[global]\npid = /run/$pool.pid\n"}, "/etc/fpm.conf:2: unable to parse value for entry 'pid': Can't use '$pool' when the pool is not defined", nil},
		{"status path", map[string]string{"/etc/fpm.conf": "[www]\n" + pool + "pm.status_path = status\n"}, "/etc/fpm.conf:5: [pool www] the status path 'status' must start with a '/'", nil},
		{"two pools, one address", map[string]string{"/etc/fpm.conf": "[a]\n" + pool + "[b]\n" + pool}, "/etc/fpm.conf:6: [pool b] unable to set listen address as it's already used in another pool 'a'", nil},
		{"status on a pool's address", map[string]string{"/etc/fpm.conf": "[a]\n" + pool + "pm.status_listen = 9000\n"}, "/etc/fpm.conf:5: [pool a_status] unable to set listen address as it's already used in another pool 'a'", nil},
		{"bad port", map[string]string{"/etc/fpm.conf": "[www]\nlisten = 127.0.0.1:70000\npm = static\npm.max_children = 1\n"}, `/etc/fpm.conf:2: [pool www] invalid port value "70000" in listen "127.0.0.1:70000"`, nil},
		{"array in [global]", map[string]string{"/etc/fpm.conf": "php_value[x] = 1\n"}, "/etc/fpm.conf:1: arrays are not allowed in the global section (php_value[x])", nil},
		{"bad boolean", map[string]string{"/etc/fpm.conf": "[www]\ncatch_workers_output = maybe\n"}, "/etc/fpm.conf:2: unable to parse value for entry 'catch_workers_output': invalid boolean value", nil},
		{"include of a missing directory", map[string]string{"/etc/fpm.conf": "include = /etc/nope/*.conf\n"}, `/etc/fpm.conf:1: include "/etc/nope/*.conf": file does not exist`, fs.ErrNotExist},
		{"an error in an included file", map[string]string{"/etc/fpm.conf": "include = /etc/d/*.conf\n", "/etc/d/a.conf": "[a]\nlisten = 1\npm = sometimes\n"}, "/etc/d/a.conf:3: unable to parse value for entry 'pm': invalid process manager (static, dynamic or ondemand)", nil},
		{"a file too big to be one (/dev/zero)", map[string]string{"/etc/fpm.conf": strings.Repeat(";", maxFile+1)}, "/etc/fpm.conf: cannot read the configuration file: over 4 MiB", nil},
		{"an included file too big", map[string]string{"/etc/fpm.conf": "include = /etc/d/*.conf\n", "/etc/d/a.conf": strings.Repeat(";", maxFile+1)}, "/etc/fpm.conf:1: cannot read /etc/d/a.conf, included from /etc/fpm.conf:1: over 4 MiB", nil},
		{"includes too deep", map[string]string{"/etc/fpm.conf": "include = /etc/fpm.conf\n"}, "/etc/fpm.conf:1: includes nest more than 5 files deep (php-fpm: failed to include more than 5 files recursively)", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Read("/etc/fpm.conf", Options{FS: tree(c.files), LookupEnv: noEnv})
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T), config %+v; want an *Error", err, err, cfg)
			}
			if err.Error() != c.want {
				t.Errorf("error\n %s\nwant\n %s", err, c.want)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("errors.Is(%v, %v) is false", err, c.is)
			}
		})
	}
}

func TestDefaultPrefix(t *testing.T) {
	for in, want := range map[string]string{
		"/usr/local/etc/php-fpm.conf":          "/usr/local",
		"/opt/php/etc/php-fpm.conf":            "/opt/php",
		"/etc/php-fpm.conf":                    "/usr",
		"/etc/php/8.2/fpm/php-fpm.conf":        "/usr",
		"/etc/opt/remi/php81/php-fpm.conf":     "/opt/remi/php81/root/usr",
		"/etc/php82/php-fpm.conf":              "/usr",
		"/home/me/fpm/etc/../etc/php-fpm.conf": "/home/me/fpm",
	} {
		if got := DefaultPrefix(in); got != want {
			t.Errorf("DefaultPrefix(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestConnectAddress(t *testing.T) {
	for in, want := range map[string]string{
		"9000": "127.0.0.1:9000", "09000": "127.0.0.1:9000", "0.0.0.0:9000": "127.0.0.1:9000",
		"127.0.0.1:9000": "127.0.0.1:9000", "[::]:9000": "[::1]:9000", "[::1]:9000": "[::1]:9000",
		"::1:9000": "[::1]:9000", "localhost:9000": "localhost:9000", "/run/php/fpm.sock": "/run/php/fpm.sock",
		"relative.sock": "unix:relative.sock",
	} {
		if got, err := connectAddress(in); err != nil || got != want {
			t.Errorf("connectAddress(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"0", "65536", ":9000", "host:", "host:90x"} {
		if got, err := connectAddress(in); err == nil {
			t.Errorf("connectAddress(%q) = %q, want an error", in, got)
		}
	}
}
