package commands

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

func conformanceCommand(env *runenv.Env) *cli.Command {
	return &cli.Command{
		Name:  "conformance",
		Usage: "check a FastCGI server against the FastCGI 1.0 specification",
		Description: `Runs a numbered list of cases against the server, each on a connection of
its own and each citing the section of the FastCGI 1.0 specification it
checks, and prints one line per case: id, section, title and PASS, FAIL or
WARN (behaviour the specification leaves open, or a documented server
choice). A failure says what was sent and what came back; -v adds the
raw-dump of both directions of every case that did not pass.

Every case is bounded by --case-timeout: a server that does not answer is a
FAIL "no answer within 2s", never a hang.

Responder cases run --script: the params carry SCRIPT_FILENAME=PATH,
SCRIPT_NAME, REQUEST_METHOD (GET, or POST with a body) and the usual CGI
variables. php-fpm needs an existing PHP file; fcgiwrap an executable CGI
program; the builtin echo responder runs anything.

Exit 0 when no case failed (warnings are fine), 1 when one did, 3 when the
server cannot be reached at all.

EXAMPLES:
   fcgicli conformance -c builtin
   fcgicli conformance -c 127.0.0.1:9000 --script /var/www/html/index.php
   fcgicli conformance -c /run/fcgiwrap.socket --script /usr/lib/cgi-bin/hello.sh
   fcgicli conformance -c 127.0.0.1:9000 --script /srv/index.php --only 14,16 -v
   fcgicli conformance -c 127.0.0.1:9000 --script /srv/index.php -o json | jq '.cases[] | select(.result == "FAIL")'
   fcgicli conformance -c 127.0.0.1:9000 --script /srv/index.php -o table`,
		Flags: flagList(networkFlags(0), []cli.Flag{
			&cli.StringFlag{Name: "script", Usage: "the `PATH` the server runs for responder cases (SCRIPT_FILENAME; default " + defaultConformanceScript + ")"},
			&cli.StringFlag{Name: "only", Usage: "run only the cases `IDS` (comma-separated ids and ranges: 1,5-8)"},
			&cli.StringFlag{Name: "skip", Usage: "skip the cases `IDS` (comma-separated ids and ranges)"},
			&cli.DurationFlag{Name: "case-timeout", Value: 2 * time.Second, Usage: "give up on a case after `DURATION`"},
			&cli.BoolFlag{Name: "list", Usage: "list the cases without running them"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "show the raw-dump of every case that did not pass"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "`FORMAT`: text, json (the whole scorecard) or table (a summary by section)"},
			colorFlag(),
		}),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return runenv.Usagef("conformance takes no arguments, got %q (the script is --script)", c.Args().First())
			}
			format, err := formatters.ParseFormat(c.String("output"), formatters.Text, formatters.JSON, formatters.Table)
			if err != nil {
				return &runenv.UsageError{Msg: err.Error()}
			}
			opts := conformanceOptions{
				script:      c.String("script"),
				caseTimeout: c.Duration("case-timeout"),
				verbose:     c.Bool("verbose"),
				format:      format,
			}
			if opts.caseTimeout <= 0 {
				return runenv.Usagef("--case-timeout must be positive")
			}
			if opts.script == "" {
				opts.script = defaultConformanceScript
			} else if !filepath.IsAbs(opts.script) {
				abs, err := filepath.Abs(opts.script)
				if err != nil {
					return runenv.Usagef("--script: %v", err)
				}
				opts.script = abs
			}
			cases := conformanceCases()
			if opts.ids, err = selectCases(cases, c.String("only"), c.String("skip")); err != nil {
				return err
			}
			pal, err := palette(c, env, env.Stdout)
			if err != nil {
				return err
			}
			if c.Bool("list") {
				for _, cs := range cases {
					if opts.ids[cs.id] {
						fmt.Fprintf(env.Stdout, "%3d  %-4s %s\n", cs.id, cs.section, cs.title)
					}
				}
				return nil
			}
			if opts.net, err = netOptionsFrom(c, env); err != nil {
				return err
			}
			return runConformance(c.Context, env, opts, pal)
		},
	}
}

// defaultConformanceScript is SCRIPT_FILENAME when --script is not given:
// the builtin echo responder answers any; a real server needs --script.
const defaultConformanceScript = "/fcgicli-conformance"

type conformanceOptions struct {
	net         netOptions
	script      string
	caseTimeout time.Duration
	verbose     bool
	format      formatters.Format
	ids         map[int]bool // the cases to run
}

// selectCases parses --only and --skip into the set of case ids to run.
func selectCases(cases []confCase, only, skip string) (map[int]bool, error) {
	known := map[int]bool{}
	for _, c := range cases {
		known[c.id] = true
	}
	parse := func(flag, s string) (map[int]bool, error) {
		ids := map[int]bool{}
		for _, part := range strings.Split(s, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			lo, hi, isRange := strings.Cut(part, "-")
			a, err1 := strconv.Atoi(lo)
			b := a
			var err2 error
			if isRange {
				b, err2 = strconv.Atoi(hi)
			}
			if err1 != nil || err2 != nil || a > b {
				return nil, runenv.Usagef("%s: bad case id or range %q (ids are numbers, ranges N-M; --list shows them)", flag, part)
			}
			for id := a; id <= b && id <= a+len(cases); id++ {
				if !known[id] {
					return nil, runenv.Usagef("%s: no case %d (cases are 1 to %d; --list shows them)", flag, id, len(cases))
				}
				ids[id] = true
			}
		}
		return ids, nil
	}
	sel := map[int]bool{}
	if only != "" {
		o, err := parse("--only", only)
		if err != nil {
			return nil, err
		}
		sel = o
	} else {
		for id := range known {
			sel[id] = true
		}
	}
	if skip != "" {
		s, err := parse("--skip", skip)
		if err != nil {
			return nil, err
		}
		for id := range s {
			delete(sel, id)
		}
	}
	if len(sel) == 0 {
		return nil, runenv.Usagef("--only and --skip leave no case to run")
	}
	return sel, nil
}

// runConformance checks that the server can be reached, runs the selected
// cases one after another and renders the scorecard.
func runConformance(ctx context.Context, env *runenv.Env, opts conformanceOptions, pal *formatters.Palette) error {
	ctx, cancel := opts.net.withTimeout(ctx)
	defer cancel()
	tgt, err := openTarget(opts.net, nil)
	if err != nil {
		return err
	}
	defer tgt.close()
	nc, err := tgt.dial(ctx, opts.net.ConnectTimeout)
	if err != nil {
		return err
	}
	nc.Close()

	report := &formatters.ConformanceReport{Server: tgt.display, CaseTimeoutUS: opts.caseTimeout.Microseconds()}
	for _, cs := range conformanceCases() {
		if !opts.ids[cs.id] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return timeoutCause(ctx, err)
		}
		res := runCase(ctx, tgt, opts, cs, pal)
		report.Cases = append(report.Cases, res)
		if opts.format == formatters.Text {
			if err := formatters.WriteConformanceCase(env.Stdout, &res, pal, opts.verbose); err != nil {
				return err
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return timeoutCause(ctx, err)
	}
	report.Count()
	if opts.format == formatters.Text {
		if err := formatters.WriteConformanceSummary(env.Stdout, report); err != nil {
			return err
		}
	} else if err := formatters.WriteConformance(env.Stdout, report, opts.format, pal, opts.verbose); err != nil {
		return err
	}
	if report.Failed > 0 {
		return &runenv.CodeError{Code: runenv.ExitCheckFailed, Msg: fmt.Sprintf("%d of %d cases failed", report.Failed, len(report.Cases))}
	}
	return nil
}

// confCase is one case of the suite.
type confCase struct {
	id      int
	section string
	title   string
	run     func(p *probe) verdict
}

// verdict is a case's result and the sentence that explains it.
type verdict struct {
	result string
	detail string
}

func passf(format string, args ...any) verdict {
	return verdict{formatters.Pass, fmt.Sprintf(format, args...)}
}
func failf(format string, args ...any) verdict {
	return verdict{formatters.Fail, fmt.Sprintf(format, args...)}
}
func warnf(format string, args ...any) verdict {
	return verdict{formatters.Warn, fmt.Sprintf(format, args...)}
}

func runCase(ctx context.Context, tgt *target, opts conformanceOptions, cs confCase, pal *formatters.Palette) formatters.ConformanceCase {
	p := &probe{ctx: ctx, tgt: tgt, opts: opts, deadline: time.Now().Add(opts.caseTimeout), log: &wireLog{}}
	if opts.verbose {
		p.log.dump = &formatters.Dumper{W: &p.log.dumpBuf, P: pal, Format: formatters.Text, MaxBytes: 64}
	}
	v := cs.run(p)
	p.closeAll()
	out := formatters.ConformanceCase{ID: cs.id, Section: cs.section, Title: cs.title, Result: v.result, Detail: v.detail}
	if v.result == formatters.Fail {
		out.Sent, out.Received = p.log.summary()
	}
	if opts.verbose && v.result != formatters.Pass {
		out.Dump = p.log.dumpText()
	}
	return out
}

// wireLog keeps what a case sent and received: a short summary of each
// record, and with -v the raw-dump.
type wireLog struct {
	mu      sync.Mutex
	sent    []string
	recv    []string
	dump    *formatters.Dumper
	dumpBuf lockedBuilder
}

// lockedBuilder is a strings.Builder safe for the dumper's goroutines.
type lockedBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuilder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *wireLog) dumpText() string { return l.dumpBuf.String() }

// observer returns the observer of one connection, numbered conn.
func (l *wireLog) observer(conn int) fcgiwire.Observer {
	var d *formatters.Dumper
	if l.dump != nil {
		d = &formatters.Dumper{W: &l.dumpBuf, P: l.dump.P, Format: formatters.Text, MaxBytes: l.dump.MaxBytes}
		if conn > 1 {
			d.Conn = uint64(conn)
		}
	}
	return func(ev fcgiwire.Event) {
		if d != nil {
			d.Observe(ev)
		}
		s := describeRecord(ev.Header, ev.Content)
		if conn > 1 {
			s = fmt.Sprintf("c%d %s", conn, s)
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if ev.Dir == fcgiwire.Sent {
			l.sent = append(l.sent, s)
		} else {
			l.recv = append(l.recv, s)
		}
	}
}

// note adds an event that is not a record (a close, a timeout) to the
// received side.
func (l *wireLog) note(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recv = append(l.recv, "("+s+")")
}

// summary returns the records both ways, runs of alike records counted.
func (l *wireLog) summary() (string, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return squash(l.sent), squash(l.recv)
}

// squash joins descriptions with ", ", writing a run of equal ones once
// with its count, and keeps at most 12 entries.
func squash(items []string) string {
	if len(items) == 0 {
		return "nothing"
	}
	var out []string
	for i := 0; i < len(items); {
		j := i
		for j < len(items) && items[j] == items[i] {
			j++
		}
		if j-i > 1 {
			out = append(out, fmt.Sprintf("%s ×%d", items[i], j-i))
		} else {
			out = append(out, items[i])
		}
		i = j
	}
	if len(out) > 12 {
		out = append(out[:11], fmt.Sprintf("… %d more", len(out)-11))
	}
	return strings.Join(out, ", ")
}

// describeRecord is a record in a few words: "PARAMS id=1 len=30".
func describeRecord(h fcgiwire.Header, content []byte) string {
	s := fmt.Sprintf("%s id=%d", h.Type, h.RequestID)
	if h.Version != fcgiwire.Version1 {
		s = fmt.Sprintf("v%d %s", h.Version, s)
	}
	switch h.Type {
	case fcgiwire.TypeBeginRequest:
		if br, err := fcgiwire.DecodeBeginRequest(content); err == nil {
			s += " " + br.Role.String()
			if br.KeepConn() {
				s += " keep_conn"
			}
			return s
		}
	case fcgiwire.TypeEndRequest:
		if er, err := fcgiwire.DecodeEndRequest(content); err == nil {
			return fmt.Sprintf("%s %s app_status=%d", s, er.ProtocolStatus, er.AppStatus)
		}
	case fcgiwire.TypeUnknownType:
		if t, err := fcgiwire.DecodeUnknownType(content); err == nil {
			return fmt.Sprintf("%s type=%d", s, uint8(t))
		}
	case fcgiwire.TypeGetValues, fcgiwire.TypeGetValuesResult:
		pairs, err := fcgiwire.DecodePairs(content, 0)
		var names []string
		for _, p := range pairs {
			if h.Type == fcgiwire.TypeGetValues {
				names = append(names, p.Name)
			} else {
				names = append(names, p.Name+"="+p.Value)
			}
		}
		if err != nil {
			names = append(names, "malformed")
		}
		return s + " {" + strings.Join(names, " ") + "}"
	}
	if len(content) == 0 && (h.Type.IsStream() || h.Type == fcgiwire.TypeAbortRequest) {
		if h.Type.IsStream() {
			return s + " end"
		}
		return s
	}
	s += fmt.Sprintf(" len=%d", len(content))
	if h.PaddingLength != 0 {
		s += fmt.Sprintf(" pad=%d", h.PaddingLength)
	}
	return s
}

// probe is what a case works with: connections to the server, bounded by
// the case's deadline, and the log of the records.
type probe struct {
	ctx      context.Context
	tgt      *target
	opts     conformanceOptions
	deadline time.Time
	log      *wireLog
	conns    []*pconn
}

func (p *probe) closeAll() {
	for _, c := range p.conns {
		c.stop()
		c.nc.Close()
	}
}

// timeout is the case timeout as the details say it: "2s".
func (p *probe) timeout() string { return p.opts.caseTimeout.String() }

// quiet is how long a case waits to see that nothing more comes.
func (p *probe) quiet() time.Duration {
	return min(p.opts.caseTimeout/5, 200*time.Millisecond)
}

// pconn is one connection of a case.
type pconn struct {
	p       *probe
	nc      net.Conn
	w       *fcgiwire.Writer
	r       *fcgiwire.Reader
	sendErr error       // the first failed write
	stop    func() bool // ends the watch on the command's context
}

// dial opens a connection for the case.
func (p *probe) dial() (*pconn, error) {
	ctx, cancel := context.WithDeadline(p.ctx, p.deadline)
	defer cancel()
	nc, err := p.tgt.dial(ctx, p.opts.net.ConnectTimeout)
	if err != nil {
		return nil, err
	}
	_ = nc.SetDeadline(p.deadline)
	c := &pconn{p: p, nc: nc, w: fcgiwire.NewWriter(nc), r: fcgiwire.NewReader(nc)}
	c.stop = context.AfterFunc(p.ctx, func() { _ = nc.SetDeadline(time.Now()) })
	o := p.log.observer(len(p.conns) + 1)
	c.w.Observe, c.r.Observe = o, o
	p.conns = append(p.conns, c)
	return c, nil
}

// dialFail is the verdict of a case whose connection failed.
func dialFail(err error) verdict {
	return failf("cannot connect for this case: %v", err)
}

// send runs f on the writer and flushes; the first failure is kept, and
// later sends do nothing.
func (c *pconn) send(f func(w *fcgiwire.Writer) error) {
	if c.sendErr != nil {
		return
	}
	err := f(c.w)
	if err == nil {
		err = c.w.Flush()
	}
	if err != nil {
		c.sendErr = err
	}
}

var zeroPadding [fcgiwire.MaxPadding]byte

// raw writes one record with the given version and padding.
func raw(w *fcgiwire.Writer, version uint8, t fcgiwire.RecordType, id uint16, content []byte, pad int) error {
	h := fcgiwire.Header{Version: version, Type: t, RequestID: id, ContentLength: uint16(len(content)), PaddingLength: uint8(pad)}
	return w.WriteRawRecord(h, content, zeroPadding[:pad])
}

// reqSpec is a request as a case sends it.
type reqSpec struct {
	id        uint16
	role      fcgiwire.Role
	keep      bool
	params    []fcgiwire.Pair
	paramRecs [][]byte // PARAMS bodies as given, instead of params
	stdin     []byte
	chunk     int // STDIN record size (0: one record)
	pad       int // STDIN padding (-1: none; 0: to a multiple of 8)
	data      []byte
	version   uint8 // 0 means 1
	noStdin   bool  // stop after the PARAMS stream
}

// writeRequest sends BEGIN_REQUEST, the PARAMS stream, and STDIN (and
// DATA for a filter), each stream closed by its empty record.
func (c *pconn) writeRequest(s reqSpec) {
	v := s.version
	if v == 0 {
		v = fcgiwire.Version1
	}
	var flags uint8
	if s.keep {
		flags = fcgiwire.FlagKeepConn
	}
	c.send(func(w *fcgiwire.Writer) error {
		if err := raw(w, v, fcgiwire.TypeBeginRequest, s.id, fcgiwire.BeginRequest{Role: s.role, Flags: flags}.Encode(), 0); err != nil {
			return err
		}
		bodies := s.paramRecs
		if bodies == nil {
			var err error
			if bodies, err = fcgiwire.SplitPairs(s.params); err != nil {
				return err
			}
		}
		for _, b := range bodies {
			if err := raw(w, v, fcgiwire.TypeParams, s.id, b, streamPad(len(b), 0)); err != nil {
				return err
			}
		}
		if err := raw(w, v, fcgiwire.TypeParams, s.id, nil, 0); err != nil {
			return err
		}
		if s.noStdin {
			return nil
		}
		if err := writeStreamRecords(w, v, fcgiwire.TypeStdin, s.id, s.stdin, s.chunk, s.pad); err != nil {
			return err
		}
		if s.role == fcgiwire.RoleFilter {
			return writeStreamRecords(w, v, fcgiwire.TypeData, s.id, s.data, 0, 0)
		}
		return nil
	})
}

// streamPad is the padding of a record of n content bytes: pad when
// positive, none when negative, else to a multiple of 8 unless that passes
// 65535 bytes.
func streamPad(n, pad int) int {
	switch {
	case pad > 0:
		return pad
	case pad < 0:
		return 0
	}
	if p := fcgiwire.PaddingFor(n); n+p <= fcgiwire.MaxContent {
		return p
	}
	return 0
}

// writeStreamRecords writes b as records of chunk bytes (0: as large as
// allowed) and the empty record that closes the stream.
func writeStreamRecords(w *fcgiwire.Writer, v uint8, t fcgiwire.RecordType, id uint16, b []byte, chunk, pad int) error {
	if chunk <= 0 {
		chunk = fcgiwire.MaxContent
	}
	for len(b) > 0 {
		n := min(chunk, len(b))
		if pad > 0 {
			n = min(n, fcgiwire.MaxContent-pad)
		}
		if err := raw(w, v, t, id, b[:n], streamPad(n, pad)); err != nil {
			return err
		}
		b = b[n:]
	}
	return raw(w, v, t, id, nil, 0)
}

// response is what came back for the requests a case waits on.
type response struct {
	recs   []fcgiwire.Record // every record read, content copied
	ends   map[uint16][]fcgiwire.EndRequest
	err    error // what stopped the read early; nil when every request ended
	stdout map[uint16]int
}

// end returns the END_REQUEST of id, if one came.
func (r *response) end(id uint16) (fcgiwire.EndRequest, bool) {
	e := r.ends[id]
	if len(e) == 0 {
		return fcgiwire.EndRequest{}, false
	}
	return e[0], true
}

// read reads one record, copying its content.
func (c *pconn) read() (fcgiwire.Record, error) {
	rec, err := c.r.ReadRecord()
	if err != nil {
		return rec, err
	}
	rec.Content = append([]byte(nil), rec.Content...)
	return rec, nil
}

// collect reads until every id has its END_REQUEST, the connection fails
// or the case's deadline passes.
func (c *pconn) collect(ids ...uint16) *response {
	resp := &response{ends: map[uint16][]fcgiwire.EndRequest{}, stdout: map[uint16]int{}}
	for bound := 0; bound < 1<<20; bound++ {
		done := true
		for _, id := range ids {
			if len(resp.ends[id]) == 0 {
				done = false
			}
		}
		if done {
			return resp
		}
		rec, err := c.read()
		if err != nil {
			resp.err = err
			c.p.log.note(c.p.describeErr(err))
			return resp
		}
		resp.recs = append(resp.recs, rec)
		c.account(resp, rec)
	}
	resp.err = errors.New("too many records")
	return resp
}

func (c *pconn) account(resp *response, rec fcgiwire.Record) {
	switch rec.Type {
	case fcgiwire.TypeEndRequest:
		if er, err := fcgiwire.DecodeEndRequest(rec.Content); err == nil {
			resp.ends[rec.RequestID] = append(resp.ends[rec.RequestID], er)
		}
	case fcgiwire.TypeStdout:
		resp.stdout[rec.RequestID] += len(rec.Content)
	}
}

// describeErr says in words why a read stopped.
func (p *probe) describeErr(err error) string {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		if p.ctx.Err() != nil {
			// The whole run's end: -t, or Ctrl-C.
			if te, ok := errors.AsType[*runenv.TimeoutError](context.Cause(p.ctx)); ok {
				return te.Msg
			}
			return "interrupted"
		}
		return "no answer within " + p.timeout()
	case err == io.EOF:
		return "the connection closed"
	case runenv.IsReset(err):
		return "the connection closed: " + runenv.UnwrapOp(err).Error()
	}
	return err.Error()
}

// failed is the verdict for a response that stopped before every
// END_REQUEST: the reason, and a failed send if there was one.
func (c *pconn) failed(resp *response, what string) verdict {
	reason := c.p.describeErr(resp.err)
	if c.sendErr != nil && !errors.Is(c.sendErr, os.ErrDeadlineExceeded) {
		reason += " (sending failed: " + runenv.UnwrapOp(c.sendErr).Error() + ")"
	}
	return failf("%s: %s", what, reason)
}

// afterEnd waits a moment after END_REQUEST and reports what the
// connection did: "closed", "open", or a record that came.
func (c *pconn) afterEnd(wait time.Duration) (string, *fcgiwire.Record) {
	_ = c.nc.SetReadDeadline(minTime(time.Now().Add(wait), c.p.deadline))
	defer c.nc.SetReadDeadline(c.p.deadline)
	rec, err := c.read()
	switch {
	case err == nil:
		return "record", &rec
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "open", nil
	}
	c.p.log.note(c.p.describeErr(err))
	return "closed", nil
}

// waitClose reads until the connection closes or the case's deadline
// passes; a record that comes meanwhile is returned.
func (c *pconn) waitClose() (bool, *fcgiwire.Record) {
	rec, err := c.read()
	if err == nil {
		return false, &rec
	}
	c.p.log.note(c.p.describeErr(err))
	return !errors.Is(err, os.ErrDeadlineExceeded), nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// params returns the params of a responder request for the script: GET
// without a body, POST with one of bodyLen bytes.
func (p *probe) params(bodyLen int, extra ...fcgiwire.Pair) []fcgiwire.Pair {
	script := p.opts.script
	name := "/" + filepath.Base(script)
	method, length := "GET", ""
	if bodyLen > 0 {
		method, length = "POST", strconv.Itoa(bodyLen)
	}
	ps := []fcgiwire.Pair{
		{Name: "GATEWAY_INTERFACE", Value: "CGI/1.1"},
		{Name: "SERVER_SOFTWARE", Value: "fcgicli-conformance"},
		{Name: "SERVER_PROTOCOL", Value: "HTTP/1.1"},
		{Name: "SERVER_NAME", Value: "localhost"},
		{Name: "SERVER_PORT", Value: "80"},
		{Name: "REMOTE_ADDR", Value: "127.0.0.1"},
		{Name: "REQUEST_METHOD", Value: method},
		{Name: "SCRIPT_FILENAME", Value: script},
		{Name: "SCRIPT_NAME", Value: name},
		{Name: "REQUEST_URI", Value: name},
		{Name: "DOCUMENT_ROOT", Value: filepath.Dir(script)},
		{Name: "QUERY_STRING", Value: ""},
		{Name: "CONTENT_LENGTH", Value: length},
	}
	if bodyLen > 0 {
		ps = append(ps, fcgiwire.Pair{Name: "CONTENT_TYPE", Value: "application/octet-stream"})
	}
	return append(ps, extra...)
}

// complete checks that id ended with REQUEST_COMPLETE, once.
func (c *pconn) complete(resp *response, id uint16, what string) verdict {
	if resp.err != nil {
		return c.failed(resp, what+": no END_REQUEST")
	}
	e, _ := resp.end(id)
	if e.ProtocolStatus != fcgiwire.RequestComplete {
		return failf("%s: END_REQUEST with %s, expected REQUEST_COMPLETE", what, e.ProtocolStatus)
	}
	return passf("%s: END_REQUEST REQUEST_COMPLETE, app status %d, %d stdout bytes", what, e.AppStatus, resp.stdout[id])
}

// simple runs one request on a fresh connection and checks it completes.
func (p *probe) simple(s reqSpec, what string) verdict {
	c, err := p.dial()
	if err != nil {
		return dialFail(err)
	}
	c.writeRequest(s)
	return c.complete(c.collect(s.id), s.id, what)
}

// conformanceCases is the suite, in order.
func conformanceCases() []confCase {
	var cs []confCase
	add := func(section, title string, run func(p *probe) verdict) {
		cs = append(cs, confCase{id: len(cs) + 1, section: section, title: title, run: run})
	}
	add("3.3", "a record of version 2 is refused, not taken for version 1", caseVersion2)
	add("3.3", "response records carry the request id (258); END_REQUEST comes once", caseRequestID)
	add("3.3", "response padding is 0-255 bytes, records aligned to 8 (recommended)", casePadding)
	add("3.3", "response streams end with an empty record before END_REQUEST", caseStreamsClosed)
	add("3.4", "name-value pairs with 1-byte lengths (127-byte name and value)", func(p *probe) verdict {
		n := strings.Repeat("N", 127)
		return p.simple(reqSpec{id: 1, role: fcgiwire.RoleResponder, params: p.params(0, fcgiwire.Pair{Name: n, Value: strings.Repeat("v", 127)})}, "1-byte lengths")
	})
	add("3.4", "name-value pairs with 4-byte lengths (128-byte name and value)", func(p *probe) verdict {
		n := strings.Repeat("N", 128)
		return p.simple(reqSpec{id: 1, role: fcgiwire.RoleResponder, params: p.params(0, fcgiwire.Pair{Name: n, Value: strings.Repeat("v", 128)})}, "4-byte lengths")
	})
	add("3.4", "a pair with a zero-length value", func(p *probe) verdict {
		return p.simple(reqSpec{id: 1, role: fcgiwire.RoleResponder, params: p.params(0, fcgiwire.Pair{Name: "HTTP_X_EMPTY"})}, "zero-length value")
	})
	add("3.4", "the largest pair one PARAMS record holds (65535 bytes, no padding)", func(p *probe) verdict {
		name := "HTTP_X_BIG"
		v := strings.Repeat("b", fcgiwire.MaxContent-1-4-len(name))
		bodies := [][]byte{fcgiwire.EncodePairs(p.params(0)), fcgiwire.EncodePairs([]fcgiwire.Pair{{Name: name, Value: v}})}
		return p.simple(reqSpec{id: 1, role: fcgiwire.RoleResponder, paramRecs: bodies}, "a 65535-byte PARAMS record")
	})
	add("3.4", "a 64 KiB value, its pair spanning two PARAMS records", func(p *probe) verdict {
		pair := fcgiwire.EncodePairs([]fcgiwire.Pair{{Name: "HTTP_X_BIG", Value: strings.Repeat("b", 64<<10)}})
		bodies := [][]byte{fcgiwire.EncodePairs(p.params(0)), pair[:fcgiwire.MaxContent], pair[fcgiwire.MaxContent:]}
		return p.simple(reqSpec{id: 1, role: fcgiwire.RoleResponder, paramRecs: bodies}, "a 65536-byte value")
	})
	add("3.4", "a small pair split across two PARAMS records", func(p *probe) verdict {
		all := fcgiwire.EncodePairs(p.params(0, fcgiwire.Pair{Name: "HTTP_X_SPLIT", Value: "split across records"}))
		cut := len(all) - 10 // inside the last pair's value
		return p.simple(reqSpec{id: 1, role: fcgiwire.RoleResponder, paramRecs: [][]byte{all[:cut], all[cut:]}}, "a split pair")
	})
	add("5.2", "many small PARAMS records, one pair each", func(p *probe) verdict {
		ps := p.params(0)
		for i := range 200 {
			ps = append(ps, fcgiwire.Pair{Name: fmt.Sprintf("HTTP_X_P%d", i), Value: strconv.Itoa(i)})
		}
		bodies := make([][]byte, len(ps))
		for i, pr := range ps {
			bodies[i] = fcgiwire.EncodePairs([]fcgiwire.Pair{pr})
		}
		return p.simple(reqSpec{id: 1, role: fcgiwire.RoleResponder, paramRecs: bodies}, fmt.Sprintf("%d PARAMS records", len(bodies)))
	})
	add("5.2", "an empty request: no params, only the empty PARAMS and STDIN records", func(p *probe) verdict {
		return p.simple(reqSpec{id: 1, role: fcgiwire.RoleResponder, paramRecs: [][]byte{}}, "an empty request")
	})
	add("4.1", "GET_VALUES with FCGI_MAX_CONNS, FCGI_MAX_REQS, FCGI_MPXS_CONNS", caseGetValues)
	add("4.1", "GET_VALUES with an unknown name: omitted from the result", caseGetValuesUnknown)
	add("4.2", "an unknown management record type (20): UNKNOWN_TYPE", caseUnknownType)
	for _, role := range []fcgiwire.Role{fcgiwire.RoleResponder, fcgiwire.RoleAuthorizer, fcgiwire.RoleFilter} {
		add("5.1", fmt.Sprintf("BEGIN_REQUEST %s, no FCGI_KEEP_CONN: the application closes", role), func(p *probe) verdict {
			return caseRole(p, role, false)
		})
		add("5.1", fmt.Sprintf("BEGIN_REQUEST %s, FCGI_KEEP_CONN: the connection stays open", role), func(p *probe) verdict {
			return caseRole(p, role, true)
		})
	}
	add("5.1", "BEGIN_REQUEST with an unknown role (99): END_REQUEST UNKNOWN_ROLE", caseUnknownRole)
	add("5.3", "STDIN in one record", func(p *probe) verdict {
		body := bytes.Repeat([]byte("0123456789"), 100)
		return p.simple(reqSpec{id: 1, role: fcgiwire.RoleResponder, params: p.params(len(body)), stdin: body}, "1000 bytes of STDIN in one record")
	})
	add("5.3", "STDIN in many small records (500 of 2 bytes)", func(p *probe) verdict {
		body := bytes.Repeat([]byte("ab"), 500)
		return p.simple(reqSpec{id: 1, role: fcgiwire.RoleResponder, params: p.params(len(body)), stdin: body, chunk: 2, pad: -1}, "500 STDIN records")
	})
	add("5.3", "STDIN records with maximum padding (255 bytes)", func(p *probe) verdict {
		body := bytes.Repeat([]byte("padded"), 50)
		return p.simple(reqSpec{id: 1, role: fcgiwire.RoleResponder, params: p.params(len(body)), stdin: body, chunk: 100, pad: fcgiwire.MaxPadding}, "STDIN with 255 bytes of padding")
	})
	add("5.3", "an empty DATA stream (FILTER, only the empty DATA record)", caseEmptyData)
	add("5.4", "ABORT_REQUEST before the params: END_REQUEST", caseAbortBefore)
	add("5.4", "ABORT_REQUEST while the request runs (stdin half sent): END_REQUEST", caseAbortDuring)
	add("3.5", "a second request on a kept-alive connection (request id reused)", caseSecondRequest)
	add("5.5", "two requests at once: multiplexed, or CANT_MPX_CONN", caseMultiplex)
	return cs
}

func caseVersion2(p *probe) verdict {
	c, err := p.dial()
	if err != nil {
		return dialFail(err)
	}
	c.writeRequest(reqSpec{id: 1, role: fcgiwire.RoleResponder, params: p.params(0), version: 2})
	resp := c.collect(1)
	switch {
	case resp.err == nil:
		return warnf("the application answered a version 2 request as version 1 (the specification defines only version 1)")
	case errors.Is(resp.err, os.ErrDeadlineExceeded):
		if len(resp.recs) == 0 {
			return failf("neither an answer nor a close within %s: the records were silently ignored", p.timeout())
		}
		return c.failed(resp, "a partial answer")
	}
	var pe *fcgiwire.ProtocolError
	if errors.As(resp.err, &pe) {
		return failf("the answer is malformed: %v", pe)
	}
	if len(resp.recs) > 0 {
		return warnf("the application answered part of the request, then closed")
	}
	return passf("the application closed the connection")
}

// caseRequestID runs a request with id 258, so both bytes of the id
// matter, and checks every record of the answer.
func caseRequestID(p *probe) verdict {
	c, err := p.dial()
	if err != nil {
		return dialFail(err)
	}
	const id = 258
	c.writeRequest(reqSpec{id: id, role: fcgiwire.RoleResponder, keep: true, params: p.params(0)})
	resp := c.collect(id)
	if resp.err != nil {
		return c.failed(resp, "no END_REQUEST for request id 258")
	}
	for _, r := range resp.recs {
		if r.RequestID != id && !(r.RequestID == 0 && r.Type.IsManagement()) {
			return failf("a %s record carries request id %d, expected %d", r.Type, r.RequestID, id)
		}
	}
	state, extra := c.afterEnd(p.quiet())
	if extra != nil {
		return failf("a %s record (request id %d) came after END_REQUEST", extra.Type, extra.RequestID)
	}
	if state == "closed" {
		return failf("the connection closed after END_REQUEST despite FCGI_KEEP_CONN")
	}
	return passf("%d records, all for request id %d, END_REQUEST once", len(resp.recs), id)
}

func casePadding(p *probe) verdict {
	c, err := p.dial()
	if err != nil {
		return dialFail(err)
	}
	c.writeRequest(reqSpec{id: 1, role: fcgiwire.RoleResponder, params: p.params(0)})
	resp := c.collect(1)
	if resp.err != nil {
		return c.failed(resp, "no END_REQUEST")
	}
	unaligned := 0
	for _, r := range resp.recs {
		if r.Len()%8 != 0 {
			unaligned++
		}
	}
	if unaligned > 0 {
		return warnf("%d of %d response records are not padded to a multiple of 8 bytes (a recommendation of §3.3)", unaligned, len(resp.recs))
	}
	return passf("%d response records, all padded to a multiple of 8 bytes", len(resp.recs))
}

// caseStreamsClosed checks that STDOUT, and STDERR when sent, end with an
// empty record before END_REQUEST.
func caseStreamsClosed(p *probe) verdict {
	c, err := p.dial()
	if err != nil {
		return dialFail(err)
	}
	c.writeRequest(reqSpec{id: 1, role: fcgiwire.RoleResponder, params: p.params(0)})
	resp := c.collect(1)
	if resp.err != nil {
		return c.failed(resp, "no END_REQUEST")
	}
	used := map[fcgiwire.RecordType]bool{}
	closed := map[fcgiwire.RecordType]bool{}
	for _, r := range resp.recs {
		if r.Type != fcgiwire.TypeStdout && r.Type != fcgiwire.TypeStderr {
			continue
		}
		if closed[r.Type] {
			return failf("a %s record after its stream's empty record", r.Type)
		}
		used[r.Type] = true
		if len(r.Content) == 0 {
			closed[r.Type] = true
		}
	}
	var open []string
	for _, t := range []fcgiwire.RecordType{fcgiwire.TypeStdout, fcgiwire.TypeStderr} {
		if used[t] && !closed[t] {
			open = append(open, t.String())
		}
	}
	if len(open) > 0 {
		return failf("END_REQUEST came with %s not closed by an empty record", strings.Join(open, " and "))
	}
	if !used[fcgiwire.TypeStdout] {
		return warnf("the response has no STDOUT stream at all")
	}
	names := []string{"STDOUT"}
	if used[fcgiwire.TypeStderr] {
		names = append(names, "STDERR")
	}
	return passf("%s closed by an empty record", strings.Join(names, " and "))
}

func caseGetValues(p *probe) verdict {
	c, err := p.dial()
	if err != nil {
		return dialFail(err)
	}
	names := []string{fcgiwire.MaxConns, fcgiwire.MaxReqs, fcgiwire.MpxsConns}
	pairs, v, ok := c.getValues(names)
	if !ok {
		return v
	}
	got := map[string]string{}
	for _, pr := range pairs {
		got[pr.Name] = pr.Value
		if _, err := strconv.ParseUint(pr.Value, 10, 32); err != nil {
			return failf("%s=%q is not a number", pr.Name, pr.Value)
		}
		if !contains(names, pr.Name) {
			return failf("the result has %s, which was not asked for", pr.Name)
		}
	}
	if m, ok := got[fcgiwire.MpxsConns]; ok && m != "0" && m != "1" {
		return failf("FCGI_MPXS_CONNS=%s, expected 0 or 1", m)
	}
	var missing, present []string
	for _, n := range names {
		if v, ok := got[n]; ok {
			present = append(present, n+"="+v)
		} else {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return warnf("the result leaves out %s (allowed, but a web server then has to guess); has %s", strings.Join(missing, ", "), orNothing(present))
	}
	return passf("%s", strings.Join(present, " "))
}

func orNothing(s []string) string {
	if len(s) == 0 {
		return "nothing"
	}
	return strings.Join(s, " ")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// getValues sends GET_VALUES for names and reads the result; ok is false
// when the verdict is already a failure.
func (c *pconn) getValues(names []string) ([]fcgiwire.Pair, verdict, bool) {
	asked := make([]fcgiwire.Pair, len(names))
	for i, n := range names {
		asked[i] = fcgiwire.Pair{Name: n}
	}
	c.send(func(w *fcgiwire.Writer) error {
		return w.WriteRecord(fcgiwire.TypeGetValues, 0, fcgiwire.EncodePairs(asked))
	})
	rec, err := c.read()
	if err != nil {
		c.p.log.note(c.p.describeErr(err))
		return nil, failf("no GET_VALUES_RESULT: %s", c.p.describeErr(err)), false
	}
	if rec.Type != fcgiwire.TypeGetValuesResult || rec.RequestID != 0 {
		return nil, failf("the answer is %s on request id %d, expected GET_VALUES_RESULT on 0", rec.Type, rec.RequestID), false
	}
	pairs, err := fcgiwire.DecodePairs(rec.Content, 0)
	if err != nil {
		return nil, failf("malformed GET_VALUES_RESULT: %v", err), false
	}
	state, extra := c.afterEnd(c.p.quiet())
	if extra != nil {
		return pairs, failf("a second record (%s) after GET_VALUES_RESULT: a management answer is one record", extra.Type), false
	}
	if state == "closed" {
		return pairs, failf("the connection closed after GET_VALUES_RESULT: a management record does not end the connection"), false
	}
	return pairs, verdict{}, true
}

func caseGetValuesUnknown(p *probe) verdict {
	c, err := p.dial()
	if err != nil {
		return dialFail(err)
	}
	names := []string{"FCGICLI_NO_SUCH_VARIABLE", fcgiwire.MpxsConns}
	pairs, v, ok := c.getValues(names)
	if !ok {
		return v
	}
	var got []string
	for _, pr := range pairs {
		if pr.Name == names[0] {
			return failf("the result has FCGICLI_NO_SUCH_VARIABLE=%q: an unknown name must be left out", pr.Value)
		}
		got = append(got, pr.Name+"="+pr.Value)
	}
	return passf("the unknown name is left out; the result has %s", orNothing(got))
}

func caseUnknownType(p *probe) verdict {
	c, err := p.dial()
	if err != nil {
		return dialFail(err)
	}
	const t = fcgiwire.RecordType(20)
	c.send(func(w *fcgiwire.Writer) error { return w.WriteRecord(t, 0, nil) })
	rec, err := c.read()
	if err != nil {
		c.p.log.note(p.describeErr(err))
		return failf("no UNKNOWN_TYPE: %s", p.describeErr(err))
	}
	if rec.Type != fcgiwire.TypeUnknownType || rec.RequestID != 0 {
		return failf("the answer is %s on request id %d, expected UNKNOWN_TYPE on 0", rec.Type, rec.RequestID)
	}
	named, err := fcgiwire.DecodeUnknownType(rec.Content)
	if err != nil {
		return failf("malformed UNKNOWN_TYPE: %v", err)
	}
	if named != t {
		return failf("UNKNOWN_TYPE names type %d, not %d", uint8(named), uint8(t))
	}
	if state, _ := c.afterEnd(p.quiet()); state == "closed" {
		return failf("UNKNOWN_TYPE type=20 came, then the connection closed")
	}
	return passf("UNKNOWN_TYPE type=20")
}

// roleRequest is a complete request in role: a responder gets a small
// POST body, an authorizer no body, a filter a body and DATA.
func (p *probe) roleRequest(id uint16, role fcgiwire.Role, keep bool) reqSpec {
	s := reqSpec{id: id, role: role, keep: keep}
	switch role {
	case fcgiwire.RoleAuthorizer:
		s.params = p.params(0)
	case fcgiwire.RoleFilter:
		s.data = []byte("data for the filter\n")
		s.stdin = []byte("a=1")
		s.params = p.params(len(s.stdin),
			fcgiwire.Pair{Name: "FCGI_DATA_LAST_MOD", Value: "0"},
			fcgiwire.Pair{Name: "FCGI_DATA_LENGTH", Value: strconv.Itoa(len(s.data))})
	default:
		s.stdin = []byte("a=1")
		s.params = p.params(len(s.stdin))
	}
	return s
}

func caseRole(p *probe, role fcgiwire.Role, keep bool) verdict {
	c, err := p.dial()
	if err != nil {
		return dialFail(err)
	}
	c.writeRequest(p.roleRequest(1, role, keep))
	resp := c.collect(1)
	if resp.err != nil {
		return c.failed(resp, "no END_REQUEST")
	}
	e, _ := resp.end(1)
	status := fmt.Sprintf("END_REQUEST %s", e.ProtocolStatus)
	if keep {
		state, extra := c.afterEnd(p.quiet())
		switch {
		case extra != nil:
			return failf("%s, then a %s record", status, extra.Type)
		case state == "closed":
			return failf("%s, then the connection closed despite FCGI_KEEP_CONN", status)
		}
	} else {
		closed, extra := c.waitClose()
		switch {
		case extra != nil:
			return failf("%s, then a %s record", status, extra.Type)
		case !closed:
			return failf("%s, but the connection was still open %s later without FCGI_KEEP_CONN", status, p.timeout())
		}
	}
	switch e.ProtocolStatus {
	case fcgiwire.RequestComplete:
	case fcgiwire.UnknownRole:
		if role != fcgiwire.RoleResponder {
			return warnf("%s: the application does not take the %s role (allowed)", status, role)
		}
		return failf("%s for the responder role", status)
	default:
		return failf("%s, expected REQUEST_COMPLETE", status)
	}
	if keep {
		return passf("%s, the connection stayed open", status)
	}
	return passf("%s, then the application closed", status)
}

func caseUnknownRole(p *probe) verdict {
	c, err := p.dial()
	if err != nil {
		return dialFail(err)
	}
	c.writeRequest(reqSpec{id: 1, role: 99, params: p.params(0)})
	resp := c.collect(1)
	if resp.err != nil {
		return c.failed(resp, "no END_REQUEST UNKNOWN_ROLE")
	}
	e, _ := resp.end(1)
	if e.ProtocolStatus != fcgiwire.UnknownRole {
		return failf("END_REQUEST %s, expected UNKNOWN_ROLE", e.ProtocolStatus)
	}
	for _, r := range resp.recs {
		if r.Type == fcgiwire.TypeStdout && len(r.Content) > 0 {
			return warnf("END_REQUEST UNKNOWN_ROLE, after a STDOUT response to a role it refuses")
		}
	}
	return passf("END_REQUEST UNKNOWN_ROLE")
}

func caseEmptyData(p *probe) verdict {
	c, err := p.dial()
	if err != nil {
		return dialFail(err)
	}
	s := reqSpec{id: 1, role: fcgiwire.RoleFilter, params: p.params(0,
		fcgiwire.Pair{Name: "FCGI_DATA_LAST_MOD", Value: "0"},
		fcgiwire.Pair{Name: "FCGI_DATA_LENGTH", Value: "0"})}
	c.writeRequest(s)
	resp := c.collect(1)
	if resp.err != nil {
		return c.failed(resp, "no END_REQUEST")
	}
	e, _ := resp.end(1)
	if e.ProtocolStatus == fcgiwire.UnknownRole {
		return warnf("END_REQUEST UNKNOWN_ROLE: the application does not take the filter role, so DATA is not checked")
	}
	return c.complete(resp, 1, "empty STDIN and DATA streams")
}

func caseAbortBefore(p *probe) verdict {
	c, err := p.dial()
	if err != nil {
		return dialFail(err)
	}
	c.send(func(w *fcgiwire.Writer) error {
		if err := raw(w, 1, fcgiwire.TypeBeginRequest, 1, fcgiwire.BeginRequest{Role: fcgiwire.RoleResponder, Flags: fcgiwire.FlagKeepConn}.Encode(), 0); err != nil {
			return err
		}
		return raw(w, 1, fcgiwire.TypeAbortRequest, 1, nil, 0)
	})
	resp := c.collect(1)
	if resp.err != nil {
		return c.failed(resp, "no END_REQUEST after ABORT_REQUEST")
	}
	e, _ := resp.end(1)
	return passf("END_REQUEST %s, app status %d", e.ProtocolStatus, e.AppStatus)
}

func caseAbortDuring(p *probe) verdict {
	c, err := p.dial()
	if err != nil {
		return dialFail(err)
	}
	const bodyLen = 1000
	s := reqSpec{id: 1, role: fcgiwire.RoleResponder, keep: true, params: p.params(bodyLen), noStdin: true}
	c.writeRequest(s)
	c.send(func(w *fcgiwire.Writer) error { return raw(w, 1, fcgiwire.TypeStdin, 1, make([]byte, 100), 4) })
	// Give the application a moment to start, or to start answering.
	resp := &response{ends: map[uint16][]fcgiwire.EndRequest{}, stdout: map[uint16]int{}}
	_ = c.nc.SetReadDeadline(minTime(time.Now().Add(p.quiet()), p.deadline))
	if rec, err := c.read(); err == nil {
		resp.recs = append(resp.recs, rec)
		c.account(resp, rec)
	} else if !errors.Is(err, os.ErrDeadlineExceeded) {
		c.p.log.note(p.describeErr(err))
		return failf("before the abort: %s", p.describeErr(err))
	}
	_ = c.nc.SetReadDeadline(p.deadline)
	if _, ended := resp.end(1); ended {
		return warnf("the application ended the request before reading its stdin, so the abort was not checked")
	}
	c.send(func(w *fcgiwire.Writer) error { return raw(w, 1, fcgiwire.TypeAbortRequest, 1, nil, 0) })
	rest := c.collect(1)
	if rest.err != nil {
		return c.failed(rest, "no END_REQUEST after ABORT_REQUEST")
	}
	e, _ := rest.end(1)
	if state, extra := c.afterEnd(p.quiet()); extra != nil {
		return failf("END_REQUEST %s, then a %s record", e.ProtocolStatus, extra.Type)
	} else if state == "closed" {
		return warnf("END_REQUEST %s, then the connection closed despite FCGI_KEEP_CONN", e.ProtocolStatus)
	}
	return passf("END_REQUEST %s, app status %d", e.ProtocolStatus, e.AppStatus)
}

func caseSecondRequest(p *probe) verdict {
	c, err := p.dial()
	if err != nil {
		return dialFail(err)
	}
	for i := 1; i <= 2; i++ {
		c.writeRequest(p.roleRequest(1, fcgiwire.RoleResponder, true))
		resp := c.collect(1)
		if resp.err != nil {
			return c.failed(resp, fmt.Sprintf("request %d of 2: no END_REQUEST", i))
		}
		if e, _ := resp.end(1); e.ProtocolStatus != fcgiwire.RequestComplete {
			return failf("request %d of 2: END_REQUEST %s", i, e.ProtocolStatus)
		}
	}
	return passf("both requests ended with REQUEST_COMPLETE")
}

// caseMultiplex asks FCGI_MPXS_CONNS, then sends two requests at once on
// one connection: both must complete when it is 1; when it is 0 the
// second must get CANT_MPX_CONN (or, a WARN, wait for the first).
func caseMultiplex(p *probe) verdict {
	c, err := p.dial()
	if err != nil {
		return dialFail(err)
	}
	pairs, v, ok := c.getValues([]string{fcgiwire.MpxsConns})
	if !ok && !time.Now().Before(p.deadline) {
		return v
	}
	mpx := false
	for _, pr := range pairs {
		if pr.Name == fcgiwire.MpxsConns {
			mpx = pr.Value == "1"
		}
	}
	if !ok {
		// The management record may have cost the connection: start over.
		c.nc.Close()
		if c, err = p.dial(); err != nil {
			return dialFail(err)
		}
	}
	r1 := p.roleRequest(1, fcgiwire.RoleResponder, true)
	r2 := p.roleRequest(2, fcgiwire.RoleResponder, true)
	// BEGIN and PARAMS of both, then the STDIN of both: the second
	// request begins while the first is waiting for its stdin.
	r1.noStdin, r2.noStdin = true, true
	c.writeRequest(r1)
	c.writeRequest(r2)
	c.send(func(w *fcgiwire.Writer) error {
		if err := writeStreamRecords(w, 1, fcgiwire.TypeStdin, 2, r2.stdin, 0, 0); err != nil {
			return err
		}
		return writeStreamRecords(w, 1, fcgiwire.TypeStdin, 1, r1.stdin, 0, 0)
	})
	resp := c.collect(1, 2)
	advertised := "no FCGI_MPXS_CONNS"
	for _, pr := range pairs {
		if pr.Name == fcgiwire.MpxsConns {
			advertised = pr.Name + "=" + pr.Value
		}
	}
	if resp.err != nil {
		return c.failed(resp, fmt.Sprintf("%s, two requests at once: not both ended", advertised))
	}
	for _, r := range resp.recs {
		if r.RequestID != 1 && r.RequestID != 2 && !(r.RequestID == 0 && r.Type.IsManagement()) {
			return failf("a %s record carries request id %d", r.Type, r.RequestID)
		}
	}
	e1, _ := resp.end(1)
	e2, _ := resp.end(2)
	switch {
	case mpx && e1.ProtocolStatus == fcgiwire.RequestComplete && e2.ProtocolStatus == fcgiwire.RequestComplete:
		return passf("%s, both requests ended with REQUEST_COMPLETE", advertised)
	case mpx:
		return failf("%s, but END_REQUEST %s and %s", advertised, e1.ProtocolStatus, e2.ProtocolStatus)
	case e2.ProtocolStatus == fcgiwire.CantMpxConn && e1.ProtocolStatus == fcgiwire.RequestComplete:
		return passf("%s: the second request got CANT_MPX_CONN, the first completed", advertised)
	case e1.ProtocolStatus == fcgiwire.RequestComplete && e2.ProtocolStatus == fcgiwire.RequestComplete:
		return warnf("%s, yet both requests completed (served one after the other, or multiplexed without saying so)", advertised)
	}
	return failf("%s: END_REQUEST %s for the first request and %s for the second, expected REQUEST_COMPLETE and CANT_MPX_CONN", advertised, e1.ProtocolStatus, e2.ProtocolStatus)
}
