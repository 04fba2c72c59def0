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
grep -qx 'user-svc users.UserService USER_SVC_URL tcp://127.0.0.1:5001 USER_DB_URL user_db' <<<"$release" &&
	grep -q '^order-svc ' <<<"$release" && ok "release services" || bad "release services: $release"
all=$("$src/scripts/registry" --tests) || bad "scripts/registry --tests failed"
[[ $all == "$release"$'\n'* ]] && ok "test services come after the release ones" || bad "--tests: $all"
grep -qx 'echo-svc echo.EchoService ECHO_SVC_URL tcp://127.0.0.1:5003 ECHO_DB_URL echo_db' <<<"$all" &&
	ok "echo-svc's six columns" || bad "echo-svc's line: $all"

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
expect_error 'a-svc a.A A_URL tcp://x:1 A_DB_URL\n' "services.conf:1: 5 columns, 6 expected"
expect_error '# header\n\na-svc a.A A_URL tcp://x:1 A_DB_URL a_db extra\n' "services.conf:3: 7 columns, 6 expected"
expect_error 'a-svc a.A A_URL tcp://x:1 A_DB_URL a_db\na-svc b.B B_URL tcp://x:2 - -\n' \
	"services.conf:2: a-svc is declared twice"
err=$(REGISTRY_DIR=$dir/nowhere bash -c ". '$src/scripts/lib/registry.sh'; registry_services" 2>&1) &&
	bad "a missing registry was accepted" ||
	{ [[ $err == *"registry: cannot read $dir/nowhere/proto/services.conf"* ]] && ok "a missing file is named" ||
		bad "missing file: $err"; }

# Comments after a line, tabs, a last line without a newline, "-" columns.
printf 'a-svc\ta.A  A_URL tcp://x:1 - -   # trailing\n\n  # indented comment\nb-svc b.B B_URL tcp://x:2 B_DB_URL b_db' \
	>"$dir/proto/services.conf"
out=$(REGISTRY_DIR=$dir bash -c ". '$src/scripts/lib/registry.sh'; registry_services") || bad "valid file refused"
[ "$out" = $'a-svc a.A A_URL tcp://x:1 - -\nb-svc b.B B_URL tcp://x:2 B_DB_URL b_db' ] && ok "comments, tabs, no final newline" ||
	bad "parsed as: $out"
# --tests adds the second file; a name in both is refused.
echo 'a-svc c.C C_URL tcp://x:3 - -' >"$dir/tests/services.conf"
err=$(REGISTRY_DIR=$dir bash -c ". '$src/scripts/lib/registry.sh'; registry_services --tests" 2>&1) &&
	bad "a name in both files was accepted" ||
	{ [[ $err == *"tests/services.conf:1: a-svc is declared twice"* ]] && ok "a test service cannot reuse a name" ||
		bad "name in both files: $err"; }

[ "$(bash -c ". '$src/scripts/lib/registry.sh'; registry_role user-svc; registry_password_variable ORDER_DB_URL")" = \
	$'user_svc\nORDER_DB_PASSWORD' ] && ok "role and password variable names" || bad "role/password names"
exit "$fail"
