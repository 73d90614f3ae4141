package commands

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fcgicli/fcgicli/fcgiwire"
)

// readmeRules returns the example --script file of serve's guide,
// docs/serve.md, as it is printed there.
func readmeRules(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "docs", "serve.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(doc), "A `--script` file is")
	if !ok {
		t.Fatal("docs/serve.md has no --script example")
	}
	_, after, ok = strings.Cut(after, "\n```\n")
	if !ok {
		t.Fatal("docs/serve.md's --script example is not in a ``` block")
	}
	block, _, ok := strings.Cut(after, "\n```\n")
	if !ok {
		t.Fatal("docs/serve.md's --script example does not end")
	}
	return block + "\n"
}

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
	rules, err := parseRules(name)
	if err != nil {
		t.Fatal(err)
	}
	req := func(script, uri string) []fcgiwire.Pair {
		return []fcgiwire.Pair{{Name: "SCRIPT_NAME", Value: script}, {Name: "REQUEST_URI", Value: uri}}
	}
	tests := []struct {
		params  []fcgiwire.Pair
		want    *mockResponse // nil: no rule matches
		comment string
	}{
		{req("/health", "/health"), &mockResponse{body: []byte("ok")}, "the first rule"},
		{req("/api", "/api/v1/users/7"), &mockResponse{status: 404, headers: []string{"Content-Type: application/json"}, body: []byte(`{"error": "no such user"}` + "\n")}, "body @FILE"},
		{req("/private", "/private"), &mockResponse{status: 403, headers: []string{"Variable-AUTH_REASON: denied"}}, "an authorizer's denial"},
		{req("/slow.php", "/slow.php"), &mockResponse{delay: 2 * time.Second, stderr: "PHP Warning: slow"}, "delay, stderr, app-status"},
		{req("/other", "/other"), nil, "no rule"},
	}
	for _, tt := range tests {
		r := matchRule(rules, tt.params)
		switch {
		case tt.want == nil && r != nil:
			t.Errorf("%s: %v matched %+v", tt.comment, tt.params, r.resp)
		case tt.want != nil && r == nil:
			t.Errorf("%s: %v matched no rule", tt.comment, tt.params)
		case tt.want != nil && !equalMock(&r.resp, tt.want):
			t.Errorf("%s: %v answered %+v, want %+v", tt.comment, tt.params, r.resp, *tt.want)
		}
	}
	if len(rules) != 4 {
		t.Errorf("%d rules, want 4", len(rules))
	}
}

func equalMock(a, b *mockResponse) bool {
	return a.status == b.status && string(a.body) == string(b.body) && strings.Join(a.headers, "\n") == strings.Join(b.headers, "\n") &&
		a.stderr == b.stderr && a.appStatus == b.appStatus && a.delay == b.delay
}

// TestRulesHashInValue: # starts a comment only at the start of a line;
// elsewhere it is part of the value, as in a PHP stack trace.
func TestRulesHashInValue(t *testing.T) {
	name := filepath.Join(t.TempDir(), "rules.txt")
	text := "  # a comment, indented\nmatch REQUEST_URI /issue#12\nbody see #12\nstderr Stack trace: #0 /var/www/index.php(3)\n"
	if err := os.WriteFile(name, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	rules, err := parseRules(name)
	if err != nil {
		t.Fatal(err)
	}
	r := matchRule(rules, []fcgiwire.Pair{{Name: "REQUEST_URI", Value: "/issue#12"}})
	if len(rules) != 1 || r == nil || string(r.resp.body) != "see #12" || r.resp.stderr != "Stack trace: #0 /var/www/index.php(3)" {
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
	rules := []rule{{matches: []paramMatch{{name: "HTTP_X_MULTI", re: globRegexp("first*last")}}, resp: mockResponse{status: 418}}}
	if r := matchRule(rules, []fcgiwire.Pair{{Name: "HTTP_X_MULTI", Value: "first\nmiddle\nlast"}}); r == nil {
		t.Error("a param value with newlines did not match first*last")
	}
}
