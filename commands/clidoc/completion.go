package clidoc

import (
	"fmt"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/fcgicli/fcgicli/commands/echo"
	"github.com/fcgicli/fcgicli/commands/runenv"
)

// Completion renders the completion script for shell (bash, zsh or fish)
// from app's command definitions; another shell is a usage error.
func Completion(app *cli.App, shell string) (string, error) {
	spec := completionSpec(app)
	var b strings.Builder
	switch shell {
	case "bash":
		writeBash(&b, spec)
	case "zsh":
		writeZsh(&b, spec)
	case "fish":
		writeFish(&b, spec)
	default:
		return "", runenv.Usagef("unknown shell %q (known: bash, zsh, fish)", shell)
	}
	return b.String(), nil
}

// valueKind says how a flag's value completes.
type valueKind int

const (
	valueNone   valueKind = iota // a boolean flag
	valueFree                    // any text: nothing to complete
	valueChoice                  // one of a fixed list
	valueFile                    // a file name
	valueDir                     // a directory
	valueAtFile                  // TEXT or @FILE: files after an @
	valueAddr                    // an address: socket paths, and builtin
)

type compFlag struct {
	long, short []string // names with one letter are short
	usage       string
	kind        valueKind
	choices     []string
	repeat      bool
}

type compCommand struct {
	name    string
	aliases []string
	usage   string
	flags   []compFlag
}

type compSpec struct {
	global   []compFlag
	commands []compCommand
}

// flagChoices are the fixed values of flags, by "command/flag" or, for
// every command, by "flag".
func flagChoices() map[string][]string {
	return map[string][]string{
		"color":             {"auto", "always", "never"},
		"role":              {"responder", "authorizer", "filter"},
		"refuse-role":       {"responder", "authorizer", "filter"},
		"direction":         {"sent", "received"},
		"echo-format":       {"text", "json", "html"},
		"request/output":    {"text", "raw", "json"},
		"bench/output":      {"text", "json"},
		"get-values/output": {"table", "text", "json"},
		"raw-dump/output":   {"text", "json"},
		"status/output":     {"text", "json", "prometheus"},
		"serve/output":      {"text", "json"},
		"proxy/output":      {"text", "json"},
	}
}

// flagKinds are the flags whose values are files, directories or
// addresses.
func flagKinds() map[string]valueKind {
	return map[string]valueKind{
		"connect":       valueAddr,
		"listen":        valueAddr,
		"upstream":      valueAddr,
		"data":          valueAtFile,
		"filter-data":   valueAtFile,
		"body":          valueAtFile,
		"params-file":   valueFile,
		"save-request":  valueFile,
		"save-response": valueFile,
		"decode":        valueFile,
		"send-raw":      valueFile,
		"state-file":    valueFile,
		"script":        valueFile,
		"save":          valueDir,
		"document-root": valueDir,
	}
}

func completionSpec(app *cli.App) compSpec {
	spec := compSpec{global: compFlags("", app.Flags)}
	spec.global = append(spec.global, helpFlag())
	for _, c := range app.Commands {
		if c.Hidden {
			continue
		}
		cc := compCommand{name: c.Name, aliases: c.Aliases, usage: c.Usage}
		if !c.SkipFlagParsing {
			cc.flags = append(compFlags(c.Name, c.Flags), helpFlag())
		}
		spec.commands = append(spec.commands, cc)
	}
	spec.commands = append(spec.commands, compCommand{name: "help", usage: "show the commands, or one command's help"})
	return spec
}

func helpFlag() compFlag {
	return compFlag{long: []string{"help"}, short: []string{"h"}, usage: "show help"}
}

func compFlags(cmd string, flags []cli.Flag) []compFlag {
	var out []compFlag
	kinds, fixed := flagKinds(), flagChoices()
	for _, f := range flags {
		cf := compFlag{kind: valueNone}
		for _, n := range f.Names() {
			if len(n) == 1 {
				cf.short = append(cf.short, n)
			} else {
				cf.long = append(cf.long, n)
			}
		}
		if d, ok := f.(cli.DocGenerationFlag); ok {
			cf.usage = strings.ReplaceAll(d.GetUsage(), "`", "")
			if d.TakesValue() {
				cf.kind = valueFree
			}
		}
		if s, ok := f.(cli.DocGenerationSliceFlag); ok && s.IsSliceFlag() {
			cf.repeat = true
		}
		name := f.Names()[0]
		if cf.kind == valueFree {
			if k, ok := kinds[name]; ok {
				cf.kind = k
			}
			choices, ok := fixed[cmd+"/"+name]
			if !ok {
				choices = fixed[name]
			}
			if cmd == "serve" && name == "fault" {
				choices = sortedKeys(echo.FaultKinds())
			}
			if len(choices) > 0 {
				cf.kind, cf.choices = valueChoice, choices
			}
		}
		out = append(out, cf)
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// names returns the flag's spellings on the command line.
func (f compFlag) names() []string {
	var out []string
	for _, n := range f.long {
		out = append(out, "--"+n)
	}
	for _, n := range f.short {
		out = append(out, "-"+n)
	}
	return out
}

func commandNames(spec compSpec) []string {
	var out []string
	for _, c := range spec.commands {
		out = append(out, c.name)
		out = append(out, c.aliases...)
	}
	return out
}

const generatedBy = "generated by 'fcgicli completion %s' from fcgicli's command definitions; do not edit"

func writeBash(b *strings.Builder, spec compSpec) {
	fmt.Fprintf(b, "# bash completion for fcgicli, "+generatedBy+".\n", "bash")
	b.WriteString(`# Install: source this file, or copy it to /etc/bash_completion.d/fcgicli.

# _fcgicli_files completes file names, after PREFIX (an @) when given.
_fcgicli_files() {
	local prefix=$1 cur=${cur#"$1"} f
	compopt -o filenames 2>/dev/null
	while IFS= read -r f; do
		[ -d "$f" ] && f+=/ && compopt -o nospace 2>/dev/null
		COMPREPLY+=("$prefix$f")
	done < <(compgen -f -- "$cur")
}

_fcgicli_choices() {
	local IFS=$'\n'
	COMPREPLY=($(compgen -W "$1" -- "$cur"))
}

_fcgicli() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} cmd= i
	COMPREPLY=()
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
`)
	for _, f := range spec.global {
		if f.kind != valueNone {
			fmt.Fprintf(b, "\t\t%s) ((i++)) ;;\n", strings.Join(f.names(), "|"))
		}
	}
	b.WriteString(`		-*) ;;
		*) cmd=${COMP_WORDS[i]}; break ;;
		esac
	done
	# A flag's value.
	case $cmd in
`)
	writeBashValues(b, "\"\"", spec.global)
	for _, c := range spec.commands {
		if len(c.flags) > 0 {
			writeBashValues(b, strings.Join(append([]string{c.name}, c.aliases...), "|"), c.flags)
		}
	}
	b.WriteString("\tesac\n\t# A command or a flag.\n\tcase $cmd in\n")
	fmt.Fprintf(b, "\t\"\")\n\t\tif [[ $cur == -* ]]; then _fcgicli_choices %s; else _fcgicli_choices %s; fi ;;\n",
		bashWords(flagNames(spec.global)), bashWords(commandNames(spec)))
	for _, c := range spec.commands {
		pat := strings.Join(append([]string{c.name}, c.aliases...), "|")
		switch {
		case c.name == "help":
			fmt.Fprintf(b, "\t%s) _fcgicli_choices %s ;;\n", pat, bashWords(commandNames(spec)))
		case c.name == "completion":
			fmt.Fprintf(b, "\t%s) if [[ $cur == -* ]]; then _fcgicli_choices %s; else _fcgicli_choices %s; fi ;;\n", pat, bashWords(flagNames(c.flags)), bashWords([]string{"bash", "zsh", "fish"}))
		case len(c.flags) > 0:
			fmt.Fprintf(b, "\t%s) [[ $cur == -* ]] && _fcgicli_choices %s ;;\n", pat, bashWords(flagNames(c.flags)))
		}
	}
	b.WriteString("\tesac\n}\n\ncomplete -F _fcgicli fcgicli\n")
}

func writeBashValues(b *strings.Builder, pat string, flags []compFlag) {
	fmt.Fprintf(b, "\t%s)\n\t\tcase $prev in\n", pat)
	for _, f := range flags {
		var action string
		switch f.kind {
		case valueNone:
			continue
		case valueFree:
			action = "return"
		case valueChoice:
			action = "_fcgicli_choices " + bashWords(f.choices) + "; return"
		case valueFile, valueDir:
			action = `_fcgicli_files ""; return`
		case valueAtFile:
			action = `[[ $cur == @* ]] && _fcgicli_files @; return`
		case valueAddr:
			action = `[[ $cur == b* ]] && _fcgicli_choices builtin; _fcgicli_files ""; return`
		}
		fmt.Fprintf(b, "\t\t%s) %s ;;\n", strings.Join(f.names(), "|"), action)
	}
	b.WriteString("\t\tesac ;;\n")
}

// FlagSpellings returns how flags are typed on the command line, as the
// completion scripts offer them: each flag's long names, then its short
// ones, flag after flag.
func FlagSpellings(flags []cli.Flag) []string { return flagNames(compFlags("", flags)) }

func flagNames(flags []compFlag) []string {
	var out []string
	for _, f := range flags {
		out = append(out, f.names()...)
	}
	return out
}

// bashWords quotes words for compgen -W, one a line.
func bashWords(words []string) string {
	return "$'" + strings.Join(words, `\n`) + "'"
}

func writeZsh(b *strings.Builder, spec compSpec) {
	b.WriteString("#compdef fcgicli\n")
	fmt.Fprintf(b, "# zsh completion for fcgicli, "+generatedBy+".\n", "zsh")
	b.WriteString(`# Install: copy to a directory of $fpath as _fcgicli, or source it after compinit.

_fcgicli_atfile() {
	if compset -P '@'; then
		_files
	else
		_message 'TEXT, @FILE or @-'
	fi
}

_fcgicli_addr() {
	_alternative 'builtin:builtin responder:(builtin)' 'sockets:socket:_files'
}

_fcgicli() {
	local curcontext=$curcontext state line ret=1
	typeset -A opt_args
	_arguments -C \
`)
	for _, f := range spec.global {
		fmt.Fprintf(b, "\t\t%s \\\n", zshFlag(f))
	}
	b.WriteString("\t\t'1:command:->command' \\\n\t\t'*::argument:->argument' && ret=0\n")
	b.WriteString("\tcase $state in\n\tcommand)\n\t\tlocal -a commands=(\n")
	for _, c := range spec.commands {
		for _, n := range append([]string{c.name}, c.aliases...) {
			fmt.Fprintf(b, "\t\t\t%s\n", zshQuote(n+":"+c.usage))
		}
	}
	b.WriteString("\t\t)\n\t\t_describe -t commands 'fcgicli command' commands && ret=0 ;;\n")
	b.WriteString("\targument)\n\t\tcurcontext=${curcontext%:*:*}:fcgicli-$words[1]:\n\t\tcase $words[1] in\n")
	for _, c := range spec.commands {
		pat := strings.Join(append([]string{c.name}, c.aliases...), "|")
		switch {
		case c.name == "help":
			fmt.Fprintf(b, "\t\t%s) _values command %s && ret=0 ;;\n", pat, strings.Join(quoteAll(commandNames(spec)), " "))
		case len(c.flags) == 0:
			fmt.Fprintf(b, "\t\t%s) _default && ret=0 ;;\n", pat)
		default:
			fmt.Fprintf(b, "\t\t%s)\n\t\t\t_arguments -s -S \\\n", pat)
			for _, f := range c.flags {
				fmt.Fprintf(b, "\t\t\t\t%s \\\n", zshFlag(f))
			}
			if c.name == "completion" {
				b.WriteString("\t\t\t\t'1:shell:(bash zsh fish)' \\\n")
			} else {
				b.WriteString("\t\t\t\t'*:argument:' \\\n")
			}
			b.WriteString("\t\t\t\t&& ret=0 ;;\n")
		}
	}
	b.WriteString("\t\tesac ;;\n\tesac\n\treturn ret\n}\n\n")
	b.WriteString(`if [ "$funcstack[1]" = _fcgicli ]; then
	_fcgicli "$@"
else
	compdef _fcgicli fcgicli
fi
`)
}

// zshFlag is an _arguments spec for f.
func zshFlag(f compFlag) string {
	names := f.names()
	desc := "[" + zshEscape(f.usage) + "]"
	var action string
	switch f.kind {
	case valueFree:
		action = ":value: "
	case valueChoice:
		action = ":value:(" + strings.Join(f.choices, " ") + ")"
	case valueFile:
		action = ":file:_files"
	case valueDir:
		action = ":directory:_files -/"
	case valueAtFile:
		action = ":value:_fcgicli_atfile"
	case valueAddr:
		action = ":address:_fcgicli_addr"
	}
	spell := func(n string) string {
		if f.kind == valueNone {
			return n
		}
		if strings.HasPrefix(n, "--") {
			return n + "="
		}
		return n + "+"
	}
	excl := ""
	if len(names) > 1 && !f.repeat {
		excl = "(" + strings.Join(names, " ") + ")"
	}
	if f.repeat {
		excl = "*"
	}
	if len(names) == 1 {
		return zshQuote(excl + spell(names[0]) + desc + action)
	}
	var sp []string
	for _, n := range names {
		sp = append(sp, spell(n))
	}
	return zshQuote(excl) + "{" + strings.Join(sp, ",") + "}" + zshQuote(desc+action)
}

func zshEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "[", `\[`, "]", `\]`, ":", `\:`).Replace(s)
}

func zshQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = zshQuote(s)
	}
	return out
}

func writeFish(b *strings.Builder, spec compSpec) {
	fmt.Fprintf(b, "# fish completion for fcgicli, "+generatedBy+".\n", "fish")
	b.WriteString(`# Install: copy to ~/.config/fish/completions/fcgicli.fish.

function __fcgicli_atfile --description 'files after an @'
	set -l tok (commandline -ct)
	if string match -q -- '@*' $tok
		__fish_complete_path (string sub -s 2 -- $tok) | string replace -r '^' '@'
	end
end

complete -c fcgicli -e
complete -c fcgicli -f
`)
	cmds := strings.Join(commandNames(spec), " ")
	none := "'not __fish_seen_subcommand_from " + cmds + "'"
	for _, f := range spec.global {
		fmt.Fprintf(b, "complete -c fcgicli %s\n", fishFlag(f))
	}
	for _, c := range spec.commands {
		for _, n := range append([]string{c.name}, c.aliases...) {
			fmt.Fprintf(b, "complete -c fcgicli -n %s -a %s -d %s\n", none, n, fishQuote(c.usage))
		}
	}
	for _, c := range spec.commands {
		cond := fishQuote("__fish_seen_subcommand_from " + strings.Join(append([]string{c.name}, c.aliases...), " "))
		switch c.name {
		case "help":
			fmt.Fprintf(b, "complete -c fcgicli -n %s -a %s\n", cond, fishQuote(cmds))
		case "completion":
			fmt.Fprintf(b, "complete -c fcgicli -n %s -a 'bash zsh fish'\n", cond)
		}
		for _, f := range c.flags {
			fmt.Fprintf(b, "complete -c fcgicli -n %s %s\n", cond, fishFlag(f))
		}
	}
}

func fishFlag(f compFlag) string {
	var parts []string
	for _, n := range f.long {
		parts = append(parts, "-l "+n)
	}
	for _, n := range f.short {
		parts = append(parts, "-s "+n)
	}
	switch f.kind {
	case valueFree:
		parts = append(parts, "-x")
	case valueChoice:
		parts = append(parts, "-x -a "+fishQuote(strings.Join(f.choices, " ")))
	case valueFile, valueDir:
		parts = append(parts, "-r -F")
	case valueAtFile:
		parts = append(parts, "-x -a '(__fcgicli_atfile)'")
	case valueAddr:
		parts = append(parts, "-r -F -a builtin")
	}
	parts = append(parts, "-d "+fishQuote(f.usage))
	return strings.Join(parts, " ")
}

func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(s) + "'"
}
