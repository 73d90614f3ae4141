package commands

import (
	"io"

	"github.com/urfave/cli/v2"

	"github.com/fcgicli/fcgicli/commands/clidoc"
	"github.com/fcgicli/fcgicli/commands/runenv"
)

func completionCommand(env *runenv.Env) *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script: bash, zsh or fish",
		ArgsUsage: "bash|zsh|fish",
		Description: `Prints a script that completes fcgicli's commands, flags, the values of
flags with fixed choices (-o, --role, --color...) and file arguments (-d @FILE,
--params-file, socket paths for -c). The repository's completions/ holds the
same scripts.

EXAMPLES:
   source <(fcgicli completion bash)           # in ~/.bashrc
   fcgicli completion bash > /etc/bash_completion.d/fcgicli
   fcgicli completion zsh > "${fpath[1]}/_fcgicli"
   fcgicli completion fish > ~/.config/fish/completions/fcgicli.fish`,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return runenv.Usagef("want one shell: bash, zsh or fish")
			}
			script, err := completionScript(c.Args().First())
			if err != nil {
				return err
			}
			_, err = io.WriteString(env.Stdout, script)
			return err
		},
	}
}

// completionScript is the completion script for shell, from a fresh app.
func completionScript(shell string) (string, error) { return clidoc.Completion(docApp(), shell) }
