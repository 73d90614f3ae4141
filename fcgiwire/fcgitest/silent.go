package fcgitest

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/fcgicli/fcgicli/fcgiwire"
)

// Silent listens on 127.0.0.1 until t ends and reads every connection
// without ever answering, as a stuck pool does. It reports each record
// header it reads on seen (dropping headers when 256 wait unread), and
// closes each connection after hold, so that a test of a deadline that
// does not fire ends all the same.
func Silent(t testing.TB, hold time.Duration) (addr string, seen <-chan fcgiwire.Header) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan fcgiwire.Header, 256)
	var wg sync.WaitGroup
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(hold))
				r := fcgiwire.NewReader(c)
				for {
					rec, err := r.ReadRecord()
					if err != nil {
						return
					}
					select {
					case ch <- rec.Header:
					default:
					}
				}
			}()
		}
	}()
	return l.Addr().String(), ch
}

// SawAbort reports whether seen delivers FCGI_ABORT_REQUEST for request
// id within wait, skipping the other records.
func SawAbort(seen <-chan fcgiwire.Header, id uint16, wait time.Duration) bool {
	deadline := time.After(wait)
	for {
		select {
		case h := <-seen:
			if h.Type == fcgiwire.TypeAbortRequest && h.RequestID == id {
				return true
			}
		case <-deadline:
			return false
		}
	}
}
