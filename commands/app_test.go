package commands

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/fcgicli/fcgicli/commands/runenv"
)

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
