package commands

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/fcgicli/fcgicli/commands/cgifcgi"
	"github.com/fcgicli/fcgicli/commands/runenv"
)

// cgiFCGIName is the program name that runs the cgi-fcgi mode: the
// subcommand's name, and the name of the link install-cgi-fcgi makes.
const cgiFCGIName = cgifcgi.Name

func cgiFCGICommand(env *runenv.Env) *cli.Command {
	return &cli.Command{
		Name:      cgiFCGIName,
		Usage:     "run as libfcgi's cgi-fcgi -bind -connect (also when installed as cgi-fcgi)",
		UsageText: "fcgicli cgi-fcgi -bind -connect ADDR",
		Description: `Behaves as libfcgi's "cgi-fcgi -bind -connect ADDR", for scripts written for
it: the environment becomes the params, in order; stdin is the body when
CONTENT_LENGTH is set (exactly that many bytes); the raw FCGI_STDOUT stream
goes to stdout and FCGI_STDERR to stderr; the exit code is cgi-fcgi's (the
app status, the errno of a failed connect or a reset, 253 for a protocol
error, 254 for an answer that is not FastCGI). The usage text, the messages
and the exit codes of a bad command line are cgi-fcgi's.

Unlike cgi-fcgi it sends any amount of environment, reads records whatever
the read boundaries, stops after FCGI_TIMEOUT (a duration such as 2s, exit
124) and fails (exit 1) instead of hanging when stdin is shorter than
CONTENT_LENGTH. ADDR may also be [::1]:port. -start and -f are not
supported: fcgicli does not start applications.

Run under the name cgi-fcgi (see install-cgi-fcgi), the binary runs this
mode directly.

EXAMPLES:
   REQUEST_METHOD=GET SCRIPT_NAME=/ping SCRIPT_FILENAME=/ping fcgicli cgi-fcgi -bind -connect 127.0.0.1:9000
   CONTENT_LENGTH=5 REQUEST_METHOD=POST SCRIPT_FILENAME=/srv/app/post.php fcgicli cgi-fcgi -bind -connect /run/php/fpm.sock <<<hello
   FCGI_TIMEOUT=2s REQUEST_METHOD=GET SCRIPT_NAME=/status SCRIPT_FILENAME=/status fcgicli cgi-fcgi -bind -connect '[::1]:9000'`,
		SkipFlagParsing: true,
		HideHelp:        true,
		Action: func(c *cli.Context) error {
			if code := cgifcgi.Run(c.Context, env, c.Args().Slice()); code != 0 {
				return &runenv.CodeError{Code: code}
			}
			return nil
		},
	}
}

func installCGIFCGICommand(env *runenv.Env) *cli.Command {
	return &cli.Command{
		Name:      "install-cgi-fcgi",
		Usage:     "link DIR/cgi-fcgi to fcgicli's cgi-fcgi mode (for scripts that run it)",
		ArgsUsage: "DIR",
		Description: `Makes DIR/cgi-fcgi a symbolic link to this fcgicli binary. Run under the
name cgi-fcgi, fcgicli behaves as libfcgi's cgi-fcgi -bind -connect, so
health-check scripts written for cgi-fcgi (php-fpm-healthcheck, say) work
unchanged without libfcgi in the image.

A link that already points to this binary is left as it is (exit 0). Any
other file in the way is an error (exit 1) unless --force, which replaces
it. DIR must exist (exit 2 otherwise).

EXAMPLES:
   fcgicli install-cgi-fcgi /usr/local/bin
   RUN fcgicli install-cgi-fcgi /usr/local/bin    (in a Dockerfile)`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Usage: "replace a DIR/cgi-fcgi that is not already a link to fcgicli"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return runenv.Usagef("install-cgi-fcgi takes one DIR, got %d arguments (see 'fcgicli install-cgi-fcgi --help')", c.NArg())
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("cannot find the fcgicli binary: %w", err)
			}
			return cgifcgi.Install(&cgifcgi.InstallOptions{Dir: c.Args().First(), Exe: exe, Force: c.Bool("force")}, env.Stdout)
		},
	}
}
