package fpmconfig

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// kind is how php-fpm parses a directive's value (fpm_conf_set_*).
type kind int

const (
	kString kind = iota
	kInt
	kTime
	kBool
	kPM
	kLogLevel
	kRlimitCore
	kFacility
)

// globalDirectives and poolDirectives are php-fpm's (sapi/fpm/fpm/fpm_conf.c,
// ini_fpm_global_options and ini_fpm_pool_options), with those only some
// builds have (syslog, systemd, ACLs, setfib, AppArmor) all allowed.
var globalDirectives = map[string]kind{
	"pid": kString, "error_log": kString, "syslog.ident": kString, "syslog.facility": kFacility,
	"log_buffering": kBool, "log_level": kLogLevel, "log_limit": kInt,
	"emergency_restart_threshold": kInt, "emergency_restart_interval": kTime,
	"process_control_timeout": kTime, "process.max": kInt, "process.priority": kInt,
	"daemonize": kBool, "rlimit_files": kInt, "rlimit_core": kRlimitCore,
	"events.mechanism": kString, "systemd_interval": kTime,
}

var poolDirectives = map[string]kind{
	"prefix": kString, "user": kString, "group": kString, "listen": kString, "listen.backlog": kInt,
	"listen.acl_users": kString, "listen.acl_groups": kString, "listen.owner": kString,
	"listen.group": kString, "listen.mode": kString, "listen.allowed_clients": kString,
	"listen.setfib": kInt, "process.priority": kInt, "process.dumpable": kBool, "pm": kPM,
	"pm.max_children": kInt, "pm.start_servers": kInt, "pm.min_spare_servers": kInt,
	"pm.max_spare_servers": kInt, "pm.max_spawn_rate": kInt, "pm.process_idle_timeout": kTime,
	"pm.max_requests": kInt, "pm.status_path": kString, "pm.status_listen": kString,
	"ping.path": kString, "ping.response": kString, "access.log": kString, "access.format": kString,
	"slowlog": kString, "request_slowlog_timeout": kTime, "request_slowlog_trace_depth": kInt,
	"request_terminate_timeout": kTime, "request_terminate_timeout_track_finished": kBool,
	"rlimit_files": kInt, "rlimit_core": kRlimitCore, "chroot": kString, "chdir": kString,
	"catch_workers_output": kBool, "decorate_workers_output": kBool, "clear_env": kBool,
	"security.limit_extensions": kString, "apparmor_hat": kString,
}

// arrayDirectives are the name[key] = value directives of a pool.
var arrayDirectives = map[string]bool{
	"env": true, "php_value": true, "php_admin_value": true, "php_flag": true,
	"php_admin_flag": true, "access.suppress_path": true,
}

var facilities = []string{"AUTH", "AUTHPRIV", "CRON", "DAEMON", "FTP", "KERN", "LPR", "MAIL", "NEWS", "SYSLOG", "USER", "UUCP", "LOCAL0", "LOCAL1", "LOCAL2", "LOCAL3", "LOCAL4", "LOCAL5", "LOCAL6", "LOCAL7"}

// checkValue refuses a value php-fpm's parser for the kind refuses, with
// php-fpm's reason.
func checkValue(k kind, v string) string {
	switch k {
	case kInt:
		for i := 0; i < len(v); i++ {
			if !(i == 0 && v[i] == '-') && !isDigit(v[i]) {
				return "is not a valid number (greater or equal than zero)"
			}
		}
	case kTime:
		if v == "" {
			return "invalid time value"
		}
		if c := v[len(v)-1]; !strings.ContainsRune("smhd", rune(c)) && !isDigit(c) {
			return "unknown suffix used in time value"
		}
	case kBool:
		if v != "1" && v != "" {
			return "invalid boolean value"
		}
	case kPM:
		switch strings.ToLower(v) {
		case "static", "dynamic", "ondemand":
		default:
			return "invalid process manager (static, dynamic or ondemand)"
		}
	case kLogLevel:
		switch strings.ToLower(v) {
		case "debug", "notice", "warning", "warn", "error", "alert":
		default:
			return "invalid value for 'log_level'"
		}
	case kRlimitCore:
		if strings.EqualFold(v, "unlimited") {
			return ""
		}
		if r := checkValue(kInt, v); r != "" {
			return r
		}
		if atoi(v) < 0 {
			return "must be greater than zero or 'unlimited'"
		}
	case kFacility:
		for _, f := range facilities {
			if strings.EqualFold(v, f) {
				return ""
			}
		}
		return "invalid value"
	}
	return ""
}

// apply is php-fpm's callback for one statement.
func (r *reader) apply(st statement, pos Position) error {
	fail := func(format string, a ...any) error {
		return &Error{File: pos.File, Line: pos.Line, Reason: fmt.Sprintf(format, a...)}
	}
	switch st.kind {
	case stmtBare:
		return fail("%q has no value (php-fpm: value is NULL for a ZEND_INI_PARSER_ENTRY)", st.name)
	case stmtSection:
		if strings.EqualFold(st.name, "global") {
			r.current = nil
			return nil
		}
		for _, p := range r.pools {
			if strings.EqualFold(p.Name, st.name) {
				r.current = p
				return nil
			}
		}
		p := &poolState{Pool: Pool{Name: st.name, Section: pos, Set: map[string]Position{}}, values: map[string]string{}}
		r.pools = append(r.pools, p)
		r.current = p
		return nil
	case stmtArray:
		if !arrayDirectives[st.name] {
			r.warn(pos, "unknown directive %q", st.name+"[]")
			return nil
		}
		if st.name == "access.suppress_path" {
			if st.key != "" {
				return fail("keys provided to field 'access.suppress_path' are ignored")
			}
			if !strings.HasPrefix(st.value, "/") {
				return fail("values provided to field 'access.suppress_path' must begin with '/'")
			}
		} else if st.key == "" {
			return fail("you must provide a key for field '%s'", st.name)
		}
		if r.current == nil {
			return fail("arrays are not allowed in the global section (%s[%s])", st.name, st.key)
		}
		switch st.name {
		case "env":
			if st.value == "" {
				return fail("env[%s]: empty value", st.key)
			}
		case "php_flag", "php_admin_flag":
			if st.value != "1" && st.value != "" {
				return fail("error while parsing '%s[%s]': invalid boolean value", st.name, st.key)
			}
		}
		return nil
	}
	// stmtEntry
	name := strings.ToLower(st.name)
	table := poolDirectives
	if r.current == nil {
		table = globalDirectives
	}
	k, ok := table[name]
	if !ok {
		r.warn(pos, "unknown entry %q (php-fpm refuses it unless a newer version knows it)", st.name)
		return nil
	}
	v := st.value
	if reason := checkValue(k, v); reason != "" {
		return fail("unable to parse value for entry '%s': %s", name, reason)
	}
	if k == kString && strings.Contains(v, "$pool") {
		if r.current == nil {
			return fail("unable to parse value for entry '%s': Can't use '$pool' when the pool is not defined", name)
		}
		v = strings.ReplaceAll(v, "$pool", r.current.Name)
	}
	if r.current == nil {
		if r.global == nil {
			r.global = map[string]string{}
		}
		r.global[name] = v
		return nil
	}
	r.current.values[name] = v
	r.current.Set[name] = pos
	return nil
}

func (r *reader) warn(pos Position, format string, a ...any) {
	r.cfg.Warnings = append(r.cfg.Warnings, Warning{Position: pos, Reason: fmt.Sprintf(format, a...)})
}

// isTCP is fpm_sockets_domain_from_address: an address with a ':', or of
// digits only, is TCP; anything else a unix socket path.
func isTCP(addr string) bool {
	return strings.Contains(addr, ":") || strings.Trim(addr, "0123456789") == ""
}

// connectAddress turns a resolved listen address into the address fcgicli
// connects to, refusing what php-fpm could not bind.
func connectAddress(listen string) (string, error) {
	if !isTCP(listen) {
		if strings.HasPrefix(listen, "/") {
			return listen, nil
		}
		return "unix:" + listen, nil
	}
	host, port := "", listen
	if i := strings.LastIndexByte(listen, ':'); i >= 0 {
		host, port = listen[:i], listen[i+1:]
		if len(host) >= 2 && host[0] == '[' && host[len(host)-1] == ']' {
			host = host[1 : len(host)-1]
		}
		if host == "" {
			return "", fmt.Errorf("listen %q has no host before the port", listen)
		}
	} else {
		host = "0.0.0.0"
	}
	n, err := strconv.Atoi(port)
	if err != nil || strings.Trim(port, "0123456789") != "" || n < 1 || n > 65535 {
		return "", fmt.Errorf("invalid port value %q in listen %q", port, listen)
	}
	switch host {
	case "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, strconv.Itoa(n)), nil
}

// pathOK is php-fpm's check of a status or ping path: [alnum]/_-.~ only.
func pathOK(p string) bool {
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !isAlpha(c) && !isDigit(c) && strings.IndexByte("/-.~", c) < 0 {
			return false
		}
	}
	return true
}

// finish is fpm_conf_process_all_pools for what the reader keeps: each
// pool's listen, process manager, status and ping, and no two pools on
// one address.
func (r *reader) finish() error {
	if len(r.pools) == 0 {
		return &Error{File: r.cfg.File, Reason: "no pool defined: at least one pool section must be specified in config file"}
	}
	// listener is an address a pool listens on: its listen, or (php-fpm
	// adds these pools, named NAME_status, after the others) its
	// pm.status_listen.
	type listener struct {
		pool      *poolState
		name, key string
		addr      string
	}
	var listeners, statusListeners []listener
	for _, p := range r.pools {
		at := func(name string) Position {
			if pos, ok := p.Set[name]; ok {
				return pos
			}
			return p.Section
		}
		fail := func(name, format string, a ...any) error {
			pos := at(name)
			return &Error{File: pos.File, Line: pos.Line, Reason: fmt.Sprintf("[pool %s] ", p.Name) + fmt.Sprintf(format, a...)}
		}
		v := p.values
		prefix := r.opt.Prefix
		if pp := v["prefix"]; pp != "" {
			prefix = abs(r.opt.Prefix, pp)
		}
		listen := v["listen"]
		if listen == "" {
			return fail("listen", "no listen address have been defined!")
		}
		if !isTCP(listen) {
			listen = abs(prefix, listen)
		}
		p.Listen = listen
		addr, err := connectAddress(listen)
		if err != nil {
			return fail("listen", "%v", err)
		}
		p.Address = addr
		listeners = append(listeners, listener{p, p.Name, "listen", listen})
		p.ListenOwner, p.ListenGroup, p.ListenMode = v["listen.owner"], v["listen.group"], v["listen.mode"]

		if pr, ok := v["process.priority"]; ok {
			if n := atoi(pr); n < -19 || n > 20 {
				return fail("process.priority", "process.priority must be included into [-19,20]")
			}
		}
		pm, ok := v["pm"]
		if !ok {
			return fail("pm", "the process manager is missing (static, dynamic or ondemand)")
		}
		p.PM = strings.ToLower(pm)
		num := func(name string) int { return int(atoi(v[name])) }
		p.MaxChildren = num("pm.max_children")
		if p.MaxChildren < 1 {
			return fail("pm.max_children", "pm.max_children must be a positive value")
		}
		p.StartServers, p.MinSpareServers, p.MaxSpareServers = num("pm.start_servers"), num("pm.min_spare_servers"), num("pm.max_spare_servers")
		switch p.PM {
		case "dynamic":
			minS, maxS := p.MinSpareServers, p.MaxSpareServers
			switch {
			case minS <= 0:
				return fail("pm.min_spare_servers", "pm.min_spare_servers(%d) must be a positive value", minS)
			case maxS <= 0:
				return fail("pm.max_spare_servers", "pm.max_spare_servers(%d) must be a positive value", maxS)
			case minS > p.MaxChildren || maxS > p.MaxChildren:
				return fail("pm.max_children", "pm.min_spare_servers(%d) and pm.max_spare_servers(%d) cannot be greater than pm.max_children(%d)", minS, maxS, p.MaxChildren)
			case maxS < minS:
				return fail("pm.max_spare_servers", "pm.max_spare_servers(%d) must not be less than pm.min_spare_servers(%d)", maxS, minS)
			}
			if p.StartServers <= 0 {
				p.StartServers = minS + (maxS-minS)/2
			} else if p.StartServers < minS || p.StartServers > maxS {
				return fail("pm.start_servers", "pm.start_servers(%d) must not be less than pm.min_spare_servers(%d) and not greater than pm.max_spare_servers(%d)", p.StartServers, minS, maxS)
			}
			if rate, ok := v["pm.max_spawn_rate"]; ok && atoi(rate) < 1 {
				return fail("pm.max_spawn_rate", "pm.max_spawn_rate must be a positive value")
			}
		case "ondemand":
			if t, ok := v["pm.process_idle_timeout"]; ok && seconds(t) < 1 {
				return fail("pm.process_idle_timeout", "pm.process_idle_timeout(%ds) must be greater than 0s", seconds(t))
			}
			p.StartServers, p.MinSpareServers, p.MaxSpareServers = 0, 0, 0
		}

		p.StatusPath, p.StatusListen = v["pm.status_path"], v["pm.status_listen"]
		if _, set := v["pm.status_path"]; p.StatusListen != "" && !set {
			p.StatusPath = "/"
		}
		if p.StatusListen != "" {
			sl := p.StatusListen
			if !isTCP(sl) {
				sl = abs(r.opt.Prefix, sl)
			}
			a, err := connectAddress(sl)
			if err != nil {
				return fail("pm.status_listen", "%v", err)
			}
			p.StatusAddress = a
			statusListeners = append(statusListeners, listener{p, p.Name + "_status", "pm.status_listen", sl})
		}
		if s := p.StatusPath; s != "" {
			switch {
			case s[0] != '/':
				return fail("pm.status_path", "the status path '%s' must start with a '/'", s)
			case p.StatusListen == "" && len(s) < 2:
				return fail("pm.status_path", "the status path '%s' is not long enough", s)
			case !pathOK(s):
				return fail("pm.status_path", "the status path '%s' must contain only the following characters '[alphanum]/_-.~'", s)
			}
		}
		p.PingPath = v["ping.path"]
		if s := p.PingPath; s != "" {
			switch {
			case s[0] != '/':
				return fail("ping.path", "the ping path '%s' must start with a '/'", s)
			case len(s) < 2:
				return fail("ping.path", "the ping path '%s' is not long enough", s)
			case !pathOK(s):
				return fail("ping.path", "the ping path '%s' must contain only the following characters '[alphanum]/_-.~'", s)
			}
			resp, set := v["ping.response"]
			switch {
			case !set:
				resp = "pong"
			case resp == "":
				return fail("ping.response", "the ping response page '' is not long enough")
			}
			p.PingResponse = resp
		}
		r.cfg.Pools = append(r.cfg.Pools, p.Pool)
	}
	listeners = append(listeners, statusListeners...)
	for i, a := range listeners {
		for _, b := range listeners[:i] {
			if a.addr == b.addr {
				pos := a.pool.Section
				if at, ok := a.pool.Set[a.key]; ok {
					pos = at
				}
				return &Error{File: pos.File, Line: pos.Line, Reason: fmt.Sprintf("[pool %s] unable to set listen address as it's already used in another pool '%s'", a.name, b.name)}
			}
		}
	}
	return nil
}

// seconds is fpm_conf_set_time's value of a checked time.
func seconds(v string) int {
	if v == "" {
		return 0
	}
	n := v[:len(v)-1]
	switch v[len(v)-1] {
	case 'm':
		return int(atoi(n)) * 60
	case 'h':
		return int(atoi(n)) * 3600
	case 'd':
		return int(atoi(n)) * 86400
	case 's':
		return int(atoi(n))
	}
	return int(atoi(v))
}
