package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fcgicli/fcgicli/commands"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire/fcgitest"
)

// needPrometheus returns the path of the named program of Debian's
// prometheus package; without it the test is skipped, except in CI,
// where it fails.
func needPrometheus(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed (apt-get install prometheus)", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

// needFPM starts the shared php-fpm, or skips the test without one
// (except in CI, where it fails).
func needFPM(t *testing.T) map[string]string {
	t.Helper()
	if os.Getenv("CI") == "" && findFPM() == "" {
		t.Skip("php-fpm is not installed")
	}
	vars, err := fpm.start()
	if err != nil {
		t.Fatal(err)
	}
	return vars
}

// readmeScrapeConfig is the Prometheus scrape config the README shows.
func readmeScrapeConfig(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("`(scrape_configs: [^`]+)`").FindSubmatch(b)
	if m == nil || !strings.Contains(string(m[1]), `"localhost:9253"`) {
		t.Fatal("README.md has no `scrape_configs: ...` with the target \"localhost:9253\"")
	}
	return string(m[1])
}

// TestExporterPrometheus runs the exporter (status --listen, as a process
// of its own) over a php-fpm pool that answers and one that is down, and a
// real Prometheus that scrapes it every second with the README's scrape
// config; it reads phpfpm_up of each pool back through Prometheus's HTTP
// query API, waiting for both; then SIGTERM stops the exporter with exit 0.
func TestExporterPrometheus(t *testing.T) {
	bin := needPrometheus(t, "prometheus")
	vars := needFPM(t)
	down := fcgitest.Refused(t)

	exp := fcgicliCmd(t, "status", "-c", vars["FPM_TCP"], "-c", down, "--listen", "127.0.0.1:0", "-t", "800ms")
	expErr, err := exp.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := exp.Start(); err != nil {
		t.Fatal(err)
	}
	defer exp.Process.Kill()
	lines := bufio.NewScanner(expErr)
	var target string
	if lines.Scan() {
		target = strings.TrimPrefix(regexp.MustCompile(`http://\S+$`).FindString(lines.Text()), "http://")
	}
	if target == "" {
		t.Fatalf("the exporter did not say where it listens: %q", lines.Text())
	}
	logged := make(chan string, 1)
	go func() {
		var rest strings.Builder
		for lines.Scan() {
			rest.WriteString(lines.Text() + "\n")
		}
		logged <- rest.String()
	}()

	dir := t.TempDir()
	config := "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n" + strings.Replace(readmeScrapeConfig(t), "localhost:9253", target, 1) + "\n"
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	port, err := freePort("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	prom := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:"+port, "--log.level=warn")
	var promLog strings.Builder
	prom.Stdout, prom.Stderr = &promLog, &promLog
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		prom.Process.Kill() // stopped by its pid
		prom.Wait()
	}()

	upURI := "tcp://" + vars["FPM_TCP"] + "/status"
	downURI := "tcp://" + down + "/status"
	want := map[string]string{upURI + " tcp": "1", downURI + " ": "0"}
	var got map[string]string
	query := "http://127.0.0.1:" + port + "/api/v1/query?query=" + url.QueryEscape(`phpfpm_up{job="php-fpm"}`)
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		got = queryVector(query)
		if fmt.Sprint(got) == fmt.Sprint(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus never had phpfpm_up %v; last %v; its log:\n%s", want, got, promLog.String())
		}
	}

	if err := exp.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	rest := <-logged
	if err := exp.Wait(); err != nil {
		t.Errorf("the exporter after SIGTERM: %v; stderr:\n%s", err, rest)
	}
	if !strings.HasSuffix(rest, "fcgicli: status: shutting down\n") || !strings.Contains(rest, "fcgicli: status: "+downURI+": cannot connect to "+down+": connection refused\n") {
		t.Errorf("the exporter's log:\n%s", rest)
	}
}

// queryVector runs an instant query and returns its samples as
// "scrape_uri pool" to value; nil when Prometheus does not answer yet.
func queryVector(query string) map[string]string {
	resp, err := http.Get(query)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var r struct {
		Status string
		Data   struct {
			Result []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.Status != "success" {
		return nil
	}
	out := map[string]string{}
	for _, s := range r.Data.Result {
		out[s.Metric["scrape_uri"]+" "+s.Metric["pool"]] = fmt.Sprint(s.Value[1])
	}
	return out
}

// TestExporterNoLeaks scrapes the exporter, running in-process, 10,000
// times over two php-fpm pools and a pool that is down, and compares the
// goroutines, open files and live heap after the first 1,000 scrapes with
// those at the end, four scrapes at a time. Tolerance: 2 goroutines and 2
// files (a keep-alive connection the client and the server may hold or
// not at the moment of counting), and 1 MiB of heap, which a leak of 120 bytes a scrape would
// pass. The pools are read through their own sockets, as Prometheus reads
// them.
func TestExporterNoLeaks(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 scrapes")
	}
	vars := needFPM(t)
	var stderr runenv.LockedWriter
	env := &runenv.Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: &stderr,
		Getenv: func(string) string { return "" }, Environ: func() []string { return nil }}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	exited := make(chan int, 1)
	go func() {
		exited <- commands.RunEnv(ctx, env, []string{"fcgicli", "status", "-c", vars["FPM_TCP"], "-c", vars["FPM_SOCK"], "-c", fcgitest.Refused(t),
			"--listen", "127.0.0.1:0", "--per-process"})
	}()
	served := regexp.MustCompile(`serving /metrics on (http://127\.0\.0\.1:[0-9]+)\n`)
	var base string
	if !pollUntil(func() bool {
		m := served.FindStringSubmatch(stderr.String())
		if m != nil {
			base = m[1]
		}
		return m != nil
	}) {
		t.Fatalf("the exporter did not say where it listens: %q", stderr.String())
	}
	// Scrapes run workers at a time, each on a kept-alive connection of
	// its own, as several Prometheus servers scrape one exporter.
	const workers = 4
	client := &http.Client{Timeout: soakBound, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	scrape := func() error {
		resp, err := client.Get(base + "/metrics")
		if err != nil {
			return err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || strings.Count(string(b), "} 1\n") < 2 || !strings.Contains(string(b), `phpfpm_up{pool="unix",`) {
			return fmt.Errorf("%d %v\n%s", resp.StatusCode, err, b)
		}
		return nil
	}
	scrapes := func(n int) {
		errs := make(chan error, workers)
		for w := 0; w < workers; w++ {
			go func() {
				for i := w; i < n; i += workers {
					if err := scrape(); err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
		}
		for w := 0; w < workers; w++ {
			if err := <-errs; err != nil {
				t.Fatalf("a scrape failed: %v", err)
			}
		}
	}
	type usage struct {
		goroutines, files int
		heap              uint64
	}
	measure := func() usage {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return usage{runtime.NumGoroutine(), openFDs(t), m.HeapAlloc}
	}
	const total, warm = 10000, 1000
	scrapes(warm)
	first := measure()
	scrapes(total - warm)
	last := measure()
	t.Logf("after %d scrapes: %+v; after %d: %+v", warm, first, total, last)
	if last.goroutines > first.goroutines+2 || last.files > first.files+2 || last.heap > first.heap+1<<20 {
		t.Errorf("grew from %+v after %d scrapes to %+v after %d; fcgicli's goroutines:\n%s", first, warm, last, total, strings.Join(fcgicliGoroutines(), "\n\n"))
	}
	client.CloseIdleConnections()
	stop() // what SIGTERM does
	if code := <-exited; code != 0 {
		t.Errorf("exit %d after the graceful stop; stderr:\n%s", code, stderr.String())
	}
}
