package shell

import (
	"errors"
	"slices"
	"strings"
)

func splitWords(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated ' quote")
			}
			cur.WriteString(line[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			inWord = true
			i++
			for ; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) && strings.IndexByte(`"\$`+"`", line[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(line[i])
			}
			if i >= len(line) {
				return nil, errors.New(`unterminated " quote`)
			}
		case c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// cgiParamNames are the params Tab completes after "set param".
var cgiParamNames = []string{
	"QUERY_STRING", "REQUEST_METHOD", "CONTENT_TYPE", "CONTENT_LENGTH", "SCRIPT_NAME", "SCRIPT_FILENAME",
	"REQUEST_URI", "DOCUMENT_URI", "DOCUMENT_ROOT", "SERVER_PROTOCOL", "REQUEST_SCHEME", "GATEWAY_INTERFACE",
	"SERVER_SOFTWARE", "REMOTE_ADDR", "REMOTE_PORT", "REMOTE_USER", "AUTH_TYPE", "SERVER_ADDR", "SERVER_PORT",
	"SERVER_NAME", "REDIRECT_STATUS", "PATH_INFO", "PATH_TRANSLATED", "HTTPS", "HTTP_HOST", "HTTP_COOKIE",
	"HTTP_USER_AGENT", "HTTP_ACCEPT", "HTTP_AUTHORIZATION", "HTTP_X_FORWARDED_FOR",
}

// Complete is the Tab completion: commands, then set/unset's words, param
// names, and the flags of the command that is mirrored.
func (s *Session) Complete(line string, pos int) (string, []string, string) {
	head, tail := line[:pos], line[pos:]
	start := strings.LastIndexAny(head, " \t") + 1
	word := head[start:]
	before := strings.Fields(head[:start])
	var cands []string
	switch {
	case len(before) == 0:
		for _, c := range commandDocs {
			cands = append(cands, c.name)
		}
	case len(before) == 1 && before[0] == "set":
		cands = []string{"param", "header", "root", "output", "include", "verbose", "dump", "timeout"}
	case len(before) == 1 && before[0] == "unset":
		cands = []string{"param", "header", "root"}
	case len(before) == 1 && (before[0] == "help"):
		for _, c := range commandDocs {
			cands = append(cands, c.name)
		}
	case len(before) == 2 && before[0] == "set" && before[1] == "param":
		for _, n := range s.paramNames() {
			cands = append(cands, n+"=")
		}
	case len(before) == 2 && before[0] == "unset" && before[1] == "param":
		cands = s.paramNames()
	case len(before) == 2 && before[0] == "set" && before[1] == "output":
		cands = []string{"text", "raw", "json"}
	case len(before) == 2 && before[0] == "set" && slices.Contains([]string{"include", "verbose", "dump"}, before[1]):
		cands = []string{"on", "off"}
	case len(before) >= 1 && (before[len(before)-1] == "-p" || before[len(before)-1] == "--param" || before[len(before)-1] == "--unset-param"):
		for _, n := range s.paramNames() {
			cands = append(cands, n+"=")
		}
	case before[0] == "last":
		cands = []string{"raw-dump", "-o", "-i"}
	case strings.HasPrefix(word, "-"):
		name := before[0]
		switch name {
		case "get", "post":
			name = "request"
		}
		if s.cli.FlagNames != nil {
			cands = s.cli.FlagNames(name)
		}
	}
	var out []string
	for _, c := range cands {
		if strings.HasPrefix(c, word) {
			out = append(out, c)
		}
	}
	if len(out) == 1 && !strings.HasSuffix(out[0], "=") {
		out[0] += " "
	}
	return head[:start], out, tail
}

// paramNames are the params Tab offers: the usual CGI params and those
// the session sets.
func (s *Session) paramNames() []string {
	names := slices.Clone(cgiParamNames)
	for _, p := range s.settings.Params {
		n, _, _ := strings.Cut(p, "=")
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names
}
