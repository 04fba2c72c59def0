#!/usr/bin/env bash
# `docker compose up --build`, for real (ctest -L compose-live): the whole
# system built and started by Debian's docker-compose 1.29 in Podman 4.3,
# through Podman's Docker-compatible API socket, from compose/Dockerfile and
# compose/docker-compose.yml as they are. What cannot exist here is made:
#   - the debian images the Dockerfiles start FROM (ours: trixie and
#     trixie-slim; the stand-ins': bookworm-slim): a debootstrap minbase root
#     of each suite (tests/images/minbase.sh, cached with the images test's),
#     imported and tagged with each name the FROM lines use;
#   - postgres:15, redis:7, rabbitmq:3-management: no registry is reachable,
#     so stand-ins are built from Debian's packages under those names
#     (tests/compose/standins/, README.md there says what they reproduce);
#   - the health checks: Podman runs them from systemd timers, and there is
#     no systemd here, so a loop of ours runs `podman healthcheck run` at
#     each container's own interval; `depends_on: service_healthy` then
#     works as written.
# Then: the README's requests to the published ports, order-svc's
# user_created lines, every container healthy and on the Debian release its
# Dockerfile's FROM names, the project's containers running as app (uid and
# gid 10001); `docker-compose restart` of user-svc,
# then of rabbitmq, with users created around each: every event logged once;
# `down` and `up` keep the data and the broker's queue; every container
# stops on its stop signal (exit 0).
#
# Usage: test_compose_live.sh SOURCE-DIR WORK-DIR MINBASE-CACHE-DIR  (as root)
# WORK-DIR keeps Podman's configuration and storage (WORK-DIR/storage: the
# images and their layer cache, so a second run rebuilds nothing unchanged)
# and the logs of the last run. Exit 77 (ctest SKIP) when the engine cannot
# run here. Everything it starts is removed at the end, volumes included.
# Environment: COMPOSE_LIVE_BUDGET_S (1500): the whole run is stopped, and
# cleaned up, after it; COMPOSE_LIVE_KEEP=1 leaves the system running at the
# end, for a look (the next run removes it); IMAGES_MIRROR as for
# tests/images/test_images.sh.
set -euo pipefail

[ $# -eq 3 ] || { echo "usage: $0 SOURCE-DIR WORK-DIR MINBASE-CACHE-DIR" >&2; exit 2; }
src=$(cd "$1" && pwd)
mkdir -p "$2" "$3"
work=$(cd "$2" && pwd)
minbase_cache=$(cd "$3" && pwd)

# Under timeout(1), so that a hang still ends in the EXIT trap's teardown.
if [ -z "${COMPOSE_LIVE_UNDER_TIMEOUT:-}" ]; then
	COMPOSE_LIVE_UNDER_TIMEOUT=1 exec timeout -k 60 "${COMPOSE_LIVE_BUDGET_S:-1500}" "$0" "$@"
fi

SKIP=77
compose_file=$src/compose/docker-compose.yml
project=compose # docker-compose's default: the compose file's folder
services=(postgres redis rabbitmq user-svc order-svc gateway)
ours=(user-svc order-svc gateway) # built from compose/Dockerfile, run as app
published=(3000 3001 3002 15672)

exec 9>&2
log() { printf '[compose-live %4ss] %s\n' "$SECONDS" "$*" >&9; }
fail() {
	log "FAIL: $*"
	exit 1
}
skip() {
	log "SKIP: $*"
	exit "$SKIP"
}

# ---------------------------------------------------------------- can it run

[ "$(id -u)" -eq 0 ] || skip "needs root (Podman as root: rootless Podman needs subuids and slirp4netns, not set up here)"
# runc makes mount, PID, network, UTS and IPC namespaces for every container.
unshare --mount --pid --net --uts --ipc --fork true 2>/dev/null ||
	skip "the kernel refuses new namespaces here (inside an unprivileged container?): no container can run"
if ! "$src/scripts/bootstrap" engine >"$work/bootstrap.log" 2>&1; then
	tail -n 20 "$work/bootstrap.log" >&2
	skip "could not install the engine's Debian packages (scripts/bootstrap engine; log: $work/bootstrap.log)"
fi
for t in podman runc docker-compose debootstrap curl flock; do
	command -v "$t" >/dev/null || fail "$t is missing (scripts/bootstrap engine test)"
done
mirror=${IMAGES_MIRROR:-http://deb.debian.org/debian}
# shellcheck source=tests/images/minbase.sh
. "$src/tests/images/minbase.sh"

# The debian images each Dockerfile built here starts FROM, by suite:
# compose/Dockerfile's, and the stand-ins' (tests/compose/standins/*/:
# bookworm, whose packages are the major versions the compose file's images
# name, PostgreSQL 15, Redis 7, RabbitMQ 3; trixie has 17, 8 and 4). A FROM naming neither
# a stage nor a debian image is an image nothing here can provide.
declare -A tags_of     # suite -> the debian:TAG names the FROM lines use
declare -A suite_of_df # Dockerfile -> the suite of its runtime image
for df in "$src/compose/Dockerfile" "$src"/tests/compose/standins/*/Dockerfile; do
	while read -r image as stage; do
		if suite=$(minbase_suite_of "$image"); then
			[[ " ${tags_of[$suite]:-} " == *" $image "* ]] || tags_of[$suite]+=" $image"
			# compose/Dockerfile's images are FROM its runtime stage.
			{ [ "${as,,}" = as ] && [ "$stage" != runtime ]; } || suite_of_df[$df]=$suite
		elif [[ $image == *:* || $image == */* ]]; then
			fail "$df: FROM $image, which no minbase root provides (tests/images/minbase.sh: debian:bookworm, debian:trixie)"
		fi
	done < <(sed -n 's/^FROM[[:space:]]\{1,\}//p' "$df")
	[ -n "${suite_of_df[$df]:-}" ] || fail "$df: no FROM of a debian image for its runtime image"
done
suites=("${!tags_of[@]}")
mirror_reachable() {
	local s
	for s in "${suites[@]}"; do curl -sf --max-time 15 -o /dev/null "$mirror/dists/$s/Release" || return 1; done
}

# The published ports and the project name are the compose file's, fixed:
# one run at a time on this machine, whichever checkout it comes from.
mkdir -p /run/lock
exec 8>/run/lock/compose-live.lock
flock -w 900 8 || skip "another compose-live run held /run/lock/compose-live.lock for 15 minutes"
for p in "${published[@]}"; do
	if [ -n "$(ss -Htln "sport = :$p")" ]; then
		ss -Htlnp "sport = :$p" >&2
		skip "port $p, which the compose file publishes, is taken by another program"
	fi
done

# ---------------------------------------------------------------- the engine

# Everything Podman keeps is ours: configuration, storage (graphroot) and
# CNI networks under WORK-DIR, run-time state under /run; the host's
# /etc/containers, /var/lib/containers and /etc/cni are not touched.
run=/run/compose-live-$(printf '%s' "$work" | sha256sum | cut -c1-12)
mkdir -p "$work/cni" "$run"
cat >"$work/containers.conf" <<-EOF
	# Written by tests/compose/test_compose_live.sh (PLATFORM-NOTES.md, "Containers").
	[containers]
	# The machine's hard limit is below Podman's default nofile of 1048576.
	default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
	[engine]
	# crun refuses this host's hybrid cgroup layout; no systemd for cgroups.
	runtime = "runc"
	cgroup_manager = "cgroupfs"
	events_logger = "file"
	events_logfile_path = "$work/events.log"
	tmp_dir = "$run/libpod"
	[network]
	network_backend = "cni"
	network_config_dir = "$work/cni"
EOF
cat >"$work/storage.conf" <<-EOF
	[storage]
	driver = "overlay"
	graphroot = "$work/storage"
	runroot = "$run/storage"
EOF
export CONTAINERS_CONF=$work/containers.conf CONTAINERS_STORAGE_CONF=$work/storage.conf
sock=$work/podman.sock
service_pid_file=$work/service.pid

# docker-compose with a clean environment: the caller's (scripts/test
# exports the test servers' settings) must not reach the compose file's
# ${VARIABLE:-default}s. API builds (docker-py), not the docker CLI.
compose() {
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$work" DOCKER_HOST="unix://$sock" \
		COMPOSE_DOCKER_CLI_BUILD=0 DOCKER_BUILDKIT=0 COMPOSE_HTTP_TIMEOUT=600 \
		docker-compose --ansi never -f "$compose_file" "$@"
}

# Our own API service of an earlier run killed with SIGKILL (its pid file,
# and only if that pid still serves our socket).
stop_service() {
	local pid
	pid=$(cat "$service_pid_file" 2>/dev/null) || return 0
	if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "unix://$sock"; then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$service_pid_file" "$sock"
}

start_service() {
	stop_service
	# Its own session: timeout(1) signals our process group, and the
	# teardown still needs the service after that.
	setsid podman system service --time=0 "unix://$sock" >"$work/service.log" 2>&1 </dev/null &
	echo $! >"$service_pid_file"
	for _ in $(seq 100); do
		curl -sf --max-time 2 --unix-socket "$sock" http://d/_ping >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	tail -n 20 "$work/service.log" >&2
	fail "podman system service did not answer on $sock (log: $work/service.log)"
}

# Whatever the project left in the engine: containers, networks, volumes.
# docker-compose first; Podman itself if that fails (service down).
remove_project() {
	compose down --volumes --remove-orphans --timeout 10 >>"$work/down.log" 2>&1 && return 0
	log "docker-compose down failed (log: $work/down.log); removing with podman"
	local label=label=com.docker.compose.project=$project
	podman ps -aq --filter "$label" | xargs -r podman rm -f -t 10 >/dev/null || true
	podman volume ls -q --filter "$label" | xargs -r podman volume rm -f >/dev/null || true
	podman network ls -q --filter "$label" | xargs -r podman network rm -f >/dev/null || true
}

health_pid=""
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	[ -z "$health_pid" ] || { kill "$health_pid" 2>/dev/null; wait "$health_pid" 2>/dev/null; } || true
	if [ -S "$sock" ]; then
		if [ "$rc" -ne 0 ] && [ "$rc" -ne "$SKIP" ]; then
			log "last lines of every container (full logs: $work/logs.txt)"
			compose logs --no-color --timestamps >"$work/logs.txt" 2>&1 || true
			compose ps >&9 2>&1 || true
			tail -n 60 "$work/logs.txt" >&9 || true
		fi
		if [ "${COMPOSE_LIVE_KEEP:-0}" = 1 ]; then
			log "kept running (COMPOSE_LIVE_KEEP=1): CONTAINERS_CONF=$CONTAINERS_CONF CONTAINERS_STORAGE_CONF=$CONTAINERS_STORAGE_CONF DOCKER_HOST=unix://$sock"
			log "the next run removes it, or: DOCKER_HOST=unix://$sock docker-compose -f $compose_file down -v"
			exit "$rc"
		fi
		remove_project
	fi
	stop_service
	# The bridge of Podman's default network, which the builds' RUN steps
	# used, once nothing is attached to it. (The CNI plugins' iptables
	# chains stay: empty, or naming our network's bridge, which is gone.)
	if [ -d /sys/class/net/cni-podman0/brif ] && [ -z "$(ls /sys/class/net/cni-podman0/brif)" ]; then
		ip link delete cni-podman0 2>/dev/null || true
	fi
	left=$(podman ps -aq --filter "label=com.docker.compose.project=$project" 2>/dev/null | wc -l)
	[ "$left" -eq 0 ] || log "WARNING: $left containers left in $work/storage"
	if [ "$rc" -eq 0 ]; then log PASS; else log "exit $rc"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

t_start=$SECONDS
: >"$work/down.log"
stop_service
: >"$work/events.log" # read by stopped_cleanly below
start_service
remove_project # a run killed with SIGKILL leaves them behind

# ---------------------------------------------------------------- base images

# Each suite's minbase root, imported with the official images'
# configuration (CMD bash, Docker's default PATH), then tagged with the
# names the FROM lines use (debian:trixie and debian:trixie-slim are one
# root, as debian:bookworm and bookworm-slim are).
t0=$SECONDS
for suite in "${suites[@]}"; do
	base=localhost/compose-live/minbase:$(minbase_key "$suite")
	if ! podman image exists "$base"; then
		if [ ! -f "$minbase_cache/minbase-$(minbase_key "$suite").tar" ]; then
			log "debootstrap --variant=minbase $suite from $mirror (cold cache)"
			mirror_reachable || skip "no cached Debian $suite root and $mirror cannot be reached: the first run needs Debian's mirror"
		fi
		tarball=$(minbase_tar "$minbase_cache" "$work/debootstrap-$suite.log" "$suite") ||
			fail "debootstrap $suite failed (log: $work/debootstrap-$suite.log)"
		podman import --change 'CMD ["bash"]' \
			--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
			"$tarball" "$base" >"$work/import-$suite.log" 2>&1 || fail "podman import failed (log: $work/import-$suite.log)"
	fi
	read -r -a tags <<<"${tags_of[$suite]}"
	podman tag "$base" "${tags[@]/#/docker.io/library/}"
	log "base image $base ($suite):${tags_of[$suite]}"
done
t_base=$((SECONDS - t0))

# ---------------------------------------------------------------- stand-ins

# build_or_skip LOG CMD...: a failed build whose steps need Debian's mirror
# is a skip when the mirror cannot be reached, a failure otherwise.
build_or_skip() {
	local logf=$1
	shift
	"$@" >"$logf" 2>&1 && return 0
	tail -n 30 "$logf" >&2
	mirror_reachable || skip "a build needs Debian's mirror ($mirror) and cannot reach it (log: $logf)"
	fail "build failed: $* (log: $logf)"
}

t0=$SECONDS
declare -A standin=([postgres]=postgres:15 [redis]=redis:7 [rabbitmq]=rabbitmq:3-management)
for s in postgres redis rabbitmq; do
	image=$(python3 -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["services"][sys.argv[2]]["image"])' \
		"$compose_file" "$s")
	[ "$image" = "${standin[$s]}" ] ||
		fail "compose file's $s image is $image, but tests/compose/standins/$s stands in for ${standin[$s]}"
	build_or_skip "$work/standin-$s.log" podman build --pull=never --format docker --layers \
		-t "docker.io/library/$image" "$src/tests/compose/standins/$s"
done
t_standins=$((SECONDS - t0))
log "base images ${t_base} s, stand-ins built in ${t_standins} s"

# ---------------------------------------------------------------- health checks

# The scheduler Podman would run from systemd timers: each running
# container's check every Interval, each bounded by its Timeout. Within
# its StartPeriod and until its first passing check, every second instead
# (Docker Engine 25's start_interval, which docker-compose 1.29 cannot
# set; failures there do not count towards Retries): one Interval before
# the first check put the intervals of the chain postgres, rabbitmq,
# user-svc, order-svc, gateway end to end, about 45 s of waiting per up.
# Healthy still means a check passed, so depends_on's order holds.
health_loop() {
	local -A due
	local id started name interval timeout period now key at passed
	exec >>"$work/health.log" 2>&1
	while :; do
		now=$(date +%s)
		while read -r id started name; do
			key=$id@$started
			if [ -z "${due[$key]:-}" ]; then
				read -r interval timeout period < <(podman inspect --format \
					'{{.Config.Healthcheck.Interval.Seconds}} {{.Config.Healthcheck.Timeout.Seconds}} {{.Config.Healthcheck.StartPeriod.Seconds}}' \
					"$id" </dev/null 2>/dev/null) || continue
				if ! [ "${interval%.*}" -gt 0 ] 2>/dev/null; then
					due[$key]=never # no health check
					continue
				fi
				period=$((started + ${period%.*})) # when the start period ends
				at=$((started + ${interval%.*}))
				[ "$period" -le "$started" ] || at=$((started + 1))
				due[$key]="$at ${interval%.*} ${timeout%.*} $period 0"
			fi
			[ "${due[$key]}" != never ] || continue
			read -r at interval timeout period passed <<<"${due[$key]}"
			[ "$now" -ge "$at" ] || continue
			# </dev/null: podman would read the rest of the list below.
			if timeout "$((timeout + 5))" podman healthcheck run "$id" </dev/null >/dev/null 2>&1; then
				due[$key]="$(($(date +%s) + interval)) $interval $timeout $period 1"
				echo "$(date +%T) $name ok"
			else
				now=$(date +%s)
				at=$((now + interval))
				[ "$passed" = 1 ] || [ "$now" -ge "$period" ] || at=$((now + 1))
				due[$key]="$at $interval $timeout $period $passed"
				echo "$(date +%T) $name failed ($(podman inspect --format '{{.State.Health.Status}}' "$id" </dev/null 2>/dev/null))"
			fi
		done < <(podman ps --filter "label=com.docker.compose.project=$project" \
			--format '{{.ID}} {{.StartedAt}} {{.Names}}' 2>/dev/null)
		sleep 1
	done
}
: >"$work/health.log"
health_loop &
health_pid=$!

# ---------------------------------------------------------------- up --build

t0=$SECONDS
log "docker-compose up -d --build (log: $work/up.log)"
build_or_skip "$work/up.log" compose up -d --build
t_up=$((SECONDS - t0))
log "up in ${t_up} s"

container() { podman ps -aq --filter "label=com.docker.compose.project=$project" \
	--filter "label=com.docker.compose.service=$1"; }
health() { podman inspect --format '{{.State.Health.Status}}' "$(container "$1")" 2>/dev/null; }

# wait_healthy SECONDS SERVICE...: bounded wait until each is healthy.
wait_healthy() {
	local limit=$((SECONDS + $1)) s all
	shift
	while :; do
		all=1
		for s in "$@"; do [ "$(health "$s")" = healthy ] || all=0; done
		[ $all -eq 0 ] || return 0
		[ $SECONDS -lt "$limit" ] || break
		sleep 1
	done
	for s in "$@"; do log "$s: $(health "$s")"; done
	fail "not all of $* healthy in time (health checks: $work/health.log)"
}
wait_healthy 180 "${services[@]}"
t_healthy=$((SECONDS - t0))
log "every container healthy ${t_healthy} s after up started"

# wait_ready SECONDS: bounded wait for the gateway's /readyz to answer 200
# (every service and each of its dependencies reachable).
wait_ready() {
	local limit=$((SECONDS + $1)) code
	while code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' http://127.0.0.1:3000/readyz); [ "$code" != 200 ]; do
		[ $SECONDS -lt "$limit" ] || fail "GET /readyz still $code after $1 s"
		sleep 1
	done
}

# stopped_cleanly SERVICE...: the last time each one's container stopped,
# its process exited 0: it ended on its stop signal (SIGTERM; PostgreSQL
# SIGINT) rather than being killed when the stop timeout (10 s) ran out.
# Podman's event log records an exit code only when it is not 0.
stopped_cleanly() {
	local s
	for s in "$@"; do
		python3 - "$work/events.log" "${project}_${s}_1" <<-'PY' >&9 || fail "$s did not stop cleanly"
			import json, sys
			died = [e for e in map(json.loads, open(sys.argv[1]))
			        if e.get("Name") == sys.argv[2] and e.get("Status") == "died"]
			if not died:
			    sys.exit(f"{sys.argv[2]}: no 'died' event in {sys.argv[1]}")
			code = died[-1].get("ContainerExitCode", 0)
			asked = [e for e in map(json.loads, open(sys.argv[1]))
			         if e.get("Name") == sys.argv[2] and e.get("Status") == "restart"]
			# The stop a restart began (the only death since), timed.
			if asked and [e["Time"] > asked[-1]["Time"] for e in died].count(True) == 1:
			    from datetime import datetime
			    t = lambda e: datetime.fromisoformat(e["Time"][:26].rstrip("Z"))
			    print(f"{sys.argv[2]}: stopped {(t(died[-1]) - t(asked[-1])).total_seconds():.1f} s after the restart began")
			if code != 0:
			    sys.exit(f"{sys.argv[2]}: exit code {code} when stopped" + (" (SIGKILL)" if code == 137 else ""))
		PY
	done
	pass "$* stopped on the stop signal, exit 0"
}

# ---------------------------------------------------------------- checks

checks=0
pass() {
	checks=$((checks + 1))
	log "ok: $*"
}

# request METHOD PORT PATH [BODY]: sets $status, $body and $location.
request() {
	local args=(-sS --max-time 15 -o "$work/body" -D "$work/headers" -w '%{http_code}' -X "$1")
	[ $# -lt 4 ] || args+=(-H 'Content-Type: application/json' --data-binary "$4")
	status=$(curl "${args[@]}" "http://127.0.0.1:$2$3") || status=000
	body=$(cat "$work/body")
	location=$(sed -n 's/^[Ll]ocation: *\([^[:space:]]*\).*/\1/p' "$work/headers")
}
# expect WHAT STATUS JQ-LIKE-PYTHON: the status, then a Python expression
# on the JSON body (b) that must be true.
expect() {
	local what=$1 want=$2 cond=$3
	[ "$status" = "$want" ] || fail "$what: status $status, expected $want; body: $body"
	python3 -c 'import json, sys; b = json.loads(sys.argv[1]); sys.exit(0 if eval(sys.argv[2]) else 1)' \
		"$body" "$cond" || fail "$what: body does not satisfy $cond: $body"
	pass "$what: $status"
}

# The seed's four requests, as the README shows them (a fresh volume: ids 1).
request POST 3001 /users '{"name":"John Doe","email":"john@example.com"}'
expect "POST /users" 201 'b["id"] == 1 and b["name"] == "John Doe" and b["email"] == "john@example.com" and b["createdAt"]'
[ "$location" = /users/1 ] || fail "POST /users: Location '$location', expected /users/1"
request GET 3001 /users/1
expect "GET /users/1" 200 'b["id"] == 1 and b["email"] == "john@example.com"'
request POST 3002 /orders '{"userId":1,"product":"Laptop","price":15000000}'
expect "POST /orders" 201 'b["id"] == 1 and b["userId"] == 1 and b["product"] == "Laptop" and b["price"] == 15000000 and b["status"] == "pending"'
[ "$location" = /orders/1 ] || fail "POST /orders: Location '$location', expected /orders/1"
request GET 3002 /orders/user/1
expect "GET /orders/user/1" 200 'len(b) == 1 and b[0]["id"] == 1 and b[0]["product"] == "Laptop"'
# The README's error examples, and the other routes, on the third port.
request POST 3000 /orders '{"userId":0,"product":" ","price":-1,"status":"lost"}'
expect "POST /orders, invalid" 400 'b["code"] == "INVALID_ARGUMENT" and len(b["message"]) == 4'
request POST 3000 /orders '{"userId":999999,"product":"X","price":1}'
expect "POST /orders, unknown user" 404 'b["code"] == "NOT_FOUND" and b["message"] == "user 999999 not found"'
request GET 3000 /readyz
[ "$status" = 200 ] || fail "GET /readyz: $status: $body"
pass "GET /readyz: 200"
request GET 3000 /openapi.json
expect "GET /openapi.json" 200 'b["openapi"].startswith("3.1")'
request GET 3000 /metrics
{ [ "$status" = 200 ] && grep -q '^service_up{service="order-svc"} 1' <<<"$body"; } ||
	fail "GET /metrics: $status, or order-svc not up in it"
pass "GET /metrics: 200, both services up"
# RabbitMQ's management UI, published on 15672, with the compose file's user.
code=$(curl -s --max-time 15 -o "$work/body" -w '%{http_code}' -u app:app http://127.0.0.1:15672/api/whoami) || code=000
{ [ "$code" = 200 ] && grep -q '"name":"app"' "$work/body"; } ||
	fail "RabbitMQ management API on 15672 as app: $code: $(cat "$work/body")"
pass "RabbitMQ management API on 15672: 200 as app"

# logged_count ID: order-svc's user_created lines for user ID so far.
logged_count() {
	podman logs "$(container order-svc)" 2>&1 | grep -c "user_created id=$1 " || true
}
# wait_logged_once ID...: each user's event logged, exactly once.
wait_logged_once() {
	local id n limit=$((SECONDS + 60))
	for id in "$@"; do
		while n=$(logged_count "$id"); [ "$n" -eq 0 ] && [ $SECONDS -lt $limit ]; do sleep 1; done
		[ "$n" -eq 1 ] || fail "user $id: $n user_created lines in order-svc's log, expected 1"
	done
	pass "user_created logged once for user(s) $*"
}
wait_logged_once 1
# The whole log first: grep -q leaves at the first match, and under
# pipefail podman's SIGPIPE would fail a line that is there.
order_log=$(podman logs "$(container order-svc)" 2>&1)
grep -q ' info  order-svc user_created id=1 email=john@example.com event=' <<<"$order_log" ||
	fail "order-svc's user_created line does not read as the README's"

# Every container healthy; the project's own run as app, uid and gid 10001
# (ids no host account or group is likely to have: a system gid such as 999
# is often the host's docker or systemd-journal group, which would own what
# the process writes to a bind mount), seen from the host: the ids of each
# container's first process.
for s in "${services[@]}"; do [ "$(health "$s")" = healthy ] || fail "$s is $(health "$s")"; done
pass "all ${#services[@]} containers healthy"
# Each container on the Debian release of its Dockerfile's FROM: a tag
# given the wrong root would show here.
releases=""
for s in "${services[@]}"; do
	case " ${ours[*]} " in
	*" $s "*) df=$src/compose/Dockerfile ;;
	*) df=$src/tests/compose/standins/$s/Dockerfile ;;
	esac
	got=$(podman exec "$(container "$s")" sh -c '. /etc/os-release && echo "$VERSION_CODENAME"') ||
		fail "$s: cannot read /etc/os-release"
	[ "$got" = "${suite_of_df[$df]}" ] || fail "$s runs on Debian $got, but ${df#"$src"/} starts FROM ${suite_of_df[$df]}"
	releases+=" $s=$got"
done
pass "each container on its Dockerfile's Debian:$releases"
for s in "${ours[@]}"; do
	c=$(container "$s")
	pid=$(podman inspect --format '{{.State.Pid}}' "$c")
	uids=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$pid/status")
	gids=$(awk '/^Gid:/ {print $2, $3, $4, $5}' "/proc/$pid/status")
	groups=$(awk '/^Groups:/ {$1 = ""; print}' "/proc/$pid/status" | tr -d ' ')
	[ "$uids" = "10001 10001 10001 10001" ] || fail "$s runs as uids $uids, expected 10001"
	[ "$gids" = "10001 10001 10001 10001" ] || fail "$s runs as gids $gids, expected 10001"
	[ -z "$groups" ] || [ "$groups" = 10001 ] || fail "$s has supplementary groups $groups"
	[ "$(podman exec "$c" id -un)" = app ] || fail "$s: podman exec runs as $(podman exec "$c" id -un), expected app"
done
pass "${ours[*]} run as app (uid and gid 10001)"

# ---------------------------------------------------------------- restarts

# create_users_meanwhile CMD...: runs CMD while creating users every half
# second (from just before it starts to just after it ends); prints the ids
# answered 201. Requests refused meanwhile are fine: nothing must be lost.
create_users_meanwhile() {
	local stop=$work/creating.stop i=0 rc=0 got=()
	rm -f "$stop" "$work/created"
	(
		while [ ! -e "$stop" ]; do
			i=$((i + 1))
			email="r$RANDOM$i@example.com"
			code=$(curl -s --max-time 5 -o "$work/created.body" -w '%{http_code}' -X POST \
				-H 'Content-Type: application/json' --data "{\"name\":\"R $i\",\"email\":\"$email\"}" \
				http://127.0.0.1:3001/users) || code=000
			[ "$code" != 201 ] || python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["id"])' \
				"$work/created.body" >>"$work/created"
			echo "$(date +%T.%N | cut -c1-12) POST /users: $code" >>"$work/restarts.log"
			sleep 0.5
		done
	) &
	local creator=$!
	sleep 1
	"$@" >>"$work/restarts.log" 2>&1 || rc=$?
	sleep 1
	touch "$stop"
	wait "$creator"
	[ "$rc" -eq 0 ] || fail "$* failed (log: $work/restarts.log)"
	mapfile -t got <"$work/created" 2>/dev/null || true
	[ ${#got[@]} -gt 0 ] || fail "no user created around '$*' (log: $work/restarts.log)"
	echo "${got[*]}"
}

: >"$work/restarts.log"
for s in user-svc rabbitmq; do
	t0=$SECONDS
	created=$(create_users_meanwhile compose restart "$s")
	stopped_cleanly "$s"
	wait_healthy 180 "${services[@]}"
	wait_ready 120
	log "restart $s: healthy again after $((SECONDS - t0)) s; users created meanwhile: $created"
	# One more after, through the same path the restarted part serves.
	request POST 3001 /users "{\"name\":\"After $s\",\"email\":\"after-$s@example.com\"}"
	expect "POST /users after restarting $s" 201 'b["id"] > 0'
	after=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["id"])' "$body")
	# shellcheck disable=SC2086
	wait_logged_once $created "$after"
done

# ---------------------------------------------------------------- down, up

# The named volumes keep the data across re-created containers, and the
# broker's fixed host name keeps its node, hence its durable queue and the
# messages in it: an event published while order-svc is stopped waits in
# the queue through `down` and `up`, then is logged by the new order-svc.
t0=$SECONDS
compose stop order-svc >>"$work/down.log" 2>&1 || fail "docker-compose stop order-svc failed"
request POST 3001 /users '{"name":"Queued","email":"queued@example.com"}'
expect "POST /users with order-svc stopped" 201 'b["id"] > 0'
queued=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["id"])' "$body")
limit=$((SECONDS + 60))
until podman exec "$(container rabbitmq)" rabbitmqctl -q list_queues name messages 2>/dev/null |
	grep -Eq '^order-svc\.user_created[[:space:]]+1$'; do
	[ $SECONDS -lt $limit ] || fail "user $queued's event never reached the queue order-svc.user_created"
	sleep 1
done
pass "user $queued's event waits in order-svc.user_created"
compose down >>"$work/down.log" 2>&1 || fail "docker-compose down failed (log: $work/down.log)"
[ -z "$(container postgres)" ] || fail "docker-compose down left the containers"
compose up -d >"$work/up-again.log" 2>&1 || fail "docker-compose up -d failed again (log: $work/up-again.log)"
wait_healthy 180 "${services[@]}"
wait_ready 120
log "down and up again: healthy after $((SECONDS - t0)) s"
wait_logged_once "$queued"
request GET 3001 /users/1
expect "GET /users/1 after down and up" 200 'b["email"] == "john@example.com"'
request GET 3002 /orders/user/1
expect "GET /orders/user/1 after down and up" 200 'len(b) == 1 and b[0]["product"] == "Laptop"'

# Stopping: every container ends on its stop signal, none is killed.
compose stop >>"$work/down.log" 2>&1 || fail "docker-compose stop failed (log: $work/down.log)"
stopped_cleanly "${services[@]}"

# ---------------------------------------------------------------- sizes

for s in "${services[@]}"; do
	image=$(podman inspect --format '{{.ImageName}}' "$(container "$s")")
	size=$(podman image inspect --format '{{.Size}}' "$image")
	log "image $image: $((size / 1000000)) MB"
done
log "base ${t_base} s, stand-ins ${t_standins} s, up ${t_up} s, all healthy at ${t_healthy} s, total $((SECONDS - t_start)) s; $checks checks passed"
