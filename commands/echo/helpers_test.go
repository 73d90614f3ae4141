package echo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readmeRules returns the example --script file of serve's guide,
// docs/serve.md, as it is printed there.
func readmeRules(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "serve.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(doc), "A `--script` file is")
	if !ok {
		t.Fatal("docs/serve.md has no --script example")
	}
	_, after, ok = strings.Cut(after, "\n```\n")
	if !ok {
		t.Fatal("docs/serve.md's --script example is not in a ``` block")
	}
	block, _, ok := strings.Cut(after, "\n```\n")
	if !ok {
		t.Fatal("docs/serve.md's --script example does not end")
	}
	return block + "\n"
}

func equalMock(a, b *Mock) bool {
	return a.Status == b.Status && string(a.Body) == string(b.Body) && strings.Join(a.Headers, "\n") == strings.Join(b.Headers, "\n") &&
		a.Stderr == b.Stderr && a.AppStatus == b.AppStatus && a.Delay == b.Delay
}
