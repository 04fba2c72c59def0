#!/usr/bin/env bash
# F5: SIGTERM while user-svc's outbox relay (no deadline) connects through
# silent hosts: the stop waits for its connect (2 s per silent address), and
# outbox_stop_cut blames the broker. target_session_attrs=any keeps the
# written order, so the relay's first connect meets the silent hosts.
# usage: sigterm_relay.sh [BUILD]   (needs tests/attack/silent.py 22701 22702 running)
cd "$(dirname "$0")/../.."
eval "$(PORT_BASE=${PORT_BASE:-22000} scripts/servers env attack)"
U="postgresql://user_svc@127.0.0.1:22701,127.0.0.1:22702,127.0.0.1:$PG_PORT/user_db?target_session_attrs=any"
(USER_DB_URL="$U" USER_SVC_URL=tcp://127.0.0.1:22596 build/${1:-test}/bin/user-svc >/tmp/attack_relay.log 2>&1 & echo $! >/tmp/attack_relay.pid)
p=$(cat /tmp/attack_relay.pid)
for i in $(seq 1 40); do grep -q user_svc_started /tmp/attack_relay.log && break; sleep 0.5; done
sleep 1
t0=$(date +%s%N)
kill -TERM "$p"
while kill -0 "$p" 2>/dev/null; do sleep 0.02; done
echo "exit_after_ms=$((($(date +%s%N) - t0) / 1000000)) (expected: well under 1000)"
grep -E "started|stopping|stop_cut|broker_down|stopped" /tmp/attack_relay.log | cut -c1-220
