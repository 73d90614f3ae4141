<?php
// A plain page: method, query and a greeting.
echo "method=", $_SERVER['REQUEST_METHOD'], "\n";
echo "query=", $_SERVER['QUERY_STRING'] ?? '', "\n";
echo "hello ", $_GET['name'] ?? 'world', "\n";
