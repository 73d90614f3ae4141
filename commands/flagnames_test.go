package commands

import (
	"io"
	"slices"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/fcgicli/fcgicli/commands/runenv"
)

// TestFastNames checks every flag of every command: it is wrapped, its
// names are what urfave/cli would compute, and it keeps the interfaces
// the library looks for.
func TestFastNames(t *testing.T) {
	app := newApp(&runenv.Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }, Environ: func() []string { return nil }})
	check := func(where string, flags []cli.Flag) {
		for _, f := range flags {
			inner := cli.Flag(nil)
			switch w := f.(type) {
			case *boolFlag:
				inner = w.BoolFlag
			case *durationFlag:
				inner = w.DurationFlag
			case *float64Flag:
				inner = w.Float64Flag
			case *float64SliceFlag:
				inner = w.Float64SliceFlag
			case *intFlag:
				inner = w.IntFlag
			case *intSliceFlag:
				inner = w.IntSliceFlag
			case *int64Flag:
				inner = w.Int64Flag
			case *int64SliceFlag:
				inner = w.Int64SliceFlag
			case *stringFlag:
				inner = w.StringFlag
			case *stringSliceFlag:
				inner = w.StringSliceFlag
			case *uintFlag:
				inner = w.UintFlag
			case *uintSliceFlag:
				inner = w.UintSliceFlag
			default:
				t.Errorf("%s: flag %v of type %T is not wrapped: add its type to fastFlag", where, f.Names(), f)
				continue
			}
			if got, want := f.Names(), inner.Names(); !slices.Equal(got, want) {
				t.Errorf("%s: wrapped names %q, urfave/cli's %q", where, got, want)
			}
			for _, iface := range []struct {
				name string
				has  func(cli.Flag) bool
			}{
				{"DocGenerationFlag", func(f cli.Flag) bool { _, ok := f.(cli.DocGenerationFlag); return ok }},
				{"DocGenerationSliceFlag", func(f cli.Flag) bool { s, ok := f.(cli.DocGenerationSliceFlag); return ok && s.IsSliceFlag() }},
				{"VisibleFlag", func(f cli.Flag) bool { _, ok := f.(cli.VisibleFlag); return ok }},
				{"CategorizableFlag", func(f cli.Flag) bool { _, ok := f.(cli.CategorizableFlag); return ok }},
				{"RequiredFlag", func(f cli.Flag) bool { _, ok := f.(cli.RequiredFlag); return ok }},
				{"ActionableFlag", func(f cli.Flag) bool { _, ok := f.(cli.ActionableFlag); return ok }},
			} {
				if iface.has(f) != iface.has(inner) {
					t.Errorf("%s: flag %v: wrapper has %s %v, the flag %v", where, f.Names(), iface.name, iface.has(f), iface.has(inner))
				}
			}
		}
	}
	check("global", app.Flags)
	n := 0
	for _, c := range app.Commands {
		check(c.Name, c.Flags)
		n += len(c.Flags)
	}
	if n < 50 {
		t.Fatalf("only %d command flags seen", n)
	}
}

// TestFastNamesParse runs a command line through the wrapped flags: values,
// aliases, repeated slice flags (no comma splitting) and IsSet by either
// name all behave as with urfave/cli's own types.
func TestFastNamesParse(t *testing.T) {
	var got struct {
		s       string
		list    []string
		d       string
		b, set  bool
		aliased bool
	}
	app := &cli.App{
		Name: "t", DisableSliceFlagSeparator: true, Writer: io.Discard, ErrWriter: io.Discard,
		Commands: []*cli.Command{{
			Name: "c",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "str", Aliases: []string{"s"}},
				&cli.StringSliceFlag{Name: "list", Aliases: []string{"l"}},
				&cli.DurationFlag{Name: "dur", Value: 0},
				&cli.BoolFlag{Name: "bool", Aliases: []string{"b"}},
				&cli.IntFlag{Name: "unset"},
			},
			Action: func(c *cli.Context) error {
				got.s, got.list, got.d, got.b = c.String("str"), c.StringSlice("l"), c.Duration("dur").String(), c.Bool("b")
				got.set, got.aliased = c.IsSet("unset"), c.IsSet("s")
				return nil
			},
		}},
	}
	fastNames(app)
	if err := app.Run([]string{"t", "c", "-s", "x", "-l", "a,b", "-l", "c", "--dur", "2s", "--bool"}); err != nil {
		t.Fatal(err)
	}
	if got.s != "x" || !slices.Equal(got.list, []string{"a,b", "c"}) || got.d != "2s" || !got.b || got.set || !got.aliased {
		t.Fatalf("parsed %+v", got)
	}
}
