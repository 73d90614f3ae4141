package clidoc

import "testing"

// TestMarkdownEscaping checks that Markdown's special characters are
// escaped in prose and tables.
func TestMarkdownEscaping(t *testing.T) {
	for in, want := range map[string]string{
		"# not a heading":         `\# not a heading`,
		"- not a list":            `\- not a list`,
		"12. not a list":          `12\. not a list`,
		"a *b* [c](d) `e` <f> \\": "a \\*b\\* \\[c\\](d) \\`e\\` &lt;f&gt; \\\\",
		"_x_ and FCGI_STDOUT":     `\_x\_ and FCGI_STDOUT`,
	} {
		if got := markdownLine(in); got != want {
			t.Errorf("markdownLine(%q) = %q, want %q", in, got, want)
		}
	}
	if got := markdownCell("a|b"); got != `a\|b` {
		t.Errorf("markdownCell: got %q", got)
	}
	if got := markdownCode("text|raw|json"); got != "`text\\|raw\\|json`" {
		t.Errorf("markdownCode: got %q", got)
	}
}
