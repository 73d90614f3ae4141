package formatters

import (
	"io"

	"github.com/olekukonko/tablewriter"
)

// table is a tablewriter table in fcgicli's one style: +---+ ASCII borders
// (they render in every terminal and log), everything left-aligned, cells
// and headers exactly as given (no wrapping, no upper-casing). Colour
// escapes inside cells do not count toward a column's width.
//
// tablewriter v0.0.5 drops write errors; table keeps the first one for
// render to return.
type table struct {
	t *tablewriter.Table
	w *errWriter
}

func newTable(w io.Writer, header ...string) *table {
	ew := &errWriter{w: w}
	t := tablewriter.NewWriter(ew)
	t.SetAutoWrapText(false)
	t.SetAutoFormatHeaders(false)
	t.SetAlignment(tablewriter.ALIGN_LEFT)
	t.SetHeaderAlignment(tablewriter.ALIGN_LEFT)
	if len(header) > 0 {
		t.SetHeader(header)
	}
	return &table{t: t, w: ew}
}

func (t *table) append(row ...string) { t.t.Append(row) }

func (t *table) render() error {
	t.t.Render()
	return t.w.err
}

// errWriter passes writes on until one fails, then fails every later one
// with that error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}
