package phprun

import (
	"encoding/json"
	"io"
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
		{"file with #!", File([]byte("#!/usr/bin/php\n<?php echo 1;\n"), "a.php"), "<?php\n echo 1;\n"},
		{"file with #! and HTML", File([]byte("#!/usr/bin/php\nhtml\n"), "a.php"), "<?php ?>\nhtml\n"},
		{"file that is only #!", File([]byte("#!/usr/bin/php"), "a.php"), "<?php ?>\n"},
	} {
		if got := string(c.code.Source); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// TestFramer feeds each answer whole, split in two at every byte, and a
// byte at a time.
func TestFramer(t *testing.T) {
	const mark = "fcgicli-00"
	trailer := `{"end":"return","exit_status":0,"errors":[],"result":null}`
	for _, c := range []struct {
		name, body, output, trailer, err string
	}{
		{"framed", "prepended" + mark + "B\nhello\n\n" + mark + "E" + trailer + "\nappended", "hello\n", trailer, ""},
		{"empty output", mark + "B\n\n" + mark + "E" + trailer, "", trailer, ""},
		{"a marker's look-alike in the output", mark + "B\n\n" + mark + "\n" + mark + "X\n\n" + mark + "E" + trailer, "\n" + mark + "\n" + mark + "X\n", trailer, ""},
		{"first marker discarded by a fatal error", "late\n" + mark + "E" + trailer + "\n", "late", trailer, ""},
		// The output is passed on, the trailer's error after it.
		{"no trailer", mark + "B\nhello", "hello", "", errNoTrailer.Error()},
		// Neither marker: the file did not run as PHP.
		{"nothing", "", "", "", errNotRun.Error()},
		{"another server's answer", "echo: GET /x.php\n", "", "", errNotRun.Error()},
	} {
		for cut := 0; cut <= len(c.body)+1; cut++ {
			var out strings.Builder
			f := newFramer(mark, &out, 1<<20)
			if cut <= len(c.body) {
				f.Write([]byte(c.body[:cut]))
				f.Write([]byte(c.body[cut:]))
			} else {
				for i := range len(c.body) {
					f.Write([]byte{c.body[i]})
				}
			}
			line, err := f.trailer()
			if c.err != "" {
				if err == nil || err.Error() != c.err || out.String() != c.output {
					t.Errorf("%s, cut at %d: output %q, error %v; want %q, %q", c.name, cut, out.String(), err, c.output, c.err)
				}
				continue
			}
			if err != nil || out.String() != c.output || string(line) != c.trailer {
				t.Errorf("%s, cut at %d: output %q, trailer %q, error %v; want %q, %q", c.name, cut, out.String(), line, err, c.output, c.trailer)
			}
		}
	}
	// A stream cut short passes on what it held back.
	var out strings.Builder
	f := newFramer(mark, &out, 1<<20)
	f.Write([]byte(mark + "B\nso far"))
	if err := f.cut(); err != nil || out.String() != "so far" {
		t.Errorf("cut: %q, %v", out.String(), err)
	}
	// What is held before the first marker is bounded.
	f = newFramer(mark, io.Discard, 8)
	if _, err := f.Write([]byte("123456789")); err == nil || err.Error() != "the pool's answer holds over 8 bytes outside the code's output" {
		t.Errorf("over the bound: %v", err)
	}
}

func TestDecode(t *testing.T) {
	r := &Run{}
	if err := r.decode([]byte(`{"end":"exit","exit_status":null,"errors":[{"level":"Warning","message":"m","file":"f","line":2}],"result":[1]}`)); err != nil {
		t.Fatal(err)
	}
	if r.End != "exit" || r.ExitStatus != nil || len(r.Errors) != 1 || r.Errors[0].Line != 2 || string(r.Result) != "[1]" {
		t.Errorf("decoded %+v", r)
	}
	if err := r.decode([]byte("{nope")); err == nil || !strings.HasPrefix(err.Error(), "the pool's trailer is not JSON") {
		t.Errorf("bad JSON: %v", err)
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
	a, err := newScript([]byte("<?php echo 'CLASS MARK';"), `it's \ named`)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := newScript(nil, "x")
	if a.mark == b.mark || !strings.HasPrefix(a.mark, "fcgicli-") || len(a.mark) != len("fcgicli-")+32 {
		t.Errorf("marks %q and %q: want two random ones", a.mark, b.mark)
	}
	src := string(a.source)
	// The code travels as base64, untouched by the placeholders.
	for _, want := range []string{`public static $name = 'it\'s \\ named';`, "if (function_exists('ini_set')) {", "echo \"" + a.mark + "B\\n\";", "PD9waHAgZWNobyAnQ0xBU1MgTUFSSyc7"} {
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
		{"Primary script unknown", `php-fpm answered "Primary script unknown": the pool does not see the file, or its user may not reach it (CGI status 404)`},
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
