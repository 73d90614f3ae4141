package shell

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/formatters"
)

// last shows the previous response again, or its records.
func (s *Session) last(args []string) error {
	if len(s.responses) == 0 {
		return runenv.Usagef("no response yet")
	}
	r := s.responses[len(s.responses)-1]
	fs := flag.NewFlagSet("last", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	output := fs.String("o", s.settings.Output, "")
	include := fs.Bool("i", s.settings.Include, "")
	maxBytes := fs.Int("max-bytes", 256, "")
	dump := false
	if len(args) > 0 && args[0] == "raw-dump" {
		dump, args = true, args[1:]
		*output = "text"
	}
	if err := fs.Parse(args); err != nil {
		return runenv.Usagef("last: %v", err)
	}
	if fs.NArg() > 0 {
		return runenv.Usagef("usage: last [-o text|raw|json] [-i] | last raw-dump [-o text|json]")
	}
	if dump {
		format, err := formatters.ParseFormat(*output, formatters.Text, formatters.JSON)
		if err != nil {
			return &runenv.UsageError{Msg: err.Error()}
		}
		pal, _ := runenv.Palette(s.settings.Color, s.env, s.env.Stdout)
		d := &formatters.Dumper{W: s.env.Stdout, P: pal, Format: format, MaxBytes: *maxBytes}
		if len(r.events) > 0 {
			d.Expect(r.events[0].Header.RequestID)
		}
		for _, ev := range r.events {
			d.Observe(ev)
		}
		return d.Err()
	}
	format, err := formatters.ParseFormat(*output, formatters.Text, formatters.Raw, formatters.JSON)
	if err != nil {
		return &runenv.UsageError{Msg: err.Error()}
	}
	return s.render(r, format, *include, false)
}

// diff compares the last two responses: status, headers, body.
func (s *Session) diff() error {
	if len(s.responses) < 2 {
		return runenv.Usagef("diff needs two responses, there are %d", len(s.responses))
	}
	a, b := s.responses[0], s.responses[1]
	out := s.env.Stdout
	fmt.Fprintf(out, "--- #%d %s\n+++ #%d %s\n", a.n, a.cmd, b.n, b.cmd)
	same := true
	st := func(r *response) string {
		if r.cgi == nil {
			if r.err != nil {
				_, msg := runenv.ExitCode(r.err)
				return "no response (" + msg + ")"
			}
			return "no CGI response"
		}
		return fmt.Sprintf("%d %s", r.cgi.Status, r.cgi.Reason)
	}
	if sa, sb := strings.TrimSpace(st(a)), strings.TrimSpace(st(b)); sa != sb {
		fmt.Fprintf(out, "status: %s -> %s\n", sa, sb)
		same = false
	} else {
		fmt.Fprintf(out, "status: %s (same)\n", sa)
	}
	hdr := func(r *response) []string {
		var out []string
		if r.cgi != nil {
			for _, h := range r.cgi.Headers {
				out = append(out, h.Name+": "+h.Value)
			}
		}
		return out
	}
	if d := lineDiff(hdr(a), hdr(b)); d != nil {
		fmt.Fprintln(out, "headers:")
		for _, l := range d {
			fmt.Fprintln(out, l)
		}
		same = false
	} else {
		fmt.Fprintln(out, "headers: same")
	}
	if bytes.Equal(a.body, b.body) {
		fmt.Fprintf(out, "body: same (%d bytes)\n", len(a.body))
	} else {
		same = false
		fmt.Fprintf(out, "body: %d -> %d bytes\n", len(a.body), len(b.body))
		la, lb := strings.SplitAfter(string(a.body), "\n"), strings.SplitAfter(string(b.body), "\n")
		if len(la)*len(lb) > maxDiffCells {
			fmt.Fprintln(out, "  (too long to compare line by line)")
		} else {
			for _, l := range lineDiff(trimNL(la), trimNL(lb)) {
				fmt.Fprintln(out, l)
			}
		}
	}
	if same {
		fmt.Fprintln(out, "the two responses are the same")
	}
	return nil
}

// maxDiffCells bounds the line-by-line comparison of two bodies.
const maxDiffCells = 4 << 20

// trimNL drops the empty last line of a split and the lines' newlines.
func trimNL(ls []string) []string {
	var out []string
	for _, l := range ls {
		if l != "" {
			out = append(out, strings.TrimSuffix(l, "\n"))
		}
	}
	return out
}

// lineDiff returns a's and b's lines marked "- ", "+ " or "  " along a
// longest common subsequence, or nil when they are equal.
func lineDiff(a, b []string) []string {
	if slices.Equal(a, b) {
		return nil
	}
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []string
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			out = append(out, "  "+a[i])
			i++
			j++
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			out = append(out, "- "+a[i])
			i++
		default:
			out = append(out, "+ "+b[j])
			j++
		}
	}
	return out
}
