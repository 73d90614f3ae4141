package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/commands/phprun"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/formatters"
)

func phpCommand(env *runenv.Env) *cli.Command {
	return &cli.Command{
		Name:  "php",
		Usage: "run PHP inside a php-fpm pool: eval, ini, info, opcache, apcu",
		UsageText: "fcgicli php [options] eval CODE | - | -f FILE\n" +
			"fcgicli php [options] ini [NAME...] | info\n" +
			"fcgicli php [options] opcache status | reset | invalidate PATH...\n" +
			"fcgicli php [options] apcu status | clear",
		ArgsUsage: "eval|ini|info|opcache|apcu ...",
		Description: `Runs PHP code in the pool itself, with the pool's own ini files, extensions,
OPcache and APCu, which the php command on the same machine does not share.
The code goes into a file of its own (mode 0644, a random name ending in
.php) in a new directory under --tmp-dir, which the pool must be able to
read; php-fpm runs it as SCRIPT_FILENAME, and the directory is removed when
the request ends, however it ends (an error, -t, Ctrl-C, SIGTERM).

   eval CODE        run CODE as php -r does (no <?php needed); - reads it
                    from stdin; -f FILE runs a PHP file's contents. Its
                    output goes to stdout, PHP's errors to stderr, and an
                    exit status other than 0 (exit(3), 255 after a fatal
                    error) ends fcgicli with exit 7, saying which
   ini [NAME...]    the pool's ini settings: local and master value, who
                    may change them, and where PHP says they were set
                    (php.ini, pool: php_value/php_admin_value, runtime:
                    .user.ini or ini_set); --diff-cli shows only those
                    that differ from the local php command's
   info             PHP version, SAPI, user and group of the worker, ini
                    files, open_basedir, disable_functions, extensions
   opcache status   OPcache memory, cached scripts and keys, hits, misses
   opcache reset    empty OPcache (at the next request no other is using it)
   opcache invalidate PATH...
                    drop the scripts at PATH from OPcache
   apcu status      APCu memory, entries, hits and misses
   apcu clear       empty the APCu user cache

The default --tmp-dir is /dev/shm: php-fpm units with PrivateTmp=true
(RHEL's, Fedora's) give the pool a /tmp of its own, and /dev/shm is
shared. A chrooted pool, one in another container or on another host sees
neither: give --tmp-dir a directory it sees under the same path.

EXAMPLES:
   fcgicli php eval -c /run/php/php8.2-fpm.sock 'echo PHP_VERSION, "\n";'
   fcgicli php eval -c 127.0.0.1:9000 -f check.php
   fcgicli php ini -c 127.0.0.1:9000 memory_limit opcache.enable --diff-cli
   fcgicli php info -c 127.0.0.1:9000 -o json | jq -r .user
   fcgicli php opcache reset -c /run/php/php8.2-fpm.sock
   fcgicli php opcache invalidate -c 127.0.0.1:9000 /srv/app/config.php`,
		Flags: flagList(networkFlags(30*time.Second), []cli.Flag{
			&cli.StringSliceFlag{Name: "param", Aliases: []string{"p"}, Usage: "set param `NAME=VALUE` (repeatable)"},
			&cli.StringFlag{Name: "tmp-dir", Usage: "write the code under `DIR`, which the pool must see under the same path (default /dev/shm, else $TMPDIR or /tmp)"},
			&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Usage: "eval: run the PHP `FILE` (- for stdin)"},
			&cli.BoolFlag{Name: "diff-cli", Usage: "ini: show only the settings that differ from the local php command's"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "`FORMAT`: text or json"},
			colorFlag(),
		}),
		Action: func(c *cli.Context) error {
			o, err := phpOptionsFrom(c, env)
			if err != nil {
				return err
			}
			release := holdSIGPIPE()
			err = runPHP(c, o, env)
			release(err)
			return err
		},
	}
}

type phpOptions struct {
	run     phprun.Options
	action  string   // eval, ini, info, opcache status...
	args    []string // the action's arguments
	file    string
	diffCLI bool
	output  formatters.Format
}

// phpActions are the actions with the arguments each takes: -1 any
// number, n exactly n, -2 one or more.
var phpActions = map[string]int{
	"eval": -1, "ini": -1, "info": 0,
	"opcache status": 0, "opcache reset": 0, "opcache invalidate": -2,
	"apcu status": 0, "apcu clear": 0,
}

func phpOptionsFrom(c *cli.Context, env *runenv.Env) (*phpOptions, error) {
	args := c.Args().Slice()
	help := "(see 'fcgicli php --help')"
	if len(args) == 0 {
		return nil, runenv.Usagef("missing action: eval, ini, info, opcache or apcu %s", help)
	}
	o := &phpOptions{action: args[0], args: args[1:], file: c.String("file"), diffCLI: c.Bool("diff-cli")}
	if args[0] == "opcache" || args[0] == "apcu" {
		if len(args) < 2 {
			return nil, runenv.Usagef("php %s needs a subaction: %s %s", args[0], map[string]string{"opcache": "status, reset or invalidate", "apcu": "status or clear"}[args[0]], help)
		}
		o.action, o.args = args[0]+" "+args[1], args[2:]
	}
	want, ok := phpActions[o.action]
	switch {
	case !ok:
		return nil, runenv.Usagef("unknown action %q: want eval, ini, info, opcache status|reset|invalidate or apcu status|clear %s", o.action, help)
	case want == 0 && len(o.args) > 0:
		return nil, runenv.Usagef("php %s takes no arguments, got: %s", o.action, strings.Join(o.args, " "))
	case want == -2 && len(o.args) == 0:
		return nil, runenv.Usagef("php %s needs at least one PATH", o.action)
	case o.action == "eval" && (o.file == "") == (len(o.args) != 1):
		return nil, runenv.Usagef("php eval takes one CODE, - for stdin, or -f FILE %s", help)
	case o.file != "" && o.action != "eval":
		return nil, runenv.Usagef("-f is for php eval")
	case o.diffCLI && o.action != "ini":
		return nil, runenv.Usagef("--diff-cli is for php ini")
	}
	var err error
	if o.run.Net, err = netOptionsFrom(c, env); err != nil {
		return nil, err
	}
	if o.run.Net.Connect == fcgireq.BuiltinAddr {
		return nil, runenv.Usagef("-c builtin is fcgicli's echo responder, which runs no PHP: php needs a php-fpm pool")
	}
	if o.output, err = formatters.ParseFormat(c.String("output"), formatters.Text, formatters.JSON); err != nil {
		return nil, &runenv.UsageError{Msg: err.Error()}
	}
	o.run.Params = c.StringSlice("param")
	if o.output == formatters.Text || o.action != "eval" {
		// The application's stderr as it comes; eval's JSON holds it.
		o.run.Stderr = env.Stderr
	}
	for _, p := range o.run.Params {
		switch name, _, _ := strings.Cut(p, "="); name {
		case "SCRIPT_FILENAME":
			return nil, runenv.Usagef("-p SCRIPT_FILENAME: php sets it to the file it writes under --tmp-dir")
		case "PHP_VALUE", "PHP_ADMIN_VALUE":
			return nil, runenv.Usagef("-p %s: php-fpm would keep it for every later request of the worker that runs it; set it in the pool's configuration instead", name)
		}
	}
	o.run.TmpDir = c.String("tmp-dir")
	if o.run.TmpDir == "" {
		o.run.TmpDir = phprun.DefaultTmpDir()
		if fi, err := os.Stat(o.run.TmpDir); err != nil || !fi.IsDir() {
			// A scratch image: neither /dev/shm nor a temporary directory.
			return nil, runenv.Usagef("no --tmp-dir given, and neither /dev/shm nor %s is a directory here: give --tmp-dir a directory the pool sees under the same path", o.run.TmpDir)
		}
	}
	return o, nil
}

// phpCode reads eval's code: CODE, stdin (-) or -f FILE (- for stdin),
// until ctx ends (Ctrl-C while stdin is still open).
func phpCode(ctx context.Context, o *phpOptions, env *runenv.Env) (phprun.Code, error) {
	if o.file == "" && o.args[0] != "-" {
		return phprun.Snippet([]byte(o.args[0])), nil
	}
	var src []byte
	var err error
	name := o.file
	if o.file == "" || o.file == "-" {
		name = "Standard input code"
		type read struct {
			b   []byte
			err error
		}
		done := make(chan read, 1)
		go func() {
			b, err := readCode(env.Stdin, "standard input")
			done <- read{b, err}
		}()
		select {
		case r := <-done:
			src, err = r.b, r.err
		case <-ctx.Done():
			return phprun.Code{}, context.Cause(ctx)
		}
	} else {
		var f *os.File
		if f, err = os.Open(o.file); err == nil {
			src, err = readCode(f, o.file)
			f.Close()
		}
	}
	if err != nil {
		return phprun.Code{}, runenv.Usagef("reading the code: %v", runenv.UnwrapOp(err))
	}
	if o.file == "" {
		c := phprun.Snippet(src)
		c.Name = name
		return c, nil
	}
	return phprun.File(src, name), nil
}

// holdSIGPIPE keeps a closed stdout or stderr (php eval ... | head) from
// killing fcgicli while the script's directory is still there: a write
// to it fails instead, which ends the request, and the directory is
// removed. release, once the run is over, ends fcgicli by SIGPIPE, as the
// write would have, when that is how the run failed.
func holdSIGPIPE() (release func(error)) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGPIPE)
	return func(err error) {
		signal.Stop(ch)
		pe, ok := errors.AsType[*fs.PathError](err)
		if !ok || !errors.Is(pe.Err, syscall.EPIPE) {
			return
		}
		for _, f := range []*os.File{os.Stdout, os.Stderr} {
			if pe.Path == f.Name() {
				// Fails as the first write did, now with the runtime's
				// SIGPIPE, which ends the process.
				_, _ = f.Write([]byte{'\n'})
			}
		}
	}
}

// maxCode bounds the code eval reads: it is held in memory, and written
// into the pool's file base64-encoded.
const maxCode = 16 << 20

// readCode reads code from r, named name, up to maxCode bytes: more (a
// file that never ends, such as /dev/zero) is an error.
func readCode(r io.Reader, name string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxCode+1))
	if err == nil && len(b) > maxCode {
		err = fmt.Errorf("%s is over %d MiB", name, maxCode>>20)
	}
	return b, err
}

func runPHP(c *cli.Context, o *phpOptions, env *runenv.Env) error {
	ctx := c.Context
	// What went to stdout, so that -o json prints one document: a failure
	// after the answer adds none.
	written := &runenv.CountWriter{}
	e := *env
	e.Stdout = io.MultiWriter(env.Stdout, written)
	env = &e
	var (
		r   *phprun.Run
		err error
	)
	show := func(write func() error) error {
		if err != nil {
			return err
		}
		return write()
	}
	switch o.action {
	case "eval":
		code, cerr := phpCode(ctx, o, env)
		if cerr != nil {
			return cerr
		}
		run := o.run
		if o.output == formatters.Text {
			run.Stdout = env.Stdout
		}
		r, err = phprun.Exec(ctx, run, code)
		if err == nil {
			return phpEvalDone(r, o, env)
		}
	case "info":
		var in *formatters.PHPInfo
		in, r, err = phprun.Info(ctx, o.run)
		err = show(func() error { return formatters.WritePHPInfo(env.Stdout, in, o.output) })
	case "ini":
		err = phpIni(c, o, env, &r)
	case "opcache status":
		var s *formatters.OpcacheStatus
		s, r, err = phprun.OpcacheStatus(ctx, o.run)
		err = show(func() error { return formatters.WriteOpcacheStatus(env.Stdout, s, o.output) })
	case "apcu status":
		var s *formatters.APCuStatus
		s, r, err = phprun.APCuStatus(ctx, o.run)
		err = show(func() error { return formatters.WriteAPCuStatus(env.Stdout, s, o.output) })
	default: // the actions on a cache
		var acts []formatters.PHPAction
		switch o.action {
		case "opcache reset":
			acts, r, err = phprun.OpcacheReset(ctx, o.run)
		case "opcache invalidate":
			acts, r, err = phprun.OpcacheInvalidate(ctx, o.run, o.args)
		case "apcu clear":
			acts, r, err = phprun.APCuClear(ctx, o.run)
		}
		err = show(func() error { return formatters.WritePHPActions(env.Stdout, acts, o.output) })
		for _, a := range acts {
			if !a.Done && a.Path == "" && err == nil {
				err = &runenv.CodeError{Code: runenv.ExitCheckFailed, Msg: a.Action + " failed"}
			}
		}
	}
	if r != nil {
		// What PHP said on the way explains a failure, or warns.
		if err != nil && o.run.Stderr == nil {
			_, _ = env.Stderr.Write(r.Stderr)
		}
		if werr := writePHPErrors(env, r.Errors); werr != nil && err == nil {
			err = werr
		}
	}
	return phpError(err, o, env, written.N > 0)
}

// phpIni shows the pool's ini settings, or those named, or with
// --diff-cli those that differ from the CLI's.
func phpIni(c *cli.Context, o *phpOptions, env *runenv.Env, r **phprun.Run) error {
	all, run, err := phprun.Ini(c.Context, o.run)
	*r = run
	if err != nil {
		return err
	}
	rows, selErr := phprun.Select(all, o.args)
	if o.diffCLI {
		cliValues, err := phprun.CLIIni(c.Context, "php")
		if err != nil {
			return err
		}
		rows = phprun.DiffCLI(rows, cliValues, o.args)
	}
	if err := formatters.WritePHPIni(env.Stdout, rows, o.diffCLI, o.output); err != nil {
		return err
	}
	return selErr
}

// writePHPErrors writes PHP's errors on stderr, from the start of a line
// when the application's stderr ended mid-line.
func writePHPErrors(env *runenv.Env, errs []formatters.PHPError) error {
	if lt, ok := env.Stderr.(*runenv.LineTracker); ok && !lt.AtStart && len(errs) > 0 {
		if _, err := io.WriteString(env.Stderr, "\n"); err != nil {
			return err
		}
	}
	return formatters.WritePHPErrors(env.Stderr, errs)
}

// phpEvalDone prints the rest of eval's outcome and turns an exit status other than
// 0 into exit 7.
func phpEvalDone(r *phprun.Run, o *phpOptions, env *runenv.Env) error {
	var err error
	if o.output == formatters.JSON {
		err = formatters.WritePHPRunJSON(env.Stdout, &r.PHPRun)
	} else {
		// The output and the application's stderr are out already.
		err = writePHPErrors(env, r.Errors)
	}
	if err != nil {
		return err
	}
	switch {
	case r.ExitStatus == nil || *r.ExitStatus == 0:
		return nil
	case r.End == "fatal":
		return &runenv.CodeError{Code: runenv.ExitAppStatus, Msg: fmt.Sprintf("the PHP code ended with a fatal error (exit status %d)", *r.ExitStatus)}
	}
	return &runenv.CodeError{Code: runenv.ExitAppStatus, Msg: fmt.Sprintf("the PHP code exited with status %d", *r.ExitStatus)}
}

// phpError gives the errors only php has their exit code and wording: a
// pool that cannot see the script (with its hint), an extension not
// loaded, an answer without fcgicli's trailer. With -o json and nothing
// written yet, the failure is the document.
func phpError(err error, o *phpOptions, env *runenv.Env, written bool) error {
	if err == nil {
		return nil
	}
	hint := ""
	if be, ok := errors.AsType[*phprun.BlindError](err); ok {
		hint = be.Hint
		err = &runenv.CodeError{Code: runenv.ExitCheckFailed, Msg: be.Error() + "\nfcgicli: hint: " + be.Hint}
	}
	if code, msg := runenv.ExitCode(err); o.output == formatters.JSON && !written && code != runenv.ExitUsage {
		msg, _, _ = strings.Cut(msg, "\n")
		_ = formatters.WriteHintJSON(env.Stdout, msg, hint)
	}
	return err
}
