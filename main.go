// Command fcgicli talks FastCGI to php-fpm and any other FastCGI
// application: see README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/fcgicli/fcgicli/commands"
)

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	// SIGINT and SIGTERM cancel ctx. signal.Notify starts threads of the
	// runtime's; called here it would hold up every run by about a
	// millisecond, a third of a one-shot request, so a goroutine of its own
	// calls it while the command line is parsed. A signal in the few
	// microseconds before that ends fcgicli as one during start-up does.
	go func() {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
		cancel(signalCause{<-ch})
	}()
	os.Exit(commands.Run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr))
}

// signalCause is why ctx ended: it is context.Canceled to errors.Is, which
// is how commands know an interruption (exit 130).
type signalCause struct{ sig os.Signal }

func (s signalCause) Error() string        { return s.sig.String() + " signal received" }
func (s signalCause) Is(target error) bool { return target == context.Canceled }
