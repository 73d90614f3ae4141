// Package doctor is the engine of `fcgicli doctor`: it walks the path a
// request takes to a FastCGI pool (php-fpm first) and stops at the first
// broken step: the address (exists, is a socket, may be opened), the
// connect, FastCGI spoken (not HTTP, not TLS) and FCGI_GET_VALUES, the
// ping page, the status page (saturation, listen queue, counter drift,
// slow requests), and a request for a script (or, without one, for a file
// that cannot exist, to learn how the pool answers a wrong path), judged
// with the request path's hints. Each step is ok, warn or fail, with one
// line of evidence and one of what to do.
//
// It owns the steps and their verdicts, not the command line or the
// output: package commands parses the flags, formatters renders the
// report. It never prints and holds no package-level mutable state.
package doctor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"
	"time"

	"github.com/fcgicli/fcgicli/commands/fcgireq"
	"github.com/fcgicli/fcgicli/commands/health"
	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

// Options are how doctor checks a pool: the request, the pages and the
// deadlines.
type Options struct {
	Net     fcgireq.NetOptions // the connect timeout and the whole run's timeout (Connect is the Pool's)
	Step    time.Duration      // the deadline of each step that asks the pool
	DocRoot string             // -r: SCRIPT is a URI path under it
	Script  string             // "": a file that cannot exist
}

// Pool is one pool to check: its address, or the failure that stands for
// it (a glob that matches nothing), and its pages.
type Pool struct {
	Label string // how reports name it
	Addr  string
	Err   error
	// PingPath and PingResponse are the ping page and its healthy body;
	// PingPath "" skips the step.
	PingPath, PingResponse string
	// StatusPath is the status page ("" skips the step), read at
	// StatusAddr when set (pm.status_listen: it answers even when every
	// child is busy), else at Addr.
	StatusPath, StatusAddr string
	// MaxChildren is pm.max_children, 0 when unknown: a summary that
	// counts more has drifted.
	MaxChildren int64
	// Section is where a pool found in php-fpm's configuration is
	// defined ("" for a --connect address): a pool there without a ping
	// or status page gets a warning naming it.
	Section string
}

// Step results.
const (
	OK   = "ok"
	Warn = "warn"
	Fail = "fail"
)

// missingScript is the script asked for without SCRIPT: a name no pool
// serves, to learn how the pool answers a wrong path.
const missingScript = "/fcgicli-doctor-no-such-script.php"

// Run walks the steps for each pool, one pool at a time, and returns a
// report for each, and the exit code doctor ends with, the worst of the
// pools': 0 when nothing failed, the connect's or the protocol's code (3,
// 4, 5) when it could not get as far as FastCGI, 1 when a later step
// failed.
func Run(ctx context.Context, o Options, pools []Pool) ([]*formatters.DoctorReport, int) {
	ctx, cancel := o.Net.WithTimeout(ctx)
	defer cancel()
	var reports []*formatters.DoctorReport
	worst := runenv.ExitOK
	for _, p := range pools {
		r, code := runPool(ctx, o, p)
		reports = append(reports, r)
		worst = health.Worse(worst, code)
	}
	return reports, worst
}

// runPool walks the steps for one pool.
func runPool(ctx context.Context, o Options, p Pool) (*formatters.DoctorReport, int) {
	o.Net.Connect = p.Addr
	d := &doctor{o: o, p: p, r: &formatters.DoctorReport{Addr: p.Label, Script: o.Script}}
	if d.r.Script == "" {
		d.r.Script = missingScript
	}
	var code int
	if p.Err != nil {
		code = d.fail("address", p.Err, "")
	} else {
		code = d.run(ctx)
	}
	d.r.Verdict = OK
	for _, s := range d.r.Steps {
		if s.Result == Fail {
			d.r.Verdict = Fail
			break
		}
		if s.Result == Warn {
			d.r.Verdict = Warn
		}
	}
	return d.r, code
}

type doctor struct {
	o Options
	p Pool
	r *formatters.DoctorReport
}

func (d *doctor) add(name, result, evidence, do string) {
	d.r.Steps = append(d.r.Steps, formatters.DoctorStep{Name: name, Result: result, Evidence: evidence, Do: do})
}

// fail adds a failed step for err: its message, and its hint as what to
// do (else do), and returns err's exit code.
func (d *doctor) fail(name string, err error, do string) int {
	code, msg := runenv.ExitCode(err)
	if h := runenv.HintOf(err); h != "" {
		do = h
	}
	d.add(name, Fail, msg, do)
	return code
}

// step bounds one step by the step deadline, within ctx (the whole
// run's).
func (d *doctor) step(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, d.o.Step, &runenv.TimeoutError{Msg: fmt.Sprintf("timed out after %s (--step-timeout)", d.o.Step)})
}

// stepNet are the network options of one step, whose deadline is the
// step's context.
func (d *doctor) stepNet() fcgireq.NetOptions {
	n := d.o.Net
	n.Timeout = 0
	return n
}

func (d *doctor) run(ctx context.Context) int {
	tgt, err := fcgireq.OpenTarget(d.o.Net)
	if err != nil {
		return d.fail("address", err, "")
	}
	defer tgt.Close()
	if !d.address(tgt) {
		// What is wrong with the address (missing, not a socket, not
		// to be opened, an unknown host), the dial says in full.
		sctx, cancel := d.step(ctx)
		nc, err := tgt.Dial(sctx, d.o.Net.ConnectTimeout)
		cancel()
		if err != nil {
			return d.fail("address", err, "")
		}
		nc.Close()
		d.add("address", OK, tgt.Display, "")
	}
	conn, accepted, code := d.connect(ctx, tgt)
	if conn == nil {
		return code
	}
	if code := d.fastcgi(ctx, conn, accepted); code != 0 {
		return code
	}
	if d.p.Section != "" && d.p.PingPath == "" {
		d.add("ping", Warn, "its configuration ("+d.p.Section+") sets no ping.path", "set ping.path = /ping there, for health checks (fcgicli ping)")
	}
	if d.p.Section != "" && d.p.StatusPath == "" {
		d.add("status", Warn, "its configuration ("+d.p.Section+") sets no pm.status_path",
			"set pm.status_path = /status there, and pm.status_listen, which answers even when every child is busy")
	}
	if d.p.PingPath != "" && !d.ping(ctx) {
		// A status page on a socket of its own still answers a pool
		// whose children are all busy: it shows how busy.
		if d.p.StatusPath != "" && d.p.StatusAddr != "" {
			d.status(ctx)
		}
		return runenv.ExitCheckFailed
	}
	if d.p.StatusPath != "" && !d.status(ctx) {
		return runenv.ExitCheckFailed
	}
	if !d.request(ctx) {
		return runenv.ExitCheckFailed
	}
	return runenv.ExitOK
}

// address checks a unix socket's path before the connect, and reports
// false when a dial is to say what is wrong with it (missing, not a
// socket, in a directory this user may not search). A TCP address's host
// is looked up likewise. Whether this user may open the socket, the
// connect says.
func (d *doctor) address(tgt *fcgireq.Target) bool {
	a := tgt.Addr
	switch {
	case a.Network == "unix" && strings.HasPrefix(a.Address, "@"):
		d.add("address", OK, "abstract unix socket "+a.Address, "")
		return true
	case a.Network == "unix":
		fi, err := os.Stat(a.Address)
		if err != nil || fi.Mode()&fs.ModeSocket == 0 {
			return false
		}
		d.add("address", OK, fmt.Sprintf("unix socket %s (%s)", a.Address, fcgireq.SocketOwner(fi)), "")
		return true
	}
	host, _, err := net.SplitHostPort(a.Address)
	if err != nil || net.ParseIP(host) != nil {
		d.add("address", OK, "TCP "+a.Address, "")
		return true
	}
	addrs, err := net.LookupHost(host)
	if err != nil {
		return false
	}
	d.add("address", OK, fmt.Sprintf("TCP %s (%s is %s)", a.Address, host, strings.Join(addrs, ", ")), "")
	return true
}

// connect dials the target and says how long it took.
func (d *doctor) connect(ctx context.Context, tgt *fcgireq.Target) (*fcgiwire.Conn, time.Duration, int) {
	sctx, cancel := d.step(ctx)
	defer cancel()
	start := time.Now()
	nc, err := tgt.Dial(sctx, d.o.Net.ConnectTimeout)
	if err != nil {
		return nil, 0, d.fail("connect", err, "is php-fpm running, and does its pool listen there? A full listen queue times out too: see the pool's status page")
	}
	took := time.Since(start)
	d.add("connect", OK, "accepted in "+formatters.Millis(took), "")
	return fcgiwire.NewConn(nc), took, 0
}

// fastcgi asks FCGI_GET_VALUES on the connection: the answer shows that
// the peer speaks FastCGI, and its limits. php-fpm answers it in a child,
// so a pool with no free child does not answer it in time: that is a
// warning here, and the steps after it say more.
func (d *doctor) fastcgi(ctx context.Context, conn *fcgiwire.Conn, accepted time.Duration) int {
	defer conn.Close()
	sctx, cancel := d.step(ctx)
	defer cancel()
	vals, err := conn.GetValues(sctx, []string{fcgiwire.MaxConns, fcgiwire.MaxReqs, fcgiwire.MpxsConns})
	if err != nil {
		return d.fastcgiResult(fcgireq.TimeoutCause(sctx, err), accepted)
	}
	var got []string
	for _, p := range vals {
		got = append(got, p.Name+"="+p.Value)
	}
	if len(got) == 0 {
		got = append(got, "no values")
	}
	d.add("fastcgi", OK, "FCGI_GET_VALUES answered: "+strings.Join(got, ", "), "")
	return 0
}

// fastcgiResult judges the error FCGI_GET_VALUES ended with.
func (d *doctor) fastcgiResult(err error, accepted time.Duration) int {
	var te *runenv.TimeoutError
	switch {
	case errors.Is(err, fcgiwire.ErrUnknownTypeAnswer):
		d.add("fastcgi", OK, "answered FCGI_UNKNOWN_TYPE to FCGI_GET_VALUES: FastCGI, without management records", "")
		return 0
	case errors.Is(err, fcgiwire.ErrNoAnswer):
		d.add("fastcgi", Warn, "the connection closed without an answer to FCGI_GET_VALUES", "some applications do not answer it; the next steps say whether requests work")
		return 0
	case fcgiwire.IsHTTPAnswer(err):
		return d.fail("fastcgi", err, fcgireq.Hint(&fcgireq.Answer{Err: err}))
	case isTLS(err):
		return d.fail("fastcgi", err, "the peer answered in TLS: FastCGI has no TLS; connect to the pool's own listen address, not a TLS proxy")
	case errors.As(err, &te):
		d.add("fastcgi", Warn, fmt.Sprintf("no answer to FCGI_GET_VALUES within %s (accepted in %s)", d.o.Step, formatters.Millis(accepted)),
			"php-fpm answers it in a child: every child may be busy; the next steps say more")
		return 0
	}
	return d.fail("fastcgi", err, "")
}

// isTLS reports whether err is a record whose version byte is that of a
// TLS record (an alert or a handshake): the peer speaks TLS.
func isTLS(err error) bool {
	var pe *fcgiwire.ProtocolError
	return errors.As(err, &pe) && errors.Is(pe, fcgiwire.ErrBadVersion) &&
		(strings.HasSuffix(pe.Reason, "version byte is 21") || strings.HasSuffix(pe.Reason, "version byte is 22"))
}

// ping asks the ping page.
func (d *doctor) ping(ctx context.Context) bool {
	ctx, cancel := d.step(ctx)
	defer cancel()
	want := d.p.PingResponse
	if want == "" {
		want = "pong"
	}
	p, err := health.Ping(ctx, d.stepNet(), d.p.PingPath, want, 0)
	switch {
	case err == nil:
		d.add("ping", OK, fmt.Sprintf("%s answered %q in %s", d.p.PingPath, p.Body, formatters.Millis(p.Elapsed)), "")
		return true
	case p != nil:
		d.add("ping", Warn, fmt.Sprintf("%s answered %d %s, not %q", d.p.PingPath, p.Status, health.QuoteBody(p.Body), want),
			"set ping.path = "+d.p.PingPath+" in the pool (and ping.response), or give --ping-path; --ping-path '' skips this step")
		return true
	case health.IsBusy(err):
		d.fail("ping", err, "every child of the pool is busy: see which requests hold them on the status page (fcgicli status; pm.status_listen answers even then), and raise pm.max_children or find the slow script")
		return false
	}
	d.fail("ping", err, "")
	return false
}

// status reads the status page and warns of a saturated pool.
func (d *doctor) status(ctx context.Context) bool {
	ctx, cancel := d.step(ctx)
	defer cancel()
	addr := d.p.Addr
	if d.p.StatusAddr != "" {
		addr = d.p.StatusAddr
	}
	n := d.stepNet()
	n.Connect = addr
	s, err := health.ReadStatus(ctx, n, d.p.StatusPath+"?json&full")
	var pe *health.PageError
	switch {
	case err == nil:
	case errors.As(err, &pe):
		d.add("status", Warn, pe.Msg, "set pm.status_path = "+d.p.StatusPath+" in the pool (and pm.status_listen, which answers even when every child is busy), or give --status-path; --status-path '' skips this step")
		return true
	case health.IsBusy(err):
		d.fail("status", err, "every child of the pool is busy: pm.status_listen gives the status page a socket of its own that answers even then")
		return false
	default:
		d.fail("status", err, "")
		return false
	}
	// The summary's counters, as php-fpm keeps them, drift from its
	// process list (a php-fpm bug, seen on php-fpm 8.2 here, after the
	// FCGI_GET_VALUES step's connection): the list's numbers are shown,
	// and the drift said, without a warning of its own.
	summaryActive, summaryTotal := s.ActiveProcesses, s.TotalProcesses
	health.Reconcile(s, d.p.MaxChildren)
	evidence := fmt.Sprintf("pool %s (pm %s): %d active, %d idle of %d; listen queue %d; max children reached %d; slow requests %d",
		s.Pool, s.ProcessManager, s.ActiveProcesses, s.IdleProcesses, s.TotalProcesses, s.ListenQueue, s.MaxChildrenReached, s.SlowRequests)
	// (An active count a request or two apart is the summary's
	// once-a-second recount, not a drift.)
	if summaryTotal != s.TotalProcesses || summaryActive > s.TotalProcesses {
		evidence += fmt.Sprintf(" (from the process list: the summary's counters drifted to %d active of %d)", summaryActive, summaryTotal)
	}
	var warn []string
	if s.ListenQueue > 0 {
		warn = append(warn, fmt.Sprintf("%d connections wait in the listen queue: every child is busy", s.ListenQueue))
	}
	if s.MaxChildrenReached > 0 {
		warn = append(warn, fmt.Sprintf("pm.max_children was reached %d times since php-fpm started: raise it, or find what holds the children", s.MaxChildrenReached))
	}
	if s.SlowRequests > 0 {
		warn = append(warn, fmt.Sprintf("%d slow requests since it started: the pool's slowlog shows where they waited", s.SlowRequests))
	}
	if len(warn) > 0 {
		d.add("status", Warn, evidence, strings.Join(warn, "; "))
	} else {
		d.add("status", OK, evidence, "")
	}
	return true
}

// request asks for the script (or a file that cannot exist) and says what
// the pool's answer means.
func (d *doctor) request(ctx context.Context) bool {
	sctx, cancel := d.step(ctx)
	defer cancel()
	start := time.Now()
	prep, err := fcgireq.Prepare(sctx, &fcgireq.Shape{Net: d.o.Net, RequestID: 1,
		Spec: fcgireq.ParamSpec{Script: d.r.Script, DocRoot: d.o.DocRoot, Role: fcgiwire.RoleResponder, BodyLen: -1}}, nil)
	if err != nil {
		d.fail("request", err, "")
		return false
	}
	defer prep.Close()
	conn, done, err := fcgireq.Connect(sctx, d.stepNet(), nil, nil)
	if err != nil {
		d.fail("request", err, "")
		return false
	}
	defer done()
	body, stderr := &runenv.CapBuffer{Max: fcgireq.HintHead}, &runenv.CapBuffer{Max: fcgireq.HintHead}
	x := &fcgireq.Exchange{Parser: &fcgiwire.ResponseParser{Body: body}, JudgeCGI: true, Start: start, Connected: time.Now()}
	req := prep.Request()
	req.Stdout, req.Stderr = x.Parser, stderr
	err = x.Send(sctx, conn, req)
	hint := x.Hint(prep.Pairs, body.Buf, stderr.Buf, err)
	sf, _ := fcgireq.ScriptFilename(prep.Pairs)
	if err != nil {
		d.fail("request", runenv.WithHint(err, hint), "")
		return false
	}
	status := x.Parser.Response.Status
	evidence := fmt.Sprintf("%s: %d %s", sf, status, formatters.StatusText(status))
	if first := firstLine(body.Buf); first != "" {
		evidence += ", body " + quote(first)
	}
	if first := firstLine(stderr.Buf); first != "" {
		evidence += ", stderr " + quote(first)
	}
	if d.o.Script == "" {
		// The wrong path asked on purpose: php-fpm's answer is the
		// expected one; anything else is worth knowing.
		if status == 404 && bytes.Contains(stderr.Buf, []byte("Primary script unknown")) {
			d.add("request", OK, evidence+": a wrong path gets php-fpm's own 404", "")
		} else {
			d.add("request", Warn, evidence, "a wrong path did not get php-fpm's 404 (Primary script unknown): something answers in its place (a front controller, another server), or a try_files-like rule; give SCRIPT to check a real one")
		}
		return true
	}
	switch {
	case hint != "":
		d.add("request", Fail, evidence, hint)
		return false
	case status >= 500:
		d.add("request", Fail, evidence, "the script failed: its stderr, and the pool's error_log and slowlog, say why")
		return false
	case status >= 400:
		d.add("request", Warn, evidence, "the script itself answered an error status")
		return true
	}
	d.add("request", OK, evidence, "")
	return true
}

// quote shows at most 120 bytes of s, quoted: enough for PHP's message.
func quote(s string) string {
	if len(s) > 120 {
		return fmt.Sprintf("%q...", s[:120])
	}
	return fmt.Sprintf("%q", s)
}

// firstLine is the first line of b, without its newline.
func firstLine(b []byte) string {
	line, _, _ := bytes.Cut(bytes.TrimSpace(b), []byte("\n"))
	return string(line)
}
