#!/usr/bin/env bash
# Builds a release into dist/:
#
#   scripts/release.sh VERSION [GOOS/GOARCH...]
#       for each target (default: every one below), a static binary
#       (CGO_ENABLED=0, -trimpath, stripped, the release build tag) with
#       the version, the commit and the commit's date stamped in, archived
#       with README.md, LICENSE, CHANGELOG.md, the man page and the
#       completions (.tar.gz; .zip for Windows); for each linux target a
#       deb and an rpm, built by nfpm (scripts/nfpm); and SHA256SUMS.
#   scripts/release.sh --build-only VERSION [GOOS/GOARCH...]
#       only compiles the targets, writing nothing.
#   scripts/release.sh --binary VERSION OUT
#       builds the binary for GOOS/GOARCH from the environment (default:
#       this machine) to OUT, as the Dockerfile does.
#
# VERSION is semver, with or without its "v": 0.1.0, v0.1.0, 0.2.0-rc.1.
# The commit and date come from git (the commit gets "+dirty" when tracked
# files have changes); FCGICLI_COMMIT and FCGICLI_DATE override them where
# there is no checkout. linux/arm is ARMv7 (GOARM=7), named armv7.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

all_targets=(linux/amd64 linux/arm64 linux/386 linux/arm darwin/amd64 darwin/arm64 freebsd/amd64 windows/amd64)

usage() {
	echo "usage: scripts/release.sh [--build-only] VERSION [GOOS/GOARCH...] | --binary VERSION OUT" >&2
	exit 2
}

mode=release
case "${1:-}" in
--build-only) mode=build-only; shift ;;
--binary) mode=binary; shift ;;
-*) usage ;;
esac
[ $# -ge 1 ] || usage
version=${1#v}
shift
if ! [[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then
	echo "release.sh: version \"$version\" is not semver (want 1.2.3 or 1.2.3-rc.1)" >&2
	exit 2
fi

commit=${FCGICLI_COMMIT:-}
if [ -z "$commit" ]; then
	commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
	if [ "$commit" != unknown ] && [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
		commit+=+dirty
	fi
fi
date=${FCGICLI_DATE:-$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ 2>/dev/null || echo unknown)}
pkg=github.com/fcgicli/fcgicli/commands/version
ldflags="-s -w -X $pkg.version=v$version -X $pkg.commit=$commit -X $pkg.date=$date"

# build GOOS/GOARCH OUT: the release binary for a target.
build() {
	local os=${1%/*} arch=${1#*/}
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch GOARM=7 \
		go build -trimpath -buildvcs=false -tags urfave_cli_no_docs -ldflags "$ldflags" -o "$2" .
}

# known GOOS/GOARCH: whether the target is one of all_targets.
known() {
	local t
	for t in "${all_targets[@]}"; do [ "$t" = "$1" ] && return 0; done
	return 1
}

if [ "$mode" = binary ]; then
	[ $# -eq 1 ] || usage
	build "$(go env GOOS)/$(go env GOARCH)" "$1"
	exit 0
fi

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
	known "$t" || { echo "release.sh: unknown target $t (known: ${all_targets[*]})" >&2; exit 2; }
done

if [ "$mode" = build-only ]; then
	for t in "${targets[@]}"; do
		start=$SECONDS
		build "$t" /dev/null
		echo "release.sh: built $t in $((SECONDS - start))s"
	done
	exit 0
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
rm -rf dist
mkdir dist
# Archives hold the files with the commit's date, fixed modes, root's
# ownership and a fixed order, so that the same commit gives the same bytes.
mtime=$date
[ "$mtime" != unknown ] || mtime=@0
nfpm=
for t in "${targets[@]}"; do
	start=$SECONDS
	os=${t%/*} arch=${t#*/}
	name_arch=$arch
	[ "$arch" != arm ] || name_arch=armv7
	name=fcgicli_${version}_${os}_${name_arch}
	dir=$stage/$name
	exe=fcgicli
	[ "$os" != windows ] || exe=fcgicli.exe
	mkdir -p "$dir/completions"
	build "$t" "$dir/$exe"
	cp README.md LICENSE CHANGELOG.md fcgicli.1 "$dir/"
	cp completions/fcgicli.bash completions/fcgicli.zsh completions/fcgicli.fish "$dir/completions/"
	chmod 644 "$dir"/*.* "$dir"/LICENSE "$dir"/completions/*
	chmod 755 "$dir" "$dir/completions" "$dir/$exe"
	touch -d "$mtime" "$dir" "$dir"/* "$dir"/completions/*
	if [ "$os" = windows ]; then
		(cd "$stage" && find "$name" | LC_ALL=C sort | TZ=UTC zip -X -q "$root/dist/$name.zip" -@)
	else
		tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner --mtime="$mtime" -cf - "$name" |
			gzip -9n >"dist/$name.tar.gz"
	fi
	if [ "$os" = linux ]; then
		gzip -9nc fcgicli.1 >"$dir/fcgicli.1.gz"
		if [ -z "$nfpm" ]; then
			nfpm=$stage/nfpm
			(cd scripts/nfpm && CGO_ENABLED=0 go build -o "$nfpm" github.com/goreleaser/nfpm/v2/cmd/nfpm)
		fi
		nfpm_arch=$arch
		[ "$arch" != arm ] || nfpm_arch=arm7
		for packager in deb rpm; do
			(cd "$dir" && FCGICLI_VERSION=$version FCGICLI_ARCH=$nfpm_arch SOURCE_DATE_EPOCH=$(date -d "$mtime" +%s) \
				"$nfpm" package \
				-f "$root/scripts/nfpm/nfpm.yaml" -p "$packager" -t "$root/dist/" >/dev/null)
		done
	fi
	echo "release.sh: $t in $((SECONDS - start))s"
done
(cd dist && sha256sum -- fcgicli[_-]* >SHA256SUMS)
ls dist
