package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// fpmrun [-env NAME,...] CONF ADDR...: start php-fpm in the foreground on
// the script's own configuration CONF (its prefix CONF's directory; WORK
// and the variables -env names passed from the script's environment, for
// ${WORK}-style references in it), stop it when the script ends, and wait
// up to 60s until each ADDR (a unix socket path or host:port) accepts
// connections. It sets DOCROOT to testdata/php.
func cmdFPMRun(ts *testscript.TestScript, neg bool, args []string) {
	names := []string{"WORK", "TMPDIR"}
	if len(args) > 1 && args[0] == "-env" {
		names, args = append(names, strings.Split(args[1], ",")...), args[2:]
	}
	if neg || len(args) < 2 {
		ts.Fatalf("usage: fpmrun [-env NAME,...] CONF ADDR...")
	}
	bin := findFPM()
	if bin == "" {
		ts.Fatalf("php-fpm is not installed (apt-get install php-fpm)")
	}
	conf := ts.MkAbs(args[0])
	fpmArgs := []string{"-F", "-y", conf, "-p", filepath.Dir(conf)}
	if os.Getuid() == 0 {
		fpmArgs = append([]string{"-R"}, fpmArgs...)
	}
	cmd := exec.Command(bin, fpmArgs...)
	cmd.Env = os.Environ()
	for _, k := range names {
		cmd.Env = append(cmd.Env, k+"="+ts.Getenv(k))
	}
	log, err := os.Create(conf + ".out")
	ts.Check(err)
	cmd.Stdout, cmd.Stderr = log, log
	ts.Check(cmd.Start())
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); log.Close(); close(exited) }()
	ts.Defer(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	wd, _ := os.Getwd()
	ts.Setenv("DOCROOT", filepath.Join(wd, "testdata", "php"))
	deadline := time.Now().Add(60 * time.Second)
	for _, addr := range args[1:] {
		network := "tcp"
		if strings.HasPrefix(addr, "/") {
			network = "unix"
		}
		for {
			c, err := net.DialTimeout(network, addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-exited:
				out, _ := os.ReadFile(conf + ".out")
				ts.Fatalf("php-fpm ended (%v) before %s accepted connections:\n%s", waitErr, addr, out)
			default:
			}
			if time.Now().After(deadline) {
				ts.Fatalf("nothing listens on %s after 60s: %v", addr, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
