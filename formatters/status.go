package formatters

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// FPMStatus is php-fpm's status page (pm.status_path?json&full), with
// snake_case keys in its own JSON form.
type FPMStatus struct {
	Pool               string       `json:"pool"`
	ProcessManager     string       `json:"process_manager"`
	StartTime          int64        `json:"start_time"`
	StartSince         int64        `json:"start_since"`
	AcceptedConn       int64        `json:"accepted_conn"`
	ListenQueue        int64        `json:"listen_queue"`
	MaxListenQueue     int64        `json:"max_listen_queue"`
	ListenQueueLen     int64        `json:"listen_queue_len"`
	IdleProcesses      int64        `json:"idle_processes"`
	ActiveProcesses    int64        `json:"active_processes"`
	TotalProcesses     int64        `json:"total_processes"`
	MaxActiveProcesses int64        `json:"max_active_processes"`
	MaxChildrenReached int64        `json:"max_children_reached"`
	SlowRequests       int64        `json:"slow_requests"`
	Processes          []FPMProcess `json:"processes,omitempty"`
}

// FPMProcess is one entry of the status page's process list.
type FPMProcess struct {
	PID               int64   `json:"pid"`
	State             string  `json:"state"`
	StartTime         int64   `json:"start_time"`
	StartSince        int64   `json:"start_since"`
	Requests          int64   `json:"requests"`
	RequestDurationUS int64   `json:"request_duration_us"`
	RequestMethod     string  `json:"request_method"`
	RequestURI        string  `json:"request_uri"`
	ContentLength     int64   `json:"content_length"`
	User              string  `json:"user"`
	Script            string  `json:"script"`
	LastRequestCPU    float64 `json:"last_request_cpu"`
	LastRequestMemory int64   `json:"last_request_memory"`
}

// Busy reports whether the process is serving a request.
func (p FPMProcess) Busy() bool { return p.State != "Idle" }

// fpmJSON is the page as php-fpm writes it, keys with spaces.
type fpmJSON struct {
	Pool               *string `json:"pool"`
	ProcessManager     string  `json:"process manager"`
	StartTime          int64   `json:"start time"`
	StartSince         int64   `json:"start since"`
	AcceptedConn       *int64  `json:"accepted conn"`
	ListenQueue        int64   `json:"listen queue"`
	MaxListenQueue     int64   `json:"max listen queue"`
	ListenQueueLen     int64   `json:"listen queue len"`
	IdleProcesses      int64   `json:"idle processes"`
	ActiveProcesses    *int64  `json:"active processes"`
	TotalProcesses     int64   `json:"total processes"`
	MaxActiveProcesses int64   `json:"max active processes"`
	MaxChildrenReached int64   `json:"max children reached"`
	SlowRequests       int64   `json:"slow requests"`
	Processes          []struct {
		PID               int64   `json:"pid"`
		State             string  `json:"state"`
		StartTime         int64   `json:"start time"`
		StartSince        int64   `json:"start since"`
		Requests          int64   `json:"requests"`
		RequestDuration   int64   `json:"request duration"`
		RequestMethod     string  `json:"request method"`
		RequestURI        string  `json:"request uri"`
		ContentLength     int64   `json:"content length"`
		User              string  `json:"user"`
		Script            string  `json:"script"`
		LastRequestCPU    float64 `json:"last request cpu"`
		LastRequestMemory int64   `json:"last request memory"`
	} `json:"processes"`
}

// ErrNotStatusPage: the body is not php-fpm's JSON status page.
var ErrNotStatusPage = errors.New("not a php-fpm status page")

// ParseFPMStatus parses php-fpm's JSON status page. A body that is not one
// (an HTML page, "File not found.", JSON without the pool fields) gives an
// error wrapping ErrNotStatusPage.
func ParseFPMStatus(body []byte) (*FPMStatus, error) {
	var raw fpmJSON
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrNotStatusPage, jsonFault(err))
	}
	if raw.Pool == nil || raw.AcceptedConn == nil || raw.ActiveProcesses == nil {
		return nil, fmt.Errorf("%w: JSON without pool, accepted conn and active processes", ErrNotStatusPage)
	}
	s := &FPMStatus{
		Pool: *raw.Pool, ProcessManager: raw.ProcessManager, StartTime: raw.StartTime, StartSince: raw.StartSince,
		AcceptedConn: *raw.AcceptedConn, ListenQueue: raw.ListenQueue, MaxListenQueue: raw.MaxListenQueue,
		ListenQueueLen: raw.ListenQueueLen, IdleProcesses: raw.IdleProcesses, ActiveProcesses: *raw.ActiveProcesses,
		TotalProcesses: raw.TotalProcesses, MaxActiveProcesses: raw.MaxActiveProcesses,
		MaxChildrenReached: raw.MaxChildrenReached, SlowRequests: raw.SlowRequests,
	}
	for _, p := range raw.Processes {
		s.Processes = append(s.Processes, FPMProcess{
			PID: p.PID, State: p.State, StartTime: p.StartTime, StartSince: p.StartSince, Requests: p.Requests,
			RequestDurationUS: p.RequestDuration, RequestMethod: p.RequestMethod, RequestURI: p.RequestURI,
			ContentLength: p.ContentLength, User: p.User, Script: p.Script, LastRequestCPU: p.LastRequestCPU,
			LastRequestMemory: p.LastRequestMemory,
		})
	}
	return s, nil
}

// jsonFault says what is wrong with the page's JSON. A field of the wrong
// type is named with what it is and what was wanted ("processes" is a
// string, want a list), not with encoding/json's message, which spells out
// the Go type it was decoding into.
func jsonFault(err error) string {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) {
		return err.Error()
	}
	where := "the page"
	if te.Field != "" {
		parts := strings.Split(te.Field, ".")
		where = strconv.Quote(parts[len(parts)-1])
		for i := len(parts) - 2; i >= 0; i-- {
			where += " in " + strconv.Quote(parts[i])
		}
	}
	return fmt.Sprintf("%s is %s, want %s", where, jsonValueKind(te.Value), jsonWant(te))
}

// jsonValueKind names the JSON value an *UnmarshalTypeError found.
func jsonValueKind(v string) string {
	switch v {
	case "array":
		return "a list"
	case "object":
		return "an object"
	case "bool":
		return "a boolean"
	case "string", "number":
		return "a " + v
	}
	if n, ok := strings.CutPrefix(v, "number "); ok {
		return "the number " + n
	}
	return v
}

// jsonWant names the JSON value the page should have had.
func jsonWant(te *json.UnmarshalTypeError) string {
	t := te.Type
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n, ok := strings.CutPrefix(te.Value, "number "); ok && !strings.ContainsAny(n, ".eE") {
			return "an integer of at most 64 bits"
		}
		return "an integer"
	}
	return t.Kind().String()
}

// StatusView is what the status renderers show: the page, and for --watch
// the page before it.
type StatusView struct {
	Status   *FPMStatus
	Previous *FPMStatus     // the previous reading, for --watch
	Interval time.Duration  // between Previous and Status
	Now      time.Time      // for uptime and start times
	Address  string         // the pool's address, for Prometheus labels
	Location *time.Location // for start times; nil is UTC
}

// ReqPerSec is the rate of accepted conn since the previous reading, or -1.
func (v *StatusView) ReqPerSec() float64 {
	if v.Previous == nil || v.Interval <= 0 || v.Status.AcceptedConn < v.Previous.AcceptedConn {
		return -1
	}
	return float64(v.Status.AcceptedConn-v.Previous.AcceptedConn) / v.Interval.Seconds()
}

func (v *StatusView) clock(unix int64) string {
	loc := v.Location
	if loc == nil {
		loc = time.UTC
	}
	return time.Unix(unix, 0).In(loc).Format("2006-01-02 15:04:05 MST")
}

// WriteStatusText writes the pool summary as a table, then the processes
// (when the page has them) as a second table, busy processes highlighted.
// The page's strings are the server's (a request URI is the client's):
// one that is not printable UTF-8 is quoted (Printable), so that it can
// neither break a row nor send escapes to the terminal.
func WriteStatusText(w io.Writer, v *StatusView, p *Palette) error {
	s := v.Status
	t := newTable(w)
	rows := [][2]string{
		{"pool", Printable(s.Pool)},
		{"process manager", Printable(s.ProcessManager)},
		{"start time", v.clock(s.StartTime)},
		{"uptime", (time.Duration(s.StartSince) * time.Second).String()},
		{"accepted conn", delta(s.AcceptedConn, v.Previous, func(x *FPMStatus) int64 { return x.AcceptedConn })},
	}
	if r := v.ReqPerSec(); r >= 0 {
		rows = append(rows, [2]string{"requests/s", strconv.FormatFloat(r, 'f', 1, 64)})
	}
	rows = append(rows,
		[2]string{"listen queue", strconv.FormatInt(s.ListenQueue, 10)},
		[2]string{"max listen queue", strconv.FormatInt(s.MaxListenQueue, 10)},
		[2]string{"listen queue len", strconv.FormatInt(s.ListenQueueLen, 10)},
		[2]string{"idle processes", strconv.FormatInt(s.IdleProcesses, 10)},
		[2]string{"active processes", strconv.FormatInt(s.ActiveProcesses, 10)},
		[2]string{"total processes", strconv.FormatInt(s.TotalProcesses, 10)},
		[2]string{"max active processes", strconv.FormatInt(s.MaxActiveProcesses, 10)},
		[2]string{"max children reached", delta(s.MaxChildrenReached, v.Previous, func(x *FPMStatus) int64 { return x.MaxChildrenReached })},
		[2]string{"slow requests", delta(s.SlowRequests, v.Previous, func(x *FPMStatus) int64 { return x.SlowRequests })},
	)
	for _, r := range rows {
		t.append(r[0], r[1])
	}
	if err := t.render(); err != nil {
		return err
	}
	if len(s.Processes) == 0 {
		return nil
	}
	procs := append([]FPMProcess(nil), s.Processes...)
	sort.SliceStable(procs, func(i, j int) bool {
		if procs[i].Busy() != procs[j].Busy() {
			return procs[i].Busy()
		}
		return procs[i].PID < procs[j].PID
	})
	if _, err := io.WriteString(w, "\n"); err != nil {
		return err
	}
	pt := newTable(w, "PID", "STATE", "START", "REQUESTS", "DURATION", "METHOD", "URI", "CONTENT LENGTH", "USER", "SCRIPT", "CPU", "MEMORY")
	for _, pr := range procs {
		row := []string{
			strconv.FormatInt(pr.PID, 10), Printable(pr.State), v.clock(pr.StartTime), strconv.FormatInt(pr.Requests, 10),
			(time.Duration(pr.RequestDurationUS) * time.Microsecond).String(), Printable(pr.RequestMethod), Printable(pr.RequestURI),
			strconv.FormatInt(pr.ContentLength, 10), Printable(pr.User), Printable(pr.Script),
			strconv.FormatFloat(pr.LastRequestCPU, 'f', 2, 64), strconv.FormatInt(pr.LastRequestMemory, 10),
		}
		if pr.Busy() {
			for i := range row {
				row[i] = p.Info.Sprint(row[i])
			}
		}
		pt.append(row...)
	}
	return pt.render()
}

// delta shows a counter, with its change since the previous reading.
func delta(v int64, prev *FPMStatus, get func(*FPMStatus) int64) string {
	s := strconv.FormatInt(v, 10)
	if prev != nil {
		s += fmt.Sprintf(" (%+d)", v-get(prev))
	}
	return s
}

// WriteStatusJSON writes the page as one indented JSON document.
func WriteStatusJSON(w io.Writer, s *FPMStatus) error { return writeJSON(w, s) }

// WriteStatusJSONLine writes the page as one line of JSON (for --watch off
// a terminal).
func WriteStatusJSONLine(w io.Writer, s *FPMStatus) error { return writeJSONLine(w, s) }

// promMetric is one summary metric of the Prometheus exposition.
type promMetric struct {
	name, kind, help string
	value            func(*FPMStatus) int64
}

// promMetrics are named as hipages/php-fpm_exporter names them.
var promMetrics = []promMetric{
	{"phpfpm_start_since", "counter", "The number of seconds since FPM has started.", func(s *FPMStatus) int64 { return s.StartSince }},
	{"phpfpm_accepted_connections", "counter", "The number of requests accepted by the pool.", func(s *FPMStatus) int64 { return s.AcceptedConn }},
	{"phpfpm_listen_queue", "gauge", "The number of requests in the queue of pending connections.", func(s *FPMStatus) int64 { return s.ListenQueue }},
	{"phpfpm_max_listen_queue", "counter", "The maximum number of requests in the queue of pending connections since FPM has started.", func(s *FPMStatus) int64 { return s.MaxListenQueue }},
	{"phpfpm_listen_queue_length", "gauge", "The size of the socket queue of pending connections.", func(s *FPMStatus) int64 { return s.ListenQueueLen }},
	{"phpfpm_idle_processes", "gauge", "The number of idle processes.", func(s *FPMStatus) int64 { return s.IdleProcesses }},
	{"phpfpm_active_processes", "gauge", "The number of active processes.", func(s *FPMStatus) int64 { return s.ActiveProcesses }},
	{"phpfpm_total_processes", "gauge", "The number of idle + active processes.", func(s *FPMStatus) int64 { return s.TotalProcesses }},
	{"phpfpm_max_active_processes", "counter", "The maximum number of active processes since FPM has started.", func(s *FPMStatus) int64 { return s.MaxActiveProcesses }},
	{"phpfpm_max_children_reached", "counter", "The number of times the process limit has been reached.", func(s *FPMStatus) int64 { return s.MaxChildrenReached }},
	{"phpfpm_slow_requests", "counter", "The number of requests that exceeded request_slowlog_timeout.", func(s *FPMStatus) int64 { return s.SlowRequests }},
}

// WriteStatusPrometheus writes the pool summary in the Prometheus text
// exposition format, for node_exporter's textfile collector. With a nil
// status (the pool could not be read) it writes phpfpm_up 0 only.
func WriteStatusPrometheus(w io.Writer, s *FPMStatus, address string) error {
	var b bytes.Buffer
	labels := fmt.Sprintf(`{address=%s}`, promQuote(address))
	if s != nil {
		labels = fmt.Sprintf(`{pool=%s,address=%s}`, promQuote(s.Pool), promQuote(address))
	}
	up := 0
	if s != nil {
		up = 1
	}
	fmt.Fprintf(&b, "# HELP phpfpm_up Could PHP-FPM be reached?\n# TYPE phpfpm_up gauge\nphpfpm_up%s %d\n", labels, up)
	if s != nil {
		for _, m := range promMetrics {
			fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n%s%s %d\n", m.name, m.help, m.name, m.kind, m.name, labels, m.value(s))
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// promQuote quotes a label value as the exposition format wants. The
// format has no escape for bytes that are not UTF-8, which would make the
// whole exposition invalid: they become U+FFFD.
func promQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(strings.ToValidUTF8(s, "\uFFFD")) + `"`
}
