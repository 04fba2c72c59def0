#!/bin/bash
# The certificates tests/e2e/test_rpc_tls.c calls and serves with, in DIR:
#   DIR/pki/...                 the development PKI (scripts/lib/dev_pki.sh):
#                               one CA per role, each role's certificate
#   DIR/odd/self.pem .key       a self-signed certificate named gateway
#   DIR/odd/stranger.pem .key   gateway, signed by a CA nobody trusts
#   DIR/odd/stranger-user-svc.pem  the same key as user-svc, from that CA
#   DIR/odd/expired.pem .key    gateway, signed by the gateway CA, expired
#   DIR/odd/user-svc-2.pem .key user-svc re-issued by its CA (a rotation)
#   DIR/odd/misnamed.pem .key   user-svc, signed by the gateway's CA: a CA a
#                               service trusts, naming a role it does not
# Usage: make_tls_peers.sh REPO DIR   (DEV_PKI may name another PKI maker)
set -euo pipefail
repo=$1 dir=$2
"${DEV_PKI:-$repo/scripts/lib/dev_pki.sh}" "$dir/pki" >/dev/null
mkdir -p "$dir/odd/db"
cd "$dir/odd"
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
quiet() { "$@" 2>/dev/null || { echo "make_tls_peers: failed: $*" >&2; exit 1; }; }
printf 'subjectAltName=DNS:gateway\n' >gateway.ext
printf 'subjectAltName=DNS:user-svc\n' >user-svc.ext
quiet openssl req -x509 "${ec[@]}" -keyout self.key -out self.pem -days 2 -subj /CN=gateway \
	-addext subjectAltName=DNS:gateway
quiet openssl req -x509 "${ec[@]}" -keyout stranger-ca.key -out stranger-ca.pem -days 2 -subj "/CN=gateway CA"
quiet openssl req "${ec[@]}" -keyout stranger.key -out stranger.csr -subj /CN=gateway
quiet openssl x509 -req -in stranger.csr -CA stranger-ca.pem -CAkey stranger-ca.key -CAcreateserial -days 1 \
	-extfile gateway.ext -out stranger.pem
quiet openssl x509 -req -in stranger.csr -CA stranger-ca.pem -CAkey stranger-ca.key -CAcreateserial -days 1 \
	-extfile user-svc.ext -out stranger-user-svc.pem
# openssl 3.0's x509 -req cannot backdate: `openssl ca` with a throw-away
# database gives any validity period.
: >db/index
echo 01 >db/serial
cat >ca.cnf <<'CNF'
[ca]
default_ca = test
[test]
database = db/index
new_certs_dir = db
serial = db/serial
default_md = sha256
policy = any
unique_subject = no
copy_extensions = copy
[any]
commonName = supplied
CNF
quiet openssl req "${ec[@]}" -keyout expired.key -out expired.csr -subj /CN=gateway -addext subjectAltName=DNS:gateway
quiet openssl ca -batch -config ca.cnf -cert ../pki/ca/gateway.pem -keyfile ../pki/ca/gateway.key -in expired.csr \
	-out expired.pem -notext -startdate 20200101000000Z -enddate 20200102000000Z
quiet openssl req "${ec[@]}" -keyout user-svc-2.key -out user-svc-2.csr -subj /CN=user-svc
quiet openssl x509 -req -in user-svc-2.csr -CA ../pki/ca/user-svc.pem -CAkey ../pki/ca/user-svc.key -CAcreateserial \
	-days 1 -extfile user-svc.ext -out user-svc-2.pem
quiet openssl req "${ec[@]}" -keyout misnamed.key -out misnamed.csr -subj /CN=user-svc
quiet openssl x509 -req -in misnamed.csr -CA ../pki/ca/gateway.pem -CAkey ../pki/ca/gateway.key -CAcreateserial \
	-days 1 -extfile user-svc.ext -out misnamed.pem
