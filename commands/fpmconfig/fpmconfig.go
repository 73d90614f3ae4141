// Package fpmconfig reads php-fpm's own configuration the way php-fpm does
// and returns its pools: the main file (php-fpm.conf), the files its
// include= globs name, each pool's name, listen address (and the address
// fcgicli connects to), process manager and its numbers, status and ping
// paths, and the file and line each setting came from. Find looks for the
// main file where the usual distributions and the official Docker images
// put it. status and ping find their pools with it (--fpm-config).
//
// Its size (about 1,700 lines) is PHP's ini scanner and parser reproduced
// line for line in ini.go, because php-fpm reads its files with them and a
// near miss would read another configuration than php-fpm does.
//
// It is a model package, standard library only: it reads files through an
// fs.FS and nothing else. It must not connect to a pool, start or signal
// php-fpm, print, log, or hold package-level mutable state. A
// configuration php-fpm refuses is an *Error with the file and line; no
// input makes it panic.
package fpmconfig

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Pool is one php-fpm pool ([name] section), after php-fpm's own checks
// and defaults.
type Pool struct {
	Name string `json:"name"`
	// Listen is php-fpm's listen, a relative unix socket path made
	// absolute against the prefix as php-fpm does.
	Listen string `json:"listen"`
	// Address is Listen as an fcgicli address to connect to: host:port
	// (127.0.0.1 for a bare port or 0.0.0.0, [::1] for [::]), or the
	// socket's path.
	Address     string `json:"address"`
	ListenOwner string `json:"listen_owner,omitempty"`
	ListenGroup string `json:"listen_group,omitempty"`
	ListenMode  string `json:"listen_mode,omitempty"`
	// PM is "static", "dynamic" or "ondemand", in lower case.
	PM string `json:"pm"`
	// MaxChildren is pm.max_children; StartServers is php-fpm's default
	// (min + (max-min)/2) when a dynamic pool does not set it; the three
	// are 0 for an ondemand pool, as php-fpm sets them.
	MaxChildren     int `json:"max_children"`
	StartServers    int `json:"start_servers"`
	MinSpareServers int `json:"min_spare_servers"`
	MaxSpareServers int `json:"max_spare_servers"`
	// StatusPath is pm.status_path; "/" when pm.status_listen is set
	// without it, as php-fpm makes it.
	StatusPath string `json:"status_path,omitempty"`
	// StatusListen is pm.status_listen, the separate socket php-fpm
	// serves the status page on, as written (php-fpm -tt prints it so);
	// StatusAddress is it as an fcgicli address, a relative socket path
	// made absolute against the prefix.
	StatusListen  string `json:"status_listen,omitempty"`
	StatusAddress string `json:"status_address,omitempty"`
	PingPath      string `json:"ping_path,omitempty"`
	// PingResponse is ping.response: "pong" by default when PingPath is
	// set, "" when it is not.
	PingResponse string `json:"ping_response,omitempty"`
	// Section is where the pool's section first appears; Set, for each
	// directive the pool sets (by its name in lower case: "listen",
	// "pm.max_children"...), where it was set last.
	Section Position            `json:"section"`
	Set     map[string]Position `json:"set"`
}

// Position is a line of a configuration file.
type Position struct {
	File string `json:"file"`
	Line int    `json:"line"`
}

func (p Position) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// Config is php-fpm's configuration as read from one main file.
type Config struct {
	File   string `json:"file"`
	Prefix string `json:"prefix"`
	Pools  []Pool `json:"pools"`
	// Warnings are what php-fpm would accept with a warning (an include
	// that matches nothing), and directives the reader does not know.
	Warnings []Warning `json:"warnings,omitempty"`
}

// Warning is a note about a line php-fpm accepts.
type Warning struct {
	Position
	Reason string `json:"reason"`
}

func (w Warning) String() string { return w.Position.String() + ": " + w.Reason }

// Error is a configuration php-fpm would refuse, or a file it cannot
// read. Line is 0 when the error is not about one line; Err is the
// underlying error, if any (fs.ErrNotExist...).
type Error struct {
	File   string
	Line   int
	Reason string
	Err    error
}

func (e *Error) Error() string {
	return Position{File: e.File, Line: e.Line}.String() + ": " + e.Reason
}

func (e *Error) Unwrap() error { return e.Err }

// Options says how to read.
type Options struct {
	// Prefix is php-fpm's prefix (its -p): relative include= patterns
	// and unix socket paths are taken from it. Empty means
	// DefaultPrefix(file).
	Prefix string
	// FS is the file system absolute paths are looked up in, with their
	// leading "/" removed: os.DirFS("/") when nil. Tests point it at a
	// directory tree (os.DirFS(dir)) or a fstest.MapFS.
	FS fs.FS
	// LookupEnv answers ${NAME}; os.LookupEnv when nil.
	LookupEnv func(string) (string, bool)
}

// DefaultPrefix guesses php-fpm's compiled-in prefix from where its main
// file is: PREFIX/etc/php-fpm.conf (the official Docker images'
// /usr/local/etc/php-fpm.conf, a source build's /opt/php/etc/php-fpm.conf)
// gives PREFIX, Remi's /etc/opt/remi/phpNN/php-fpm.conf gives
// /opt/remi/phpNN/root/usr, anything else the distributions' /usr.
func DefaultPrefix(file string) string {
	file = path.Clean(filepath.ToSlash(file))
	if dir, ok := strings.CutSuffix(file, "/etc/php-fpm.conf"); ok && dir != "" {
		return dir
	}
	if rest, ok := strings.CutPrefix(path.Dir(file), "/etc/opt/remi/"); ok && !strings.Contains(rest, "/") {
		return "/opt/remi/" + rest + "/root/usr"
	}
	return "/usr"
}

// maxDepth is how deep php-fpm follows includes: the main file and four
// levels of included files ("failed to include more than 5 files
// recursively").
const maxDepth = 5

// Read reads the main configuration file and what it includes, and
// returns the pools, or an *Error.
func Read(file string, opt Options) (*Config, error) {
	if opt.FS == nil {
		opt.FS = os.DirFS("/")
		if abs, err := filepath.Abs(file); err == nil {
			file = abs
		}
		if opt.Prefix != "" {
			if abs, err := filepath.Abs(opt.Prefix); err == nil {
				opt.Prefix = abs
			}
		}
	}
	if opt.LookupEnv == nil {
		opt.LookupEnv = os.LookupEnv
	}
	if opt.Prefix == "" {
		opt.Prefix = DefaultPrefix(file)
	}
	r := &reader{opt: opt, cfg: &Config{File: file, Prefix: opt.Prefix}}
	if err := r.load(file, 1, Position{}); err != nil {
		return nil, err
	}
	if err := r.finish(); err != nil {
		return nil, err
	}
	return r.cfg, nil
}

// fsPath turns an absolute path into the FS's name for it.
func fsPath(p string) string {
	p = path.Clean("/" + filepath.ToSlash(p))
	if p == "/" {
		return "."
	}
	return p[1:]
}

// poolState is a pool while it is read.
type poolState struct {
	Pool
	values map[string]string // directive (lower case) -> value
}

type reader struct {
	opt     Options
	cfg     *Config
	pools   []*poolState
	current *poolState // nil in [global]
	global  map[string]string
}

// maxFile bounds what is read of a configuration file: php-fpm's are
// kilobytes, and one that never ends (/dev/zero) is not read to its end.
const maxFile = 4 << 20

// readFile reads a file of fsys, up to maxFile bytes.
func readFile(fsys fs.FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err == nil && len(data) > maxFile {
		err = fmt.Errorf("over %d MiB", maxFile>>20)
	}
	return data, err
}

// load reads one file, as fpm_conf_load_ini_file does: line by line, each
// line parsed on its own, an include= followed after its line.
func (r *reader) load(file string, depth int, from Position) error {
	data, err := readFile(r.opt.FS, fsPath(file))
	if err != nil {
		reason := "cannot read the configuration file"
		if from.File != "" {
			reason = fmt.Sprintf("cannot read %s, included from %s", file, from)
			return &Error{File: from.File, Line: from.Line, Reason: reason + ": " + errText(err), Err: err}
		}
		return &Error{File: file, Reason: reason + ": " + errText(err), Err: err}
	}
	if depth > maxDepth {
		return &Error{File: from.File, Line: from.Line, Reason: fmt.Sprintf("includes nest more than %d files deep (php-fpm: failed to include more than 5 files recursively)", maxDepth)}
	}
	lines := strings.Split(string(data), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for n, line := range lines {
		pos := Position{File: file, Line: n + 1}
		if line == "" {
			continue
		}
		stmts, err := parseLine(line, r.opt.LookupEnv)
		if err != nil {
			return &Error{File: file, Line: pos.Line, Reason: err.Error()}
		}
		var include *string
		for _, st := range stmts {
			if st.kind == stmtEntry && st.name == "include" {
				if include != nil {
					return &Error{File: file, Line: pos.Line, Reason: "two includes on one line"}
				}
				v := st.value
				include = &v
				continue
			}
			if err := r.apply(st, pos); err != nil {
				return err
			}
		}
		if include != nil {
			if err := r.include(*include, depth, pos); err != nil {
				return err
			}
		}
	}
	return nil
}

// errText is an error's text without the path fs.PathError repeats.
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// abs makes p absolute against prefix, as fpm_evaluate_full_path does.
func abs(prefix, p string) string {
	if strings.HasPrefix(p, "/") {
		return p
	}
	return prefix + "/" + p
}

// include follows include=PATTERN: relative to the prefix, globbed as
// glob(3) with GLOB_ERR does, directories skipped, the files read in order.
func (r *reader) include(pattern string, depth int, pos Position) error {
	pattern = abs(r.opt.Prefix, pattern)
	matches, err := glob(r.opt.FS, pattern)
	if err != nil {
		return &Error{File: pos.File, Line: pos.Line, Reason: fmt.Sprintf("include %q: %s", pattern, errText(err)), Err: err}
	}
	if len(matches) == 0 {
		r.cfg.Warnings = append(r.cfg.Warnings, Warning{Position: pos, Reason: fmt.Sprintf("nothing matches the include pattern %q", pattern)})
		return nil
	}
	for _, m := range matches {
		if st, err := fs.Stat(r.opt.FS, fsPath(m)); err == nil && st.IsDir() {
			continue
		}
		if err := r.load(m, depth+1, pos); err != nil {
			return err
		}
	}
	return nil
}
