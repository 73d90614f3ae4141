package fpmconfig

import (
	"io/fs"
	"path"
	"sort"
	"strings"
)

// glob is glob(3) as php-fpm calls it (GLOB_ERR | GLOB_MARK) over fsys,
// for an absolute pattern: * ? and [...] (with [!...]) match within one
// path component; a name starting with '.' only when the pattern's
// component does too; the matches sorted. A directory that must be read
// to match a component and cannot be (it does not exist, it may not be
// read) is an error, as GLOB_ERR makes it; a name that is not a directory
// simply matches nothing below it.
func glob(fsys fs.FS, pattern string) ([]string, error) {
	parts := strings.Split(strings.TrimPrefix(pattern, "/"), "/")
	paths := []string{"/"}
	sawMeta := false
	for _, part := range parts {
		if part == "" {
			continue
		}
		var next []string
		if !hasMeta(part) {
			for _, d := range paths {
				p := path.Join(d, part)
				if sawMeta { // glob(3) has matched the directories so far: keep those that exist
					if _, err := fs.Stat(fsys, fsPath(p)); err != nil {
						continue
					}
				}
				next = append(next, p)
			}
			paths = next
			continue
		}
		sawMeta = true
		pat := strings.ReplaceAll(part, "[!", "[^")
		for _, d := range paths {
			st, err := fs.Stat(fsys, fsPath(d))
			if err == nil && !st.IsDir() {
				continue
			}
			entries, err := fs.ReadDir(fsys, fsPath(d))
			if err != nil {
				return nil, err
			}
			for _, e := range entries {
				name := e.Name()
				if strings.HasPrefix(name, ".") && !strings.HasPrefix(part, ".") {
					continue
				}
				if ok, err := path.Match(pat, name); ok && err == nil {
					next = append(next, path.Join(d, name))
				}
			}
		}
		paths = next
	}
	dirsOnly := strings.HasSuffix(pattern, "/")
	var out []string
	for _, p := range paths {
		st, err := fs.Stat(fsys, fsPath(p))
		if err != nil {
			continue
		}
		if dirsOnly && !st.IsDir() {
			continue
		}
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}

// hasMeta reports whether a pattern component needs a directory read.
func hasMeta(part string) bool { return strings.ContainsAny(part, `*?[\`) }
