package phprun

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

func TestSnippetAndFile(t *testing.T) {
	for _, c := range []struct {
		name string
		code Code
		want string
	}{
		{"snippet", Snippet([]byte(`echo 1;`)), `<?php echo 1;`},
		{"snippet with a tag", Snippet([]byte("<?php echo 1;")), "<?php echo 1;"},
		{"file", File([]byte("<?php echo 1;\n"), "a.php"), "<?php echo 1;\n"},
		// The #! line still counts as line 1.
		{"file with #!", File([]byte("#!/usr/bin/php\n<?php echo 1;\n"), "a.php"), "<?php ?>\n<?php echo 1;\n"},
		{"file that is only #!", File([]byte("#!/usr/bin/php"), "a.php"), "<?php ?>"},
	} {
		if got := string(c.code.Source); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

func TestParse(t *testing.T) {
	const mark = "fcgicli-00"
	status := func(n int) *int { return &n }
	for _, c := range []struct {
		name, body, output string
		end                string
		exit               *int
		err                string
	}{
		{"framed", "prepended" + mark + "B\nhello\n\n" + mark + `E{"end":"return","exit_status":0,"errors":[],"result":null}` + "\nappended", "hello\n", "return", status(0), ""},
		{"first marker discarded by a fatal error", "late\n" + mark + `E{"end":"fatal","exit_status":255,"errors":[],"result":null}` + "\n", "late", "fatal", status(255), ""},
		{"unknown status", mark + "B\n\n" + mark + `E{"end":"exit","exit_status":null,"errors":[],"result":null}`, "", "exit", nil, ""},
		{"no trailer", mark + "B\nhello", "", "", nil, "the pool's answer has no fcgicli trailer"},
		{"bad trailer", mark + "B\n\n" + mark + "E{nope\n", "", "", nil, "the pool's trailer is not JSON"},
	} {
		r := &Run{}
		err := r.parse(mark, []byte(c.body))
		if c.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), c.err) {
				t.Errorf("%s: error %v, want %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if string(r.Output) != c.output || r.End != c.end || (r.ExitStatus == nil) != (c.exit == nil) || r.ExitStatus != nil && *r.ExitStatus != *c.exit {
			t.Errorf("%s: output %q, end %q, exit %v; want %q, %q, %v", c.name, r.Output, r.End, r.ExitStatus, c.output, c.end, c.exit)
		}
	}
}

func TestWriteScript(t *testing.T) {
	dir := t.TempDir()
	path, cleanup, err := writeScript(dir, []byte("<?php"))
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	di, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 || di.Mode().Perm() != 0o711 || !strings.HasSuffix(path, ".php") || filepath.Dir(filepath.Dir(path)) != dir {
		t.Errorf("script %s mode %v in a directory of mode %v; want 0644 in a directory of its own of 0711 under %s", path, fi.Mode().Perm(), di.Mode().Perm(), dir)
	}
	cleanup()
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("after cleanup, %v left", left)
	}
	if _, _, err := writeScript(filepath.Join(dir, "missing"), nil); err == nil || err.Error() != "--tmp-dir "+dir+"/missing: no such file or directory" {
		t.Errorf("a missing --tmp-dir: %v", err)
	}
}

func TestNewScript(t *testing.T) {
	a, err := newScript([]byte("<?php echo 'CLASS MARK';"), `it's \ named`, true)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := newScript(nil, "x", false)
	if a.mark == b.mark || !strings.HasPrefix(a.mark, "fcgicli-") || len(a.mark) != len("fcgicli-")+32 {
		t.Errorf("marks %q and %q: want two random ones", a.mark, b.mark)
	}
	src := string(a.source)
	// The code travels as base64, untouched by the placeholders.
	for _, want := range []string{`public static $name = 'it\'s \\ named';`, "if (true && ", "echo \"" + a.mark + "B\\n\";", "PD9waHAgZWNobyAnQ0xBU1MgTUFSSyc7"} {
		if !strings.Contains(src, want) {
			t.Errorf("the script lacks %q", want)
		}
	}
	if strings.Contains(src, "PHP_VALUE") {
		t.Error("the script mentions PHP_VALUE")
	}
}

func TestBlind(t *testing.T) {
	done := &fcgiwire.ResponseParser{Done: true, Response: fcgiwire.CGIResponse{Status: 404}}
	for _, c := range []struct {
		stderr, why string
	}{
		{"Primary script unknown", `php-fpm answered "Primary script unknown": the file is not there as the pool sees the file system (CGI status 404)`},
		{"PHP message: PHP Warning:  PHP Request Startup: open_basedir restriction in effect. File(/x) is not within the allowed path(s): (/y) in Unknown on line 0; Unable to open primary script: /x (Operation not permitted)", "open_basedir forbids it (CGI status 404)"},
		{"PHP message: PHP Warning:  x; Unable to open primary script: /x (Permission denied)", "php-fpm cannot open it (Unable to open primary script: /x (Permission denied)) (CGI status 404)"},
		{"Access to the script '/x' has been denied (see security.limit_extensions)", "php-fpm refuses its extension (security.limit_extensions) (CGI status 404)"},
	} {
		e := blind("/x", "/tmp", done, []byte(c.stderr))
		if e == nil || e.Why != c.why || !strings.Contains(e.Hint, "--tmp-dir") && !strings.Contains(e.Hint, "limit_extensions") {
			t.Errorf("%q: %+v, want why %q and a hint", c.stderr, e, c.why)
		}
	}
	if e := blind("/x", "/tmp", done, []byte("PHP message: something else")); e != nil {
		t.Errorf("another stderr taken for a blind pool: %+v", e)
	}
}

func TestDiffCLIAndSelect(t *testing.T) {
	s := func(v string) *string { return &v }
	pool := []formatters.PHPIniSetting{
		{Name: "a", Local: s("1")}, {Name: "b", Local: s("2")}, {Name: "fpm.only", Local: s("x")},
	}
	cli := map[string]*string{"a": s("1"), "b": s("3"), "cli.only": nil}
	got := DiffCLI(pool, cli, nil)
	b, _ := json.Marshal(got)
	want := `[{"name":"b","local_value":"2","master_value":null,"access":"","source":"","cli_value":"3"},` +
		`{"name":"cli.only","local_value":null,"master_value":null,"access":"","source":"(not in the pool)"},` +
		`{"name":"fpm.only","local_value":"x","master_value":null,"access":"","source":""}]`
	if string(b) != want {
		t.Errorf("DiffCLI:\n%s\nwant\n%s", b, want)
	}
	sel, err := Select(pool, []string{"b", "nope", "a", "zz"})
	if len(sel) != 2 || sel[0].Name != "b" || sel[1].Name != "a" || err == nil || err.Error() != "the pool has no ini setting named nope, zz" {
		t.Errorf("Select: %v, %v", sel, err)
	}
}
