package health

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/fcgicli/fcgicli/commands/fpmstatus"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/formatters"
)

func TestPerfNames(t *testing.T) {
	got := perfNames([]string{"www", "www", "api", ""}, []string{"/a.sock", "/b.sock", "/c.sock", "127.0.0.1:9000"})
	want := []string{"/a.sock", "/b.sock", "api", "127.0.0.1:9000"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("perfNames = %q, want %q", got, want)
	}
}

func TestStatusVerdict(t *testing.T) {
	ok := PoolResult{Target: Target{Addr: "/a.sock"}, Status: &fpmstatus.Status{Pool: "www", ActiveProcesses: 1, IdleProcesses: 3, TotalProcesses: 4}}
	down := PoolResult{Target: Target{Addr: "/b.sock", Err: errors.New("no such socket")}}
	failed := ok
	failed.Failures = []Failure{{Line: "active processes is 1, above --max-active 0"}}

	v := StatusVerdict([]PoolResult{ok}, Limits{}, false)
	if v.State != formatters.NagiosOK || v.Summary != "pool www: 1 active, 3 idle, 4 total, listen queue 0" || len(v.Perf) != 7 || v.Perf[0].Label != "active" {
		t.Errorf("one pool: %+v", v)
	}
	v = StatusVerdict([]PoolResult{ok, ok}, Limits{}, true)
	if v.State != formatters.NagiosOK || v.Summary != "2 pools OK" || v.Perf[0].Label != "/a.sock_active" {
		t.Errorf("two pools of one name: %+v", v)
	}
	v = StatusVerdict([]PoolResult{failed, down}, Limits{}, true)
	if v.State != formatters.NagiosCritical || v.Summary != "/a.sock: active processes is 1, above --max-active 0; /b.sock: no such socket" {
		t.Errorf("a failed check and a pool down: %+v", v)
	}
}

func TestPingVerdict(t *testing.T) {
	pong := &Pong{Status: 200, Body: "pong", Elapsed: 3 * time.Millisecond}
	slow := &Pong{Status: 200, Body: "pong", Elapsed: 2 * time.Second, Slow: true}
	v := PingVerdict([]Pinged{{Target: Target{Addr: "/a.sock"}, Pong: pong}}, time.Second, false)
	if v.State != formatters.NagiosOK || v.Summary != "pong in 3.00ms" || v.Perf[0].Label != "time" || v.Perf[0].Crit != "1" {
		t.Errorf("one pool: %+v", v)
	}
	v = PingVerdict([]Pinged{
		{Target: Target{Addr: "/a.sock"}, Pong: pong},
		{Target: Target{Addr: "/b.sock"}, Pong: slow, Err: &runenv.CodeError{Code: runenv.ExitCheckFailed, Msg: "slow"}},
	}, time.Second, false)
	if v.State != formatters.NagiosCritical || v.Summary != "/b.sock: pong in 2000.00ms, slower than --max-latency 1s" {
		t.Errorf("a slow pool: %+v", v)
	}
}
