<?php
// Sleeps ?s=N seconds before answering.
sleep((int)($_GET['s'] ?? 5));
echo "late\n";
