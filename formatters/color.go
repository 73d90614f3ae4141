package formatters

import (
	"fmt"

	"github.com/fatih/color"
)

// ColorMode is the value of --color.
type ColorMode string

// The values of --color.
const (
	ColorAuto   ColorMode = "auto"
	ColorAlways ColorMode = "always"
	ColorNever  ColorMode = "never"
)

// ParseColorMode checks a --color value.
func ParseColorMode(s string) (ColorMode, error) {
	switch m := ColorMode(s); m {
	case ColorAuto, ColorAlways, ColorNever:
		return m, nil
	}
	return "", fmt.Errorf("unknown --color %q (known: auto, always, never)", s)
}

// UseColor decides colour for one writer: an explicit always or never
// wins, then a set NO_COLOR turns it off, then it is on for a terminal.
func UseColor(mode ColorMode, noColorEnv string, isTerminal bool) bool {
	switch mode {
	case ColorAlways:
		return true
	case ColorNever:
		return false
	}
	if noColorEnv != "" {
		return false
	}
	return isTerminal
}

// Palette holds the colours of one writer. Each colour is enabled or
// disabled explicitly, so fatih/color's global NoColor plays no part.
type Palette struct {
	Enabled                                        bool
	Sent, Received, Info, Header, Error, Good, Dim *color.Color
}

// NewPalette returns a palette with colour on or off.
func NewPalette(on bool) *Palette {
	mk := func(attrs ...color.Attribute) *color.Color {
		c := color.New(attrs...)
		if on {
			c.EnableColor()
		} else {
			c.DisableColor()
		}
		return c
	}
	return &Palette{
		Enabled:  on,
		Sent:     mk(color.FgCyan),
		Received: mk(color.FgGreen),
		Info:     mk(color.FgYellow),
		Header:   mk(color.Bold),
		Error:    mk(color.FgRed, color.Bold),
		Good:     mk(color.FgGreen, color.Bold),
		Dim:      mk(color.Faint),
	}
}
