package fcgireq

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
)

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

func TestBuildParams(t *testing.T) {
	ps, err := BuildParams(ParamSpec{
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
		spec ParamSpec
		want string
	}{
		{ParamSpec{Script: "", BodyLen: -1}, "missing SCRIPT: give the script path, for example /var/www/html/index.php"},
		{ParamSpec{Script: "?a=1", BodyLen: -1}, "missing SCRIPT: give the script path, for example /var/www/html/index.php"},
		{ParamSpec{Script: "x.php", BodyLen: -1}, `SCRIPT "x.php" must be an absolute path as the server sees it (or give -r DIR and a URI path)`},
		{ParamSpec{Script: "/x", BodyLen: -1, Params: []string{"=v"}}, `bad param "=v": want NAME=VALUE`},
		{ParamSpec{Script: "/x", BodyLen: -1, Headers: []string{"Bad Name: v"}}, `bad header "Bad Name: v": want 'Name: value'`},
		{ParamSpec{Script: "/x", BodyLen: -1, Params: []string{"CONTENT_LENGTH=4"}}, "CONTENT_LENGTH=4 but the body is 0 bytes: CONTENT_LENGTH must equal the bytes sent"},
		{ParamSpec{Script: "/x", BodyLen: 2, Headers: []string{"Content-Length: 3"}}, "CONTENT_LENGTH=3 but the body is 2 bytes: CONTENT_LENGTH must equal the bytes sent"},
	} {
		_, err := BuildParams(c.spec)
		var ue *runenv.UsageError
		if !errors.As(err, &ue) || err.Error() != c.want {
			t.Errorf("BuildParams(%+v) = %v, want usage error %q", c.spec, err, c.want)
		}
	}
}

func TestBuildParamsRoles(t *testing.T) {
	ps, err := BuildParams(ParamSpec{Script: "/a/x.php/p", Role: fcgiwire.RoleAuthorizer, BodyLen: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		switch p.Name {
		case "CONTENT_LENGTH", "PATH_INFO", "SCRIPT_NAME":
			t.Errorf("authorizer params carry %s", p.Name)
		}
	}
	ps, err = BuildParams(ParamSpec{Script: "/f", Role: fcgiwire.RoleFilter, BodyLen: -1, DataLen: 12, DataLastMod: 1700000000})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(names(ps), " ")
	if !strings.Contains(got, "SCRIPT_FILENAME=/f FCGI_DATA_LENGTH=12 FCGI_DATA_LAST_MOD=1700000000 HTTP_HOST=localhost") {
		t.Errorf("filter params: %s", got)
	}
}
