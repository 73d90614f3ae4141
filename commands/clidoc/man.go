// Package clidoc renders fcgicli's documentation from its command
// definitions, the cli.App that package commands builds: the man page
// (Man), the command reference, one Markdown page per command
// (ReferencePages), and the bash, zsh and fish completion scripts
// (Completion). What it knows of fcgicli beyond the definitions is here
// too: the exit codes and environment variables the man page lists, the
// guide behind each command's reference page, and which flags complete
// as files, addresses or fixed choices.
//
// It renders and returns text: it must not import package commands or
// any engine but the echo responder (whose fault kinds serve's --fault
// completes), write files, print or hold package-level mutable state.
package clidoc

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/fcgicli/fcgicli/commands/runenv"
)

// manExitCodes is the EXIT STATUS section: the README's table, shortened.
var manExitCodes = []struct {
	code    int
	meaning string
}{
	{runenv.ExitOK, "success"},
	{runenv.ExitCheckFailed, "a check failed, or an unexpected internal error"},
	{runenv.ExitUsage, "usage error: bad flag, bad argument, bad address, a param too big for one record; a local file fcgicli cannot use (an unreadable --fpm-config or --state-file)"},
	{runenv.ExitConnect, "cannot connect: refused, no such socket, unknown host, permission denied"},
	{runenv.ExitTimeout, "timeout (connect or overall); FCGI_ABORT_REQUEST is sent before closing"},
	{runenv.ExitProtocol, "protocol error: bad version, malformed or truncated record, wrong request id, EOF or reset before FCGI_END_REQUEST"},
	{runenv.ExitRefused, "the application refused the request: CANT_MPX_CONN, OVERLOADED or UNKNOWN_ROLE"},
	{runenv.ExitAppStatus, "the application ended with a non-zero app status"},
	{runenv.ExitHTTPFail, "--fail and the CGI status is 400 or more"},
	{runenv.ExitInterrupted, "interrupted"},
}

// manEnvironment is the ENVIRONMENT section: the variables fcgicli reads.
var manEnvironment = []struct{ name, meaning string }{
	{"FCGI_CONNECT", "the address used when -c is not given"},
	{"NO_COLOR", "when set and not empty, --color auto prints no colour"},
	{"XDG_STATE_HOME", "where the shell keeps its history (fcgicli/history under it; default ~/.local/state)"},
	{"FCGI_TIMEOUT", "cgi-fcgi mode: give up after this duration (exit 124)"},
}

// Man renders app's man page in roff (man(7) macros). Hidden commands
// and flags are left out.
func Man(app *cli.App) string {
	var b strings.Builder
	// HY 0: no hyphenation (groff's man macros turn .nh off again at
	// every paragraph), so that words and names copy whole.
	fmt.Fprintf(&b, ".TH %s 1\n.nr HY 0\n", app.Name)
	b.WriteString(".SH NAME\n")
	fmt.Fprintf(&b, "%s \\- %s\n", app.Name, roffText(app.Usage))

	b.WriteString(".SH SYNOPSIS\n")
	fmt.Fprintf(&b, ".B %s\n", app.Name)
	for _, f := range visibleFlags(app.Flags) {
		fmt.Fprintf(&b, "[%s]\n", manFlagSynopsis(f))
	}
	b.WriteString(".I command\n[\\fIoptions\\fR] [\\fIarguments\\fR...]\n")

	if app.Description != "" {
		b.WriteString(".SH DESCRIPTION\n")
		writeRoffProse(&b, app.Description)
	}

	global := visibleFlags(app.Flags)
	if !app.HideHelp && cli.HelpFlag != nil {
		global = append(global, cli.HelpFlag)
	}
	if len(global) > 0 {
		b.WriteString(".SH GLOBAL OPTIONS\n")
		writeManFlags(&b, global)
	}

	b.WriteString(".SH COMMANDS\n")
	b.WriteString("Run \\fBfcgicli\\fR \\fIcommand\\fR \\fB\\-\\-help\\fR for a command's help.\n")
	for _, c := range app.Commands {
		if c.Hidden {
			continue
		}
		writeManCommand(&b, app.Name, c)
	}

	b.WriteString(".SH EXIT STATUS\n")
	b.WriteString("Every command uses these codes, except cgi\\-fcgi, which keeps cgi\\-fcgi's own.\n")
	for _, e := range manExitCodes {
		fmt.Fprintf(&b, ".TP\n.B %d\n%s\n", e.code, roffText(e.meaning))
	}

	b.WriteString(".SH ENVIRONMENT\n")
	for _, e := range manEnvironment {
		fmt.Fprintf(&b, ".TP\n.B %s\n%s\n", roffText(e.name), roffText(e.meaning))
	}

	b.WriteString(".SH SEE ALSO\n.BR cgi\\-fcgi (1),\n.BR php\\-fpm (8)\n")
	return b.String()
}

// writeManCommand writes one command's subsection: its synopsis, its
// one-line usage, its description and its options.
func writeManCommand(b *strings.Builder, prog string, c *cli.Command) {
	fmt.Fprintf(b, ".SS %s\n", roffCode(c.Name))
	synopsis := c.UsageText
	if synopsis == "" {
		synopsis = strings.TrimSpace(fmt.Sprintf("%s %s [options] %s", prog, c.Name, c.ArgsUsage))
	}
	b.WriteString(".EX\n")
	for _, l := range strings.Split(synopsis, "\n") {
		b.WriteString(roffCode(l) + "\n")
	}
	b.WriteString(".EE\n")
	if len(c.Aliases) > 0 {
		fmt.Fprintf(b, ".PP\nAlso called %s.\n", roffText(strings.Join(c.Aliases, ", ")))
	}
	if c.Usage != "" {
		fmt.Fprintf(b, ".PP\n%s.\n", roffText(capitalize(c.Usage)))
	}
	if c.Description != "" {
		writeRoffProse(b, c.Description)
	}
	if flags := visibleFlags(c.Flags); len(flags) > 0 {
		b.WriteString(".PP\nOptions:\n")
		writeManFlags(b, flags)
	}
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func visibleFlags(flags []cli.Flag) []cli.Flag {
	var out []cli.Flag
	for _, f := range flags {
		if v, ok := f.(cli.VisibleFlag); ok && !v.IsVisible() {
			continue
		}
		out = append(out, f)
	}
	return out
}

// writeManFlags writes one .TP entry per flag: "-x, --long VALUE", then
// the usage with the default and the environment variables.
func writeManFlags(b *strings.Builder, flags []cli.Flag) {
	for _, f := range flags {
		b.WriteString(".TP\n" + manFlagSynopsis(f) + "\n")
		df, ok := f.(cli.DocGenerationFlag)
		if !ok {
			continue
		}
		_, usage := splitPlaceholder(df.GetUsage())
		if df.TakesValue() {
			if d := df.GetDefaultText(); !isZeroDefault(d) {
				usage += " (default: " + d + ")"
			}
		}
		if envs := df.GetEnvVars(); len(envs) > 0 {
			usage += " (environment: $" + strings.Join(envs, ", $") + ")"
		}
		b.WriteString(roffText(strings.TrimSpace(usage)) + "\n")
	}
}

// isZeroDefault reports whether a flag's default text is its type's zero
// value, which means "not set" and is left out of the page.
func isZeroDefault(d string) bool {
	switch d {
	case "", `""`, "0", "0s", "false":
		return true
	}
	return false
}

// manFlagSynopsis is a flag's names, short ones first, and its value's
// placeholder: "\fB\-c\fR, \fB\-\-connect\fR \fIADDR\fR".
func manFlagSynopsis(f cli.Flag) string {
	var short, long []string
	for _, n := range f.Names() {
		if len(n) == 1 {
			short = append(short, `\fB\-`+roffCode(n)+`\fR`)
		} else {
			long = append(long, `\fB\-\-`+roffCode(n)+`\fR`)
		}
	}
	s := strings.Join(append(short, long...), ", ")
	if df, ok := f.(cli.DocGenerationFlag); ok && df.TakesValue() {
		placeholder, _ := splitPlaceholder(df.GetUsage())
		if placeholder == "" {
			placeholder = "VALUE"
		}
		s += ` \fI` + roffText(placeholder) + `\fR`
	}
	return s
}

// splitPlaceholder takes the first `quoted` word out of a flag's usage, as
// urfave/cli does for --help: it is the value's placeholder, and stays in
// the usage without its backquotes.
func splitPlaceholder(usage string) (placeholder, text string) {
	i := strings.IndexByte(usage, '`')
	if i < 0 {
		return "", usage
	}
	j := strings.IndexByte(usage[i+1:], '`')
	if j < 0 {
		return "", usage
	}
	placeholder = usage[i+1 : i+1+j]
	return placeholder, usage[:i] + placeholder + usage[i+1+j+1:]
}

// writeRoffProse writes help text as roff: its paragraphs (separated by
// blank lines) are filled, and runs of indented lines, such as the
// examples under "EXAMPLES:", are kept as they are in an .EX block.
func writeRoffProse(b *strings.Builder, text string) {
	inCode, newPara := false, true
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		l = strings.TrimRight(l, " \t")
		switch {
		case l == "":
			if inCode {
				b.WriteString(".EE\n")
				inCode = false
			}
			newPara = true
		case l[0] == ' ' || l[0] == '\t':
			if !inCode {
				b.WriteString(".EX\n")
				inCode = true
			}
			b.WriteString(roffCode(strings.ReplaceAll(l, "\t", "    ")) + "\n")
		default:
			if inCode {
				b.WriteString(".EE\n")
				inCode = false
				newPara = true
			}
			if newPara {
				b.WriteString(".PP\n")
				newPara = false
			}
			b.WriteString(roffText(l) + "\n")
		}
	}
	if inCode {
		b.WriteString(".EE\n")
	}
}

// roffText escapes one line of running text: backslashes, a leading dot
// or apostrophe (which would make it a request), and the hyphens of a word
// that starts with one (-v, --connect-timeout, @-), which must print as
// ASCII minus signs. Hyphens inside words (php-fpm) stay hyphens.
func roffText(s string) string {
	var b strings.Builder
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		b.WriteString(`\&`)
	}
	var prev rune
	option := false // in a word that started with a hyphen
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\e`)
		case r == '-' && (option || !isWordRune(prev)):
			option = true
			b.WriteString(`\-`)
		default:
			if !isWordRune(r) && r != '=' && r != '.' {
				option = false
			}
			b.WriteRune(r)
		}
		prev = r
	}
	return b.String()
}

func isWordRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r > 0x7f
}

// roffCode escapes one line of an .EX block, where every hyphen is typed
// as a minus sign, so that a command copied from the page works.
func roffCode(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}
