<?php
// Prints the CGI variables named in ?k=A,B,C as NAME=value lines
// ("NAME unset" when the server did not get one).
foreach (explode(',', $_GET['k'] ?? '') as $k) {
    if ($k === '') continue;
    if (array_key_exists($k, $_SERVER)) {
        echo $k, '=', $_SERVER[$k], "\n";
    } else {
        echo $k, " unset\n";
    }
}
