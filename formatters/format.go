// Package formatters turns results into bytes on an io.Writer: responses,
// record traces, php-fpm's status page and the like. It only renders: it
// never opens sockets, and what it renders is read elsewhere (the status
// page by commands/fpmstatus, whose model it imports).
package formatters

import (
	"fmt"
	"strings"
)

// Format is an output format chosen with -o.
type Format string

// The output formats. Each command accepts the subset that fits it.
const (
	Text  Format = "text"
	JSON  Format = "json"
	Raw   Format = "raw"
	Table Format = "table"
	Hex   Format = "hex"
	// HTML is a web page.
	HTML Format = "html"
	// Prometheus is the Prometheus text exposition format.
	Prometheus Format = "prometheus"
)

// ParseFormat returns s as a Format if it is one of allowed, else an error
// that lists them.
func ParseFormat(s string, allowed ...Format) (Format, error) {
	names := make([]string, len(allowed))
	for i, f := range allowed {
		if string(f) == s {
			return f, nil
		}
		names[i] = string(f)
	}
	return "", fmt.Errorf("unknown output format %q (known: %s)", s, strings.Join(names, ", "))
}
