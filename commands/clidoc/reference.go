package clidoc

import (
	"fmt"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"
)

// The command reference: one Markdown page per command under
// docs/commands/, generated from the same command definitions as --help,
// the man page and the completions, and an index of them. The committed
// pages are checked against this output (TestGeneratedReferenceUpToDate in package commands),
// which also rewrites them when FCGICLI_WRITE_DOCS is set.

// ReferenceDir is where the pages live, from the repository's top.
const ReferenceDir = "docs/commands"

// ReferenceRegen is the command line that regenerates the pages.
const ReferenceRegen = "FCGICLI_WRITE_DOCS=1 go test -run TestGeneratedReferenceUpToDate ./commands/"

// referenceGuides names, per command, the hand-written page that explains
// it at length, relative to ReferenceDir.
var referenceGuides = map[string]string{
	"request":          "../request.md",
	"bench":            "../bench.md",
	"get-values":       "../get-values.md",
	"conformance":      "../conformance.md",
	"raw-dump":         "../raw-dump.md",
	"ping":             "../ping.md",
	"status":           "../status.md",
	"doctor":           "../doctor.md",
	"serve":            "../serve.md",
	"proxy":            "../proxy.md",
	"cgi-fcgi":         "../cgi-fcgi.md",
	"install-cgi-fcgi": "../cgi-fcgi.md",
	"shell":            "../shell.md",
	"php":              "../php.md",
}

// ReferencePages renders app's reference: file name (under ReferenceDir)
// to content. Hidden commands and flags are left out, as in the man page.
func ReferencePages(app *cli.App) map[string]string {
	pages := map[string]string{"README.md": renderReferenceIndex(app)}
	for _, c := range app.Commands {
		if c.Hidden {
			continue
		}
		pages[c.Name+".md"] = renderReferencePage(app.Name, c)
	}
	return pages
}

// PageNames returns the pages' file names, sorted.
func PageNames(pages map[string]string) []string {
	names := make([]string, 0, len(pages))
	for n := range pages {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

const referenceNotice = "<!-- Generated from the command definitions by `" + ReferenceRegen + "`. Do not edit. -->\n"

// renderReferenceIndex is the index: the commands with their one-line
// usage, and the global options.
func renderReferenceIndex(app *cli.App) string {
	var b strings.Builder
	b.WriteString(referenceNotice)
	fmt.Fprintf(&b, "\n# %s command reference\n\n", app.Name)
	fmt.Fprintf(&b, "%s: %s. One page per command, generated from the same definitions as `%s COMMAND --help`, the man page (`%s man`) and the shell completions.\n\n",
		app.Name, app.Usage, app.Name, app.Name)
	b.WriteString("| command | what it does |\n| --- | --- |\n")
	for _, c := range app.Commands {
		if c.Hidden {
			continue
		}
		fmt.Fprintf(&b, "| [`%s`](%s.md) | %s |\n", c.Name, c.Name, markdownCell(c.Usage))
	}
	b.WriteString("\n## Global options\n\nGiven before the command; `--color` is accepted after it too.\n\n")
	writeReferenceFlags(&b, visibleFlags(app.Flags))
	if app.Description != "" {
		b.WriteString("\n## Description\n\n")
		writeMarkdownProse(&b, app.Description)
	}
	b.WriteString("\n## Exit codes\n\nEvery command uses the codes of the [exit-code table](../../README.md#exit-codes), except `cgi-fcgi`, which keeps cgi-fcgi's own ([cgi-fcgi](../cgi-fcgi.md#exit-codes)).\n")
	return b.String()
}

// renderReferencePage is one command's page: its synopsis, its usage, its
// description (its examples included) and its options.
func renderReferencePage(prog string, c *cli.Command) string {
	var b strings.Builder
	b.WriteString(referenceNotice)
	fmt.Fprintf(&b, "\n# %s %s\n\n", prog, c.Name)
	if c.Usage != "" {
		fmt.Fprintf(&b, "%s.\n\n", markdownText(capitalize(c.Usage)))
	}
	synopsis := c.UsageText
	if synopsis == "" {
		synopsis = strings.TrimSpace(fmt.Sprintf("%s %s [options] %s", prog, c.Name, c.ArgsUsage))
	}
	b.WriteString("```\n" + synopsis + "\n```\n")
	if len(c.Aliases) > 0 {
		fmt.Fprintf(&b, "\nAlso called `%s`.\n", strings.Join(c.Aliases, "`, `"))
	}
	if c.Description != "" {
		b.WriteString("\n")
		writeMarkdownProse(&b, c.Description)
	}
	if flags := visibleFlags(c.Flags); len(flags) > 0 {
		b.WriteString("\n## Options\n\n")
		writeReferenceFlags(&b, flags)
	}
	b.WriteString("\n## See also\n\n")
	if g, ok := referenceGuides[c.Name]; ok {
		fmt.Fprintf(&b, "- [%s](%s): what `%s` does, at length\n", strings.TrimPrefix(g, "../"), g, c.Name)
	}
	b.WriteString("- [Exit codes](../../README.md#exit-codes)\n- [All commands](README.md)\n")
	return b.String()
}

// writeReferenceFlags writes a table of flags: their names, short ones
// first, with the value's placeholder; their usage; their default and
// environment variables.
func writeReferenceFlags(b *strings.Builder, flags []cli.Flag) {
	b.WriteString("| option | meaning | default |\n| --- | --- | --- |\n")
	for _, f := range flags {
		var short, long []string
		for _, n := range f.Names() {
			if len(n) == 1 {
				short = append(short, "-"+n)
			} else {
				long = append(long, "--"+n)
			}
		}
		names := strings.Join(append(short, long...), ", ")
		usage, def := "", ""
		if df, ok := f.(cli.DocGenerationFlag); ok {
			placeholder, text := splitPlaceholder(df.GetUsage())
			usage = strings.TrimSpace(text)
			if df.TakesValue() {
				if placeholder == "" {
					placeholder = "VALUE"
				}
				names += " " + placeholder
				if d := df.GetDefaultText(); !isZeroDefault(d) {
					def = markdownCode(d)
				}
			}
			if envs := df.GetEnvVars(); len(envs) > 0 {
				if def != "" {
					def += ", "
				}
				def += "environment: " + markdownCode("$"+strings.Join(envs, ", $"))
			}
		}
		fmt.Fprintf(b, "| %s | %s | %s |\n", markdownCode(names), markdownCell(usage), def)
	}
}

// writeMarkdownProse writes help text as Markdown: its paragraphs
// (separated by blank lines) as they are, escaped, and runs of indented
// lines, such as the examples under "EXAMPLES:", as code blocks, which
// lose the three spaces of indentation the help gives them.
func writeMarkdownProse(b *strings.Builder, text string) {
	var blocks []string
	var cur strings.Builder
	inCode := false
	end := func() {
		if cur.Len() == 0 {
			return
		}
		if inCode {
			cur.WriteString("```\n")
		}
		blocks = append(blocks, cur.String())
		cur.Reset()
	}
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		l = strings.TrimRight(l, " \t")
		indented := l != "" && (l[0] == ' ' || l[0] == '\t')
		if l == "" || indented != inCode {
			end()
			inCode = indented
		}
		switch {
		case l == "":
		case indented:
			if cur.Len() == 0 {
				cur.WriteString("```\n")
			}
			cur.WriteString(strings.TrimPrefix(strings.ReplaceAll(l, "\t", "    "), "   ") + "\n")
		default:
			cur.WriteString(markdownLine(l) + "\n")
		}
	}
	end()
	b.WriteString(strings.Join(blocks, "\n"))
}

// markdownLine escapes one line of running text: what would make it a
// heading, a quote or a list item at its start, and markup anywhere.
func markdownLine(s string) string {
	s = markdownText(s)
	switch {
	case strings.HasPrefix(s, "#"), strings.HasPrefix(s, "+ "),
		strings.HasPrefix(s, "- "), strings.HasPrefix(s, "= "), strings.HasPrefix(s, "|"):
		return `\` + s
	}
	// "1. " or "1) " would start a numbered list.
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i > 0 && i+1 < len(s) && (s[i] == '.' || s[i] == ')') && s[i+1] == ' ' {
		return s[:i] + `\` + s[i:]
	}
	return s
}

// markdownText escapes the characters that are markup anywhere in a line:
// backslashes, code spans, links, HTML tags, and * and _ where they could
// begin or end emphasis (an _ inside a word, as in FCGI_STDOUT, cannot).
func markdownText(s string) string {
	var b strings.Builder
	word := func(i int) bool {
		return i >= 0 && i < len(s) && isWordRune(rune(s[i]))
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '`', '[', ']', '*':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '_':
			if !word(i-1) || !word(i+1) {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// markdownCell is markdownText for a table cell, where | ends the cell.
func markdownCell(s string) string {
	return strings.ReplaceAll(markdownText(s), "|", `\|`)
}

// markdownCode is s as a code span, in a table cell: a | in it is
// escaped (GitHub splits cells before it reads code spans), and the span
// is delimited by more backquotes than s holds in a row.
func markdownCode(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}
