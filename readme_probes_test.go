package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fcgicli/fcgicli/commands"
	"github.com/fcgicli/fcgicli/commands/runenv"
)

// readmeHealthSection is the README's health-check section.
func readmeHealthSection(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "## Health checks")
	if i < 0 {
		t.Fatal("README has no health-check section")
	}
	s = s[i:]
	if j := strings.Index(s[3:], "\n## "); j >= 0 {
		s = s[:j+3]
	}
	return s
}

// fenced returns the body of the section's first ```lang block.
func fenced(t *testing.T, s, lang string) string {
	t.Helper()
	_, body, ok := strings.Cut(s, "```"+lang+"\n")
	if !ok {
		t.Fatalf("no ```%s block", lang)
	}
	body, _, _ = strings.Cut(body, "```")
	return body
}

// probeCommand finds the exec command of a probe in the YAML block: a flow
// sequence after "command:", which may go on over several lines.
func probeCommand(t *testing.T, yaml, probe string) []string {
	t.Helper()
	_, rest, ok := strings.Cut(yaml, probe+":")
	if !ok {
		t.Fatalf("no %s in the README's YAML", probe)
	}
	_, rest, ok = strings.Cut(rest, "command:")
	if !ok {
		t.Fatalf("%s has no command", probe)
	}
	end := strings.Index(rest, "]")
	var cmd []string
	if err := json.Unmarshal([]byte(strings.TrimSpace(rest[:end+1])), &cmd); err != nil {
		t.Fatalf("%s: %v", probe, err)
	}
	return cmd
}

// TestREADMEProbes: the Kubernetes probes of the README work as written,
// against a php-fpm configured with the README's own pool (its ports
// moved to free ones, and php-fpm's main file where the README's readiness
// probe reads it): both pass on an idle pool; with every child busy and a
// request waiting, liveness still passes (--busy-ok) and readiness fails;
// and with php-fpm stopped both fail.
func TestREADMEProbes(t *testing.T) {
	if findFPM() == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("php-fpm is not installed")
		}
		t.Skip("php-fpm is not installed")
	}
	section := readmeHealthSection(t)
	pool := fenced(t, section, "ini")
	yaml := fenced(t, section, "yaml")
	liveness, readiness := probeCommand(t, yaml, "livenessProbe"), probeCommand(t, yaml, "readinessProbe")

	dir := t.TempDir()
	conf := filepath.Join(dir, "php-fpm.conf")
	ports := map[string]string{}
	for _, p := range []string{"9000", "9001"} {
		free, err := freePort("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports["127.0.0.1:"+p] = "127.0.0.1:" + free
	}
	moved := func(s string) string {
		for from, to := range ports {
			s = strings.ReplaceAll(s, from, to)
		}
		return strings.ReplaceAll(s, "/usr/local/etc/php-fpm.conf", conf)
	}
	text := fmt.Sprintf("[global]\npid = %s/php-fpm.pid\nerror_log = %s/php-fpm.log\n%s", dir, dir, moved(pool))
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range liveness {
		liveness[i] = moved(liveness[i])
	}
	for i := range readiness {
		readiness[i] = moved(readiness[i])
	}
	listen, statusListen := ports["127.0.0.1:9000"], ports["127.0.0.1:9001"]
	fpmp, err := runFPM(conf, nil)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			fpmp.stop()
		}
	})
	if err := fpmp.waitListening(listen, statusListen); err != nil {
		t.Fatal(err)
	}

	run := func(args []string) (int, string) {
		if args[0] != "fcgicli" {
			t.Fatalf("a probe runs %q, not fcgicli", args[0])
		}
		var out, errOut strings.Builder
		env := &runenv.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut,
			Getenv: func(string) string { return "" }, Environ: func() []string { return nil }}
		code := commands.RunEnv(context.Background(), env, args)
		return code, out.String() + errOut.String()
	}
	expect := func(what string, args []string, want int) {
		t.Helper()
		if code, out := run(args); code != want {
			t.Errorf("%s: %q: exit %d, want %d\n%s", what, args, code, want, out)
		}
	}
	expect("idle, liveness", liveness, 0)
	expect("idle, readiness", readiness, 0)

	// Take every child (pm.max_children of the README's pool), and queue
	// one more request.
	children := regexp.MustCompile(`(?m)^pm\.max_children = ([0-9]+)$`).FindStringSubmatch(pool)
	if children == nil {
		t.Fatal("the README's pool has no pm.max_children")
	}
	var n int
	fmt.Sscan(children[1], &n)
	wd, _ := os.Getwd()
	release := filepath.Join(dir, "release")
	hold := filepath.Join(wd, "testdata", "php", "hold.php") + "?until=" + release
	// The held requests run in processes of their own (this test binary,
	// run as fcgicli): urfave/cli writes its global help flag while an app
	// runs, so in-process runs must not overlap.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "fcgicli")
	if err := os.Symlink(self, bin); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer os.Mkdir(release, 0o755)
	for i := 0; i <= n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			exec.Command(bin, "request", "-c", listen, "-t", "2m", hold).Run()
		}()
	}
	waitFor(t, func() bool {
		_, out := run([]string{"fcgicli", "status", "-c", statusListen, "--no-full", "-o", "json"})
		return strings.Contains(out, `"listen_queue": 1,`) && strings.Contains(out, fmt.Sprintf(`"active_processes": %d,`, n))
	})
	expect("saturated, liveness", liveness, 0)
	expect("saturated, readiness", readiness, 1)
	if err := os.Mkdir(release, 0o755); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	fpmp.stop()
	stopped = true
	expect("stopped, liveness", liveness, 3)
	expect("stopped, readiness", readiness, 3)
}

// waitFor polls cond until it holds, for up to 60s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("the condition never held in 60s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
