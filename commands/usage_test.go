package commands

import "testing"

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
