package commands

import (
	"errors"
	"flag"

	"github.com/urfave/cli/v2"
)

// urfave/cli v2 finds a flag by calling Names on every flag of the command,
// and each Names call runs a regular expression over each name. Every
// command line pays for it twice over: the library checks each flag for an
// action to run, looking each one up in turn, so one `fcgicli request`
// ran about two thousand regular expressions (0.3 ms, a tenth of the whole
// run). fastNames wraps each flag in a type whose Names returns the names
// computed once. The wrappers embed the flag itself, so every other method
// and interface (help, parsing, slices' separators) is the flag's own.

type (
	boolFlag struct {
		*cli.BoolFlag
		n nameList
	}
	durationFlag struct {
		*cli.DurationFlag
		n nameList
	}
	float64Flag struct {
		*cli.Float64Flag
		n nameList
	}
	float64SliceFlag struct {
		*cli.Float64SliceFlag
		n nameList
	}
	intFlag struct {
		*cli.IntFlag
		n nameList
	}
	intSliceFlag struct {
		*cli.IntSliceFlag
		n nameList
	}
	int64Flag struct {
		*cli.Int64Flag
		n nameList
	}
	int64SliceFlag struct {
		*cli.Int64SliceFlag
		n nameList
	}
	stringFlag struct {
		*cli.StringFlag
		n    nameList
		once bool // a second value is an error (see onceValue)
	}
	stringSliceFlag struct {
		*cli.StringSliceFlag
		n nameList
	}
	uintFlag struct {
		*cli.UintFlag
		n nameList
	}
	uintSliceFlag struct {
		*cli.UintSliceFlag
		n nameList
	}
)

func (f *boolFlag) Names() []string         { return f.n.list }
func (f *durationFlag) Names() []string     { return f.n.list }
func (f *float64Flag) Names() []string      { return f.n.list }
func (f *float64SliceFlag) Names() []string { return f.n.list }
func (f *intFlag) Names() []string          { return f.n.list }
func (f *intSliceFlag) Names() []string     { return f.n.list }
func (f *int64Flag) Names() []string        { return f.n.list }
func (f *int64SliceFlag) Names() []string   { return f.n.list }
func (f *stringFlag) Names() []string       { return f.n.list }
func (f *stringSliceFlag) Names() []string  { return f.n.list }
func (f *uintFlag) Names() []string         { return f.n.list }
func (f *uintSliceFlag) Names() []string    { return f.n.list }

// fastNames replaces the flags of the app and of its commands, at every
// depth, by wrappers with precomputed names. A flag of another type stays
// as it is.
func fastNames(app *cli.App) {
	app.Flags = fastFlagList(app.Flags)
	var walk func([]*cli.Command)
	walk = func(cmds []*cli.Command) {
		for _, c := range cmds {
			c.Flags = fastFlagList(c.Flags)
			walk(c.Subcommands)
		}
	}
	walk(app.Commands)
}

func fastFlagList(flags []cli.Flag) []cli.Flag {
	out := make([]cli.Flag, len(flags))
	for i, f := range flags {
		out[i] = fastFlag(f)
	}
	return out
}

// nameList holds a flag's names: what cli.FlagNames returns for names
// without commas or spaces, which no fcgicli flag has (TestFastNames
// checks). The usual one or two live in the wrapper itself, so wrapping
// costs one allocation per flag.
type nameList struct {
	buf  [2]string
	list []string
}

func (l *nameList) set(name string, aliases []string) {
	if len(aliases) >= len(l.buf) {
		l.list = append([]string{name}, aliases...)
		return
	}
	l.buf[0] = name
	copy(l.buf[1:], aliases)
	n := 1 + len(aliases)
	l.list = l.buf[:n:n]
}

func fastFlag(f cli.Flag) cli.Flag {
	switch f := f.(type) {
	case *cli.BoolFlag:
		w := &boolFlag{BoolFlag: f}
		w.n.set(f.Name, f.Aliases)
		return w
	case *cli.DurationFlag:
		w := &durationFlag{DurationFlag: f}
		w.n.set(f.Name, f.Aliases)
		return w
	case *cli.Float64Flag:
		w := &float64Flag{Float64Flag: f}
		w.n.set(f.Name, f.Aliases)
		return w
	case *cli.Float64SliceFlag:
		w := &float64SliceFlag{Float64SliceFlag: f}
		w.n.set(f.Name, f.Aliases)
		return w
	case *cli.IntFlag:
		w := &intFlag{IntFlag: f}
		w.n.set(f.Name, f.Aliases)
		return w
	case *cli.IntSliceFlag:
		w := &intSliceFlag{IntSliceFlag: f}
		w.n.set(f.Name, f.Aliases)
		return w
	case *cli.Int64Flag:
		w := &int64Flag{Int64Flag: f}
		w.n.set(f.Name, f.Aliases)
		return w
	case *cli.Int64SliceFlag:
		w := &int64SliceFlag{Int64SliceFlag: f}
		w.n.set(f.Name, f.Aliases)
		return w
	case *cli.StringFlag:
		w := &stringFlag{StringFlag: f, once: f.Name == "connect"}
		w.n.set(f.Name, f.Aliases)
		return w
	case *cli.StringSliceFlag:
		w := &stringSliceFlag{StringSliceFlag: f}
		w.n.set(f.Name, f.Aliases)
		return w
	case *cli.UintFlag:
		w := &uintFlag{UintFlag: f}
		w.n.set(f.Name, f.Aliases)
		return w
	case *cli.UintSliceFlag:
		w := &uintSliceFlag{UintSliceFlag: f}
		w.n.set(f.Name, f.Aliases)
		return w
	}
	return f
}

// A plain (not slice) --connect takes one address: the commands that have
// it talk to one server, and the flag package would silently keep the last
// of two -c (ping and status, which check several pools, have a slice
// flag instead). Apply gives each of the flag's names a value whose second
// Set fails with errGivenTwice, which onUsageError rewords. Each name
// counts on its own: urfave/cli copies the value given to the other names
// after parsing, and refuses -c and --connect on one line itself.
func (f *stringFlag) Apply(set *flag.FlagSet) error {
	if err := f.StringFlag.Apply(set); err != nil || !f.once {
		return err
	}
	for _, name := range f.Names() {
		if ff := set.Lookup(name); ff != nil {
			ff.Value = &onceValue{Value: ff.Value}
		}
	}
	return nil
}

// errGivenTwice is the error of a second value for a one-value flag.
var errGivenTwice = errors.New("given twice")

// onceValue is a flag.Value that takes one value.
type onceValue struct {
	flag.Value
	set bool
}

func (v *onceValue) Set(s string) error {
	if v.set {
		return errGivenTwice
	}
	v.set = true
	return v.Value.Set(s)
}

// Get is the wrapped value's, for cli.Context.Value.
func (v *onceValue) Get() any {
	if g, ok := v.Value.(flag.Getter); ok {
		return g.Get()
	}
	return v.Value.String()
}
