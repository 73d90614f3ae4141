// Package exporter is the Prometheus exporter behind status --listen: an
// HTTP server whose /metrics reads every pool afresh at each scrape and
// renders the readings in the Prometheus text format, whose /healthz says
// the exporter itself is up, and its graceful shutdown.
//
// It does not read pools itself: Config.Read does (commands/health's
// concurrent reading of every pool, the --connect globs and --fpm-config
// resolved again at each call), so that status and the exporter see pools
// alike. What it
// keeps between scrapes is only what the format asks to be kept: each
// pool's count of failed readings, and its name, so that a pool that stops
// answering keeps its pool label. It never serves a number it did not
// read in the scrape at hand. It must not print (it logs through
// Config.Logf), call os.Exit or hold package-level mutable state.
package exporter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/fcgicli/fcgicli/formatters"
)

// Reading is one pool as one scrape read it: what the exposition shows
// of it (its Pool is the name php-fpm's configuration gives, "" when
// unknown; its ScrapeFailures is the exporter's to fill), and the error
// that stands for its page when it could not be read.
type Reading struct {
	formatters.PromPool
	Err error
}

// Config is what the exporter serves.
type Config struct {
	// Read reads every configured pool now, each within its own deadline,
	// and returns them in a stable order. ctx ends when the scrape is
	// abandoned. An error (a configuration that can no longer be read)
	// fails the scrape whole.
	Read func(ctx context.Context) ([]Reading, error)
	// PerProcess adds the phpfpm_process_* metrics.
	PerProcess bool
	// Logf logs one line (a pool that stops or starts answering, the
	// listener, the shutdown).
	Logf func(format string, args ...any)
}

// timeoutMargin is the share of Prometheus's scrape timeout a scrape keeps
// for itself: reading pools ends that much before Prometheus gives up, so
// that a pool that does not answer is phpfpm_up 0 in a scrape that arrives
// rather than a scrape that fails whole.
const timeoutMargin = 0.1

// Exporter serves the metrics of the pools Config.Read reads.
type Exporter struct {
	cfg Config

	mu    sync.Mutex
	pools map[string]*poolState // by scrape_uri, the pools of the last scrape
}

// poolState is what the exporter remembers of a pool between scrapes.
type poolState struct {
	name     string // the pool's name, from its last page
	failures int64  // failed readings since the exporter started
	down     bool   // the last reading failed (for the log)
}

// New returns an exporter of cfg.
func New(cfg Config) *Exporter {
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	return &Exporter{cfg: cfg, pools: map[string]*poolState{}}
}

// Handler serves /metrics, /healthz and, at /, a page that links them.
func (e *Exporter) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", e.serveMetrics)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if !getOrHead(w, r) {
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		if !getOrHead(w, r) {
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<html><head><title>fcgicli php-fpm exporter</title></head><body><h1>fcgicli php-fpm exporter</h1><p><a href="/metrics">/metrics</a> <a href="/healthz">/healthz</a></p></body></html>`+"\n")
	})
	return mux
}

// getOrHead answers 405 to a method other than GET and HEAD.
func getOrHead(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

func (e *Exporter) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if !getOrHead(w, r) {
		return
	}
	ctx := r.Context()
	if v := r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil && s > 0 && s < 1e6 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, time.Duration(s*(1-timeoutMargin)*float64(time.Second)))
			defer cancel()
		}
	}
	var b bytes.Buffer
	if err := e.Scrape(ctx, &b); err != nil {
		e.cfg.Logf("scrape: %v", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.Write(b.Bytes())
}

// Scrape reads every pool now and writes the exposition to w.
func (e *Exporter) Scrape(ctx context.Context, w io.Writer) error {
	readings, err := e.cfg.Read(ctx)
	if err != nil {
		return err
	}
	pools := make([]formatters.PromPool, len(readings))
	e.mu.Lock()
	seen := make(map[string]*poolState, len(readings))
	for i, rd := range readings {
		st := e.pools[rd.ScrapeURI]
		if st == nil {
			st = seen[rd.ScrapeURI]
		}
		if st == nil {
			st = &poolState{}
		}
		seen[rd.ScrapeURI] = st
		if rd.Pool != "" {
			st.name = rd.Pool
		}
		if rd.Status != nil {
			st.name = rd.Status.Pool
		}
		switch {
		case rd.Err != nil:
			st.failures++
			if !st.down {
				e.cfg.Logf("%s: %v", rd.ScrapeURI, rd.Err)
			}
			st.down = true
		case st.down:
			e.cfg.Logf("%s: answers again", rd.ScrapeURI)
			st.down = false
		}
		pools[i] = rd.PromPool
		pools[i].Pool, pools[i].ScrapeFailures = st.name, st.failures
	}
	// Only the pools of this scrape are remembered: a socket that went
	// away is forgotten, and the map stays as large as the pools are many.
	e.pools = seen
	e.mu.Unlock()
	return formatters.WritePrometheus(w, pools, formatters.PromOptions{PerProcess: e.cfg.PerProcess, ScrapeFailures: true})
}

// Serve serves the exporter on every listener until ctx ends, then stops
// taking scrapes and waits up to grace for those in flight; it returns
// nil then. A listener that fails ends it with that error.
func (e *Exporter) Serve(ctx context.Context, listeners []net.Listener, grace time.Duration) error {
	srv := &http.Server{
		Handler:           e.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	errc := make(chan error, len(listeners))
	for _, l := range listeners {
		go func() { errc <- srv.Serve(l) }()
	}
	var err error
	select {
	case <-ctx.Done():
		e.cfg.Logf("shutting down")
	case err = <-errc:
		err = fmt.Errorf("serving: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil && errors.Is(serr, context.DeadlineExceeded) {
		e.cfg.Logf("shutdown: scrapes still in flight after %s", grace)
	}
	return err
}
