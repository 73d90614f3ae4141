package commands

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
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

func TestSplitPathInfo(t *testing.T) {
	for _, c := range []struct{ uri, script, info string }{
		{"/index.php", "/index.php", ""},
		{"/index.php/a/b", "/index.php", "/a/b"},
		{"/index.php/", "/index.php/", ""},
		{"/a.php/b.php/c", "/a.php/b.php", "/c"},
		{"/v1.0/app.php/x", "/v1.0/app.php", "/x"},
		{"/cgi-bin/t.cgi/x", "/cgi-bin/t.cgi/x", ""},
		{"/.php/x", "/.php", "/x"},
	} {
		script, info := splitPathInfo(c.uri)
		if script != c.script || info != c.info {
			t.Errorf("splitPathInfo(%q) = %q, %q; want %q, %q", c.uri, script, info, c.script, c.info)
		}
	}
}

func names(ps []fcgiwire.Pair) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name+"="+p.Value)
	}
	return out
}

func TestBuildParams(t *testing.T) {
	ps, err := buildParams(paramSpec{
		Script: "/app/index.php/x?q=1", DocRoot: "/srv/", BodyLen: 3, Method: "",
		Headers: []string{"Content-Type: text/plain", "X-A: 1", "Host: h"},
		Environ: []string{"FROM_ENV=1", "REMOTE_PORT=9", "=bad"},
		Unset:   []string{"SERVER_SOFTWARE", "X_NONE"},
		Params:  []string{"X_LAST=a=b", "SERVER_SOFTWARE=me", "EMPTY="},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"QUERY_STRING=q=1", "REQUEST_METHOD=POST", "CONTENT_TYPE=text/plain", "CONTENT_LENGTH=3",
		"SCRIPT_NAME=/app/index.php", "REQUEST_URI=/app/index.php/x?q=1", "DOCUMENT_URI=/app/index.php/x",
		"DOCUMENT_ROOT=/srv/", "SERVER_PROTOCOL=HTTP/1.1", "REQUEST_SCHEME=http", "GATEWAY_INTERFACE=CGI/1.1",
		"REMOTE_ADDR=127.0.0.1", "REMOTE_PORT=9", "SERVER_ADDR=127.0.0.1", "SERVER_PORT=80",
		"SERVER_NAME=localhost", "REDIRECT_STATUS=200", "SCRIPT_FILENAME=/srv/app/index.php", "PATH_INFO=/x",
		"HTTP_HOST=h", "HTTP_X_A=1", "FROM_ENV=1", "X_LAST=a=b", "SERVER_SOFTWARE=me", "EMPTY=",
	}
	if got := names(ps); !reflect.DeepEqual(got, want) {
		t.Fatalf("params:\n%q\nwant\n%q", got, want)
	}
}

func TestBuildParamsErrors(t *testing.T) {
	for _, c := range []struct {
		spec paramSpec
		want string
	}{
		{paramSpec{Script: "", BodyLen: -1}, "missing SCRIPT: give the script path, for example /var/www/html/index.php"},
		{paramSpec{Script: "?a=1", BodyLen: -1}, "missing SCRIPT: give the script path, for example /var/www/html/index.php"},
		{paramSpec{Script: "x.php", BodyLen: -1}, `SCRIPT "x.php" must be an absolute path as the server sees it (or give -r DIR and a URI path)`},
		{paramSpec{Script: "/x", BodyLen: -1, Params: []string{"=v"}}, `bad param "=v": want NAME=VALUE`},
		{paramSpec{Script: "/x", BodyLen: -1, Headers: []string{"Bad Name: v"}}, `bad header "Bad Name: v": want 'Name: value'`},
		{paramSpec{Script: "/x", BodyLen: -1, Params: []string{"CONTENT_LENGTH=4"}}, "CONTENT_LENGTH=4 but the body is 0 bytes: CONTENT_LENGTH must equal the bytes sent"},
		{paramSpec{Script: "/x", BodyLen: 2, Headers: []string{"Content-Length: 3"}}, "CONTENT_LENGTH=3 but the body is 2 bytes: CONTENT_LENGTH must equal the bytes sent"},
	} {
		_, err := buildParams(c.spec)
		var ue *runenv.UsageError
		if !errors.As(err, &ue) || err.Error() != c.want {
			t.Errorf("buildParams(%+v) = %v, want usage error %q", c.spec, err, c.want)
		}
	}
}

func TestBuildParamsRoles(t *testing.T) {
	ps, err := buildParams(paramSpec{Script: "/a/x.php/p", Role: fcgiwire.RoleAuthorizer, BodyLen: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		switch p.Name {
		case "CONTENT_LENGTH", "PATH_INFO", "SCRIPT_NAME":
			t.Errorf("authorizer params carry %s", p.Name)
		}
	}
	ps, err = buildParams(paramSpec{Script: "/f", Role: fcgiwire.RoleFilter, BodyLen: -1, DataLen: 12, DataLastMod: 1700000000})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(names(ps), " ")
	if !strings.Contains(got, "SCRIPT_FILENAME=/f FCGI_DATA_LENGTH=12 FCGI_DATA_LAST_MOD=1700000000 HTTP_HOST=localhost") {
		t.Errorf("filter params: %s", got)
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
