package echo

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
)

// Rule is one block of a --script file: matches on params, all of which
// must hold, and the answer to give.
type Rule struct {
	matches []paramMatch
	Resp    Mock // the answer
}

type paramMatch struct {
	name string
	re   *regexp.Regexp
}

// globRegexp turns a glob into an anchored regexp: * matches any run of
// characters, / and newlines included, ? any one character; the rest is
// literal.
func globRegexp(glob string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`(?s)^`) // s: . matches \n too
	for _, r := range glob {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// matchRule returns the first rule whose matches all hold for params.
func matchRule(rules []Rule, params []fcgiwire.Pair) *Rule {
	value := func(name string) (string, bool) {
		v, ok := "", false
		for _, p := range params {
			if p.Name == name {
				v, ok = p.Value, true
			}
		}
		return v, ok
	}
	for i := range rules {
		all := true
		for _, m := range rules[i].matches {
			v, ok := value(m.name)
			if !ok || !m.re.MatchString(v) {
				all = false
				break
			}
		}
		if all {
			return &rules[i]
		}
	}
	return nil
}

// ParseRules reads a --script file: blocks separated by blank lines, each
// line a keyword and its value:
//
//	match NAME GLOB      the param NAME matches GLOB (repeatable: all must)
//	status CODE          the CGI status (default 200)
//	header Name: value   a response header (repeatable)
//	body TEXT | @FILE    the body (a FILE relative to the rules file)
//	stderr TEXT          sent on FCGI_STDERR
//	app-status N         END_REQUEST's app status
//	delay DURATION       wait before answering
//
// Each value runs to the end of its line. Lines starting with # are
// comments; elsewhere # is part of the value (a PHP stack trace in stderr,
// a fragment in a glob). A block without match lines matches every request.
func ParseRules(name string) ([]Rule, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, runenv.Usagef("--script: %v", err)
	}
	defer f.Close()
	var rules []Rule
	var cur *Rule
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(strings.TrimSuffix(sc.Text(), "\r"))
		if strings.HasPrefix(line, "#") {
			continue
		}
		if line == "" {
			cur = nil
			continue
		}
		if cur == nil {
			rules = append(rules, Rule{})
			cur = &rules[len(rules)-1]
		}
		key, val, _ := strings.Cut(line, " ")
		val = strings.TrimSpace(val)
		bad := func(format string, args ...any) error {
			return runenv.Usagef("%s:%d: "+format, append([]any{name, n}, args...)...)
		}
		switch key {
		case "match":
			param, glob, ok := strings.Cut(val, " ")
			if !ok || param == "" {
				return nil, bad("want 'match NAME GLOB'")
			}
			cur.matches = append(cur.matches, paramMatch{name: param, re: globRegexp(strings.TrimSpace(glob))})
		case "status":
			code, err := strconv.Atoi(val)
			if err != nil || code < 100 || code > 999 {
				return nil, bad("status %q: want a number from 100 to 999", val)
			}
			cur.Resp.Status = code
		case "header":
			if h, _, ok := strings.Cut(val, ":"); !ok || strings.TrimSpace(h) == "" {
				return nil, bad("header %q: want 'Name: value'", val)
			}
			cur.Resp.Headers = append(cur.Resp.Headers, val)
		case "body":
			if file, ok := strings.CutPrefix(val, "@"); ok {
				if !filepath.IsAbs(file) {
					file = filepath.Join(filepath.Dir(name), file)
				}
				b, err := os.ReadFile(file)
				if err != nil {
					return nil, bad("body: %v", err)
				}
				cur.Resp.Body = b
			} else {
				cur.Resp.Body = []byte(val)
			}
		case "stderr":
			cur.Resp.Stderr = val
		case "app-status":
			s, err := strconv.ParseUint(val, 10, 32)
			if err != nil {
				return nil, bad("app-status %q: want a number", val)
			}
			cur.Resp.AppStatus = uint32(s)
		case "delay":
			d, err := time.ParseDuration(val)
			if err != nil || d < 0 {
				return nil, bad("delay %q: want a duration such as 100ms", val)
			}
			cur.Resp.Delay = d
		default:
			return nil, bad("unknown keyword %q (known: match, status, header, body, stderr, app-status, delay)", key)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, runenv.Usagef("--script %s: %v", name, err)
	}
	return rules, nil
}
