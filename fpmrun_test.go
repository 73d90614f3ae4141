package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// fpmProc is a php-fpm run in the foreground on a configuration of a
// test's own.
type fpmProc struct {
	cmd     *exec.Cmd
	conf    string
	exited  chan struct{}
	waitErr error
}

// runFPM starts php-fpm on the main configuration file conf, its prefix
// conf's directory, with env added to its environment (for ${NAME} in the
// files); its output goes to conf.out.
func runFPM(conf string, env []string) (*fpmProc, error) {
	bin := findFPM()
	if bin == "" {
		return nil, fmt.Errorf("php-fpm is not installed (apt-get install php-fpm)")
	}
	args := []string{"-F", "-y", conf, "-p", filepath.Dir(conf)}
	if os.Getuid() == 0 {
		args = append([]string{"-R"}, args...)
	}
	log, err := os.Create(conf + ".out")
	if err != nil {
		return nil, err
	}
	p := &fpmProc{cmd: exec.Command(bin, args...), conf: conf, exited: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = log, log
	if err := p.cmd.Start(); err != nil {
		log.Close()
		return nil, err
	}
	go func() { p.waitErr = p.cmd.Wait(); log.Close(); close(p.exited) }()
	return p, nil
}

// stop ends php-fpm (SIGTERM, then SIGKILL after 30s) and waits for it.
func (p *fpmProc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// waitListening waits up to 60s until each address (a unix socket path
// or host:port) accepts connections; php-fpm ending first is an error
// with its output.
func (p *fpmProc) waitListening(addrs ...string) error {
	deadline := time.Now().Add(60 * time.Second)
	for _, addr := range addrs {
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
			case <-p.exited:
				out, _ := os.ReadFile(p.conf + ".out")
				return fmt.Errorf("php-fpm ended (%v) before %s accepted connections:\n%s", p.waitErr, addr, out)
			default:
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("nothing listens on %s after 60s: %v", addr, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

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
	var env []string
	for _, k := range names {
		env = append(env, k+"="+ts.Getenv(k))
	}
	p, err := runFPM(ts.MkAbs(args[0]), env)
	ts.Check(err)
	ts.Defer(p.stop)
	wd, _ := os.Getwd()
	ts.Setenv("DOCROOT", filepath.Join(wd, "testdata", "php"))
	ts.Check(p.waitListening(args[1:]...))
}
