#!/usr/bin/env bash
# Benchmarks fcgicli against the fastest a client can go, and prints the
# results as markdown tables. It takes a few minutes, so CI does not run it.
#
#   scripts/bench.sh            # every measurement 1s, 41 pairs of runs
#                               # against php-fpm, 11 for the rest
#   BENCH_DURATION=5s BENCH_REPEAT=3 BENCH_FPM_REPEAT=5 scripts/bench.sh
#
# It starts, on loopback TCP and unix sockets, in a temp dir of its own:
#   - php-fpm: two pools (tcp, unix), pm static with 2 children each,
#     serving testdata/php;
#   - Go's net/http/fcgi (scripts/bench/gofcgi);
#   - fcgicli's built-in responder (fcgicli serve);
#   - nginx in front of the php-fpm tcp pool, for wrk.
# and measures, side by side:
#   1. fcgicli bench against scripts/bench/replay, a loop replaying the same
#      pre-encoded request (written by fcgicli raw-dump --save-request) on
#      persistent connections, at -C 1, 4 and 16, TCP and unix, both on
#      as many CPUs as bench takes by default (half, at most -C). Targets,
#      as shares of the loop's requests/s: against net/http/fcgi and the
#      built-in responder, 90% in every cell; against php-fpm, 95% for the
#      median of the pairs' ratios of all six php-fpm cells pooled, and no
#      php-fpm cell's median under 90%.
#      For information, the php-fpm TCP cells again with php-fpm on the
#      last core and both clients on the first (taskset), where the
#      server is the limit.
#   2. fcgicli bench against wrk through nginx to the same php-fpm pool.
#   3. The one-shot cost of fcgicli request (process start to exit) against
#      the replay program sending one request (built static, as fcgicli
#      is), the same program linking fcgicli's libraries (urfave/cli v2,
#      tablewriter, color), and cgi-fcgi, with hyperfine. Target: at most
#      20% over the program linking the libraries; the bare program and
#      cgi-fcgi are shown for information.
#   4. A 1 GiB response streamed to /dev/null by fcgicli request against
#      the replay program reading the same response, with fcgicli's peak
#      RSS. Target: under 32 MiB.
#   5. go test -bench for fcgiwire's hot paths (ns/op, allocs/op).
# Exit status 0 when every target is met, 1 otherwise. When a tool is
# missing and we are root, it is installed with apt-get first.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
dur=${BENCH_DURATION:-1s}
# Pairs of runs, not the best of each client: on two cores shared by the
# client and php-fpm's two children, a run's requests/s depends on where
# the scheduler puts the three and on the machine's neighbours, and swings
# by 10-20% from one run to the next for either client alike. A cell is
# pairs of runs, one run of each client back to back (who goes first
# alternates); its ratio is the median of the pairs' ratios, which a drift
# of the machine's speed moves far less than it moves either client. Even
# so one pair's ratio ranges from 80% to 120% here, and the median of 11
# pairs moved by 5% from one run of the script to the next: too much for
# the php-fpm rows, where bench comes within a few percent of the loop and
# the target is 95%, so they take 41 pairs (about 1.3% standard error),
# and the 95% is judged on the median of all their pairs pooled.
# The other rows, 95-100% against a target of 90%, and the rows only
# shown take 11.
repeat=${BENCH_REPEAT:-11}
fpm_repeat=${BENCH_FPM_REPEAT:-41}

need=()
command -v php-fpm >/dev/null 2>&1 || compgen -G '/usr/sbin/php-fpm*' >/dev/null || need+=(php-fpm)
command -v cgi-fcgi >/dev/null 2>&1 || need+=(libfcgi-bin)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v hyperfine >/dev/null 2>&1 || need+=(hyperfine)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "bench.sh: installing ${need[*]}" >&2
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq >/dev/null
		apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
	else
		echo "bench.sh: missing ${need[*]} (install them, or run as root)" >&2
		exit 2
	fi
fi
fpm_bin=$(command -v php-fpm 2>/dev/null || ls /usr/sbin/php-fpm* | head -1)
nginx_bin=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)

work=$(mktemp -d "${TMPDIR:-/tmp}/fcgicli-bench.XXXXXX")
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
log() { echo "bench.sh: $*" >&2; }

# free_port prints a loopback TCP port nothing listens on.
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
}

log "building into $work"
# Everything is built the way fcgicli is: static, CGO_ENABLED=0.
export CGO_ENABLED=0
go build -tags urfave_cli_no_docs -o "$work/fcgicli" .
go build -o "$work/replay" ./scripts/bench/replay
go build -tags libs,urfave_cli_no_docs -o "$work/replay-libs" ./scripts/bench/replay
go build -o "$work/gofcgi" ./scripts/bench/gofcgi
fcgicli=$work/fcgicli
replay=$work/replay
docroot=$root/testdata/php

fpm_port=$(free_port)
go_port=$(free_port)
echo_port=$(free_port)
nginx_port=$(free_port)

# php-fpm: two pools of 2 static children.
asroot=()
if [ "$(id -u)" = 0 ]; then asroot=(-R); fi
{
	echo "[global]"
	echo "pid = $work/fpm.pid"
	echo "error_log = $work/fpm.log"
	echo "daemonize = no"
	for pool in "tcp 127.0.0.1:$fpm_port" "unix $work/fpm.sock"; do
		set -- $pool
		cat <<CONF
[$1]
listen = $2
listen.mode = 0666
listen.backlog = 511
pm = static
pm.max_children = 2
php_admin_value[output_buffering] = 0
CONF
	done
} >"$work/fpm.conf"
"$fpm_bin" "${asroot[@]}" -y "$work/fpm.conf" -p "$work" >"$work/fpm.out" 2>&1 </dev/null &
pids+=($!)
# The same pool again in a php-fpm of its own on the last core, for the
# table where the clients run on the first one (with two cores or more).
pin_port=$(free_port)
cores=$(nproc)
if [ "$cores" -ge 2 ]; then
	mkdir -p "$work/pinned"
	sed -e "s|$work/fpm\.|$work/pinned/fpm.|" -e "s|127.0.0.1:$fpm_port|127.0.0.1:$pin_port|" \
		"$work/fpm.conf" >"$work/pinned/fpm.conf"
	taskset -c $((cores - 1)) "$fpm_bin" "${asroot[@]}" -y "$work/pinned/fpm.conf" -p "$work/pinned" >"$work/pinned/fpm.out" 2>&1 </dev/null &
	pids+=($!)
fi
"$work/gofcgi" "127.0.0.1:$go_port" "$work/go.sock" >"$work/gofcgi.log" 2>&1 &
pids+=($!)
"$fcgicli" serve --listen "127.0.0.1:$echo_port" --listen "$work/echo.sock" >"$work/serve.log" 2>&1 &
pids+=($!)

# nginx in front of the tcp pool, as a stock site would have it.
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
daemon off;
$([ "$(id -u)" = 0 ] && echo "user root;")
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $work/nginx/body;
	fastcgi_temp_path $work/nginx/fastcgi;
	proxy_temp_path $work/nginx/proxy;
	uwsgi_temp_path $work/nginx/uwsgi;
	scgi_temp_path $work/nginx/scgi;
	server {
		listen 127.0.0.1:$nginx_port;
		location ~ \.php\$ {
			include /etc/nginx/fastcgi_params;
			fastcgi_param SCRIPT_FILENAME $docroot\$fastcgi_script_name;
			fastcgi_pass 127.0.0.1:$fpm_port;
		}
	}
}
CONF
"$nginx_bin" -c "$work/nginx/nginx.conf" -p "$work/nginx" -e "$work/nginx/error.log" >"$work/nginx/out.log" 2>&1 &
pids+=($!)

addrs=("127.0.0.1:$fpm_port" "$work/fpm.sock" "127.0.0.1:$go_port" "$work/go.sock" "127.0.0.1:$echo_port" "$work/echo.sock")
[ "$cores" -ge 2 ] && addrs+=("127.0.0.1:$pin_port")
for addr in "${addrs[@]}"; do
	for i in $(seq 1 100); do
		if "$fcgicli" get-values -c "$addr" -t 1s >/dev/null 2>&1; then break; fi
		if [ "$i" = 100 ]; then
			log "$addr did not come up"
			cat "$work"/*.log "$work/fpm.out" >&2 2>/dev/null || true
			exit 1
		fi
		sleep 0.1
	done
done
for i in $(seq 1 100); do
	(exec 3<>"/dev/tcp/127.0.0.1/$nginx_port") 2>/dev/null && break
	sleep 0.1
done

missed=()
fmt() { awk -v x="$1" 'BEGIN { printf "%.0f", x }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", 100 * a / b; else print "0" }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
# one X: X to one decimal.
one() { awk -v x="$1" 'BEGIN { printf "%.1f", x }'; }
# median X...: the median of the numbers given.
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { printf "%.7g\n", NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# The clients run under "${pin[@]}": nothing, or taskset.
pin=()
# bench_rps ADDR SCRIPT C: fcgicli bench's requests/s.
bench_rps() {
	"${pin[@]}" "$fcgicli" bench -c "$1" "$2" -C "$3" -z "$dur" -o json 2>/dev/null | sed -n 's/^  "rps": \([0-9.]*\),$/\1/p'
}
# replay_rps ADDR REQFILE C: the replay loop's requests/s.
replay_rps() {
	"${pin[@]}" "$replay" -c "$1" -f "$2" -C "$3" -z "$dur" | sed -n 's/.*rps=\([0-9.]*\)$/\1/p'
}
# cell ADDR REQFILE SCRIPT C PAIRS: sets r and f, each client's median
# requests/s, ratio, the median of the pairs' ratios in percent, and
# ratios, the pairs' ratios.
cell() {
	local rs=() fs=() i
	ratios=()
	for i in $(seq 1 "$5"); do
		# Who goes first alternates, so that a drift of the machine's
		# speed favours neither.
		if [ $((i % 2)) = 1 ]; then
			r=$(replay_rps "$1" "$2" "$4")
			f=$(bench_rps "$1" "$3" "$4")
		else
			f=$(bench_rps "$1" "$3" "$4")
			r=$(replay_rps "$1" "$2" "$4")
		fi
		rs+=("${r:-0}") fs+=("${f:-0}") ratios+=("$(pct "${f:-0}" "${r:-0}")")
	done
	r=$(median "${rs[@]}") f=$(median "${fs[@]}") ratio=$(one "$(median "${ratios[@]}")")
}

declare -A fcgicli_rps
# Every pair's ratio of every php-fpm cell, judged together below.
fpm_ratios=()
fpm_target=95 floor=90
echo "## fcgicli bench against a replay loop"
echo
echo "Requests/s, each client's median over runs of $dur; the ratio is the median of the ratios of pairs of runs, one of each client back to back: $fpm_repeat pairs against php-fpm, $repeat against the others. The loop replays the same pre-encoded request on persistent connections. Every cell is judged against $floor%; the php-fpm cells also together, on the median of all their pairs' ratios pooled, against $fpm_target% (below the table)."
echo
echo "| server | transport | -C | replay loop | fcgicli bench | ratio | target |"
echo "| --- | --- | ---: | ---: | ---: | ---: | --- |"
for server in php-fpm net/http/fcgi builtin; do
	case $server in
	php-fpm) tcp=127.0.0.1:$fpm_port unix=$work/fpm.sock script=$docroot/index.php pairs=$fpm_repeat ;;
	net/http/fcgi) tcp=127.0.0.1:$go_port unix=$work/go.sock script=/index.php pairs=$repeat ;;
	builtin) tcp=127.0.0.1:$echo_port unix=$work/echo.sock script=/index.php pairs=$repeat ;;
	esac
	req=$work/req-$(echo "$server" | tr -c 'a-z\n' '-').bin
	"$fcgicli" raw-dump -c builtin --keep-conn "$script" --save-request "$req" >/dev/null 2>&1
	for transport in tcp unix; do
		addr=$tcp
		[ "$transport" = unix ] && addr=$unix
		for c in 1 4 16; do
			cell "$addr" "$req" "$script" "$c" "$pairs"
			[ "$server" = php-fpm ] && fpm_ratios+=("${ratios[@]}")
			verdict="≥ $floor%: ok"
			if ! ge "$ratio" "$floor"; then
				verdict="≥ $floor%: **missed**"
				missed+=("$server $transport -C $c: $ratio% of the replay loop")
			fi
			fcgicli_rps[$server-$transport-$c]=$f
			echo "| $server | $transport | $c | $(fmt "$r") | $(fmt "$f") | $ratio% | $verdict |"
		done
	done
done
fpm_pooled=$(one "$(median "${fpm_ratios[@]}")")
verdict="≥ $fpm_target%: ok"
if ! ge "$fpm_pooled" "$fpm_target"; then
	verdict="≥ $fpm_target%: **missed**"
	missed+=("php-fpm, all cells together: the median of their ${#fpm_ratios[@]} pairs' ratios is $fpm_pooled% of the replay loop")
fi
echo
echo "php-fpm, all cells together: the median of their ${#fpm_ratios[@]} pairs' ratios is $fpm_pooled%: $verdict"

if [ "$cores" -ge 2 ]; then
	echo
	echo "## php-fpm and the client on cores of their own"
	echo
	echo "The same comparison against the same pool in a php-fpm of its own on core $((cores - 1)), both clients on core 0 (taskset): there the server is the limit, as the targets assume. For information: the targets are judged above."
	echo
	echo "| server | transport | -C | replay loop | fcgicli bench | ratio |"
	echo "| --- | --- | ---: | ---: | ---: | ---: |"
	pin=(taskset -c 0)
	for c in 1 4 16; do
		cell "127.0.0.1:$pin_port" "$work/req-php-fpm.bin" "$docroot/index.php" "$c" "$repeat"
		echo "| php-fpm | tcp | $c | $(fmt "$r") | $(fmt "$f") | $ratio% |"
	done
	pin=()
fi

echo
echo "## fcgicli bench against wrk through nginx"
echo
echo "The same php-fpm pool (2 children, TCP): wrk to nginx (stock fastcgi_pass, a connection per request) against fcgicli bench straight to the pool; medians of $repeat runs each."
echo
echo "| -C | wrk via nginx | fcgicli bench | fcgicli / wrk |"
echo "| ---: | ---: | ---: | ---: |"
for c in 1 4 16; do
	t=$((c < 2 ? c : 2))
	ws=()
	for _ in $(seq 1 "$repeat"); do
		ws+=("$(wrk -t "$t" -c "$c" -d "$dur" "http://127.0.0.1:$nginx_port/index.php" | sed -n 's/^Requests\/sec: *\([0-9.]*\)$/\1/p' || true)")
	done
	w=$(median "${ws[@]}")
	f=${fcgicli_rps[php-fpm-tcp-$c]}
	echo "| $c | $(fmt "$w") | $(fmt "$f") | $(awk -v a="$f" -v b="$w" 'BEGIN { if (b > 0) printf "%.2fx", a / b }') |"
done

echo
echo "## One request, process start to exit"
echo
once=$work/req-once.bin
"$fcgicli" raw-dump -c builtin "$docroot/index.php" --save-request "$once" >/dev/null 2>&1
# Rounds of hyperfine, the order reversed each round. A client's time is
# the median of its rounds' medians; how much it adds over the bare
# program is the median of the rounds' ratios, each taken between runs a
# few milliseconds apart, which a drift of the machine's speed spares.
oneshot_rounds=10 oneshot_runs=40
names=(bare libs fcgicli cgi-fcgi)
cmds=(
	"$replay -once -c 127.0.0.1:$fpm_port -f $once"
	"$work/replay-libs -once -c 127.0.0.1:$fpm_port -f $once"
	"$fcgicli request -c 127.0.0.1:$fpm_port $docroot/index.php"
	"cgi-fcgi -bind -connect 127.0.0.1:$fpm_port"
)
for round in $(seq 1 $oneshot_rounds); do
	args=()
	for i in 0 1 2 3; do
		j=$i
		[ $((round % 2)) = 0 ] && j=$((3 - i))
		args+=(-n "${names[$j]}" "${cmds[$j]}")
	done
	(
		# cgi-fcgi takes its params from the environment.
		export REQUEST_METHOD=GET SCRIPT_FILENAME=$docroot/index.php SCRIPT_NAME=/index.php QUERY_STRING= \
			REQUEST_URI=/index.php SERVER_PROTOCOL=HTTP/1.1 GATEWAY_INTERFACE=CGI/1.1 REMOTE_ADDR=127.0.0.1 \
			SERVER_NAME=localhost SERVER_PORT=80
		hyperfine -N --warmup 10 --runs $oneshot_runs --export-csv "$work/oneshot-$round.csv" "${args[@]}" >"$work/hyperfine.out" 2>&1
	) || { cat "$work/hyperfine.out" >&2; exit 1; }
done
# roundmedian N ROUND: the median time of client N in that round, in
# seconds (the CSV: command,mean,stddev,median,...).
roundmedian() { awk -F, -v n="$1" '$1 == n { print $4 }' "$work/oneshot-$2.csv"; }
declare -A took over overlibs
for n in "${names[@]}"; do
	ts=() os=() ols=()
	for round in $(seq 1 $oneshot_rounds); do
		t=$(roundmedian "$n" "$round")
		ts+=("$t")
		os+=("$(awk -v a="$t" -v b="$(roundmedian bare "$round")" 'BEGIN { printf "%.1f", 100 * (a - b) / b }')")
		ols+=("$(awk -v a="$t" -v b="$(roundmedian libs "$round")" 'BEGIN { printf "%.1f", 100 * (a - b) / b }')")
	done
	took[$n]=$(median "${ts[@]}") over[$n]=$(one "$(median "${os[@]}")") overlibs[$n]=$(one "$(median "${ols[@]}")")
done
ms() { awk -v x="$1" 'BEGIN { printf "%.2f ms", x * 1000 }'; }
# The target: at most 20% over the same program linking fcgicli's
# libraries, whose own start-up cost is not fcgicli's to remove.
verdict="≤ 20% over bare + libraries: ok"
if ! awk -v o="${overlibs[fcgicli]}" 'BEGIN { exit !(o <= 20) }'; then
	verdict="≤ 20% over bare + libraries: **missed**"
	missed+=("one-shot request: ${overlibs[fcgicli]}% over the bare Go program linking the libraries")
fi
echo "php-fpm's index.php over TCP; hyperfine, $oneshot_rounds rounds of $oneshot_runs runs of each client, the order reversed each round: the time is the median of a client's round medians, the overheads the median of the rounds' ratios. Every Go program is built as fcgicli is (CGO_ENABLED=0, static). fcgicli request is judged against the program linking its libraries; the bare program and cgi-fcgi are shown for information."
echo
echo "| client | time | over the bare Go program | over bare + libraries | target |"
echo "| --- | ---: | ---: | ---: | --- |"
echo "| bare Go program (scripts/bench/replay -once) | $(ms "${took[bare]}") | | | |"
echo "| the same, linking urfave/cli, tablewriter, color (-tags libs) | $(ms "${took[libs]}") | ${over[libs]}% | | |"
echo "| fcgicli request | $(ms "${took[fcgicli]}") | ${over[fcgicli]}% | ${overlibs[fcgicli]}% | $verdict |"
echo "| cgi-fcgi -bind -connect | $(ms "${took[cgi-fcgi]}") | ${over[cgi-fcgi]}% | | |"

echo
echo "## A 1 GiB response to /dev/null"
echo
big=$work/req-big.bin
"$fcgicli" raw-dump -c builtin '/big?mb=1024' --save-request "$big" >/dev/null 2>&1
/usr/bin/time -f '%e %M' -o "$work/time-replay" "$replay" -once -c "127.0.0.1:$go_port" -f "$big" >/dev/null
/usr/bin/time -f '%e %M' -o "$work/time-fcgicli" "$fcgicli" request -c "127.0.0.1:$go_port" '/big?mb=1024' -t 10m >/dev/null
read -r r_s r_kb <"$work/time-replay"
read -r f_s f_kb <"$work/time-fcgicli"
mibs() { awk -v s="$1" 'BEGIN { printf "%.0f MiB/s", 1024 / s }'; }
rss_verdict="< 32 MiB: ok"
if [ "$f_kb" -ge $((32 * 1024)) ]; then
	rss_verdict="< 32 MiB: **missed**"
	missed+=("1 GiB response: peak RSS $((f_kb / 1024)) MiB")
fi
echo "From net/http/fcgi over TCP; peak RSS from /usr/bin/time."
echo
echo "| client | throughput | peak RSS | target |"
echo "| --- | ---: | ---: | --- |"
echo "| replay loop reading the same response | $(mibs "$r_s") | $((r_kb / 1024)) MiB | |"
echo "| fcgicli request | $(mibs "$f_s") ($(pct "$r_s" "$f_s")% of the loop) | $((f_kb / 1024)) MiB | $rss_verdict |"

echo
echo "## fcgiwire hot paths (go test -bench)"
echo
echo "| benchmark | ns/op | throughput | B/op | allocs/op |"
echo "| --- | ---: | ---: | ---: | ---: |"
go test -run '^$' -bench . -benchmem ./fcgiwire/ | awk '/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name); ns = ""; mbs = ""; b = ""; a = ""
	for (i = 3; i < NF; i++) {
		if ($(i+1) == "ns/op") ns = $i
		if ($(i+1) == "MB/s") mbs = $i " MB/s"
		if ($(i+1) == "B/op") b = $i
		if ($(i+1) == "allocs/op") a = $i
	}
	printf "| %s | %s | %s | %s | %s |\n", name, ns, mbs, b, a
}'

echo
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
echo "Machine: ${cpu:-unknown CPU}, $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r); $(go version | cut -d' ' -f3), $("$fpm_bin" -v | head -1 | cut -d' ' -f1-2), $("$nginx_bin" -v 2>&1 | cut -d' ' -f3); $(date -u +%Y-%m-%d)."

if [ ${#missed[@]} -gt 0 ]; then
	echo
	echo "Targets missed:"
	printf -- '- %s\n' "${missed[@]}"
	exit 1
fi
