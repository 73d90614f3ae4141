package health

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/fcgicli/fcgicli/commands/fpmstatus"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire/fcgitest"
	"github.com/fcgicli/fcgicli/formatters"
)

// TestTargets: addresses stay as given, a glob becomes its matches in
// order (relative ones keep their ./), a glob that matches nothing is a
// target that cannot be connected to, and a bad address is a usage error.
func TestTargets(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"b.sock", "a.sock", "c.txt"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir)
	got, err := Targets([]string{"127.0.0.1:9000", dir + "/*.sock", "./*.sock", "unix:./none*.sock"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"127.0.0.1:9000", dir + "/a.sock", dir + "/b.sock", "./a.sock", "./b.sock", "unix:./none*.sock"}
	var addrs []string
	for _, tg := range got {
		addrs = append(addrs, tg.Addr)
	}
	if !reflect.DeepEqual(addrs, want) {
		t.Fatalf("addresses %q, want %q", addrs, want)
	}
	last := got[len(got)-1].Err
	if code, msg := runenv.ExitCode(last); code != runenv.ExitConnect || msg != "cannot connect to unix:./none*.sock: no socket matches" {
		t.Errorf("unmatched glob: exit %d %q", code, msg)
	}
	for _, tg := range got[:len(got)-1] {
		if tg.Err != nil {
			t.Errorf("%s: %v", tg.Addr, tg.Err)
		}
	}
	if _, err := Targets([]string{"/run/[.sock"}); err == nil {
		t.Error("a bad glob was accepted")
	} else if code, _ := runenv.ExitCode(err); code != runenv.ExitUsage {
		t.Errorf("bad glob: exit %d, want %d", code, runenv.ExitUsage)
	}
}

// TestReadPools: every pool is read, in the targets' order, each with its
// page or its error, a target's own failure kept.
func TestReadPools(t *testing.T) {
	a := page(t, `{"pool":"a","accepted conn":1,"active processes":1}`)
	b := page(t, `{"pool":"b","accepted conn":2,"active processes":1}`)
	notPage := answer(t, "Status: 404 Not Found\r\nContent-Type: text/html\r\n\r\nFile not found.\n")
	closed := fcgitest.Refused(t)
	unmatched := Target{Addr: "/none/*.sock", Err: errors.New("no socket matches")}
	results := ReadPools(context.Background(), netOpts(""), []Target{{Addr: a}, {Addr: closed}, unmatched, {Addr: notPage}, {Addr: b}}, "/status?json")
	if len(results) != 5 {
		t.Fatalf("%d results", len(results))
	}
	for i, want := range []struct {
		addr, pool string
		code       int
		msg        string
	}{
		{a, "a", 0, ""},
		{closed, "", runenv.ExitConnect, "cannot connect to " + closed + ": connection refused"},
		{"/none/*.sock", "", runenv.ExitCheckFailed, "no socket matches"},
		{notPage, "", runenv.ExitCheckFailed, `not a php-fpm status page: status 404, body "File not found."`},
		{b, "b", 0, ""},
	} {
		r := results[i]
		pool := ""
		if r.Status != nil {
			pool = r.Status.Pool
		}
		code, msg := runenv.ExitCode(r.Err)
		if r.Err == nil {
			code, msg = 0, ""
		}
		if r.Addr != want.addr || pool != want.pool || code != want.code || msg != want.msg {
			t.Errorf("pool %d: %s %q exit %d %q, want %s %q exit %d %q", i, r.Addr, pool, code, msg, want.addr, want.pool, want.code, want.msg)
		}
	}
}

// TestLimitsCheck: each threshold crossed is one failure with its line and
// its data; a ratio over 0 is a note instead.
func TestLimitsCheck(t *testing.T) {
	s := &fpmstatus.Status{Pool: "www", ListenQueue: 3, ListenQueueLen: 0, IdleProcesses: 0, ActiveProcesses: 4, TotalProcesses: 4, SlowRequests: 2, MaxChildrenReached: 1}
	l := Limits{MaxListenQueue: i64(2), MinIdle: i64(1), MaxActive: i64(4), MaxSlow: i64(1), MaxChildren: i64(0),
		MaxListenQueueRatio: f64(0.5), MaxActiveRatio: f64(0.9)}
	failures, notes := l.Check(s, nil)
	var lines []string
	for _, f := range failures {
		lines = append(lines, f.Line)
	}
	wantLines := []string{
		"listen queue is 3, above --max-listen-queue 2",
		"slow requests is 2, above --max-slow-requests 1",
		"max children reached is 1, above --max-children-reached 0",
		"idle processes is 0, below --min-idle 1",
		"active ratio is 1.00 (4 of 4), above --max-active-ratio 0.9",
	}
	if !reflect.DeepEqual(lines, wantLines) {
		t.Errorf("lines:\n%q\nwant\n%q", lines, wantLines)
	}
	wantChecks := []formatters.FailedCheck{{Name: "max-listen-queue", Value: 3, Bound: 2}, {Name: "max-slow-requests", Value: 2, Bound: 1},
		{Name: "max-children-reached", Value: 1, Bound: 0}, {Name: "min-idle", Value: 0, Bound: 1}, {Name: "max-active-ratio", Value: 1, Bound: 0.9}}
	if got := FailedChecks(failures); !reflect.DeepEqual(got, wantChecks) {
		t.Errorf("checks %+v, want %+v", got, wantChecks)
	}
	wantNotes := []string{"listen queue len is 0 (php-fpm reports 0 for unix socket pools): --max-listen-queue-ratio skipped"}
	if !reflect.DeepEqual(notes, wantNotes) {
		t.Errorf("notes %q, want %q", notes, wantNotes)
	}
	if got := FailedChecks(nil); got == nil || len(got) != 0 {
		t.Errorf("FailedChecks(nil) = %#v, want an empty list", got)
	}
}

// TestLimitsDelta: the -delta checks compare with the state file's reading
// of the same pool; a restart counts from 0.
func TestLimitsDelta(t *testing.T) {
	l := Limits{MaxChildrenDelta: i64(0), MaxSlowDelta: i64(1)}
	s := &fpmstatus.Status{Pool: "www", StartTime: 100, MaxChildrenReached: 5, SlowRequests: 3}
	for _, c := range []struct {
		name  string
		prev  *State
		lines []string
		notes []string
	}{
		{"first", nil, nil, []string{"no earlier reading in the state file yet: the -delta checks start with the next run"}},
		{"other pool", &State{Pool: "api", StartTime: 100}, nil,
			[]string{`the state file holds a reading of pool "api", not "www": the -delta checks start again with the next run`}},
		{"grew", &State{Pool: "www", StartTime: 100, MaxChildrenReached: 4, SlowRequests: 1},
			[]string{"max children reached grew by 1 since the last run, above --max-children-reached-delta 0",
				"slow requests grew by 2 since the last run, above --max-slow-requests-delta 1"}, nil},
		{"same", &State{Pool: "www", StartTime: 100, MaxChildrenReached: 5, SlowRequests: 2}, nil, nil},
		{"restarted", &State{Pool: "www", StartTime: 50, MaxChildrenReached: 9, SlowRequests: 0},
			[]string{"max children reached grew by 5 since the last run, above --max-children-reached-delta 0",
				"slow requests grew by 3 since the last run, above --max-slow-requests-delta 1"}, nil},
	} {
		failures, notes := l.Check(s, c.prev)
		var lines []string
		for _, f := range failures {
			lines = append(lines, f.Line)
		}
		if !reflect.DeepEqual(lines, c.lines) || !reflect.DeepEqual(notes, c.notes) {
			t.Errorf("%s: lines %q notes %q, want %q %q", c.name, lines, notes, c.lines, c.notes)
		}
	}
}

// TestState: a missing file is no reading; a saved reading loads back; a
// file fcgicli did not write is an error naming it.
func TestState(t *testing.T) {
	name := filepath.Join(t.TempDir(), "fpm.state")
	if s, err := LoadState(name); s != nil || err != nil {
		t.Fatalf("missing file: %v %v", s, err)
	}
	if err := SaveState(name, &fpmstatus.Status{Pool: "www", StartTime: 7, AcceptedConn: 8, MaxChildrenReached: 9, SlowRequests: 10}); err != nil {
		t.Fatal(err)
	}
	s, err := LoadState(name)
	if err != nil {
		t.Fatal(err)
	}
	s.ReadAt = 0
	if want := (State{Pool: "www", StartTime: 7, AcceptedConn: 8, MaxChildrenReached: 9, SlowRequests: 10}); *s != want {
		t.Errorf("loaded %+v, want %+v", *s, want)
	}
	if err := os.WriteFile(name, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = LoadState(name)
	if code, msg := runenv.ExitCode(err); code != runenv.ExitUsage || msg != "--state-file "+name+": not a state file fcgicli wrote: invalid character 'x' looking for beginning of value" {
		t.Errorf("bad file: exit %d %q", code, msg)
	}
	// A file that never ends is not read until memory runs out.
	_, err = LoadState("/dev/zero")
	if code, msg := runenv.ExitCode(err); code != runenv.ExitUsage || msg != "--state-file /dev/zero: not a state file fcgicli wrote: over 64 KiB" {
		t.Errorf("/dev/zero: exit %d %q", code, msg)
	}
	dir := filepath.Join(filepath.Dir(name), "dir")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = LoadState(dir)
	if code, msg := runenv.ExitCode(err); code != runenv.ExitUsage || msg != "--state-file "+dir+": cannot read it: is a directory" {
		t.Errorf("a directory: exit %d %q", code, msg)
	}
	missing := filepath.Join(dir, "no", "such.state")
	err = SaveState(missing, &fpmstatus.Status{})
	if code, msg := runenv.ExitCode(err); code != runenv.ExitUsage || msg != "--state-file "+missing+": cannot write it: no such file or directory" {
		t.Errorf("no directory: exit %d %q", code, msg)
	}
}

// TestPing: pong is healthy; another body or status is a failed check that
// still carries the answer; a pool that cannot be reached has no answer.
func TestPing(t *testing.T) {
	pong := answer(t, "Content-Type: text/plain\r\n\r\npong\n")
	p, err := Ping(context.Background(), netOpts(pong), "/ping", "pong", 0)
	if err != nil || p.Status != 200 || p.Body != "pong" {
		t.Errorf("pong: %+v %v", p, err)
	}
	p, err = Ping(context.Background(), netOpts(pong), "/ping", "ok", 0)
	if code, _ := runenv.ExitCode(err); code != runenv.ExitCheckFailed || p == nil || p.Body != "pong" {
		t.Errorf("wrong body: %+v %v", p, err)
	}
	closed := fcgitest.Refused(t)
	p, err = Ping(context.Background(), netOpts(closed), "/ping", "pong", 0)
	if code, _ := runenv.ExitCode(err); code != runenv.ExitConnect || p != nil {
		t.Errorf("refused: %+v %v", p, err)
	}
}

// TestWorse: an interrupt, then 3 to 7 in the table's order, then a failed
// check, then success.
func TestWorse(t *testing.T) {
	order := []int{runenv.ExitInterrupted, runenv.ExitConnect, runenv.ExitTimeout, runenv.ExitProtocol, runenv.ExitRefused, runenv.ExitAppStatus, runenv.ExitCheckFailed, runenv.ExitOK}
	for i, a := range order {
		for _, b := range order[i:] {
			if Worse(a, b) != a || Worse(b, a) != a {
				t.Errorf("Worse(%d, %d) = %d, Worse(%d, %d) = %d, want %d", a, b, Worse(a, b), b, a, Worse(b, a), a)
			}
		}
	}
}

// TestBusy: a pool that took the request but gave no answer in time is
// busy (still a timeout, exit 4); one that refused the connection is not.
// ForgiveBusy lets it pass, and turns the failed checks of a pool with a
// listen queue into a note.
func TestBusy(t *testing.T) {
	silent, _ := fcgitest.Silent(t, 2*time.Second)
	o := netOpts(silent)
	o.Timeout = 100 * time.Millisecond
	_, err := ReadStatus(context.Background(), o, "/status")
	if code, msg := runenv.ExitCode(err); !IsBusy(err) || code != runenv.ExitTimeout || msg != "timed out after 100ms (--timeout)" {
		t.Errorf("silent pool: busy %v, exit %d %q", IsBusy(err), code, msg)
	}
	if p, err := Ping(context.Background(), o, "/ping", "pong", 0); p != nil || !IsBusy(err) {
		t.Errorf("silent pool, ping: %+v %v", p, err)
	}
	_, err = ReadStatus(context.Background(), netOpts(fcgitest.Refused(t)), "/status")
	if IsBusy(err) {
		t.Errorf("a refused connection is busy: %v", err)
	}
	r := &PoolResult{Target: Target{Err: &BusyError{Err: err}}}
	r.ForgiveBusy()
	if !r.Busy {
		t.Error("a BusyError was not forgiven")
	}
	queued := &fpmstatus.Status{ListenQueue: 2}
	r = &PoolResult{Status: queued}
	Limits{MaxListenQueue: i64(0), MinIdle: i64(1)}.CheckResult(r, nil)
	r.ForgiveBusy()
	want := []string{"busy (listen queue 2: no child is free), passes with --busy-ok: listen queue is 2, above --max-listen-queue 0; idle processes is 0, below --min-idle 1"}
	if !r.Busy || len(r.Failures) != 0 || !reflect.DeepEqual(r.Notes, want) {
		t.Errorf("listen queue: busy %v, failures %v, notes %q", r.Busy, r.Failures, r.Notes)
	}
	r = &PoolResult{Status: &fpmstatus.Status{}}
	Limits{MinIdle: i64(1)}.CheckResult(r, nil)
	r.ForgiveBusy()
	if r.Busy || len(r.Failures) != 1 {
		t.Errorf("no listen queue: busy %v, failures %v", r.Busy, r.Failures)
	}
}

// TestStateConcurrentSaves: runs that overlap (cron starting one before
// the last ended) each save the state file whole, and leave nothing else
// in its directory.
func TestStateConcurrentSaves(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "fpm.state")
	var wg sync.WaitGroup
	errs := make(chan error, 8*50)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				errs <- SaveState(name, &fpmstatus.Status{Pool: "www", AcceptedConn: int64(i)})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := LoadState(name); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "fpm.state" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("left in the directory: %v, want only fpm.state", names)
	}
}

// TestStateSaveOverDirectory: a state file that is a directory cannot be
// written: exit 2 naming it once, and no temporary file left beside it.
func TestStateSaveOverDirectory(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "fpm.state")
	if err := os.Mkdir(name, 0o755); err != nil {
		t.Fatal(err)
	}
	err := SaveState(name, &fpmstatus.Status{Pool: "www"})
	if code, msg := runenv.ExitCode(err); code != runenv.ExitUsage || msg != "--state-file "+name+": cannot write it: file exists" {
		t.Errorf("exit %d %q", code, msg)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d entries left in the directory, want the state file's alone", len(entries))
	}
}
