package echo

import (
	"reflect"
	"testing"

	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

// TestResponderReportsRefusals: serve's OnRefuse reports each refusal as
// an exchange with the END_REQUEST sent, no answer, and a note naming the
// flag that caused it, numbered with the requests answered.
func TestResponderReportsRefusals(t *testing.T) {
	var got []*formatters.Exchange
	h := &Responder{Refuse: map[fcgiwire.Role]bool{fcgiwire.RoleFilter: true}}
	h.Report = func(ex *formatters.Exchange) { got = append(got, ex) }
	srv := NewServer(h, nil, Limits{MaxConns: 2, MaxReqs: 3, MaxConnReqs: 3})
	params := []fcgiwire.Pair{{Name: "REQUEST_URI", Value: "/x"}}
	tests := []struct {
		req    fcgiwire.ServerRequest
		status fcgiwire.ProtocolStatus
		why    fcgiwire.RefuseReason
		note   string
	}{
		{fcgiwire.ServerRequest{ConnID: 4, ID: 2, Role: fcgiwire.RoleResponder}, fcgiwire.CantMpxConn, fcgiwire.RefusedMpx, "refused: another request in flight on the connection (--no-mpxs)"},
		{fcgiwire.ServerRequest{ConnID: 4, ID: 3, Role: fcgiwire.RoleFilter, Flags: fcgiwire.FlagKeepConn}, fcgiwire.UnknownRole, fcgiwire.RefusedRole, "refused: role FILTER (--refuse-role)"},
		{fcgiwire.ServerRequest{ConnID: 5, ID: 1, Role: 7}, fcgiwire.UnknownRole, fcgiwire.RefusedRole, "refused: ROLE_7 is not a FastCGI role"},
		{fcgiwire.ServerRequest{ConnID: 6, ID: 1, Role: fcgiwire.RoleResponder}, fcgiwire.Overloaded, fcgiwire.RefusedMaxConns, "refused: connection past --max-conns 2"},
		{fcgiwire.ServerRequest{ConnID: 6, ID: 9, Role: fcgiwire.RoleAuthorizer}, fcgiwire.Overloaded, fcgiwire.RefusedMaxReqs, "refused: --max-reqs 3 reached"},
		{fcgiwire.ServerRequest{ConnID: 7, ID: 1, Role: fcgiwire.RoleResponder, Params: params}, fcgiwire.Overloaded, fcgiwire.RefusedShutdown, "refused: shutting down"},
		{fcgiwire.ServerRequest{ConnID: 8, ID: 4, Role: fcgiwire.RoleResponder}, fcgiwire.RequestComplete, fcgiwire.RefusedAborted, "aborted before its params ended"},
		{fcgiwire.ServerRequest{ConnID: 9, ID: 5, Role: fcgiwire.RoleResponder}, fcgiwire.Overloaded, fcgiwire.RefusedConnReqs, "refused: more than --max-conn-reqs 3 on one connection"},
		{fcgiwire.ServerRequest{ConnID: 9, ID: 6, Role: fcgiwire.RoleResponder}, fcgiwire.Overloaded, fcgiwire.RefusedBuffer, "refused: the connection's unfinished params passed 4194304 bytes"},
	}
	for _, tt := range tests {
		srv.OnRefuse(&tt.req, tt.status, tt.why)
	}
	if len(got) != len(tests) {
		t.Fatalf("%d reports, want %d", len(got), len(tests))
	}
	for i, tt := range tests {
		want := &formatters.Exchange{
			Seq: uint64(i + 1), Conn: tt.req.ConnID, RequestID: tt.req.ID, Role: tt.req.Role, KeepConn: tt.req.KeepConn(),
			Params: tt.req.Params, Ended: true, ProtocolStatus: tt.status, Note: tt.note,
		}
		if !reflect.DeepEqual(got[i], want) {
			t.Errorf("report %d:\n got %+v\nwant %+v", i, got[i], want)
		}
	}
}
