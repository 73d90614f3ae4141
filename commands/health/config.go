package health

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/fcgicli/fcgicli/commands/fpmconfig"
	"github.com/fcgicli/fcgicli/commands/runenv"
)

// Auto is the --fpm-config value that looks for php-fpm's configuration
// where the usual distributions and images put it.
const Auto = "auto"

// ReadConfigs reads php-fpm's configurations: each file in order, auto
// standing for every one Find finds. A file that cannot be read or that
// php-fpm would refuse, or auto finding none, is a usage error (exit 2)
// naming the file and line.
func ReadConfigs(files []string) ([]*fpmconfig.Config, error) { return readConfigs(files, nil) }

// readConfigs is ReadConfigs on a file system of its own (nil: the
// machine's), where a test puts the usual places.
func readConfigs(files []string, fsys fs.FS) ([]*fpmconfig.Config, error) {
	var out []*fpmconfig.Config
	for _, f := range files {
		names := []string{f}
		if f == Auto {
			found, err := fpmconfig.Find(fsys)
			if err != nil {
				return nil, configError(err)
			}
			if len(found) == 0 {
				return nil, runenv.Usagef("--fpm-config auto: no php-fpm configuration in the usual places (%s)", strings.Join(fpmconfig.SearchPaths(), ", "))
			}
			names = found
		}
		for _, name := range names {
			cfg, err := fpmconfig.Read(name, fpmconfig.Options{FS: fsys})
			if err != nil {
				return nil, configError(err)
			}
			out = append(out, cfg)
		}
	}
	return out, nil
}

// configError is a configuration fault as a usage error: the file and
// line, and what is wrong.
func configError(err error) error {
	var ce *fpmconfig.Error
	if errors.As(err, &ce) {
		return runenv.Usagef("--fpm-config: %s", ce.Error())
	}
	return runenv.Usagef("--fpm-config: %v", err)
}

// StatusTargets returns a target for each pool of the configurations: its
// status page (pm.status_path, query appended), read through
// pm.status_listen when it is set (so that a saturated pool still
// answers), else through listen, with the pool's pm.max_children. A pool
// without pm.status_path is a target that fails saying so.
func StatusTargets(cfgs []*fpmconfig.Config, query string) []Target {
	var out []Target
	for _, cfg := range cfgs {
		for _, p := range cfg.Pools {
			t := Target{Addr: p.Address, Pool: p.Name, MaxChildren: int64(p.MaxChildren)}
			if p.StatusAddress != "" {
				t.Addr = p.StatusAddress
			}
			if p.StatusPath == "" {
				t.Err = noPage(p, "pm.status_path", "its status page")
			} else {
				t.URI = p.StatusPath + query
			}
			out = append(out, t)
		}
	}
	return out
}

// PingTargets returns a target for each pool of the configurations: its
// ping page (ping.path, answering ping.response) through listen. A pool
// without ping.path is a target that fails saying so.
func PingTargets(cfgs []*fpmconfig.Config) []Target {
	var out []Target
	for _, cfg := range cfgs {
		for _, p := range cfg.Pools {
			t := Target{Addr: p.Address, Pool: p.Name, MaxChildren: int64(p.MaxChildren), URI: p.PingPath, Expect: p.PingResponse}
			if p.PingPath == "" {
				t.Err = noPage(p, "ping.path", "its ping page")
			}
			out = append(out, t)
		}
	}
	return out
}

// noPage is the failure of a pool whose configuration has no page to check.
func noPage(p fpmconfig.Pool, directive, what string) error {
	return &PageError{Msg: fmt.Sprintf("its configuration (%s) sets no %s: %s cannot be read", p.Section, directive, what)}
}
