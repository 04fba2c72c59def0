#!/usr/bin/env bash
# The container images without a Docker engine (ctest -L images).
# Plays compose/Dockerfile's "build" and "runtime" stages in Debian roots
# made with debootstrap, of the suite each stage's FROM names (debian:trixie
# and trixie-slim: Debian 13; bookworm: 12): COPY, WORKDIR, ENV and USER are
# emulated, and every RUN line runs verbatim in a chroot, as `docker build`
# would run it. Then:
#   - the binaries built in the build root answer --help there;
#   - in the runtime root, which has only what the runtime stage installed,
#     ldd finds every library of every binary, each library a binary needs
#     directly (DT_NEEDED) is from a package that a 'runtime' row of
#     third_party/debian-packages.txt names or the minbase root has, and
#     each image's entrypoint answers --help as the image's user with the
#     image's ENV.
# An official debian image and its -slim variant are both modelled by a
# minbase root of their suite (the official images are built as minbase
# too); a FROM of any other image is refused.
#
# Usage: test_images.sh SOURCE-DIR WORK-DIR      (as root)
# WORK-DIR/cache keeps the minbase root and each stage's package layer as
# tarballs, keyed like Docker's layer cache (the instructions and the files
# they copy), so a second run skips debootstrap and apt. KEEP_ROOTS=1 keeps
# WORK-DIR/roots for a look after the run.
# Environment: IMAGES_MIRROR (http://deb.debian.org/debian),
# IMAGES_SECURITY_MIRROR (http://deb.debian.org/debian-security),
# IMAGES_BUDGET_S (1500): the whole run is stopped, and cleaned up, after it.
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 SOURCE-DIR WORK-DIR" >&2; exit 2; }
src=$(cd "$1" && pwd)
mkdir -p "$2"
work=$(cd "$2" && pwd)

# Re-run under timeout(1): on expiry it signals our whole process group
# (debootstrap, apt, make...), so the EXIT trap below still unmounts.
if [ -z "${IMAGES_UNDER_TIMEOUT:-}" ]; then
	IMAGES_UNDER_TIMEOUT=1 exec timeout -k 30 "${IMAGES_BUDGET_S:-1500}" "$0" "$@"
fi

mirror=${IMAGES_MIRROR:-http://deb.debian.org/debian}
dockerfile=$src/compose/Dockerfile
cache=$work/cache
roots=$work/roots
chroot_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin # Docker's default PATH

# fd 9 is our stderr, even when a trap runs inside a redirected call.
exec 9>&2
log() { printf '[images %4ss] %s\n' "$SECONDS" "$*" >&9; }
fail() {
	log "FAIL: $*"
	exit 1
}

[ "$(id -u)" -eq 0 ] || fail "needs root (debootstrap, chroot, mount)"
for t in debootstrap chroot findmnt sha256sum tar readelf; do
	command -v "$t" >/dev/null || fail "$t is missing (scripts/bootstrap test)"
done

# ---------------------------------------------------------------- cleanup

# Processes whose root directory is inside our roots: only ones we started.
procs_in_roots() {
	local p r
	for p in /proc/[0-9]*; do
		r=$(readlink "$p/root" 2>/dev/null) || continue
		case "$r" in "$roots"/*) echo "${p#/proc/}" ;; esac
	done
}

kill_in_roots() {
	local pids
	pids=$(procs_in_roots | tr '\n' ' ')
	[ -n "$pids" ] || return 0
	log "killing processes left in the roots: $pids"
	# shellcheck disable=SC2086
	kill -KILL $pids 2>/dev/null || true
	sleep 0.5
}

# Every mount under our roots, deepest first (debootstrap mounts /proc and
# /sys itself and leaves them on failure).
unmount_roots() {
	local m
	findmnt -rn -o TARGET | awk -v r="$roots/" 'index($0, r) == 1' | sort -r | while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m" || log "could not unmount $m"
	done
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	kill_in_roots
	unmount_roots
	if [ "${KEEP_ROOTS:-0}" = 1 ]; then
		log "kept $roots"
	else
		rm -rf --one-file-system "$roots"
	fi
	[ "$rc" -eq 0 ] && log "PASS" || log "exit $rc"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# A previous run killed with SIGKILL may have left mounts and processes.
kill_in_roots
unmount_roots
rm -rf --one-file-system "$roots"
mkdir -p "$cache" "$roots"

# ---------------------------------------------------------------- chroot

# in_root ROOT [--user U] [--workdir D] [VAR=VALUE...] -- CMD...: run CMD in
# ROOT with a clean environment, /proc and /dev mounted only meanwhile.
in_root() {
	local root=$1 user="" dir=/ rc=0
	shift
	local vars=()
	while [ "$1" != -- ]; do
		case "$1" in
		--user) user=$2; shift 2 ;;
		--workdir) dir=$2; shift 2 ;;
		*) vars+=("$1"); shift ;;
		esac
	done
	shift
	mount -t proc proc "$root/proc"
	mount --bind /dev "$root/dev"
	cp -L /etc/resolv.conf "$root/etc/resolv.conf"
	local spec=()
	[ -z "$user" ] || spec=(--userspec="$user:$user")
	chroot "${spec[@]}" "$root" /usr/bin/env -i PATH="$chroot_path" HOME=/root "${vars[@]}" \
		/bin/sh -c 'cd "$0" && exec "$@"' "$dir" "$@" || rc=$?
	kill_in_roots
	umount "$root/dev" "$root/proc"
	return "$rc"
}

# ---------------------------------------------------------------- base root

# The minbase roots (tests/images/minbase.sh, shared with the compose-live
# test), one per suite the Dockerfile's FROM lines name.
# shellcheck source=tests/images/minbase.sh
. "$src/tests/images/minbase.sh"

# base_tar SUITE: where SUITE's minbase root is cached.
base_tar() { echo "$cache/minbase-$(minbase_key "$1").tar"; }

make_base() {
	local suite=$1 t0=$SECONDS
	log "debootstrap --variant=minbase $suite from $mirror (cold cache)"
	minbase_tar "$cache" "$work/debootstrap-$suite.log" "$suite" >/dev/null ||
		fail "debootstrap $suite failed (log: $work/debootstrap-$suite.log)"
	log "minbase root of $suite made in $((SECONDS - t0)) s"
}

# ---------------------------------------------------------------- Dockerfile

# The Dockerfile as instructions, one per line; a continuation line fails
# (the image RUN lines are single calls to project scripts, on purpose).
mapfile -t lines < <(grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$dockerfile")
for l in "${lines[@]}"; do
	[[ $l != *'\' ]] || fail "continuation line in $dockerfile: $l"
done

# stage_lines NAME: the instructions of stage NAME, without its FROM.
stage_lines() {
	local l in=0
	for l in "${lines[@]}"; do
		if [[ $l =~ ^FROM[[:space:]]+([^[:space:]]+)[[:space:]]+AS[[:space:]]+([^[:space:]]+)$ ]]; then
			[ "${BASH_REMATCH[2]}" = "$1" ] && in=1 || in=0
			continue
		fi
		[ $in -eq 0 ] || echo "$l"
	done
}

# stage_base NAME: the image or stage stage NAME starts FROM.
stage_base() {
	local l
	for l in "${lines[@]}"; do
		if [[ $l =~ ^FROM[[:space:]]+([^[:space:]]+)[[:space:]]+AS[[:space:]]+([^[:space:]]+)$ ]] &&
			[ "${BASH_REMATCH[2]}" = "$1" ]; then
			echo "${BASH_REMATCH[1]}"
			return 0
		fi
	done
	fail "no stage '$1' in $dockerfile"
}

# The build context as Docker sends it: the source tree minus .dockerignore
# (each pattern anchored at the context root, as Docker reads them).
context_tar() {
	local ex=() p
	if [ -f "$src/.dockerignore" ]; then
		while read -r p; do
			[ -n "$p" ] && [[ $p != \#* ]] || continue
			p=${p#/}
			ex+=(--exclude="./${p%/}")
		done <"$src/.dockerignore"
	fi
	tar -C "$src" --anchored "${ex[@]}" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - .
}

# copy_key ARGS: what a COPY's sources hold, for the layer key.
copy_key() {
	local a
	for a in "$@"; do
		case "$a" in
		--from=*) echo "$a" ;; # from a stage built in this same run
		.) context_tar | sha256sum ;;
		*) [ ! -f "$src/$a" ] || sha256sum "$src/$a" ;;
		esac
	done
}

# do_copy ROOT WORKDIR ARGS: COPY [--from=STAGE] SRC... DEST.
do_copy() {
	local root=$1 wd=$2 from="" dest s target
	shift 2
	case "$1" in --from=*) from=${1#--from=}; shift ;; esac
	local srcs=("${@:1:$#-1}")
	dest=${!#}
	[[ $dest == /* ]] || dest=$wd/$dest
	for s in "${srcs[@]}"; do
		if [ -n "$from" ]; then
			s=$roots/$from/${s#/}
		elif [ "$s" = . ]; then
			mkdir -p "$root$dest"
			context_tar | tar -C "$root$dest" -xf -
			continue
		else
			s=$src/$s
		fi
		[ -f "$s" ] || fail "COPY: $s is not a file"
		if [[ $dest == */ ]] || [ ${#srcs[@]} -gt 1 ]; then
			target=$root$dest/$(basename "$s")
		else
			target=$root$dest
		fi
		mkdir -p "$(dirname "$target")"
		cp -p "$s" "$target"
	done
}

# A RUN that installs packages is where a stage's layer is kept in the cache.
is_package_layer() { [[ $1 == RUN* && $1 == *scripts/bootstrap* ]]; }

# play_stage NAME: make roots/NAME by playing stage NAME. A stage FROM
# another stage is played into that stage's root (the images only add a
# file each). What lives in the image config rather than in files is kept
# per stage: WORKDIR, ENV, USER and ENTRYPOINT; and the suite of its root.
declare -A stage_wd stage_env stage_user stage_entry stage_suite
play_stage() {
	local name=$1 base root key i l start=0 wd=/ user="" t0 suite
	local -a ins keys env=()
	base=$(stage_base "$name") || exit 1
	mapfile -t ins < <(stage_lines "$name")
	if suite=$(minbase_suite_of "$base"); then
		# The suite is in the key (minbase_key), so a layer cached for
		# another FROM is never reused.
		root=$roots/$name
		key=$(minbase_key "$suite")
	else
		[[ $base != *:* ]] || fail "stage $name: FROM $base, an image no minbase root models (debian:bookworm, debian:trixie, -slim)"
		root=$roots/$base
		[ -d "$root" ] || fail "stage $name: base stage $base not played"
		key=""
		wd=${stage_wd[$base]}
		user=${stage_user[$base]}
		read -r -a env <<<"${stage_env[$base]}"
		suite=${stage_suite[$base]}
	fi
	stage_suite[$name]=$suite
	# 1. Each instruction's layer key: the previous key, the instruction and
	#    what it copies, as Docker's cache decides.
	for i in "${!ins[@]}"; do
		l=${ins[$i]}
		key=$({ echo "$key"; echo "$l"; [[ $l != COPY* ]] || copy_key ${l#COPY }; } | sha256sum | cut -c1-16)
		keys[$i]=$key
	done
	# 2. Start from the newest cached package layer of this stage, if any.
	if [ "$root" = "$roots/$name" ]; then
		mkdir -p "$root"
		for ((i = ${#ins[@]} - 1; i >= 0; i--)); do
			if is_package_layer "${ins[$i]}" && [ -f "$cache/layer-$name-${keys[$i]}.tar" ]; then
				log "$name: package layer from the cache (${ins[$i]})"
				tar --numeric-owner -C "$root" -xf "$cache/layer-$name-${keys[$i]}.tar"
				start=$((i + 1))
				break
			fi
		done
		if [ "$start" -eq 0 ]; then
			[ -f "$(base_tar "$suite")" ] || make_base "$suite"
			tar --numeric-owner -C "$root" -xf "$(base_tar "$suite")"
		fi
	fi
	# 3. Play the rest. WORKDIR, ENV and USER are replayed from the start
	#    since they live in the image config, not in the layer.
	for ((i = 0; i < ${#ins[@]}; i++)); do
		l=${ins[$i]}
		case "$l" in
		WORKDIR\ *) wd=${l#WORKDIR }; [ $i -lt $start ] || mkdir -p "$root$wd" ;;
		ENV\ *=*) env+=("${l#ENV }") ;;
		USER\ *) user=${l#USER } ;;
		ENTRYPOINT\ *) stage_entry[$name]=${l#ENTRYPOINT } ;;
		EXPOSE\ * | HEALTHCHECK\ * | CMD\ * | LABEL\ *) ;;
		COPY\ *)
			[ $i -lt $start ] && continue
			# shellcheck disable=SC2086
			do_copy "$root" "$wd" ${l#COPY }
			;;
		RUN\ *)
			[ $i -lt $start ] && continue
			t0=$SECONDS
			log "$name: ${l}"
			in_root "$root" ${user:+--user "$user"} --workdir "$wd" "${env[@]}" -- /bin/sh -c "${l#RUN }" \
				>>"$work/$name.log" 2>&1 || { tail -n 40 "$work/$name.log" >&2; fail "$name: '$l' failed (log: $work/$name.log)"; }
			log "$name: done in $((SECONDS - t0)) s"
			if is_package_layer "$l"; then
				rm -f "$cache/layer-$name-"*.tar
				tar --numeric-owner -C "$root" -cf "$cache/layer-$name-${keys[$i]}.tar.tmp" .
				mv "$cache/layer-$name-${keys[$i]}.tar.tmp" "$cache/layer-$name-${keys[$i]}.tar"
			fi
			;;
		*) fail "$name: instruction not modelled by this test: $l" ;;
		esac
	done
	stage_wd[$name]=$wd
	stage_user[$name]=$user
	stage_env[$name]="${env[*]}"
}

# ---------------------------------------------------------------- checks

: >"$work/build.log"
: >"$work/runtime.log"

# 1. The build stage: packages of the "build" role, then scripts/build-release.
play_stage build
log "build stage: FROM $(stage_base build), Debian $(cat "$roots/build/etc/debian_version"), $(in_root "$roots/build" -- gcc --version | sed -n 1p)"
mapfile -t built < <(cd "$roots/build/out/bin" && ls)
[ ${#built[@]} -gt 0 ] || fail "the build stage made no binaries in /out/bin"
log "built: ${built[*]}"
for b in "${built[@]}"; do
	in_root "$roots/build" -- "/out/bin/$b" --help >/dev/null || fail "build root: $b --help failed"
done

# 2. The runtime stage: packages of the "runtime" role only.
play_stage runtime
du_before=$(tar -tvf "$(base_tar "${stage_suite[runtime]}")" | awk '{s += $3} END {print int(s / 1048576)}')
du_after=$(du -sxm "$roots/runtime" | cut -f1)

# 3. Each image (stages FROM runtime): ldd, then its entrypoint's --help as
#    its user and with its ENV, then the health check's own usage.
mapfile -t targets < <(printf '%s\n' "${lines[@]}" | sed -n 's/^FROM runtime AS \([^ ]*\)$/\1/p')
[ ${#targets[@]} -ge 3 ] || fail "expected one image per binary, found: ${targets[*]}"
for t in "${targets[@]}"; do
	play_stage "$t"
done
# The packages a binary may link directly: the 'runtime' rows for the
# runtime root's release, and what its minbase root has (libc6...). ldd
# alone passes while a row is missing but another row's package depends on
# the library (libmbedtls under libnng1), until that dependency changes.
suite=${stage_suite[runtime]}
declare -A allowed=()
while read -r p; do allowed[$p]=1; done < <(
	grep -v '^[[:space:]]*#' "$src/third_party/debian-packages.txt" |
		awk -v s="$suite" '$1 == "runtime" && ($3 == "" || $3 == s) {print $2}'
	tar -xOf "$(base_tar "$suite")" ./var/lib/dpkg/status |
		awk '/^Package:/ {p = $2} /^Status:/ && $NF == "installed" {print p}'
)
missing=0 unlisted=0
for f in "$roots/runtime"/usr/local/bin/*; do
	b=${f#"$roots/runtime"}
	[ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = 177ELF ] || continue # not the health check script
	out=$(in_root "$roots/runtime" -- ldd "$b") || fail "runtime root: ldd $b failed"
	if grep -q 'not found' <<<"$out"; then
		log "runtime root: $b misses libraries:"
		grep 'not found' <<<"$out" >&2
		missing=1
		continue
	fi
	# Each direct library's owner, asked of dpkg by the file ldd found under
	# both names: a package ships it in /usr/lib or /lib (bookworm's libc6).
	mapfile -t needed < <(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p')
	qs=()
	for lib in "${needed[@]}"; do
		p=$(awk -v l="$lib" '{n = $1; sub(/.*\//, "", n)} n == l {print ($2 == "=>" ? $3 : $1); exit}' <<<"$out")
		qs+=("/usr${p#/usr}" "${p#/usr}")
	done
	u0=$unlisted
	owners=$(in_root "$roots/runtime" -- dpkg-query -S "${qs[@]}" 2>/dev/null) || true # 1: one name of each is unknown
	for lib in "${needed[@]}"; do
		pkg=$(awk -v l="/$lib" 'substr($NF, length($NF) - length(l) + 1) == l {sub(/[:,].*/, "", $1); print $1; exit}' <<<"$owners")
		if [ -z "$pkg" ]; then
			log "runtime root: $b needs $lib, which no package ships"
			unlisted=$((unlisted + 1))
		elif [ -z "${allowed[$pkg]:-}" ]; then
			log "runtime root: $b needs $lib directly, from package $pkg, which is neither a 'runtime' row for $suite in third_party/debian-packages.txt nor in the minbase root: add the row 'runtime  $pkg  $suite' there (no third column if the other release's package has the same name)"
			unlisted=$((unlisted + 1))
		fi
	done
	[ "$unlisted" -gt "$u0" ] ||
		log "runtime root: ldd $b: $(wc -l <<<"$out") libraries, none missing; the ${#needed[@]} it needs directly are from 'runtime' rows or the minbase root"
done
[ "$missing" -eq 0 ] || fail "the runtime stage's packages (role 'runtime' in third_party/debian-packages.txt) are not enough"
[ "$unlisted" -eq 0 ] || fail "the binaries link libraries directly that no 'runtime' row of third_party/debian-packages.txt names (see above)"
for t in "${targets[@]}"; do
	entry=${stage_entry[$t]:-}
	[[ $entry =~ ^\[\"([^\"]+)\"\]$ ]] || fail "$t: ENTRYPOINT should be one exec-form program, got: $entry"
	prog=${BASH_REMATCH[1]}
	read -r -a env <<<"${stage_env[$t]}"
	user=${stage_user[$t]}
	[ -n "$user" ] && [ "$user" != root ] || fail "$t: runs as root (no USER)"
	out=$(in_root "$roots/runtime" --user "$user" "${env[@]}" -- "$prog" --help 2>&1) ||
		{ echo "$out" >&2; fail "$t: '$prog --help' failed in the runtime root as $user"; }
	grep -q 'Configuration (environment variables)' <<<"$out" || fail "$t: unexpected --help output: $out"
	log "runtime root: image $t: '$prog --help' runs as $user with ${env[*]:-no ENV}"
	rc=0
	in_root "$roots/runtime" --user "$user" "${env[@]}" -- healthcheck "$t" >/dev/null 2>&1 || rc=$?
	[ "$rc" -eq 1 ] || fail "$t: healthcheck with nothing running should exit 1, got $rc"
done
log "runtime root (FROM $(stage_base runtime), Debian $(cat "$roots/runtime/etc/debian_version")): $du_after MB, of which the minbase root $du_before MB (the official -slim image is smaller still)"
left=$(procs_in_roots | wc -l)
[ "$left" -eq 0 ] || fail "$left processes left in the roots"
