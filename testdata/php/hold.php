<?php
// Holds its child until the directory ?until=PATH exists (at most 120s),
// so that a test decides when a busy pool is free again.
$until = $_GET['until'] ?? '';
for ($i = 0; $i < 1200 && $until !== '' && !is_dir($until); $i++) {
    usleep(100000);
}
echo "released\n";
