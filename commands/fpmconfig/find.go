package fpmconfig

import (
	"errors"
	"io/fs"
	"os"
)

// SearchPaths returns the globs Find looks at when given none, in order:
// where Debian and Ubuntu (/etc/php/VERSION/fpm/php-fpm.conf), RHEL and
// Fedora (/etc/php-fpm.conf), Remi's collections
// (/etc/opt/remi/phpNN/php-fpm.conf), Alpine and Arch (/etc/phpNN/,
// /etc/php/), the official Docker images and FreeBSD
// (/usr/local/etc/php-fpm.conf), and Homebrew put php-fpm's main file.
func SearchPaths() []string {
	return []string{
		"/etc/php/*/fpm/php-fpm.conf",
		"/etc/php-fpm.conf",
		"/etc/opt/remi/php*/php-fpm.conf",
		"/etc/php*/php-fpm.conf",
		"/usr/local/etc/php-fpm.conf",
		"/usr/local/etc/php/*/php-fpm.conf",
		"/opt/homebrew/etc/php/*/php-fpm.conf",
	}
}

// Find returns the files among the globs that exist and are not
// directories, in the globs' order, each once; with no globs, those of
// SearchPaths. Paths are absolute and looked up in fsys (os.DirFS("/")
// when nil), so that a test can give it a directory tree. A directory
// that is not there is no error; one that cannot be read is.
func Find(fsys fs.FS, globs ...string) ([]string, error) {
	if fsys == nil {
		fsys = os.DirFS("/")
	}
	if len(globs) == 0 {
		globs = SearchPaths()
	}
	seen := map[string]bool{}
	var found []string
	for _, g := range globs {
		matches, err := glob(fsys, g)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return found, &Error{File: g, Reason: "cannot search: " + errText(err), Err: err}
		}
		for _, m := range matches {
			if st, err := fs.Stat(fsys, fsPath(m)); err != nil || st.IsDir() || seen[m] {
				continue
			}
			seen[m] = true
			found = append(found, m)
		}
	}
	return found, nil
}
