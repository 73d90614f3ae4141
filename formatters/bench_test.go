package formatters

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func sampleBenchReport() *BenchReport {
	return &BenchReport{
		Target: "127.0.0.1:9000", Script: "/index.php", Concurrency: 4, KeepConn: true,
		Requests: 1000, Succeeded: 990, Failed: 10, Unfinished: 2, Duration: 2 * time.Second,
		BytesSent: 448000, BytesReceived: 2 << 20,
		Latency: BenchLatency{
			Min: 850 * time.Microsecond, Mean: 2100 * time.Microsecond, P50: 1900 * time.Microsecond,
			P90: 3 * time.Millisecond, P99: 9 * time.Millisecond, P999: 40 * time.Millisecond, Max: 1500 * time.Millisecond,
		},
		Histogram: []BenchBar{
			{UpTo: time.Millisecond, Count: 100}, {UpTo: 2 * time.Millisecond, Count: 800},
			{UpTo: 10 * time.Millisecond, Count: 99}, {UpTo: 1500 * time.Millisecond, Count: 1},
		},
		StatusCodes:    map[int]int64{200: 995, 503: 5},
		AppStatus:      map[uint32]int64{0: 1000},
		ProtocolStatus: map[string]int64{"REQUEST_COMPLETE": 1000},
		StatusFailed:   5, ExpectFailed: 5,
		ConnectionsUsed:   4,
		ConnectionsServed: 3,
		Reconnects:        1,
	}
}

func TestWriteBenchText(t *testing.T) {
	var b bytes.Buffer
	if err := WriteBenchText(&b, sampleBenchReport(), NewPalette(false)); err != nil {
		t.Fatal(err)
	}
	want := `Target:            127.0.0.1:9000 /index.php
Connections:       4, keep-conn, as fast as answered
Requests:          1000 (990 ok, 10 failed, 2 unfinished when the run ended (not counted))
Duration:          2.000s
Requests/s:        500.0
Sent:              437.5 KiB (448 B per request)
Received:          2.0 MiB (2.0 KiB per request)
Served conns:      3 of 4 (1 reconnect after the server closed a kept-alive connection)

Latency:
  min         850µs
  mean       2.10ms
  p50        1.90ms
  p90        3.00ms
  p99        9.00ms
  p99.9     40.00ms
  max        1.500s

Histogram:
  ≤    1.00ms  100  ■■■■■
  ≤    2.00ms  800  ■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■
  ≤   10.00ms   99  ■■■■■
  ≤    1.500s    1  ■

CGI status:
  200 OK                   995
  503 Service Unavailable  5

App status:
  0  1000

Protocol status:
  REQUEST_COMPLETE  1000

Failures:
  expect  5  (body without the --expect text)
  status  5  (--fail: CGI status 400 or more)
`
	if got := b.String(); got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}

// TestWriteBenchTextNoAnswer: when every request failed, no latency was
// recorded, and the report says so instead of showing zeros.
func TestWriteBenchTextNoAnswer(t *testing.T) {
	r := &BenchReport{
		Target: "127.0.0.1:9000", Script: "/x", Concurrency: 1, KeepConn: true,
		Requests: 1, Failed: 1, Duration: 300 * time.Millisecond, BytesSent: 416, ConnectionsUsed: 1,
		Errors:       BenchErrors{Timeout: 1},
		ErrorSamples: map[string]string{"timeout": "no answer within --request-timeout"},
	}
	var b bytes.Buffer
	if err := WriteBenchText(&b, r, NewPalette(false)); err != nil {
		t.Fatal(err)
	}
	want := `Target:            127.0.0.1:9000 /x
Connections:       1, keep-conn, as fast as answered
Requests:          1 (0 ok, 1 failed)
Duration:          300.00ms
Requests/s:        3.3
Sent:              416 B (416 B per request)
Received:          0 B (0 B per request)
Served conns:      0 of 1

Latency:           none: no request was answered

Failures:
  timeout  1  (first: no answer within --request-timeout)
`
	if got := b.String(); got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}

// TestWriteBenchTextOpenLoopUnanswered: under --rate, the requests due and
// not answered when the run ended are in the latencies at their wait until
// then, and the report says so, even when none was answered at all.
func TestWriteBenchTextOpenLoopUnanswered(t *testing.T) {
	r := &BenchReport{
		Target: "127.0.0.1:9000", Script: "/x", Concurrency: 1, KeepConn: true, Rate: 10,
		Unfinished: 1, Unsent: 4, Duration: 500 * time.Millisecond, BytesSent: 416, ConnectionsUsed: 1,
		Latency: BenchLatency{Min: 100 * time.Millisecond, Mean: 300 * time.Millisecond, P50: 300 * time.Millisecond,
			P90: 500 * time.Millisecond, P99: 500 * time.Millisecond, P999: 500 * time.Millisecond, Max: 500 * time.Millisecond},
		Histogram: []BenchBar{{UpTo: 200 * time.Millisecond, Count: 2}, {UpTo: 500 * time.Millisecond, Count: 3}},
	}
	var b bytes.Buffer
	if err := WriteBenchText(&b, r, NewPalette(false)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"\nRequests:          0 (0 ok, 1 unfinished, 4 due but never sent when the run ended (in the latencies at their wait until then))\n",
		"\nLatency:           at least: 5 not answered when the run ended count at their wait until then\n  min      100.00ms\n",
		"\n  ≤  500.00ms  3  ■",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	if err := WriteBenchJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"unfinished": 1,
  "unsent": 4,`) {
		t.Errorf("JSON lacks unsent:\n%s", b.String())
	}
}

// TestWriteBenchTextIdleConnections: the served connections are counted
// of those that sent a request (-C 4 -n 2: two had none), and all of them
// served is no error, so not in the error colour.
func TestWriteBenchTextIdleConnections(t *testing.T) {
	r := &BenchReport{Target: "t", Script: "/x", Concurrency: 4, KeepConn: true, Requests: 2, Succeeded: 2,
		ConnectionsUsed: 2, ConnectionsServed: 2}
	pal := NewPalette(true)
	var b bytes.Buffer
	if err := WriteBenchText(&b, r, pal); err != nil {
		t.Fatal(err)
	}
	want := " 2 of 2 (the other 2 of 4 sent no request)\n"
	if !strings.Contains(b.String(), want) || strings.Contains(b.String(), pal.Error.Sprint("2 of 2")) {
		t.Errorf("text lacks %q, uncoloured:\n%s", want, b.String())
	}
	r.ConnectionsServed = 1
	b.Reset()
	if err := WriteBenchText(&b, r, pal); err != nil {
		t.Fatal(err)
	}
	if want := pal.Error.Sprint("1 of 2") + " (the other 2 of 4 sent no request)\n"; !strings.Contains(b.String(), want) {
		t.Errorf("text lacks %q:\n%s", want, b.String())
	}
}

// TestWriteBenchBarLabels: bounds that differ are never shown alike, as
// rounding did ("≤ 1.50ms" twice): all the labels get the digits that
// tell the closest two apart; bounds far apart keep the usual ones.
func TestWriteBenchBarLabels(t *testing.T) {
	for _, c := range []struct {
		bounds []time.Duration
		want   []string
	}{
		{[]time.Duration{time.Millisecond, 2 * time.Millisecond, 1500 * time.Millisecond}, []string{"1.00ms", "2.00ms", "1.500s"}},
		{[]time.Duration{1400 * time.Microsecond, 1500 * time.Microsecond, 1502 * time.Microsecond}, []string{"1.400ms", "1.500ms", "1.502ms"}},
		{[]time.Duration{1500, 1999, 2400}, []string{"1.5µs", "2.0µs", "2.4µs"}},
		{[]time.Duration{time.Second, time.Second + 1}, []string{"1.000000000s", "1.000000001s"}},
	} {
		bars := make([]BenchBar, len(c.bounds))
		for i, d := range c.bounds {
			bars[i] = BenchBar{UpTo: d, Count: int64(i + 1)}
		}
		var b strings.Builder
		writeBars(&b, bars, NewPalette(false))
		var got []string
		for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n")[1:] {
			got = append(got, strings.Fields(line)[1])
		}
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("bounds %v: labels %q, want %q", c.bounds, got, c.want)
		}
	}
}

func TestWriteBenchJSON(t *testing.T) {
	var b bytes.Buffer
	r := sampleBenchReport()
	r.Errors = BenchErrors{Timeout: 3}
	r.ErrorSamples = map[string]string{"timeout": "no answer within --request-timeout"}
	if err := WriteBenchJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"requests": 1000,`, `"duration_us": 2000000,`, `"rps": 500,`, `"bytes_sent": 448000,`,
		`"bytes_received": 2097152,`,
		`"latency_us": {
    "min": 850,
    "mean": 2100,
    "p50": 1900,
    "p90": 3000,
    "p99": 9000,
    "p999": 40000,
    "max": 1500000
  },`,
		`"status_codes": {
    "200": 995,
    "503": 5
  },`,
		`"errors": {
    "connect": 0,
    "timeout": 3,
    "protocol": 0,
    "refused": 0,
    "other": 0,
    "stray_record": 0
  },`,
		`"error_samples": {
    "timeout": "no answer within --request-timeout"
  },`,
		`"connections_used": 4,
  "connections_served": 3,`,
		`{
      "le_us": 1500000,
      "count": 1
    }`,
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("JSON lacks %s:\n%s", want, b.String())
		}
	}
	// An empty run still gives every field, with empty maps and lists.
	b.Reset()
	if err := WriteBenchJSON(&b, &BenchReport{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"status_codes": {},`, `"histogram": []`, `"rps": 0,`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("empty JSON lacks %s:\n%s", want, b.String())
		}
	}
}

func TestFormatLatency(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0µs"}, {999 * time.Microsecond, "999µs"}, {time.Millisecond, "1.00ms"},
		{12345 * time.Microsecond, "12.35ms"}, {time.Second, "1.000s"}, {90 * time.Second, "90.000s"},
	} {
		if got := FormatLatency(c.d); got != c.want {
			t.Errorf("FormatLatency(%s) = %q, want %q", c.d, got, c.want)
		}
	}
}

func TestWriteBenchProgress(t *testing.T) {
	var b bytes.Buffer
	WriteBenchProgress(&b, true, 250*time.Millisecond, 0, 0, 0)
	WriteBenchProgress(&b, false, 1234*time.Millisecond, 5000, 4012.4, 3)
	ClearProgress(&b)
	want := "\r200ms elapsed, warming up\x1b[K\r1.2s elapsed, 5000 requests, 4012/s, 3 errors\x1b[K\r\x1b[K"
	if b.String() != want {
		t.Fatalf("got %q, want %q", b.String(), want)
	}
}

// TestWriteBenchTextNothingAnswered: a run in which not one request was
// answered (each unfinished when it ended) keeps its Latency line.
func TestWriteBenchTextNothingAnswered(t *testing.T) {
	r := &BenchReport{Target: "127.0.0.1:9000", Script: "/x", Concurrency: 1, KeepConn: true,
		Unfinished: 1, Duration: time.Second, ConnectionsUsed: 1}
	var b bytes.Buffer
	if err := WriteBenchText(&b, r, NewPalette(false)); err != nil {
		t.Fatal(err)
	}
	if want := "\n\nLatency:           none: no request was answered\n"; !strings.Contains(b.String(), want) {
		t.Fatalf("got:\n%s\nwant it to hold %q", b.String(), want)
	}
}
