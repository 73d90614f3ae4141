package commands

import (
	"io"

	"github.com/urfave/cli/v2"

	"github.com/fcgicli/fcgicli/commands/clidoc"
	"github.com/fcgicli/fcgicli/commands/runenv"
)

func manCommand(env *runenv.Env) *cli.Command {
	return &cli.Command{
		Name:  "man",
		Usage: "print fcgicli's man page (roff) on stdout",
		Description: `Prints the fcgicli(1) man page, generated from the same command
definitions as --help. The repository's fcgicli.1 is this output.

EXAMPLES:
   fcgicli man | man -l -
   fcgicli man > /usr/local/share/man/man1/fcgicli.1`,
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return runenv.Usagef("man takes no arguments")
			}
			_, err := io.WriteString(env.Stdout, manPage())
			return err
		},
	}
}

// docApp is a fresh app for the generated documentation (the man page,
// the completions, the reference), so that what a command line set does
// not leak into it.
func docApp() *cli.App {
	return newApp(&runenv.Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }, Environ: func() []string { return nil }})
}

// manPage is the man page of a fresh app.
func manPage() string { return clidoc.Man(docApp()) }
