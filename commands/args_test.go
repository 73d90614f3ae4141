package commands

import (
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
