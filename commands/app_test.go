package commands

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/fcgicli/fcgicli/commands/runenv"
)

func TestReorderArgs(t *testing.T) {
	app := newApp(&runenv.Env{Getenv: func(string) string { return "" }})
	for _, c := range []struct{ in, want string }{
		{"fcgicli request /x -p A=B -c builtin", "fcgicli request -p A=B -c builtin /x"},
		{"fcgicli --color never request /x -iv", "fcgicli --color never request -iv /x"},
		{"fcgicli request /x -d -5 -- -not-a-flag", "fcgicli request -d -5 /x -- -not-a-flag"},
		{"fcgicli request -X=PUT /x --keep-conn", "fcgicli request -X=PUT --keep-conn /x"},
		{"fcgicli get-values A -o json B", "fcgicli get-values -o json A B"},
		{"fcgicli unknown /x -v", "fcgicli unknown /x -v"},
	} {
		got := strings.Join(reorderArgs(app, strings.Fields(c.in)), " ")
		if got != c.want {
			t.Errorf("reorderArgs(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestAppFor checks that commandList names each command as it calls
// itself, that a run naming a command builds that one alone, and that its
// help (with every flag) and its usage errors are those of the whole app.
func TestAppFor(t *testing.T) {
	env := func(out *strings.Builder) *runenv.Env {
		return &runenv.Env{Stdout: out, Stderr: out, Getenv: func(string) string { return "" }, Environ: func() []string { return nil }}
	}
	whole := newApp(env(new(strings.Builder)))
	if len(whole.Commands) != len(commandList()) {
		t.Fatalf("the whole app has %d commands, commandList %d", len(whole.Commands), len(commandList()))
	}
	for i, c := range commandList() {
		if got := whole.Commands[i].Name; got != c.name {
			t.Errorf("commandList()[%d] is %q, its command calls itself %q", i, c.name, got)
		}
		for _, tail := range [][]string{{"--help"}, {"--no-such-flag"}} {
			args := append([]string{"fcgicli", "--color", "never", c.name}, tail...)
			var one, all strings.Builder
			app, reordered := appFor(env(&one), args)
			if len(app.Commands) != 1 || app.Commands[0].Name != c.name {
				t.Fatalf("appFor(%q) built %d commands", args, len(app.Commands))
			}
			errOne := app.RunContext(context.Background(), reordered)
			wholeApp := newApp(env(&all))
			errAll := wholeApp.RunContext(context.Background(), reorderArgs(wholeApp, args))
			if one.String() != all.String() || fmt.Sprint(errOne) != fmt.Sprint(errAll) {
				t.Errorf("%q: alone printed %q (error %v), in the whole app %q (error %v)", args, one.String(), errOne, all.String(), errAll)
			}
		}
	}
	for _, args := range [][]string{{"fcgicli"}, {"fcgicli", "help"}, {"fcgicli", "--color", "never"}, {"fcgicli", "requst"}, {"fcgicli", "--color=never", "--help"}} {
		if app, _ := appFor(env(new(strings.Builder)), args); len(app.Commands) != len(commandList()) {
			t.Errorf("appFor(%q) built %d commands, want all %d", args, len(app.Commands), len(commandList()))
		}
	}
}

func TestFlagMessage(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"flag provided but not defined: -bogus", "unknown flag --bogus (see 'fcgicli x --help')"},
		{"flag provided but not defined: -Z", "unknown flag -Z (see 'fcgicli x --help')"},
		{"flag needs an argument: -t", "flag -t needs a value"},
		{"flag needs an argument: -timeout", "flag --timeout needs a value"},
		{`invalid value "abc" for flag -t: parse error`, `invalid value "abc" for flag -t: parse error`},
		{`invalid value "abc" for flag -timeout: parse error`, `invalid value "abc" for flag --timeout: parse error`},
		{`invalid boolean value "maybe" for -fail: parse error`, `invalid boolean value "maybe" for flag --fail: parse error`},
		{"missing SCRIPT", "missing SCRIPT"},
	} {
		if got := flagMessage(c.in, "fcgicli x --help"); got != c.want {
			t.Errorf("flagMessage(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
