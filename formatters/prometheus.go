package formatters

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fcgicli/fcgicli/commands/fpmstatus"
	"github.com/fcgicli/fcgicli/fcgiwire"
)

// PromPool is one pool of a Prometheus exposition: where it was read, its
// page (nil when it could not be read), and what fcgicli knows of it
// besides the page.
type PromPool struct {
	// ScrapeURI is the scrape_uri label, as hipages/php-fpm_exporter
	// spells it (ScrapeURI builds it).
	ScrapeURI string
	// Pool names a pool whose page could not be read (from php-fpm's
	// configuration, or an earlier reading); "" when unknown. A page that
	// was read names its own pool.
	Pool   string
	Status *fpmstatus.Status
	// MaxChildren is the pool's pm.max_children, 0 when not known.
	MaxChildren int64
	// Duration is how long reading the page took, or failing to.
	Duration time.Duration
	// ScrapeFailures counts the pool's failed readings since the exporter
	// started (written with PromOptions.ScrapeFailures only).
	ScrapeFailures int64
}

// PromOptions choose the optional parts of a Prometheus exposition.
type PromOptions struct {
	// PerProcess adds the phpfpm_process_* metrics, one set per entry of
	// the page's process list.
	PerProcess bool
	// ScrapeFailures adds phpfpm_scrape_failures, a counter only a
	// long-running exporter can keep.
	ScrapeFailures bool
}

// ScrapeURI is the scrape_uri label of the pool at addr (any --connect
// form) read at path: tcp://HOST:PORT/status or unix:///SOCKET;/status, as
// hipages/php-fpm_exporter is configured and labels its samples. An
// address that does not parse (a glob that matched nothing) is kept as
// given, before the path.
func ScrapeURI(addr, path string) string {
	a, err := fcgiwire.ParseAddr(addr)
	switch {
	case err != nil:
		return addr + ";" + path
	case a.Network == "unix":
		return "unix://" + a.Address + ";" + path
	}
	return "tcp://" + a.Address + path
}

// promMetric is one metric of the pool summary.
type promMetric struct {
	name, kind, help string
	value            func(*fpmstatus.Status) int64
}

// promMetrics are named, typed and labelled as hipages/php-fpm_exporter
// names them, so that its dashboards and alerts work unchanged. The
// counters keep its names without _total.
var promMetrics = []promMetric{
	{"phpfpm_start_since", "counter", "The number of seconds since FPM has started.", func(s *fpmstatus.Status) int64 { return s.StartSince }},
	{"phpfpm_accepted_connections", "counter", "The number of requests accepted by the pool.", func(s *fpmstatus.Status) int64 { return s.AcceptedConn }},
	{"phpfpm_listen_queue", "gauge", "The number of requests in the queue of pending connections.", func(s *fpmstatus.Status) int64 { return s.ListenQueue }},
	{"phpfpm_max_listen_queue", "counter", "The maximum number of requests in the queue of pending connections since FPM has started.", func(s *fpmstatus.Status) int64 { return s.MaxListenQueue }},
	{"phpfpm_listen_queue_length", "gauge", "The size of the socket queue of pending connections.", func(s *fpmstatus.Status) int64 { return s.ListenQueueLen }},
	{"phpfpm_idle_processes", "gauge", "The number of idle processes.", func(s *fpmstatus.Status) int64 { return s.IdleProcesses }},
	{"phpfpm_active_processes", "gauge", "The number of active processes.", func(s *fpmstatus.Status) int64 { return s.ActiveProcesses }},
	{"phpfpm_total_processes", "gauge", "The number of idle + active processes.", func(s *fpmstatus.Status) int64 { return s.TotalProcesses }},
	{"phpfpm_max_active_processes", "counter", "The maximum number of active processes since FPM has started.", func(s *fpmstatus.Status) int64 { return s.MaxActiveProcesses }},
	{"phpfpm_max_children_reached", "counter", "The number of times the process limit has been reached.", func(s *fpmstatus.Status) int64 { return s.MaxChildrenReached }},
	{"phpfpm_slow_requests", "counter", "The number of requests that exceeded request_slowlog_timeout.", func(s *fpmstatus.Status) int64 { return s.SlowRequests }},
}

// procMetric is one metric of the process list.
type procMetric struct {
	name, kind, help string
	value            func(*fpmstatus.Process) float64
}

// procMetrics follow phpfpm_process_state (written apart, one sample per
// state), in hipages/php-fpm_exporter's names.
var procMetrics = []procMetric{
	{"phpfpm_process_requests", "counter", "The number of requests the process has served.", func(p *fpmstatus.Process) float64 { return float64(p.Requests) }},
	{"phpfpm_process_last_request_memory", "gauge", "The peak memory in bytes of the process's last request.", func(p *fpmstatus.Process) float64 { return float64(p.LastRequestMemory) }},
	{"phpfpm_process_last_request_cpu", "gauge", "The CPU percentage of the process's last request.", func(p *fpmstatus.Process) float64 { return p.LastRequestCPU }},
	{"phpfpm_process_request_duration", "gauge", "The duration in microseconds of the process's current or last request.", func(p *fpmstatus.Process) float64 { return float64(p.RequestDurationUS) }},
}

// processStates are the states php-fpm's process list shows, each a
// sample of phpfpm_process_state for every process (1 for its state, 0
// for the others), in hipages/php-fpm_exporter's spelling. A state not
// among them gets a sample of its own.
var processStates = []string{"Idle", "Running", "Finishing", "Reading headers", "Getting request informations", "Ending"}

// WritePrometheus writes pools in the Prometheus text exposition format:
// each metric once with its HELP and TYPE, then one sample per pool in the
// order given, as the format wants a metric's samples together. Every
// pool has phpfpm_up and phpfpm_scrape_duration_seconds (and
// phpfpm_max_children when known); a pool that could not be read has
// nothing else, never numbers of another time.
func WritePrometheus(w io.Writer, pools []PromPool, o PromOptions) error {
	var b bytes.Buffer
	read := 0
	labels := make([]string, len(pools))
	for i, p := range pools {
		name := p.Pool
		if p.Status != nil {
			name = p.Status.Pool
			read++
		}
		labels[i] = "{pool=" + promQuote(name) + ",scrape_uri=" + promQuote(p.ScrapeURI) + "}"
	}
	head := func(name, kind, help string) {
		b.WriteString("# HELP " + name + " " + help + "\n# TYPE " + name + " " + kind + "\n")
	}
	sample := func(name, labels string, v float64) {
		b.WriteString(name + labels + " " + strconv.FormatFloat(v, 'g', -1, 64) + "\n")
	}
	head("phpfpm_up", "gauge", "Could PHP-FPM be reached?")
	for i, p := range pools {
		up := 0.0
		if p.Status != nil {
			up = 1
		}
		sample("phpfpm_up", labels[i], up)
	}
	if o.ScrapeFailures && len(pools) > 0 {
		head("phpfpm_scrape_failures", "counter", "The number of failures scraping from PHP-FPM.")
		for i, p := range pools {
			sample("phpfpm_scrape_failures", labels[i], float64(p.ScrapeFailures))
		}
	}
	if len(pools) > 0 {
		head("phpfpm_scrape_duration_seconds", "gauge", "How long reading the pool's status page took, or failing to.")
		for i, p := range pools {
			sample("phpfpm_scrape_duration_seconds", labels[i], p.Duration.Seconds())
		}
	}
	known := false
	for _, p := range pools {
		known = known || p.MaxChildren > 0
	}
	if known {
		head("phpfpm_max_children", "gauge", "The pool's pm.max_children.")
		for i, p := range pools {
			if p.MaxChildren > 0 {
				sample("phpfpm_max_children", labels[i], float64(p.MaxChildren))
			}
		}
	}
	if read == 0 {
		_, err := w.Write(b.Bytes())
		return err
	}
	for _, m := range promMetrics {
		head(m.name, m.kind, m.help)
		for i, p := range pools {
			if p.Status != nil {
				sample(m.name, labels[i], float64(m.value(p.Status)))
			}
		}
	}
	if o.PerProcess {
		writeProcesses(&b, pools, head, sample)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// writeProcesses writes the phpfpm_process_* metrics of the pools that
// were read, labelled with the pool and the process's place in its list
// (child), as hipages/php-fpm_exporter labels them.
func writeProcesses(b *bytes.Buffer, pools []PromPool, head func(name, kind, help string), sample func(name, labels string, v float64)) {
	// Each pool's labels are quoted once, not once a sample.
	quoted := make([][2]string, len(pools))
	for i, p := range pools {
		if p.Status != nil {
			quoted[i] = [2]string{promQuote(p.Status.Pool), promQuote(p.ScrapeURI)}
		}
	}
	childLabels := func(i, child int, extra string) string {
		return "{pool=" + quoted[i][0] + ",child=\"" + strconv.Itoa(child) + "\"" + extra + ",scrape_uri=" + quoted[i][1] + "}"
	}
	head("phpfpm_process_state", "gauge", "The state of the process (Idle, Running...): 1 for its state, 0 for the others.")
	for i, p := range pools {
		if p.Status == nil {
			continue
		}
		for child, pr := range p.Status.Processes {
			own := true
			for _, st := range processStates {
				v := 0.0
				if pr.State == st {
					v, own = 1, false
				}
				sample("phpfpm_process_state", childLabels(i, child, ",state="+promQuote(st)), v)
			}
			if own {
				sample("phpfpm_process_state", childLabels(i, child, ",state="+promQuote(pr.State)), 1)
			}
		}
	}
	for _, m := range procMetrics {
		head(m.name, m.kind, m.help)
		for i, p := range pools {
			if p.Status == nil {
				continue
			}
			for child := range p.Status.Processes {
				sample(m.name, childLabels(i, child, ""), m.value(&p.Status.Processes[child]))
			}
		}
	}
}

// promQuote quotes a label value as the exposition format wants. The
// format has no escape for bytes that are not UTF-8, which would make the
// whole exposition invalid: they become U+FFFD.
func promQuote(s string) string {
	if !strings.ContainsAny(s, "\\\"\n") && utf8.ValidString(s) {
		return `"` + s + `"` // the usual label, quoted without building a Replacer
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(strings.ToValidUTF8(s, "\uFFFD")) + `"`
}
