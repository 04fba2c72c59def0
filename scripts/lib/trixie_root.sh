# shellcheck shell=bash
# A debootstrapped Debian 13 "trixie" root with the project's packages, and
# a network namespace of its own (loopback only) to run things in it: what
# tests/trixie/test_trixie.sh runs the suite in and bench/platforms measures
# Debian 13's libraries in. Trixie's libraries need glibc 2.38 and do not
# load on Debian 12, so a root is the way to use them here. Needs root
# (debootstrap, chroot, mount, unshare, nsenter).
#
# Sourced (bash, set -euo pipefail) by a script that defines log MESSAGE and
# fail MESSAGE (prints and exits non-zero), then calls:
#   trixie_init SOURCE-DIR WORK-DIR   sets trixie_src, trixie_work and
#       trixie_root: WORK-DIR/root-KEY, keyed by what makes it
#       (tests/images/minbase.sh's key, the package list, scripts/bootstrap),
#       so a root is made once and kept between runs (one root is kept)
#   trap trixie_release_work on exit, and call it once first: a run killed
#       with SIGKILL may have left processes and mounts
#   trixie_make_root        debootstrap and apt, unless the root is ready
#   trixie_copy_source      the checkout's files into the root's /src
#   trixie_enter            mounts what runs in the root needs and makes its
#                           network namespace, until trixie_release_work
#   trixie_run [NAME=VALUE...] CMD...   CMD in the root and its namespace,
#       in a clean environment (PATH, HOME=/root, LANG and the NAME=VALUEs)
# Environment: IMAGES_MIRROR, IMAGES_SECURITY_MIRROR (tests/images/minbase.sh).

trixie_chroot_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

trixie_init() {
	trixie_src=$(cd "$1" && pwd)
	mkdir -p "$2"
	trixie_work=$(cd "$2" && pwd)
	local t
	for t in debootstrap chroot unshare nsenter findmnt sha256sum tar ip; do
		command -v "$t" >/dev/null || fail "$t is missing (scripts/bootstrap test)"
	done
	minbase_suite=trixie
	# shellcheck source=tests/images/minbase.sh
	. "$trixie_src/tests/images/minbase.sh"
	local key
	key=$(cat <(minbase_key) "$trixie_src/third_party/debian-packages.txt" "$trixie_src/scripts/bootstrap" |
		sha256sum | cut -c1-16)
	trixie_root=$trixie_work/root-$key
	trixie_netns=$trixie_work/netns
}

# Processes whose root directory is in the work folder: only ones started
# through this file.
trixie_procs_in_work() {
	local p r
	for p in /proc/[0-9]*; do
		r=$(readlink "$p/root" 2>/dev/null) || continue
		case "$r" in "$trixie_work"/*) echo "${p#/proc/}" ;; esac
	done
}

# Stops what runs in the roots (SIGTERM first: the servers flush), then
# unmounts everything below the work folder, deepest first (the network
# namespace's file too).
trixie_release_work() {
	local pids m
	pids=$(trixie_procs_in_work | tr '\n' ' ')
	if [ -n "$pids" ]; then
		# shellcheck disable=SC2086
		kill -TERM $pids 2>/dev/null || true
		sleep 2
		pids=$(trixie_procs_in_work | tr '\n' ' ')
		# shellcheck disable=SC2086
		[ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
	fi
	findmnt -rn -o TARGET | awk -v r="$trixie_work/" 'index($0, r) == 1' | sort -r | while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m" || log "could not unmount $m"
	done
}

# What the tests need of the kernel, below the root. The root is a mount
# point of its own, so that a test making a mount namespace of its own can
# mark "/" private (unit_address_set's hosts file: the drain of an address
# gone from a name), which it otherwise skips.
trixie_mount_root() {
	mount --bind "$trixie_root" "$trixie_root"
	mount -t proc proc "$trixie_root/proc"
	mount -t sysfs sysfs "$trixie_root/sys"
	mount --rbind /dev "$trixie_root/dev"
	mount --make-rslave "$trixie_root/dev"
}

trixie_make_root() {
	[ ! -f "$trixie_root/.ready" ] || return 0
	local t0=$SECONDS old tarball
	# Roots of other keys are stale: one root is kept.
	for old in "$trixie_work"/root-*; do
		[ -e "$old" ] && rm -rf --one-file-system "$old"
	done
	[ -f "$trixie_work/cache/minbase-$(minbase_key).tar" ] || log "debootstrap --variant=minbase trixie (cold cache)"
	tarball=$(minbase_tar "$trixie_work/cache" "$trixie_work/debootstrap.log") ||
		fail "debootstrap failed (log: $trixie_work/debootstrap.log)"
	mkdir -p "$trixie_root"
	tar --numeric-owner -C "$trixie_root" -xf "$tarball"
	mkdir -p "$trixie_root/opt/bootstrap/scripts" "$trixie_root/opt/bootstrap/third_party"
	cp "$trixie_src/scripts/bootstrap" "$trixie_root/opt/bootstrap/scripts/"
	cp "$trixie_src/third_party/debian-packages.txt" "$trixie_root/opt/bootstrap/third_party/"
	cp -L /etc/resolv.conf "$trixie_root/etc/resolv.conf"
	trixie_mount_root
	log "installing trixie's packages (scripts/bootstrap in the root)"
	chroot "$trixie_root" /usr/bin/env -i PATH="$trixie_chroot_path" HOME=/root /opt/bootstrap/scripts/bootstrap \
		>"$trixie_work/bootstrap.log" 2>&1 || {
		tail -n 30 "$trixie_work/bootstrap.log" >&2
		fail "apt in the root failed (log: $trixie_work/bootstrap.log)"
	}
	trixie_release_work
	rm -rf "$trixie_root"/var/cache/apt/archives/*.deb "$trixie_root"/var/lib/apt/lists/*
	# Names the tests dial (localhost for the TLS certificates, the host
	# name RabbitMQ's node is named after); no DNS in the root's network.
	printf '127.0.0.1\tlocalhost %s\n::1\tlocalhost ip6-localhost ip6-loopback\n' "$(hostname)" >"$trixie_root/etc/hosts"
	touch "$trixie_root/.ready"
	log "root with its packages made in $((SECONDS - t0)) s ($trixie_root)"
}

# The checkout's files as they are (tracked and untracked, not the ignored:
# no build folder, no .run), over the previous copy: unchanged files keep
# their times, so a build in the root is incremental.
trixie_copy_source() {
	local t0=$SECONDS
	mkdir -p "$trixie_root/src"
	# A build made from another checkout may hold objects newer than this
	# one's older files (a worktree of an earlier commit): make would keep
	# them, so a build follows one checkout only.
	if [ "$(cat "$trixie_root/src/.run-source" 2>/dev/null)" != "$trixie_src" ]; then
		rm -rf --one-file-system "$trixie_root/src/build"
	fi
	find "$trixie_root/src" -mindepth 1 -maxdepth 1 ! -name build ! -name .run -exec rm -rf --one-file-system {} +
	if git -C "$trixie_src" rev-parse --git-dir >/dev/null 2>&1; then
		git -C "$trixie_src" ls-files -z -co --exclude-standard |
			tar -C "$trixie_src" --null -T - -cf - | tar -C "$trixie_root/src" -xf -
	else
		tar -C "$trixie_src" --exclude=./build --exclude=./.run --exclude=./.git -cf - . |
			tar -C "$trixie_root/src" -xf -
	fi
	printf '%s\n' "$trixie_src" >"$trixie_root/src/.run-source"
	log "source copied in $((SECONDS - t0)) s"
}

# The mounts, and a network namespace kept by a file of the work folder
# (unshare --net=FILE), so that every trixie_run meets the same loopback:
# servers started by one are reached by the next, and nothing of the
# machine's (no port of its own needed).
trixie_enter() {
	trixie_mount_root
	touch "$trixie_netns"
	unshare --net="$trixie_netns" true
	nsenter --net="$trixie_netns" ip link set lo up
}

trixie_run() {
	local vars=()
	while [ $# -gt 0 ] && [[ $1 == [A-Za-z_]*=* ]]; do
		vars+=("$1")
		shift
	done
	nsenter --net="$trixie_netns" chroot "$trixie_root" /usr/bin/env -i PATH="$trixie_chroot_path" HOME=/root \
		LANG=C.UTF-8 "${vars[@]}" "$@"
}
