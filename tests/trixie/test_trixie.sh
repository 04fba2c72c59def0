#!/usr/bin/env bash
# The suite on Debian 13 "trixie" (ctest -L trixie): the project built with
# trixie's compilers and libraries (nng 1.10, hiredis 1.2, librabbitmq 0.15,
# CivetWeb 1.16, PostgreSQL 17, RabbitMQ 4) and its tests run against
# trixie's servers, inside a debootstrapped trixie root. Trixie's libraries
# need glibc 2.38 and do not load on Debian 12, so a root is the way to test
# them here.
#
# What runs inside is scripts/test itself, on a copy of the checkout's files
# (tracked and untracked, not ignored ones), with every label but those that
# need a machine of their own: images and compose-live (debootstrap and a
# container engine), multihost (network namespaces of the host), k8s and
# trixie. SANITIZE=0 and FUZZ=0 unless TRIXIE_SANITIZE=1 (the ASan pass,
# about six minutes more). The root runs in a network namespace of its own
# (loopback only), so its servers and test processes meet nothing of the
# machine's and need no port of their own.
#
# Usage: test_trixie.sh SOURCE-DIR WORK-DIR       (as root; exits 77 otherwise)
# WORK-DIR keeps the root, with its packages and its build folders, between
# runs: keyed by what makes it (tests/images/minbase.sh's key, the package
# list and scripts/bootstrap), so a warm run skips debootstrap and apt and
# builds only what changed. KEEP_ROOT=1 leaves the last run's servers' logs.
# Environment: IMAGES_MIRROR, IMAGES_SECURITY_MIRROR (tests/images/minbase.sh);
# TRIXIE_BUDGET_S (2400): the whole run is stopped, and cleaned up, after it;
# TRIXIE_CTEST_ARGS: ctest's arguments inside, instead of the label filter.
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 SOURCE-DIR WORK-DIR" >&2; exit 2; }
src=$(cd "$1" && pwd)
mkdir -p "$2"
work=$(cd "$2" && pwd)

if [ "$(id -u)" -ne 0 ]; then
	echo "trixie: SKIPPED: needs root (debootstrap, chroot, mount, unshare)" >&2
	exit 77
fi
# Re-run under timeout(1): on expiry it signals our whole process group, so
# the EXIT trap below still stops what runs in the root and unmounts.
if [ -z "${TRIXIE_UNDER_TIMEOUT:-}" ]; then
	TRIXIE_UNDER_TIMEOUT=1 exec timeout -k 30 "${TRIXIE_BUDGET_S:-2400}" "$0" "$@"
fi

exec 9>&2
log() { printf '[trixie %4ss] %s\n' "$SECONDS" "$*" >&9; }
fail() {
	log "FAIL: $*"
	exit 1
}
for t in debootstrap chroot unshare findmnt sha256sum tar; do
	command -v "$t" >/dev/null || fail "$t is missing (scripts/bootstrap test)"
done

chroot_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
minbase_suite=trixie
# shellcheck source=tests/images/minbase.sh
. "$src/tests/images/minbase.sh"
key=$(cat <(minbase_key) "$src/third_party/debian-packages.txt" "$src/scripts/bootstrap" | sha256sum | cut -c1-16)
root=$work/root-$key

# ---------------------------------------------------------------- cleanup

# Processes whose root directory is in $work: only ones this test started.
procs_in_work() {
	local p r
	for p in /proc/[0-9]*; do
		r=$(readlink "$p/root" 2>/dev/null) || continue
		case "$r" in "$work"/*) echo "${p#/proc/}" ;; esac
	done
}

# Stops what runs in the roots (SIGTERM first: the servers flush), then
# unmounts everything below $work, deepest first.
release_work() {
	local pids m
	pids=$(procs_in_work | tr '\n' ' ')
	if [ -n "$pids" ]; then
		# shellcheck disable=SC2086
		kill -TERM $pids 2>/dev/null || true
		sleep 2
		pids=$(procs_in_work | tr '\n' ' ')
		# shellcheck disable=SC2086
		[ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
	fi
	findmnt -rn -o TARGET | awk -v r="$work/" 'index($0, r) == 1' | sort -r | while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m" || log "could not unmount $m"
	done
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	release_work
	[ "$rc" -eq 0 ] && log "PASS" || log "exit $rc"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

release_work # a run killed with SIGKILL may have left processes and mounts

# mount_root: what the tests need of the kernel, below $root, until cleanup.
# The root is a mount point of its own, so that a test making a mount
# namespace of its own can mark "/" private (unit_address_set's hosts file:
# the drain of an address gone from a name), which it otherwise skips.
mount_root() {
	mount --bind "$root" "$root"
	mount -t proc proc "$root/proc"
	mount -t sysfs sysfs "$root/sys"
	mount --rbind /dev "$root/dev"
	mount --make-rslave "$root/dev"
}

# ---------------------------------------------------------------- the root

if [ ! -f "$root/.ready" ]; then
	t0=$SECONDS
	# Roots of other keys are stale: one root is kept.
	for old in "$work"/root-*; do
		[ -e "$old" ] && rm -rf --one-file-system "$old"
	done
	[ -f "$work/cache/minbase-$(minbase_key).tar" ] || log "debootstrap --variant=minbase trixie (cold cache)"
	tarball=$(minbase_tar "$work/cache" "$work/debootstrap.log") || fail "debootstrap failed (log: $work/debootstrap.log)"
	mkdir -p "$root"
	tar --numeric-owner -C "$root" -xf "$tarball"
	mkdir -p "$root/opt/bootstrap/scripts" "$root/opt/bootstrap/third_party"
	cp "$src/scripts/bootstrap" "$root/opt/bootstrap/scripts/"
	cp "$src/third_party/debian-packages.txt" "$root/opt/bootstrap/third_party/"
	cp -L /etc/resolv.conf "$root/etc/resolv.conf"
	mount_root
	log "installing trixie's packages (scripts/bootstrap in the root)"
	chroot "$root" /usr/bin/env -i PATH="$chroot_path" HOME=/root /opt/bootstrap/scripts/bootstrap \
		>"$work/bootstrap.log" 2>&1 || { tail -n 30 "$work/bootstrap.log" >&2; fail "apt in the root failed (log: $work/bootstrap.log)"; }
	release_work
	rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
	# Names the tests dial (localhost for the TLS certificates, the host
	# name RabbitMQ's node is named after); no DNS in the root's network.
	printf '127.0.0.1\tlocalhost %s\n::1\tlocalhost ip6-localhost ip6-loopback\n' "$(hostname)" >"$root/etc/hosts"
	touch "$root/.ready"
	log "root with its packages made in $((SECONDS - t0)) s ($root)"
fi

# ---------------------------------------------------------------- the source

# The checkout's files as they are (tracked and untracked, not the ignored:
# no build folder, no .run), over the previous copy: unchanged files keep
# their times, so the build in the root is incremental.
t0=$SECONDS
mkdir -p "$root/src"
find "$root/src" -mindepth 1 -maxdepth 1 ! -name build ! -name .run -exec rm -rf --one-file-system {} +
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
	git -C "$src" ls-files -z -co --exclude-standard | tar -C "$src" --null -T - -cf - | tar -C "$root/src" -xf -
else
	tar -C "$src" --exclude=./build --exclude=./.run --exclude=./.git -cf - . | tar -C "$root/src" -xf -
fi
log "source copied in $((SECONDS - t0)) s"

# ---------------------------------------------------------------- the suite

mount_root
args=${TRIXIE_CTEST_ARGS:--LE images|compose-live|multihost|k8s|trixie}
log "scripts/test $args, in the root (loopback only)"
rc=0
# shellcheck disable=SC2086 # the arguments are ctest's, split as a shell would
unshare --net chroot "$root" /usr/bin/env -i PATH="$chroot_path" HOME=/root LANG=C.UTF-8 \
	SANITIZE="${TRIXIE_SANITIZE:-0}" FUZZ=0 TEST_INSTANCE=trixie RPC_TLS="${RPC_TLS:-on}" \
	/bin/bash -c 'ip link set lo up && cd /src && exec scripts/test "$@"' trixie $args || rc=$?
log "versions: $(chroot "$root" dpkg-query -W -f='${Package} ${Version}, ' libnng1 libhiredis1.1.0 librabbitmq4 libcivetweb1 postgresql-17 rabbitmq-server redis-server 2>/dev/null)"
[ "$rc" -eq 0 ] || fail "scripts/test in the trixie root exited $rc"
