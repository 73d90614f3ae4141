package formatters

import (
	"io"
	"strconv"
	"strings"
)

// Nagios is the one-line output of a Nagios (or Icinga, Naemon...) plugin.
const Nagios Format = "nagios"

// NagiosState is a plugin's state, which is also its exit code under the
// Nagios plugin guidelines.
type NagiosState int

// The states, worst last but for UNKNOWN, which ranks between OK and
// CRITICAL (WorseNagios).
const (
	NagiosOK       NagiosState = 0
	NagiosWarning  NagiosState = 1
	NagiosCritical NagiosState = 2
	NagiosUnknown  NagiosState = 3
)

func (s NagiosState) String() string {
	switch s {
	case NagiosOK:
		return "OK"
	case NagiosWarning:
		return "WARNING"
	case NagiosCritical:
		return "CRITICAL"
	}
	return "UNKNOWN"
}

// WorseNagios returns the worse of two states: CRITICAL, then WARNING,
// then UNKNOWN, then OK.
func WorseNagios(a, b NagiosState) NagiosState {
	rank := map[NagiosState]int{NagiosOK: 0, NagiosUnknown: 1, NagiosWarning: 2, NagiosCritical: 3}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// NagiosPerf is one item of performance data:
// 'label'=value[UOM];[warn];[crit];[min];[max]. Warn and Crit are ranges
// as the guidelines write them ("10", "1:"), "" for none; Min and Max are
// "" when unknown.
type NagiosPerf struct {
	Label      string
	Value      float64
	UOM        string
	Warn, Crit string
	Min, Max   string
}

// WriteNagios writes the plugin line: "SERVICE STATE - summary | perfdata".
// The summary is kept to one line, without the "|" that would start the
// performance data.
func WriteNagios(w io.Writer, service string, state NagiosState, summary string, perf []NagiosPerf) error {
	summary = Printable(strings.NewReplacer("|", "/", "\n", " ", "\r", " ", "\t", " ").Replace(summary))
	var b strings.Builder
	b.WriteString(service + " " + state.String() + " - " + summary)
	for i, p := range perf {
		if i == 0 {
			b.WriteString(" |")
		}
		b.WriteString(" " + nagiosLabel(p.Label) + "=" + strconv.FormatFloat(p.Value, 'f', -1, 64) + p.UOM)
		fields := []string{p.Warn, p.Crit, p.Min, p.Max}
		for len(fields) > 0 && fields[len(fields)-1] == "" {
			fields = fields[:len(fields)-1]
		}
		for _, f := range fields {
			b.WriteString(";" + f)
		}
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// nagiosLabel quotes a label when it holds a space, a quote or an equals
// sign (which it drops: the guidelines forbid it), doubling quotes.
func nagiosLabel(l string) string {
	l = strings.ReplaceAll(l, "=", "_")
	if !strings.ContainsAny(l, " '") {
		return l
	}
	return "'" + strings.ReplaceAll(l, "'", "''") + "'"
}
