package echo

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fcgicli/fcgicli/fcgiwire"
)

// TestReadmeRules: the example rules file of docs/serve.md works as printed, with
// the file its body @FILE names next to it.
func TestReadmeRules(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "rules.txt")
	if err := os.WriteFile(name, []byte(readmeRules(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "user404.json"), []byte(`{"error": "no such user"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rules, err := ParseRules(name)
	if err != nil {
		t.Fatal(err)
	}
	req := func(script, uri string) []fcgiwire.Pair {
		return []fcgiwire.Pair{{Name: "SCRIPT_NAME", Value: script}, {Name: "REQUEST_URI", Value: uri}}
	}
	tests := []struct {
		params  []fcgiwire.Pair
		want    *Mock // nil: no rule matches
		comment string
	}{
		{req("/health", "/health"), &Mock{Body: []byte("ok")}, "the first rule"},
		{req("/api", "/api/v1/users/7"), &Mock{Status: 404, Headers: []string{"Content-Type: application/json"}, Body: []byte(`{"error": "no such user"}` + "\n")}, "body @FILE"},
		{req("/private", "/private"), &Mock{Status: 403, Headers: []string{"Variable-AUTH_REASON: denied"}}, "an authorizer's denial"},
		{req("/slow.php", "/slow.php"), &Mock{Delay: 2 * time.Second, Stderr: "PHP Warning: slow"}, "delay, stderr, app-status"},
		{req("/other", "/other"), nil, "no rule"},
	}
	for _, tt := range tests {
		r := matchRule(rules, tt.params)
		switch {
		case tt.want == nil && r != nil:
			t.Errorf("%s: %v matched %+v", tt.comment, tt.params, r.Resp)
		case tt.want != nil && r == nil:
			t.Errorf("%s: %v matched no rule", tt.comment, tt.params)
		case tt.want != nil && !equalMock(&r.Resp, tt.want):
			t.Errorf("%s: %v answered %+v, want %+v", tt.comment, tt.params, r.Resp, *tt.want)
		}
	}
	if len(rules) != 4 {
		t.Errorf("%d rules, want 4", len(rules))
	}
}

// TestRulesHashInValue: # starts a comment only at the start of a line;
// elsewhere it is part of the value, as in a PHP stack trace.
func TestRulesHashInValue(t *testing.T) {
	name := filepath.Join(t.TempDir(), "rules.txt")
	text := "  # a comment, indented\nmatch REQUEST_URI /issue#12\nbody see #12\nstderr Stack trace: #0 /var/www/index.php(3)\n"
	if err := os.WriteFile(name, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	rules, err := ParseRules(name)
	if err != nil {
		t.Fatal(err)
	}
	r := matchRule(rules, []fcgiwire.Pair{{Name: "REQUEST_URI", Value: "/issue#12"}})
	if len(rules) != 1 || r == nil || string(r.Resp.Body) != "see #12" || r.Resp.Stderr != "Stack trace: #0 /var/www/index.php(3)" {
		t.Fatalf("rules %+v", rules)
	}
}

// TestGlobMatchesNewlines: * and ? match any character, a newline and
// bytes that are not UTF-8 included.
func TestGlobMatchesNewlines(t *testing.T) {
	for _, tt := range []struct {
		glob, value string
		want        bool
	}{
		{"*", "line one\nline two", true},
		{"Mozilla*", "Mozilla/5.0\r\nX-Injected: 1", true},
		{"a?b", "a\nb", true},
		{"*\n*", "a\nb", true},
		{"/api/*", "/api/\xff\xfe", true},
		{"a?b", "a\n\nb", false},
		{"/x", "/x\n", false},
	} {
		if got := globRegexp(tt.glob).MatchString(tt.value); got != tt.want {
			t.Errorf("glob %q on %q = %t, want %t", tt.glob, tt.value, got, tt.want)
		}
	}
	rules := []Rule{{matches: []paramMatch{{name: "HTTP_X_MULTI", re: globRegexp("first*last")}}, Resp: Mock{Status: 418}}}
	if r := matchRule(rules, []fcgiwire.Pair{{Name: "HTTP_X_MULTI", Value: "first\nmiddle\nlast"}}); r == nil {
		t.Error("a param value with newlines did not match first*last")
	}
}
