package commands

import (
	"context"
	"strings"
	"testing"

	"github.com/fcgicli/fcgicli/commands/runenv"
)

// Every command's help fits 100 columns, and states no default that is
// its type's zero value ("(default: 0)" for a threshold that is off), nor
// two defaults for one flag.
func TestHelpWidth(t *testing.T) {
	for _, e := range append(commandList(), commandEntry{name: ""}) {
		// cgi-fcgi has cgi-fcgi's usage.
		if e.name == "cgi-fcgi" {
			continue
		}
		var out strings.Builder
		env := &runenv.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out,
			Getenv: func(string) string { return "" }, Environ: func() []string { return nil }}
		args := []string{"fcgicli", e.name, "--help"}
		if e.name == "" {
			args = []string{"fcgicli", "--help"}
		}
		if code := RunEnv(context.Background(), env, args); code != 0 {
			t.Fatalf("%s --help: exit %d\n%s", e.name, code, out.String())
		}
		for _, line := range strings.Split(out.String(), "\n") {
			if len(line) > 100 {
				t.Errorf("%s --help: a line of %d columns:\n%s", e.name, len(line), line)
			}
			for _, zero := range []string{"(default: 0)", "(default: 0s)", "(default: false)", `(default: "")`} {
				if strings.Contains(line, zero) {
					t.Errorf("%s --help: a zero default: %s", e.name, line)
				}
			}
			if strings.Count(line, "default") > 1 {
				t.Errorf("%s --help: two defaults: %s", e.name, line)
			}
		}
	}
}

func TestWrapWords(t *testing.T) {
	got := wrapWords("aa bb cc dddddddd e", 5)
	want := []string{"aa bb", "cc", "dddddddd", "e"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q, want %q", got, want)
	}
}
