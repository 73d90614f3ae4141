package fpmconfig

import (
	"reflect"
	"strings"
	"testing"
)

// TestParseLine: one line as PHP's ini parser reads it in php-fpm, each
// case checked against php-fpm 8.2 where it matters (booleans, quotes,
// expressions, a space before a section, '=' in a value).
func TestParseLine(t *testing.T) {
	env := func(name string) (string, bool) {
		v, ok := map[string]string{"HOME": "/root", "PORT": "9001", "EMPTY": ""}[name]
		return v, ok
	}
	entry := func(name, value string) []statement {
		return []statement{{kind: stmtEntry, name: name, value: value}}
	}
	for _, c := range []struct {
		line string
		want []statement
		bad  bool
	}{
		{line: "", want: nil},
		{line: "   ", want: nil},
		{line: "; a comment", want: nil},
		{line: "  ; indented comment", want: nil},
		{line: "[www]", want: []statement{{kind: stmtSection, name: "www"}}},
		{line: "\t[www]  ", want: []statement{{kind: stmtSection, name: "www"}}},
		{line: "[ www ]", want: []statement{{kind: stmtSection, name: " www "}}},
		{line: "[]", want: []statement{{kind: stmtSection, name: ""}}},
		{line: "[a${PORT}b]", want: []statement{{kind: stmtSection, name: "a9001b"}}},
		{line: "[E_ALL]", want: []statement{{kind: stmtSection, name: "E_ALL"}}},
		{line: "  [www]", bad: true}, // spaces make it a name with an offset
		{line: "[www;x]", bad: true},
		{line: "[www", bad: true},
		{line: "listen = 127.0.0.1:9000", want: entry("listen", "127.0.0.1:9000")},
		{line: "  listen=9000  ; trailing comment", want: entry("listen", "9000")},
		{line: "listen\t=\t/run/php/$pool.sock", want: entry("listen", "/run/php/$pool.sock")},
		{line: "Listen = [::]:9000", want: entry("Listen", "[::]:9000")},
		{line: "key =", want: entry("key", "")},
		{line: "key = ;", want: entry("key", "")},
		{line: `ping.response = "pong; ok"`, want: entry("ping.response", "pong; ok")},
		{line: `ping.response = 'it''s'`, want: entry("ping.response", "its")},
		{line: `a = x "b c" d`, want: entry("a", "xb cd")},
		{line: `a = one two  three`, want: entry("a", "one two  three")},
		{line: `a = "q\"\\\$\n"`, want: entry("a", `q"\$\n`)},
		{line: `a = "C:\path\"`, want: entry("a", `C:\path\`)},
		{line: `a = ${HOME}/x`, want: entry("a", "/root/x")},
		{line: `a = "${HOME}/x"`, want: entry("a", "/root/x")},
		{line: `a = ${ HOME }`, want: entry("a", "/root")},
		{line: `a = ${NOPE}x`, want: entry("a", "x")},
		{line: `a = ${NOPE:-127.0.0.1}:${PORT:-9000}`, want: entry("a", "127.0.0.1:9001")},
		{line: `a = ${EMPTY:-x}`, want: entry("a", "")},
		{line: `a = $x$`, want: entry("a", "$x$\n")}, // "$" takes the newline php-fpm appends
		{line: "a = yes", want: entry("a", "1")},
		{line: "a = On  ", want: entry("a", "1")},
		{line: "a = off", want: entry("a", "")},
		{line: "a = None", want: entry("a", "")},
		{line: "a = null", want: entry("a", "")},
		{line: "a = online", want: entry("a", "online")},
		{line: "a = yes.conf", want: entry("a", "yes.conf")},
		{line: "a = yes no", bad: true},
		{line: "a = E_ALL", want: entry("a", "32767")},
		{line: "a = E_ALL & ~E_NOTICE", want: entry("a", "32759")},
		{line: "a = (5|2)&~1", want: entry("a", "6")},
		{line: "a = /a|/b", want: entry("a", "0")},
		{line: "a = !0", want: entry("a", "1")},
		{line: "a = Hi!", bad: true},
		{line: "a = b=c", bad: true},
		{line: "a = \"open", bad: true},
		{line: "a = ${}", bad: true},
		{line: "a = (1", bad: true},
		{line: "= 1", bad: true},
		{line: "yes = 1", bad: true},
		{line: "# comment", want: []statement{{kind: stmtBare, name: "# comment"}}},
		{line: "a = ''", want: []statement{{kind: stmtEntry, name: "a"}, {kind: stmtBare, name: "'"}}},
		{line: "php_value[memory_limit] = 256M", want: []statement{{kind: stmtArray, name: "php_value", key: "memory_limit", value: "256M"}}},
		{line: "env[PATH] = ${HOME}/bin:/usr/bin", want: []statement{{kind: stmtArray, name: "env", key: "PATH", value: "/root/bin:/usr/bin"}}},
		{line: "access.suppress_path[] = /ping", want: []statement{{kind: stmtArray, name: "access.suppress_path", value: "/ping"}}},
		{line: "php_flag[display_errors] = off", want: []statement{{kind: stmtArray, name: "php_flag", key: "display_errors"}}},
		{line: "php_value[x] 1", bad: true},
		{line: "a = 1\rb = 2", want: []statement{{kind: stmtEntry, name: "a", value: "1"}, {kind: stmtEntry, name: "b", value: "2"}}},
		{line: "a = 1\r", want: entry("a", "1")},
		{line: "a = 1\x00garbage \"", want: entry("a", "1")},
		{line: "\xef\xbb\xbf[www]", want: []statement{{kind: stmtSection, name: "www"}}},
	} {
		got, err := parseLine(c.line, env)
		if c.bad {
			if err == nil {
				t.Errorf("%q: no error, statements %+v", c.line, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.line, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", c.line, got, c.want)
		}
	}
}

// TestAtoi: C's atoi as glibc has it, overflow included.
func TestAtoi(t *testing.T) {
	for in, want := range map[string]int32{
		"": 0, "12": 12, " -3x": -3, "+7": 7, "x": 0, "4294967297": 1, "99999999999999999999999": -1, "-99999999999999999999999": 0,
	} {
		if got := atoi(in); got != want {
			t.Errorf("atoi(%q) = %d, want %d", in, got, want)
		}
	}
}

// TestLongLines: lines of one token repeated, each scanned in one pass
// (a quadratic scanner would make this test crawl; no time is measured).
func TestLongLines(t *testing.T) {
	for _, c := range []struct {
		line string
		bad  bool
	}{
		{"a = " + strings.Repeat("x ", 50000), false},
		{"a = " + strings.Repeat("$\\", 50000), false},
		{"[" + strings.Repeat("x ", 50000) + "]", false},
		{"a = " + strings.Repeat("'", 50000), false}, // a value, then a bare name of quotes
		{"a = " + strings.Repeat("\"x", 50000), false},
		{"a = " + strings.Repeat("\"x", 50001), true},
		{strings.Repeat("a ", 50000), false},
		{"a = " + strings.Repeat("(", 50000), true},
		{"a = " + strings.Repeat("~", 50000) + "1", true},
		{strings.Repeat("\r", 50000), false},
	} {
		if _, err := parseLine(c.line, func(string) (string, bool) { return "", false }); (err != nil) != c.bad {
			t.Errorf("%.20q...: error %v", c.line, err)
		}
	}
}
