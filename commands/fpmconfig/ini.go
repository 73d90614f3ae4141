package fpmconfig

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// php-fpm reads its configuration one line at a time and hands each line,
// cut at its first NUL and with "\n" appended, to PHP's ini parser
// (zend_parse_ini_string in ZEND_INI_SCANNER_NORMAL mode). This file is
// that parser for one line: the scanner's states and its longest-match
// rules (Zend/zend_ini_scanner.l), and the grammar (Zend/zend_ini_parser.y).

// stmtKind is the kind of an ini statement.
type stmtKind int

const (
	stmtSection stmtKind = iota // [name]
	stmtEntry                   // name = value
	stmtArray                   // name[key] = value
	stmtBare                    // name, with no '=': php-fpm refuses it
)

// statement is one statement of a line, as the parser hands it to
// php-fpm's callback.
type statement struct {
	kind  stmtKind
	name  string // the section's name, or the entry's
	key   string // stmtArray: the offset
	value string
}

// syntaxError is a line the ini parser refuses.
type syntaxError struct{ reason string }

func (e *syntaxError) Error() string { return e.reason }

// scanner states (the re2c conditions).
type scanState int

const (
	stInitial scanState = iota
	stValue
	stSectionValue
	stOffset
	stDoubleQuotes
	stVarname
	stVarFallback
)

// token kinds; single-character tokens ('=', ']', '"', '}', operators) use
// tokChar with the character in ch.
type tokKind int

const (
	tokEOF tokKind = iota // end of input, or a character no rule takes
	tokEOL
	tokSection
	tokLabel
	tokOffset
	tokDollarCurly
	tokVarname
	tokFallback
	tokQuoted
	tokBoolTrue
	tokBoolFalse
	tokNull
	tokConstant
	tokString // TC_STRING, TC_RAW, TC_NUMBER, TC_WHITESPACE: text as it is
	tokChar
)

type token struct {
	kind tokKind
	ch   byte
	text string
}

// lexer is the ini scanner over one line.
type lexer struct {
	s     string
	i     int
	state scanState
	stack []scanState
}

func (l *lexer) push(st scanState) { l.stack = append(l.stack, l.state); l.state = st }

func (l *lexer) pop() {
	if n := len(l.stack); n > 0 {
		l.state = l.stack[n-1]
		l.stack = l.stack[:n-1]
	}
}

func isTabSpace(c byte) bool { return c == ' ' || c == '\t' }

// isLabelChar is LABEL_CHAR: [^=\n\r\t;&|^$~(){}!"[\]\x00].
func isLabelChar(c byte) bool { return !strings.ContainsRune("=\n\r\t;&|^$~(){}!\"[]\x00", rune(c)) }

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// spaces returns the length of the run of tabs and spaces at i.
func (l *lexer) spaces(i int) int {
	n := 0
	for i+n < len(l.s) && isTabSpace(l.s[i+n]) {
		n++
	}
	return n
}

// newline returns the length of a NEWLINE ("\r", "\n", "\r\n") at i, or 0.
func (l *lexer) newline(i int) int {
	switch {
	case i >= len(l.s):
		return 0
	case l.s[i] == '\r' && i+1 < len(l.s) && l.s[i+1] == '\n':
		return 2
	case l.s[i] == '\r' || l.s[i] == '\n':
		return 1
	}
	return 0
}

// labelRun is the length of the LABEL at i.
func (l *lexer) labelRun(i int) int {
	n := 0
	for i+n < len(l.s) && isLabelChar(l.s[i+n]) {
		n++
	}
	return n
}

// boolWord matches ("true"|"on"|"yes"), ("false"|"off"|"no"|"none") or
// "null", case-insensitively (PHP builds its scanner with re2c
// --case-inverted), followed by tabs and spaces.
func (l *lexer) boolWord(i int) (tokKind, int) {
	for _, w := range []struct {
		word string
		kind tokKind
	}{{"true", tokBoolTrue}, {"on", tokBoolTrue}, {"yes", tokBoolTrue}, {"false", tokBoolFalse}, {"off", tokBoolFalse}, {"none", tokBoolFalse}, {"no", tokBoolFalse}, {"null", tokNull}} {
		if len(l.s)-i >= len(w.word) && strings.EqualFold(l.s[i:i+len(w.word)], w.word) {
			return w.kind, len(w.word) + l.spaces(i+len(w.word))
		}
	}
	return 0, 0
}

// constant is the length of CONSTANT [a-zA-Z_][a-zA-Z0-9_]* at i.
func (l *lexer) constant(i int) int {
	if i >= len(l.s) || !isAlpha(l.s[i]) {
		return 0
	}
	n := 1
	for i+n < len(l.s) && (isAlpha(l.s[i+n]) || isDigit(l.s[i+n])) {
		n++
	}
	return n
}

// number is the length of NUMBER ([-]?[0-9]+ | [0-9]*[.][0-9]+ | [0-9]+[.][0-9]*) at i.
func (l *lexer) number(i int) int {
	digits := func(j int) int {
		n := 0
		for j+n < len(l.s) && isDigit(l.s[j+n]) {
			n++
		}
		return n
	}
	best := 0
	j := i
	if j < len(l.s) && l.s[j] == '-' {
		j++
	}
	if d := digits(j); d > 0 {
		best = j + d - i
	}
	d := digits(i)
	if i+d < len(l.s) && l.s[i+d] == '.' {
		f := digits(i + d + 1)
		if d > 0 || f > 0 {
			best = max(best, d+1+f)
		}
	}
	return best
}

// run is the longest match at i of (plain | "\\" ANY_CHAR | LITERAL_DOLLAR)+
// where LITERAL_DOLLAR is "$" ([^{\000] | "\\" ANY_CHAR); backslash says
// whether the "\\" ANY_CHAR alternative is part of the class. The
// alternatives overlap, so this follows every way through, as the DFA does.
func (l *lexer) run(i int, plain func(byte) bool, backslash bool) int {
	best := i
	reach := uint(1) // bit k: position p+k is reachable; a step is 1 to 3 bytes
	for p := i; reach != 0 && p < len(l.s); p, reach = p+1, reach>>1 {
		if reach&1 == 0 {
			continue
		}
		step := func(n int) {
			reach |= 1 << n
			best = max(best, p+n)
		}
		switch c := l.s[p]; {
		case c == '$':
			if p+1 < len(l.s) && l.s[p+1] != '{' && l.s[p+1] != 0 {
				step(2)
			}
			if p+2 < len(l.s) && l.s[p+1] == '\\' {
				step(3)
			}
		case c == '\\' && backslash:
			if p+1 < len(l.s) {
				step(2)
			}
		case plain(c):
			step(1)
		}
	}
	return best - i
}

func valueChar(c byte) bool    { return !strings.ContainsRune("$= \t\n\r;&|^~()!\"'\x00", rune(c)) }
func fallbackChar(c byte) bool { return !strings.ContainsRune("$\n\r;\"'}\\", rune(c)) }
func sectionChar(c byte) bool  { return !strings.ContainsRune("$\n\r;\"']\\", rune(c)) }

// candidate is one rule's match: its length and what it returns; the
// longest wins, and among equals the first in the scanner's order.
type candidate struct {
	n   int
	tok token
	act func() // state change, run when chosen
}

func (l *lexer) pick(cs []candidate) token {
	best := -1
	for k, c := range cs {
		if c.n > 0 && (best < 0 || c.n > cs[best].n) {
			best = k
		}
	}
	if best < 0 {
		return token{kind: tokEOF}
	}
	c := cs[best]
	l.i += c.n
	if c.act != nil {
		c.act()
	}
	return c.tok
}

// trimSpace removes the leading and trailing tabs and spaces (and the
// trailing newline characters) as EAT_*_WHITESPACE do.
func trimSpace(s string) string { return strings.Trim(strings.TrimRight(s, " \t\r\n"), " \t") }

// next returns the next token.
func (l *lexer) next() token {
	if l.i >= len(l.s) {
		if l.state == stValue {
			l.state = stInitial
			return token{kind: tokEOL}
		}
		return token{kind: tokEOF}
	}
	s, i := l.s, l.i
	raw := func() candidate { // "'"[^']+"'"
		if s[i] != '\'' {
			return candidate{}
		}
		if j := strings.IndexByte(s[i+1:], '\''); j > 0 {
			return candidate{n: j + 2, tok: token{kind: tokString, text: s[i+1 : i+1+j]}}
		}
		return candidate{}
	}
	dollarCurly := func() candidate {
		if strings.HasPrefix(s[i:], "${") {
			return candidate{n: 2, tok: token{kind: tokDollarCurly}, act: func() { l.push(stVarname) }}
		}
		return candidate{}
	}
	constant := func() candidate {
		n := l.constant(i)
		return candidate{n: n, tok: token{kind: tokConstant, text: s[i : i+n]}}
	}
	number := func() candidate {
		n := l.number(i)
		return candidate{n: n, tok: token{kind: tokString, text: s[i : i+n]}}
	}
	quote := func() candidate { // {TABS_AND_SPACES}*["]
		n := l.spaces(i)
		if i+n < len(s) && s[i+n] == '"' {
			return candidate{n: n + 1, tok: token{kind: tokChar, ch: '"'}, act: func() { l.push(stDoubleQuotes) }}
		}
		return candidate{}
	}
	whitespace := func() candidate {
		n := l.spaces(i)
		return candidate{n: n, tok: token{kind: tokString, text: s[i : i+n]}}
	}
	comment := func(act func()) candidate { // {TABS_AND_SPACES}*[;][^\r\n]*{NEWLINE}
		n := l.spaces(i)
		if i+n >= len(s) || s[i+n] != ';' {
			return candidate{}
		}
		n++
		for i+n < len(s) && s[i+n] != '\r' && s[i+n] != '\n' {
			n++
		}
		nl := l.newline(i + n)
		if nl == 0 {
			return candidate{}
		}
		return candidate{n: n + nl, tok: token{kind: tokEOL}, act: act}
	}
	eol := func(act func()) candidate { // {TABS_AND_SPACES}*{NEWLINE}
		n := l.spaces(i)
		if nl := l.newline(i + n); nl > 0 {
			return candidate{n: n + nl, tok: token{kind: tokEOL}, act: act}
		}
		return candidate{}
	}
	toInitial := func() { l.state = stInitial }
	boolean := func() candidate {
		kind, n := l.boolWord(i)
		return candidate{n: n, tok: token{kind: kind}}
	}

	switch l.state {
	case stInitial:
		label := l.labelRun(i)
		var offset candidate
		if label > 0 && i+label < len(s) && s[i+label] == '[' {
			offset = candidate{n: label + 1 + l.spaces(i+label+1), tok: token{kind: tokOffset, text: trimSpace(s[i : i+label])}, act: func() { l.state = stOffset }}
		}
		var section candidate
		if s[i] == '[' {
			section = candidate{n: 1, tok: token{kind: tokSection}, act: func() { l.state = stSectionValue }}
		}
		var equals candidate
		if n := l.spaces(i); i+n < len(s) && s[i+n] == '=' {
			equals = candidate{n: n + 1 + l.spaces(i+n+1), tok: token{kind: tokChar, ch: '='}, act: func() { l.state = stValue }}
		}
		var single candidate
		if strings.IndexByte(":,.[]\"'()&|^+-/*=%$!~<>?@{}", s[i]) >= 0 {
			single = candidate{n: 1, tok: token{kind: tokChar, ch: s[i]}}
		}
		return l.pick([]candidate{
			section, offset, boolean(),
			{n: label, tok: token{kind: tokLabel, text: trimSpace(s[i : i+label])}},
			equals, single,
			{n: l.spaces(i), tok: token{kind: tokString}}, // eaten below
			eol(nil), comment(nil),
		})
	case stValue:
		var op candidate
		if strings.IndexByte("&|^~()!", s[i]) >= 0 {
			op = candidate{n: 1 + l.spaces(i+1), tok: token{kind: tokChar, ch: s[i]}}
		}
		var eq candidate
		if s[i] == '=' { // ends the value without taking the '='
			eq = candidate{n: 1, tok: token{kind: tokEOL}, act: func() { l.i--; l.state = stInitial }}
		}
		n := l.run(i, valueChar, false)
		return l.pick([]candidate{
			raw(), dollarCurly(), boolean(), eol(toInitial), constant(), number(), op, eq,
			{n: n, tok: token{kind: tokString, text: s[i : i+n]}},
			quote(), whitespace(), comment(toInitial),
			{n: 1, tok: token{kind: tokEOL}, act: toInitial}, // any other character ends the value
		})
	case stSectionValue, stOffset:
		var end candidate
		if l.state == stSectionValue && s[i] == ']' { // "]"{TABS_AND_SPACES}*{NEWLINE}?
			n := 1 + l.spaces(i+1)
			end = candidate{n: n + l.newline(i+n), tok: token{kind: tokChar, ch: ']'}, act: toInitial}
		}
		if l.state == stOffset { // {TABS_AND_SPACES}*"]"
			if n := l.spaces(i); i+n < len(s) && s[i+n] == ']' {
				end = candidate{n: n + 1, tok: token{kind: tokChar, ch: ']'}, act: toInitial}
			}
		}
		n := l.run(i, sectionChar, true)
		return l.pick([]candidate{
			raw(), end, dollarCurly(), constant(), number(),
			{n: n, tok: token{kind: tokString, text: s[i : i+n]}},
			quote(), whitespace(),
		})
	case stDoubleQuotes:
		if strings.HasPrefix(s[i:], "${") {
			return l.pick([]candidate{dollarCurly()})
		}
		if s[i] == '"' {
			return l.pick([]candidate{{n: 1 + l.spaces(i+1), tok: token{kind: tokChar, ch: '"'}, act: l.pop}})
		}
		j := i
	scan:
		for j < len(s) {
			c := s[j]
			j++
			switch c {
			case '"':
				j--
				break scan
			case '$':
				if j < len(s) && s[j] == '{' {
					j--
					break scan
				}
			case '\\':
				if j < len(s) {
					esc := s[j]
					j++
					if esc == '"' && (j >= len(s) || s[j] == '\n' || s[j] == '\r') {
						j--
						break scan
					}
				}
			}
		}
		l.i = j
		return token{kind: tokQuoted, text: unescape(s[i:j])}
	case stVarname:
		if strings.HasPrefix(s[i:], ":-") {
			return l.pick([]candidate{{n: 2, tok: token{kind: tokFallback}, act: func() { l.pop(); l.push(stVarFallback) }}})
		}
		if s[i] == '}' {
			return l.pick([]candidate{{n: 1, tok: token{kind: tokChar, ch: '}'}, act: l.pop}})
		}
		if !isLabelChar(s[i]) {
			l.i++
			return token{kind: tokEOF}
		}
		j := i + 1
		for j < len(s) {
			c := s[j]
			if strings.IndexByte("=\n\r\t;&|^$~(){}!\"[]", c) >= 0 || c == ':' && j+1 < len(s) && s[j+1] == '-' {
				break
			}
			j++
		}
		l.i = j
		return token{kind: tokVarname, text: trimSpace(s[i:j])}
	case stVarFallback:
		var end candidate
		if s[i] == '}' {
			end = candidate{n: 1, tok: token{kind: tokChar, ch: '}'}, act: l.pop}
		}
		n := l.run(i, fallbackChar, true)
		return l.pick([]candidate{
			dollarCurly(), end, constant(), number(),
			{n: n, tok: token{kind: tokString, text: s[i : i+n]}},
			quote(), whitespace(),
		})
	}
	return token{kind: tokEOF}
}

// unescape is zend_ini_escape_string for double quotes: \" \\ and \$ lose
// their backslash, any other backslash stays.
func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$", s[i+1]) >= 0 {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// constants are the PHP constants the reader knows: a bare word that names
// one is replaced by its value, as PHP's ini parser does with every
// defined constant.
var constants = map[string]string{
	"E_ERROR": "1", "E_WARNING": "2", "E_PARSE": "4", "E_NOTICE": "8", "E_CORE_ERROR": "16",
	"E_CORE_WARNING": "32", "E_COMPILE_ERROR": "64", "E_COMPILE_WARNING": "128", "E_USER_ERROR": "256",
	"E_USER_WARNING": "512", "E_USER_NOTICE": "1024", "E_STRICT": "2048", "E_RECOVERABLE_ERROR": "4096",
	"E_DEPRECATED": "8192", "E_USER_DEPRECATED": "16384", "E_ALL": "32767",
	"PHP_EOL": "\n", "DIRECTORY_SEPARATOR": "/", "PATH_SEPARATOR": ":",
}

// parser is the ini grammar over one line's tokens.
type parser struct {
	lex    lexer
	tok    token
	peeked bool
	env    func(string) (string, bool)
}

func (p *parser) peek() token {
	if !p.peeked {
		p.tok = p.lex.next()
		for p.tok.kind == tokString && p.tok.text == "" && p.lex.state == stInitial { // whitespace eaten in INITIAL
			p.tok = p.lex.next()
		}
		p.peeked = true
	}
	return p.tok
}

func (p *parser) take() token { t := p.peek(); p.peeked = false; return t }

func describe(t token) string {
	switch t.kind {
	case tokEOF:
		return "end of line"
	case tokEOL:
		return "end of line"
	case tokChar:
		return fmt.Sprintf("%q", string(t.ch))
	case tokBoolTrue, tokBoolFalse, tokNull:
		return "a boolean or null keyword"
	case tokSection:
		return `"["`
	case tokLabel, tokOffset:
		return fmt.Sprintf("%q", t.text)
	}
	return fmt.Sprintf("%q", t.text)
}

func unexpected(t token, want string) error {
	return &syntaxError{reason: fmt.Sprintf("syntax error: unexpected %s, expecting %s", describe(t), want)}
}

// parseLine parses one line of a php-fpm configuration file into its
// statements, as php-fpm's call of the ini parser would.
func parseLine(line string, env func(string) (string, bool)) ([]statement, error) {
	if k := strings.IndexByte(line, 0); k >= 0 {
		line = line[:k]
	}
	p := &parser{lex: lexer{s: line + "\n"}, env: env}
	if strings.HasPrefix(line, "\xef\xbb\xbf") && len(line)+1 > 3 {
		p.lex.i = 3
	}
	var out []statement
	for {
		t := p.take()
		switch t.kind {
		case tokEOF:
			return out, nil
		case tokEOL:
			continue
		case tokSection:
			name, err := p.stringList(true)
			if err != nil {
				return out, err
			}
			if t := p.take(); t.kind != tokChar || t.ch != ']' {
				return out, unexpected(t, `"]"`)
			}
			out = append(out, statement{kind: stmtSection, name: name})
		case tokLabel:
			if n := p.peek(); n.kind == tokChar && n.ch == '=' {
				p.take()
				v, err := p.value()
				if err != nil {
					return out, err
				}
				out = append(out, statement{kind: stmtEntry, name: t.text, value: v})
				continue
			}
			out = append(out, statement{kind: stmtBare, name: t.text})
		case tokOffset:
			var key string
			if n := p.peek(); n.kind != tokChar || n.ch != ']' {
				k, err := p.stringList(false)
				if err != nil {
					return out, err
				}
				key = k
			}
			if t := p.take(); t.kind != tokChar || t.ch != ']' {
				return out, unexpected(t, `"]"`)
			}
			if t := p.take(); t.kind != tokChar || t.ch != '=' {
				return out, unexpected(t, `"="`)
			}
			v, err := p.value()
			if err != nil {
				return out, err
			}
			out = append(out, statement{kind: stmtArray, name: t.text, key: key, value: v})
		default:
			return out, unexpected(t, "a section, a name or the end of the line")
		}
	}
}

// value is string_or_value: a boolean or null keyword, an expression, or
// nothing.
func (p *parser) value() (string, error) {
	t := p.peek()
	switch t.kind {
	case tokEOL:
		p.take()
		return "", nil
	case tokBoolTrue, tokBoolFalse, tokNull:
		p.take()
		if n := p.peek(); n.kind != tokEOL && n.kind != tokEOF {
			return "", unexpected(n, "the end of the line")
		}
		if t.kind == tokBoolTrue {
			return "1", nil
		}
		return "", nil
	}
	return p.expr(0)
}

// expr parses the ini parser's expressions: strings joined by | & ^ (one
// level, left to right), with ~ and ! before and ( ) around; an operator
// turns its operands into C ints and its result into decimal.
func (p *parser) expr(depth int) (string, error) {
	if depth > 100 {
		return "", &syntaxError{reason: "syntax error: expression nested too deep"}
	}
	left, err := p.unary(depth)
	if err != nil {
		return "", err
	}
	for {
		t := p.peek()
		if t.kind != tokChar || (t.ch != '|' && t.ch != '&' && t.ch != '^') {
			return left, nil
		}
		p.take()
		right, err := p.unary(depth)
		if err != nil {
			return "", err
		}
		a, b := atoi(left), atoi(right)
		switch t.ch {
		case '|':
			left = strconv.Itoa(int(a | b))
		case '&':
			left = strconv.Itoa(int(a & b))
		default:
			left = strconv.Itoa(int(a ^ b))
		}
	}
}

func (p *parser) unary(depth int) (string, error) {
	if depth > 100 {
		return "", &syntaxError{reason: "syntax error: expression nested too deep"}
	}
	t := p.peek()
	if t.kind == tokChar {
		switch t.ch {
		case '~', '!':
			p.take()
			v, err := p.unary(depth + 1)
			if err != nil {
				return "", err
			}
			if t.ch == '~' {
				return strconv.Itoa(int(^atoi(v))), nil
			}
			if atoi(v) == 0 {
				return "1", nil
			}
			return "0", nil
		case '(':
			p.take()
			v, err := p.expr(depth + 1)
			if err != nil {
				return "", err
			}
			if t := p.take(); t.kind != tokChar || t.ch != ')' {
				return "", unexpected(t, `")"`)
			}
			return v, nil
		}
	}
	return p.stringList(false)
}

// stringList is var_string_list (var_string_list_section when section is
// true: no constant is replaced in a section's name): one or more of
// ${VAR}, constants, strings, numbers, whitespace and "quoted" strings,
// joined.
func (p *parser) stringList(section bool) (string, error) {
	var b strings.Builder
	n := 0
	for ; ; n++ {
		t := p.peek()
		switch {
		case t.kind == tokString:
			p.take()
			b.WriteString(t.text)
		case t.kind == tokConstant:
			p.take()
			if v, ok := constants[t.text]; ok && !section {
				b.WriteString(v)
			} else {
				b.WriteString(t.text)
			}
		case t.kind == tokDollarCurly:
			v, err := p.varRef()
			if err != nil {
				return "", err
			}
			b.WriteString(v)
		case t.kind == tokChar && t.ch == '"':
			p.take()
			for {
				t := p.take()
				if t.kind == tokChar && t.ch == '"' {
					break
				}
				switch t.kind {
				case tokQuoted:
					b.WriteString(t.text)
				case tokDollarCurly:
					p.peeked, p.tok = true, t
					v, err := p.varRef()
					if err != nil {
						return "", err
					}
					b.WriteString(v)
				default:
					return "", &syntaxError{reason: "syntax error: a double-quoted string does not end on its line"}
				}
			}
		default:
			if n == 0 && !section {
				return "", unexpected(t, "a value")
			}
			return b.String(), nil
		}
	}
}

// varRef is ${NAME} or ${NAME:-fallback} (PHP 8.3): the environment
// variable, else the fallback, else "".
func (p *parser) varRef() (string, error) {
	p.take() // ${
	name := p.take()
	if name.kind != tokVarname {
		return "", unexpected(name, "a variable name after ${")
	}
	var fallback string
	hasFallback := false
	t := p.take()
	if t.kind == tokFallback {
		hasFallback = true
		if n := p.peek(); n.kind != tokChar || n.ch != '}' {
			v, err := p.stringList(false)
			if err != nil {
				return "", err
			}
			fallback = v
		}
		t = p.take()
	}
	if t.kind != tokChar || t.ch != '}' {
		return "", unexpected(t, `"}"`)
	}
	if v, ok := p.env(name.text); ok {
		return v, nil
	}
	if hasFallback {
		return fallback, nil
	}
	return "", nil
}

// atoi is C's atoi as glibc has it: leading white space, a sign, digits,
// the value clamped to a long and then cut to an int.
func atoi(s string) int32 {
	i := 0
	for i < len(s) && strings.IndexByte(" \t\n\v\f\r", s[i]) >= 0 {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		neg = s[i] == '-'
		i++
	}
	var v uint64
	over := false
	for ; i < len(s) && isDigit(s[i]); i++ {
		if v > (math.MaxUint64-9)/10 {
			over = true
			continue
		}
		v = v*10 + uint64(s[i]-'0')
	}
	var r int64
	switch {
	case !neg && (over || v > math.MaxInt64):
		r = math.MaxInt64
	case neg && (over || v > 1<<63):
		r = math.MinInt64
	case neg:
		r = -int64(v)
	default:
		r = int64(v)
	}
	return int32(r)
}
