package commands

import (
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"
)

func manCommand(env *Env) *cli.Command {
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
				return usagef("man takes no arguments")
			}
			return writeMan(env.Stdout)
		},
	}
}

// manPage renders the man page of a fresh app, so that what a command
// line set does not leak into it.
func manPage() (string, error) {
	app := newApp(&Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }, Environ: func() []string { return nil }})
	// urfave/cli puts a command's UsageText in the page, not its
	// Description: give this throwaway app's commands one that carries
	// the synopsis, the description and the examples.
	for _, c := range app.Commands {
		if c.Description != "" {
			c.UsageText = strings.TrimSpace(fmt.Sprintf("fcgicli %s [options] %s", c.Name, c.ArgsUsage)) + "\n\n" + c.Description
		}
	}
	man, err := app.ToManWithSection(1)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(man, "\n") + "\n", nil
}

func writeMan(w io.Writer) error {
	man, err := manPage()
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, man)
	return err
}
