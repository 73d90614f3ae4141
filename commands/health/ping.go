package health

import (
	"context"
	"strings"
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
}

// Ping requests the ping page at path and checks that it answers 200 with
// expect. A pool that answered something else returns its Pong and a
// failed check (exit 1); one that could not be asked returns the error
// alone.
func Ping(ctx context.Context, net fcgireq.NetOptions, path, expect string) (*Pong, error) {
	f, err := fcgireq.FetchPage(ctx, net, path)
	if err != nil {
		return nil, err
	}
	p := &Pong{Status: f.CGI.Status, Body: strings.TrimSuffix(string(f.Body), "\n"), Elapsed: f.Elapsed}
	if p.Status != 200 || p.Body != expect {
		return p, &runenv.CodeError{Code: runenv.ExitCheckFailed, Msg: "unhealthy"}
	}
	return p, nil
}
