package fcgireq

import (
	"bufio"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
)

// serverSoftware is sent as SERVER_SOFTWARE.
const serverSoftware = "fcgicli"

// ParamSpec is what decides a request's params: the script argument and
// the flags that map to params.
type ParamSpec struct {
	Script      string // SCRIPT[?QUERY]
	DocRoot     string // -r
	Method      string // -X
	Role        fcgiwire.Role
	Params      []string // -p NAME=VALUE, in order
	Unset       []string // --unset-param NAME
	Headers     []string // -H 'Name: value'
	ParamsFiles []string // --params-file, in order
	Environ     []string // --env: the caller's environment, KEY=VALUE
	BodyLen     int64    // -1: no body
	// Filter data: FCGI_DATA_LENGTH and FCGI_DATA_LAST_MOD, for the filter role.
	DataLen     int64
	DataLastMod int64
}

// params is an ordered list of pairs where setting a name that is already
// there replaces its value in place.
type params []fcgiwire.Pair

func (ps *params) set(name, value string) {
	for i := range *ps {
		if (*ps)[i].Name == name {
			(*ps)[i].Value = value
			return
		}
	}
	*ps = append(*ps, fcgiwire.Pair{Name: name, Value: value})
}

func (ps *params) unset(name string) {
	out := (*ps)[:0]
	for _, p := range *ps {
		if p.Name != name {
			out = append(out, p)
		}
	}
	*ps = out
}

func (ps params) get(name string) (string, bool) {
	for _, p := range ps {
		if p.Name == name {
			return p.Value, true
		}
	}
	return "", false
}

// splitPathInfo splits a URI path as nginx's stock
// fastcgi_split_path_info ^(.+\.php)(/.+)$ does: at the last ".php"
// that is followed by "/" and at least one more character.
func splitPathInfo(uri string) (script, pathInfo string) {
	for i := len(uri) - len(".php/"); i >= 1; i-- {
		if strings.HasPrefix(uri[i:], ".php/") && len(uri) > i+len(".php/") {
			return uri[:i+len(".php")], uri[i+len(".php"):]
		}
	}
	return uri, ""
}

// BuildParams returns the params in the order they are sent: nginx's
// defaults, then -H headers, --env, --params-file, and -p last, each
// replacing an earlier value of the same name in place. Its errors are
// usage errors (exit 2).
func BuildParams(s ParamSpec) ([]fcgiwire.Pair, error) {
	uri, query, _ := strings.Cut(s.Script, "?")
	if uri == "" {
		return nil, runenv.Usagef("missing SCRIPT: give the script path, for example /var/www/html/index.php")
	}
	if s.DocRoot == "" && !strings.HasPrefix(uri, "/") {
		return nil, runenv.Usagef("SCRIPT %q must be an absolute path as the server sees it (or give -r DIR and a URI path)", uri)
	}
	if !strings.HasPrefix(uri, "/") {
		uri = "/" + uri
	}
	script, pathInfo := splitPathInfo(uri)
	docRoot := s.DocRoot
	filename := script
	if docRoot != "" {
		root := docRoot
		if len(root) > 1 {
			root = strings.TrimRight(root, "/")
		}
		if root == "/" {
			root = ""
		}
		filename = root + script
	} else {
		docRoot = path.Dir(script)
	}
	method := s.Method
	if method == "" {
		method = "GET"
		if s.BodyLen >= 0 {
			method = "POST"
		}
	}
	contentType, contentLength := "", ""
	if s.BodyLen >= 0 {
		contentType = "application/x-www-form-urlencoded"
		contentLength = strconv.FormatInt(s.BodyLen, 10)
	}
	requestURI := uri
	if strings.Contains(s.Script, "?") {
		requestURI += "?" + query
	}
	ps := params{
		{Name: "QUERY_STRING", Value: query},
		{Name: "REQUEST_METHOD", Value: method},
		{Name: "CONTENT_TYPE", Value: contentType},
		{Name: "CONTENT_LENGTH", Value: contentLength},
		{Name: "SCRIPT_NAME", Value: script},
		{Name: "REQUEST_URI", Value: requestURI},
		{Name: "DOCUMENT_URI", Value: uri},
		{Name: "DOCUMENT_ROOT", Value: docRoot},
		{Name: "SERVER_PROTOCOL", Value: "HTTP/1.1"},
		{Name: "REQUEST_SCHEME", Value: "http"},
		{Name: "GATEWAY_INTERFACE", Value: "CGI/1.1"},
		{Name: "SERVER_SOFTWARE", Value: serverSoftware},
		{Name: "REMOTE_ADDR", Value: "127.0.0.1"},
		{Name: "REMOTE_PORT", Value: "0"},
		{Name: "SERVER_ADDR", Value: "127.0.0.1"},
		{Name: "SERVER_PORT", Value: "80"},
		{Name: "SERVER_NAME", Value: "localhost"},
		{Name: "REDIRECT_STATUS", Value: "200"},
		{Name: "SCRIPT_FILENAME", Value: filename},
	}
	if pathInfo != "" {
		ps = append(ps, fcgiwire.Pair{Name: "PATH_INFO", Value: pathInfo})
	}
	if s.Role == fcgiwire.RoleFilter {
		ps = append(ps,
			fcgiwire.Pair{Name: "FCGI_DATA_LENGTH", Value: strconv.FormatInt(s.DataLen, 10)},
			fcgiwire.Pair{Name: "FCGI_DATA_LAST_MOD", Value: strconv.FormatInt(s.DataLastMod, 10)})
	}
	if s.Role == fcgiwire.RoleAuthorizer {
		// The specification: an authorizer gets no CONTENT_LENGTH,
		// PATH_INFO, PATH_TRANSLATED or SCRIPT_NAME.
		for _, n := range []string{"CONTENT_LENGTH", "PATH_INFO", "SCRIPT_NAME"} {
			ps.unset(n)
		}
	}
	ps = append(ps, fcgiwire.Pair{Name: "HTTP_HOST", Value: "localhost"})
	for _, h := range s.Headers {
		name, value, ok := strings.Cut(h, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, runenv.Usagef("bad header %q: want 'Name: value'", h)
		}
		ps.set(headerParam(name), strings.TrimSpace(value))
	}
	for _, kv := range s.Environ {
		if name, value, ok := strings.Cut(kv, "="); ok && name != "" {
			ps.set(name, value)
		}
	}
	for _, f := range s.ParamsFiles {
		if err := readParamsFile(f, &ps); err != nil {
			return nil, err
		}
	}
	for _, n := range s.Unset {
		ps.unset(n)
	}
	for _, p := range s.Params {
		name, value, ok := strings.Cut(p, "=")
		if !ok || name == "" {
			return nil, runenv.Usagef("bad param %q: want NAME=VALUE", p)
		}
		ps.set(name, value)
	}
	if cl, ok := ps.get("CONTENT_LENGTH"); ok && cl != "" {
		want := max(s.BodyLen, 0)
		if cl != strconv.FormatInt(want, 10) {
			return nil, runenv.Usagef("CONTENT_LENGTH=%s but the body is %d bytes: CONTENT_LENGTH must equal the bytes sent", cl, want)
		}
	}
	return ps, nil
}

// headerParam maps an HTTP header name to its CGI param: HTTP_ plus the
// name upper-cased with - as _, but CONTENT_TYPE and CONTENT_LENGTH bare.
func headerParam(name string) string {
	n := strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
	if n == "CONTENT_TYPE" || n == "CONTENT_LENGTH" {
		return n
	}
	return "HTTP_" + n
}

// readParamsFile reads NAME=VALUE lines; blank lines and lines starting
// with # are skipped.
func readParamsFile(name string, ps *params) error {
	f, err := os.Open(name)
	if err != nil {
		return runenv.Usagef("--params-file: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), fcgiwire.MaxContent+1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" {
			return runenv.Usagef("%s:%d: want NAME=VALUE, got %q", name, n, line)
		}
		ps.set(k, v)
	}
	if err := sc.Err(); err != nil {
		return runenv.Usagef("--params-file %s: %v", name, err)
	}
	return nil
}
