#!/usr/bin/env bash
# scripts/lib/replicas.sh: where each replica of a service listens when
# scripts/server runs several (USER_SVC_REPLICAS=N), and each kind of bad
# setting refused naming the variable.
# Usage: test_replicas.sh SOURCE-DIR
set -uo pipefail
. "$1/scripts/lib/replicas.sh"
fail=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }

# expect COUNT URL OUTPUT: the URLs of COUNT replicas of URL, one a line.
expect() {
	local out
	out=$(replica_urls USER_SVC_REPLICAS "$1" USER_SVC_URL "$2" 2>&1) || { bad "$1 x $2 refused: $out"; return; }
	[ "$out" = "$(printf '%b' "$3")" ] && ok "$1 x $2" || bad "$1 x $2: got $out"
}
expect 1 tls+tcp://127.0.0.1:5001 'tls+tcp://127.0.0.1:5001'
expect 2 tls+tcp://127.0.0.1:5001 'tls+tcp://127.0.0.1:5001\ntls+tcp://127.0.0.1:5011'
expect 3 tcp://127.0.0.1:5002 'tcp://127.0.0.1:5002\ntcp://127.0.0.1:5012\ntcp://127.0.0.1:5022'
expect 2 tls+tcp6://[::1]:5001 'tls+tcp6://[::1]:5001\ntls+tcp6://[::1]:5011'
expect 10 tcp4://localhost:65445 "$(for p in 5 15 25 35 45 55 65 75 85 95; do printf 'tcp4://localhost:%d\\n' $((65440 + p)); done)"
# One replica: the URL as given, whatever it is (the binary judges it).
expect 1 ipc:///tmp/u.ipc 'ipc:///tmp/u.ipc'
# A list: a replica per URL (issue 19: the list made user-svc fail with
# "cannot listen on tcp://127.0.0.1:5001,tcp://127.0.0.1:5011").
expect 1 tcp://a:1,tcp://b:2 'tcp://a:1\ntcp://b:2'
expect 1 tls+tcp://127.0.0.1:5001,tls+tcp://127.0.0.1:5011 'tls+tcp://127.0.0.1:5001\ntls+tcp://127.0.0.1:5011'
expect 02 tcp://h:5001 'tcp://h:5001\ntcp://h:5011'

# expect_error COUNT URL MESSAGE
expect_error() {
	local err
	if err=$(replica_urls USER_SVC_REPLICAS "$1" USER_SVC_URL "$2" 2>&1 >/dev/null); then
		bad "accepted: $1 x $2"
	elif [[ $err == *"$3"* ]]; then
		ok "refused: $err"
	else
		bad "refusal of $1 x $2 does not say '$3': $err"
	fi
}
for n in 0 11 -1 two '' 1.5; do
	expect_error "$n" tcp://h:5001 "USER_SVC_REPLICAS='$n': expected a number of replicas from 1 to 10"
done
expect_error 2 tcp://a:5001,tcp://b:5001 "USER_SVC_REPLICAS=2: USER_SVC_URL must be one URL"
expect_error 2 ipc:///tmp/u.ipc "USER_SVC_REPLICAS=2: USER_SVC_URL='ipc:///tmp/u.ipc' is not a tcp:// URL"
expect_error 2 tcp://h "USER_SVC_URL='tcp://h' needs a port"
expect_error 2 tcp://h:x "USER_SVC_URL='tcp://h:x' needs a port"
expect_error 3 tcp://h:65520 "room for 3 replicas"
[ "$(replica_count_variable USER_SVC_URL)" = USER_SVC_REPLICAS ] && ok "USER_SVC_URL → USER_SVC_REPLICAS" ||
	bad "count variable: $(replica_count_variable USER_SVC_URL)"
exit $fail
