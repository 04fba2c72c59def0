#!/usr/bin/env bash
# Reconnect storm: the orders table locked for LOCK_S seconds while N
# GET /orders?userId=1 ... no: POST /orders (a statement that needs the lock)
# with X-Request-Timeout: DEADLINE_MS, CONC at a time; samples order-svc's fd
# count and pg_stat_activity meanwhile. usage: storm.sh [N] [CONC] [DEADLINE_MS] [LOCK_S]
N=${1:-300} CONC=${2:-16} DL=${3:-100} LOCK_S=${4:-8}
O="postgresql://postgres@127.0.0.1:${PG_PORT:-22432}/order_db"
pid=$(cat /tmp/attack_order-svc.pid)
( psql "$O" -c "BEGIN; LOCK TABLE orders IN SHARE MODE; SELECT pg_sleep($LOCK_S); COMMIT;" >/dev/null ) &
sleep 0.3
( for i in $(seq 1 $((LOCK_S*2+6))); do
	echo "t=$i fds=$(ls /proc/$pid/fd | wc -l) backends=$(psql "$O" -Atc "select count(*) from pg_stat_activity where usename='order_svc'") total=$(psql "$O" -Atc "select count(*) from pg_stat_activity")"
	sleep 0.5; done ) &
sampler=$!
seq 1 "$N" | xargs -P "$CONC" -I{} curl -s -o /dev/null -m5 -w '%{http_code} %{time_total}\n' -XPOST localhost:22300/orders \
	-H "X-Request-Timeout: $DL" -H 'content-type: application/json' -d '{"userId":1,"product":"storm","price":1}' >/tmp/attack_storm.out
wait $sampler
sort /tmp/attack_storm.out | awk '{print $1}' | uniq -c
awk -v dl="$DL" '$2*1000 > dl+200 {late++} END {print "late(>deadline+200ms):", late+0}' /tmp/attack_storm.out
