package conformance

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/fcgicli/fcgicli/fcgiwire"
)

// Cases is the suite, in order, numbered from 1.
func Cases() []Case {
	var cs []Case
	add := func(section, title string, run func(p *probe) verdict) {
		cs = append(cs, Case{ID: len(cs) + 1, Section: section, Title: title, run: run})
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
