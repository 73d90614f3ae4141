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

// latencyUS is the report's latency figure name (min, mean, p50, p90,
// p99, p999 or max) in whole microseconds, as bench's JSON gives it.
func latencyUS(rep *formatters.BenchReport, name string) int64 {
	l := rep.Latency
	figures := map[string]time.Duration{"min": l.Min, "mean": l.Mean, "p50": l.P50, "p90": l.P90, "p99": l.P99, "p999": l.P999, "max": l.Max}
	d, ok := figures[name]
	if !ok {
		panic("no latency figure " + name)
	}
	return d.Microseconds()
}

// runBenchArgs runs the engine as "fcgicli bench -o json ARGS" does,
// without the CLI: args are SCRIPT and the few flags the tests give (-c,
// -C, -n, -z, --rate, --status-path, --no-keep-conn), read into Options
// with the command's defaults for the rest. It returns the exit code, the
// report the engine made (rendered as JSON too, as -o json would), and
// stderr, the error's line included, as the command prints them; the
// report is empty when the run made none.
func runBenchArgs(t *testing.T, ctx context.Context, args ...string) (int, *formatters.BenchReport, string) {
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
	rep := &formatters.BenchReport{}
	err := Run(ctx, o, env, formatters.NewPalette(false), func(r *formatters.BenchReport) error {
		rep = r
		return formatters.WriteBenchJSON(env.Stdout, r)
	})
	code, msg := runenv.ExitCode(err)
	if msg != "" {
		errOut.WriteString("fcgicli: " + msg + "\n")
	}
	if out.Len() > 0 && !json.Valid(out.Bytes()) {
		t.Fatalf("bad JSON:\n%s\nstderr: %s", out.String(), errOut.String())
	}
	return code, rep, errOut.String()
}

// serveFCGI serves h on 127.0.0.1 until the test ends and returns the
// address.
func serveFCGI(t *testing.T, h fcgiwire.HandlerFunc) string { return fcgitest.Serve(t, h) }

func okResponse(w *fcgiwire.ResponseWriter) {
	io.WriteString(w.Stdout(), "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nok\n")
}
