package formatters

import (
	"strings"
	"testing"
)

func TestWritePHP(t *testing.T) {
	s := func(v string) *string { return &v }
	var b strings.Builder
	if err := WritePHPErrors(&b, []PHPError{{Level: "Warning", Message: "Undefined variable $x", File: "Command line code", Line: 1}}); err != nil {
		t.Fatal(err)
	}
	if want := "PHP Warning:  Undefined variable $x in Command line code on line 1\n"; b.String() != want {
		t.Errorf("errors: %q, want %q", b.String(), want)
	}

	b.Reset()
	settings := []PHPIniSetting{
		{Name: "memory_limit", Local: s("200M"), Master: s("200M"), Source: "pool", CLI: s("-1"), InCLI: true},
		{Name: "fpm.config", Local: s(""), Master: nil},
	}
	if err := WritePHPIni(&b, settings, true, Text); err != nil {
		t.Fatal(err)
	}
	want := `+--------------+----------+----------+--------+------------------+
| NAME         | LOCAL    | MASTER   | SOURCE | CLI              |
+--------------+----------+----------+--------+------------------+
| memory_limit | 200M     | 200M     | pool   | -1               |
| fpm.config   | no value | no value |        | (not in the CLI) |
+--------------+----------+----------+--------+------------------+
`
	if b.String() != want {
		t.Errorf("ini:\n%s\nwant\n%s", b.String(), want)
	}

	b.Reset()
	acts := []PHPAction{{Action: "opcache reset", Done: true}, {Action: "opcache invalidate", Path: "/a.php"}, {Action: "apcu clear"}}
	if err := WritePHPActions(&b, acts, Text); err != nil {
		t.Fatal(err)
	}
	want = "opcache reset: done\nopcache invalidate /a.php: no such file in the pool\napcu clear: failed (PHP returned false)\n"
	if b.String() != want {
		t.Errorf("actions: %q, want %q", b.String(), want)
	}

	b.Reset()
	st := &OpcacheStatus{Enabled: true, MemoryUsed: 1 << 20, MemoryFree: 3 << 20, CachedKeys: 2, MaxCachedKeys: 100, Hits: 3, Misses: 1, HitRate: 75, StartTime: 86400}
	if err := WriteOpcacheStatus(&b, st, Text); err != nil {
		t.Fatal(err)
	}
	for _, row := range []string{"| memory used           | 1.0 MiB of 4.0 MiB (25.0%) |", "| cached keys           | 2 of 100                   |", "| hit rate              | 75.00%                     |", "| start time            | 1970-01-02T00:00:00Z       |", "| last restart time     | never                      |"} {
		if !strings.Contains(b.String(), row+"\n") {
			t.Errorf("opcache status lacks the row %q:\n%s", row, b.String())
		}
	}

	b.Reset()
	status := 0
	if err := WritePHPRunJSON(&b, &PHPRun{Output: []byte{0xff, 'a'}, Stderr: []byte("e"), End: "return", ExitStatus: &status}); err != nil {
		t.Fatal(err)
	}
	if want := "{\n  \"output_base64\": \"/2E=\",\n  \"stderr\": \"e\",\n  \"errors\": [],\n  \"end\": \"return\",\n  \"exit_status\": 0\n}\n"; b.String() != want {
		t.Errorf("run JSON: %q, want %q", b.String(), want)
	}

	b.Reset()
	if err := WriteHintJSON(&b, "the pool could not run /x", "give --tmp-dir"); err != nil {
		t.Fatal(err)
	}
	if want := "{\n  \"error\": \"the pool could not run /x\",\n  \"hint\": \"give --tmp-dir\"\n}\n"; b.String() != want {
		t.Errorf("hint: %q, want %q", b.String(), want)
	}
}
