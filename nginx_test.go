package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

func findNginx() string {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	return ""
}

// startNginx starts nginx with scripts/nginx.sh, passing *.php to
// upstream, and returns its address; it is stopped by pid at cleanup.
func startNginx(t *testing.T, upstream, docroot string) string {
	t.Helper()
	if findNginx() == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("nginx is not installed (apt-get install nginx)")
		}
		t.Skip("nginx is not installed")
	}
	dir := t.TempDir()
	port, err := freePort("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("bash", scriptPath("nginx.sh"), "start", dir, port, upstream, docroot).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("starting nginx: %v: %s", err, ee.Stderr)
		}
		t.Fatalf("starting nginx: %v", err)
	}
	t.Cleanup(func() { exec.Command("bash", scriptPath("nginx.sh"), "stop", dir).Run() })
	return strings.TrimPrefix(strings.TrimSpace(string(out)), "NGINX=")
}

// background runs fcgicli with args until stop, which interrupts it,
// waits, and returns its stdout and stderr.
func background(t *testing.T, args ...string) (stop func() (string, string)) {
	t.Helper()
	cmd := fcgicliCmd(t, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop = func() (string, string) {
		if !stopped {
			stopped = true
			cmd.Process.Signal(os.Interrupt)
			if err := cmd.Wait(); err != nil {
				t.Errorf("fcgicli %s: %v\n%s", args[0], err, stderr.String())
			}
		}
		return stdout.String(), stderr.String()
	}
	t.Cleanup(func() { stop() })
	return stop
}

// waitSocket waits, for a minute at most, until addr takes connections.
func waitSocket(t *testing.T, network, addr string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		if c, err := net.Dial(network, addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s", addr)
}

func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not a JSON line: %q: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	return lines
}

// paramsOf turns a JSON "params" array of pairs into a map (last wins).
func paramsOf(v any) map[string]string {
	m := map[string]string{}
	list, _ := v.([]any)
	for _, p := range list {
		if pair, ok := p.([]any); ok && len(pair) == 2 {
			m[fmt.Sprint(pair[0])] = fmt.Sprint(pair[1])
		}
	}
	return m
}

// TestNginxToServe: nginx passes requests to fcgicli serve; what nginx
// sends (SCRIPT_FILENAME, PATH_INFO, REQUEST_URI, HTTP_* headers, a POST
// body) shows up in the echo and in serve's JSON lines.
func TestNginxToServe(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "echo.sock")
	stop := background(t, "serve", "--listen", sock, "--socket-mode", "0666", "-o", "json")
	waitSocket(t, "unix", sock)
	docroot := filepath.Join(dir, "www")
	os.Mkdir(docroot, 0o755)
	ngx := startNginx(t, "unix:"+sock, docroot)

	req, _ := http.NewRequest("GET", "http://"+ngx+"/app/index.php/extra/path?x=1&y=2", nil)
	req.Header.Set("X-Trace-Id", "abc")
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var echo struct {
		Params      [][2]string `json:"params"`
		StdinBytes  int64       `json:"stdin_bytes"`
		StdinSHA256 string      `json:"stdin_sha256"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&echo); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := map[string]string{}
	for _, p := range echo.Params {
		got[p[0]] = p[1]
	}
	want := map[string]string{
		"SCRIPT_FILENAME": docroot + "/app/index.php",
		"SCRIPT_NAME":     "/app/index.php",
		"PATH_INFO":       "/extra/path",
		"REQUEST_URI":     "/app/index.php/extra/path?x=1&y=2",
		"QUERY_STRING":    "x=1&y=2",
		"REQUEST_METHOD":  "GET",
		"HTTP_X_TRACE_ID": "abc",
		"DOCUMENT_ROOT":   docroot,
		"REDIRECT_STATUS": "200",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("echo: %s = %q, want %q", k, got[k], v)
		}
	}

	body := bytes.Repeat([]byte("0123456789abcdef"), 8192)
	sum := sha256.Sum256(body)
	resp, err = http.Post("http://"+ngx+"/post.php", "application/octet-stream", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, line := range []string{"  CONTENT_LENGTH=131072", "  CONTENT_TYPE=application/octet-stream", "  REQUEST_METHOD=POST",
		"stdin_bytes: 131072", "stdin_sha256: " + hex.EncodeToString(sum[:])} {
		if !strings.Contains(string(text), line+"\n") {
			t.Errorf("POST echo lacks %q:\n%s", line, text)
		}
	}

	out, _ := stop()
	lines := jsonLines(t, out)
	if len(lines) != 2 {
		t.Fatalf("%d JSON lines from serve, want 2:\n%s", len(lines), out)
	}
	if p := paramsOf(lines[0]["params"]); p["SCRIPT_FILENAME"] != docroot+"/app/index.php" || p["HTTP_X_TRACE_ID"] != "abc" {
		t.Errorf("serve's first JSON line: %v", lines[0])
	}
	if lines[1]["stdin_sha256"] != hex.EncodeToString(sum[:]) || lines[1]["stdin_bytes"] != float64(len(body)) {
		t.Errorf("serve's second JSON line: stdin %v bytes, sha256 %v", lines[1]["stdin_bytes"], lines[1]["stdin_sha256"])
	}
}

// httpResult is an HTTP response reduced to what must not change through
// the proxy: status, headers but Date, and the body's size and checksum.
type httpResult struct {
	status  int
	headers string
	size    int64
	sum     string
}

func fetchHTTP(t *testing.T, method, url string, body []byte) httpResult {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, _ := http.NewRequest(method, url, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for k := range resp.Header {
		if k != "Date" {
			names = append(names, k+": "+strings.Join(resp.Header[k], ", "))
		}
	}
	sort.Strings(names)
	return httpResult{resp.StatusCode, strings.Join(names, "\n"), n, hex.EncodeToString(h.Sum(nil))}
}

// TestNginxThroughProxy: nginx → fcgicli proxy → php-fpm answers byte for
// byte as nginx → php-fpm does (a 20 MiB upload and a 100 MiB download
// included), and the proxy's JSON lines describe each request.
func TestNginxThroughProxy(t *testing.T) {
	if os.Getenv("CI") == "" && findFPM() == "" {
		t.Skip("php-fpm is not installed")
	}
	vars, err := fpm.start()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tap := filepath.Join(dir, "tap.sock")
	stop := background(t, "proxy", "--listen", tap, "--socket-mode", "0666", "--upstream", vars["FPM_TCP"], "-o", "json")
	waitSocket(t, "unix", tap)
	direct := startNginx(t, vars["FPM_TCP"], vars["DOCROOT"])
	proxied := startNginx(t, "unix:"+tap, vars["DOCROOT"])

	upload := make([]byte, 20<<20)
	for i := range upload {
		upload[i] = byte(i * 31)
	}
	cases := []struct {
		method, path string
		body         []byte
	}{
		{"GET", "/status.php?code=201", nil},
		{"POST", "/post.php", upload},
		{"GET", "/big.php?mb=100", nil},
		{"GET", "/missing.php", nil},
	}
	for _, c := range cases {
		a := fetchHTTP(t, c.method, "http://"+direct+c.path, c.body)
		b := fetchHTTP(t, c.method, "http://"+proxied+c.path, c.body)
		if a != b {
			t.Errorf("%s %s: direct %+v, through the proxy %+v", c.method, c.path, a, b)
		}
	}
	if r := fetchHTTP(t, "GET", "http://"+proxied+"/big.php?mb=100", nil); r.size != 100<<20 {
		t.Errorf("100 MiB download through the proxy: %d bytes", r.size)
	}

	out, _ := stop()
	lines := jsonLines(t, out)
	if len(lines) != len(cases)+1 {
		t.Fatalf("%d JSON lines from the proxy, want %d:\n%.2000s", len(lines), len(cases)+1, out)
	}
	byURI := map[string]map[string]any{}
	for _, l := range lines {
		byURI[paramsOf(l["params"])["REQUEST_URI"]] = l
	}
	check := func(uri, field string, want any) {
		t.Helper()
		if got := byURI[uri][field]; got != want {
			t.Errorf("proxy line for %s: %s = %v, want %v", uri, field, got, want)
		}
	}
	check("/status.php?code=201", "status", float64(201))
	check("/post.php", "stdin_bytes", float64(20<<20))
	upSum := sha256.Sum256(upload)
	check("/post.php", "stdin_sha256", hex.EncodeToString(upSum[:]))
	check("/post.php", "status", float64(200))
	check("/big.php?mb=100", "body_bytes", float64(100<<20))
	check("/missing.php", "status", float64(404))
	check("/missing.php", "stderr", "Primary script unknown")
	if p := paramsOf(byURI["/post.php"]["params"]); p["SCRIPT_FILENAME"] != vars["DOCROOT"]+"/post.php" || p["CONTENT_LENGTH"] != fmt.Sprint(20<<20) {
		t.Errorf("proxy params for /post.php: SCRIPT_FILENAME %q CONTENT_LENGTH %q", p["SCRIPT_FILENAME"], p["CONTENT_LENGTH"])
	}
}
