package fcgireq

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// TestSpool: a body read from a stream that is not a regular file is
// spooled to learn its size, to a temporary file, or to memory where there
// is no temporary directory (a scratch container has no /tmp).
func TestSpool(t *testing.T) {
	for _, tmpdir := range []string{t.TempDir(), filepath.Join(t.TempDir(), "none")} {
		t.Setenv("TMPDIR", tmpdir)
		b, err := openBody(context.Background(), "-d", "@-", strings.NewReader("name=fcgicli"))
		if err != nil {
			t.Fatalf("TMPDIR=%s: %v", tmpdir, err)
		}
		got, err := io.ReadAll(b.r)
		b.close()
		if err != nil || string(got) != "name=fcgicli" || b.size != 12 {
			t.Errorf("TMPDIR=%s: read %q, %v, size %d; want name=fcgicli and 12", tmpdir, got, err, b.size)
		}
	}
}
