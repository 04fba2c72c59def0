#!/bin/bash
# Makes the PEM files the RPC_TLS_* tests read, with openssl, in DIR:
#   ca.pem ca.key            a CA (EC P-256), valid for 2 days
#   good.pem good.key        a certificate it signed, valid for 1 day, and its key
#   expired.pem              the same key certified for 2020-01-01 only
#   future.pem               the same key certified for 2099-12-31 only
#   other.key                a key that is no certificate's
#   encrypted.key            good.key under a passphrase
#   good.der                 good.pem in DER, not PEM
#   bundle-expired.pem       ca.pem then expired.pem
#   notpem.txt               text
# openssl 3.0's x509 -req has no -not_before/-not_after: `openssl ca` with
# -startdate/-enddate and a throw-away database gives any validity period.
# Usage: make_tls_files.sh DIR
set -euo pipefail
dir=$1
mkdir -p "$dir/db"
cd "$dir"
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
copy_extensions = none
[any]
commonName = supplied
CNF
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.pem -days 2 -subj /CN=test-rpc-ca 2>/dev/null
openssl req "${ec[@]}" -keyout good.key -out good.csr -subj /CN=user-svc 2>/dev/null
openssl x509 -req -in good.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -out good.pem 2>/dev/null
sign() { # sign OUT START END
	openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in good.csr -out "$1" -notext \
		-startdate "$2" -enddate "$3" 2>/dev/null
}
sign expired.pem 20200101000000Z 20200102000000Z
sign future.pem 20991231000000Z 21000101000000Z
openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:P-256 -out other.key 2>/dev/null
openssl pkey -in good.key -aes256 -passout pass:secret -out encrypted.key 2>/dev/null
openssl x509 -in good.pem -outform DER -out good.der
cat ca.pem expired.pem >bundle-expired.pem
echo "not a certificate" >notpem.txt
