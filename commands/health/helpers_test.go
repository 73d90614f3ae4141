package health

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/fcgiwire/fcgitest"
)

// page serves body as a status page (200, JSON) until the test ends and
// returns the address.
func page(t *testing.T, body string) string {
	return fcgitest.Serve(t, fcgiwire.HandlerFunc(func(ctx context.Context, w *fcgiwire.ResponseWriter, r *fcgiwire.ServerRequest) {
		io.WriteString(w.Stdout(), "Content-Type: application/json\r\n\r\n"+body)
	}))
}

// answer serves a fixed CGI response until the test ends and returns the
// address.
func answer(t *testing.T, response string) string {
	return fcgitest.Serve(t, fcgiwire.HandlerFunc(func(ctx context.Context, w *fcgiwire.ResponseWriter, r *fcgiwire.ServerRequest) {
		io.WriteString(w.Stdout(), response)
	}))
}

// netOpts are generous deadlines for a test's reads.
func netOpts(addr string) fcgireq.NetOptions {
	return fcgireq.NetOptions{Connect: addr, ConnectTimeout: 5 * time.Second, Timeout: 30 * time.Second}
}

func i64(v int64) *int64 { return &v }

func f64(v float64) *float64 { return &v }
