package fcgiwire

import (
	"context"
	"time"
)

// ReadTrailing reads records that arrive after a request ended, until the
// peer closes, wait passes or ctx ends. The records reach the observer and
// are otherwise ignored: it is for tools that show everything on the wire,
// including what an application should not have sent. The connection is
// not reusable afterwards.
func (c *Conn) ReadTrailing(ctx context.Context, wait time.Duration) {
	deadline := time.Now().Add(wait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c.broken = ErrConnBroken
	_ = c.nc.SetReadDeadline(deadline)
	for {
		if _, err := c.r.ReadRecord(); err != nil {
			return
		}
	}
}
