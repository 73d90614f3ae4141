#!/usr/bin/env bash
# Start or stop a private nginx for the integration tests, from a config
# written into a directory of its own.
#
#   scripts/nginx.sh start DIR PORT UPSTREAM DOCROOT
#       serves DOCROOT on 127.0.0.1:PORT and passes every *.php URI (with
#       PATH_INFO split off, as nginx's stock snippets do) to the FastCGI
#       application at UPSTREAM (host:port or unix:/path), with the stock
#       /etc/nginx/fastcgi_params plus SCRIPT_FILENAME and PATH_INFO.
#       Prints NGINX=127.0.0.1:PORT once it answers.
#   scripts/nginx.sh stop DIR
#       stops it by the pid in DIR/nginx.pid.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

find_nginx() {
	first_executable "${NGINX:-}" "$(command -v nginx 2>/dev/null || true)" /usr/sbin/nginx
}

start() {
	local dir=$1 port=$2 upstream=$3 docroot=$4
	local bin
	bin=$(find_nginx) || { echo "nginx: not found (install nginx)" >&2; exit 1; }
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	local user=""
	if [ "$(id -u)" = 0 ]; then user="user root;"; fi
	cat >"$dir/nginx.conf" <<CONF
$user
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $dir/client_body;
    fastcgi_temp_path $dir/fastcgi_temp;
    proxy_temp_path $dir/proxy_temp;
    uwsgi_temp_path $dir/uwsgi_temp;
    scgi_temp_path $dir/scgi_temp;
    client_max_body_size 64m;
    server {
        listen 127.0.0.1:$port;
        root $docroot;
        location ~ [^/]\.php(/|\$) {
            fastcgi_split_path_info ^(.+?\.php)(/.*)\$;
            fastcgi_pass $upstream;
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
            fastcgi_param PATH_INFO \$fastcgi_path_info;
        }
    }
}
CONF
	"$bin" -p "$dir" -c "$dir/nginx.conf" >"$dir/stdout.log" 2>&1 </dev/null &
	local i
	for i in $(seq 1 100); do
		if [ -s "$dir/nginx.pid" ] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "NGINX=127.0.0.1:$port"
			return 0
		fi
		sleep 0.1
	done
	echo "nginx did not start within 10s:" >&2
	cat "$dir/error.log" "$dir/stdout.log" >&2 2>/dev/null || true
	exit 1
}

stop() {
	stop_pidfile "$1/nginx.pid"
}

case "${1:-}" in
start) shift; start "$@" ;;
stop) shift; stop "$@" ;;
*) echo "usage: $0 start DIR PORT UPSTREAM DOCROOT | stop DIR" >&2; exit 2 ;;
esac
