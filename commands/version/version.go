// Package version owns what fcgicli says about its own build: the version,
// commit and date a release build stamps into the binary with the linker,
// or, for a plain "go build" or "go install", what Go recorded in the
// binary's build info. "fcgicli version" and "fcgicli --version" print
// its Line.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set by release builds (scripts/release.sh) with
//
//	-ldflags "-X github.com/fcgicli/fcgicli/commands/version.version=v0.1.0 ..."
//
// and empty otherwise. Variables, not constants, for the linker's sake;
// nothing in the program assigns them.
var (
	version string // the release, as tagged: v0.1.0
	commit  string // the full commit hash the release was built from
	date    string // the commit's time, RFC 3339 in UTC
)

// Info is what a binary knows of its build. A field nobody recorded is
// "unknown".
type Info struct {
	Version string // v0.1.0; a pseudo-version or "devel" for a build from a checkout
	Commit  string // the commit hash, "+dirty" when the checkout had changes
	Date    string // the commit's time
	Go      string // the Go release that built the binary: go1.26.0
	OS      string // the target, as GOOS
	Arch    string // the target, as GOARCH
}

// Get returns the stamped values, falling back to the build info for each
// one not stamped. It reads the build info on every call: only the
// version command and flag call it.
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	return build(version, commit, date, bi)
}

// build is Get with its inputs given, for tests; bi may be nil (a binary
// built without module support).
func build(version, commit, date string, bi *debug.BuildInfo) Info {
	in := Info{Version: version, Commit: commit, Date: date, Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if bi != nil {
		if bi.GoVersion != "" {
			in.Go = bi.GoVersion
		}
		if in.Version == "" {
			in.Version = bi.Main.Version
			if in.Version == "(devel)" {
				in.Version = "devel"
			}
		}
		dirty := false
		vcsCommit, vcsTime := "", ""
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				vcsCommit = s.Value
			case "vcs.time":
				vcsTime = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if in.Commit == "" && vcsCommit != "" {
			in.Commit = vcsCommit
			if dirty {
				in.Commit += "+dirty"
			}
		}
		if in.Date == "" {
			in.Date = vcsTime
		}
	}
	for _, f := range []*string{&in.Version, &in.Commit, &in.Date} {
		if *f == "" {
			*f = "unknown"
		}
	}
	return in
}

// Line is the one line "fcgicli version" and "fcgicli --version" print,
// without its newline:
//
//	fcgicli v0.1.0 (commit 0123abcd..., 2026-12-07T22:00:00Z, go1.26.0 linux/amd64)
func (in Info) Line() string {
	return fmt.Sprintf("fcgicli %s (commit %s, %s, %s %s/%s)", in.Version, in.Commit, in.Date, in.Go, in.OS, in.Arch)
}
