#!/usr/bin/env bash
# The development PKI of mutual TLS on the RPC hop (issue 18; docs: the TLS
# design): one CA per role. A service checks both that a caller's
# certificate chains to the CA of an allowed role and that its CN names one;
# the CA per role began when nng 1.5.2 showed only the first, and stays as
# defense in depth. The roles are gateway, operator (rpc-call) and every
# registry service; who may call whom is the registry's callers column.
#
# Usage: scripts/lib/dev_pki.sh [--tests] DIR
#   --tests   the test build's registry too (tests/services.conf: echo-svc)
# Writes, in DIR:
#   ca/<role>.pem ca/<role>.key   each role's CA (EC P-256, 1 year); the CA
#                                 keys stay here, never given to a binary
#   <role>.pem <role>.key         each role's certificate (CN=<role>,
#                                 DNS:<role>, serverAuth+clientAuth, 90 days)
#   services-ca.pem               every service's CA: RPC_TLS_CA of all
#   callers/<service>.pem         the CAs of that service's callers: its
#                                 RPC_TLS_CALLER_CA; the service's own CA
#                                 first (a service may call itself: its health
#                                 check and probes run as it, with no other
#                                 role's key in its container), then the
#                                 registry's callers
# Idempotent and fast when nothing changed: a CA or certificate is made
# again only when missing, unreadable, expiring within 7 days, not matching
# its key, or (a certificate) no longer signed by its role's CA; the bundles
# are rewritten only when the registry's roles or callers change them; the
# files of a role the registry no longer has are removed. Keys are 0600,
# DIR/ca 0700. DEV_PKI_OWNER=uid:gid chowns what a binary reads (compose:
# the containers' user). Concurrent runs on one DIR wait for each other.
# Exit status: 0 done; 1 a fault, said on stderr as "dev_pki: ...".
set -euo pipefail

say() { echo "dev_pki: $*" >&2; }
die() { say "$*"; exit 1; }

tests=
case "${1:-}" in --tests) tests=--tests; shift ;; esac
[ $# -eq 1 ] && [ -n "$1" ] || die "usage: dev_pki.sh [--tests] DIR"
dir=$1
command -v openssl >/dev/null || die "openssl not found (Debian: apt-get install openssl)"

. "$(dirname "${BASH_SOURCE[0]}")/registry.sh"
lines=$(registry_services $tests) || die "the registry was refused (above)"

mkdir -p "$dir" 2>/dev/null || die "cannot create $dir"
[ -w "$dir" ] || die "$dir is not writable"
mkdir -p "$dir/ca" "$dir/callers" 2>/dev/null || die "cannot create $dir/ca and $dir/callers (is one a file?)"
chmod 0700 "$dir/ca" || die "cannot make $dir/ca private"

# One run at a time on DIR (scripts/test and scripts/servers may share it).
if command -v flock >/dev/null; then
	exec 9>"$dir/.lock"
	flock 9
fi

services=() roles=(gateway operator)
declare -A callers=()
while read -r name _ _ _ _ _ list; do
	services+=("$name")
	roles+=("$name")
	callers[$name]=$list
done <<<"$lines"

tmp=$(mktemp -d "$dir/.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
umask 077
cat >"$tmp/openssl.cnf" <<'CNF'
[req]
distinguished_name = dn
prompt = no
[dn]
[ca_ext]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[leaf_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
week=$((7 * 24 * 3600))
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)

# usable CERT KEY: the certificate parses, is valid for more than a week and
# is the key's.
usable() {
	[ -s "$1" ] && [ -s "$2" ] || return 1
	openssl x509 -in "$1" -noout -checkend "$week" >/dev/null 2>&1 || return 1
	local a b
	a=$(openssl x509 -in "$1" -noout -pubkey 2>/dev/null) || return 1
	b=$(openssl pkey -in "$2" -pubout 2>/dev/null) || return 1
	[ "$a" = "$b" ]
}

# run WHAT COMMAND...: openssl's output only when it fails.
run() {
	local what=$1
	shift
	"$@" >"$tmp/out" 2>&1 || { cat "$tmp/out" >&2; die "openssl failed making $what"; }
}

made=0
for role in "${roles[@]}"; do
	ca=$dir/ca/$role
	if ! usable "$ca.pem" "$ca.key"; then
		run "the $role CA" openssl req -config "$tmp/openssl.cnf" -x509 "${ec[@]}" -keyout "$tmp/ca.key" \
			-out "$tmp/ca.pem" -days 365 -subj "/CN=$role dev CA" -extensions ca_ext \
			-set_serial "0x$(openssl rand -hex 16)"
		mv "$tmp/ca.key" "$ca.key"
		mv "$tmp/ca.pem" "$ca.pem"
		made=$((made + 1))
	fi
	leaf=$dir/$role
	if ! usable "$leaf.pem" "$leaf.key" ||
		! openssl verify -CAfile "$ca.pem" -purpose sslclient "$leaf.pem" >/dev/null 2>&1; then
		run "$role's key" openssl req -config "$tmp/openssl.cnf" -new "${ec[@]}" -keyout "$tmp/leaf.key" \
			-out "$tmp/leaf.csr" -subj "/CN=$role"
		# The name a dialer checks is the role's (a service's registry name).
		{ cat "$tmp/openssl.cnf"; echo "subjectAltName = DNS:$role"; } >"$tmp/leaf.cnf"
		run "$role's certificate" openssl x509 -req -in "$tmp/leaf.csr" -CA "$ca.pem" \
			-CAkey "$ca.key" -days 90 -sha256 -set_serial "0x$(openssl rand -hex 16)" \
			-extfile "$tmp/leaf.cnf" -extensions leaf_ext -out "$tmp/leaf.pem"
		mv "$tmp/leaf.key" "$leaf.key"
		mv "$tmp/leaf.pem" "$leaf.pem"
		made=$((made + 1))
	fi
	chmod 0600 "$ca.key" "$leaf.key"
	chmod 0644 "$ca.pem" "$leaf.pem"
done

# put FILE: $tmp/bundle becomes FILE when it differs (an unchanged bundle
# keeps its time: nothing that watches it sees a change).
put() {
	cmp -s "$tmp/bundle" "$1" 2>/dev/null || { cp "$tmp/bundle" "$1.new" && mv "$1.new" "$1"; }
	chmod 0644 "$1"
}
: >"$tmp/bundle"
for s in "${services[@]}"; do cat "$dir/ca/$s.pem" >>"$tmp/bundle"; done
put "$dir/services-ca.pem"
for s in "${services[@]}"; do
	cat "$dir/ca/$s.pem" >"$tmp/bundle"
	IFS=, read -ra list <<<"${callers[$s]}"
	for role in "${list[@]}"; do cat "$dir/ca/$role.pem" >>"$tmp/bundle"; done
	put "$dir/callers/$s.pem"
done

# A role the registry dropped: its files go (its CA must not stay trusted).
for f in "$dir"/ca/*.pem "$dir"/*.pem "$dir"/callers/*.pem; do
	[ -e "$f" ] || continue
	role=$(basename "$f" .pem)
	[ "$role" != services-ca ] || continue
	case " ${roles[*]} " in *" $role "*) continue ;; esac
	rm -f "$f" "${f%.pem}.key"
done

if [ -n "${DEV_PKI_OWNER:-}" ]; then
	chown "$DEV_PKI_OWNER" "$dir" "$dir"/*.pem "$dir"/*.key "$dir/callers" "$dir"/callers/*.pem ||
		die "cannot chown to DEV_PKI_OWNER=$DEV_PKI_OWNER"
fi
[ "$made" -eq 0 ] || say "$dir: made $made CA(s)/certificate(s) for ${roles[*]}"
