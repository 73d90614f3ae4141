package exporter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fcgicli/fcgicli/commands/fpmstatus"
	"github.com/fcgicli/fcgicli/formatters"
)

// fakePools answers Read with the readings set last, and records the
// deadline of each call's context.
type fakePools struct {
	mu        sync.Mutex
	readings  []Reading
	err       error           // Read's error, when set
	deadlines []time.Duration // 0 for none
}

func (f *fakePools) set(r ...Reading) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.readings = r
}

func (f *fakePools) read(ctx context.Context) ([]Reading, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var d time.Duration
	if dl, ok := ctx.Deadline(); ok {
		d = time.Until(dl)
	}
	f.deadlines = append(f.deadlines, d)
	if f.err != nil {
		return nil, f.err
	}
	return append([]Reading(nil), f.readings...), nil
}

// read is a pool whose page was read.
func read(uri string, s *fpmstatus.Status) Reading {
	return Reading{PromPool: formatters.PromPool{ScrapeURI: uri, Status: s}}
}

func get(t *testing.T, h http.Handler, method, path string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestScrapeRemembersNamesAndFailures checks what the exporter keeps
// between scrapes: a pool that stops answering keeps the name its last
// page gave (phpfpm_up{pool="www"} 0, not pool=""), and its count of
// failed readings grows; nothing of its page is served once it stopped
// answering; a pool that leaves the list is forgotten; each change of a
// pool's state is logged once.
func TestScrapeRemembersNamesAndFailures(t *testing.T) {
	var f fakePools
	var logs []string
	e := New(Config{Read: f.read, Logf: func(format string, args ...any) {
		logs = append(logs, strings.TrimSpace(strings.ReplaceAll(format, "%s", "S")))
	}})
	h := e.Handler()
	const uri = "tcp://127.0.0.1:9000/status"
	f.set(read(uri, &fpmstatus.Status{Pool: "www", TotalProcesses: 4}))
	body := get(t, h, "GET", "/metrics").Body.String()
	for _, want := range []string{
		`phpfpm_up{pool="www",scrape_uri="tcp://127.0.0.1:9000/status"} 1` + "\n",
		`phpfpm_total_processes{pool="www",scrape_uri="tcp://127.0.0.1:9000/status"} 4` + "\n",
		`phpfpm_scrape_failures{pool="www",scrape_uri="tcp://127.0.0.1:9000/status"} 0` + "\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("first scrape lacks %q:\n%s", want, body)
		}
	}
	down := Reading{PromPool: formatters.PromPool{ScrapeURI: uri}, Err: errors.New("connection refused")}
	f.set(down)
	get(t, h, "GET", "/metrics")
	body = get(t, h, "GET", "/metrics").Body.String()
	for _, want := range []string{
		`phpfpm_up{pool="www",scrape_uri="tcp://127.0.0.1:9000/status"} 0` + "\n",
		`phpfpm_scrape_failures{pool="www",scrape_uri="tcp://127.0.0.1:9000/status"} 2` + "\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape of the stopped pool lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "phpfpm_total_processes") {
		t.Errorf("the stopped pool's old numbers are served:\n%s", body)
	}
	f.set(read(uri, &fpmstatus.Status{Pool: "www"}))
	get(t, h, "GET", "/metrics")
	if want := []string{"S: %v", "S: answers again"}; strings.Join(logs, "|") != strings.Join(want, "|") {
		t.Errorf("logs %q, want %q", logs, want)
	}
	// A pool that left the list is forgotten: back, it starts again.
	f.set()
	get(t, h, "GET", "/metrics")
	f.set(down)
	body = get(t, h, "GET", "/metrics").Body.String()
	if want := `phpfpm_scrape_failures{pool="",scrape_uri="tcp://127.0.0.1:9000/status"} 1` + "\n"; !strings.Contains(body, want) {
		t.Errorf("a pool back in the list is not new: lacks %q:\n%s", want, body)
	}
	e.mu.Lock()
	n := len(e.pools)
	e.mu.Unlock()
	if n != 1 {
		t.Errorf("the exporter remembers %d pools, want 1", n)
	}
}

// TestHandlerPaths checks the answers besides the metrics: /healthz, the
// index page, a path that does not exist, a method other than GET and
// HEAD, and the content type of /metrics.
func TestHandlerPaths(t *testing.T) {
	var f fakePools
	h := New(Config{Read: f.read}).Handler()
	for _, c := range []struct {
		method, path string
		code         int
		ctype, body  string
	}{
		{"GET", "/healthz", 200, "text/plain; charset=utf-8", "ok\n"},
		{"HEAD", "/healthz", 200, "text/plain; charset=utf-8", ""},
		{"GET", "/metrics", 200, "text/plain; version=0.0.4; charset=utf-8", "# HELP phpfpm_up Could PHP-FPM be reached?\n# TYPE phpfpm_up gauge\n"},
		{"POST", "/metrics", 405, "text/plain; charset=utf-8", "method not allowed\n"},
		{"GET", "/nope", 404, "text/plain; charset=utf-8", "404 page not found\n"},
	} {
		w := get(t, h, c.method, c.path)
		if w.Code != c.code || w.Header().Get("Content-Type") != c.ctype || (c.method != "HEAD" && w.Body.String() != c.body) {
			t.Errorf("%s %s: %d %q %q, want %d %q %q", c.method, c.path, w.Code, w.Header().Get("Content-Type"), w.Body.String(), c.code, c.ctype, c.body)
		}
	}
	if w := get(t, h, "GET", "/"); w.Code != 200 || !strings.Contains(w.Body.String(), `<a href="/metrics">`) {
		t.Errorf("GET /: %d %q", w.Code, w.Body.String())
	}
}

// TestScrapeTimeoutHeader checks that reading pools ends before
// Prometheus's scrape timeout, and has no deadline of the exporter's own
// without the header (each pool has its own).
func TestScrapeTimeoutHeader(t *testing.T) {
	var f fakePools
	h := New(Config{Read: f.read}).Handler()
	get(t, h, "GET", "/metrics", "X-Prometheus-Scrape-Timeout-Seconds", "10")
	get(t, h, "GET", "/metrics")
	get(t, h, "GET", "/metrics", "X-Prometheus-Scrape-Timeout-Seconds", "bogus")
	if len(f.deadlines) != 3 || f.deadlines[0] <= 8*time.Second || f.deadlines[0] > 9*time.Second || f.deadlines[1] != 0 || f.deadlines[2] != 0 {
		t.Errorf("deadlines %v, want about 9s, then none twice", f.deadlines)
	}
}

// TestServeShutdown checks that Serve answers on its listener until its
// context ends, then returns nil once the scrape in flight has its answer.
func TestServeShutdown(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	slow := func(ctx context.Context) ([]Reading, error) {
		close(started)
		<-release
		return []Reading{read("tcp://127.0.0.1:9000/status", &fpmstatus.Status{Pool: "www"})}, nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- New(Config{Read: slow}).Serve(ctx, []net.Listener{l}, time.Minute) }()
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + l.Addr().String() + "/metrics")
		if err != nil {
			got <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- string(b)
	}()
	<-started
	cancel()
	close(release)
	if body := <-got; !strings.Contains(body, `phpfpm_up{pool="www",scrape_uri="tcp://127.0.0.1:9000/status"} 1`) {
		t.Errorf("the scrape in flight during shutdown got %q", body)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if c, err := net.Dial("tcp", l.Addr().String()); err == nil {
		c.Close()
		t.Error("the listener still accepts after shutdown")
	}
}

// TestScrapeNameFromConfig checks that a pool php-fpm's configuration
// names keeps that name in phpfpm_up 0 before it was ever read.
func TestScrapeNameFromConfig(t *testing.T) {
	var f fakePools
	f.set(Reading{PromPool: formatters.PromPool{ScrapeURI: "unix:///run/php/api.sock;/status", Pool: "api", MaxChildren: 5}, Err: errors.New("no such file or directory")})
	body := get(t, New(Config{Read: f.read}).Handler(), "GET", "/metrics").Body.String()
	for _, want := range []string{
		`phpfpm_up{pool="api",scrape_uri="unix:///run/php/api.sock;/status"} 0` + "\n",
		`phpfpm_max_children{pool="api",scrape_uri="unix:///run/php/api.sock;/status"} 5` + "\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("lacks %q:\n%s", want, body)
		}
	}
}

// TestScrapeReadError checks that a scrape whose pools cannot be listed
// (a configuration that can no longer be read) fails whole, 500 with the
// error, and is logged: Prometheus then marks the exporter's target down.
func TestScrapeReadError(t *testing.T) {
	f := fakePools{err: errors.New("--fpm-config: /etc/php-fpm.conf: cannot read the configuration file: permission denied")}
	var logs []string
	h := New(Config{Read: f.read, Logf: func(format string, args ...any) { logs = append(logs, fmt.Sprintf(format, args...)) }}).Handler()
	w := get(t, h, "GET", "/metrics")
	if w.Code != 500 || w.Body.String() != f.err.Error()+"\n" {
		t.Errorf("got %d %q", w.Code, w.Body.String())
	}
	if len(logs) != 1 || logs[0] != "scrape: "+f.err.Error() {
		t.Errorf("logs %q", logs)
	}
}
