package formatters

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// The answers of php: what PHP code run inside a pool reported (the
// engine is commands/phprun). Their JSON tags are both the names the code
// in the pool writes and the names -o json prints.

// PHPError is an error, warning or notice PHP raised while running code
// in the pool.
type PHPError struct {
	Level   string `json:"level"` // as PHP names it: Warning, Notice, Deprecated, Fatal error, Parse error
	Message string `json:"message"`
	File    string `json:"file"`
	Line    int    `json:"line"`
}

// PHPRun is what running code in a pool gave: its output between
// fcgicli's markers, the application's FCGI_STDERR, the errors PHP
// raised, and how the code ended.
type PHPRun struct {
	Output []byte
	Stderr []byte
	Errors []PHPError
	// End is how the code ended: "return" (it ran to its end or
	// returned), "exit" (exit or die) or "fatal" (a fatal error or an
	// uncaught exception).
	End string
	// ExitStatus is the code's exit status: 0 when it returned, the
	// status given to exit, 255 after a fatal error (as the php command);
	// nil when it exited in a way fcgicli could not see the status of
	// (exit called from an included file).
	ExitStatus *int
}

// WritePHPErrors writes errors as the php command logs them, one per
// line: "PHP Warning:  message in FILE on line N".
func WritePHPErrors(w io.Writer, errs []PHPError) error {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "PHP %s:  %s in %s on line %d\n", e.Level, e.Message, e.File, e.Line)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WritePHPRunJSON writes a run as one JSON document: the output and the
// stderr as strings when they are UTF-8, else as output_base64 and
// stderr_base64, as request's JSON has them.
func WritePHPRunJSON(w io.Writer, r *PHPRun) error {
	errs := r.Errors
	if errs == nil {
		errs = []PHPError{}
	}
	doc := struct {
		Output       *string    `json:"output,omitempty"`
		OutputBase64 *string    `json:"output_base64,omitempty"`
		Stderr       *string    `json:"stderr,omitempty"`
		StderrBase64 *string    `json:"stderr_base64,omitempty"`
		Errors       []PHPError `json:"errors"`
		End          string     `json:"end"`
		ExitStatus   *int       `json:"exit_status"`
	}{Errors: errs, End: r.End, ExitStatus: r.ExitStatus}
	doc.Output, doc.OutputBase64 = textOrBase64(r.Output)
	doc.Stderr, doc.StderrBase64 = textOrBase64(r.Stderr)
	return writeJSON(w, doc)
}

// PHPInfo is the pool's PHP: version, SAPI, the user it runs as, its ini
// files, restrictions and extensions.
type PHPInfo struct {
	Version          string         `json:"php_version"`
	ZendVersion      string         `json:"zend_version"`
	SAPI             string         `json:"sapi"`
	OS               string         `json:"os"`
	Hostname         string         `json:"hostname"`
	PID              int            `json:"pid"`
	User             string         `json:"user"`
	UID              *int           `json:"uid"`
	Group            string         `json:"group"`
	GID              *int           `json:"gid"`
	IniLoadedFile    string         `json:"ini_loaded_file"`
	IniScannedFiles  []string       `json:"ini_scanned_files"`
	OpenBasedir      string         `json:"open_basedir"`
	DisableFunctions []string       `json:"disable_functions"`
	DisableClasses   []string       `json:"disable_classes"`
	Extensions       []PHPExtension `json:"extensions"`
}

// PHPExtension is a loaded extension; Zend marks a Zend extension
// (OPcache, Xdebug).
type PHPExtension struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Zend    bool   `json:"zend"`
}

// WritePHPInfo renders info as tables (text) or one JSON document.
func WritePHPInfo(w io.Writer, in *PHPInfo, f Format) error {
	if f == JSON {
		return writeJSON(w, in)
	}
	t := newTable(w, "SETTING", "VALUE")
	t.append("php_version", in.Version)
	t.append("sapi", in.SAPI)
	t.append("zend_version", in.ZendVersion)
	t.append("os", in.OS)
	t.append("hostname", in.Hostname)
	t.append("pid", strconv.Itoa(in.PID))
	t.append("user", idName(in.User, in.UID))
	t.append("group", idName(in.Group, in.GID))
	t.append("ini_loaded_file", orNone(in.IniLoadedFile))
	t.append("open_basedir", orNone(in.OpenBasedir))
	t.append("disable_functions", orNone(strings.Join(in.DisableFunctions, ",")))
	t.append("disable_classes", orNone(strings.Join(in.DisableClasses, ",")))
	if err := t.render(); err != nil {
		return err
	}
	t = newTable(w, "INI FILE SCANNED")
	for _, f := range in.IniScannedFiles {
		t.append(f)
	}
	if len(in.IniScannedFiles) == 0 {
		t.append("(none)")
	}
	if err := t.render(); err != nil {
		return err
	}
	t = newTable(w, "EXTENSION", "VERSION", "KIND")
	for _, e := range in.Extensions {
		kind := "extension"
		if e.Zend {
			kind = "zend_extension"
		}
		t.append(e.Name, e.Version, kind)
	}
	return t.render()
}

func idName(name string, id *int) string {
	switch {
	case id == nil && name == "":
		return "(unknown: the posix extension is not loaded)"
	case id == nil:
		return name
	case name == "":
		return strconv.Itoa(*id)
	}
	return fmt.Sprintf("%s (%d)", name, *id)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// PHPIniSetting is one ini setting of the pool: its local (this
// request's) and master value, who may change it, and where it was set
// as far as PHP tells (php.ini, the pool's php_value/php_admin_value,
// .user.ini or ini_set); CLI is the local php command's value, with
// --diff-cli.
type PHPIniSetting struct {
	Name   string  `json:"name"`
	Local  *string `json:"local_value"`  // nil: no value
	Master *string `json:"master_value"` // nil: no value
	Access string  `json:"access"`       // PHP_INI_ALL, PHP_INI_PERDIR, PHP_INI_SYSTEM...
	Source string  `json:"source"`       // "php.ini", "pool", "runtime" or "" when PHP does not say
	CLI    *string `json:"cli_value,omitempty"`
	// InCLI is false when the local php command has no such setting (an
	// extension it does not load), with --diff-cli.
	InCLI bool `json:"-"`
}

// WritePHPIni renders settings as a table (text) or a JSON array; cli
// adds the CLI's value as a column.
func WritePHPIni(w io.Writer, settings []PHPIniSetting, cli bool, f Format) error {
	if f == JSON {
		if settings == nil {
			settings = []PHPIniSetting{}
		}
		return writeJSON(w, settings)
	}
	header := []string{"NAME", "LOCAL", "MASTER", "SOURCE"}
	if cli {
		header = append(header, "CLI")
	}
	t := newTable(w, header...)
	for _, s := range settings {
		row := []string{s.Name, iniValue(s.Local), iniValue(s.Master), s.Source}
		if cli {
			v := iniValue(s.CLI)
			if !s.InCLI {
				v = "(not in the CLI)"
			}
			row = append(row, v)
		}
		t.append(row...)
	}
	return t.render()
}

// iniValue shows a value as php -i does: "no value" for none.
func iniValue(v *string) string {
	if v == nil || *v == "" {
		return "no value"
	}
	return *v
}

// OpcacheStatus is the pool's OPcache: memory, interned strings, the
// scripts and keys cached, hits and misses, restarts.
type OpcacheStatus struct {
	Loaded            bool    `json:"loaded"`
	Enabled           bool    `json:"enabled"`
	RestrictAPI       string  `json:"restrict_api"`
	CacheFull         bool    `json:"cache_full"`
	RestartPending    bool    `json:"restart_pending"`
	RestartInProgress bool    `json:"restart_in_progress"`
	MemoryUsed        int64   `json:"memory_used_bytes"`
	MemoryFree        int64   `json:"memory_free_bytes"`
	MemoryWasted      int64   `json:"memory_wasted_bytes"`
	InternedUsed      int64   `json:"interned_strings_used_bytes"`
	InternedSize      int64   `json:"interned_strings_buffer_bytes"`
	CachedScripts     int64   `json:"cached_scripts"`
	CachedKeys        int64   `json:"cached_keys"`
	MaxCachedKeys     int64   `json:"max_cached_keys"`
	Hits              int64   `json:"hits"`
	Misses            int64   `json:"misses"`
	HitRate           float64 `json:"hit_rate"` // percent
	OOMRestarts       int64   `json:"oom_restarts"`
	HashRestarts      int64   `json:"hash_restarts"`
	ManualRestarts    int64   `json:"manual_restarts"`
	StartTime         int64   `json:"start_time"`        // unix seconds
	LastRestartTime   int64   `json:"last_restart_time"` // unix seconds; 0: never
}

// WriteOpcacheStatus renders s as a table (text) or one JSON document.
func WriteOpcacheStatus(w io.Writer, s *OpcacheStatus, f Format) error {
	if f == JSON {
		return writeJSON(w, s)
	}
	total := s.MemoryUsed + s.MemoryFree + s.MemoryWasted
	t := newTable(w, "OPCACHE", "VALUE")
	t.append("enabled", yesNo(s.Enabled))
	t.append("cache full", yesNo(s.CacheFull))
	t.append("restart pending", yesNo(s.RestartPending))
	t.append("memory used", part(s.MemoryUsed, total))
	t.append("memory free", part(s.MemoryFree, total))
	t.append("memory wasted", part(s.MemoryWasted, total))
	t.append("interned strings used", part(s.InternedUsed, s.InternedSize))
	t.append("cached scripts", strconv.FormatInt(s.CachedScripts, 10))
	t.append("cached keys", fmt.Sprintf("%d of %d", s.CachedKeys, s.MaxCachedKeys))
	t.append("hits", strconv.FormatInt(s.Hits, 10))
	t.append("misses", strconv.FormatInt(s.Misses, 10))
	t.append("hit rate", fmt.Sprintf("%.2f%%", s.HitRate))
	t.append("oom restarts", strconv.FormatInt(s.OOMRestarts, 10))
	t.append("hash restarts", strconv.FormatInt(s.HashRestarts, 10))
	t.append("manual restarts", strconv.FormatInt(s.ManualRestarts, 10))
	t.append("start time", unixTime(s.StartTime))
	t.append("last restart time", unixTime(s.LastRestartTime))
	return t.render()
}

// APCuStatus is the pool's APCu user cache: its shared memory, entries,
// hits and misses.
type APCuStatus struct {
	Loaded      bool    `json:"loaded"`
	Enabled     bool    `json:"enabled"`
	MemorySize  int64   `json:"memory_size_bytes"`
	MemoryAvail int64   `json:"memory_available_bytes"`
	Segments    int64   `json:"segments"`
	Slots       int64   `json:"slots"`
	Entries     int64   `json:"entries"`
	Hits        int64   `json:"hits"`
	Misses      int64   `json:"misses"`
	HitRate     float64 `json:"hit_rate"` // percent
	Inserts     int64   `json:"inserts"`
	Expunges    int64   `json:"expunges"`
	StartTime   int64   `json:"start_time"` // unix seconds
}

// WriteAPCuStatus renders s as a table (text) or one JSON document.
func WriteAPCuStatus(w io.Writer, s *APCuStatus, f Format) error {
	if f == JSON {
		return writeJSON(w, s)
	}
	t := newTable(w, "APCU", "VALUE")
	t.append("enabled", yesNo(s.Enabled))
	t.append("memory used", part(s.MemorySize-s.MemoryAvail, s.MemorySize))
	t.append("memory available", part(s.MemoryAvail, s.MemorySize))
	t.append("segments", strconv.FormatInt(s.Segments, 10))
	t.append("entries", strconv.FormatInt(s.Entries, 10))
	t.append("slots", strconv.FormatInt(s.Slots, 10))
	t.append("hits", strconv.FormatInt(s.Hits, 10))
	t.append("misses", strconv.FormatInt(s.Misses, 10))
	t.append("hit rate", fmt.Sprintf("%.2f%%", s.HitRate))
	t.append("inserts", strconv.FormatInt(s.Inserts, 10))
	t.append("expunges", strconv.FormatInt(s.Expunges, 10))
	t.append("start time", unixTime(s.StartTime))
	return t.render()
}

// PHPAction is the outcome of an action on a cache (opcache reset, apcu
// clear, opcache invalidate of one path): Done false when PHP answered
// false, which for a path means the pool finds no such file (a path
// it finds but has not cached is done: nothing to invalidate).
type PHPAction struct {
	Action string `json:"action"`
	Path   string `json:"path,omitempty"`
	Done   bool   `json:"done"`
}

// WritePHPActions renders the outcomes, one line each (text), or a JSON
// array.
func WritePHPActions(w io.Writer, acts []PHPAction, f Format) error {
	if f == JSON {
		if acts == nil {
			acts = []PHPAction{}
		}
		return writeJSON(w, acts)
	}
	var b strings.Builder
	for _, a := range acts {
		what := a.Action
		if a.Path != "" {
			what += " " + a.Path
		}
		verdict := "done"
		switch {
		case a.Done:
		case a.Path != "":
			verdict = "no such file in the pool"
		default:
			verdict = "failed (PHP returned false)"
		}
		fmt.Fprintf(&b, "%s: %s\n", what, verdict)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// part shows n bytes of total with its share: "9.1 MiB of 128.0 MiB (7.1%)".
func part(n, total int64) string {
	pct := 0.0
	if total > 0 {
		pct = float64(n) * 100 / float64(total)
	}
	return fmt.Sprintf("%s of %s (%.1f%%)", FormatBytes(n), FormatBytes(total), pct)
}

// unixTime shows a unix time in UTC; 0 is "never".
func unixTime(s int64) string {
	if s == 0 {
		return "never"
	}
	return time.Unix(s, 0).UTC().Format(time.RFC3339)
}

// WriteHintJSON writes a failure as one JSON document: what went wrong
// and, when fcgicli knows, what to do (hint, empty otherwise).
func WriteHintJSON(w io.Writer, msg, hint string) error {
	return writeJSON(w, struct {
		Error string `json:"error"`
		Hint  string `json:"hint,omitempty"`
	}{msg, hint})
}
