package clidoc

import (
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// TestManEscaping checks that help text cannot inject roff requests or
// escapes: a leading dot or apostrophe is neutralised with \&, a backslash
// prints as one, in running text as in examples and flag usages.
func TestManEscaping(t *testing.T) {
	app := &cli.App{
		Name:        "fcgicli",
		Usage:       "a test",
		Description: ".SH not a section\nC:\\dir\\file and --opt-name, php-fpm\n'quoted at the start\n\nEXAMPLES:\n   echo 'a\\nb' | fcgicli request -d @-",
		Commands: []*cli.Command{{
			Name:        "cmd",
			Description: ".ft B\ntext",
			Flags:       []cli.Flag{&cli.StringFlag{Name: "dir-name", Aliases: []string{"D"}, Value: `C:\x`, Usage: "read `DIR`; .not a request"}},
		}, {
			Name: "secret", Hidden: true,
		}},
	}
	man := Man(app)
	for _, want := range []string{
		"\n\\&.SH not a section\n",
		"\nC:\\edir\\efile and \\-\\-opt\\-name, php-fpm\n",
		"\n\\&'quoted at the start\n",
		".EX\n   echo 'a\\enb' | fcgicli request \\-d @\\-\n.EE\n",
		"\n\\&.ft B\ntext\n",
		".TP\n\\fB\\-D\\fR, \\fB\\-\\-dir\\-name\\fR \\fIDIR\\fR\nread DIR; .not a request (default: \"C:\\e\\ex\")\n",
	} {
		if !strings.Contains(man, want) {
			t.Errorf("man page lacks %q:\n%s", want, man)
		}
	}
	if strings.Contains(man, "secret") {
		t.Errorf("the hidden command is in the page:\n%s", man)
	}
	// Every line that starts with a dot or an apostrophe is a request
	// the page means.
	known := map[string]bool{".TH": true, ".nr": true, ".SH": true, ".SS": true, ".PP": true, ".TP": true, ".EX": true, ".EE": true, ".B": true, ".I": true, ".BR": true}
	for _, l := range strings.Split(man, "\n") {
		if strings.HasPrefix(l, "'") || strings.HasPrefix(l, ".") && !known[strings.Fields(l)[0]] {
			t.Errorf("stray request line %q", l)
		}
	}
}
