package formatters

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// The results of a conformance case.
const (
	Pass = "PASS"
	Fail = "FAIL"
	Warn = "WARN"
)

// ConformanceCase is one case of the conformance suite and its outcome.
type ConformanceCase struct {
	ID      int    `json:"id"`
	Section string `json:"section"`
	Title   string `json:"title"`
	Result  string `json:"result"`
	Detail  string `json:"detail"`
	// Sent and Received summarise the records of a case that did not
	// pass; Dump is their raw-dump, with -v.
	Sent     string `json:"sent,omitempty"`
	Received string `json:"received,omitempty"`
	Dump     string `json:"dump,omitempty"`
}

// ConformanceReport is the scorecard of one server.
type ConformanceReport struct {
	Server        string            `json:"server"`
	CaseTimeoutUS int64             `json:"case_timeout_us"`
	Cases         []ConformanceCase `json:"cases"`
	Passed        int               `json:"passed"`
	Warnings      int               `json:"warnings"`
	Failed        int               `json:"failed"`
}

// Count fills Passed, Warnings and Failed from the cases.
func (r *ConformanceReport) Count() {
	r.Passed, r.Warnings, r.Failed = 0, 0, 0
	for _, c := range r.Cases {
		switch c.Result {
		case Pass:
			r.Passed++
		case Warn:
			r.Warnings++
		default:
			r.Failed++
		}
	}
}

// specSection names a section of the FastCGI 1.0 specification the cases
// cite.
func specSection(n string) string {
	switch n {
	case "3.3":
		return "Records"
	case "3.4":
		return "Name-Value Pairs"
	case "3.5":
		return "Closing Transport Connections"
	case "4.1":
		return "FCGI_GET_VALUES"
	case "4.2":
		return "FCGI_UNKNOWN_TYPE"
	case "5.1":
		return "FCGI_BEGIN_REQUEST"
	case "5.2":
		return "FCGI_PARAMS"
	case "5.3":
		return "Byte Streams"
	case "5.4":
		return "FCGI_ABORT_REQUEST"
	case "5.5":
		return "FCGI_END_REQUEST"
	}
	return ""
}

// WriteConformanceCase writes one case as text: the id, section, title
// and result on one line; for a case that did not pass, the detail; for a
// failure, what was sent and what came back; with verbose, the raw-dump.
func WriteConformanceCase(w io.Writer, c *ConformanceCase, p *Palette, verbose bool) error {
	var b strings.Builder
	res := c.Result
	switch c.Result {
	case Pass:
		res = p.Good.Sprint(res)
	case Warn:
		res = p.Info.Sprint(res)
	default:
		res = p.Error.Sprint(res)
	}
	fmt.Fprintf(&b, "%3d  %-4s %-68s %s\n", c.ID, c.Section, c.Title, res)
	if c.Result != Pass && c.Detail != "" {
		fmt.Fprintf(&b, "       %s\n", c.Detail)
	}
	if c.Result == Fail {
		if c.Sent != "" {
			fmt.Fprintf(&b, "       sent:     %s\n", c.Sent)
		}
		if c.Received != "" {
			fmt.Fprintf(&b, "       received: %s\n", c.Received)
		}
	}
	if verbose && c.Result != Pass && c.Dump != "" {
		for _, line := range strings.Split(strings.TrimRight(c.Dump, "\n"), "\n") {
			fmt.Fprintf(&b, "       %s\n", line)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteConformanceSummary writes the closing line of the text output.
func WriteConformanceSummary(w io.Writer, r *ConformanceReport) error {
	_, err := fmt.Fprintf(w, "%d cases: %d passed, %d warned, %d failed (%s)\n",
		len(r.Cases), r.Passed, r.Warnings, r.Failed, r.Server)
	return err
}

// WriteConformance renders the whole scorecard: every case and the
// summary (text), the report as one JSON document, or a table with one
// row per section of the specification and the cases' results counted.
func WriteConformance(w io.Writer, r *ConformanceReport, f Format, p *Palette, verbose bool) error {
	switch f {
	case JSON:
		out := *r
		if out.Cases == nil {
			out.Cases = []ConformanceCase{}
		}
		if !verbose {
			out.Cases = make([]ConformanceCase, len(r.Cases))
			for i, c := range r.Cases {
				c.Dump = ""
				out.Cases[i] = c
			}
		}
		return writeJSON(w, out)
	case Table:
		return writeConformanceTable(w, r)
	}
	for i := range r.Cases {
		if err := WriteConformanceCase(w, &r.Cases[i], p, verbose); err != nil {
			return err
		}
	}
	return WriteConformanceSummary(w, r)
}

type sectionRow struct {
	section            string
	cases              []string
	pass, warn, failed int
}

func writeConformanceTable(w io.Writer, r *ConformanceReport) error {
	rows := map[string]*sectionRow{}
	for _, c := range r.Cases {
		row := rows[c.Section]
		if row == nil {
			row = &sectionRow{section: c.Section}
			rows[c.Section] = row
		}
		row.cases = append(row.cases, strconv.Itoa(c.ID))
		switch c.Result {
		case Pass:
			row.pass++
		case Warn:
			row.warn++
		default:
			row.failed++
		}
	}
	keys := make([]string, 0, len(rows))
	for k := range rows {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return sectionLess(keys[i], keys[j]) })
	t := newTable(w, "SECTION", "TITLE", "CASES", "PASS", "WARN", "FAIL")
	for _, k := range keys {
		row := rows[k]
		t.append(k, specSection(k), strings.Join(row.cases, ","), strconv.Itoa(row.pass), strconv.Itoa(row.warn), strconv.Itoa(row.failed))
	}
	t.append("", "total", strconv.Itoa(len(r.Cases)), strconv.Itoa(r.Passed), strconv.Itoa(r.Warnings), strconv.Itoa(r.Failed))
	return t.render()
}

// sectionLess orders section numbers such as 3.3, 3.10 and 4.1 as numbers.
func sectionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, errX := strconv.Atoi(as[i])
		y, errY := strconv.Atoi(bs[i])
		if errX != nil || errY != nil {
			if as[i] != bs[i] {
				return as[i] < bs[i]
			}
			continue
		}
		if x != y {
			return x < y
		}
	}
	return len(as) < len(bs)
}
