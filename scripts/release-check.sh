#!/usr/bin/env bash
# The release checks .ci/run runs after the test suite, as root on Debian:
#   - scripts/release.sh builds linux/amd64: the archive (its files, the
#     checksums, a static binary whose --version names this commit), the
#     deb and the rpm;
#   - the binary runs in an empty root, as in a scratch image: chroot into
#     a directory holding only it and a php-fpm socket, with no
#     environment, no /tmp, /etc/passwd or CA files; a request to php-fpm,
#     ping, and requests to -c builtin, one with a body from a pipe;
#   - the deb installs with dpkg: --version, man -w, bash completion of
#     "fcgicli req" from the installed file, and dpkg -L listing only the
#     package's files; then it is removed again;
#   - the rpm's file list, read from the package by scripts/nfpm/rpmfiles;
#   - every other target compiles (build only);
#   - with a docker daemon, the Dockerfile is checked (there is none on a
#     machine without one: it says so).
# Each step prints how long it took. Needs php-fpm (the test suite installs
# it) and root for chroot and dpkg.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

fail() {
	echo "release-check: FAIL: $*" >&2
	exit 1
}
t0=$SECONDS
step_start=$SECONDS
step() { # NAME: the step that ended, and how long it took
	echo "release-check: $1 ok ($((SECONDS - step_start))s)"
	step_start=$SECONDS
}
# same NAME GOT WANT: fail unless the two texts are equal, showing a diff.
same() {
	[ "$2" = "$3" ] || fail "$1:"$'\n'"$(diff <(printf '%s\n' "$3") <(printf '%s\n' "$2") || true)"
}

[ "$(id -u)" = 0 ] || fail "needs root (chroot, dpkg)"
version=$(sed -n 's/^## \([0-9][0-9A-Za-z.-]*\)$/\1/p' CHANGELOG.md | head -n 1)
[ -n "$version" ] || fail "no version heading (## X.Y.Z) in CHANGELOG.md"
if dpkg -s fcgicli >/dev/null 2>&1; then
	fail "a fcgicli package is already installed: remove it first (dpkg -r fcgicli)"
fi

work=$(mktemp -d)
fpm_dir=$work/fpm
installed=
cleanup() {
	scripts/php-fpm.sh stop "$fpm_dir" 2>/dev/null || true
	if [ -n "$installed" ]; then dpkg -r fcgicli >/dev/null 2>&1 || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

# The release for linux/amd64, and the archive.
scripts/release.sh "$version" linux/amd64 >/dev/null
step "release.sh $version linux/amd64"
name=fcgicli_${version}_linux_amd64
(cd dist && sha256sum --check --quiet SHA256SUMS) || fail "SHA256SUMS does not match dist/"
same "SHA256SUMS lists" "$(awk '{print $2}' dist/SHA256SUMS)" \
	"fcgicli-$version-1.x86_64.rpm
fcgicli_${version}_amd64.deb
$name.tar.gz"
same "the archive holds" "$(tar -tzf "dist/$name.tar.gz")" \
	"$name/
$name/CHANGELOG.md
$name/LICENSE
$name/README.md
$name/completions/
$name/completions/fcgicli.bash
$name/completions/fcgicli.fish
$name/completions/fcgicli.zsh
$name/fcgicli
$name/fcgicli.1"
tar -C "$work" -xzf "dist/$name.tar.gz"
bin=$work/$name/fcgicli
line=$("$bin" --version)
commit=$(git rev-parse HEAD)
[[ $line =~ ^fcgicli\ v$version\ \(commit\ $commit(\+dirty)?,\ [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z,\ go1[.0-9]+\ linux/amd64\)$ ]] ||
	fail "--version printed \"$line\", want v$version and commit $commit"
same "fcgicli version" "$("$bin" version)" "$line"
same "fcgicli -V" "$("$bin" -V)" "$line"
buildinfo=$(go version -m "$bin")
for want in CGO_ENABLED=0 -trimpath=true -tags=urfave_cli_no_docs; do
	grep -qF -- "$want" <<<"$buildinfo" || fail "the binary was not built with $want"
done
# -trimpath keeps -ldflags out of the build info: stripped (-s) shows as no symbols.
if go tool nm "$bin" >/dev/null 2>&1; then fail "the binary has a symbol table: not stripped"; fi
# The Dockerfile's build: the same binary, version line and all.
scripts/release.sh --binary "$version" "$work/docker-fcgicli"
same "release.sh --binary's --version" "$("$work/docker-fcgicli" --version)" "$line"
step "archive, checksums, --version, --binary"

# An empty root: the binary and a php-fpm socket (a hard link to it).
find_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	fail "no free port"
}
fpm_env=$(scripts/php-fpm.sh start "$fpm_dir" "$(find_port)" "$(find_port)")
eval "$fpm_env"
empty=$work/root
mkdir "$empty"
cp "$bin" "$empty/fcgicli"
ln "$FPM_SOCK" "$empty/fpm.sock"
in_root() { env -i /usr/sbin/chroot "$empty" /fcgicli "$@"; }
same "in the empty root, request" "$(in_root request -c /fpm.sock "$DOCROOT/index.php?name=scratch")" \
	"method=GET
query=name=scratch
hello scratch"
out=$(in_root ping -c /fpm.sock --color never)
[[ $out =~ ^OK\ pong\  ]] || fail "in the empty root, ping printed \"$out\""
out=$(in_root request -c builtin '/x?y=1')
grep -qx '  QUERY_STRING=y=1' <<<"$out" || fail "in the empty root, -c builtin printed:"$'\n'"$out"
out=$(echo hello | in_root request -c builtin /x -d @-)
grep -qx '  CONTENT_LENGTH=6' <<<"$out" || fail "in the empty root, a body from a pipe gave:"$'\n'"$out"
# php needs a directory the pool shares, and says so when there is none.
rc=0
out=$(in_root php eval 'echo 1;' -c /fpm.sock 2>&1) || rc=$?
[ "$rc" = 2 ] || fail "in the empty root, php without --tmp-dir exited $rc, want 2: $out"
same "in the empty root, php without --tmp-dir" "$out" "fcgicli: no --tmp-dir given, and neither /dev/shm nor /tmp is a directory here: give --tmp-dir a directory the pool sees under the same path"
same "in the empty root, --version" "$(in_root --version)" "$line"
same "the empty root holds" "$(ls -A "$empty")" "fcgicli
fpm.sock"
scripts/php-fpm.sh stop "$fpm_dir"
step "the binary in an empty root (chroot): request, ping, -c builtin, a body from a pipe"

# The deb.
dpkg -i "dist/fcgicli_${version}_amd64.deb" >/dev/null
installed=1
same "installed fcgicli --version" "$(/usr/bin/fcgicli --version)" "$line"
same "man -w fcgicli" "$(man -w fcgicli)" /usr/share/man/man1/fcgicli.1.gz
same "bash completion of 'fcgicli req'" "$(bash -c '
	source /usr/share/bash-completion/completions/fcgicli
	COMP_WORDS=(fcgicli req) COMP_CWORD=1 COMP_LINE="fcgicli req" COMP_POINT=11
	_fcgicli
	printf "%s\n" "${COMPREPLY[@]}"')" request
same "dpkg -L fcgicli" "$(dpkg -L fcgicli | LC_ALL=C sort)" "/usr
/usr/bin
/usr/bin/fcgicli
/usr/share
/usr/share/bash-completion
/usr/share/bash-completion/completions
/usr/share/bash-completion/completions/fcgicli
/usr/share/doc
/usr/share/doc/fcgicli
/usr/share/doc/fcgicli/copyright
/usr/share/fish
/usr/share/fish/vendor_completions.d
/usr/share/fish/vendor_completions.d/fcgicli.fish
/usr/share/man
/usr/share/man/man1
/usr/share/man/man1/fcgicli.1.gz
/usr/share/zsh
/usr/share/zsh/vendor-completions
/usr/share/zsh/vendor-completions/_fcgicli"
dpkg -r fcgicli >/dev/null
installed=
[ ! -e /usr/bin/fcgicli ] || fail "/usr/bin/fcgicli is still there after dpkg -r"
step "deb: dpkg -i, --version, man -w, bash completion, dpkg -L, dpkg -r"

# The rpm.
same "the rpm's files" "$(cd scripts/nfpm && go run ./rpmfiles "$root/dist/fcgicli-$version-1.x86_64.rpm")" \
	"100755 /usr/bin/fcgicli
100644 /usr/share/bash-completion/completions/fcgicli
100644 /usr/share/fish/vendor_completions.d/fcgicli.fish
100644 /usr/share/licenses/fcgicli/LICENSE
100644 /usr/share/man/man1/fcgicli.1.gz
100644 /usr/share/zsh/site-functions/_fcgicli"
step "rpm: its file list"

# Every other target compiles.
scripts/release.sh --build-only "$version" linux/arm64 linux/386 linux/arm darwin/amd64 darwin/arm64 freebsd/amd64 windows/amd64
step "cross builds"

if docker info >/dev/null 2>&1; then
	docker build --check .
	step "Dockerfile checked (docker build --check)"
else
	echo "release-check: no docker daemon here: the Dockerfile was not checked or built"
fi
echo "release-check: all ok in $((SECONDS - t0))s"
