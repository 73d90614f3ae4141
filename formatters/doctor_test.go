package formatters

import (
	"bytes"
	"testing"
)

// The checklist: a step a line, the names aligned, what to do under a step
// that is not ok.
func TestWriteDoctorText(t *testing.T) {
	r := &DoctorReport{Addr: "/run/fpm.sock", Steps: []DoctorStep{
		{Name: "address", Result: "ok", Evidence: "unix socket /run/fpm.sock"},
		{Name: "ping", Result: "warn", Evidence: "/ping answered 404", Do: "set ping.path"},
		{Name: "request", Result: "fail", Evidence: "/x.php: 404 Not Found", Do: "give the path"},
	}}
	var b bytes.Buffer
	if err := WriteDoctorText(&b, []*DoctorReport{r}, NewPalette(false)); err != nil {
		t.Fatal(err)
	}
	want := `ok    address  unix socket /run/fpm.sock
warn  ping     /ping answered 404
               do: set ping.path
fail  request  /x.php: 404 Not Found
               do: give the path
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
