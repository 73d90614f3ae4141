package fpmconfig

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// writeTree writes files (absolute paths, taken below root) into root.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFind: the usual places, in SearchPaths' order, on a directory tree
// that has one of each layout; and a tree with none.
func TestFind(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"/etc/php/8.2/fpm/php-fpm.conf":     "",
		"/etc/php/7.4/fpm/php-fpm.conf":     "",
		"/etc/php/8.3/cli/php.ini":          "",
		"/etc/php-fpm.conf":                 "",
		"/etc/opt/remi/php81/php-fpm.conf":  "",
		"/etc/php82/php-fpm.conf":           "",
		"/usr/local/etc/php-fpm.conf":       "",
		"/usr/local/etc/php-fpm.d/www.conf": "",
	})
	if err := os.MkdirAll(filepath.Join(root, "etc/php83/php-fpm.conf"), 0o755); err != nil { // a directory: not a file to read
		t.Fatal(err)
	}
	got, err := Find(os.DirFS(root))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"/etc/php/7.4/fpm/php-fpm.conf", "/etc/php/8.2/fpm/php-fpm.conf",
		"/etc/php-fpm.conf", "/etc/opt/remi/php81/php-fpm.conf", "/etc/php82/php-fpm.conf",
		"/usr/local/etc/php-fpm.conf",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Find = %q\nwant %q", got, want)
	}

	got, err = Find(os.DirFS(t.TempDir()))
	if err != nil || len(got) != 0 {
		t.Errorf("Find on an empty tree = %q, %v; want nothing, no error", got, err)
	}

	got, err = Find(os.DirFS(root), "/usr/local/etc/php-fpm.d/*.conf", "/etc/php-fpm.conf", "/etc/php*.conf")
	if want := []string{"/usr/local/etc/php-fpm.d/www.conf", "/etc/php-fpm.conf"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Find with globs = %q, %v; want %q", got, err, want)
	}
}

// TestFindThenRead: what Find finds in the official image's layout reads
// with the prefix DefaultPrefix gives it, through the same tree.
func TestFindThenRead(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"/usr/local/etc/php-fpm.conf":             dockerMain,
		"/usr/local/etc/php-fpm.d/www.conf":       dockerWWW,
		"/usr/local/etc/php-fpm.d/docker.conf":    dockerDocker,
		"/usr/local/etc/php-fpm.d/zz-docker.conf": dockerZZ,
	})
	fsys := os.DirFS(root)
	found, err := Find(fsys)
	if err != nil || len(found) != 1 {
		t.Fatalf("Find = %q, %v", found, err)
	}
	cfg, err := Read(found[0], Options{FS: fsys, LookupEnv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Prefix != "/usr/local" || len(cfg.Pools) != 1 || cfg.Pools[0].Address != "127.0.0.1:9000" {
		t.Errorf("config %+v", cfg)
	}
}
