package commands

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/urfave/cli/v2"

	"github.com/fcgicli/fcgicli/commands/runenv"
)

func versionCommand(env *runenv.Env) *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print fcgicli's version, commit and Go version",
		Description: `Prints the module version, the commit it was built from (with "+dirty"
when the checkout had changes) and the Go version, from the build info Go
records in the binary. A binary built outside a checkout (go install
module@version) has a version but no commit; one built with "go build" in
a git checkout has a pseudo-version made from the commit (Go 1.24 and
later) and the commit, or "(devel)" and no commit with -buildvcs=false.

EXAMPLES:
   fcgicli version
   go install github.com/fcgicli/fcgicli@latest && fcgicli version`,
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return runenv.Usagef("version takes no arguments")
			}
			info, _ := debug.ReadBuildInfo()
			return writeVersion(env.Stdout, info)
		},
	}
}

// writeVersion prints what info says about the build; info may be nil (a
// binary built without module support).
func writeVersion(w io.Writer, info *debug.BuildInfo) error {
	version, commit, when, dirty := "unknown", "unknown", "", false
	goVersion := runtime.Version()
	if info != nil {
		if info.Main.Version != "" {
			version = info.Main.Version
		}
		if info.GoVersion != "" {
			goVersion = info.GoVersion
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if dirty {
		commit += "+dirty"
	}
	if when != "" {
		commit += " (" + when + ")"
	}
	_, err := fmt.Fprintf(w, "fcgicli %s\ncommit: %s\ngo: %s %s/%s\n", version, commit, goVersion, runtime.GOOS, runtime.GOARCH)
	return err
}
