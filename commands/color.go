package commands

import (
	"io"

	"github.com/urfave/cli/v2"

	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/formatters"
)

// colorFlag is --color, accepted before the command and after it.
func colorFlag() cli.Flag {
	return &cli.StringFlag{Name: "color", Value: "auto", Usage: "colour: `WHEN` auto, always or never (NO_COLOR turns auto off)"}
}

// palette returns the colour palette for w under the global --color flag.
func palette(c *cli.Context, env *runenv.Env, w io.Writer) (*formatters.Palette, error) {
	return runenv.Palette(colorWhen(c), env, w)
}

// colorWhen is --color's value, given after the command or before it:
// auto when neither gives it.
func colorWhen(c *cli.Context) string {
	for _, cc := range c.Lineage() {
		if cc.IsSet("color") {
			return cc.String("color")
		}
	}
	return "auto"
}
