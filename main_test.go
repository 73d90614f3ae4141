package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/fcgicli/fcgicli/commands"
	"github.com/fcgicli/fcgicli/commands/echo"
	"github.com/fcgicli/fcgicli/commands/runenv"
)

// TestMain lets the test binary run as the fcgicli command inside the
// scripts, and stops the shared php-fpm when the tests are done.
func TestMain(m *testing.M) {
	// Run through a link named cgi-fcgi (made by install-cgi-fcgi), be
	// fcgicli, which then runs its cgi-fcgi mode. cgi-fcgi is not in the
	// map below: testscript would put a copy of this binary by that name
	// first in $PATH, hiding the real cgi-fcgi the scripts compare with.
	if filepath.Base(os.Args[0]) == "cgi-fcgi" {
		main()
	}
	testscript.Main(stopFPMAfter{m}, map[string]func(){
		"fcgicli":   main,
		"hangguard": hangGuardMain,
	})
}

type stopFPMAfter struct{ m *testing.M }

func (s stopFPMAfter) Run() int {
	code := s.m.Run()
	fpm.stop()
	return code
}

// TestScripts runs testdata/script/*.txtar: each a story of fcgicli
// commands with their expected output and exit codes.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("NO_COLOR", "")
			env.Setenv("FCGI_CONNECT", "")
			return nil
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "phpfpm":
				// In CI a missing php-fpm must fail, not skip.
				return os.Getenv("CI") != "" || findFPM() != "", nil
			case "cgifcgi":
				_, err := exec.LookPath("cgi-fcgi")
				return os.Getenv("CI") != "" || err == nil, nil
			case "fcgiwrap":
				return os.Getenv("CI") != "" || findFcgiwrap() != "", nil
			case "root":
				return os.Geteuid() == 0, nil
			case "promtool":
				_, err := exec.LookPath("promtool")
				return os.Getenv("CI") != "" || err == nil, nil
			case "ipv6":
				l, err := net.Listen("tcp", "[::1]:0")
				if err == nil {
					l.Close()
				}
				return err == nil, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode":      cmdExitcode,
			"echoserve":     cmdEchoServe,
			"gofcgi":        cmdGoFCGI,
			"hostile":       cmdHostile,
			"hostileclient": cmdHostileClient,
			"refused":       cmdRefused,
			"rstserve":      cmdRstServe,
			"phpfpm":        cmdPHPFPM,
			"genfile":       cmdGenfile,
			"genparams":     cmdGenparams,
			"sha256env":     cmdSha256Env,
			"waitfor":       cmdWaitfor,
			"stalesock":     cmdStaleSock,
			"fcgiwrap":      cmdFcgiwrap,
			"rawreq":        cmdRawreq,
			"fpmstart":      cmdFPMStart,
			"fpmstop":       cmdFPMStop,
			"waitstatus":    cmdWaitStatus,
			"fpmrun":        cmdFPMRun,
		},
	})
}

// hangLimit is how long a command that exitcode runs may take before it
// is taken for hung and killed. It is no speed check: every deadline the
// scripts test is far shorter (they check which one fired by its message),
// and the limit only keeps a regression from holding the suite until its
// own timeout.
const hangLimit = 2 * time.Minute

// hangMark starts the line hangguard writes when it kills a hung command.
const hangMark = "hangguard: still running after "

// exitcode N PROG ARGS...: run PROG and require exit code N. PROG runs
// under hangguard: if it is still running after hangLimit it is killed,
// and the script fails saying so. Its stdout and stderr are kept for the
// stdout and stderr commands that follow.
func cmdExitcode(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("exitcode does not take !")
	}
	if len(args) < 2 {
		ts.Fatalf("usage: exitcode N PROG ARGS...")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec("hangguard", append([]string{hangLimit.String()}, args[1:]...)...)
	got := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		got = ee.ExitCode()
	} else if err != nil {
		ts.Fatalf("%v", err)
	}
	if strings.Contains(ts.ReadFile("stderr"), hangMark) {
		ts.Fatalf("%s hung: still running after %s, killed", args[1], hangLimit)
	}
	if got != want {
		ts.Fatalf("exit code %d, want %d", got, want)
	}
}

// hangGuardMain is the program hangguard inside the scripts: hangguard
// LIMIT PROG ARGS... runs PROG on hangguard's own standard streams and
// exits as PROG does (128+N, as a shell says it, if PROG died of signal
// N). Signals that
// stop a script's command are passed on to PROG. If PROG is still running
// after LIMIT, it is killed and hangguard says so on stderr.
func hangGuardMain() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: hangguard LIMIT PROG ARGS...")
		os.Exit(2)
	}
	limit, err := time.ParseDuration(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "hangguard:", err)
		os.Exit(2)
	}
	cmd := exec.Command(os.Args[2], os.Args[3:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT)
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "hangguard:", err)
		os.Exit(127)
	}
	go func() {
		for sig := range sigs {
			cmd.Process.Signal(sig)
		}
	}()
	timer := time.AfterFunc(limit, func() { cmd.Process.Kill() })
	err = cmd.Wait()
	if !timer.Stop() {
		fmt.Fprintf(os.Stderr, "\n%s%s: killed\n", hangMark, limit)
		os.Exit(125)
	}
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok {
		fmt.Fprintln(os.Stderr, "hangguard:", err)
		os.Exit(125)
	}
	if ws.Signaled() {
		os.Exit(128 + int(ws.Signal()))
	}
	os.Exit(ws.ExitStatus())
}

// listenLoopback listens on 127.0.0.1 on a free port and closes the
// listener when the script ends.
func listenLoopback(ts *testscript.TestScript, network, addr string) net.Listener {
	l, err := net.Listen(network, addr)
	ts.Check(err)
	ts.Defer(func() { l.Close() })
	return l
}

// echoserve VAR [ADDR]: run the echo responder in-process on ADDR (default
// 127.0.0.1:0) and set VAR to its address.
func cmdEchoServe(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 {
		ts.Fatalf("usage: echoserve VAR [ADDR]")
	}
	addr := "127.0.0.1:0"
	if len(args) > 1 {
		addr = args[1]
	}
	l := listenLoopback(ts, "tcp", addr)
	srv := echo.NewBuiltin(nil)
	go srv.Serve(l)
	ts.Defer(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	ts.Setenv(args[0], l.Addr().String())
}

// refused VAR: set VAR to a loopback address nothing listens on.
func cmdRefused(ts *testscript.TestScript, neg bool, args []string) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	addr := l.Addr().String()
	l.Close()
	ts.Setenv(args[0], addr)
}

// rstserve VAR: start a server on 127.0.0.1 that reads each request up to
// its empty FCGI_STDIN record, answers part of a response (a STDOUT record,
// no END_REQUEST) and resets the connection; set VAR to its address.
func cmdRstServe(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: rstserve VAR")
	}
	l := listenLoopback(ts, "tcp", "127.0.0.1:0")
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				br := bufio.NewReader(c)
				for {
					h, err := br.Peek(8)
					if err != nil {
						return
					}
					typ, content := h[1], int(h[4])<<8|int(h[5])
					if _, err := br.Discard(8 + content + int(h[6])); err != nil {
						return
					}
					if typ == 5 && content == 0 { // the request's last record
						break
					}
				}
				if _, err := c.Write(record(6, 1, []byte(hostileBody), 0)); err != nil {
					return
				}
				// The record is on its way (loopback delivers it ahead of
				// the reset, and the client reads it before the error).
				c.(*net.TCPConn).SetLinger(0)
			}()
		}
	}()
	ts.Setenv(args[0], l.Addr().String())
}

// genfile FILE SIZE: write SIZE deterministic bytes (all 256 values) to FILE.
func cmdGenfile(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: genfile FILE SIZE")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), b, 0o644))
}

// genparams FILE NAME LEN [COUNT]: write a params file with COUNT (default
// 1) lines NAME[_i]=VALUE where each VALUE is LEN letters.
func cmdGenparams(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 3 {
		ts.Fatalf("usage: genparams FILE NAME LEN [COUNT]")
	}
	size, err := strconv.Atoi(args[2])
	ts.Check(err)
	count := 1
	if len(args) > 3 {
		count, err = strconv.Atoi(args[3])
		ts.Check(err)
	}
	f, err := os.Create(ts.MkAbs(args[0]))
	ts.Check(err)
	w := bufio.NewWriter(f)
	for i := 0; i < count; i++ {
		name := args[1]
		if count > 1 {
			name = fmt.Sprintf("%s_%d", name, i)
		}
		value := make([]byte, size)
		for j := range value {
			value[j] = 'a' + byte((i+j)%26)
		}
		fmt.Fprintf(w, "%s=%s\n", name, value)
	}
	ts.Check(w.Flush())
	ts.Check(f.Close())
}

// sha256env VAR FILE: set VAR to the hex sha256 of FILE.
func cmdSha256Env(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: sha256env VAR FILE")
	}
	b, err := os.ReadFile(ts.MkAbs(args[1]))
	ts.Check(err)
	sum := sha256.Sum256(b)
	ts.Setenv(args[0], hex.EncodeToString(sum[:]))
}

// fpm is the php-fpm shared by every script, started on first use by
// scripts/php-fpm.sh and stopped by pid when the tests end.
var fpm fpmInstance

type fpmInstance struct {
	once sync.Once
	dir  string
	vars map[string]string
	err  error
}

func findFPM() string {
	if p, err := exec.LookPath("php-fpm"); err == nil {
		return p
	}
	m, _ := filepath.Glob("/usr/sbin/php-fpm*")
	if len(m) > 0 {
		return m[0]
	}
	return ""
}

func freePort(network, addr string) (string, error) {
	l, err := net.Listen(network, addr)
	if err != nil {
		return "", err
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port, nil
}

func (f *fpmInstance) start() (map[string]string, error) {
	f.once.Do(func() {
		f.dir, f.vars, f.err = startFPM("")
	})
	return f.vars, f.err
}

// startFPM starts a php-fpm with scripts/php-fpm.sh in dir (a new temp dir
// when empty) on free loopback ports and returns its dir and addresses.
func startFPM(dir string) (string, map[string]string, error) {
	if findFPM() == "" {
		return "", nil, errors.New("php-fpm is not installed (apt-get install php-fpm)")
	}
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "fcgicli-fpm-"); err != nil {
			return "", nil, err
		}
	}
	var ports []string
	for i := 0; i < 2; i++ {
		port, err := freePort("tcp", "127.0.0.1:0")
		if err != nil {
			return dir, nil, err
		}
		ports = append(ports, port)
	}
	args := []string{scriptPath("php-fpm.sh"), "start", dir, ports[0], ports[1]}
	if port6, err := freePort("tcp", "[::1]:0"); err == nil {
		args = append(args, port6)
	}
	out, err := exec.Command("bash", args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%v: %s", err, ee.Stderr)
		}
		return dir, nil, fmt.Errorf("starting php-fpm: %w", err)
	}
	vars := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			vars[k] = v
		}
	}
	// php-fpm listens before it has forked all the static children: wait
	// until the tcp pool shows its 4, or counts in the tests would vary.
	deadline := time.Now().Add(10 * time.Second)
	for {
		page, err := fcgicliOutput(nil, "status", "-c", vars["FPM_TCP"], "--no-full", "-o", "json")
		if err == nil && strings.Contains(page, `"total_processes": 4,`) {
			break
		}
		if time.Now().After(deadline) {
			return dir, vars, fmt.Errorf("php-fpm's tcp pool never showed 4 processes: %v\n%s", err, page)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return dir, vars, nil
}

// scriptPath returns the absolute path of a file in scripts/, whatever
// directory a script has moved to.
func scriptPath(name string) string {
	wd, _ := os.Getwd()
	return filepath.Join(wd, "scripts", name)
}

func stopFPM(dir string) {
	_ = exec.Command("bash", scriptPath("php-fpm.sh"), "stop", dir).Run()
}

func (f *fpmInstance) stop() {
	if f.dir == "" {
		return
	}
	stopFPM(f.dir)
	os.RemoveAll(f.dir)
}

// phpfpm: start the shared php-fpm if it is not running and set FPM_TCP,
// FPM_SOCK, FPM_TCP6 (when IPv6 loopback works) and DOCROOT.
func cmdPHPFPM(ts *testscript.TestScript, neg bool, args []string) {
	vars, err := fpm.start()
	if err != nil {
		ts.Fatalf("%v", err)
	}
	for k, v := range vars {
		ts.Setenv(k, v)
	}
}

// waitfor ADDR: wait up to 10s until something accepts connections on ADDR
// (a unix socket path, @abstract or host:port).
func cmdWaitfor(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: waitfor ADDR")
	}
	network := "tcp"
	if strings.HasPrefix(args[0], "/") || strings.HasPrefix(args[0], "@") {
		network = "unix"
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout(network, args[0], time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("nothing listens on %s after 10s: %v", args[0], err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stalesock PATH: leave a unix socket file at PATH that nothing listens on,
// as a server killed with SIGKILL does.
func cmdStaleSock(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: stalesock PATH")
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: ts.MkAbs(args[0]), Net: "unix"})
	ts.Check(err)
	l.SetUnlinkOnClose(false)
	ts.Check(l.Close())
}

func findFcgiwrap() string {
	if p, err := exec.LookPath("fcgiwrap"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/fcgiwrap"); err == nil {
		return "/usr/sbin/fcgiwrap"
	}
	return ""
}

// fcgiwrap VAR: start fcgiwrap (libfcgi) on a unix socket in $WORK, stop it
// by pid when the script ends, and set VAR to the socket's path.
func cmdFcgiwrap(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: fcgiwrap VAR")
	}
	bin := findFcgiwrap()
	if bin == "" {
		ts.Fatalf("fcgiwrap is not installed (apt-get install fcgiwrap)")
	}
	sock := ts.MkAbs("fcgiwrap.sock")
	cmd := exec.Command(bin, "-s", "unix:"+sock)
	ts.Check(cmd.Start())
	ts.Defer(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			ts.Fatalf("fcgiwrap did not listen on %s within 10s", sock)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ts.Setenv(args[0], sock)
}

// fpmstart PREFIX: start a php-fpm of the script's own in $WORK/PREFIX, for
// counts no other script disturbs, and set PREFIX_TCP, PREFIX_SOCK,
// PREFIX_SMALL, PREFIX_SMALL_STATUS and PREFIX_DIR (DOCROOT too). It is
// stopped when the script ends, or by fpmstop PREFIX.
func cmdFPMStart(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: fpmstart PREFIX")
	}
	dir, vars, err := startFPM(ts.MkAbs(args[0]))
	if err != nil {
		ts.Fatalf("%v", err)
	}
	ts.Defer(func() { stopFPM(dir) })
	for k, v := range vars {
		if name, ok := strings.CutPrefix(k, "FPM_"); ok {
			k = args[0] + "_" + name
		}
		ts.Setenv(k, v)
	}
}

// fpmstop PREFIX: stop the php-fpm fpmstart PREFIX started.
func cmdFPMStop(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: fpmstop PREFIX")
	}
	stopFPM(ts.MkAbs(args[0]))
}

// waitstatus [-full] STATUS_ADDR TEXT...: wait up to 60s until the JSON
// status page at STATUS_ADDR (a pm.status_listen socket, so reading it
// does not take a child) contains every TEXT, such as
// '"idle_processes": 0,'. With -full, the page has the process list, whose
// request_uri tells that a request has reached a child.
func cmdWaitStatus(ts *testscript.TestScript, neg bool, args []string) {
	full := "--no-full=true"
	if len(args) > 0 && args[0] == "-full" {
		full, args = "--no-full=false", args[1:]
	}
	if len(args) < 2 {
		ts.Fatalf("usage: waitstatus [-full] STATUS_ADDR TEXT...")
	}
	deadline := time.Now().Add(60 * time.Second)
	var out string
	for time.Now().Before(deadline) {
		var err error
		out, err = fcgicliOutput(ts, "status", "-c", args[0], full, "-o", "json")
		if err == nil {
			all := true
			for _, want := range args[1:] {
				all = all && strings.Contains(out, want)
			}
			if all {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	ts.Fatalf("the status page at %s never showed %q; last:\n%s", args[0], args[1:], out)
}

// inProcess lets one in-process run of fcgicli go at a time: urfave/cli
// keeps its help flag and help command in package variables that every
// app writes while it runs, and the scripts run in parallel. fcgicli
// itself runs one app at a time.
var inProcess sync.Mutex

// fcgicliOutput runs fcgicli in-process and returns its stdout.
func fcgicliOutput(_ *testscript.TestScript, args ...string) (string, error) {
	inProcess.Lock()
	defer inProcess.Unlock()
	var out, errOut strings.Builder
	env := &runenv.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut,
		Getenv: func(string) string { return "" }, Environ: func() []string { return nil }}
	if code := commands.RunEnv(context.Background(), env, append([]string{"fcgicli"}, args...)); code != 0 {
		return out.String(), fmt.Errorf("exit %d: %s", code, errOut.String())
	}
	return out.String(), nil
}
