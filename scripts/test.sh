#!/usr/bin/env bash
# Runs the whole test suite: vet, the unit tests, the fuzz seed corpora and
# the end-to-end scripts against the echo responder, Go's net/http/fcgi,
# php-fpm (with APCu), nginx, fcgiwrap, cgi-fcgi and Prometheus (promtool,
# and a server the exporter's test starts), and the completions in bash, zsh
# and fish. When a program the tests use is missing and we are root, it is
# installed with apt-get first (set FCGICLI_NO_INSTALL=1 to skip that).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v php-fpm >/dev/null 2>&1 || compgen -G '/usr/sbin/php-fpm*' >/dev/null || need+=(php-fpm)
command -v cgi-fcgi >/dev/null 2>&1 || need+=(libfcgi-bin)
# APCu for the php apcu tests (the php-fpm pools load it from conf.d).
compgen -G '/etc/php/*/mods-available/apcu.ini' >/dev/null || need+=(php-apcu)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v fcgiwrap >/dev/null 2>&1 || [ -x /usr/sbin/fcgiwrap ] || need+=(fcgiwrap)
command -v zsh >/dev/null 2>&1 || need+=(zsh)
command -v fish >/dev/null 2>&1 || need+=(fish)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
if [ ${#need[@]} -gt 0 ] && [ -z "${FCGICLI_NO_INSTALL:-}" ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "test.sh: installing ${need[*]}" >&2
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq >/dev/null
		# The packages' services (nginx, prometheus) must not start on
		# install: the tests start their own, from configs in temp dirs.
		policy=
		if [ ! -e /usr/sbin/policy-rc.d ]; then
			policy=/usr/sbin/policy-rc.d
			printf '#!/bin/sh\nexit 101\n' >"$policy"
			chmod 755 "$policy"
		fi
		apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
		if [ -n "$policy" ]; then rm -f "$policy"; fi
	else
		echo "test.sh: ${need[*]} missing and not root: those tests will be skipped (CI fails them)" >&2
	fi
fi

go vet ./...
go test -count=1 -race -timeout 10m ./... "$@"
# Every benchmark once, so that one broken by a change (a hang, an error)
# is found here rather than in a benchmark run.
if ! out=$(go test -count=1 -run '^$' -bench . -benchtime 1x -timeout 5m ./... 2>&1); then
	printf '%s\n' "$out"
	echo "test.sh: a benchmark failed" >&2
	exit 1
fi
