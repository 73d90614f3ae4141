package phprun

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/fcgicli/fcgicli/formatters"
)

// The questions php asks a pool, as PHP code that returns its answer,
// which the wrapper's trailer carries back as JSON.

const infoCode = `<?php
$id = function ($kind) {
    if ($kind === 'user' && function_exists('posix_geteuid')) {
        $n = function_exists('posix_getpwuid') ? posix_getpwuid(posix_geteuid()) : false;
        return [posix_geteuid(), $n ? $n['name'] : ''];
    }
    if ($kind === 'group' && function_exists('posix_getegid')) {
        $n = function_exists('posix_getgrgid') ? posix_getgrgid(posix_getegid()) : false;
        return [posix_getegid(), $n ? $n['name'] : ''];
    }
    return [null, ''];
};
$list = function ($s) {
    return array_values(array_filter(array_map('trim', explode(',', (string) $s)), 'strlen'));
};
$exts = [];
foreach (get_loaded_extensions() as $e) {
    $exts[] = ['name' => $e, 'version' => (string) phpversion($e), 'zend' => false];
}
foreach (get_loaded_extensions(true) as $e) {
    $exts[] = ['name' => $e, 'version' => (string) phpversion($e), 'zend' => true];
}
usort($exts, function ($a, $b) { return strcasecmp($a['name'], $b['name']) ?: $a['zend'] - $b['zend']; });
list($uid, $user) = $id('user');
list($gid, $group) = $id('group');
return [
    'php_version' => PHP_VERSION, 'zend_version' => zend_version(), 'sapi' => PHP_SAPI, 'os' => PHP_OS,
    'hostname' => (string) gethostname(), 'pid' => getmypid(),
    'user' => $user, 'uid' => $uid, 'group' => $group, 'gid' => $gid,
    'ini_loaded_file' => (string) php_ini_loaded_file(), 'ini_scanned_files' => $list(php_ini_scanned_files()),
    'open_basedir' => (string) ini_get('open_basedir'),
    'disable_functions' => $list(ini_get('disable_functions')), 'disable_classes' => $list(ini_get('disable_classes')),
    'extensions' => $exts,
];
`

// Info asks the pool about its PHP.
func Info(ctx context.Context, o Options) (*formatters.PHPInfo, *Run, error) {
	var in formatters.PHPInfo
	r, err := ask(ctx, o, infoCode, &in)
	return &in, r, err
}

// iniCode lists the settings with where PHP says they were set: a master
// value that is php.ini's (get_cfg_var) came from it, one that differs
// from php.ini's was set by the pool (php_value, php_admin_value, which
// php-fpm applies as master values), a local value that differs from the
// master was set for this request (.user.ini, ini_set).
const iniCode = `<?php
foreach (['display_errors', 'log_errors'] as $n) { ini_restore($n); }
$access = [1 => 'PHP_INI_USER', 2 => 'PHP_INI_PERDIR', 4 => 'PHP_INI_SYSTEM', 6 => 'PHP_INI_PERDIR', 7 => 'PHP_INI_ALL'];
$out = [];
foreach (ini_get_all(null, true) as $name => $v) {
    $cfg = get_cfg_var($name);
    $source = '';
    if ($v['local_value'] !== $v['global_value']) {
        $source = 'runtime';
    } elseif ($cfg !== false && (string) $cfg === (string) $v['global_value']) {
        $source = 'php.ini';
    } elseif ($cfg !== false) {
        $source = 'pool';
    }
    $out[] = ['name' => $name, 'local_value' => $v['local_value'], 'master_value' => $v['global_value'],
        'access' => isset($access[$v['access']]) ? $access[$v['access']] : (string) $v['access'], 'source' => $source];
}
return $out;
`

// Ini asks the pool for its ini settings, sorted by name.
func Ini(ctx context.Context, o Options) ([]formatters.PHPIniSetting, *Run, error) {
	var s []formatters.PHPIniSetting
	r, err := ask(ctx, o, iniCode, &s)
	sortSettings(s)
	return s, r, err
}

func sortSettings(s []formatters.PHPIniSetting) {
	sort.Slice(s, func(i, j int) bool { return s[i].Name < s[j].Name })
}

// opcacheBlocked sets $blocked when opcache.restrict_api keeps this
// script from OPcache's API, as OPcache decides it (the script's path
// must start with it), so that the answer says so instead of calling a
// function that warns and returns false.
const opcacheBlocked = `$r = (string) ini_get('opcache.restrict_api');
$blocked = $r !== '' && strncmp((string) $_SERVER['SCRIPT_FILENAME'], $r, strlen($r)) !== 0;
`

const opcacheStatusCode = `<?php
` + opcacheBlocked + `$s = ['loaded' => extension_loaded('Zend OPcache'), 'enabled' => false, 'restrict_api' => $r, 'blocked' => $blocked];
if (!$s['loaded'] || !function_exists('opcache_get_status') || $blocked) {
    return $s;
}
$st = opcache_get_status(false);
if (!is_array($st)) {
    return $s;
}
$m = $st['memory_usage']; $i = isset($st['interned_strings_usage']) ? $st['interned_strings_usage'] : [];
$o = $st['opcache_statistics'];
return array_merge($s, [
    'enabled' => (bool) $st['opcache_enabled'], 'cache_full' => (bool) $st['cache_full'],
    'restart_pending' => (bool) $st['restart_pending'], 'restart_in_progress' => (bool) $st['restart_in_progress'],
    'memory_used_bytes' => $m['used_memory'], 'memory_free_bytes' => $m['free_memory'], 'memory_wasted_bytes' => $m['wasted_memory'],
    'interned_strings_used_bytes' => isset($i['used_memory']) ? $i['used_memory'] : 0,
    'interned_strings_buffer_bytes' => isset($i['buffer_size']) ? $i['buffer_size'] : 0,
    'cached_scripts' => $o['num_cached_scripts'], 'cached_keys' => $o['num_cached_keys'], 'max_cached_keys' => $o['max_cached_keys'],
    'hits' => $o['hits'], 'misses' => $o['misses'], 'hit_rate' => (float) $o['opcache_hit_rate'],
    'oom_restarts' => $o['oom_restarts'], 'hash_restarts' => $o['hash_restarts'], 'manual_restarts' => $o['manual_restarts'],
    'start_time' => $o['start_time'], 'last_restart_time' => $o['last_restart_time'],
]);
`

// NotLoadedError is a cache extension the pool does not load, has off,
// or keeps from fcgicli's script (opcache.restrict_api).
type NotLoadedError struct{ Msg string }

func (e *NotLoadedError) Error() string { return e.Msg }

func notLoaded(format string, args ...any) error {
	return &NotLoadedError{Msg: fmt.Sprintf(format, args...)}
}

// opcacheAnswer is OPcache's state as the pool's answer has it: with
// whether opcache.restrict_api kept fcgicli's script from its API.
type opcacheAnswer struct {
	formatters.OpcacheStatus
	Blocked bool `json:"blocked"`
}

// OpcacheStatus asks the pool for its OPcache's state. An OPcache not
// loaded, off or whose API is restricted is a *NotLoadedError that says
// which.
func OpcacheStatus(ctx context.Context, o Options) (*formatters.OpcacheStatus, *Run, error) {
	var s opcacheAnswer
	r, err := ask(ctx, o, opcacheStatusCode, &s)
	if err == nil {
		err = opcacheUsable(&s)
	}
	return &s.OpcacheStatus, r, err
}

func opcacheUsable(s *opcacheAnswer) error {
	switch {
	case !s.Loaded:
		return notLoaded("the pool does not load Zend OPcache (zend_extension=opcache.so in its php.ini)")
	case s.Blocked:
		return notLoaded("OPcache's API is restricted to scripts under %s (opcache.restrict_api): give --tmp-dir a directory there", s.RestrictAPI)
	case !s.Enabled:
		return notLoaded("OPcache is loaded but off in this pool (opcache.enable=0)")
	}
	return nil
}

const opcacheActionCode = `<?php
$a = json_decode(base64_decode('ARGS'), true);
` + opcacheBlocked + `$s = ['loaded' => extension_loaded('Zend OPcache'), 'enabled' => (bool) ini_get('opcache.enable'), 'restrict_api' => $r, 'blocked' => $blocked];
$done = [];
if ($s['loaded'] && $s['enabled'] && !$blocked) {
    if ($a === null) {
        $done[] = opcache_reset();
    } else {
        foreach ($a as $p) { $done[] = opcache_invalidate($p, true); }
    }
}
return ['status' => $s, 'done' => $done];
`

// OpcacheReset resets the pool's OPcache: it empties at the start of the
// next request that finds no other using it.
func OpcacheReset(ctx context.Context, o Options) ([]formatters.PHPAction, *Run, error) {
	return opcacheAction(ctx, o, nil)
}

// OpcacheInvalidate invalidates paths in the pool's OPcache (forced, as
// cachetool does: whatever their timestamps).
func OpcacheInvalidate(ctx context.Context, o Options, paths []string) ([]formatters.PHPAction, *Run, error) {
	return opcacheAction(ctx, o, paths)
}

func opcacheAction(ctx context.Context, o Options, paths []string) ([]formatters.PHPAction, *Run, error) {
	args := "null"
	if paths != nil {
		b, err := json.Marshal(paths)
		if err != nil {
			return nil, nil, err
		}
		args = string(b)
	}
	var res struct {
		Status opcacheAnswer `json:"status"`
		Done   []bool        `json:"done"`
	}
	code := replaceArgs(opcacheActionCode, args)
	r, err := ask(ctx, o, code, &res)
	if err != nil {
		return nil, r, err
	}
	if err := opcacheUsable(&res.Status); err != nil {
		return nil, r, err
	}
	var acts []formatters.PHPAction
	for i, d := range res.Done {
		a := formatters.PHPAction{Action: "opcache reset", Done: d}
		if paths != nil {
			a = formatters.PHPAction{Action: "opcache invalidate", Path: paths[i], Done: d}
		}
		acts = append(acts, a)
	}
	return acts, r, nil
}

const apcuStatusCode = `<?php
$s = ['loaded' => extension_loaded('apcu'), 'enabled' => function_exists('apcu_enabled') && apcu_enabled()];
if (!$s['enabled']) {
    return $s;
}
$c = apcu_cache_info(true);
$m = apcu_sma_info(true);
$look = $c['num_hits'] + $c['num_misses'];
return $s + [
    'memory_size_bytes' => $m['num_seg'] * $m['seg_size'], 'memory_available_bytes' => $m['avail_mem'],
    'segments' => $m['num_seg'], 'slots' => $c['num_slots'], 'entries' => $c['num_entries'],
    'hits' => $c['num_hits'], 'misses' => $c['num_misses'], 'hit_rate' => $look > 0 ? $c['num_hits'] * 100.0 / $look : 0.0,
    'inserts' => $c['num_inserts'], 'expunges' => $c['expunges'], 'start_time' => $c['start_time'],
];
`

// APCuStatus asks the pool for its APCu cache's state; an APCu not loaded
// or off is a *NotLoadedError.
func APCuStatus(ctx context.Context, o Options) (*formatters.APCuStatus, *Run, error) {
	var s formatters.APCuStatus
	r, err := ask(ctx, o, apcuStatusCode, &s)
	if err == nil {
		err = apcuUsable(s.Loaded, s.Enabled)
	}
	return &s, r, err
}

func apcuUsable(loaded, enabled bool) error {
	switch {
	case !loaded:
		return notLoaded("the pool does not load APCu (extension=apcu.so; Debian's package php-apcu)")
	case !enabled:
		return notLoaded("APCu is loaded but off in this pool (apc.enabled=0)")
	}
	return nil
}

const apcuClearCode = `<?php
$s = ['loaded' => extension_loaded('apcu'), 'enabled' => function_exists('apcu_enabled') && apcu_enabled()];
return $s + ['done' => $s['enabled'] ? apcu_clear_cache() : false];
`

// APCuClear empties the pool's APCu cache.
func APCuClear(ctx context.Context, o Options) ([]formatters.PHPAction, *Run, error) {
	var res struct {
		Loaded  bool `json:"loaded"`
		Enabled bool `json:"enabled"`
		Done    bool `json:"done"`
	}
	r, err := ask(ctx, o, apcuClearCode, &res)
	if err == nil {
		err = apcuUsable(res.Loaded, res.Enabled)
	}
	if err != nil {
		return nil, r, err
	}
	return []formatters.PHPAction{{Action: "apcu clear", Done: res.Done}}, r, nil
}

// ask runs code and decodes the value it returned into v. Code that did
// not return (a fatal error, PHP errors on the way) is an error that the
// run's errors explain.
func ask(ctx context.Context, o Options, code string, v any) (*Run, error) {
	r, err := Exec(ctx, o, Code{Source: []byte(code), Name: "fcgicli's code"})
	if err != nil {
		return r, err
	}
	if r.End != "return" {
		return r, fmt.Errorf("fcgicli's code ended with %s in the pool instead of answering", endWords(r.End))
	}
	if err := json.Unmarshal(r.Result, v); err != nil {
		return r, fmt.Errorf("the pool's answer is not what fcgicli asked for: %v", err)
	}
	return r, nil
}

func endWords(end string) string {
	switch end {
	case "fatal":
		return "a fatal error"
	case "exit":
		return "exit"
	}
	return fmt.Sprintf("%q", end)
}

// replaceArgs puts args (JSON) into code's ARGS, as base64.
func replaceArgs(code, args string) string {
	return strings.Replace(code, "ARGS", base64.StdEncoding.EncodeToString([]byte(args)), 1)
}
