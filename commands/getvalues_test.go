package commands

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
)

// valuesServer answers every GET_VALUES with one GET_VALUES_RESULT record
// of the given body, as a hostile server would, and returns its address.
func valuesServer(t *testing.T, body string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := fcgiwire.NewReader(nc).ReadRecord(); err != nil {
					return
				}
				h := fcgiwire.Header{Version: fcgiwire.Version1, Type: fcgiwire.TypeGetValuesResult, PaddingLength: uint8(fcgiwire.PaddingFor(len(body)))}
				_, _ = nc.Write(fcgiwire.AppendRecord(nil, h, []byte(body)))
			}()
		}
	}()
	return l.Addr().String()
}

// runCLI runs "fcgicli ARGS" in-process and returns the exit code, stdout
// and stderr.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := &runenv.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut,
		Getenv: func(string) string { return "" }, Environ: func() []string { return nil }}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code := RunEnv(ctx, env, append([]string{"fcgicli"}, args...))
	return code, out.String(), errOut.String()
}

type cliCase struct {
	name   string
	args   []string
	code   int
	stdout string
	stderr string
}

func (c cliCase) run(t *testing.T) {
	t.Helper()
	code, stdout, stderr := runCLI(t, c.args...)
	if code != c.code || stdout != c.stdout || stderr != c.stderr {
		t.Errorf("fcgicli %q: exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit %d\nstdout:\n%s\nstderr:\n%s",
			c.args, code, stdout, stderr, c.code, c.stdout, c.stderr)
	}
}

func pairsBody(ps ...fcgiwire.Pair) string { return string(fcgiwire.EncodePairs(ps)) }

// TestGetValuesPairsBeforeFault: a result whose second pair runs past the
// record shows the first pair in every format, then the fault, exit 5.
func TestGetValuesPairsBeforeFault(t *testing.T) {
	addr := valuesServer(t, pairsBody(fcgiwire.Pair{Name: "FCGI_MAX_CONNS", Value: "5"})+"\x0e\xc8FCGI")
	fault := "fcgicli: protocol error at byte 25: malformed name-value pair: name length 14 and value length 1212564295 run past the 1 bytes left\n"
	for _, c := range []cliCase{
		{"text", []string{"get-values", "-c", addr, "-t", "5s"}, 5, "FCGI_MAX_CONNS=5\n", fault},
		{"table", []string{"get-values", "-c", addr, "-t", "5s", "-o", "table"}, 5, `+----------------+-------+
| NAME           | VALUE |
+----------------+-------+
| FCGI_MAX_CONNS | 5     |
+----------------+-------+
`, fault},
		{"json", []string{"get-values", "-c", addr, "-t", "5s", "-o", "json"}, 5, `{
  "values": {
    "FCGI_MAX_CONNS": "5"
  },
  "missing": ["FCGI_MAX_REQS", "FCGI_MPXS_CONNS"],
  "error": "protocol error at byte 25: malformed name-value pair: name length 14 and value length 1212564295 run past the 1 bytes left"
}
`, fault},
	} {
		t.Run(c.name, c.run)
	}
}

// TestGetValuesQuoted: names and values that are not printable UTF-8 are
// quoted in text and table output, so that a value cannot forge a line
// or a row, nor send escapes to the terminal; JSON keeps the exact
// value, a non-UTF-8 one in base64. A printable value prints as is.
func TestGetValuesQuoted(t *testing.T) {
	addr := valuesServer(t, pairsBody(
		fcgiwire.Pair{Name: "FCGI_MAX_CONNS", Value: "1\nFCGI_MAX_REQS=999"},
		fcgiwire.Pair{Name: "FCGI_MPXS_CONNS", Value: "\x1b[31m1"},
		fcgiwire.Pair{Name: "X=Y", Value: "ünï \"ok\""},
		fcgiwire.Pair{Name: "BIN\xff", Value: "\xfe\x00"},
	))
	args := []string{"get-values", "-c", addr, "-t", "5s"}
	for _, c := range []cliCase{
		{"text", args, 0, `FCGI_MAX_CONNS="1\nFCGI_MAX_REQS=999"
FCGI_MPXS_CONNS="\x1b[31m1"
"X=Y"=ünï "ok"
"BIN\xff"="\xfe\x00"
`, ""},
		{"table", append(args, "-o", "table"), 0, `+-----------------+------------------------+
| NAME            | VALUE                  |
+-----------------+------------------------+
| FCGI_MAX_CONNS  | "1\nFCGI_MAX_REQS=999" |
| FCGI_MAX_REQS   | (not returned)         |
| FCGI_MPXS_CONNS | "\x1b[31m1"            |
| X=Y             | ünï "ok"               |
| "BIN\xff"       | "\xfe\x00"             |
+-----------------+------------------------+
`, ""},
		{"json", append(args, "-o", "json"), 0, `{
  "values": {
    "FCGI_MAX_CONNS": "1\nFCGI_MAX_REQS=999",
    "FCGI_MPXS_CONNS": "\u001b[31m1",
    "X=Y": "ünï \"ok\""
  },
  "values_base64": {
    "\"BIN\\xff\"": "/gA="
  },
  "missing": ["FCGI_MAX_REQS"]
}
`, ""},
	} {
		t.Run(c.name, c.run)
	}
}

// TestGetValuesRepeatedName: of a name returned twice, the first value
// counts in every format, and a warning says so on stderr.
func TestGetValuesRepeatedName(t *testing.T) {
	addr := valuesServer(t, pairsBody(
		fcgiwire.Pair{Name: "FCGI_MAX_CONNS", Value: "1"},
		fcgiwire.Pair{Name: "FCGI_MAX_CONNS", Value: "2"},
		fcgiwire.Pair{Name: "FCGI_MPXS_CONNS", Value: "0"},
		fcgiwire.Pair{Name: "FCGI_MAX_CONNS", Value: "3"},
	))
	args := []string{"get-values", "-c", addr, "-t", "5s", "FCGI_MAX_CONNS", "FCGI_MPXS_CONNS"}
	warning := "fcgicli: warning: the application returned FCGI_MAX_CONNS more than once: only the first value counts\n"
	for _, c := range []cliCase{
		{"text", args, 0, "FCGI_MAX_CONNS=1\nFCGI_MPXS_CONNS=0\n", warning},
		{"table", append(args, "-o", "table"), 0, `+-----------------+-------+
| NAME            | VALUE |
+-----------------+-------+
| FCGI_MAX_CONNS  | 1     |
| FCGI_MPXS_CONNS | 0     |
+-----------------+-------+
`, warning},
		{"json", append(args, "-o", "json"), 0, `{
  "values": {
    "FCGI_MAX_CONNS": "1",
    "FCGI_MPXS_CONNS": "0"
  },
  "missing": []
}
`, warning},
	} {
		t.Run(c.name, c.run)
	}
}
