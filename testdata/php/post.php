<?php
// Reports the request body: its length and sha256.
$body = file_get_contents('php://input');
echo "method=", $_SERVER['REQUEST_METHOD'], "\n";
echo "content_length=", $_SERVER['CONTENT_LENGTH'] ?? '', "\n";
echo "bytes=", strlen($body), "\n";
echo "sha256=", hash('sha256', $body), "\n";
