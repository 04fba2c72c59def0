#!/usr/bin/env bash
# scripts/lib/dev_pki.sh, the development PKI of mutual TLS: what it writes
# for the real registry, that a second run changes nothing, and that it
# makes again what a change of the registry, an expiring certificate or a
# mismatched key calls for; and scripts/lib/rpc_tls.sh, which hands the
# files and tls+tcp:// URLs to the binaries scripts/server starts.
# Usage: test_dev_pki.sh SOURCE-DIR
set -uo pipefail
src=$1
pki=$src/scripts/lib/dev_pki.sh
fail=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# OpenSSL 3.0 (Debian 12) prints "CN = x", 3.5 (Debian 13) "CN=x": compared as the latter.
subjects() { openssl crl2pkcs7 -nocrl -certfile "$1" | openssl pkcs7 -print_certs -noout | grep subject | sed 's/ = /=/g' | sort; }
ca_subjects() { for r in "$@"; do echo "subject=CN=$r dev CA"; done | sort; }

d=$tmp/real
"$pki" --tests "$d" 2>"$tmp/err" || bad "the real registry: $(cat "$tmp/err")"
for role in gateway operator user-svc order-svc echo-svc; do
	[ "$(stat -c %a "$d/$role.key")" = 600 ] && [ "$(stat -c %a "$d/ca/$role.key")" = 600 ] ||
		bad "$role's keys are not 0600"
	openssl verify -CAfile "$d/ca/$role.pem" -purpose sslserver "$d/$role.pem" >/dev/null 2>&1 &&
		openssl verify -CAfile "$d/ca/$role.pem" -purpose sslclient "$d/$role.pem" >/dev/null 2>&1 ||
		bad "$role.pem is not a server and client certificate of its CA"
	text=$(openssl x509 -in "$d/$role.pem" -noout -text | sed 's/ = /=/g')
	[[ $text == *"Subject: CN=$role"* && $text == *"DNS:$role"* && $text == *"ASN1 OID: prime256v1"* ]] ||
		bad "$role.pem: not CN=$role, DNS:$role, P-256"
	openssl x509 -in "$d/$role.pem" -noout -checkend $((80 * 86400)) >/dev/null &&
		! openssl x509 -in "$d/$role.pem" -noout -checkend $((91 * 86400)) >/dev/null ||
		bad "$role.pem is not valid for 90 days"
	for other in gateway operator user-svc; do
		[ "$other" = "$role" ] ||
			! openssl verify -CAfile "$d/ca/$other.pem" "$d/$role.pem" >/dev/null 2>&1 ||
			bad "$role.pem chains to $other's CA"
	done
done
[ "$(stat -c %a "$d/ca")" = 700 ] || bad "ca/ is not 0700"
ok "each role: its CA, a P-256 certificate named after it, keys 0600"
[ "$(subjects "$d/services-ca.pem")" = "$(ca_subjects user-svc order-svc echo-svc)" ] &&
	ok "services-ca.pem: the three services' CAs" || bad "services-ca.pem: $(subjects "$d/services-ca.pem")"
[ "$(subjects "$d/callers/user-svc.pem")" = "$(ca_subjects user-svc gateway order-svc operator)" ] &&
	[ "$(subjects "$d/callers/order-svc.pem")" = "$(ca_subjects order-svc gateway operator)" ] &&
	[ "$(subjects "$d/callers/echo-svc.pem")" = "$(ca_subjects echo-svc gateway operator)" ] &&
	ok "callers/: each service's own CA, then its callers' from the registry" || bad "callers bundles"

# Idempotent: nothing made, nothing touched.
before=$(cd "$d" && stat -c '%n %Y %s' *.pem *.key ca/* callers/* | md5sum)
"$pki" --tests "$d" 2>"$tmp/err" || bad "second run failed"
after=$(cd "$d" && stat -c '%n %Y %s' *.pem *.key ca/* callers/* | md5sum)
[ "$before" = "$after" ] && [ ! -s "$tmp/err" ] && ok "a second run changes nothing" || bad "second run: $(cat "$tmp/err")"

# A registry of its own: callers changed, a service dropped, one added.
reg=$tmp/reg
mkdir -p "$reg/proto" "$reg/scripts/lib"
printf 'a-svc a.A A_URL tcp://x:1 - - gateway,operator\nb-svc b.B B_URL tcp://x:2 - - operator\n' \
	>"$reg/proto/services.conf"
d=$tmp/own
REGISTRY_DIR=$reg "$pki" "$d" 2>/dev/null || bad "own registry refused"
ca_a=$(md5sum <"$d/ca/a-svc.pem")
printf 'a-svc a.A A_URL tcp://x:1 - - operator\nc-svc c.C C_URL tcp://x:3 - - a-svc,gateway\n' \
	>"$reg/proto/services.conf"
REGISTRY_DIR=$reg "$pki" "$d" 2>/dev/null || bad "changed registry refused"
[ "$(subjects "$d/callers/a-svc.pem")" = "$(ca_subjects a-svc operator)" ] &&
	[ "$(subjects "$d/callers/c-svc.pem")" = "$(ca_subjects c-svc a-svc gateway)" ] &&
	[ "$(subjects "$d/services-ca.pem")" = "$(ca_subjects a-svc c-svc)" ] &&
	ok "a change of callers rewrites the bundles" || bad "bundles after a change"
[ ! -e "$d/b-svc.pem" ] && [ ! -e "$d/b-svc.key" ] && [ ! -e "$d/ca/b-svc.pem" ] && [ ! -e "$d/ca/b-svc.key" ] &&
	[ ! -e "$d/callers/b-svc.pem" ] && ok "a dropped service's files are removed" || bad "b-svc's files remain"
[ -s "$d/c-svc.pem" ] && [ "$(md5sum <"$d/ca/a-svc.pem")" = "$ca_a" ] &&
	ok "an added service gets its files; the others' CAs stay" || bad "c-svc missing or a-svc's CA re-made"

# Made again: a certificate expiring within 7 days, one whose key is another,
# a CA re-made (its certificate is then re-issued).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/k" -out "$d/gateway.pem" \
	-days 3 -subj /CN=gateway 2>/dev/null
cp "$tmp/k" "$d/gateway.key"
openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:P-256 -out "$d/operator.key" 2>/dev/null
rm "$d/ca/a-svc.key"
REGISTRY_DIR=$reg "$pki" "$d" 2>"$tmp/err" || bad "re-making failed"
grep -q 'made 4 ' "$tmp/err" || bad "expected 4 made: $(cat "$tmp/err")"
openssl x509 -in "$d/gateway.pem" -noout -checkend $((30 * 86400)) >/dev/null &&
	openssl verify -CAfile "$d/ca/gateway.pem" "$d/gateway.pem" >/dev/null 2>&1 &&
	ok "a certificate expiring within 7 days is re-made" || bad "gateway.pem not re-made"
[ "$(openssl x509 -in "$d/operator.pem" -noout -pubkey)" = "$(openssl pkey -in "$d/operator.key" -pubout)" ] &&
	ok "a certificate not matching its key is re-made" || bad "operator.pem not re-made"
[ "$(md5sum <"$d/ca/a-svc.pem")" != "$ca_a" ] && openssl verify -CAfile "$d/ca/a-svc.pem" "$d/a-svc.pem" >/dev/null 2>&1 &&
	grep -q "$(head -2 "$d/ca/a-svc.pem" | tail -1)" "$d/callers/c-svc.pem" &&
	ok "a CA without its key is re-made, its certificate and the bundles follow" || bad "a-svc's CA"

# Faults, said.
err=$("$pki" 2>&1) && bad "no DIR accepted" || { [[ $err == *"usage: dev_pki.sh [--tests] DIR"* ]] && ok "usage" || bad "usage: $err"; }
printf 'a-svc a.A A_URL tcp://x:1 - - nobody\n' >"$reg/proto/services.conf"
err=$(REGISTRY_DIR=$reg "$pki" "$tmp/x" 2>&1) && bad "a bad registry accepted" ||
	{ [[ $err == *"callers 'nobody': 'nobody' is not a role"*"dev_pki: the registry was refused"* ]] &&
		ok "a refused registry is said" || bad "bad registry: $err"; }
: >"$tmp/file"
err=$("$pki" "$tmp/file/sub" 2>&1) && bad "a DIR under a file accepted" ||
	{ [[ $err == *"dev_pki: cannot create $tmp/file/sub"* ]] && ok "an impossible DIR is named" || bad "DIR: $err"; }
mkdir "$tmp/bin"
for t in bash dirname mkdir cat; do ln -s "$(command -v $t)" "$tmp/bin/$t"; done
err=$(PATH=$tmp/bin "$tmp/bin/bash" "$pki" "$tmp/y" 2>&1) && bad "no openssl accepted" ||
	{ [[ $err == *"dev_pki: openssl not found"* ]] && ok "no openssl is said" || bad "no openssl: $err"; }

# scripts/lib/rpc_tls.sh: what scripts/server gives each binary.
tls() { bash -c ". '$src/scripts/lib/rpc_tls.sh'; $1" 2>&1; }
[ "$(tls 'rpc_tls_url tcp://127.0.0.1:5001,tcp6://[::1]:2,tls+tcp4://h:3')" = \
	"tls+tcp://127.0.0.1:5001,tls+tcp6://[::1]:2,tls+tcp4://h:3" ] && ok "rpc_tls_url: each element over TLS" ||
	bad "rpc_tls_url: $(tls 'rpc_tls_url tcp://127.0.0.1:5001,tcp6://[::1]:2,tls+tcp4://h:3')"
out=$(tls 'rpc_tls_url ipc:///tmp/x.ipc') && bad "ipc over TLS accepted" ||
	{ [[ $out == *"'ipc:///tmp/x.ipc' cannot carry TLS"* ]] && ok "rpc_tls_url refuses ipc" || bad "ipc: $out"; }
[ "$(tls "rpc_tls_role_env '$tmp/real' user-svc")" = "RPC_TLS_CERT=$tmp/real/user-svc.pem
RPC_TLS_KEY=$tmp/real/user-svc.key
RPC_TLS_CA=$tmp/real/services-ca.pem
RPC_TLS_CALLER_CA=$tmp/real/callers/user-svc.pem" ] && [ "$(tls "rpc_tls_role_env '$tmp/real' gateway" | wc -l)" = 3 ] &&
	ok "rpc_tls_role_env: a service's four files, the gateway's three" || bad "rpc_tls_role_env"
for v in on off ''; do
	RPC_TLS=$v tls rpc_tls_enabled >/dev/null
	rc=$?
	[ "$rc" = "$([ "$v" = off ] && echo 1 || echo 0)" ] || bad "RPC_TLS='$v': status $rc"
done
out=$(RPC_TLS=yes tls rpc_tls_enabled) && bad "RPC_TLS=yes accepted" ||
	{ [[ $out == *"RPC_TLS='yes': expected on or off"* ]] && ok "RPC_TLS: on, off, or said" || bad "RPC_TLS=yes: $out"; }
exit "$fail"
