package health

import (
	"context"
	"time"

	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/commands/fpmstatus"
	"github.com/fcgicli/fcgicli/commands/runenv"
)

// Reading is one refresh of a watch: the page, or the error that stands
// for it, when it was read, and the last page read before it (nil at
// first) with its time.
type Reading struct {
	Status     *fpmstatus.Status
	Err        error
	At         time.Time
	Previous   *fpmstatus.Status
	PreviousAt time.Time
}

// Watch reads the status page at uri every interval and hands each
// reading to show, its numbers the process list's when it has one
// (Reconcile), until ctx ends (nil: Ctrl-C ends a watch well) or
// count readings were shown (count 0: never). A failed read is handed on
// and the watch goes on. After count readings the result is the last
// one's: a *runenv.CodeError with its exit code and no message (show
// reports the failure), so that a watch whose last read failed is never
// a false healthy. An error from show ends the watch with it.
func Watch(ctx context.Context, net fcgireq.NetOptions, uri string, interval time.Duration, count int, show func(*Reading) error) error {
	var prev *fpmstatus.Status
	var prevAt time.Time
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for n := 1; ; n++ {
		s, err := ReadStatus(ctx, net, uri)
		at := time.Now()
		if err == nil {
			Reconcile(s, 0) // the process list's numbers, as one reading shows
		}
		if ctx.Err() != nil {
			return nil
		}
		if err := show(&Reading{Status: s, Err: err, At: at, Previous: prev, PreviousAt: prevAt}); err != nil {
			return err
		}
		if s != nil {
			prev, prevAt = s, at
		}
		if count > 0 && n >= count {
			if err != nil {
				code, _ := runenv.ExitCode(err)
				return &runenv.CodeError{Code: code}
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
