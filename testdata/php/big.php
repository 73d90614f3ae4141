<?php
// Streams ?mb=N MiB of "x" in 64 KiB pieces.
header('Content-Type: application/octet-stream');
$chunk = str_repeat('x', 65536);
$n = (int)($_GET['mb'] ?? 1) * 16;
for ($i = 0; $i < $n; $i++) {
    echo $chunk;
    flush();
}
