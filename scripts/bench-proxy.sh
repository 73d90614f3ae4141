#!/usr/bin/env bash
# Measures what fcgicli proxy costs: wrk against nginx → php-fpm, and
# against nginx → fcgicli proxy → php-fpm, at concurrency 1 and 16, in one
# run on this machine, and prints a markdown table. Everything runs on
# loopback from configs in a temp dir, and is stopped by pid at the end.
#
#   scripts/bench-proxy.sh [DURATION]     (default 10s per measurement)
#
# Needs php-fpm, nginx and wrk (apt-get installs them when missing, as root).
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10s}

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v php-fpm >/dev/null || compgen -G '/usr/sbin/php-fpm*' >/dev/null || need+=(php-fpm)
if [ ${#need[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then echo "missing: ${need[*]}" >&2; exit 1; fi
	apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi

work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
	bash scripts/nginx.sh stop "$work/ngx-direct" 2>/dev/null || true
	bash scripts/nginx.sh stop "$work/ngx-proxy" 2>/dev/null || true
	bash scripts/php-fpm.sh stop "$work/fpm" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo $((20000 + RANDOM % 20000)); }

CGO_ENABLED=0 go build -tags urfave_cli_no_docs -o "$work/fcgicli" .
eval "$(bash scripts/php-fpm.sh start "$work/fpm" "$(port)" "$(port)" | sed 's/^/export /')"
"$work/fcgicli" proxy --listen "$work/tap.sock" --socket-mode 0666 --upstream "$FPM_TCP" -o json >/dev/null 2>"$work/proxy.log" &
pids+=($!)
for _ in $(seq 1 100); do [ -S "$work/tap.sock" ] && break; sleep 0.05; done
direct=$(bash scripts/nginx.sh start "$work/ngx-direct" "$(port)" "$FPM_TCP" "$DOCROOT" | sed 's/^NGINX=//')
proxied=$(bash scripts/nginx.sh start "$work/ngx-proxy" "$(port)" "unix:$work/tap.sock" "$DOCROOT" | sed 's/^NGINX=//')

# measure URL CONNECTIONS: prints "requests/s avg-latency"
measure() {
	local out rps lat
	out=$(wrk -t "$(( $2 < 2 ? 1 : 2 ))" -c "$2" -d "$duration" --latency "http://$1" 2>&1)
	rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
	lat=$(awk '/^    Latency/ {print $2}' <<<"$out")
	echo "$rps $lat"
}

echo "| path | concurrency | direct req/s | through proxy req/s | ratio | direct latency | proxy latency |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for path in "/index.php" "/big.php?mb=1"; do
	for c in 1 16; do
		read -r d_rps d_lat < <(measure "$direct$path" "$c")
		read -r p_rps p_lat < <(measure "$proxied$path" "$c")
		ratio=$(awk -v a="$p_rps" -v b="$d_rps" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
		echo "| $path | $c | $d_rps | $p_rps | $ratio | $d_lat | $p_lat |"
	done
done
echo
echo "php-fpm: 4 static children; nginx 1 worker; $(nproc) cores; $duration per measurement."
