<?php
// Writes to FCGI_STDERR (error_log) and to stdout.
error_log('first problem');
echo "out\n";
error_log('second problem');
