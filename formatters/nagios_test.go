package formatters

import (
	"strings"
	"testing"
)

// TestWriteNagios: one line; labels quoted when they must be, quotes
// doubled and "=" dropped; empty trailing fields left out; a "|" or a
// newline in the summary cannot start the performance data or a second
// line.
func TestWriteNagios(t *testing.T) {
	var b strings.Builder
	err := WriteNagios(&b, "PHP-FPM", NagiosCritical, "a | b\nc", []NagiosPerf{
		{Label: "active", Value: 3, Crit: "4", Min: "0", Max: "4"},
		{Label: "it's a=b", Value: 0.5, UOM: "s"},
		{Label: "idle", Value: 1, Crit: "2:", Min: "0"},
	})
	want := "PHP-FPM CRITICAL - a / b c | active=3;;4;0;4 'it''s a_b'=0.5s idle=1;;2:;0\n"
	if err != nil || b.String() != want {
		t.Errorf("got %q, %v\nwant %q", b.String(), err, want)
	}
	b.Reset()
	if err := WriteNagios(&b, "PHP-FPM", NagiosUnknown, "no data", nil); err != nil || b.String() != "PHP-FPM UNKNOWN - no data\n" {
		t.Errorf("no perfdata: %q, %v", b.String(), err)
	}
	for _, c := range [][3]NagiosState{
		{NagiosOK, NagiosUnknown, NagiosUnknown},
		{NagiosUnknown, NagiosCritical, NagiosCritical},
		{NagiosWarning, NagiosUnknown, NagiosWarning},
		{NagiosCritical, NagiosOK, NagiosCritical},
	} {
		if got := WorseNagios(c[0], c[1]); got != c[2] {
			t.Errorf("WorseNagios(%s, %s) = %s, want %s", c[0], c[1], got, c[2])
		}
	}
}
