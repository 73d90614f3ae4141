package fcgiwire

import (
	"bytes"
	"errors"
	"testing"
)

func TestHeaderEncodeDecode(t *testing.T) {
	tests := []struct {
		name string
		h    Header
		wire []byte
	}{
		{
			name: "begin request id 1",
			h:    Header{Version: 1, Type: TypeBeginRequest, RequestID: 1, ContentLength: 8},
			wire: []byte{0x01, 0x01, 0x00, 0x01, 0x00, 0x08, 0x00, 0x00},
		},
		{
			name: "stdout big-endian fields",
			h:    Header{Version: 1, Type: TypeStdout, RequestID: 0x0102, ContentLength: 0xfffe, PaddingLength: 2},
			wire: []byte{0x01, 0x06, 0x01, 0x02, 0xff, 0xfe, 0x02, 0x00},
		},
		{
			name: "maximum lengths",
			h:    Header{Version: 1, Type: TypeStdin, RequestID: 0xffff, ContentLength: MaxContent, PaddingLength: MaxPadding},
			wire: []byte{0x01, 0x05, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00},
		},
		{
			name: "management record with reserved byte",
			h:    Header{Version: 1, Type: TypeGetValues, ContentLength: 48, PaddingLength: 8, Reserved: 0x7a},
			wire: []byte{0x01, 0x09, 0x00, 0x00, 0x00, 0x30, 0x08, 0x7a},
		},
		{
			name: "bad version and unknown type are kept as is",
			h:    Header{Version: 2, Type: RecordType(200), RequestID: 0x8000, ContentLength: 1},
			wire: []byte{0x02, 0xc8, 0x80, 0x00, 0x00, 0x01, 0x00, 0x00},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := make([]byte, HeaderLen)
			tt.h.Encode(got)
			if !bytes.Equal(got, tt.wire) {
				t.Errorf("Encode = % x, want % x", got, tt.wire)
			}
			// Encode writes only the first 8 bytes of a longer slice.
			long := bytes.Repeat([]byte{0xee}, HeaderLen+2)
			tt.h.Encode(long)
			if !bytes.Equal(long[:HeaderLen], tt.wire) || long[8] != 0xee || long[9] != 0xee {
				t.Errorf("Encode into a longer slice = % x", long)
			}
			if d := DecodeHeader(tt.wire); d != tt.h {
				t.Errorf("DecodeHeader = %+v, want %+v", d, tt.h)
			}
			if n := tt.h.Len(); n != HeaderLen+int(tt.h.ContentLength)+int(tt.h.PaddingLength) {
				t.Errorf("Len = %d", n)
			}
		})
	}
}

func TestAppendRecord(t *testing.T) {
	tests := []struct {
		name    string
		dst     []byte
		h       Header
		content []byte
		wire    []byte
	}{
		{
			name:    "END_REQUEST, no padding",
			h:       Header{Version: Version1, Type: TypeEndRequest, RequestID: 1},
			content: EndRequest{AppStatus: 0x01020304, ProtocolStatus: Overloaded}.Encode(),
			wire: []byte{
				0x01, 0x03, 0x00, 0x01, 0x00, 0x08, 0x00, 0x00,
				0x01, 0x02, 0x03, 0x04, 0x02, 0x00, 0x00, 0x00,
			},
		},
		{
			name:    "stdout padded to 8, big-endian id",
			h:       Header{Version: Version1, Type: TypeStdout, RequestID: 0x0102, PaddingLength: 5},
			content: []byte("abc"),
			wire:    []byte{0x01, 0x06, 0x01, 0x02, 0x00, 0x03, 0x05, 0x00, 'a', 'b', 'c', 0, 0, 0, 0, 0},
		},
		{
			name: "empty stream record closes the stream",
			h:    Header{Version: Version1, Type: TypeStdin, RequestID: 7},
			wire: []byte{0x01, 0x05, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00},
		},
		{
			name:    "ContentLength comes from the content, the rest as given",
			h:       Header{Version: 2, Type: RecordType(200), ContentLength: 99, PaddingLength: 1, Reserved: 0x7a},
			content: []byte{0xff},
			wire:    []byte{0x02, 0xc8, 0x00, 0x00, 0x00, 0x01, 0x01, 0x7a, 0xff, 0x00},
		},
		{
			name:    "appends after what dst holds",
			dst:     []byte{0xee},
			h:       Header{Version: Version1, Type: TypeGetValues, PaddingLength: 8},
			content: nil,
			wire:    []byte{0xee, 0x01, 0x09, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0, 0, 0, 0, 0, 0, 0, 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendRecord(tt.dst, tt.h, tt.content)
			if !bytes.Equal(got, tt.wire) {
				t.Fatalf("AppendRecord = % x\nwant          % x", got, tt.wire)
			}
		})
	}
	defer func() {
		if recover() == nil {
			t.Fatal("AppendRecord with 65536 content bytes did not panic")
		}
	}()
	AppendRecord(nil, Header{Version: Version1, Type: TypeStdout, RequestID: 1}, make([]byte, MaxContent+1))
}

func TestHeaderLen(t *testing.T) {
	if n := (Header{ContentLength: MaxContent, PaddingLength: MaxPadding}).Len(); n != 8+65535+255 {
		t.Errorf("Len = %d, want %d", n, 8+65535+255)
	}
	if n := (Header{}).Len(); n != 8 {
		t.Errorf("empty Len = %d, want 8", n)
	}
}

func TestRecordTypeString(t *testing.T) {
	tests := []struct {
		t    RecordType
		want string
	}{
		{0, "TYPE_0"},
		{TypeBeginRequest, "BEGIN_REQUEST"},
		{TypeAbortRequest, "ABORT_REQUEST"},
		{TypeEndRequest, "END_REQUEST"},
		{TypeParams, "PARAMS"},
		{TypeStdin, "STDIN"},
		{TypeStdout, "STDOUT"},
		{TypeStderr, "STDERR"},
		{TypeData, "DATA"},
		{TypeGetValues, "GET_VALUES"},
		{TypeGetValuesResult, "GET_VALUES_RESULT"},
		{TypeUnknownType, "UNKNOWN_TYPE"},
		{12, "TYPE_12"},
		{20, "TYPE_20"},
		{255, "TYPE_255"},
	}
	for _, tt := range tests {
		if got := tt.t.String(); got != tt.want {
			t.Errorf("RecordType(%d).String() = %q, want %q", uint8(tt.t), got, tt.want)
		}
	}
}

func TestRecordTypeClasses(t *testing.T) {
	for i := 0; i < 256; i++ {
		rt := RecordType(i)
		wantStream := rt == TypeParams || rt == TypeStdin || rt == TypeStdout || rt == TypeStderr || rt == TypeData
		wantMgmt := rt == TypeGetValues || rt == TypeGetValuesResult || rt == TypeUnknownType
		if got := rt.IsStream(); got != wantStream {
			t.Errorf("%v.IsStream() = %v", rt, got)
		}
		if got := rt.IsManagement(); got != wantMgmt {
			t.Errorf("%v.IsManagement() = %v", rt, got)
		}
	}
}

func TestRoleString(t *testing.T) {
	tests := []struct {
		r    Role
		want string
	}{
		{0, "ROLE_0"},
		{RoleResponder, "RESPONDER"},
		{RoleAuthorizer, "AUTHORIZER"},
		{RoleFilter, "FILTER"},
		{4, "ROLE_4"},
		{0xffff, "ROLE_65535"},
	}
	for _, tt := range tests {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("Role(%d).String() = %q, want %q", uint16(tt.r), got, tt.want)
		}
	}
}

func TestProtocolStatusString(t *testing.T) {
	tests := []struct {
		s    ProtocolStatus
		want string
	}{
		{RequestComplete, "REQUEST_COMPLETE"},
		{CantMpxConn, "CANT_MPX_CONN"},
		{Overloaded, "OVERLOADED"},
		{UnknownRole, "UNKNOWN_ROLE"},
		{4, "STATUS_4"},
		{255, "STATUS_255"},
	}
	for _, tt := range tests {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("ProtocolStatus(%d).String() = %q, want %q", uint8(tt.s), got, tt.want)
		}
	}
}

func TestDirectionString(t *testing.T) {
	if Sent.String() != "sent" || Received.String() != "received" {
		t.Errorf("Direction strings = %q, %q", Sent, Received)
	}
}

func TestPaddingFor(t *testing.T) {
	tests := []struct{ n, pad, mgmt int }{
		{0, 0, 8},
		{1, 7, 7},
		{7, 1, 1},
		{8, 0, 8},
		{9, 7, 7},
		{15, 1, 1},
		{16, 0, 8},
		{48, 0, 8},
		{465, 7, 7},
		{65535, 1, 1},
	}
	for _, tt := range tests {
		if got := PaddingFor(tt.n); got != tt.pad {
			t.Errorf("PaddingFor(%d) = %d, want %d", tt.n, got, tt.pad)
		}
		if got := managementPadding(tt.n); got != tt.mgmt {
			t.Errorf("managementPadding(%d) = %d, want %d", tt.n, got, tt.mgmt)
		}
	}
}

func TestBeginRequestBody(t *testing.T) {
	tests := []struct {
		br   BeginRequest
		wire []byte
		keep bool
	}{
		{BeginRequest{Role: RoleResponder}, []byte{0, 1, 0, 0, 0, 0, 0, 0}, false},
		{BeginRequest{Role: RoleResponder, Flags: FlagKeepConn}, []byte{0, 1, 1, 0, 0, 0, 0, 0}, true},
		{BeginRequest{Role: RoleFilter, Flags: 0xfe}, []byte{0, 3, 0xfe, 0, 0, 0, 0, 0}, false},
		{BeginRequest{Role: 0x1234, Flags: 0xff}, []byte{0x12, 0x34, 0xff, 0, 0, 0, 0, 0}, true},
	}
	for _, tt := range tests {
		if got := tt.br.Encode(); !bytes.Equal(got, tt.wire) {
			t.Errorf("%+v.Encode() = % x, want % x", tt.br, got, tt.wire)
		}
		got, err := DecodeBeginRequest(tt.wire)
		if err != nil || got != tt.br {
			t.Errorf("DecodeBeginRequest(% x) = %+v, %v", tt.wire, got, err)
		}
		if got.KeepConn() != tt.keep {
			t.Errorf("%+v.KeepConn() = %v", got, got.KeepConn())
		}
	}
	for _, n := range []int{0, 7, 9, 16} {
		if _, err := DecodeBeginRequest(make([]byte, n)); !errors.Is(err, ErrBadBody) {
			t.Errorf("DecodeBeginRequest(%d bytes) error = %v, want ErrBadBody", n, err)
		}
	}
}

func TestEndRequestBody(t *testing.T) {
	tests := []struct {
		er   EndRequest
		wire []byte
	}{
		{EndRequest{}, []byte{0, 0, 0, 0, 0, 0, 0, 0}},
		{EndRequest{AppStatus: 0x01020304, ProtocolStatus: Overloaded}, []byte{1, 2, 3, 4, 2, 0, 0, 0}},
		{EndRequest{AppStatus: 0xffffffff, ProtocolStatus: UnknownRole}, []byte{0xff, 0xff, 0xff, 0xff, 3, 0, 0, 0}},
	}
	for _, tt := range tests {
		if got := tt.er.Encode(); !bytes.Equal(got, tt.wire) {
			t.Errorf("%+v.Encode() = % x, want % x", tt.er, got, tt.wire)
		}
		got, err := DecodeEndRequest(tt.wire)
		if err != nil || got != tt.er {
			t.Errorf("DecodeEndRequest(% x) = %+v, %v", tt.wire, got, err)
		}
	}
	for _, n := range []int{0, 4, 7, 9} {
		if _, err := DecodeEndRequest(make([]byte, n)); !errors.Is(err, ErrBadBody) {
			t.Errorf("DecodeEndRequest(%d bytes) error = %v, want ErrBadBody", n, err)
		}
	}
}

func TestUnknownTypeBody(t *testing.T) {
	b := UnknownTypeBody(20)
	if want := []byte{20, 0, 0, 0, 0, 0, 0, 0}; !bytes.Equal(b, want) {
		t.Errorf("UnknownTypeBody(20) = % x, want % x", b, want)
	}
	rt, err := DecodeUnknownType(b)
	if err != nil || rt != 20 {
		t.Errorf("DecodeUnknownType = %v, %v", rt, err)
	}
	if _, err := DecodeUnknownType(b[:7]); !errors.Is(err, ErrBadBody) {
		t.Errorf("DecodeUnknownType(7 bytes) error = %v, want ErrBadBody", err)
	}
}

func TestProtocolErrorMessage(t *testing.T) {
	tests := []struct {
		err  *ProtocolError
		want string
	}{
		{
			protoErr(16, TypeStdout, ErrBadVersion, "version byte is %d", 2),
			"protocol error at byte 16 (STDOUT record): unsupported FastCGI version: version byte is 2",
		},
		{
			protoErr(0, 0, ErrNoEndRequest, ""),
			"protocol error at byte 0: connection closed before FCGI_END_REQUEST",
		},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
		if !errors.Is(tt.err, tt.err.Err) {
			t.Errorf("errors.Is(%v, its sentinel) = false", tt.err)
		}
	}
}
