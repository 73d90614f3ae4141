<?php
// Reports the size of the BIG param and of all HTTP_ params.
$n = 0; $bytes = 0;
foreach ($_SERVER as $k => $v) {
    if (strncmp($k, 'HTTP_', 5) === 0) { $n++; $bytes += strlen($k) + strlen($v); }
}
echo "big=", strlen($_SERVER['BIG'] ?? ''), "\n";
echo "big_sha256=", hash('sha256', $_SERVER['BIG'] ?? ''), "\n";
echo "http_params=", $n, "\n";
echo "http_bytes=", $bytes, "\n";
