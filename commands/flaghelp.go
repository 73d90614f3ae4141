package commands

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

// Help's option lines fit helpWidth columns: a flag's names, then its
// usage from column helpColumn, wrapped, or from the next line when the
// names reach that far. urfave/cli indents a flag's first line by 3 and
// the lines after it by 6 (its help template's wrap), which flagHelp
// counts in.
const (
	helpWidth  = 100
	helpColumn = 36
)

// commandHelpTemplate is urfave/cli's CommandHelpTemplate with the options
// laid out by flagHelp: its own help flag, which flagHelp does not see (the
// library adds it as it runs), gets a line laid out as the others.
func commandHelpTemplate() string {
	return `NAME:
   {{template "helpNameTemplate" .}}

USAGE:
   {{template "usageTemplate" .}}{{if .Description}}

DESCRIPTION:
   {{template "descriptionTemplate" .}}{{end}}{{if .VisibleFlags}}

OPTIONS:{{range .VisibleFlags}}{{if ne (index .Names 0) "help"}}
   {{wrap .String 6}}{{end}}{{end}}
   ` + fmt.Sprintf("%-*s%s", helpColumn-3, "--help, -h", "show help") + `{{end}}
`
}

// flagHelp is a flag's entry in --help, as urfave/cli's own but wrapped,
// and without a default that is its type's zero value, which means "not
// set" (a flag whose unset value means something says so in its
// DefaultText, "off" say).
func flagHelp(f cli.Flag) string {
	names, usage, _ := strings.Cut(cli.FlagStringer(f), "\t")
	for _, zero := range []string{" (default: 0)", " (default: 0s)", " (default: false)", ` (default: "")`} {
		usage = strings.Replace(usage, zero, "", 1)
	}
	// A default stays on one line with its value.
	usage = strings.ReplaceAll(usage, "(default: ", "(default:\x00")
	var b strings.Builder
	b.WriteString(names)
	col := 3 + len(names)
	first := true
	if col+2 > helpColumn {
		first = false
	}
	for _, line := range wrapWords(usage, helpWidth-helpColumn) {
		if first {
			b.WriteString(strings.Repeat(" ", helpColumn-col))
			first = false
		} else {
			b.WriteString("\n" + strings.Repeat(" ", helpColumn-6))
		}
		b.WriteString(strings.ReplaceAll(line, "\x00", " "))
	}
	return b.String()
}

// wrapWords splits s into lines of at most width bytes at spaces (a
// longer word gets a line of its own).
func wrapWords(s string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		switch {
		case line == "":
			line = w
		case len(line)+1+len(w) <= width:
			line += " " + w
		default:
			lines = append(lines, line)
			line = w
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

func (f *boolFlag) String() string         { return flagHelp(f) }
func (f *durationFlag) String() string     { return flagHelp(f) }
func (f *float64Flag) String() string      { return flagHelp(f) }
func (f *float64SliceFlag) String() string { return flagHelp(f) }
func (f *intFlag) String() string          { return flagHelp(f) }
func (f *intSliceFlag) String() string     { return flagHelp(f) }
func (f *int64Flag) String() string        { return flagHelp(f) }
func (f *int64SliceFlag) String() string   { return flagHelp(f) }
func (f *stringFlag) String() string       { return flagHelp(f) }
func (f *stringSliceFlag) String() string  { return flagHelp(f) }
func (f *uintFlag) String() string         { return flagHelp(f) }
func (f *uintSliceFlag) String() string    { return flagHelp(f) }
