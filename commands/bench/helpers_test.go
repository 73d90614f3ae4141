package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/fcgiwire/fcgitest"
	"github.com/fcgicli/fcgicli/formatters"
)

// benchJSONReport is the part of bench's JSON the tests read.
type benchJSONReport struct {
	Requests          int64            `json:"requests"`
	Succeeded         int64            `json:"succeeded"`
	Failed            int64            `json:"failed"`
	Unfinished        int64            `json:"unfinished"`
	Unsent            int64            `json:"unsent"`
	DurationUS        int64            `json:"duration_us"`
	RPS               float64          `json:"rps"`
	BytesSent         int64            `json:"bytes_sent"`
	BytesReceived     int64            `json:"bytes_received"`
	LatencyUS         map[string]int64 `json:"latency_us"`
	StatusCodes       map[string]int64 `json:"status_codes"`
	Errors            map[string]int64 `json:"errors"`
	ExpectFailed      int64            `json:"expect_failed"`
	Reconnects        int64            `json:"reconnects"`
	ConnectionsUsed   int              `json:"connections_used"`
	ConnectionsServed int              `json:"connections_served"`
	Interrupted       bool             `json:"interrupted"`
	Histogram         []struct {
		UpToUS int64 `json:"le_us"`
		Count  int64 `json:"count"`
	} `json:"histogram"`
}

// runBenchArgs runs the engine as "fcgicli bench -o json ARGS" does,
// without the CLI: args are SCRIPT and the few flags the tests give (-c,
// -C, -n, -z, --rate, --status-path, --no-keep-conn), read into Options
// with the command's defaults for the rest. It returns the exit code, the
// JSON report and stderr, the error's line included, as the command
// prints them.
func runBenchArgs(t *testing.T, ctx context.Context, args ...string) (int, *benchJSONReport, string) {
	t.Helper()
	o := &Options{
		Shape: fcgireq.Shape{
			Net:      fcgireq.NetOptions{ConnectTimeout: 5 * time.Second},
			Spec:     fcgireq.ParamSpec{Role: fcgiwire.RoleResponder, BodyLen: -1},
			KeepConn: true,
		},
		Concurrency: 1, RequestTimeout: 10 * time.Second, StatusPath: "/status",
	}
	for i := 0; i < len(args); i++ {
		name := args[i]
		switch {
		case name == "--no-keep-conn":
			o.KeepConn = false
			continue
		case !strings.HasPrefix(name, "-"):
			o.Spec.Script = name
			continue
		case i+1 == len(args):
			t.Fatalf("%s wants a value", name)
		}
		i++
		v, err := args[i], error(nil)
		switch name {
		case "-c":
			o.Net.Connect = v
		case "-C":
			o.Concurrency, err = strconv.Atoi(v)
		case "-n":
			o.Requests, err = strconv.ParseInt(v, 10, 64)
		case "-z":
			o.Duration, err = time.ParseDuration(v)
		case "--rate":
			o.Rate, err = strconv.ParseFloat(v, 64)
		case "--status-path":
			o.StatusPath = v
		default:
			t.Fatalf("runBenchArgs does not know %s", name)
		}
		if err != nil {
			t.Fatalf("%s %s: %v", name, v, err)
		}
	}
	o.Procs = Procs(0, o.Concurrency, false, runtime.GOMAXPROCS(0))
	var out bytes.Buffer
	var errOut strings.Builder
	env := &runenv.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut,
		Getenv: func(string) string { return "" }, Environ: func() []string { return nil }}
	err := Run(ctx, o, env, formatters.NewPalette(false), func(rep *formatters.BenchReport) error {
		return formatters.WriteBenchJSON(env.Stdout, rep)
	})
	code, msg := runenv.ExitCode(err)
	if msg != "" {
		errOut.WriteString("fcgicli: " + msg + "\n")
	}
	var rep benchJSONReport
	if out.Len() > 0 {
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("bad JSON (%v):\n%s\nstderr: %s", err, out.String(), errOut.String())
		}
	}
	return code, &rep, errOut.String()
}

// serveFCGI serves h on 127.0.0.1 until the test ends and returns the
// address.
func serveFCGI(t *testing.T, h fcgiwire.HandlerFunc) string { return fcgitest.Serve(t, h) }

func okResponse(w *fcgiwire.ResponseWriter) {
	io.WriteString(w.Stdout(), "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nok\n")
}
