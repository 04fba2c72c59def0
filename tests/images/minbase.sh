# shellcheck shell=bash
# Sourced by tests/images/test_images.sh, tests/compose/test_compose_live.sh
# and tests/trixie/test_trixie.sh: a Debian minbase root of one suite
# (bookworm or trixie), set up as the official debian images are (their apt
# sources, dpkg's force-unsafe-io), kept as one tarball per suite in a cache
# folder so that only the first run pays for debootstrap (20 s to a minute).
# The suite is each function's last, optional argument; without it,
# $minbase_suite (bookworm unless the caller sets it before sourcing).
#
# minbase_suite_of IMAGE: the suite an official debian image stands for
# (debian:trixie-slim -> trixie, debian:12 -> bookworm); returns 1 for any
# other image, which no minbase root models.
# minbase_key [SUITE]: the cache key of SUITE's root.
# minbase_tar CACHE-DIR LOG-FILE [SUITE]: prints the tarball's path, making
# it first when the cache has none. Needs root and Debian's mirror then.
# Environment: IMAGES_MIRROR (http://deb.debian.org/debian),
# IMAGES_SECURITY_MIRROR (http://deb.debian.org/debian-security).
# Returns 1, with debootstrap's log tail on stderr, when debootstrap fails.

minbase_mirror=${IMAGES_MIRROR:-http://deb.debian.org/debian}
minbase_security=${IMAGES_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
minbase_suite=${minbase_suite:-bookworm} # a caller may set trixie before sourcing

minbase_suite_of() {
	case "$1" in
	debian:bookworm | debian:bookworm-slim | debian:12 | debian:12-slim) echo bookworm ;;
	debian:trixie | debian:trixie-slim | debian:13 | debian:13-slim) echo trixie ;;
	*) return 1 ;;
	esac
}

# The cache key: what the root is made from (v1: the layout below), the
# suite first among them.
minbase_key() {
	local suite=${1:-$minbase_suite}
	printf '%s\n' v1 "$suite" "$minbase_mirror" "$minbase_security" minbase | sha256sum | cut -c1-16
}

# Unmount everything below $1, deepest first (debootstrap mounts /proc and
# /sys itself and leaves them behind when it fails).
minbase_unmount_below() {
	local m
	findmnt -rn -o TARGET | awk -v r="$1/" 'index($0, r) == 1' | sort -r | while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m" || echo "could not unmount $m" >&2
	done
}

minbase_tar() {
	local cache=$1 log=$2 suite=${3:-$minbase_suite} tarball dir
	tarball=$cache/minbase-$(minbase_key "$suite").tar
	if [ ! -f "$tarball" ]; then
		mkdir -p "$cache"
		dir=$(mktemp -d "$cache/minbase-root.XXXXXX")
		chmod 755 "$dir" # it becomes the image's /: mktemp's 700 shuts out every other user
		if ! debootstrap --variant=minbase --arch=amd64 "$suite" "$dir" "$minbase_mirror" >"$log" 2>&1; then
			tail -n 30 "$log" >&2
			minbase_unmount_below "$dir"
			rm -rf --one-file-system "$dir"
			return 1
		fi
		minbase_unmount_below "$dir"
		rm -f "$dir/etc/apt/sources.list"
		cat >"$dir/etc/apt/sources.list.d/debian.sources" <<-EOF
			Types: deb
			URIs: $minbase_mirror
			Suites: $suite $suite-updates
			Components: main
			Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

			Types: deb
			URIs: $minbase_security
			Suites: $suite-security
			Components: main
			Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
		EOF
		echo force-unsafe-io >"$dir/etc/dpkg/dpkg.cfg.d/docker-apt-speedup"
		rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
		tar --numeric-owner -C "$dir" -cf "$tarball.tmp" .
		mv "$tarball.tmp" "$tarball"
		rm -rf --one-file-system "$dir"
	fi
	echo "$tarball"
}
