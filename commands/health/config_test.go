package health

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/fcgicli/fcgicli/commands/fpmstatus"
	"github.com/fcgicli/fcgicli/commands/runenv"
)

// TestConfigTargets: each pool of a configuration is a target with its
// name and pm.max_children; status goes through pm.status_listen when it
// is set, ping through listen; a pool without the page fails naming the
// directive and where the pool is.
func TestConfigTargets(t *testing.T) {
	dir := t.TempDir()
	main := filepath.Join(dir, "php-fpm.conf")
	write := func(name, text string) {
		if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(main, "include = "+dir+"/*.pool\n")
	write(filepath.Join(dir, "a.pool"), "[a]\nlisten = /run/a.sock\npm = ondemand\npm.max_children = 5\npm.status_path = /st\npm.status_listen = /run/a-status.sock\nping.path = /p\nping.response = ok\n")
	write(filepath.Join(dir, "b.pool"), "[b]\nlisten = 9000\npm = static\npm.max_children = 2\n")
	cfgs, err := ReadConfigs([]string{main})
	if err != nil {
		t.Fatal(err)
	}
	status := StatusTargets(cfgs, "?json")
	ping := PingTargets(cfgs)
	got := func(ts []Target) [][5]string {
		var out [][5]string
		for _, t := range ts {
			msg := ""
			if t.Err != nil {
				_, msg = runenv.ExitCode(t.Err)
			}
			out = append(out, [5]string{t.Label(), t.URI, t.Expect, msg, string(rune('0' + t.MaxChildren))})
		}
		return out
	}
	wantStatus := [][5]string{
		{"a (/run/a-status.sock)", "/st?json", "", "", "5"},
		{"b (127.0.0.1:9000)", "", "", "its configuration (" + dir + "/b.pool:1) sets no pm.status_path: its status page cannot be read", "2"},
	}
	wantPing := [][5]string{
		{"a (/run/a.sock)", "/p", "ok", "", "5"},
		{"b (127.0.0.1:9000)", "", "", "its configuration (" + dir + "/b.pool:1) sets no ping.path: its ping page cannot be read", "2"},
	}
	if g := got(status); !reflect.DeepEqual(g, wantStatus) {
		t.Errorf("status targets %q, want %q", g, wantStatus)
	}
	if g := got(ping); !reflect.DeepEqual(g, wantPing) {
		t.Errorf("ping targets %q, want %q", g, wantPing)
	}
	if code, _ := runenv.ExitCode(status[1].Err); code != runenv.ExitCheckFailed {
		t.Errorf("a pool without a page: exit %d, want 1", code)
	}
	write(filepath.Join(dir, "c.pool"), "[c]\npm = static\n")
	_, err = ReadConfigs([]string{main})
	if code, msg := runenv.ExitCode(err); code != runenv.ExitUsage || msg != "--fpm-config: "+dir+"/c.pool:1: [pool c] no listen address have been defined!" {
		t.Errorf("bad pool: exit %d %q", code, msg)
	}
}

// TestReconcile: with a process list, the active, idle and total processes
// are the list's; a summary beyond pm.max_children is noted, one that only
// lags is not.
func TestReconcile(t *testing.T) {
	list := []fpmstatus.Process{{State: "Running"}, {State: "Idle"}}
	for _, c := range []struct {
		name                string
		active, idle, total int64
		max                 int64
		note                string
	}{
		{"agrees", 1, 1, 2, 2, ""},
		{"lags", 0, 2, 2, 2, ""},
		{"unknown max", 7, 0, 7, 0, ""},
		{"drifted", 7, 0, 7, 2, "the summary counts 7 active and 7 total processes, more than pm.max_children 2 allows: it drifted (a php-fpm bug), the process list's 1 active and 2 total are used"},
	} {
		s := &fpmstatus.Status{ActiveProcesses: c.active, IdleProcesses: c.idle, TotalProcesses: c.total, Processes: list}
		note := Reconcile(s, c.max)
		if note != c.note || s.ActiveProcesses != 1 || s.IdleProcesses != 1 || s.TotalProcesses != 2 {
			t.Errorf("%s: %+v note %q, want 1/1/2 and %q", c.name, s, note, c.note)
		}
	}
	s := &fpmstatus.Status{ActiveProcesses: 7, TotalProcesses: 7}
	if note := Reconcile(s, 2); note != "" || s.ActiveProcesses != 7 {
		t.Errorf("no list: %+v %q", s, note)
	}
}

// TestCheckSaturation: --max-children-ratio fails at the bound (>=), and
// is skipped with a note when pm.max_children is unknown.
func TestCheckSaturation(t *testing.T) {
	l := Limits{MaxChildrenRatio: f64(0.75)}
	for _, c := range []struct {
		active, max int64
		line, note  string
	}{
		{2, 4, "", ""},
		{3, 4, "active processes are 0.75 of pm.max_children (3 of 4), at or above --max-children-ratio 0.75", ""},
		{3, 0, "", "pm.max_children is unknown (give --fpm-config or --max-children N): --max-children-ratio skipped"},
	} {
		r := &PoolResult{Target: Target{MaxChildren: c.max}, Status: &fpmstatus.Status{ActiveProcesses: c.active}}
		l.CheckResult(r, nil)
		line, note := "", ""
		if len(r.Failures) > 0 {
			line = r.Failures[0].Line
		}
		if len(r.Notes) > 0 {
			note = r.Notes[0]
		}
		if line != c.line || note != c.note || len(r.Failures) > 1 || len(r.Notes) > 1 {
			t.Errorf("%d of %d: %q %q, want %q %q", c.active, c.max, line, note, c.line, c.note)
		}
	}
}

// TestConfigAuto: auto reads every main file found in the usual places
// (Debian's and RHEL's here), with what each includes; none found is a
// usage error that lists where it looked.
func TestConfigAuto(t *testing.T) {
	fsys := fstest.MapFS{
		"etc/php/8.2/fpm/php-fpm.conf":       {Data: []byte("include = /etc/php/8.2/fpm/pool.d/*.conf\n")},
		"etc/php/8.2/fpm/pool.d/www.conf":    {Data: []byte("[www]\nlisten = /run/php/php8.2-fpm.sock\npm = static\npm.max_children = 5\npm.status_path = /status\n")},
		"etc/php/8.2/fpm/pool.d/api.conf":    {Data: []byte("[api]\nlisten = 127.0.0.1:9001\npm = dynamic\npm.max_children = 8\npm.start_servers = 2\npm.min_spare_servers = 1\npm.max_spare_servers = 3\npm.status_path = /st\n")},
		"etc/php-fpm.conf":                   {Data: []byte("[legacy]\nlisten = 9000\npm = ondemand\npm.max_children = 3\npm.status_path = /status\n")},
		"etc/php/8.2/fpm/pool.d/notes.conf~": {Data: []byte("not included\n")},
	}
	cfgs, err := readConfigs([]string{Auto}, fsys)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tg := range StatusTargets(cfgs, "?json") {
		got = append(got, tg.Label()+" "+tg.URI)
	}
	want := []string{"api (127.0.0.1:9001) /st?json", "www (/run/php/php8.2-fpm.sock) /status?json", "legacy (127.0.0.1:9000) /status?json"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("pools %q, want %q", got, want)
	}
	_, err = readConfigs([]string{Auto}, fstest.MapFS{})
	if code, msg := runenv.ExitCode(err); code != runenv.ExitUsage || !strings.HasPrefix(msg, "--fpm-config auto: no php-fpm configuration in the usual places (/etc/php/*/fpm/php-fpm.conf, /etc/php-fpm.conf, ") {
		t.Errorf("none found: exit %d %q", code, msg)
	}
}
