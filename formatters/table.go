package formatters

import (
	"io"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
)

// table is a tablewriter table in fcgicli's one style: +---+ ASCII borders
// (they render in every terminal and log), everything left-aligned, cells
// and headers exactly as given (no wrapping, no upper-casing). Colour
// escapes inside cells do not count toward a column's width.
//
// tablewriter is held at v1.0.9: from v1.1 its width package does work at
// package init (a 440 KB cache, locale detection) that every fcgicli run
// paid for, tables or not, a tenth of a one-shot request. Its Render does
// not return the writer's errors: table keeps the first for render.
type table struct {
	t   *tablewriter.Table
	w   *errWriter
	err error
}

func newTable(w io.Writer, header ...string) *table {
	ew := &errWriter{w: w}
	t := tablewriter.NewTable(ew,
		tablewriter.WithSymbols(tw.NewSymbols(tw.StyleASCII)),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignment(tw.AlignLeft),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
	)
	if len(header) > 0 {
		t.Header(header)
	}
	return &table{t: t, w: ew}
}

func (t *table) append(row ...string) {
	if err := t.t.Append(row); err != nil && t.err == nil {
		t.err = err
	}
}

func (t *table) render() error {
	if t.err != nil {
		return t.err
	}
	if err := t.t.Render(); err != nil {
		return err
	}
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
