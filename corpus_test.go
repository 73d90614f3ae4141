package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/fcgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestWriteCaptureCorpus captures real traffic (php-fpm, fcgiwrap,
// net/http/fcgi and the built-in responder, both directions) with raw-dump
// --save-request/--save-response and writes each capture as a seed of the
// fuzz targets that decode records and record streams. It only runs when
// FCGICLI_WRITE_CORPUS=1; the seeds it wrote are committed.
func TestWriteCaptureCorpus(t *testing.T) {
	if os.Getenv("FCGICLI_WRITE_CORPUS") != "1" {
		t.Skip("set FCGICLI_WRITE_CORPUS=1 to rewrite the capture seeds")
	}
	vars, err := fpm.start()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go fcgi.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "a=1")
		fmt.Fprintf(w, "hello %s\n", r.URL.RawQuery)
	}))
	type capture struct{ name, target string }
	captures := []capture{
		{"phpfpm-get", vars["FPM_TCP"] + " " + vars["DOCROOT"] + "/status.php?code=404"},
		{"phpfpm-stderr", vars["FPM_TCP"] + " " + vars["DOCROOT"] + "/stderr.php"},
		{"phpfpm-post", vars["FPM_TCP"] + " " + vars["DOCROOT"] + "/post.php -d a=1&b=2"},
		{"phpfpm-missing", vars["FPM_TCP"] + " " + vars["DOCROOT"] + "/missing.php"},
		{"gofcgi-get", l.Addr().String() + " /hello?x=1"},
		{"builtin-filter", "builtin /f --role filter --filter-data abc -d xyz -H Accept:application/json"},
	}
	if bin := findFcgiwrap(); bin != "" {
		dir := t.TempDir()
		sock := filepath.Join(dir, "fcgiwrap.sock")
		cmd := exec.Command(bin, "-s", "unix:"+sock)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cmd.Process.Kill(); cmd.Wait() }()
		script := filepath.Join(dir, "t.cgi")
		os.WriteFile(script, []byte("#!/bin/sh\necho 'Content-Type: text/plain'\necho\necho \"cgi $QUERY_STRING\"\necho oops >&2\n"), 0o755)
		for i := 0; i < 100; i++ {
			if c, err := net.Dial("unix", sock); err == nil {
				c.Close()
				break
			}
		}
		captures = append(captures, capture{"fcgiwrap-get", sock + " " + script + "?q=1"})
	}
	targets := map[string]string{"fcgiwire/testdata/fuzz/FuzzReader": "", "formatters/testdata/fuzz/FuzzDumper": ""}
	dir := t.TempDir()
	for _, c := range captures {
		req, resp := filepath.Join(dir, c.name+"-request"), filepath.Join(dir, c.name+"-response")
		fields := strings.Fields(c.target)
		args := append([]string{"raw-dump", "-c", fields[0], "--save-request", req, "--save-response", resp, "-o", "json"}, fields[1:]...)
		if out, err := fcgicliCmd(t, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", c.name, err, out)
		}
		for _, file := range []string{req, resp} {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			for target := range targets {
				seed := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
				if err := os.WriteFile(filepath.Join(target, "capture-"+filepath.Base(file)), []byte(seed), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}
