package commands

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/fcgiwire/fcgitest"
)

// TestStatusListenUsage: what --listen cannot honour is refused (exit 2,
// one line) before anything listens.
func TestStatusListenUsage(t *testing.T) {
	addr := statusPage(t, `{"pool":"www","accepted conn":1,"active processes":1}`)
	listen := []string{"status", "-c", addr, "--listen", "127.0.0.1:0"}
	for _, c := range []cliCase{
		{"json", append(listen, "-o", "json"), 2, "", "fcgicli: --listen serves the Prometheus format: -o json does not go with it\n"},
		{"quiet", append(listen, "-q"), 2, "", "fcgicli: -q does not go with --listen, which prints no pages\n"},
		{"threshold", append(listen, "--max-active", "1"), 2, "", "fcgicli: thresholds do not go with --listen: alert on the metrics in Prometheus\n"},
		{"state", append(listen, "--state-file", "x"), 2, "", "fcgicli: --state-file does not go with --listen: Prometheus keeps the history\n"},
		{"watch", append(listen, "--watch", "1s"), 2, "", "fcgicli: --watch and --count do not go with --listen\n"},
		{"busy-ok", append(listen, "--busy-ok"), 2, "", "fcgicli: --busy-ok does not go with --listen: a pool that does not answer is phpfpm_up 0, busy or not\n"},
		// -o nagios turns usage errors into its UNKNOWN line.
		{"nagios", append(listen, "-o", "nagios"), 3, "PHP-FPM UNKNOWN - --listen serves the Prometheus format: -o nagios does not go with it\n", ""},
		{"no-full", append(listen, "--per-process", "--no-full"), 2, "", "fcgicli: --per-process needs the process list: it does not go with --no-full\n"},
		{"bad address", []string{"status", "-c", addr, "--listen", "nope"}, 2, "",
			`fcgicli: bad address "nope": missing port (accepted forms: ` + fcgiwire.AddrForms + ")\n"},
	} {
		c.run(t)
	}
}

// TestStatusListenScrapes runs status --listen in-process over a glob of
// unix sockets and a closed port: each scrape resolves the glob again, so
// a socket made after start-up is read at the next scrape; the closed
// port is phpfpm_up 0 at every scrape, logged once; the end of the
// context (SIGTERM) stops it with exit 0.
func TestStatusListenScrapes(t *testing.T) {
	dir := t.TempDir()
	refused := fcgitest.Refused(t)
	ex := startExporter(t, "-c", dir+"/*.sock", "-c", refused, "--per-process")
	scrape := func() string {
		t.Helper()
		code, body := ex.scrape(t)
		if code != 200 {
			t.Fatalf("scrape: %d %s", code, body)
		}
		return body
	}
	glob := `scrape_uri="unix://` + dir + `/*.sock;/status"`
	tcp := `scrape_uri="tcp://` + refused + `/status"`
	body := scrape()
	for _, want := range []string{`phpfpm_up{pool="",` + glob + "} 0\n", `phpfpm_up{pool="",` + tcp + "} 0\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("first scrape lacks %q:\n%s", want, body)
		}
	}
	sock := filepath.Join(dir, "www.sock")
	ul, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &fcgiwire.Server{Handler: fcgiwire.HandlerFunc(func(ctx context.Context, w *fcgiwire.ResponseWriter, r *fcgiwire.ServerRequest) {
		io.WriteString(w.Stdout(), "Content-Type: application/json\r\n\r\n"+`{"pool":"www","accepted conn":1,"active processes":1,"total processes":2,"processes":[{"pid":7,"state":"Running","requests":3}]}`)
	}), MaxConns: 10, MaxReqs: 10}
	go srv.Serve(ul)
	defer srv.Shutdown(context.Background())
	body = scrape()
	www := `{pool="www",scrape_uri="unix://` + sock + `;/status"}`
	for _, want := range []string{
		// The numbers are health's reading: the process list's count,
		// where the summary says 2.
		"phpfpm_up" + www + " 1\n", "phpfpm_total_processes" + www + " 1\n", `phpfpm_up{pool="",` + tcp + "} 0\n",
		`phpfpm_process_requests{pool="www",child="0",scrape_uri="unix://` + sock + `;/status"} 3` + "\n",
		`phpfpm_scrape_failures{pool="",` + tcp + "} 2\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("second scrape lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, glob) {
		t.Errorf("the glob that now matches is still a pool of its own:\n%s", body)
	}
	if code := ex.stop(); code != 0 {
		t.Errorf("exit %d after the context ended, want 0; stderr:\n%s", code, ex.stderr.String())
	}
	want := regexp.MustCompile(`^fcgicli: status: serving /metrics on http://127\.0\.0\.1:[0-9]+
fcgicli: status: unix://.*/\*\.sock;/status: cannot connect to .*/\*\.sock: no socket matches
fcgicli: status: tcp://127\.0\.0\.1:[0-9]+/status: cannot connect to 127\.0\.0\.1:[0-9]+: connection refused
fcgicli: status: shutting down
$`)
	if !want.MatchString(ex.stderr.String()) {
		t.Errorf("stderr:\n%s", ex.stderr.String())
	}
}

// TestStatusListenFPMConfig: the exporter reads --fpm-config again at each
// scrape: a pool added to the configuration is read at the next scrape
// (here one whose socket is missing: phpfpm_up 0 under its configured
// name, with its pm.max_children), and a configuration that no longer
// parses fails the scrape (500) rather than serving the pools of before.
func TestStatusListenFPMConfig(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "a.sock")
	ul, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &fcgiwire.Server{Handler: fcgiwire.HandlerFunc(func(ctx context.Context, w *fcgiwire.ResponseWriter, r *fcgiwire.ServerRequest) {
		io.WriteString(w.Stdout(), "Content-Type: application/json\r\n\r\n"+`{"pool":"a","accepted conn":1,"active processes":1,"total processes":1}`)
	}), MaxConns: 10, MaxReqs: 10}
	go srv.Serve(ul)
	defer srv.Shutdown(context.Background())
	conf := filepath.Join(dir, "php-fpm.conf")
	pool := func(name string) string {
		return "[" + name + "]\nlisten = " + filepath.Join(dir, name+".sock") + "\npm = static\npm.max_children = 3\npm.status_path = /status\n"
	}
	write := func(text string) {
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(pool("a"))
	ex := startExporter(t, "--fpm-config", conf)
	scrape := func() (int, string) { return ex.scrape(t) }
	a := `{pool="a",scrape_uri="unix://` + sock + `;/status"}`
	b := `{pool="b",scrape_uri="unix://` + filepath.Join(dir, "b.sock") + `;/status"}`
	if code, body := scrape(); code != 200 || !strings.Contains(body, "phpfpm_up"+a+" 1\n") || !strings.Contains(body, "phpfpm_max_children"+a+" 3\n") || strings.Contains(body, `pool="b"`) {
		t.Errorf("first scrape: %d\n%s", code, body)
	}
	write(pool("a") + pool("b"))
	if code, body := scrape(); code != 200 || !strings.Contains(body, "phpfpm_up"+a+" 1\n") || !strings.Contains(body, "phpfpm_up"+b+" 0\n") || !strings.Contains(body, "phpfpm_max_children"+b+" 3\n") {
		t.Errorf("scrape after pool b was added: %d\n%s", code, body)
	}
	write("[a]\npm = sometimes\n")
	if code, body := scrape(); code != 500 || !strings.HasPrefix(body, "--fpm-config: "+conf+":2: ") {
		t.Errorf("scrape of a configuration that no longer parses: %d\n%s", code, body)
	}
	if code := ex.stop(); code != 0 {
		t.Errorf("exit %d, want 0; stderr:\n%s", code, ex.stderr.String())
	}
	if !strings.Contains(ex.stderr.String(), "fcgicli: status: scrape: --fpm-config: "+conf+":2: ") {
		t.Errorf("stderr:\n%s", ex.stderr.String())
	}
}

// exporterRun is status --listen running in-process.
type exporterRun struct {
	base   string // http://127.0.0.1:PORT
	stderr *runenv.LockedWriter
	stop   func() int // ends its context (what SIGTERM does) and returns its exit code
}

// startExporter runs status --listen 127.0.0.1:0 -t 5s with args
// in-process, and waits until it says where it listens.
func startExporter(t *testing.T, args ...string) *exporterRun {
	t.Helper()
	ex := &exporterRun{stderr: &runenv.LockedWriter{}}
	env := &runenv.Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: ex.stderr,
		Getenv: func(string) string { return "" }, Environ: func() []string { return nil }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- RunEnv(ctx, env, append([]string{"fcgicli", "status", "--listen", "127.0.0.1:0", "-t", "5s"}, args...))
	}()
	ex.stop = func() int {
		cancel()
		return <-done
	}
	t.Cleanup(func() { cancel() })
	served := regexp.MustCompile(`serving /metrics on (http://127\.0\.0\.1:[0-9]+)\n`)
	for deadline := time.Now().Add(30 * time.Second); ex.base == ""; {
		if m := served.FindStringSubmatch(ex.stderr.String()); m != nil {
			ex.base = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("the exporter did not say where it listens: %q", ex.stderr.String())
		} else {
			time.Sleep(5 * time.Millisecond)
		}
	}
	return ex
}

// scrape gets /metrics and returns the status code and the body.
func (ex *exporterRun) scrape(t *testing.T) (int, string) {
	t.Helper()
	resp, err := http.Get(ex.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}
