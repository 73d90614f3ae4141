package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fcgicli/fcgicli/commands"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
)

// soakBound bounds every wait of the soak: generous, for a busy 2-core
// machine under -race. Nothing is asserted about how long things take.
const soakBound = 30 * time.Second

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count open files: %v", err)
	}
	return len(ents)
}

// pollUntil polls cond until it holds or soakBound passes, and reports
// whether it held.
func pollUntil(cond func() bool) bool {
	for deadline := time.Now().Add(soakBound); ; time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// fcgicliGoroutines returns the stacks of the goroutines running
// fcgicli's own code (fcgiwire or commands).
func fcgicliGoroutines() []string {
	buf := make([]byte, 8<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "fcgicli/fcgiwire.") || strings.Contains(g, "fcgicli/commands.") {
			out = append(out, g)
		}
	}
	return out
}

// TestServeSoak runs fcgicli serve in-process under 1,000 hostile
// connections (stalls mid-header and mid-params, idle connections, floods
// of requests, params and junk records, early aborts, FILTERs with DATA
// before STDIN, management answers, GET_VALUES for 3,800 names, abrupt
// closes), half of them waiting for the server's answer or close and half
// closing abruptly, while a normal request is sent again and again: every
// normal request must succeed. Once the hostile clients are gone the
// goroutines and open files must come back to where they were with serve
// idle, and the graceful stop that SIGTERM gives (its context ending) must
// exit 0 and leave no goroutine of serve's behind.
func TestServeSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test")
	}
	sock := filepath.Join(t.TempDir(), "soak.sock")
	var stdout, stderr runenv.LockedWriter
	env := &runenv.Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
		Getenv: func(string) string { return "" }, Environ: func() []string { return nil }}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	exited := make(chan int, 1)
	go func() {
		exited <- commands.RunEnv(ctx, env, []string{"fcgicli", "serve", "--listen", sock,
			"--read-timeout", "2s", "--idle-timeout", "1s", "--max-conns", "4096", "--max-reqs", "65535", "-o", "json"})
	}()
	if !pollUntil(func() bool {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
		}
		return err == nil
	}) {
		t.Fatalf("serve never listened; stderr:\n%s", stderr.String())
	}
	// serve idle, with the connection just made gone.
	var baseG, baseFD int
	pollUntil(func() bool {
		baseG, baseFD = runtime.NumGoroutine(), openFDs(t)
		return len(fcgicliGoroutines()) <= 2 // the accept loop and RunEnv
	})

	var normalOK atomic.Int64
	normalErr := make(chan error, 1)
	stopNormal := make(chan struct{})
	normalDone := make(chan struct{})
	go func() {
		defer close(normalDone)
		for i := 0; ; i++ {
			select {
			case <-stopNormal:
				return
			default:
			}
			err := normalRequest(sock, i)
			if err != nil {
				normalErr <- err
				return
			}
			normalOK.Add(1)
		}
	}()

	kinds := []string{"stall-header", "stall-params", "idle", "filter-misorder", "abort-early", "mgmt-answers", "values-many", "flood", "close-mid"}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 250)
	var failures sync.Map
	for i := range 1000 {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			kind, wait := kinds[i%len(kinds)], i%2 == 0
			if out, err := hostileClient("unix", sock, kind, wait, soakBound); err != nil {
				failures.Store(fmt.Sprintf("%s (wait %v)", kind, wait), fmt.Sprintf("%s: %v", out, err))
			}
		}()
	}
	wg.Wait()
	close(stopNormal)
	<-normalDone
	failures.Range(func(k, v any) bool {
		t.Errorf("hostile client %s: %s", k, v)
		return true
	})
	select {
	case err := <-normalErr:
		t.Fatalf("a normal request failed during the soak, after %d succeeded: %v", normalOK.Load(), err)
	default:
	}
	if normalOK.Load() == 0 {
		t.Fatal("no normal request was made")
	}
	if err := normalRequest(sock, -1); err != nil {
		t.Fatalf("a normal request after the soak: %v", err)
	}

	var g, fd int
	if !pollUntil(func() bool {
		g, fd = runtime.NumGoroutine(), openFDs(t)
		return g <= baseG && fd <= baseFD
	}) {
		t.Errorf("after the hostile connections closed: %d goroutines (%d before), %d open files (%d before); fcgicli's goroutines:\n%s",
			g, baseG, fd, baseFD, strings.Join(fcgicliGoroutines(), "\n\n"))
	}

	stop() // what SIGTERM does
	select {
	case code := <-exited:
		if code != 0 {
			t.Errorf("serve exited %d after the graceful stop; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(soakBound):
		t.Fatalf("serve still running %s after the graceful stop", soakBound)
	}
	if !pollUntil(func() bool { return len(fcgicliGoroutines()) == 0 }) {
		t.Errorf("goroutines left after serve stopped:\n%s", strings.Join(fcgicliGoroutines(), "\n\n"))
	}
	if strings.Contains(stderr.String(), "panic") {
		t.Errorf("serve's log:\n%s", stderr.String())
	}
}

// normalRequest sends one well-formed request on a connection of its own
// and requires the echo's complete answer.
func normalRequest(sock string, i int) error {
	nc, err := net.DialTimeout("unix", sock, soakBound)
	if err != nil {
		return err
	}
	c := fcgiwire.NewConn(nc)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), soakBound)
	defer cancel()
	var out bytes.Buffer
	uri := fmt.Sprintf("/normal/%d", i)
	res, err := c.Do(ctx, &fcgiwire.Request{
		Params: []fcgiwire.Pair{{Name: "REQUEST_METHOD", Value: "POST"}, {Name: "REQUEST_URI", Value: uri}},
		Stdin:  strings.NewReader("body"), Stdout: &out,
	})
	switch {
	case err != nil:
		return err
	case !res.Ended || res.ProtocolStatus != fcgiwire.RequestComplete || res.AppStatus != 0:
		return fmt.Errorf("result %+v", res)
	case !strings.Contains(out.String(), uri):
		return fmt.Errorf("answer %q lacks %s", out.String(), uri)
	}
	return nil
}
