package commands

import "testing"

// TestNagiosRequested: -o nagios is found in each of its spellings, after
// the global --color too, and only for status and ping.
func TestNagiosRequested(t *testing.T) {
	for _, c := range []struct {
		args []string
		want bool
	}{
		{[]string{"fcgicli", "status", "-o", "nagios"}, true},
		{[]string{"fcgicli", "ping", "-c", "x", "--output=nagios"}, true},
		{[]string{"fcgicli", "--color", "never", "ping", "-onagios"}, true},
		{[]string{"fcgicli", "--color=never", "status", "--output", "nagios"}, true},
		{[]string{"fcgicli", "status", "-o", "json"}, false},
		{[]string{"fcgicli", "status", "-o"}, false},
		{[]string{"fcgicli", "request", "-o", "nagios"}, false},
		{[]string{"fcgicli", "status", "--", "-o", "nagios"}, false},
		{[]string{"fcgicli"}, false},
	} {
		if got := nagiosRequested(c.args); got != c.want {
			t.Errorf("%q: %v, want %v", c.args, got, c.want)
		}
	}
}
