#!/usr/bin/env bash
# Prints the Secrets deploy/k8s's Deployments mount, as manifests on standard
# output, from a PKI directory and the credentials in the environment; nothing
# is written anywhere, so no key or password lands in the repository:
#
#   scripts/lib/dev_pki.sh /secure/pki            # or your own PKI, same layout
#   USER_DB_URL=postgresql://user_svc:...@db.example:5432/user_db \
#   ORDER_DB_URL=postgresql://order_svc:...@db.example:5432/order_db \
#   AMQP_URL=amqp://app:...@mq.example:5672/ \
#     deploy/k8s/make-secrets.sh /secure/pki | kubectl apply -n NAMESPACE -f -
#
# Usage: make-secrets.sh [--operators] PKI_DIR
#   --operators  the overlay runs the database operator (components/with-operators):
#                each service's database URL comes from the operator's own
#                Secret, so only AMQP_URL is asked for
# For gateway and each service of the registry (proto/services.conf):
#   <role>-tls          cert.pem key.pem ca.pem (+ callers.pem for a service),
#                       from PKI_DIR/<role>.pem, <role>.key, services-ca.pem and
#                       callers/<service>.pem (dev_pki.sh's layout); mounted at
#                       /run/tls. The operator role's key is not given to the cluster.
#   <service>-credentials  its database URL (the registry's db_url_variable,
#                       e.g. USER_DB_URL) and AMQP_URL, one file per variable,
#                       mounted at /run/secrets/credentials and read through
#                       <VARIABLE>_FILE
# Exit status: 0 printed; 1 a fault, said on stderr (a missing file or variable).
set -euo pipefail
say() { echo "make-secrets: $*" >&2; }
die() { say "$*"; exit 1; }

operators=0
case "${1:-}" in --operators) operators=1; shift ;; esac
[ $# -eq 1 ] && [ -d "$1" ] || die "usage: make-secrets.sh [--operators] PKI_DIR (a directory made by scripts/lib/dev_pki.sh)"
pki=$1
command -v kubectl >/dev/null || die "kubectl not found"
. "$(dirname "$(readlink -f "$0")")/../../scripts/lib/registry.sh"
services=$(registry_services)

need() { [ -r "$1" ] || die "$1 missing or unreadable (run scripts/lib/dev_pki.sh $pki first)"; }
# kubectl writes the manifest without a cluster (--dry-run=client).
secret() { kubectl create secret generic "$@" --dry-run=client -o yaml; }

# Everything is checked before anything is printed: no half a set to apply.
vars_of() { # the credential variables of service $1 (db_url_variable $2)
	echo AMQP_URL
	[ "$2" = - ] || [ "$operators" = 1 ] || echo "$2"
}
for f in gateway.pem gateway.key services-ca.pem; do need "$pki/$f"; done
while read -r name _ _ _ db_url_variable _ _; do
	for f in "$name.pem" "$name.key" "callers/$name.pem"; do need "$pki/$f"; done
	for var in $(vars_of "$name" "$db_url_variable"); do
		[ -n "${!var:-}" ] || die "$var is not set: $name's credentials need it (see the usage at the top of $0)"
	done
done <<<"$services"

secret gateway-tls --from-file=cert.pem="$pki/gateway.pem" --from-file=key.pem="$pki/gateway.key" \
	--from-file=ca.pem="$pki/services-ca.pem"
while read -r name _ _ _ db_url_variable _ _; do
	echo ---
	secret "$name-tls" --from-file=cert.pem="$pki/$name.pem" --from-file=key.pem="$pki/$name.key" \
		--from-file=ca.pem="$pki/services-ca.pem" --from-file=callers.pem="$pki/callers/$name.pem"
	# Each value through a pipe, not the command line: ps shows arguments.
	files=() fds=()
	for var in $(vars_of "$name" "$db_url_variable"); do
		exec {fd}< <(printf '%s' "${!var}")
		files+=("--from-file=$var=/dev/fd/$fd") fds+=("$fd")
	done
	echo ---
	secret "$name-credentials" "${files[@]}"
	for fd in "${fds[@]}"; do exec {fd}<&-; done
done <<<"$services"
