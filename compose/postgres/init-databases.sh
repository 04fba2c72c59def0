#!/bin/bash
# Run once by the postgres image on an empty data volume
# (/docker-entrypoint-initdb.d): one role and one database per service of
# the registry (proto/services.conf), each database owned by its role and
# closed to the others, as scripts/servers provisions locally. The registry
# and its reader are mounted at /opt/registry (docker-compose.yml); run from
# a checkout, this file finds them beside it. Each password comes from the
# variable named for the service's db_url_variable: USER_DB_URL's from
# USER_DB_PASSWORD.
set -euo pipefail

for lib in /opt/registry/scripts/lib/registry.sh "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../scripts/lib/registry.sh"; do
	if [ -r "$lib" ]; then
		. "$lib"
		break
	fi
done
command -v registry_services >/dev/null || { echo "init-databases: no registry at /opt/registry" >&2; exit 1; }
services=$(registry_services)

# Every password first, so a missing one creates nothing.
while read -r name contract url_variable default_url db_url_variable database callers; do
	password_variable=$(registry_password_variable "$db_url_variable")
	[ "$database" = - ] || [ -n "${!password_variable:-}" ] ||
		{ echo "init-databases: $password_variable (the password of $name's role) is not set" >&2; exit 1; }
done <<<"$services"

while read -r name contract url_variable default_url db_url_variable database callers; do
	[ "$database" != - ] || continue
	password_variable=$(registry_password_variable "$db_url_variable")
	psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
		-v role="$(registry_role "$name")" -v db="$database" -v pw="${!password_variable}" <<-'SQL'
		CREATE ROLE :"role" LOGIN PASSWORD :'pw';
		CREATE DATABASE :"db" OWNER :"role";
		-- Each service sees only its own database.
		REVOKE CONNECT ON DATABASE :"db" FROM PUBLIC;
	SQL
done <<<"$services"
