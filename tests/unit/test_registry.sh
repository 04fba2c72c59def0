#!/usr/bin/env bash
# scripts/lib/registry.sh, the one reader of the service registry: the real
# registry files, and registries of its own in a temporary REGISTRY_DIR for
# each kind of malformed line.
# Usage: test_registry.sh SOURCE-DIR
set -uo pipefail
src=$1
fail=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }

# The real files: proto/services.conf, then tests/services.conf with --tests.
release=$("$src/scripts/registry") || bad "scripts/registry failed"
grep -qx 'user-svc users.UserService USER_SVC_URL tcp://127.0.0.1:5001 USER_DB_URL user_db gateway,order-svc,operator' <<<"$release" &&
	grep -q '^order-svc ' <<<"$release" && ok "release services" || bad "release services: $release"
all=$("$src/scripts/registry" --tests) || bad "scripts/registry --tests failed"
[[ $all == "$release"$'\n'* ]] && ok "test services come after the release ones" || bad "--tests: $all"
grep -qx 'echo-svc echo.EchoService ECHO_SVC_URL tcp://127.0.0.1:5003 ECHO_DB_URL echo_db gateway,operator' <<<"$all" &&
	ok "echo-svc's seven columns" || bad "echo-svc's line: $all"

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/proto" "$dir/tests"
# expect_error CONTENT MESSAGE: a proto/services.conf holding CONTENT is refused naming MESSAGE.
expect_error() {
	printf '%b' "$1" >"$dir/proto/services.conf"
	local err
	if err=$(REGISTRY_DIR=$dir bash -c ". '$src/scripts/lib/registry.sh'; registry_services" 2>&1 >/dev/null); then
		bad "accepted: $1"
	elif [[ $err == *"$2"* ]]; then
		ok "refused: $2"
	else
		bad "refusal of '$1' does not say '$2': $err"
	fi
}
expect_error 'a-svc a.A A_URL tcp://x:1 A_DB_URL a_db\n' \
	"services.conf:1: 6 columns, 7 expected (name contract url_variable default_url db_url_variable database callers)"
expect_error '# header\n\na-svc a.A A_URL tcp://x:1 A_DB_URL a_db gateway extra\n' "services.conf:3: 8 columns, 7 expected"
expect_error 'a-svc a.A A_URL tcp://x:1 A_DB_URL a_db gateway\na-svc b.B B_URL tcp://x:2 - - gateway\n' \
	"services.conf:2: a-svc is declared twice"
# The same rules as tools/contract_gen.c (proto/services.conf's header):
# a carriage return anywhere, and each value's shape.
expect_error 'a-svc a.A A_URL tcp://x:1 A_DB_URL pay_db gateway\r\n' \
	"services.conf:1: has a carriage return (CRLF line ends?)"
expect_error '# header\r\na-svc a.A A_URL tcp://x:1 - - gateway\n' "services.conf:1: has a carriage return"
expect_error 'A_svc a.A A_URL tcp://x:1 - - gateway\n' "services.conf:1: name 'A_svc' is not lower-case letters, digits and '-'"
expect_error '1-svc a.A A_URL tcp://x:1 - - gateway\n' "services.conf:1: name '1-svc' is not lower-case"
expect_error 'a-svc A A_URL tcp://x:1 - - gateway\n' "services.conf:1: contract 'A' is not package.Service"
expect_error 'a-svc a.A a-url tcp://x:1 - - gateway\n' "services.conf:1: url_variable 'a-url' is not an environment variable name"
expect_error 'a-svc a.A - tcp://x:1 - - gateway\n' "services.conf:1: url_variable '-' is not an environment variable name"
expect_error 'a-svc a.A A_URL tcp://x:1 a_db_url a_db gateway\n' \
	"services.conf:1: db_url_variable 'a_db_url' is not an environment variable name"
expect_error 'a-svc a.A A_URL tcp://x:1 A_DB_URL A-DB gateway\n' "services.conf:1: database 'A-DB' is not a lower-case SQL identifier"
expect_error 'a-svc a.A A_URL tcp://x:1 A_DB_URL - gateway\n' \
	"services.conf:1: db_url_variable 'A_DB_URL' and database '-': both are set or both are '-'"
expect_error 'a-svc a.A A_URL tcp://x:1 - a_db gateway\n' \
	"services.conf:1: db_url_variable '-' and database 'a_db': both are set or both are '-'"
# The same rules as contract-gen: the password variable, PostgreSQL's roles and lengths.
expect_error 'a-svc a.A A_URL tcp://x:1 A_DB a_db gateway\n' "services.conf:1: db_url_variable 'A_DB' does not end in _URL"
expect_error 'postgres a.A A_URL tcp://x:1 A_DB_URL a_db gateway\n' \
	"services.conf:1: name 'postgres' gives the PostgreSQL role 'postgres', which PostgreSQL reserves or owns"
expect_error 'pg-monitor a.A A_URL tcp://x:1 A_DB_URL a_db gateway\n' "gives the PostgreSQL role 'pg_monitor'"
expect_error 'a-svc a.A A_URL tcp://x:1 A_DB_URL a234567890123456789012345678901234567890123456789012345678901234 gateway\n' \
	"is 64 bytes, more than 63"
# The callers column: the same refusals, word for word, as tools/contract_gen.c.
expect_error 'a-svc a.A A_URL tcp://x:1 - - gateway,billing-svc\n' \
	"services.conf:1: callers 'gateway,billing-svc': 'billing-svc' is not a role (gateway, operator or a registry service)"
expect_error 'a-svc a.A A_URL tcp://x:1 - - Gateway\n' "services.conf:1: callers 'Gateway': 'Gateway' is not a role"
expect_error 'a-svc a.A A_URL tcp://x:1 - - gateway,,operator\n' "services.conf:1: callers 'gateway,,operator' has an empty element"
expect_error 'a-svc a.A A_URL tcp://x:1 - - ,gateway\n' "services.conf:1: callers ',gateway' has an empty element"
expect_error 'a-svc a.A A_URL tcp://x:1 - - gateway,\n' "services.conf:1: callers 'gateway,' has an empty element"
expect_error 'a-svc a.A A_URL tcp://x:1 - - operator,gateway,operator\n' \
	"services.conf:1: callers 'operator,gateway,operator': 'operator' is listed twice"
expect_error 'a-svc a.A A_URL tcp://x:1 - - gateway\nb-svc b.B B_URL tcp://x:2 - - b-svc,gateway\n' \
	"services.conf:2: callers 'b-svc,gateway': 'b-svc' is the service itself"
expect_error 'a-svc a.A A_URL tcp://x:1 - - -\n' \
	"services.conf:1: callers '-': no role could call a-svc (name them: gateway, operator or registry services, comma-separated)"
expect_error 'operator a.A A_URL tcp://x:1 - - gateway\n' "services.conf:1: name 'operator' is rpc-call's TLS role (its CA and certificate)"
# A caller declared after the line naming it, and registry_callers.
printf 'a-svc a.A A_URL tcp://x:1 - - gateway,b-svc,operator\nb-svc b.B B_URL tcp://x:2 - - operator\n' >"$dir/proto/services.conf"
out=$(REGISTRY_DIR=$dir bash -c ". '$src/scripts/lib/registry.sh'; registry_callers a-svc") &&
	[ "$out" = $'gateway\nb-svc\noperator' ] && ok "a caller declared later; registry_callers" || bad "callers read as: $out"
err=$(REGISTRY_DIR=$dir bash -c ". '$src/scripts/lib/registry.sh'; registry_callers c-svc" 2>&1) &&
	bad "registry_callers of no service succeeded" ||
	{ [[ $err == *"registry: no service 'c-svc'"* ]] && ok "registry_callers names an unknown service" || bad "unknown: $err"; }
# A test service may name a release service as its caller, not the reverse without --tests.
echo 'c-svc c.C C_URL tcp://x:3 - - a-svc' >"$dir/tests/services.conf"
REGISTRY_DIR=$dir bash -c ". '$src/scripts/lib/registry.sh'; registry_services --tests" >/dev/null &&
	ok "tests/services.conf names a release service" || bad "a test service's caller from proto/services.conf refused"
rm "$dir/tests/services.conf"
# A comment longer than any line buffer stays a comment (no ghost service from its tail).
{ printf '# %*s' 3000 '' | tr ' ' x; printf ' ghost-svc g.G G_URL tcp://x:9 - -\na-svc a.A A_URL tcp://x:1 - - gateway\n'; } \
	>"$dir/proto/services.conf"
out=$(REGISTRY_DIR=$dir bash -c ". '$src/scripts/lib/registry.sh'; registry_services") || bad "long comment refused"
[ "$out" = 'a-svc a.A A_URL tcp://x:1 - - gateway' ] && ok "a 3000-byte comment is one comment" || bad "long comment read as: $out"
err=$(REGISTRY_DIR=$dir/nowhere bash -c ". '$src/scripts/lib/registry.sh'; registry_services" 2>&1) &&
	bad "a missing registry was accepted" ||
	{ [[ $err == *"registry: cannot read $dir/nowhere/proto/services.conf"* ]] && ok "a missing file is named" ||
		bad "missing file: $err"; }

# Comments after a line, tabs, a last line without a newline, "-" columns.
printf 'a-svc\ta.A  A_URL tcp://x:1 - - gateway   # trailing\n\n  # indented comment\nb-svc b.B B_URL tcp://x:2 B_DB_URL b_db gateway' \
	>"$dir/proto/services.conf"
out=$(REGISTRY_DIR=$dir bash -c ". '$src/scripts/lib/registry.sh'; registry_services") || bad "valid file refused"
[ "$out" = $'a-svc a.A A_URL tcp://x:1 - - gateway\nb-svc b.B B_URL tcp://x:2 B_DB_URL b_db gateway' ] && ok "comments, tabs, no final newline" ||
	bad "parsed as: $out"
# --tests adds the second file; a name in both is refused.
echo 'a-svc c.C C_URL tcp://x:3 - - gateway' >"$dir/tests/services.conf"
err=$(REGISTRY_DIR=$dir bash -c ". '$src/scripts/lib/registry.sh'; registry_services --tests" 2>&1) &&
	bad "a name in both files was accepted" ||
	{ [[ $err == *"tests/services.conf:1: a-svc is declared twice"* ]] && ok "a test service cannot reuse a name" ||
		bad "name in both files: $err"; }

[ "$(bash -c ". '$src/scripts/lib/registry.sh'; registry_role user-svc; registry_password_variable ORDER_DB_URL")" = \
	$'user_svc\nORDER_DB_PASSWORD' ] && ok "role and password variable names" || bad "role/password names"
exit "$fail"
