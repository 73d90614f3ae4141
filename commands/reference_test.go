package commands

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fcgicli/fcgicli/commands/clidoc"
)

// referencePages is the reference of a fresh app.
func referencePages() map[string]string { return clidoc.ReferencePages(docApp()) }

// TestGeneratedReferenceUpToDate fails when the committed command
// reference under docs/commands differs from what the command definitions
// generate, or holds a page no command generates. With FCGICLI_WRITE_DOCS
// set, it writes the reference instead.
func TestGeneratedReferenceUpToDate(t *testing.T) {
	dir := filepath.Join("..", filepath.FromSlash(clidoc.ReferenceDir))
	pages := referencePages()
	if os.Getenv("FCGICLI_WRITE_DOCS") != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		old, _ := filepath.Glob(filepath.Join(dir, "*.md"))
		for _, f := range old {
			if _, ok := pages[filepath.Base(f)]; !ok {
				if err := os.Remove(f); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, name := range clidoc.PageNames(pages) {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(pages[name]), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	for _, name := range clidoc.PageNames(pages) {
		path := clidoc.ReferenceDir + "/" + name
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%v; generate the reference at the repository's top with: %s", err, clidoc.ReferenceRegen)
			continue
		}
		if string(got) != pages[name] {
			t.Errorf("%s is out of date with the command definitions; regenerate the reference at the repository's top with: %s", path, clidoc.ReferenceRegen)
		}
	}
	committed, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range committed {
		if _, ok := pages[filepath.Base(f)]; !ok {
			t.Errorf("%s/%s is no command's page; remove it, or regenerate the reference with: %s", clidoc.ReferenceDir, filepath.Base(f), clidoc.ReferenceRegen)
		}
	}
}

// TestReferencePage checks one page's parts: the synopsis, the usage, the
// examples as a code block without the help's indentation, the options
// with their placeholders, defaults and environment variables.
func TestReferencePage(t *testing.T) {
	pages := referencePages()
	req := pages["request.md"]
	for _, want := range []string{
		"# fcgicli request\n\nSend one request and print the response.\n\n```\nfcgicli request [options] SCRIPT[?QUERY]\n```\n",
		"\nEXAMPLES:\n\n```\nfcgicli request -c 127.0.0.1:9000 /var/www/html/index.php\n",
		"| `-c, --connect ADDR` | server ADDR: host:port, \\[::1\\]:port, unix:/path, /path, @abstract or builtin (default $FCGI_CONNECT) |",
		"| `--connect-timeout DURATION` | give up connecting after DURATION | `5s` |\n",
		"| `-i, --include` | print the status line and CGI headers before the body |  |\n",
		"FCGI_STDOUT",
		"- [request.md](../request.md): what `request` does, at length\n",
	} {
		if !strings.Contains(req, want) {
			t.Errorf("request.md lacks %q:\n%s", want, req)
		}
	}
	if !strings.Contains(pages["cgi-fcgi.md"], "```\nfcgicli cgi-fcgi -bind -connect ADDR\n```\n") {
		t.Errorf("cgi-fcgi.md lacks its usage text:\n%s", pages["cgi-fcgi.md"])
	}
	index := pages["README.md"]
	for _, c := range commandList() {
		if !strings.Contains(index, "| [`"+c.name+"`]("+c.name+".md) | ") {
			t.Errorf("the index does not list %s:\n%s", c.name, index)
		}
		if _, ok := pages[c.name+".md"]; !ok {
			t.Errorf("no page for %s", c.name)
		}
	}
}
