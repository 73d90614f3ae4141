#!/usr/bin/env bash
# Benchmarks status over many pools and the exporter, and prints the
# results as a markdown table (docs/performance.md shows them). It loads
# the machine for about a minute, so CI does not run it.
#
#   scripts/bench-pools.sh
#   BENCH_POOLS=20 BENCH_RUNS=11 BENCH_SCRAPES=500 scripts/bench-pools.sh
#
# It starts, in a temp dir of its own, one php-fpm with BENCH_POOLS (50)
# small pools, each pm static with one child on a unix socket, and
# measures:
#   1. status over every pool by a glob, one run, against status over one
#      pool (and, for information, the pools one run each, one after the
#      other): the median of BENCH_RUNS (21) runs with hyperfine. Target:
#      the run over every pool under 10 times a one-pool run.
#   2. the exporter (status --listen) scraped BENCH_SCRAPES (1,000) times
#      over every pool, one scrape at a time, each on a connection of its
#      own (curl): p50 and p99 of the scrape time. Target: p99 under 100 ms.
# Exit status 0 when both targets are met, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
pools=${BENCH_POOLS:-50}
runs=${BENCH_RUNS:-21}
scrapes=${BENCH_SCRAPES:-1000}

fpm_bin=$(first_executable "${PHP_FPM:-}" "$(command -v php-fpm 2>/dev/null || true)" /usr/sbin/php-fpm*) ||
	{ echo "bench-pools.sh: php-fpm not found (install php-fpm)" >&2; exit 2; }
for tool in hyperfine curl; do
	command -v "$tool" >/dev/null || { echo "bench-pools.sh: $tool not found (install $tool)" >&2; exit 2; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/fcgicli-bench-pools.XXXXXX")
exporter_pid=
cleanup() {
	if [ -n "$exporter_pid" ]; then kill "$exporter_pid" 2>/dev/null || true; wait "$exporter_pid" 2>/dev/null || true; fi
	stop_pidfile "$work/fpm.pid"
	rm -rf "$work"
}
trap cleanup EXIT
log() { echo "bench-pools.sh: $*" >&2; }

log "building into $work"
CGO_ENABLED=0 go build -tags urfave_cli_no_docs -o "$work/fcgicli" .
fcgicli=$work/fcgicli

mkdir -p "$work/sock"
{
	echo "[global]"
	echo "pid = $work/fpm.pid"
	echo "error_log = $work/fpm.log"
	echo "daemonize = no"
	for i in $(seq -w 1 "$pools"); do
		cat <<CONF
[p$i]
listen = $work/sock/p$i.sock
listen.mode = 0666
pm = static
pm.max_children = 1
pm.status_path = /status
CONF
	done
} >"$work/fpm.conf"
asroot=()
if [ "$(id -u)" = 0 ]; then asroot=(-R); fi
"$fpm_bin" "${asroot[@]}" -y "$work/fpm.conf" -p "$work" >"$work/fpm.out" 2>&1 </dev/null &
glob="$work/sock/*.sock"
one="$work/sock/p$(seq -w 1 "$pools" | head -1).sock"
log "waiting for $pools pools"
for i in $(seq 1 300); do
	if [ "$(ls "$work/sock" | wc -l)" = "$pools" ] && "$fcgicli" status -c "$glob" -q 2>/dev/null; then
		break
	fi
	if [ "$i" = 300 ]; then
		echo "bench-pools.sh: php-fpm did not start $pools pools within 30s:" >&2
		cat "$work/fpm.log" "$work/fpm.out" >&2 || true
		exit 1
	fi
	sleep 0.1
done

# median_ms NAME: the median of hyperfine's runs of NAME in ms.
median_ms() {
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("%.1f" % (r["median"]*1000))' "$work/$1.json"
}
sequential="for s in $work/sock/*.sock; do $fcgicli status -c \$s -q || exit 1; done"
log "status: one pool, every pool by a glob, every pool one run each ($runs runs each)"
hyperfine -N --runs "$runs" --warmup 2 --export-json "$work/one.json" "$fcgicli status -c $one -q" >/dev/null
hyperfine -N --runs "$runs" --warmup 2 --export-json "$work/glob.json" "$fcgicli status -c '$glob' -q" >/dev/null
hyperfine --runs "$runs" --warmup 1 --export-json "$work/seq.json" "$sequential" >/dev/null
one_ms=$(median_ms one)
glob_ms=$(median_ms glob)
seq_ms=$(median_ms seq)

log "exporter: $scrapes scrapes"
"$fcgicli" status -c "$glob" --listen 127.0.0.1:0 2>"$work/exporter.log" &
exporter_pid=$!
url=
for i in $(seq 1 100); do
	url=$(sed -n 's|^fcgicli: status: serving /metrics on \(http://.*\)$|\1/metrics|p' "$work/exporter.log")
	[ -n "$url" ] && break
	sleep 0.1
done
[ -n "$url" ] || { echo "bench-pools.sh: the exporter did not start:" >&2; cat "$work/exporter.log" >&2; exit 1; }
up=$(curl -s "$url" | grep -c '^phpfpm_up{.*} 1$' || true)
[ "$up" = "$pools" ] || { echo "bench-pools.sh: the exporter sees $up pools up, not $pools" >&2; exit 1; }
for i in $(seq 1 "$scrapes"); do
	curl -s -o /dev/null -w '%{time_total}\n' "$url"
done >"$work/scrapes.txt"
read -r p50 p99 < <(sort -g "$work/scrapes.txt" | awk '{ t[NR] = $1 * 1000 } END {
	printf "%.1f %.1f\n", t[int((NR + 1) * 0.50)], t[int(NR * 0.99 + 0.5)] }')
kill "$exporter_pid"
wait "$exporter_pid" || true
exporter_pid=

ok=0
verdict() { # MEASURED BOUND: met when MEASURED < BOUND
	if awk -v m="$1" -v b="$2" 'BEGIN { exit !(m < b) }'; then echo met; else echo "**missed**"; ok=1; fi
}
ratio=$(awk -v g="$glob_ms" -v o="$one_ms" 'BEGIN { printf "%.1f", g / o }')
ratio_verdict=$(verdict "$ratio" 10)
p99_verdict=$(verdict "$p99" 100)
cat <<TABLE
$pools php-fpm pools (pm static, 1 child each, unix sockets) on $(nproc) cores; status: median of $runs runs; exporter: $scrapes scrapes, one at a time.

| measurement | result | target |
| --- | --- | --- |
| \`status\` over one pool | $one_ms ms | |
| \`status\` over all $pools by a glob, one run | $glob_ms ms ($ratio× one pool) | under 10× one pool: $ratio_verdict |
| \`status\` over all $pools, one run each, one after the other | $seq_ms ms | for information |
| exporter scrape of all $pools, p50 | $p50 ms | |
| exporter scrape of all $pools, p99 | $p99 ms | under 100 ms: $p99_verdict |
TABLE
exit $ok
