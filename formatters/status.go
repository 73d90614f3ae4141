package formatters

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"time"

	"github.com/fcgicli/fcgicli/commands/fpmstatus"
)

// StatusView is what the status renderers show: the page, and for --watch
// the page before it.
type StatusView struct {
	Status   *fpmstatus.Status
	Previous *fpmstatus.Status // the previous reading, for --watch
	Interval time.Duration     // between Previous and Status
	Now      time.Time         // for uptime and start times
	Address  string            // the pool's address, for Prometheus labels
	Location *time.Location    // for start times; nil is UTC
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
		{"accepted conn", delta(s.AcceptedConn, v.Previous, func(x *fpmstatus.Status) int64 { return x.AcceptedConn })},
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
		[2]string{"max children reached", delta(s.MaxChildrenReached, v.Previous, func(x *fpmstatus.Status) int64 { return x.MaxChildrenReached })},
		[2]string{"slow requests", delta(s.SlowRequests, v.Previous, func(x *fpmstatus.Status) int64 { return x.SlowRequests })},
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
	procs := append([]fpmstatus.Process(nil), s.Processes...)
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
func delta(v int64, prev *fpmstatus.Status, get func(*fpmstatus.Status) int64) string {
	s := strconv.FormatInt(v, 10)
	if prev != nil {
		s += fmt.Sprintf(" (%+d)", v-get(prev))
	}
	return s
}

// FailedCheck is a threshold a status page crossed: the check (its flag's
// name, such as max-listen-queue), the value read and the bound given.
type FailedCheck struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Bound float64 `json:"bound"`
}

// StatusPool is one pool of a status run: its address, its page when it
// could be read, else the error, and the checks it failed.
type StatusPool struct {
	Address string `json:"address"`
	// Name is the pool's name in php-fpm's configuration and MaxChildren
	// its pm.max_children (from the configuration or given by hand), when
	// known.
	Name        string `json:"name,omitempty"`
	MaxChildren int64  `json:"max_children,omitempty"`
	// Busy is a pool that passed with --busy-ok: it accepted the
	// connection but had no free child.
	Busy bool `json:"busy,omitempty"`
	*fpmstatus.Status
	Error        string        `json:"error,omitempty"`
	Hint         string        `json:"hint,omitempty"`
	FailedChecks []FailedCheck `json:"failed_checks"`
}

// WriteStatusJSON writes the page of one pool as one indented JSON
// document, with the checks it failed (failed_checks, [] for none).
func WriteStatusJSON(w io.Writer, s *fpmstatus.Status, failed []FailedCheck) error {
	if failed == nil {
		failed = []FailedCheck{}
	}
	return writeJSON(w, struct {
		*fpmstatus.Status
		FailedChecks []FailedCheck `json:"failed_checks"`
	}{s, failed})
}

// WriteStatusPoolJSON writes the document of one pool whose page could not
// be read (or that passed busy with --busy-ok): its address, the error and
// its hint, as a request's JSON reports a failure, so that jq always gets
// a document.
func WriteStatusPoolJSON(w io.Writer, pool StatusPool) error {
	if pool.FailedChecks == nil {
		pool.FailedChecks = []FailedCheck{}
	}
	return writeJSON(w, pool)
}

// WriteStatusPoolsJSON writes the pools of a run over several as one
// indented JSON document, {"pools": [...]}, in the order given.
func WriteStatusPoolsJSON(w io.Writer, pools []StatusPool) error {
	for i := range pools {
		if pools[i].FailedChecks == nil {
			pools[i].FailedChecks = []FailedCheck{}
		}
	}
	return writeJSON(w, struct {
		Pools []StatusPool `json:"pools"`
	}{pools})
}

// Label names a pool in headings: its address, after its name when it
// has one.
func (p *StatusPool) Label() string {
	if p.Name == "" {
		return p.Address
	}
	return p.Name + " (" + p.Address + ")"
}

// WriteStatusPoolsText writes the pools of a run over several, each under
// a heading naming it, as head(1) and tail(1) head each file: its tables,
// or, when it could not be read, FAIL and why (BUSY for a busy pool that
// passed).
func WriteStatusPoolsText(w io.Writer, pools []StatusPool, now time.Time, p *Palette) error {
	for i := range pools {
		pool := &pools[i]
		sep := ""
		if i > 0 {
			sep = "\n"
		}
		if _, err := fmt.Fprintf(w, "%s==> %s <==\n", sep, Printable(pool.Label())); err != nil {
			return err
		}
		if pool.Status == nil {
			word := p.Error.Sprint("FAIL")
			if pool.Busy {
				word = p.Info.Sprint("BUSY")
			}
			if _, err := fmt.Fprintln(w, word+" "+pool.Error); err != nil {
				return err
			}
			continue
		}
		if err := WriteStatusText(w, &StatusView{Status: pool.Status, Now: now, Address: pool.Address}, p); err != nil {
			return err
		}
	}
	return nil
}

// WriteStatusJSONLine writes one refresh of --watch as one line of JSON:
// "time", when it was read (RFC 3339, UTC, in milliseconds), then the
// page's fields, or, when the page could not be read (s is nil), "error"
// and "exit_code", what the failure would exit with.
func WriteStatusJSONLine(w io.Writer, at time.Time, s *fpmstatus.Status, errMsg string, exitCode int) error {
	return writeJSONLine(w, struct {
		Time string `json:"time"`
		*fpmstatus.Status
		Error    string `json:"error,omitempty"`
		ExitCode int    `json:"exit_code,omitempty"`
	}{at.UTC().Format("2006-01-02T15:04:05.000Z07:00"), s, errMsg, exitCode})
}
