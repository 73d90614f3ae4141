package phprun

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// wrapper is the script the pool runs: it frames the output of the code
// between two markers, runs the code with eval, collects the errors PHP
// raises, and writes a trailer after the last marker: how the code ended,
// its exit status, the errors and the value it returned, as JSON.
//
// exit and die end a script without telling anyone their status, and
// php-fpm always answers app status 0, so the code's exit and die are
// rewritten (with PHP's own tokenizer, when the pool loads it) into a
// call that records the status first (and, in one of the code's shutdown
// functions, writes the trailer, which that exit would keep from running).
// An exit in a file the code includes goes unseen: its status is unknown
// (null).
//
// PHP's own display and logging of errors are turned off for the request
// (ini_set, which PHP undoes when the request ends): the wrapper reports
// the errors instead.
//
// Placeholders: CLASS (a name of its own for each run), MARK (the
// marker), NAME (how errors name the code, a PHP string literal), CODE
// (the code, base64).
const wrapper = `<?php
// Sent by fcgicli to run in this pool; fcgicli deletes it when the request ends.
final class CLASS {
    public static $errors = [];
    public static $exit = null;
    public static $end = 'exit';
    public static $result = null;
    public static $name = NAME;
    public static $shutdown = false; // the shutdown functions are running
    public static $written = false; // the trailer is out

    public static function level($no) {
        $levels = [E_ERROR => 'Fatal error', E_WARNING => 'Warning', E_PARSE => 'Parse error',
            E_NOTICE => 'Notice', E_CORE_ERROR => 'Fatal error', E_CORE_WARNING => 'Warning',
            E_COMPILE_ERROR => 'Fatal error', E_COMPILE_WARNING => 'Warning', E_USER_ERROR => 'Fatal error',
            E_USER_WARNING => 'Warning', E_USER_NOTICE => 'Notice', 2048 => 'Strict Standards',
            E_RECOVERABLE_ERROR => 'Recoverable fatal error', E_DEPRECATED => 'Deprecated',
            E_USER_DEPRECATED => 'Deprecated'];
        return isset($levels[$no]) ? $levels[$no] : 'Unknown error';
    }

    // name replaces this file's name for the eval'd code with the code's,
    // and names this file fcgicli's wrapper.
    public static function name($s) {
        $f = preg_quote(__FILE__, '~');
        $s = preg_replace('~' . $f . '\(\d+\) : eval\(\)\'d code~', self::$name, (string) $s);
        return preg_replace('~' . $f . '\(\d+\)~', "fcgicli's wrapper", $s);
    }

    public static function error($no, $message, $file = '', $line = 0) {
        if ($no === E_USER_ERROR || !(error_reporting() & $no)) {
            return false;
        }
        self::$errors[] = ['level' => self::level($no), 'message' => self::name($message), 'file' => self::name($file), 'line' => $line];
        return true;
    }

    public static function exit_($status = 0) {
        self::$exit = is_int($status) ? $status : 0;
        self::$end = 'exit';
        if (self::$shutdown) {
            // An exit in a shutdown function ends the shutdown functions,
            // the trailer's among them: it goes out now, after any
            // message exit prints.
            if (!is_int($status)) {
                echo $status;
            }
            self::trailer();
            exit(self::$exit);
        }
        exit($status);
    }

    public static function rewrite($code) {
        if (!function_exists('token_get_all')) {
            return $code;
        }
        try {
            $tokens = token_get_all($code, TOKEN_PARSE);
        } catch (\Throwable $e) {
            $tokens = token_get_all($code);
        }
        $out = '';
        $n = count($tokens);
        for ($i = 0; $i < $n; $i++) {
            $t = $tokens[$i];
            if (!is_array($t)) {
                $out .= $t;
                continue;
            }
            if ($t[0] !== T_EXIT) {
                $out .= $t[1];
                continue;
            }
            $j = $i + 1;
            while ($j < $n && is_array($tokens[$j]) && in_array($tokens[$j][0], [T_WHITESPACE, T_COMMENT, T_DOC_COMMENT], true)) {
                $j++;
            }
            $out .= '\\' . self::class . '::exit_' . ($j < $n && $tokens[$j] === '(' ? '' : '()');
        }
        return $out;
    }

    public static function shutdown() {
        self::$shutdown = true;
        // After the code's own shutdown functions, which may still print.
        register_shutdown_function([self::class, 'trailer']);
    }

    public static function trailer() {
        if (self::$written) {
            return;
        }
        self::$written = true;
        $e = error_get_last();
        if (self::$end === 'exit' && $e !== null && ($e['type'] & (E_ERROR | E_PARSE | E_CORE_ERROR | E_COMPILE_ERROR | E_USER_ERROR))) {
            self::$errors[] = ['level' => self::level($e['type']), 'message' => self::name($e['message']), 'file' => self::name($e['file']), 'line' => $e['line']];
            self::$end = 'fatal';
            self::$exit = 255;
        }
        $status = self::$end === 'return' ? 0 : self::$exit;
        $t = ['end' => self::$end, 'exit_status' => $status, 'errors' => self::$errors, 'result' => self::$result];
        echo "\nMARKE", json_encode($t, JSON_PARTIAL_OUTPUT_ON_ERROR | JSON_INVALID_UTF8_SUBSTITUTE | JSON_UNESCAPED_SLASHES), "\n";
    }
}
set_error_handler([CLASS::class, 'error']);
register_shutdown_function([CLASS::class, 'shutdown']);
if (function_exists('ini_set')) {
    @ini_set('display_errors', '0');
    @ini_set('log_errors', '0');
}
echo "MARKB\n";
try {
    $code = CLASS::rewrite(base64_decode('CODE'));
    // Without its opening tag (its newlines kept for the line numbers),
    // so that a declare(strict_types=1) or a namespace is still first.
    if (preg_match('~^<\?php\s~i', $code, $m)) {
        $code = str_repeat("\n", substr_count($m[0], "\n")) . substr($code, strlen($m[0]));
    } else {
        $code = '?>' . $code;
    }
    CLASS::$result = eval($code);
    CLASS::$end = 'return';
} catch (\Throwable $e) {
    $parse = $e instanceof \ParseError;
    CLASS::$errors[] = ['level' => $parse ? 'Parse error' : 'Fatal error',
        'message' => CLASS::name($parse ? $e->getMessage() : 'Uncaught ' . $e . "\n  thrown"),
        'file' => CLASS::name($e->getFile()), 'line' => $e->getLine()];
    CLASS::$end = 'fatal';
    CLASS::$exit = 255;
}
`

// script is one run's wrapper, with its marker.
type script struct {
	mark   string
	source []byte
}

// newScript wraps code (PHP source, opening tag included) for a run,
// its errors naming it name.
func newScript(code []byte, name string) (*script, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	id := hex.EncodeToString(b[:])
	s := &script{mark: "fcgicli-" + id}
	r := strings.NewReplacer(
		"CLASS", "Fcgicli_"+id,
		"MARK", s.mark,
		"NAME", phpString(name),
		"CODE", base64.StdEncoding.EncodeToString(code),
	)
	s.source = []byte(r.Replace(wrapper))
	return s, nil
}

// phpString is s as a single-quoted PHP string literal.
func phpString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
