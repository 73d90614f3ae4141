package phprun

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"

	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/formatters"
)

// CLIIni runs the local php command (php, a path or a name on $PATH) and
// returns its ini values, for --diff-cli. A php that is missing or fails
// is a local problem: a usage error (exit 2).
func CLIIni(ctx context.Context, php string) (map[string]*string, error) {
	path, err := exec.LookPath(php)
	if err != nil {
		return nil, runenv.Usagef("--diff-cli needs the php command: %v", runenv.UnwrapOp(err))
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path, "-r", "echo json_encode(ini_get_all(null, false));")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, runenv.Usagef("--diff-cli: %s failed: %v %s", path, err, bytes.TrimSpace(stderr.Bytes()))
	}
	values := map[string]*string{}
	if err := json.Unmarshal(out, &values); err != nil {
		return nil, runenv.Usagef("--diff-cli: %s printed no ini values: %v", path, err)
	}
	return values, nil
}

// DiffCLI keeps the settings whose pool value (the local one) differs
// from the CLI's, and the CLI's settings the pool does not have (of
// names, when given), each with the CLI's value.
func DiffCLI(settings []formatters.PHPIniSetting, cli map[string]*string, names []string) []formatters.PHPIniSetting {
	if len(names) > 0 {
		keep := map[string]*string{}
		for _, n := range names {
			if v, ok := cli[n]; ok {
				keep[n] = v
			}
		}
		cli = keep
	}
	var out []formatters.PHPIniSetting
	seen := map[string]bool{}
	for _, s := range settings {
		seen[s.Name] = true
		v, ok := cli[s.Name]
		s.CLI, s.InCLI = v, ok
		if !ok || value(v) != value(s.Local) {
			out = append(out, s)
		}
	}
	for name, v := range cli {
		if !seen[name] {
			out = append(out, formatters.PHPIniSetting{Name: name, CLI: v, InCLI: true, Source: "(not in the pool)"})
		}
	}
	sortSettings(out)
	return out
}

func value(v *string) string {
	if v == nil {
		return ""
	}
	return *v
}

// Select keeps the settings named, in the order given; a name the pool
// does not have is an error naming it, after the others.
func Select(settings []formatters.PHPIniSetting, names []string) ([]formatters.PHPIniSetting, error) {
	if len(names) == 0 {
		return settings, nil
	}
	byName := map[string]formatters.PHPIniSetting{}
	for _, s := range settings {
		byName[s.Name] = s
	}
	var out []formatters.PHPIniSetting
	var missing []string
	for _, n := range names {
		if s, ok := byName[n]; ok {
			out = append(out, s)
		} else {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return out, fmt.Errorf("the pool has no ini setting named %s", strings.Join(missing, ", "))
	}
	return out, nil
}
