package formatters

import (
	"encoding/base64"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/fcgicli/fcgicli/fcgiwire"
)

// ValuesResult is a GET_VALUES exchange: the names asked and the pairs
// the application returned, in the order it returned them. Err is the
// fault that cut the answer short (a malformed pair), Returned then
// holding the pairs decoded before it.
type ValuesResult struct {
	Asked    []string
	Returned []fcgiwire.Pair
	Err      string
}

// Missing lists the names asked that the application did not return.
func (v *ValuesResult) Missing() []string {
	missing := []string{}
	for _, n := range v.Asked {
		found := false
		for _, p := range v.Returned {
			if p.Name == n {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, n)
		}
	}
	return missing
}

// Repeated lists the names the application returned more than once, in
// the order of their first appearance. Only the first value of each
// counts, in every format.
func (v *ValuesResult) Repeated() []string {
	var repeated []string
	count := map[string]int{}
	for _, p := range v.Returned {
		if count[p.Name]++; count[p.Name] == 2 {
			repeated = append(repeated, p.Name)
		}
	}
	return repeated
}

// first returns the returned pairs without the repeats of a name.
func (v *ValuesResult) first() []fcgiwire.Pair {
	var pairs []fcgiwire.Pair
	seen := map[string]bool{}
	for _, p := range v.Returned {
		if !seen[p.Name] {
			seen[p.Name] = true
			pairs = append(pairs, p)
		}
	}
	return pairs
}

// NotReturned is how the table shows a name the application left out.
const NotReturned = "(not returned)"

// WriteValues renders a GET_VALUES result: a NAME | VALUE table (names
// asked first, in order, then any extra the application sent), NAME=VALUE
// lines of the returned pairs (text), or {"values": {...}, "missing": [...]}
// with "error" when Err is set. Text and table quote a name or value that
// is not printable UTF-8 (Printable), and text a name with a "=" too, so
// that a line is always one pair. A result cut short by a fault shows the
// pairs decoded before it: the table then has no "(not returned)" rows
// (what came after the fault is unknown), and no table at all when no pair
// was decoded. Of a name returned more than once, only the first value
// is shown (see Repeated).
func WriteValues(w io.Writer, v *ValuesResult, f Format, p *Palette) error {
	switch f {
	case JSON:
		// encoding/json would turn bytes that are not UTF-8 into U+FFFD:
		// such a value goes in values_base64 instead, such a name is
		// Go-quoted, so that nothing is silently altered.
		values, b64 := map[string]string{}, map[string]string{}
		for _, pr := range v.first() {
			if utf8.ValidString(pr.Value) {
				values[jsonName(pr.Name)] = pr.Value
			} else {
				b64[jsonName(pr.Name)] = base64.StdEncoding.EncodeToString([]byte(pr.Value))
			}
		}
		missing := v.Missing()
		for i, n := range missing {
			missing[i] = jsonName(n)
		}
		return writeJSON(w, struct {
			Values       map[string]string `json:"values"`
			ValuesBase64 map[string]string `json:"values_base64,omitempty"`
			Missing      []string          `json:"missing"`
			Error        string            `json:"error,omitempty"`
		}{values, b64, missing, v.Err})
	case Table:
		rows := valueRows(v)
		if len(rows) == 0 {
			return nil
		}
		t := newTable(w, "NAME", "VALUE")
		for _, row := range rows {
			value := Printable(row.value)
			if !row.returned {
				value = p.Dim.Sprint(NotReturned)
			}
			t.append(Printable(row.name), value)
		}
		return t.render()
	}
	var b strings.Builder
	for _, pr := range v.first() {
		fmt.Fprintf(&b, "%s=%s\n", textName(pr.Name), Printable(pr.Value))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// textName is a name as a NAME=VALUE line shows it: quoted as Printable
// quotes, and also when it holds a "=", which would move the line's split.
func textName(s string) string {
	if q := Printable(s); q != s || !strings.Contains(s, "=") {
		return q
	}
	return strconv.Quote(s)
}

// jsonName is a name as a JSON key or list item: as is when it is UTF-8,
// else Go-quoted (encoding/json would replace the bad bytes with U+FFFD).
func jsonName(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strconv.Quote(s)
}

type valueRow struct {
	name, value string
	returned    bool
}

// valueRows lists the names asked, in order, then any extra name the
// application returned. For an answer cut short by a fault, only the
// names returned are listed.
func valueRows(v *ValuesResult) []valueRow {
	var rows []valueRow
	seen := map[string]bool{}
	for _, n := range v.Asked {
		if v.Err != "" {
			break
		}
		seen[n] = true
		row := valueRow{name: n}
		for _, pr := range v.Returned {
			if pr.Name == n {
				row.value, row.returned = pr.Value, true
				break
			}
		}
		rows = append(rows, row)
	}
	for _, pr := range v.Returned {
		if !seen[pr.Name] {
			seen[pr.Name] = true
			rows = append(rows, valueRow{name: pr.Name, value: pr.Value, returned: true})
		}
	}
	return rows
}

// WriteProbe renders the answer to a management record of type sent:
// "UNKNOWN_TYPE type=N" style text, or {"sent_type", "answer_type",
// "unknown_type"} JSON (unknown_type only for an UNKNOWN_TYPE answer).
func WriteProbe(w io.Writer, sent fcgiwire.RecordType, answer fcgiwire.Record, f Format) error {
	var named *uint8
	if answer.Type == fcgiwire.TypeUnknownType {
		if t, err := fcgiwire.DecodeUnknownType(answer.Content); err == nil {
			n := uint8(t)
			named = &n
		}
	}
	if f == JSON {
		return writeJSON(w, struct {
			SentType    uint8  `json:"sent_type"`
			AnswerType  string `json:"answer_type"`
			UnknownType *uint8 `json:"unknown_type,omitempty"`
		}{uint8(sent), answer.Type.String(), named})
	}
	line := fmt.Sprintf("sent type %d, answer %s", uint8(sent), answer.Type)
	if named != nil {
		line += fmt.Sprintf(" type=%d", *named)
	}
	_, err := fmt.Fprintln(w, line)
	return err
}
