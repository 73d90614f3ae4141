package conformance

import (
	"reflect"
	"testing"

	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
)

func TestSelectCases(t *testing.T) {
	cases := Cases()
	got, err := Select(cases, "1,3-5, 9", "4")
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{1, 3, 5, 9}; !reflect.DeepEqual(sortedIDs(got), want) {
		t.Errorf("--only 1,3-5,9 --skip 4 = %v, want %v", sortedIDs(got), want)
	}
	all, err := Select(cases, "", "2-30")
	if err != nil || !reflect.DeepEqual(sortedIDs(all), []int{1}) {
		t.Errorf("--skip 2-30 = %v, %v", sortedIDs(all), err)
	}
	for _, bad := range []struct{ only, skip string }{{"0", ""}, {"31", ""}, {"5-3", ""}, {"a", ""}, {"1-", ""}, {"", "1-30"}, {"1", "1"}} {
		if _, err := Select(cases, bad.only, bad.skip); err == nil {
			t.Errorf("--only %q --skip %q: no error", bad.only, bad.skip)
		} else if code, _ := runenv.ExitCode(err); code != runenv.ExitUsage {
			t.Errorf("--only %q --skip %q: exit %d, want 2", bad.only, bad.skip, code)
		}
	}
}

func TestConformanceCasesNumbered(t *testing.T) {
	cases := Cases()
	if len(cases) != 30 {
		t.Fatalf("%d cases", len(cases))
	}
	for i, c := range cases {
		if c.ID != i+1 || c.Section == "" || c.Title == "" || c.run == nil || len(c.Title) > 68 {
			t.Errorf("case %d: %+v", i+1, c)
		}
	}
}

func TestSquash(t *testing.T) {
	if got := squash(nil); got != "nothing" {
		t.Errorf("squash(nil) = %q", got)
	}
	got := squash([]string{"A", "B", "B", "B", "C"})
	if want := "A, B ×3, C"; got != want {
		t.Errorf("squash = %q, want %q", got, want)
	}
}

func TestDescribeRecord(t *testing.T) {
	for _, c := range []struct {
		h       fcgiwire.Header
		content []byte
		want    string
	}{
		{fcgiwire.Header{Version: 1, Type: fcgiwire.TypeBeginRequest, RequestID: 3}, fcgiwire.BeginRequest{Role: fcgiwire.RoleFilter, Flags: 1}.Encode(), "BEGIN_REQUEST id=3 FILTER keep_conn"},
		{fcgiwire.Header{Version: 2, Type: fcgiwire.TypeParams, RequestID: 1, PaddingLength: 3}, []byte("abcde"), "v2 PARAMS id=1 len=5 pad=3"},
		{fcgiwire.Header{Version: 1, Type: fcgiwire.TypeStdin, RequestID: 1}, nil, "STDIN id=1 end"},
		{fcgiwire.Header{Version: 1, Type: fcgiwire.TypeEndRequest, RequestID: 1}, fcgiwire.EndRequest{AppStatus: 2, ProtocolStatus: fcgiwire.CantMpxConn}.Encode(), "END_REQUEST id=1 CANT_MPX_CONN app_status=2"},
		{fcgiwire.Header{Version: 1, Type: fcgiwire.TypeUnknownType}, fcgiwire.UnknownTypeBody(20), "UNKNOWN_TYPE id=0 type=20"},
		{fcgiwire.Header{Version: 1, Type: fcgiwire.TypeGetValuesResult}, fcgiwire.EncodePairs([]fcgiwire.Pair{{Name: "FCGI_MPXS_CONNS", Value: "0"}}), "GET_VALUES_RESULT id=0 {FCGI_MPXS_CONNS=0}"},
		{fcgiwire.Header{Version: 1, Type: fcgiwire.TypeAbortRequest, RequestID: 1}, nil, "ABORT_REQUEST id=1"},
	} {
		if got := describeRecord(c.h, c.content); got != c.want {
			t.Errorf("describeRecord = %q, want %q", got, c.want)
		}
	}
}
