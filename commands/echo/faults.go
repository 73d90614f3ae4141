package echo

import (
	"context"
	"io"
	"math/rand/v2"
	"time"

	"github.com/fcgicli/fcgicli/fcgiwire"
)

// Fault is a --fault: a kind, one of FaultKinds, and the probability it
// strikes a request.
type Fault struct {
	Kind string
	Prob float64
}

// FaultKinds are the faults serve can inject, with what each does.
func FaultKinds() map[string]string {
	return map[string]string{
		"close-before-end": "sends part of the answer, then closes the connection without END_REQUEST",
		"wrong-request-id": "answers on request id + 1",
		"bad-version":      "answers with a record of version 2",
		"overloaded":       "ends the request with protocol status OVERLOADED",
		"slow-trickle":     "sends the answer one byte every 50ms",
		"never-answer":     "never answers (until the client gives up)",
		"app-error":        "answers, then ends with app status 1",
		"split-pairs":      "answers GET_VALUES with a pair split across two GET_VALUES_RESULT records",
	}
}

// pickFault returns the first request fault that strikes, or "".
func pickFault(faults []Fault) string {
	for _, f := range faults {
		if f.Kind == "split-pairs" {
			continue // a management fault: see splitPairs
		}
		if f.Prob >= 1 || rand.Float64() < f.Prob {
			return f.Kind
		}
	}
	return ""
}

// faultBody is what the faulty answers carry.
const faultBody = "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nfault injected by fcgicli serve\n"

// rawRecord is one record of the given version, padded to a multiple of 8,
// for the faults that write their own records.
func rawRecord(version uint8, t fcgiwire.RecordType, id uint16, content []byte) []byte {
	h := fcgiwire.Header{Version: version, Type: t, RequestID: id, PaddingLength: uint8(fcgiwire.PaddingFor(len(content)))}
	return fcgiwire.AppendRecord(nil, h, content)
}

func injectFault(ctx context.Context, kind string, a *answer, r *fcgiwire.ServerRequest) {
	end := func(id uint16) []byte {
		return rawRecord(1, fcgiwire.TypeEndRequest, id, fcgiwire.EndRequest{}.Encode())
	}
	switch kind {
	case "close-before-end":
		if a.WriteRaw(rawRecord(1, fcgiwire.TypeStdout, r.ID, []byte(faultBody))) == nil {
			a.sentStdout([]byte(faultBody))
		}
		a.Abandon()
	case "wrong-request-id":
		// Nothing goes out on this request's id.
		_ = a.WriteRaw(append(rawRecord(1, fcgiwire.TypeStdout, r.ID+1, []byte(faultBody)), end(r.ID+1)...))
		a.Abandon()
	case "bad-version":
		_ = a.WriteRaw(rawRecord(2, fcgiwire.TypeStdout, r.ID, []byte(faultBody)))
		a.Abandon()
	case "overloaded":
		a.SetProtocolStatus(fcgiwire.Overloaded)
	case "slow-trickle":
		b := rawRecord(1, fcgiwire.TypeStdout, r.ID, []byte(faultBody))
		for i := range b {
			if ctx.Err() != nil || a.WriteRaw(b[i:i+1]) != nil {
				a.Abandon()
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
		a.sentStdout([]byte(faultBody))
	case "never-answer":
		<-ctx.Done()
		a.Abandon()
	case "app-error":
		_, _ = io.WriteString(a.Stdout(), faultBody)
		a.SetAppStatus(1)
	}
}
