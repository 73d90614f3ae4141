package version

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestBuild(t *testing.T) {
	target := runtime.GOOS + "/" + runtime.GOARCH
	vcs := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v0.0.0-20261207220000-0123456789ab+dirty"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef"}, {Key: "vcs.time", Value: "2026-12-07T22:00:00Z"}, {Key: "vcs.modified", Value: "true"},
	}}
	for _, c := range []struct {
		name                  string
		version, commit, date string
		bi                    *debug.BuildInfo
		want                  string
	}{
		{"stamped", "v0.1.0", "fedcba9876543210", "2026-12-01T10:00:00Z", vcs,
			"fcgicli v0.1.0 (commit fedcba9876543210, 2026-12-01T10:00:00Z, go1.26.0 " + target + ")"},
		{"go build in a changed checkout", "", "", "", vcs,
			"fcgicli v0.0.0-20261207220000-0123456789ab+dirty (commit 0123456789abcdef+dirty, 2026-12-07T22:00:00Z, go1.26.0 " + target + ")"},
		{"go install module@version", "", "", "", &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "v0.1.0"}},
			"fcgicli v0.1.0 (commit unknown, unknown, go1.26.1 " + target + ")"},
		{"-buildvcs=false", "", "", "", &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "(devel)"}},
			"fcgicli devel (commit unknown, unknown, go1.26.1 " + target + ")"},
		{"only the version stamped", "v0.2.0", "", "", vcs,
			"fcgicli v0.2.0 (commit 0123456789abcdef+dirty, 2026-12-07T22:00:00Z, go1.26.0 " + target + ")"},
		{"no build info", "", "", "", nil,
			"fcgicli unknown (commit unknown, unknown, " + runtime.Version() + " " + target + ")"},
	} {
		if got := build(c.version, c.commit, c.date, c.bi).Line(); got != c.want {
			t.Errorf("%s:\ngot  %q\nwant %q", c.name, got, c.want)
		}
	}
}

// TestStampedBinary builds the real binary as the release does, with
// -ldflags -X, and with no stamp and -buildvcs=false, and runs both.
func TestStampedBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	target := runtime.GOOS + "/" + runtime.GOARCH
	pkg := "github.com/fcgicli/fcgicli/commands/version"
	for _, c := range []struct {
		name string
		args []string
		want string // the line up to the Go release
	}{
		{"stamped", []string{"-ldflags", "-X " + pkg + ".version=v9.8.7 -X " + pkg + ".commit=abc -X " + pkg + ".date=2026-12-01T10:00:00Z"},
			"fcgicli v9.8.7 (commit abc, 2026-12-01T10:00:00Z, "},
		{"plain", nil, "fcgicli devel (commit unknown, unknown, "},
	} {
		bin := filepath.Join(dir, c.name)
		// The flags of scripts/release.sh, whose build CI makes first, so
		// that only the link is left to do here.
		args := append([]string{"build", "-trimpath", "-buildvcs=false", "-tags", "urfave_cli_no_docs", "-o", bin}, c.args...)
		build := exec.Command(goTool, append(args, ".")...)
		build.Dir = root
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("%s: go build: %v\n%s", c.name, err, out)
		}
		var lines []string
		for _, args := range [][]string{{"version"}, {"--version"}, {"-V"}, {"--color", "never", "-V", "request", "/x"}} {
			out, err := exec.Command(bin, args...).Output()
			if err != nil {
				t.Fatalf("%s: fcgicli %s: %v", c.name, strings.Join(args, " "), err)
			}
			lines = append(lines, string(out))
		}
		got := lines[0]
		if !strings.HasPrefix(got, c.want) || !strings.HasSuffix(got, " "+target+")\n") || strings.Count(got, "\n") != 1 {
			t.Errorf("%s: fcgicli version printed %q, want %q... %s)", c.name, got, c.want, target)
		}
		for i, l := range lines[1:] {
			if l != got {
				t.Errorf("%s: run %d printed %q, fcgicli version %q", c.name, i+1, l, got)
			}
		}
	}
}
