package echo

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/fcgicli/fcgicli/commands/netio"
	"github.com/fcgicli/fcgicli/fcgiwire"
)

// Serving is a run of 'fcgicli serve': the responder, where it listens,
// and the limits and deadlines of its connections.
type Serving struct {
	Responder       *Responder
	Addrs           []fcgiwire.Addr
	SocketMode      os.FileMode // of a unix socket; 0 leaves the umask's
	Limits          Limits
	Deadlines       netio.Deadlines
	ShutdownTimeout time.Duration // how long requests in flight may finish
}

// Run listens on every address and serves until ctx ends (a clean stop,
// nil) or a listener fails. Its log lines go to log, each prefixed
// "fcgicli: serve: ".
func (s *Serving) Run(ctx context.Context, log io.Writer) error {
	var logMu sync.Mutex
	logf := func(line string) {
		logMu.Lock()
		defer logMu.Unlock()
		fmt.Fprintf(log, "fcgicli: serve: %s\n", line)
	}
	srv := NewServer(s.Responder, logf, s.Limits)
	srv.ReadTimeout, srv.IdleTimeout = s.Deadlines.Read, s.Deadlines.Idle
	listeners, err := netio.ListenAll(s.Addrs, s.SocketMode)
	if err != nil {
		return err
	}
	errc := make(chan error, len(listeners))
	for _, l := range listeners {
		logf("listening on " + netio.ListenerAddr(l))
		go func() { errc <- srv.Serve(l) }()
	}
	for _, f := range s.Responder.Faults {
		logf(fmt.Sprintf("fault %s with probability %g: %s", f.Kind, f.Prob, FaultKinds()[f.Kind]))
	}
	select {
	case <-ctx.Done():
		logf("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), s.ShutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			logf("shutdown: requests still in flight after " + s.ShutdownTimeout.String())
		}
		return nil
	case err := <-errc:
		sctx, cancel := context.WithTimeout(context.Background(), s.ShutdownTimeout)
		defer cancel()
		_ = srv.Shutdown(sctx)
		return fmt.Errorf("serve: %w", err)
	}
}
