package formatters

import (
	"bytes"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fcgicli/fcgicli/commands/fpmstatus"
)

// promPools are two pools read, the first with two processes (one in a
// state hipages/php-fpm_exporter does not list), and one not read whose
// name is known.
func promPools() []PromPool {
	a := &fpmstatus.Status{Pool: "www", StartSince: 60, AcceptedConn: 7, ListenQueueLen: 511, IdleProcesses: 1, ActiveProcesses: 1, TotalProcesses: 2,
		MaxActiveProcesses: 2, MaxChildrenReached: 3, SlowRequests: 4,
		Processes: []fpmstatus.Process{
			{PID: 10, State: "Idle", Requests: 5, RequestDurationUS: 120, LastRequestCPU: 0.5, LastRequestMemory: 2097152},
			{PID: 11, State: "Getting request information", Requests: 6},
		}}
	b := &fpmstatus.Status{Pool: "api", TotalProcesses: 1, IdleProcesses: 1}
	return []PromPool{
		{ScrapeURI: "tcp://127.0.0.1:9000/status", Status: a, MaxChildren: 4, Duration: 1500 * time.Microsecond, ScrapeFailures: 2},
		{ScrapeURI: "unix:///run/php/down.sock;/status", Pool: "down", MaxChildren: 2, Duration: 250 * time.Millisecond, ScrapeFailures: 9},
		{ScrapeURI: "unix:///run/php/api.sock;/status", Status: b, Duration: time.Millisecond},
	}
}

// TestWritePrometheus checks the whole exposition: each metric once with
// its HELP and TYPE, its samples together in the pools' order, labelled
// pool and scrape_uri as hipages/php-fpm_exporter labels them; the pool
// not read has phpfpm_up 0, its scrape duration and max children (which
// come from fcgicli, not the page), and nothing of the page.
func TestWritePrometheus(t *testing.T) {
	var buf bytes.Buffer
	if err := WritePrometheus(&buf, promPools(), PromOptions{PerProcess: true, ScrapeFailures: true}); err != nil {
		t.Fatal(err)
	}
	const www, down, api = `{pool="www",scrape_uri="tcp://127.0.0.1:9000/status"}`, `{pool="down",scrape_uri="unix:///run/php/down.sock;/status"}`, `{pool="api",scrape_uri="unix:///run/php/api.sock;/status"}`
	child := func(n, extra string) string {
		return `{pool="www",child="` + n + `"` + extra + `,scrape_uri="tcp://127.0.0.1:9000/status"}`
	}
	want := "# HELP phpfpm_up Could PHP-FPM be reached?\n# TYPE phpfpm_up gauge\n" +
		"phpfpm_up" + www + " 1\nphpfpm_up" + down + " 0\nphpfpm_up" + api + " 1\n" +
		"# HELP phpfpm_scrape_failures The number of failures scraping from PHP-FPM.\n# TYPE phpfpm_scrape_failures counter\n" +
		"phpfpm_scrape_failures" + www + " 2\nphpfpm_scrape_failures" + down + " 9\nphpfpm_scrape_failures" + api + " 0\n" +
		"# HELP phpfpm_scrape_duration_seconds How long reading the pool's status page took, or failing to.\n# TYPE phpfpm_scrape_duration_seconds gauge\n" +
		"phpfpm_scrape_duration_seconds" + www + " 0.0015\nphpfpm_scrape_duration_seconds" + down + " 0.25\nphpfpm_scrape_duration_seconds" + api + " 0.001\n" +
		"# HELP phpfpm_max_children The pool's pm.max_children.\n# TYPE phpfpm_max_children gauge\n" +
		"phpfpm_max_children" + www + " 4\nphpfpm_max_children" + down + " 2\n"
	values := map[string][2]string{
		"phpfpm_start_since": {"60", "0"}, "phpfpm_accepted_connections": {"7", "0"}, "phpfpm_listen_queue": {"0", "0"},
		"phpfpm_max_listen_queue": {"0", "0"}, "phpfpm_listen_queue_length": {"511", "0"}, "phpfpm_idle_processes": {"1", "1"},
		"phpfpm_active_processes": {"1", "0"}, "phpfpm_total_processes": {"2", "1"}, "phpfpm_max_active_processes": {"2", "0"},
		"phpfpm_max_children_reached": {"3", "0"}, "phpfpm_slow_requests": {"4", "0"},
	}
	for _, m := range promMetrics {
		v := values[m.name]
		want += "# HELP " + m.name + " " + m.help + "\n# TYPE " + m.name + " " + m.kind + "\n" + m.name + www + " " + v[0] + "\n" + m.name + api + " " + v[1] + "\n"
	}
	want += "# HELP phpfpm_process_state The state of the process (Idle, Running...): 1 for its state, 0 for the others.\n# TYPE phpfpm_process_state gauge\n"
	for i, st := range processStates {
		v := " 0\n"
		if i == 0 {
			v = " 1\n"
		}
		want += "phpfpm_process_state" + child("0", `,state="`+st+`"`) + v
	}
	for _, st := range processStates {
		want += "phpfpm_process_state" + child("1", `,state="`+st+`"`) + " 0\n"
	}
	want += "phpfpm_process_state" + child("1", `,state="Getting request information"`) + " 1\n" +
		"# HELP phpfpm_process_requests The number of requests the process has served.\n# TYPE phpfpm_process_requests counter\n" +
		"phpfpm_process_requests" + child("0", "") + " 5\nphpfpm_process_requests" + child("1", "") + " 6\n" +
		"# HELP phpfpm_process_last_request_memory The peak memory in bytes of the process's last request.\n# TYPE phpfpm_process_last_request_memory gauge\n" +
		"phpfpm_process_last_request_memory" + child("0", "") + " 2.097152e+06\nphpfpm_process_last_request_memory" + child("1", "") + " 0\n" +
		"# HELP phpfpm_process_last_request_cpu The CPU percentage of the process's last request.\n# TYPE phpfpm_process_last_request_cpu gauge\n" +
		"phpfpm_process_last_request_cpu" + child("0", "") + " 0.5\nphpfpm_process_last_request_cpu" + child("1", "") + " 0\n" +
		"# HELP phpfpm_process_request_duration The duration in microseconds of the process's current or last request.\n# TYPE phpfpm_process_request_duration gauge\n" +
		"phpfpm_process_request_duration" + child("0", "") + " 120\nphpfpm_process_request_duration" + child("1", "") + " 0\n"
	if got := buf.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestWritePrometheusDefaults checks what the options leave out: without
// PerProcess no phpfpm_process_*, without ScrapeFailures no counter of
// them, without a known max_children no phpfpm_max_children; and that a
// run where no pool was read has phpfpm_up 0 and its duration alone.
func TestWritePrometheusDefaults(t *testing.T) {
	pools := promPools()
	pools[0].MaxChildren, pools[1].MaxChildren = 0, 0
	var buf bytes.Buffer
	if err := WritePrometheus(&buf, pools, PromOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, absent := range []string{"phpfpm_process_", "phpfpm_scrape_failures", "phpfpm_max_children "} {
		if strings.Contains(buf.String(), absent) {
			t.Errorf("output has %s:\n%s", absent, buf.String())
		}
	}
	buf.Reset()
	if err := WritePrometheus(&buf, []PromPool{{ScrapeURI: "tcp://127.0.0.1:1/status", Duration: time.Second}}, PromOptions{PerProcess: true}); err != nil {
		t.Fatal(err)
	}
	want := "# HELP phpfpm_up Could PHP-FPM be reached?\n# TYPE phpfpm_up gauge\nphpfpm_up{pool=\"\",scrape_uri=\"tcp://127.0.0.1:1/status\"} 0\n" +
		"# HELP phpfpm_scrape_duration_seconds How long reading the pool's status page took, or failing to.\n# TYPE phpfpm_scrape_duration_seconds gauge\n" +
		"phpfpm_scrape_duration_seconds{pool=\"\",scrape_uri=\"tcp://127.0.0.1:1/status\"} 1\n"
	if buf.String() != want {
		t.Errorf("no pool read: got\n%s\nwant\n%s", buf.String(), want)
	}
}

// TestScrapeURI checks the label for every address form.
func TestScrapeURI(t *testing.T) {
	for _, c := range [][3]string{
		{"127.0.0.1:9000", "/status", "tcp://127.0.0.1:9000/status"},
		{"tcp://localhost:9000", "/fpm-status", "tcp://localhost:9000/fpm-status"},
		{"[::1]:9000", "/status", "tcp://[::1]:9000/status"},
		{"/run/php/fpm.sock", "/status", "unix:///run/php/fpm.sock;/status"},
		{"unix:/run/php/fpm.sock", "/status", "unix:///run/php/fpm.sock;/status"},
		{"unix:///run/php/fpm.sock", "/status", "unix:///run/php/fpm.sock;/status"},
		{"./fpm.sock", "/status", "unix://./fpm.sock;/status"},
		{"@fpm", "/status", "unix://@fpm;/status"},
		{"/run/php/*.sock", "/status", "unix:///run/php/*.sock;/status"},
		{"no port", "/status", "no port;/status"},
	} {
		if got := ScrapeURI(c[0], c[1]); got != c[2] {
			t.Errorf("ScrapeURI(%q, %q) = %q, want %q", c[0], c[1], got, c[2])
		}
	}
}

// promtoolAllowed are the only complaints promtool check metrics may make
// of fcgicli's expositions: the counters keep hipages/php-fpm_exporter's
// names, without the _total suffix its lint asks for, so that dashboards
// and alerts written for it work unchanged. promtool exits 3 for a lint
// complaint; a format error is exit 1 ("error while linting").
var promtoolAllowed = []string{
	"phpfpm_accepted_connections", "phpfpm_max_active_processes", "phpfpm_max_children_reached",
	"phpfpm_max_listen_queue", "phpfpm_process_requests", "phpfpm_scrape_failures",
	"phpfpm_slow_requests", "phpfpm_start_since",
}

// promtoolCheck runs promtool check metrics on exposition and fails t
// unless its only complaints are the allowed ones, each counter of the
// exposition among them named once. Without promtool it skips, except in
// CI, where it fails.
func promtoolCheck(t *testing.T, exposition []byte) {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool is not installed (apt-get install prometheus)")
		}
		t.Skip("promtool is not installed")
	}
	cmd := exec.Command(bin, "check", "metrics")
	cmd.Stdin = bytes.NewReader(exposition)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var want []string
	for _, name := range promtoolAllowed {
		if bytes.Contains(exposition, []byte("# TYPE "+name+" counter\n")) {
			want = append(want, name+` counter metrics should have "_total" suffix`)
		}
	}
	got := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	sort.Strings(got)
	code := cmd.ProcessState.ExitCode()
	if len(want) == 0 && (err != nil || stderr.Len() > 0) || len(want) > 0 && (code != 3 || strings.Join(got, "\n") != strings.Join(want, "\n")) || stdout.Len() > 0 {
		t.Errorf("promtool check metrics: exit %d, stdout %q, stderr:\n%s\nwant exit 3 and only:\n%s", code, stdout.String(), stderr.String(), strings.Join(want, "\n"))
	}
}

// TestWritePrometheusPromtool checks the exposition with promtool, the
// Prometheus project's own checker, per-process metrics included.
func TestWritePrometheusPromtool(t *testing.T) {
	var buf bytes.Buffer
	if err := WritePrometheus(&buf, promPools(), PromOptions{PerProcess: true, ScrapeFailures: true}); err != nil {
		t.Fatal(err)
	}
	promtoolCheck(t, buf.Bytes())
}
