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
# shellcheck source=scripts/lib/trixie_root.sh
. "$src/scripts/lib/trixie_root.sh"
trixie_init "$src" "$work"

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	trixie_release_work
	[ "$rc" -eq 0 ] && log "PASS" || log "exit $rc"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

trixie_release_work # a run killed with SIGKILL may have left processes and mounts
trixie_make_root
trixie_copy_source

# ---------------------------------------------------------------- the suite

trixie_enter
args=${TRIXIE_CTEST_ARGS:--LE images|compose-live|multihost|k8s|trixie}
log "scripts/test $args, in the root (loopback only)"
rc=0
# shellcheck disable=SC2086 # the arguments are ctest's, split as a shell would
trixie_run SANITIZE="${TRIXIE_SANITIZE:-0}" FUZZ=0 TEST_INSTANCE=trixie RPC_TLS="${RPC_TLS:-on}" \
	/bin/bash -c 'cd /src && exec scripts/test "$@"' trixie $args || rc=$?
log "versions: $(chroot "$trixie_root" dpkg-query -W -f='${Package} ${Version}, ' libnng1 libhiredis1.1.0 librabbitmq4 libcivetweb1 postgresql-17 rabbitmq-server redis-server 2>/dev/null)"
[ "$rc" -eq 0 ] || fail "scripts/test in the trixie root exited $rc"
