package commands

import (
	"context"
	"io"
	"testing"

	"github.com/fcgicli/fcgicli/fcgiwire"
)

// statusPage serves body as a status page (200, JSON) and returns the
// address.
func statusPage(t *testing.T, body string) string {
	return serveFCGI(t, func(ctx context.Context, w *fcgiwire.ResponseWriter, r *fcgiwire.ServerRequest) {
		io.WriteString(w.Stdout(), "Content-Type: application/json\r\n\r\n"+body)
	})
}

// TestStatusWrongType: a field of the wrong type fails the check (exit 1)
// with one short line naming the field, not encoding/json's message with
// the whole Go struct type.
func TestStatusWrongType(t *testing.T) {
	addr := statusPage(t, `{"pool":"www","accepted conn":1,"active processes":1,"processes":"x"}`)
	cliCase{"wrong type", []string{"status", "-c", addr, "-t", "5s"}, 1, "",
		`fcgicli: not a php-fpm status page: "processes" is a string, want a list; body "{\"pool\":\"www\",\"accepted conn\":1,\"active processes\":1,\"proces"...` + "\n"}.run(t)
}
