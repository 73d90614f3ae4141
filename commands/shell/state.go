package shell

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

// set changes one of the session's settings.
func (s *Session) set(args []string) error {
	if len(args) < 1 {
		return runenv.Usagef("usage: set %s", commandDocs[7].args)
	}
	what, rest := args[0], strings.Join(args[1:], " ")
	onOff := func(p *bool) error {
		switch rest {
		case "on", "true", "1", "":
			*p = true
		case "off", "false", "0":
			*p = false
		default:
			return runenv.Usagef("set %s: want on or off, got %q", what, rest)
		}
		return nil
	}
	switch what {
	case "param":
		name, _, ok := strings.Cut(rest, "=")
		if !ok || name == "" || len(args) != 2 {
			return runenv.Usagef("usage: set param NAME=VALUE")
		}
		s.settings.Params = slices.DeleteFunc(s.settings.Params, func(p string) bool { return strings.HasPrefix(p, name+"=") })
		s.settings.Params = append(s.settings.Params, rest)
		s.settings.Unset = slices.DeleteFunc(s.settings.Unset, func(u string) bool { return u == name })
	case "header":
		name, _, ok := strings.Cut(rest, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return runenv.Usagef("usage: set header 'Name: value'")
		}
		s.settings.Headers = slices.DeleteFunc(s.settings.Headers, func(h string) bool { return sameHeader(h, name) })
		s.settings.Headers = append(s.settings.Headers, rest)
	case "root":
		s.settings.DocRoot = rest
	case "output":
		if _, err := formatters.ParseFormat(rest, formatters.Text, formatters.Raw, formatters.JSON); err != nil {
			return &runenv.UsageError{Msg: err.Error()}
		}
		s.settings.Output = rest
	case "include":
		return onOff(&s.settings.Include)
	case "verbose":
		return onOff(&s.verbose)
	case "dump":
		return onOff(&s.dump)
	case "timeout":
		d, err := time.ParseDuration(rest)
		if err != nil || d < 0 {
			return runenv.Usagef("set timeout: want a duration such as 5s, got %q", rest)
		}
		s.settings.Net.Timeout = d
	default:
		return runenv.Usagef("cannot set %q (param, header, root, output, include, verbose, dump, timeout)", what)
	}
	return nil
}

// sameHeader reports whether header line h is called name.
func sameHeader(h, name string) bool {
	n, _, _ := strings.Cut(h, ":")
	return strings.EqualFold(strings.TrimSpace(n), strings.TrimSpace(name))
}

// unsetCmd undoes a set.
func (s *Session) unsetCmd(args []string) error {
	if len(args) < 1 {
		return runenv.Usagef("usage: unset param NAME | header NAME | root")
	}
	switch args[0] {
	case "param":
		if len(args) != 2 {
			return runenv.Usagef("usage: unset param NAME")
		}
		name := args[1]
		n := len(s.settings.Params)
		s.settings.Params = slices.DeleteFunc(s.settings.Params, func(p string) bool { return strings.HasPrefix(p, name+"=") })
		if len(s.settings.Params) == n && !slices.Contains(s.settings.Unset, name) {
			// Not one of ours: a default param, no longer sent.
			s.settings.Unset = append(s.settings.Unset, name)
		}
	case "header":
		if len(args) != 2 {
			return runenv.Usagef("usage: unset header NAME")
		}
		s.settings.Headers = slices.DeleteFunc(s.settings.Headers, func(h string) bool { return sameHeader(h, args[1]) })
	case "root":
		s.settings.DocRoot = ""
	default:
		return runenv.Usagef("cannot unset %q (param, header, root)", args[0])
	}
	return nil
}

// show prints the session's state and the params the next request
// sends.
func (s *Session) show(args []string) error {
	out := s.env.Stdout
	onOff := map[bool]string{true: "on", false: "off"}
	addr := s.settings.Net.Connect
	if addr == "" {
		addr = "(none: connect ADDR)"
	}
	conn := "none"
	if s.conn != nil {
		conn = "open (kept alive)"
	}
	for _, kv := range [][2]string{
		{"address", addr}, {"connection", conn}, {"root", s.settings.DocRoot}, {"output", s.settings.Output},
		{"include", onOff[s.settings.Include]}, {"verbose", onOff[s.verbose]}, {"dump", onOff[s.dump]},
		{"timeout", showTimeouts(s.settings.Net)}, {"params", strings.Join(s.settings.Params, " ")},
		{"unset", strings.Join(s.settings.Unset, " ")}, {"headers", strings.Join(s.settings.Headers, "; ")},
	} {
		fmt.Fprintf(out, "%-11s %s\n", kv[0]+":", kv[1])
	}
	script := "/"
	if len(args) > 0 {
		script = args[0]
	} else if len(s.responses) > 0 {
		script = s.responses[len(s.responses)-1].script
	}
	ps, err := fcgireq.BuildParams(fcgireq.ParamSpec{
		Script: script, DocRoot: s.settings.DocRoot, Role: fcgiwire.RoleResponder,
		Params: s.settings.Params, Unset: s.settings.Unset, Headers: s.settings.Headers, BodyLen: -1,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "the next request for %s sends:\n", script)
	for _, p := range ps {
		fmt.Fprintf(out, "  %s=%s\n", p.Name, p.Value)
	}
	return nil
}

// showTimeouts is show's line for the deadlines every command obeys:
// "30s (connect 5s)", with 0 shown as none.
func showTimeouts(o fcgireq.NetOptions) string {
	d := func(d time.Duration) string {
		if d == 0 {
			return "none"
		}
		return d.String()
	}
	return d(o.Timeout) + " (connect " + d(o.ConnectTimeout) + ")"
}

// splitWords splits a line into words as a POSIX shell would: quotes
