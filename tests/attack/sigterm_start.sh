#!/usr/bin/env bash
# F4: SIGTERM while start-up's connect works through silent hosts: the
# service should exit promptly; it finishes every silent address (2 s each),
# migrates, logs user_svc_started, and only then stops.
# usage: sigterm_start.sh [BUILD]   (needs tests/attack/silent.py 22701 22702 running)
cd "$(dirname "$0")/../.."
eval "$(PORT_BASE=${PORT_BASE:-22000} scripts/servers env attack)"
U="postgresql://user_svc@127.0.0.1:22701,127.0.0.1:22702,127.0.0.1:22701,127.0.0.1:22702,127.0.0.1:$PG_PORT/user_db"
USER_DB_URL="$U" USER_SVC_URL=tcp://127.0.0.1:22598 build/${1:-test}/bin/user-svc >/tmp/attack_term.log 2>&1 &
p=$!
sleep 1
t0=$(date +%s%N)
kill -TERM $p
wait $p
echo "rc=$? exit_after_ms=$((($(date +%s%N) - t0) / 1000000)) (expected: well under 1000)"
grep -E "started|stopping|stopped" /tmp/attack_term.log
