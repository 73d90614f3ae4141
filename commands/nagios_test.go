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

// TestStatusNagiosSamePoolName: two pools of the same name (a php-fpm
// per PHP release, each with its [www]) keep their performance data apart:
// each label is unique, named after the pool's address.
func TestStatusNagiosSamePoolName(t *testing.T) {
	page := `{"pool":"www","process manager":"static","accepted conn":1,"listen queue":0,"idle processes":1,"active processes":1,"total processes":2}`
	a, b := statusPage(t, page), statusPage(t, page)
	code, stdout, stderr := runCLI(t, "status", "-c", a, "-c", b, "-o", "nagios", "--no-full", "-t", "5s")
	want := "PHP-FPM OK - 2 pools OK | " +
		a + "_active=1;;;0 " + a + "_idle=1;;;0 " + a + "_total=2;;;0 " + a + "_listen_queue=0;;;0 " + a + "_accepted_conn=1c " + a + "_max_children_reached=0c " + a + "_slow_requests=0c " +
		b + "_active=1;;;0 " + b + "_idle=1;;;0 " + b + "_total=2;;;0 " + b + "_listen_queue=0;;;0 " + b + "_accepted_conn=1c " + b + "_max_children_reached=0c " + b + "_slow_requests=0c\n"
	if code != 0 || stdout != want || stderr != "" {
		t.Errorf("exit %d\nstdout: %s\nstderr: %s\nwant exit 0, stdout: %s", code, stdout, stderr, want)
	}
}
