// Command replay is the yardstick of scripts/bench.sh: the fastest any
// FastCGI client can go against a server. It sends one pre-encoded request
// (a file of the exact bytes, as "fcgicli raw-dump --save-request" writes
// them) again and again on persistent connections, reads each response
// only as far as its FCGI_END_REQUEST, and prints requests/s. With -once
// it sends the request once and copies the FCGI_STDOUT content to stdout,
// as a bare one-shot client would.
//
//	replay -c ADDR -f REQUEST [-C N] [-z DURATION] [-cpus N]
//	replay -c ADDR -f REQUEST -once
//
// It runs on as many CPUs as fcgicli bench would (-cpus; by default half
// of them, at most -C, or $GOMAXPROCS when set), so that the two clients
// are compared on equal CPUs.
//
// ADDR is host:port or a unix socket path. It uses the standard library
// only and does no work it does not have to: no parsing beyond the record
// headers, no allocation per request. Built with -tags libs it also links,
// unused, the libraries fcgicli is built on (libs.go), so that their
// start-up cost can be told from fcgicli's own.
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	addr := flag.String("c", "", "server address: host:port or a unix socket path")
	file := flag.String("f", "", "file with the request's bytes (its BEGIN_REQUEST must set FCGI_KEEP_CONN unless -once)")
	conns := flag.Int("C", 1, "connections")
	dur := flag.Duration("z", 5*time.Second, "how long to run")
	once := flag.Bool("once", false, "send the request once and copy the response body to stdout")
	cpus := flag.Int("cpus", 0, "CPUs to run on (default: as fcgicli bench: half of them, at most -C; $GOMAXPROCS when set)")
	flag.Parse()
	req, err := os.ReadFile(*file)
	if err != nil || *addr == "" {
		fmt.Fprintln(os.Stderr, "usage: replay -c ADDR -f REQUEST [-C N] [-z DURATION] [-once]", err)
		os.Exit(2)
	}
	network := "tcp"
	if strings.HasPrefix(*addr, "/") || strings.HasPrefix(*addr, ".") {
		network = "unix"
	}
	if *once {
		if err := sendOnce(network, *addr, req); err != nil {
			fmt.Fprintln(os.Stderr, "replay:", err)
			os.Exit(1)
		}
		return
	}
	switch {
	case *cpus > 0:
		runtime.GOMAXPROCS(*cpus)
	case os.Getenv("GOMAXPROCS") == "":
		runtime.GOMAXPROCS(max(1, min(runtime.GOMAXPROCS(0)/2, *conns)))
	}
	var total atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(*dur)
	start := time.Now()
	errs := make(chan error, *conns)
	for range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := loop(network, *addr, req, deadline)
			total.Add(n)
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	// A connection the server never answered (php-fpm serves one per
	// child) ends at the deadline; the run lasted -z.
	elapsed := min(time.Since(start), *dur)
	close(errs)
	for err := range errs {
		fmt.Fprintln(os.Stderr, "replay:", err)
		os.Exit(1)
	}
	fmt.Printf("requests=%d seconds=%.3f rps=%.1f\n", total.Load(), elapsed.Seconds(), float64(total.Load())/elapsed.Seconds())
}

// loop replays req on one connection until deadline and returns how many
// responses ended.
func loop(network, addr string, req []byte, deadline time.Time) (int64, error) {
	c, err := net.Dial(network, addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	// A connection left waiting in the listen queue must not hold the
	// run past its end.
	if err := c.SetDeadline(deadline.Add(500 * time.Millisecond)); err != nil {
		return 0, err
	}
	r := bufio.NewReaderSize(c, 64<<10)
	var n int64
	for time.Now().Before(deadline) {
		if _, err := c.Write(req); err != nil {
			return n, err
		}
		if err := readResponse(r, nil); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return n, nil // never answered in time: not counted
			}
			return n, err
		}
		n++
	}
	return n, nil
}

// sendOnce sends req on a new connection and copies the STDOUT content
// of the answer to stdout.
func sendOnce(network, addr string, req []byte) error {
	c, err := net.Dial(network, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Write(req); err != nil {
		return err
	}
	// Record contents go from the read buffer straight to stdout, one
	// write each, with no copy in between.
	return readResponse(bufio.NewReaderSize(c, 64<<10), os.Stdout)
}

// readResponse reads records up to FCGI_END_REQUEST, copying FCGI_STDOUT
// content to out when it is not nil and skipping everything else.
func readResponse(r *bufio.Reader, out io.Writer) error {
	for {
		h, err := r.Peek(8)
		if err != nil {
			return fmt.Errorf("reading a record header: %w", err)
		}
		typ := h[1]
		clen := int(binary.BigEndian.Uint16(h[4:6]))
		pad := int(h[6])
		if _, err := r.Discard(8); err != nil {
			return err
		}
		if typ == 6 && out != nil && clen > 0 {
			b, err := r.Peek(clen) // the buffer holds any record: 64 KiB >= 65535
			if err != nil {
				return fmt.Errorf("reading a record body: %w", err)
			}
			if _, err := out.Write(b); err != nil {
				return err
			}
		}
		if _, err := r.Discard(clen + pad); err != nil {
			return fmt.Errorf("reading a record body: %w", err)
		}
		if typ == 3 {
			return nil
		}
		if typ < 1 || typ > 11 {
			return errors.New("not a FastCGI record")
		}
	}
}
