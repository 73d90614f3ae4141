<?php
// Sleeps ?s=N seconds, or ?ms=N milliseconds, before answering.
if (isset($_GET['ms'])) {
    usleep((int)$_GET['ms'] * 1000);
} else {
    sleep((int)($_GET['s'] ?? 5));
}
echo "late\n";
