package commands

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"
)

// TestGeneratedFilesUpToDate fails when the committed man page or
// completion scripts differ from what the command definitions generate.
func TestGeneratedFilesUpToDate(t *testing.T) {
	man := manPage()
	files := map[string]string{"fcgicli.1": man}
	regen := map[string]string{"fcgicli.1": "go run . man > fcgicli.1"}
	for _, sh := range []string{"bash", "zsh", "fish"} {
		s, err := completionScript(sh)
		if err != nil {
			t.Fatal(err)
		}
		name := "completions/fcgicli." + sh
		files[name] = s
		regen[name] = "go run . completion " + sh + " > " + name
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join("..", name))
		if err != nil {
			t.Errorf("%v; generate it at the repository's top with: %s", err, regen[name])
			continue
		}
		if string(got) != want {
			t.Errorf("%s is out of date with the command definitions; regenerate it at the repository's top with: %s", name, regen[name])
		}
	}
}

// TestREADMEShort keeps the README the page a new user reads in a few
// minutes: what goes past its tour belongs in docs/.
func TestREADMEShort(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(readme, []byte("\n")); n > 350 {
		t.Errorf("README.md is %d lines, more than 350: move the detail to docs/", n)
	}
}

// TestDocsLinks checks every relative link of README.md, CHANGELOG.md and of the pages
// under docs/: the file it names exists, and so does the heading its
// #anchor names, as GitHub spells heading anchors.
func TestDocsLinks(t *testing.T) {
	root := ".."
	files := []string{"README.md", "CHANGELOG.md"}
	err := filepath.WalkDir(filepath.Join(root, "docs"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".md") {
			rel, _ := filepath.Rel(root, path)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]map[string]bool{} // file to its headings' anchors
	anchorsOf := func(file string) (map[string]bool, error) {
		if a, ok := anchors[file]; ok {
			return a, nil
		}
		text, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(file)))
		if err != nil {
			return nil, err
		}
		a := markdownAnchors(string(text))
		anchors[file] = a
		return a, nil
	}
	link := regexp.MustCompile(`\]\(([^()\s]+)\)`)
	checked := 0
	for _, file := range files {
		text, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(file)))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(markdownWithoutCode(string(text)), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			path, anchor, _ := strings.Cut(target, "#")
			dest := file
			if path != "" {
				dest = filepath.ToSlash(filepath.Join(filepath.Dir(file), path))
			}
			checked++
			info, err := os.Stat(filepath.Join(root, filepath.FromSlash(dest)))
			if err != nil {
				t.Errorf("%s: link %s: no such file %s", file, target, dest)
				continue
			}
			if anchor == "" {
				continue
			}
			if info.IsDir() {
				t.Errorf("%s: link %s: an anchor in a directory", file, target)
				continue
			}
			a, err := anchorsOf(dest)
			if err != nil {
				t.Fatal(err)
			}
			if !a[anchor] {
				t.Errorf("%s: link %s: %s has no heading #%s", file, target, dest, anchor)
			}
		}
	}
	if checked < 50 {
		t.Errorf("only %d relative links found: is the link pattern still right?", checked)
	}
}

// markdownWithoutCode blanks fenced code blocks and code spans, where
// brackets and parentheses are not links.
func markdownWithoutCode(text string) string {
	var b strings.Builder
	fenced := false
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			fenced = !fenced
			b.WriteString("\n")
			continue
		}
		if !fenced {
			b.WriteString(regexp.MustCompile("`[^`]*`").ReplaceAllString(l, "``"))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// markdownAnchors returns the anchors GitHub gives the headings of text:
// lower case, punctuation other than - and _ dropped, spaces as hyphens,
// and -1, -2... after a repeated one.
func markdownAnchors(text string) map[string]bool {
	anchors := map[string]bool{}
	seen := map[string]int{}
	fenced := false
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			fenced = !fenced
		}
		if fenced || !strings.HasPrefix(l, "#") {
			continue
		}
		title := strings.TrimSpace(strings.TrimLeft(l, "#"))
		var a strings.Builder
		for _, r := range strings.ToLower(title) {
			switch {
			case r == ' ':
				a.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				a.WriteRune(r)
			}
		}
		anchor := a.String()
		if n := seen[anchor]; n > 0 {
			anchors[anchor+"-"+string(rune('0'+n))] = true
		} else {
			anchors[anchor] = true
		}
		seen[anchor]++
	}
	return anchors
}

func TestManPage(t *testing.T) {
	man := manPage()
	// Hyphens that start options are minus signs in roff: \-.
	for _, want := range []string{".TH fcgicli 1", ".SH NAME", ".SH SYNOPSIS", ".SH DESCRIPTION", ".SH GLOBAL OPTIONS", ".SH EXIT STATUS",
		".SS request", ".SS completion", `\fB\-\-role\fR \fIresponder\fR`, "fcgicli request [options] SCRIPT[?QUERY]",
		`fcgicli cgi\-fcgi \-bind \-connect ADDR`, `fcgicli ping \-c 127.0.0.1:9000`} {
		if !strings.Contains(man, want) {
			t.Errorf("man page lacks %q", want)
		}
	}
}

// needShell returns the path of shell, skipping the test when it is
// missing, except in CI where that fails.
func needShell(t *testing.T, shell string) string {
	t.Helper()
	p, err := exec.LookPath(shell)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed (.ci/run installs it)", shell)
		}
		t.Skipf("%s is not installed", shell)
	}
	return p
}

// writeCompletion writes the generated script for shell to a temporary
// directory and returns its path.
func writeCompletion(t *testing.T, shell string) string {
	t.Helper()
	s, err := completionScript(shell)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "fcgicli."+shell)
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func runShell(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "TERM=dumb", "HOME="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir(), "XDG_DATA_HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// completionCases are the completions every shell must offer.
var completionCases = []struct {
	line string // what was typed, the completion happens at its end
	want []string
}{
	{"fcgicli req", []string{"request"}},
	{"fcgicli request --ro", []string{"--role"}},
	{"fcgicli request --role ", []string{"responder", "authorizer", "filter"}},
	{"fcgicli status -o ", []string{"text", "json", "prometheus"}},
	{"fcgicli --color never get-values -o ", []string{"table", "text", "json"}},
	{"fcgicli raw-dump --direction ", []string{"sent", "received"}},
	{"fcgicli request -d @completions/fcgicli.b", []string{"@completions/fcgicli.bash"}},
	{"fcgicli request -c completions/fcgicli.f", []string{"completions/fcgicli.fish"}},
}

func TestCompletionBash(t *testing.T) {
	bash := needShell(t, "bash")
	script := writeCompletion(t, "bash")
	for _, c := range completionCases {
		words := strings.Split(c.line, " ")
		var quoted []string
		for _, w := range words {
			quoted = append(quoted, "'"+w+"'")
		}
		prog := "source " + script + "\nCOMP_WORDS=(" + strings.Join(quoted, " ") + ")\nCOMP_CWORD=" +
			string(rune('0'+len(words)-1)) + "\n_fcgicli\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n"
		got := strings.Fields(runShell(t, bash, "--norc", "--noprofile", "-c", prog))
		checkCompletion(t, "bash", c.line, got, c.want)
	}
}

func TestCompletionFish(t *testing.T) {
	fish := needShell(t, "fish")
	script := writeCompletion(t, "fish")
	for _, c := range completionCases {
		out := runShell(t, fish, "--no-config", "-c", "source "+script+"; complete -C '"+c.line+"'")
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			got = append(got, strings.SplitN(l, "\t", 2)[0])
		}
		checkCompletion(t, "fish", c.line, got, c.want)
	}
}

// TestCompletionZsh types each line and a Tab into an interactive zsh in
// a zpty and reads back what the line editor shows: the completed word, or
// the list of matches. Nothing is timed: the harness types only once the
// shell has printed a marker after loading the completion, and reads until
// every wanted word has appeared after the typed line, or 60 s have passed.
func TestCompletionZsh(t *testing.T) {
	zsh := needShell(t, "zsh")
	script := writeCompletion(t, "zsh")
	harness := `zmodload zsh/zpty zsh/datetime zsh/zselect
script=$1 line=$2
want=( "${@[3,-1]}" )
integer end
# readuntil TEST: read the pty into $out until TEST holds or 60 s pass.
readuntil() {
	end=$(( EPOCHSECONDS + 60 ))
	until eval "$1"; do
		if (( EPOCHSECONDS > end )); then
			return 1
		fi
		if zpty -rt z chunk; then
			out+=$chunk
			plain=${out//$'\e'\[[0-9;?]#[a-zA-Z]/}
		else
			zselect -t 2
		fi
	done
}
# every wanted word is a word of what the shell showed from the typed line
# on, as the test reads it
seen() {
	[[ $plain == *"$line"* ]] || return 1
	local -a words=( ${=${:-"$line${plain#*"$line"}"}//[$'\r\b\a']/ } )
	local w
	for w in "${want[@]}"; do
		(( ${words[(Ie)$w]} )) || return 1
	done
}
out= plain=
zpty z 'zsh -f -i'
zpty -w z "PS1='%% '; autoload -Uz compinit; compinit -u -D; source $script; zstyle ':completion:*' list-separator ''; print READY\$((6*7))"
readuntil '[[ $plain == *READY42*"% "* ]]' || { print -r -- "$plain"; print -r -- "harness: no prompt after 60s"; exit 1 }
out= plain=
zpty -w -n z "$line"$'\t'
readuntil seen
zpty -d z
print -r -- "$plain"
`
	for _, c := range completionCases {
		args := append([]string{"-f", "-c", harness, "harness", script, c.line}, c.want...)
		out := runShell(t, zsh, args...)
		// Only what follows the typed line (its first echo) counts.
		if i := strings.Index(out, c.line); i >= 0 {
			out = out[i:]
		} else {
			t.Errorf("zsh: %q: the line was not echoed:\n%s", c.line, out)
			continue
		}
		got := strings.Fields(strings.NewReplacer("\r", " ", "\b", " ", "\a", " ").Replace(out))
		checkCompletion(t, "zsh", c.line, got, c.want)
	}
}

func checkCompletion(t *testing.T, shell, line string, got, want []string) {
	t.Helper()
	have := map[string]bool{}
	for _, g := range got {
		have[g] = true
	}
	for _, w := range want {
		if !have[w] {
			t.Errorf("%s: %q<TAB> offers %q, want %q among them", shell, line, got, w)
		}
	}
}
