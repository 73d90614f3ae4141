package commands

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/commands/version"
)

func versionCommand(env *runenv.Env) *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print fcgicli's version, commit, its date and the Go release that built it",
		Description: `Prints one line, the same as "fcgicli --version": the version, the commit it
was built from and the commit's date, then the Go release and the target.
A release build has them stamped in. Otherwise they come from the build
info Go records in the binary: "go install module@version" gives the
version and no commit; "go build" in a git checkout gives a pseudo-version
made from the commit, and the commit ("+dirty" when the checkout had
changes); with -buildvcs=false, or outside a checkout, the version is
"devel" and the commit "unknown".

EXAMPLES:
   fcgicli version
   fcgicli --version`,
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return runenv.Usagef("version takes no arguments")
			}
			return writeVersion(env)
		},
	}
}

// versionFlag is -V, --version, given before any command.
func versionFlag() cli.Flag {
	return &cli.BoolFlag{Name: "version", Aliases: []string{"V"}, Usage: `print the version line ("fcgicli version") and exit`}
}

// writeVersion prints the version line.
func writeVersion(env *runenv.Env) error {
	_, err := fmt.Fprintln(env.Stdout, version.Get().Line())
	return err
}
