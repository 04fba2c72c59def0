#!/usr/bin/env bash
# Starts user-svc, order-svc and the gateway (plain TCP) of build/test against
# the servers of instance attack (PORT_BASE=22000); logs in /tmp/attack_*.log.
# usage: tests/attack/stack.sh start|stop   (extra env passed through, e.g. USER_DB_URL)
set -u
cd "$(dirname "$0")/../.."
eval "$(PORT_BASE=${PORT_BASE:-22000} scripts/servers env attack)"
export USER_SVC_URL=tcp://127.0.0.1:22501 ORDER_SVC_URL=tcp://127.0.0.1:22502 GATEWAY_PORTS=22300 LOG_LEVEL=${LOG_LEVEL:-info}
export USER_DB_URL=${ATTACK_USER_DB_URL:-$USER_DB_URL} ORDER_DB_URL=${ATTACK_ORDER_DB_URL:-$ORDER_DB_URL}
case $1 in
start)
	for b in user-svc order-svc gateway; do
		build/${BUILD:-test}/bin/$b >/tmp/attack_$b.log 2>&1 &
		echo $! >/tmp/attack_$b.pid
		sleep 0.5
	done ;;
stop)
	for b in gateway order-svc user-svc; do
		[ -f /tmp/attack_$b.pid ] && kill -TERM "$(cat /tmp/attack_$b.pid)" 2>/dev/null
	done
	sleep 1
	for b in gateway order-svc user-svc; do rm -f /tmp/attack_$b.pid; done ;;
esac
