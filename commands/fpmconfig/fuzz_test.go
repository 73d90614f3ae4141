package fpmconfig

import (
	"errors"
	"testing"
	"testing/fstest"
)

// FuzzRead: any main file, with any file its include= may match, reads
// into pools or an *Error, never a panic; a pool read has what php-fpm
// insists on.
func FuzzRead(f *testing.F) {
	f.Add([]byte("[global]\ninclude = etc/pool.d/*.conf\n"), []byte(debianWWW))
	f.Add([]byte("[www]\nlisten = 9000\npm = static\npm.max_children = 1\n"), []byte(""))
	f.Fuzz(func(t *testing.T, main, included []byte) {
		fsys := fstest.MapFS{
			"etc/php-fpm.conf":  &fstest.MapFile{Data: main},
			"etc/pool.d/a.conf": &fstest.MapFile{Data: included},
		}
		env := func(name string) (string, bool) { return "x" + name, name != "" && name[0] == 'A' }
		cfg, err := Read("/etc/php-fpm.conf", Options{FS: fsys, Prefix: "/", LookupEnv: env})
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is a %T, not an *Error", err, err)
			}
			return
		}
		if len(cfg.Pools) == 0 {
			t.Fatal("no pools and no error")
		}
		for _, p := range cfg.Pools {
			if p.Address == "" || p.MaxChildren < 1 || (p.PM != "static" && p.PM != "dynamic" && p.PM != "ondemand") {
				t.Fatalf("pool %+v", p)
			}
		}
	})
}
