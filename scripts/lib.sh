# Shell helpers shared by the scripts that run servers for the tests
# (php-fpm.sh, nginx.sh). Sourced, not run.

# first_executable CANDIDATE...: print the first candidate that is an
# executable file.
first_executable() {
	local f
	for f in "$@"; do
		if [ -n "$f" ] && [ -x "$f" ]; then
			echo "$f"
			return 0
		fi
	done
	return 1
}

# stop_pidfile FILE: stop the process whose pid FILE holds, waiting up to
# 5s before SIGKILL. Nothing to do when FILE is missing or the process gone.
stop_pidfile() {
	local pid i
	[ -s "$1" ] || return 0
	pid=$(cat "$1")
	kill "$pid" 2>/dev/null || return 0
	for i in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
}
