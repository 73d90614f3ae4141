// Package fpmstatus is php-fpm's status page as data: the model (Status,
// Process) that the status and ping commands fill and bench reads, and
// Parse, which reads the page's JSON form (pm.status_path?json&full) into
// it, rejecting a body that is not the page with ErrNotStatusPage.
//
// It is a model package: formatters renders it (text, JSON, Prometheus),
// engines and commands fill it. It imports only the standard library; it
// must not fetch the page (that is the request path's), render it (that is
// formatters'), print or hold package-level mutable state.
package fpmstatus

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// Status is php-fpm's status page (pm.status_path?json&full), with
// snake_case keys in its own JSON form.
type Status struct {
	Pool               string    `json:"pool"`
	ProcessManager     string    `json:"process_manager"`
	StartTime          int64     `json:"start_time"`
	StartSince         int64     `json:"start_since"`
	AcceptedConn       int64     `json:"accepted_conn"`
	ListenQueue        int64     `json:"listen_queue"`
	MaxListenQueue     int64     `json:"max_listen_queue"`
	ListenQueueLen     int64     `json:"listen_queue_len"`
	IdleProcesses      int64     `json:"idle_processes"`
	ActiveProcesses    int64     `json:"active_processes"`
	TotalProcesses     int64     `json:"total_processes"`
	MaxActiveProcesses int64     `json:"max_active_processes"`
	MaxChildrenReached int64     `json:"max_children_reached"`
	SlowRequests       int64     `json:"slow_requests"`
	Processes          []Process `json:"processes,omitempty"`
}

// Process is one entry of the status page's process list.
type Process struct {
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
func (p Process) Busy() bool { return p.State != "Idle" }

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

// Parse parses php-fpm's JSON status page. A body that is not one
// (an HTML page, "File not found.", JSON without the pool fields) gives an
// error wrapping ErrNotStatusPage.
func Parse(body []byte) (*Status, error) {
	var raw fpmJSON
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrNotStatusPage, jsonFault(err))
	}
	if raw.Pool == nil || raw.AcceptedConn == nil || raw.ActiveProcesses == nil {
		return nil, fmt.Errorf("%w: JSON without pool, accepted conn and active processes", ErrNotStatusPage)
	}
	s := &Status{
		Pool: *raw.Pool, ProcessManager: raw.ProcessManager, StartTime: raw.StartTime, StartSince: raw.StartSince,
		AcceptedConn: *raw.AcceptedConn, ListenQueue: raw.ListenQueue, MaxListenQueue: raw.MaxListenQueue,
		ListenQueueLen: raw.ListenQueueLen, IdleProcesses: raw.IdleProcesses, ActiveProcesses: *raw.ActiveProcesses,
		TotalProcesses: raw.TotalProcesses, MaxActiveProcesses: raw.MaxActiveProcesses,
		MaxChildrenReached: raw.MaxChildrenReached, SlowRequests: raw.SlowRequests,
	}
	for _, p := range raw.Processes {
		s.Processes = append(s.Processes, Process{
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
