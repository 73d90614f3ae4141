#!/usr/bin/env bash
# Start or stop a private php-fpm for the integration tests, from a config
# written into a directory of its own, so it never touches the system's.
#
#   scripts/php-fpm.sh start DIR TCP_PORT SMALL_PORT [TCP6_PORT]
#       writes DIR/php-fpm.conf with these pools, serving testdata/php:
#         tcp    127.0.0.1:TCP_PORT, 4 static children
#         unix   the unix socket DIR/php-fpm.sock, 4 static children
#         small  127.0.0.1:SMALL_PORT, ondemand with 1 child, its status
#                page also on DIR/small-status.sock (pm.status_listen),
#                requests over 1s counted as slow
#         ip6    [::1]:TCP6_PORT, when given
#       starts php-fpm in the background, waits until it answers, and
#       prints the addresses as NAME=VALUE lines.
#   scripts/php-fpm.sh stop DIR
#       stops it by the pid in DIR/php-fpm.pid.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

find_fpm() {
	first_executable "${PHP_FPM:-}" "$(command -v php-fpm 2>/dev/null || true)" /usr/sbin/php-fpm*
}

pool() { # name listen
	cat <<CONF
[$1]
listen = $2
listen.mode = 0666
listen.backlog = 511
pm = static
pm.max_children = 4
pm.status_path = /status
ping.path = /ping
catch_workers_output = yes
php_admin_value[post_max_size] = 64M
php_admin_value[memory_limit] = 256M
php_admin_value[output_buffering] = 0
CONF
}

start() {
	local dir=$1 port=$2 small=$3 port6=${4:-}
	local fpm
	fpm=$(find_fpm) || { echo "php-fpm: not found (install php-fpm)" >&2; exit 1; }
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	local docroot
	docroot=$(cd "$(dirname "$0")/../testdata/php" && pwd)
	{
		cat <<CONF
[global]
pid = $dir/php-fpm.pid
error_log = $dir/php-fpm.log
daemonize = no
CONF
		pool tcp "127.0.0.1:$port"
		pool unix "$dir/php-fpm.sock"
		pool small "127.0.0.1:$small" | sed 's/^pm = static$/pm = ondemand/; s/^pm.max_children = 4$/pm.max_children = 1/'
		cat <<CONF
pm.process_idle_timeout = 60s
pm.status_listen = $dir/small-status.sock
request_slowlog_timeout = 1s
slowlog = $dir/slow.log
CONF
		if [ -n "$port6" ]; then pool ip6 "[::1]:$port6"; fi
	} >"$dir/php-fpm.conf"
	local asroot=()
	if [ "$(id -u)" = 0 ]; then asroot=(-R); fi
	"$fpm" "${asroot[@]}" -y "$dir/php-fpm.conf" -p "$dir" >"$dir/stdout.log" 2>&1 </dev/null &
	local i
	for i in $(seq 1 100); do
		if [ -S "$dir/php-fpm.sock" ] && [ -S "$dir/small-status.sock" ] && [ -s "$dir/php-fpm.pid" ] &&
			(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$small") 2>/dev/null; then
			echo "FPM_TCP=127.0.0.1:$port"
			echo "FPM_SOCK=$dir/php-fpm.sock"
			echo "FPM_SMALL=127.0.0.1:$small"
			echo "FPM_SMALL_STATUS=$dir/small-status.sock"
			echo "FPM_DIR=$dir"
			if [ -n "$port6" ]; then echo "FPM_TCP6=[::1]:$port6"; fi
			echo "DOCROOT=$docroot"
			echo "FPM_PID=$(cat "$dir/php-fpm.pid")"
			return 0
		fi
		sleep 0.1
	done
	echo "php-fpm did not start within 10s:" >&2
	cat "$dir/php-fpm.log" "$dir/stdout.log" >&2 2>/dev/null || true
	exit 1
}

stop() {
	stop_pidfile "$1/php-fpm.pid"
}

case "${1:-}" in
start) shift; start "$@" ;;
stop) shift; stop "$@" ;;
*) echo "usage: $0 start DIR TCP_PORT SMALL_PORT [TCP6_PORT] | stop DIR" >&2; exit 2 ;;
esac
