// Command gofcgi serves Go's net/http/fcgi for scripts/bench.sh on each
// address given (host:port or a unix socket path): every path answers
// "hello\n", except /big?mb=N, which streams N MiB of "x".
package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/fcgi"
	"os"
	"strconv"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: gofcgi ADDR...")
		os.Exit(2)
	}
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			mb, _ := strconv.Atoi(r.URL.Query().Get("mb"))
			w.Header().Set("Content-Type", "application/octet-stream")
			for i := 0; i < mb*16; i++ {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("hello\n"))
	})
	errs := make(chan error)
	for _, a := range os.Args[1:] {
		network := "tcp"
		if strings.HasPrefix(a, "/") || strings.HasPrefix(a, ".") {
			network = "unix"
			_ = os.Remove(a)
		}
		l, err := net.Listen(network, a)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gofcgi:", err)
			os.Exit(1)
		}
		go func() { errs <- fcgi.Serve(l, h) }()
	}
	fmt.Fprintln(os.Stderr, "gofcgi:", <-errs)
	os.Exit(1)
}
