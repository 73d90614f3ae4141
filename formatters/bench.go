package formatters

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// BenchReport is what a load test measured.
type BenchReport struct {
	Target      string // the address as given
	Script      string
	Concurrency int
	KeepConn    bool
	Rate        float64 // requests per second asked for; 0: as fast as answered

	Requests   int64 // finished requests, failed ones included
	Succeeded  int64
	Failed     int64
	Unfinished int64 // in flight when the run ended; under --rate in the latencies, at their wait until then
	Unsent     int64 // under --rate: due before the end, never sent; in the latencies, at their wait until the end
	Duration   time.Duration

	BytesSent     int64
	BytesReceived int64

	Latency   BenchLatency
	Histogram []BenchBar

	StatusCodes    map[int]int64    // by CGI status
	AppStatus      map[uint32]int64 // by END_REQUEST's app status
	ProtocolStatus map[string]int64 // by END_REQUEST's protocol status name
	Errors         BenchErrors
	ErrorSamples   map[string]string // the first message seen, by error class
	ExpectFailed   int64             // answered without the --expect text
	StatusFailed   int64             // --fail and a CGI status of 400 or more
	AppFailed      int64             // a non-zero app status

	Reconnects        int64 // kept-alive connections the server closed, redialled
	ConnectionsUsed   int   // connections (of Concurrency) that sent a request; the others had none to send
	ConnectionsServed int   // connections (of ConnectionsUsed) that were served
	Interrupted       bool
}

// BenchLatency are the latency figures of a run.
type BenchLatency struct {
	Min, Mean, P50, P90, P99, P999, Max time.Duration
}

// BenchBar is one bar of the latency histogram: the requests whose latency
// was above the previous bar's bound and at most UpTo.
type BenchBar struct {
	UpTo  time.Duration
	Count int64
}

// BenchErrors counts failed requests by class.
type BenchErrors struct {
	Connect  int64 // the connection could not be made
	Timeout  int64 // --request-timeout or --connect-timeout passed
	Protocol int64 // malformed records, a connection closed before END_REQUEST, a malformed CGI response
	Refused  int64 // CANT_MPX_CONN, OVERLOADED or UNKNOWN_ROLE
	Other    int64 // a local fault, such as a request body that cannot be read
	// StrayRecord counts records, not requests: records that arrived on a
	// kept connection for a request that had already ended there (an
	// application that repeats an answer or goes on after END_REQUEST).
	// They are left out of the request they arrived during, which is
	// judged on its own answer.
	StrayRecord int64
}

// Total returns the number of failed requests of every class (stray
// records, which fail no request, left out).
func (e BenchErrors) Total() int64 { return e.Connect + e.Timeout + e.Protocol + e.Refused + e.Other }

// RPS returns the finished requests per second.
func (r *BenchReport) RPS() float64 {
	if r.Duration <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Duration.Seconds()
}

type benchJSON struct {
	Target            string            `json:"target"`
	Script            string            `json:"script"`
	Concurrency       int               `json:"concurrency"`
	KeepConn          bool              `json:"keep_conn"`
	Rate              float64           `json:"rate"`
	Requests          int64             `json:"requests"`
	Succeeded         int64             `json:"succeeded"`
	Failed            int64             `json:"failed"`
	Unfinished        int64             `json:"unfinished"`
	Unsent            int64             `json:"unsent"`
	DurationUS        int64             `json:"duration_us"`
	RPS               float64           `json:"rps"`
	BytesSent         int64             `json:"bytes_sent"`
	BytesReceived     int64             `json:"bytes_received"`
	LatencyUS         latencyJSON       `json:"latency_us"`
	StatusCodes       map[string]int64  `json:"status_codes"`
	AppStatus         map[string]int64  `json:"app_status"`
	ProtocolStatus    map[string]int64  `json:"protocol_status"`
	Errors            errorsJSON        `json:"errors"`
	ErrorSamples      map[string]string `json:"error_samples"`
	ExpectFailed      int64             `json:"expect_failed"`
	StatusFailed      int64             `json:"status_failed"`
	AppFailed         int64             `json:"app_failed"`
	Reconnects        int64             `json:"reconnects"`
	ConnectionsUsed   int               `json:"connections_used"`
	ConnectionsServed int               `json:"connections_served"`
	Interrupted       bool              `json:"interrupted"`
	Histogram         []barJSON         `json:"histogram"`
}

type latencyJSON struct {
	Min  int64 `json:"min"`
	Mean int64 `json:"mean"`
	P50  int64 `json:"p50"`
	P90  int64 `json:"p90"`
	P99  int64 `json:"p99"`
	P999 int64 `json:"p999"`
	Max  int64 `json:"max"`
}

type errorsJSON struct {
	Connect  int64 `json:"connect"`
	Timeout  int64 `json:"timeout"`
	Protocol int64 `json:"protocol"`
	Refused  int64 `json:"refused"`
	Other    int64 `json:"other"`
	// StrayRecord counts records, not requests (see BenchErrors).
	StrayRecord int64 `json:"stray_record"`
}

type barJSON struct {
	UpToUS int64 `json:"le_us"`
	Count  int64 `json:"count"`
}

// WriteBenchJSON writes the report as one indented JSON document:
// durations in microseconds, status maps keyed by the status as a string.
func WriteBenchJSON(w io.Writer, r *BenchReport) error {
	us := func(d time.Duration) int64 { return d.Microseconds() }
	out := benchJSON{
		Target: r.Target, Script: r.Script, Concurrency: r.Concurrency, KeepConn: r.KeepConn, Rate: r.Rate,
		Requests: r.Requests, Succeeded: r.Succeeded, Failed: r.Failed, Unfinished: r.Unfinished, Unsent: r.Unsent,
		DurationUS: us(r.Duration), RPS: roundTo(r.RPS(), 1),
		BytesSent: r.BytesSent, BytesReceived: r.BytesReceived,
		LatencyUS: latencyJSON{
			Min: us(r.Latency.Min), Mean: us(r.Latency.Mean), P50: us(r.Latency.P50), P90: us(r.Latency.P90),
			P99: us(r.Latency.P99), P999: us(r.Latency.P999), Max: us(r.Latency.Max),
		},
		StatusCodes: map[string]int64{}, AppStatus: map[string]int64{}, ProtocolStatus: map[string]int64{},
		Errors:       errorsJSON(r.Errors),
		ErrorSamples: map[string]string{},
		ExpectFailed: r.ExpectFailed, StatusFailed: r.StatusFailed, AppFailed: r.AppFailed,
		Reconnects: r.Reconnects, ConnectionsUsed: r.ConnectionsUsed, ConnectionsServed: r.ConnectionsServed, Interrupted: r.Interrupted,
		Histogram: []barJSON{},
	}
	for k, v := range r.StatusCodes {
		out.StatusCodes[strconv.Itoa(k)] = v
	}
	for k, v := range r.AppStatus {
		out.AppStatus[strconv.FormatUint(uint64(k), 10)] = v
	}
	for k, v := range r.ProtocolStatus {
		out.ProtocolStatus[k] = v
	}
	for k, v := range r.ErrorSamples {
		out.ErrorSamples[k] = v
	}
	for _, b := range r.Histogram {
		out.Histogram = append(out.Histogram, barJSON{UpToUS: us(b.UpTo), Count: b.Count})
	}
	return writeJSON(w, out)
}

func roundTo(v float64, decimals int) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', decimals, 64), 64)
	return f
}

// barWidth is the width of the longest histogram bar, in characters.
const barWidth = 40

// WriteBenchText writes the report for people: the totals, the latency
// figures, a histogram drawn with bars, and the breakdowns by status and
// error class.
func WriteBenchText(w io.Writer, r *BenchReport, p *Palette) error {
	var b strings.Builder
	line := func(label, format string, args ...any) {
		fmt.Fprintf(&b, "%-18s %s\n", p.Header.Sprint(label), fmt.Sprintf(format, args...))
	}
	mode := "keep-conn"
	if !r.KeepConn {
		mode = "a connection per request"
	}
	pace := "as fast as answered"
	if r.Rate > 0 {
		pace = fmt.Sprintf("at %s requests/s", strconv.FormatFloat(r.Rate, 'f', -1, 64))
	}
	line("Target:", "%s %s", r.Target, r.Script)
	line("Connections:", "%d, %s, %s", r.Concurrency, mode, pace)
	outcome := fmt.Sprintf("%d ok", r.Succeeded)
	if r.Failed > 0 {
		outcome += ", " + p.Error.Sprintf("%d failed", r.Failed)
	}
	if r.Rate > 0 {
		// Open loop: the requests due and not answered when the run
		// ended are in the latencies, at what they had waited by then.
		var notAnswered []string
		if r.Unfinished > 0 {
			notAnswered = append(notAnswered, fmt.Sprintf("%d unfinished", r.Unfinished))
		}
		if r.Unsent > 0 {
			notAnswered = append(notAnswered, fmt.Sprintf("%d due but never sent", r.Unsent))
		}
		if len(notAnswered) > 0 {
			outcome += ", " + strings.Join(notAnswered, ", ") + " when the run ended (in the latencies at their wait until then)"
		}
	} else if r.Unfinished > 0 {
		outcome += fmt.Sprintf(", %d unfinished when the run ended (not counted)", r.Unfinished)
	}
	line("Requests:", "%d (%s)", r.Requests, outcome)
	line("Duration:", "%s", FormatLatency(r.Duration))
	line("Requests/s:", "%.1f", r.RPS())
	per := func(n int64) string {
		if r.Requests == 0 {
			return ""
		}
		return fmt.Sprintf(" (%s per request)", FormatBytes(n/r.Requests))
	}
	line("Sent:", "%s%s", FormatBytes(r.BytesSent), per(r.BytesSent))
	line("Received:", "%s%s", FormatBytes(r.BytesReceived), per(r.BytesReceived))
	// Of the connections that sent a request: with -n smaller than -C,
	// or a run shorter than a worker takes to start, some had none.
	served := fmt.Sprintf("%d of %d", r.ConnectionsServed, r.ConnectionsUsed)
	if r.ConnectionsServed < r.ConnectionsUsed {
		served = p.Error.Sprint(served)
	}
	if idle := r.Concurrency - r.ConnectionsUsed; idle > 0 && r.ConnectionsUsed > 0 {
		served += fmt.Sprintf(" (the other %d of %d sent no request)", idle, r.Concurrency)
	}
	reconnects := ""
	if r.Reconnects > 0 {
		noun := "reconnects"
		if r.Reconnects == 1 {
			noun = "reconnect"
		}
		reconnects = fmt.Sprintf(" (%d %s after the server closed a kept-alive connection)", r.Reconnects, noun)
	}
	line("Served conns:", "%s%s", served, reconnects)
	if r.Interrupted {
		line("Interrupted:", "the run was stopped early; the figures cover what was done")
	}

	if len(r.Histogram) == 0 {
		// Latencies are those of answered requests: zeros would mislead.
		fmt.Fprintf(&b, "\n%-18s %s\n", p.Header.Sprint("Latency:"), "none: no request was answered")
	} else if len(r.Histogram) > 0 {
		if n := r.Unfinished + r.Unsent; r.Rate > 0 && n > 0 {
			fmt.Fprintf(&b, "\n%-18s %s\n", p.Header.Sprint("Latency:"),
				fmt.Sprintf("at least: %d not answered when the run ended count at their wait until then", n))
		} else {
			fmt.Fprintf(&b, "\n%s\n", p.Header.Sprint("Latency:"))
		}
		for _, l := range []struct {
			name string
			d    time.Duration
		}{
			{"min", r.Latency.Min}, {"mean", r.Latency.Mean}, {"p50", r.Latency.P50}, {"p90", r.Latency.P90},
			{"p99", r.Latency.P99}, {"p99.9", r.Latency.P999}, {"max", r.Latency.Max},
		} {
			fmt.Fprintf(&b, "  %-6s %10s\n", l.name, FormatLatency(l.d))
		}
		writeBars(&b, r.Histogram, p)
	}

	section := func(title string, rows [][2]string, bad func(key string) bool) {
		if len(rows) == 0 {
			return
		}
		fmt.Fprintf(&b, "\n%s\n", p.Header.Sprint(title))
		width := 0
		for _, row := range rows {
			width = max(width, len(row[0]))
		}
		for _, row := range rows {
			key := fmt.Sprintf("%-*s", width, row[0])
			if bad != nil && bad(row[0]) {
				key = p.Error.Sprint(key)
			}
			fmt.Fprintf(&b, "  %s  %s\n", key, row[1])
		}
	}
	var rows [][2]string
	for _, code := range sortedKeys(r.StatusCodes) {
		label := strconv.Itoa(code)
		if t := StatusText(code); t != "" {
			label += " " + t
		}
		rows = append(rows, [2]string{label, strconv.FormatInt(r.StatusCodes[code], 10)})
	}
	section("CGI status:", rows, func(k string) bool { return k >= "4" })
	rows = nil
	for _, s := range sortedKeys(r.AppStatus) {
		rows = append(rows, [2]string{strconv.FormatUint(uint64(s), 10), strconv.FormatInt(r.AppStatus[s], 10)})
	}
	section("App status:", rows, func(k string) bool { return k != "0" })
	rows = nil
	for _, s := range sortedKeys(r.ProtocolStatus) {
		rows = append(rows, [2]string{s, strconv.FormatInt(r.ProtocolStatus[s], 10)})
	}
	section("Protocol status:", rows, func(k string) bool { return k != "REQUEST_COMPLETE" })
	rows = nil
	for _, e := range []struct {
		class string
		n     int64
	}{
		{"connect", r.Errors.Connect}, {"timeout", r.Errors.Timeout}, {"protocol", r.Errors.Protocol},
		{"refused", r.Errors.Refused}, {"other", r.Errors.Other},
	} {
		if e.n == 0 {
			continue
		}
		v := strconv.FormatInt(e.n, 10)
		if s := r.ErrorSamples[e.class]; s != "" {
			v += "  (first: " + s + ")"
		}
		rows = append(rows, [2]string{e.class, v})
	}
	if n := r.Errors.StrayRecord; n > 0 {
		rows = append(rows, [2]string{"stray_record", strconv.FormatInt(n, 10) + "  (records for a request that had already ended on its connection)"})
	}
	if r.AppFailed > 0 {
		rows = append(rows, [2]string{"app status", strconv.FormatInt(r.AppFailed, 10) + "  (non-zero app status)"})
	}
	if r.ExpectFailed > 0 {
		rows = append(rows, [2]string{"expect", strconv.FormatInt(r.ExpectFailed, 10) + "  (body without the --expect text)"})
	}
	if r.StatusFailed > 0 {
		rows = append(rows, [2]string{"status", strconv.FormatInt(r.StatusFailed, 10) + "  (--fail: CGI status 400 or more)"})
	}
	section("Failures:", rows, func(string) bool { return true })
	_, err := io.WriteString(w, b.String())
	return err
}

// writeBars draws the histogram, the longest bar barWidth characters.
func writeBars(b *strings.Builder, bars []BenchBar, p *Palette) {
	if len(bars) == 0 {
		return
	}
	var most int64
	width := 0
	for _, bar := range bars {
		most = max(most, bar.Count)
		width = max(width, len(strconv.FormatInt(bar.Count, 10)))
	}
	labels := barLabels(bars)
	fmt.Fprintf(b, "\n%s\n", p.Header.Sprint("Histogram:"))
	for i, bar := range bars {
		n := 0
		if most > 0 {
			n = int((bar.Count*barWidth + most - 1) / most)
		}
		fmt.Fprintf(b, "  ≤ %9s  %*d  %s\n", labels[i], width, bar.Count, p.Good.Sprint(strings.Repeat("■", n)))
	}
}

// barLabels shows the bars' bounds as FormatLatency does, with more
// digits, the same for all, where two next to each other would read the
// same (1.5ms and the maximum 1.502ms are both 1.50ms): the bounds differ,
// and so must what the histogram says they are.
func barLabels(bars []BenchBar) []string {
	labels := make([]string, len(bars))
	// 6 more digits show nanoseconds in every unit.
	for extra := 0; extra <= 6; extra++ {
		distinct := true
		for i, bar := range bars {
			labels[i] = formatLatencyDigits(bar.UpTo, extra)
			if i > 0 && labels[i] == labels[i-1] {
				distinct = false
			}
		}
		if distinct {
			break
		}
	}
	return labels
}

// formatLatencyDigits is FormatLatency with extra more decimals.
func formatLatencyDigits(d time.Duration, extra int) string {
	switch {
	case extra == 0:
		return FormatLatency(d)
	case d < time.Millisecond:
		return fmt.Sprintf("%.*fµs", extra, float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.*fms", 2+extra, float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.*fs", 3+extra, d.Seconds())
}

func sortedKeys[K int | uint32 | string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}

// FormatLatency shows a duration with a unit that suits it: 850µs,
// 12.34ms, 1.234s.
func FormatLatency(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.3fs", d.Seconds())
}

// FormatBytes shows a byte count in B, KiB, MiB or GiB.
func FormatBytes(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
}

// WriteBenchProgress writes the live progress line: carriage return,
// the figures, and an erase to the end of the line, so it redraws in
// place on a terminal.
func WriteBenchProgress(w io.Writer, warmup bool, elapsed time.Duration, requests int64, rate float64, errors int64) error {
	if warmup {
		_, err := fmt.Fprintf(w, "\r%s elapsed, warming up\x1b[K", elapsed.Truncate(100*time.Millisecond))
		return err
	}
	_, err := fmt.Fprintf(w, "\r%s elapsed, %d requests, %.0f/s, %d errors\x1b[K", elapsed.Truncate(100*time.Millisecond), requests, rate, errors)
	return err
}

// ClearProgress erases the progress line.
func ClearProgress(w io.Writer) error {
	_, err := io.WriteString(w, "\r\x1b[K")
	return err
}
