package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/fcgicli/fcgicli"

// The levels of the module's packages, highest first. A package may
// import one at its own level or below, never one above: main ->
// commands -> engines -> the request path -> the echo responder (which
// the request path starts for -c builtin) -> runenv -> formatters ->
// models -> fcgiwire.
const (
	levelFcgiwire   = iota // the protocol: the standard library only
	levelModel             // data a formatter renders and an engine fills
	levelFormatters        // renders; never opens a socket
	levelBottom            // commands/runenv, commands/netio, commands/version: process streams, exit kinds, listeners and tees, the build's version
	levelResponder         // commands/echo: the responder behind serve and -c builtin
	levelRequest           // commands/fcgireq: prepares and sends requests
	levelEngine            // commands/<engine>: conformance, proxy...
	levelCommands          // package commands: the CLI
	levelMain              // the binary, and the tools under scripts/
)

// levelName names a level in a failure.
func levelName(level int) string {
	return [...]string{"fcgiwire", "model", "formatters", "bottom", "responder", "request", "engine", "commands", "main"}[level]
}

// isModel reports whether rel is a package of plain data (results a
// formatter renders and an engine fills), which formatters may import:
// commands/fpmstatus, php-fpm's status page; commands/fpmconfig, its pools.
func isModel(rel string) bool { return rel == "commands/fpmstatus" || rel == "commands/fpmconfig" }

// levelOf places a package of the module by its path relative to the
// module ("" for the root); ok is false for a package no rule places.
func levelOf(rel string) (level int, ok bool) {
	exact := map[string]int{
		"":                 levelMain,
		"commands":         levelCommands,
		"commands/echo":    levelResponder,
		"commands/fcgireq": levelRequest,
		"commands/runenv":  levelBottom,
		"commands/netio":   levelBottom,
		"commands/version": levelBottom,
		"formatters":       levelFormatters,
		"fcgiwire":         levelFcgiwire,
		// a test server for other packages' tests, on fcgiwire only
		"fcgiwire/fcgitest": levelModel,
	}
	if level, ok := exact[rel]; ok {
		return level, true
	}
	switch {
	case isModel(rel):
		return levelModel, true
	case strings.HasPrefix(rel, "scripts/"): // tools, each a main
		return levelMain, true
	case strings.HasPrefix(rel, "commands/"): // every other package there is an engine
		return levelEngine, true
	}
	return 0, false
}

// listedPackage is one line of 'go list -deps': a package, whether it is
// in the standard library, and its imports (not its tests').
type listedPackage struct {
	path     string
	standard bool
	imports  []string
}

// listPackages runs 'go list -deps' over the module.
func listPackages(t *testing.T) map[string]listedPackage {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	cmd := exec.Command(goTool, "list", "-deps", "-f", `{{.ImportPath}}|{{.Standard}}|{{join .Imports " "}}`, "./...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	pkgs := map[string]listedPackage{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), "|", 3)
		if len(parts) != 3 {
			t.Fatalf("go list printed %q", sc.Text())
		}
		p := listedPackage{path: parts[0], standard: parts[1] == "true", imports: strings.Fields(parts[2])}
		pkgs[p.path] = p
	}
	return pkgs
}

// relPath returns path relative to the module, and whether it is in it.
func relPath(path string) (string, bool) {
	if path == module {
		return "", true
	}
	rel, ok := strings.CutPrefix(path, module+"/")
	return rel, ok
}

// layeringViolations checks the import graph against the levels and
// returns one line per import that breaks them.
func layeringViolations(pkgs map[string]listedPackage) []string {
	var bad []string
	for _, p := range pkgs {
		rel, ok := relPath(p.path)
		if !ok {
			continue
		}
		from, ok := levelOf(rel)
		if !ok {
			bad = append(bad, fmt.Sprintf("%s: no level for this package: place it in levelOf (layering_test.go)", p.path))
			continue
		}
		for _, imp := range p.imports {
			irel, inModule := relPath(imp)
			switch {
			case from == levelFcgiwire && !pkgs[imp].standard:
				bad = append(bad, fmt.Sprintf("%s imports %s: fcgiwire uses the standard library only", p.path, imp))
			case !inModule:
			case from == levelFormatters && irel != "fcgiwire" && !isModel(irel):
				bad = append(bad, fmt.Sprintf("%s imports %s: formatters uses only fcgiwire and the model packages", p.path, imp))
			case from == levelEngine && irel == "commands":
				bad = append(bad, fmt.Sprintf("%s imports %s: an engine never imports package commands", p.path, imp))
			default:
				to, ok := levelOf(irel)
				if ok && to > from {
					bad = append(bad, fmt.Sprintf("%s (%s) imports %s (%s): imports point down, not up", p.path, levelName(from), imp, levelName(to)))
				}
			}
		}
	}
	sort.Strings(bad)
	return bad
}

// TestLayering: imports point one way, down, as the levels above say.
func TestLayering(t *testing.T) {
	pkgs := listPackages(t)
	if _, ok := pkgs[module+"/fcgiwire"]; !ok {
		t.Fatalf("go list did not list %s/fcgiwire", module)
	}
	for _, line := range layeringViolations(pkgs) {
		t.Error(line)
	}
}

// TestLayeringCatches: the check itself sees each kind of wrong import.
func TestLayeringCatches(t *testing.T) {
	pkg := func(path string, standard bool, imports ...string) listedPackage {
		return listedPackage{path: path, standard: standard, imports: imports}
	}
	graph := func(ps ...listedPackage) map[string]listedPackage {
		m := map[string]listedPackage{
			"fmt":                                    pkg("fmt", true),
			"vendor/golang.org/x/net/dns/dnsmessage": pkg("vendor/golang.org/x/net/dns/dnsmessage", true),
			"github.com/urfave/cli/v2":               pkg("github.com/urfave/cli/v2", false),
		}
		for _, p := range ps {
			m[p.path] = p
		}
		return m
	}
	m := func(rel string) string { return module + "/" + rel }
	for _, c := range []struct {
		name  string
		pkgs  map[string]listedPackage
		wrong bool
	}{
		{"fcgiwire on std and std's vendored packages", graph(pkg(m("fcgiwire"), false, "fmt", "vendor/golang.org/x/net/dns/dnsmessage")), false},
		{"fcgiwire on urfave/cli", graph(pkg(m("fcgiwire"), false, "github.com/urfave/cli/v2")), true},
		{"formatters on a model", graph(pkg(m("formatters"), false, m("commands/fpmstatus")), pkg(m("commands/fpmstatus"), false)), false},
		{"a model on formatters", graph(pkg(m("commands/fpmstatus"), false, m("formatters")), pkg(m("formatters"), false)), true},
		{"formatters on runenv", graph(pkg(m("formatters"), false, m("commands/runenv")), pkg(m("commands/runenv"), false)), true},
		{"engine on commands", graph(pkg(m("commands/echo"), false, m("commands")), pkg(m("commands"), false)), true},
		{"engine on a sibling engine", graph(pkg(m("commands/proxy"), false, m("commands/conformance")), pkg(m("commands/conformance"), false)), false},
		{"engine on the responder", graph(pkg(m("commands/proxy"), false, m("commands/echo")), pkg(m("commands/echo"), false)), false},
		{"engine on the request path", graph(pkg(m("commands/bench"), false, m("commands/fcgireq")), pkg(m("commands/fcgireq"), false)), false},
		{"request path on the responder", graph(pkg(m("commands/fcgireq"), false, m("commands/echo")), pkg(m("commands/echo"), false)), false},
		{"request path on an engine", graph(pkg(m("commands/fcgireq"), false, m("commands/conformance")), pkg(m("commands/conformance"), false)), true},
		{"responder on the request path", graph(pkg(m("commands/echo"), false, m("commands/fcgireq")), pkg(m("commands/fcgireq"), false)), true},
		{"runenv on the request path", graph(pkg(m("commands/runenv"), false, m("commands/fcgireq")), pkg(m("commands/fcgireq"), false)), true},
		{"commands on an engine", graph(pkg(m("commands"), false, m("commands/echo")), pkg(m("commands/echo"), false)), false},
		{"a package with no level", graph(pkg(m("internal/x"), false)), true},
	} {
		got := layeringViolations(c.pkgs)
		if (len(got) > 0) != c.wrong {
			t.Errorf("%s: violations %q", c.name, got)
		}
	}
}
