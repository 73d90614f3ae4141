<?php
// Answers with ?code=N, a custom header and two cookies.
http_response_code((int)($_GET['code'] ?? 200));
header('X-Custom: custom value');
setcookie('first', '1');
setcookie('second', '2');
echo "code=", http_response_code(), "\n";
