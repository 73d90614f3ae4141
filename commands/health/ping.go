package health

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/commands/runenv"
)

// Pong is a ping page's answer: its CGI status, its body without a
// trailing newline, and how long it took.
type Pong struct {
	Status  int
	Body    string
	Elapsed time.Duration
	// Slow is set when the right answer came after the latency allowed.
	Slow bool
}

// Ping requests the ping page at path and checks that it answers 200 with
// expect, within maxLatency when it is not 0. A pool that answered
// something else, or too late, returns its Pong and a failed check (exit
// 1): Slow says which. One that could not be asked returns the error alone,
// a BusyError when it took the request but did not answer in time.
func Ping(ctx context.Context, net fcgireq.NetOptions, path, expect string, maxLatency time.Duration) (*Pong, error) {
	f, err := fcgireq.FetchPage(ctx, net, path)
	if err != nil {
		return nil, busyAfterConnect(f, err)
	}
	p := &Pong{Status: f.CGI.Status, Body: strings.TrimSuffix(string(f.Body), "\n"), Elapsed: f.Elapsed}
	if p.Status != 200 || p.Body != expect {
		return p, &runenv.CodeError{Code: runenv.ExitCheckFailed, Msg: "unhealthy"}
	}
	if maxLatency > 0 && p.Elapsed > maxLatency {
		p.Slow = true
		return p, &runenv.CodeError{Code: runenv.ExitCheckFailed, Msg: "slow"}
	}
	return p, nil
}

// Pinged is a target's ping: its answer, or the error that stands for it.
type Pinged struct {
	Target Target
	Pong   *Pong
	Err    error
}

// PingAll pings every target at once, each within net's deadlines, and
// returns the results in the targets' order. A pool from php-fpm's
// configuration has its own path and expected body; the others take path
// and expect.
func PingAll(ctx context.Context, net fcgireq.NetOptions, targets []Target, path, expect string, maxLatency time.Duration) []Pinged {
	out := make([]Pinged, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		out[i].Target = t
		if t.Err != nil {
			out[i].Err = t.Err
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			path, expect := path, expect
			if t.URI != "" {
				path, expect = t.URI, t.Expect
			}
			n := net
			n.Connect = t.Addr
			out[i].Pong, out[i].Err = Ping(ctx, n, path, expect, maxLatency)
		}()
	}
	wg.Wait()
	return out
}
