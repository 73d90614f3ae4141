package formatters

import (
	"fmt"
	"io"
	"strings"
)

// DoctorStep is one step of doctor's checklist: its name, its result
// (ok, warn or fail), one line of evidence and, unless it is ok, one line
// of what to do.
type DoctorStep struct {
	Name     string `json:"step"`
	Result   string `json:"result"`
	Evidence string `json:"evidence"`
	Do       string `json:"do,omitempty"`
}

// DoctorReport is doctor's checklist for one address: the steps taken, in
// order, up to the first that failed.
type DoctorReport struct {
	Addr   string       `json:"address"`
	Script string       `json:"script"`
	Steps  []DoctorStep `json:"steps"`
	// Verdict is ok, warn (nothing failed, something warned) or fail.
	Verdict string `json:"verdict"`
}

// WriteDoctorText writes the checklist of each pool, a step a line, with
// what to do under each step that is not ok; with several pools, each
// under a heading naming it, as head(1) heads each file.
func WriteDoctorText(w io.Writer, reports []*DoctorReport, p *Palette) error {
	var b strings.Builder
	for i, r := range reports {
		if len(reports) > 1 {
			if i > 0 {
				b.WriteString("\n")
			}
			fmt.Fprintf(&b, "==> %s <==\n", Printable(r.Addr))
		}
		writeDoctorSteps(&b, r, p)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeDoctorSteps(b *strings.Builder, r *DoctorReport, p *Palette) {
	width := 0
	for _, s := range r.Steps {
		width = max(width, len(s.Name))
	}
	for _, s := range r.Steps {
		result := fmt.Sprintf("%-4s", s.Result)
		switch s.Result {
		case "ok":
			result = p.Good.Sprint(result)
		case "warn":
			result = p.Info.Sprint(result)
		case "fail":
			result = p.Error.Sprint(result)
		}
		fmt.Fprintf(b, "%s  %-*s  %s\n", result, width, s.Name, s.Evidence)
		if s.Do != "" {
			fmt.Fprintf(b, "%s  %-*s  %s\n", strings.Repeat(" ", 4), width, "", "do: "+s.Do)
		}
	}
}

// WriteDoctorJSON writes the report of one pool as one JSON document, or
// those of several as {"pools": [...]}.
func WriteDoctorJSON(w io.Writer, reports []*DoctorReport) error {
	if len(reports) == 1 {
		return writeJSON(w, reports[0])
	}
	return writeJSON(w, struct {
		Pools []*DoctorReport `json:"pools"`
	}{reports})
}
