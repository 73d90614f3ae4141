package cgifcgi

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
)

// args is a cgi-fcgi command line.
type args struct {
	bind, start bool // -bind, -start
	commandFile bool // -f
	connect     string
	appPath     string
	nServers    int
}

// parseArgs reads a command line as cgi-fcgi does and returns the
// complaints cgi-fcgi prints for it, in its words and order. -f stops
// the parse: cgi-fcgi reads the rest of its command line from a file,
// which this mode does not support.
func parseArgs(argv []string) (args, []string) {
	var a args
	var problems []string
	for i := 0; i < len(argv); i++ {
		arg := argv[i]
		switch {
		case strings.HasPrefix(arg, "-"):
			switch arg {
			case "-f":
				a.commandFile = true
				return a, nil
			case "-start":
				a.start = true
			case "-bind":
				a.bind = true
			case "-connect":
				if i+1 == len(argv) {
					problems = append(problems, "Missing connection name after -connect")
				} else {
					i++
					a.connect = argv[i]
				}
			default:
				problems = append(problems, "Unknown option "+arg)
			}
		case a.appPath == "":
			a.appPath = arg
		case arg != "" && arg[0] >= '0' && arg[0] <= '9' && a.nServers == 0:
			if a.nServers = leadingInt(arg); a.nServers <= 0 {
				problems = append(problems, "Number of servers must be greater than 0")
			}
		default:
			problems = append(problems, "Unknown argument "+arg)
		}
	}
	// Without -bind cgi-fcgi may start the application, so it needs its path.
	if !a.bind && a.appPath == "" {
		problems = append(problems, "Missing application pathname")
	}
	if a.connect == "" {
		problems = append(problems, "Missing -connect <connName>")
	}
	return a, problems
}

// leadingInt is the number s starts with, as C's atoi reads it for the
// strings that reach it here (digits first), capped instead of overflowing.
func leadingInt(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			break
		}
		n = min(n*10+int(c-'0'), 1<<30)
	}
	return n
}

// atoi reads s as C's atoi does: white space, a sign, then the digits
// that follow (capped instead of overflowing).
func atoi(s string) int {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	switch {
	case strings.HasPrefix(s, "-"):
		return -leadingInt(s[1:])
	case strings.HasPrefix(s, "+"):
		return leadingInt(s[1:])
	}
	return leadingInt(s)
}

// parseAddr parses ADDR as cgi-fcgi does: host:port when the text after
// the first colon reads, with atoi, as a port from 1 to 65535 (an empty
// host is localhost), a unix socket path when it reads as 0. A number past
// that range, which cgi-fcgi would wrap to another port, is an error.
// [v6]:port is also TCP, which cgi-fcgi cannot do.
func parseAddr(s string) (fcgiwire.Addr, error) {
	if strings.HasPrefix(s, "[") {
		if host, port, err := net.SplitHostPort(s); err == nil {
			if n, err := strconv.Atoi(port); err == nil && n >= 1 && n <= 65535 {
				return fcgiwire.Addr{Network: "tcp", Address: net.JoinHostPort(host, port)}, nil
			}
		}
	}
	if host, rest, ok := strings.Cut(s, ":"); ok {
		switch n := atoi(rest); {
		case n >= 1 && n <= 65535:
			if host == "" {
				host = "localhost"
			}
			return fcgiwire.Addr{Network: "tcp", Address: net.JoinHostPort(host, strconv.Itoa(n))}, nil
		case n != 0:
			return fcgiwire.Addr{}, fmt.Errorf("%s: port %q is not from 1 to 65535 (cgi-fcgi would connect to another port)", s, rest)
		}
	}
	return fcgiwire.Addr{Network: "unix", Address: s}, nil
}

// settings is what the mode takes from its environment: the request,
// prepared with the environment as its params, in order.
type settings struct {
	prep          *fcgireq.Prepared
	contentLength int64 // -1: no body
	timeout       time.Duration
}

func settingsFrom(ctx context.Context, env *runenv.Env) (*settings, error) {
	s := &settings{contentLength: -1}
	if v := env.Getenv("FCGI_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("FCGI_TIMEOUT=%q is not a duration such as 2s or 500ms", v)
		}
		s.timeout = d
	}
	// cgi-fcgi reads CONTENT_LENGTH with atoi, so an empty one is no body,
	// and white space around the number (BSD's wc -c pads its count) and a
	// plus sign are fine. What atoi would read as another number, or as 0
	// from something that is no number, is an error here.
	if v := env.Getenv("CONTENT_LENGTH"); v != "" {
		digits := strings.TrimPrefix(strings.Trim(v, " \t\n\v\f\r"), "+")
		n, err := strconv.ParseInt(digits, 10, 64)
		if err != nil || strings.Trim(digits, "0123456789") != "" {
			return nil, fmt.Errorf("CONTENT_LENGTH=%q is not a number of bytes", v)
		}
		if n > 0 {
			s.contentLength = n
		}
	}
	var params []fcgiwire.Pair
	for _, kv := range env.Environ() {
		// An entry without "=" cannot be a param (cgi-fcgi exits 232 on one).
		if name, value, ok := strings.Cut(kv, "="); ok {
			params = append(params, fcgiwire.Pair{Name: name, Value: value})
		}
	}
	// cgi-fcgi sends request id 1; the body is stdin, read as it is sent.
	sh := &fcgireq.Shape{RequestID: 1, Spec: fcgireq.ParamSpec{Role: fcgiwire.RoleResponder}, Verbatim: true, Pairs: params}
	prep, err := fcgireq.Prepare(ctx, sh, nil)
	if err != nil {
		return nil, fmt.Errorf("the environment cannot be sent: %w", err)
	}
	s.prep = prep
	return s, nil
}
