package commands

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
)

// benchJSONReport is the part of bench's JSON the tests read.
type benchJSONReport struct {
	Succeeded    int64 `json:"succeeded"`
	ExpectFailed int64 `json:"expect_failed"`
}

// runBenchCLI runs "fcgicli bench ARGS -o json" in-process and returns
// its exit code, report and stderr.
func runBenchCLI(t *testing.T, ctx context.Context, args ...string) (int, *benchJSONReport, string) {
	t.Helper()
	var out, errOut strings.Builder
	env := &runenv.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut,
		Getenv: func(string) string { return "" }, Environ: func() []string { return nil }}
	code := RunEnv(ctx, env, append([]string{"fcgicli", "bench", "-o", "json"}, args...))
	var rep benchJSONReport
	if out.Len() > 0 {
		if err := json.Unmarshal([]byte(out.String()), &rep); err != nil {
			t.Fatalf("bad JSON (%v):\n%s\nstderr: %s", err, out.String(), errOut.String())
		}
	}
	return code, &rep, errOut.String()
}

// TestBenchBodyReplayed sends a body with every request, from memory and
// from a file larger than the 1 MiB a replayed body keeps in memory: the echo responder's hash of it
// must be the same each time, with CONTENT_LENGTH its size.
func TestBenchBodyReplayed(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.bin")
	b := make([]byte, 1<<20+12345)
	for i := range b {
		b[i] = byte(i * 7)
	}
	if err := os.WriteFile(big, b, 0o644); err != nil {
		t.Fatal(err)
	}
	bigSum, bigLen, _ := hashFile(t, big)
	for _, c := range []struct{ data, expect string }{
		{"a=1&b=2", "stdin_bytes: 7\n"},
		{"@" + big, fmt.Sprintf("CONTENT_LENGTH=%d\n", bigLen)},
		{"@" + big, "stdin_sha256: " + bigSum + "\n"},
	} {
		code, rep, stderr := runBenchCLI(t, context.Background(), "-c", "builtin", "/x", "-d", c.data, "-n", "6", "-C", "2", "--expect", c.expect)
		if code != 0 || rep.Succeeded != 6 || rep.ExpectFailed != 0 {
			t.Fatalf("-d %s --expect %q: exit %d, report %+v, stderr %s", c.data, c.expect, code, rep, stderr)
		}
	}
}

func hashFile(t *testing.T, name string) (string, int64, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), int64(len(b)), nil
}

func TestBenchUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"-C", "0"}, "-C must be at least 1"},
		{[]string{"-C", "65536"}, "fcgicli: -C must be at most 65535, got 65536\n"},
		{[]string{"-C", "100000000"}, "fcgicli: -C must be at most 65535, got 100000000\n"},
		{[]string{"-n", "0"}, "-n must be at least 1"},
		{[]string{"-z", "0s"}, "-z must be more than 0"},
		{[]string{"--rate", "-1"}, "--rate cannot be negative"},
		{[]string{"--request-timeout", "0s"}, "--request-timeout must be more than 0"},
		{[]string{"--cpus", "0"}, "--cpus must be at least 1, got 0"},
		{[]string{"-o", "table"}, `unknown output format "table" (known: text, json)`},
	} {
		code, _, stderr := runBenchCLI(t, context.Background(), append([]string{"-c", "builtin", "/x"}, c.args...)...)
		if code != runenv.ExitUsage || !strings.Contains(stderr, c.msg) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, stderr, c.msg)
		}
	}
}

// TestBenchUsesProcs: a run has the GOMAXPROCS --cpus asks for while it
// runs, and the one from before after it.
func TestBenchUsesProcs(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	want := before + 1
	var seen atomic.Int64
	addr := serveFCGI(t, func(ctx context.Context, w *fcgiwire.ResponseWriter, r *fcgiwire.ServerRequest) {
		seen.Store(int64(runtime.GOMAXPROCS(0)))
		okResponse(w)
	})
	code, rep, stderr := runBenchCLI(t, context.Background(), "-c", addr, "/x", "-n", "3", "--cpus", strconv.Itoa(want))
	if code != 0 || rep.Succeeded != 3 {
		t.Fatalf("exit %d, report %+v, stderr %s", code, rep, stderr)
	}
	if got := seen.Load(); got != int64(want) {
		t.Errorf("GOMAXPROCS during the run = %d, want %d", got, want)
	}
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Errorf("GOMAXPROCS after the run = %d, want %d as before", got, before)
	}
}

func TestBenchFlagsAfterScript(t *testing.T) {
	app := newApp(&runenv.Env{Getenv: func(string) string { return "" }})
	got := reorderArgs(app, strings.Fields("fcgicli bench /x -C 4 -n 10 --no-keep-conn -z 1s"))
	want := strings.Fields("fcgicli bench -C 4 -n 10 --no-keep-conn -z 1s /x")
	if !slices.Equal(got, want) {
		t.Fatalf("reorderArgs = %q, want %q", got, want)
	}
}

// TestBenchSetupStops: -t and Ctrl-C end a run while it sets up its -C
// connections, before the worker of each is made: with the most -C
// allows and a context that has ended, bench exits 130 or 4 at once,
// having allocated a few of the 65535 workers at most (each is a KiB or
// more), with no report, for nothing was run.
func TestBenchSetupStops(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var accepted atomic.Int64
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		ctx  context.Context
		args []string
		code int
		msg  string
	}{
		{cancelled, nil, runenv.ExitInterrupted, "fcgicli: interrupted\n"},
		{context.Background(), []string{"-t", "1ns"}, runenv.ExitTimeout, "fcgicli: timed out after 1ns (--timeout)\n"},
	} {
		var out, errOut strings.Builder
		env := &runenv.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut,
			Getenv: func(string) string { return "" }, Environ: func() []string { return nil }}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		code := RunEnv(c.ctx, env, append([]string{"fcgicli", "bench", "-c", l.Addr().String(), "/x", "-C", "65535", "-n", "1"}, c.args...))
		runtime.ReadMemStats(&after)
		if code != c.code || errOut.String() != c.msg || out.Len() != 0 {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want %d and %q", c.args, code, errOut.String(), out.String(), c.code, c.msg)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 16<<20 {
			t.Errorf("%v: allocated %d MiB before stopping", c.args, n>>20)
		}
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("%d connections made after the run had ended", n)
	}
}
