#!/bin/bash
# The official postgres image's entrypoint, as far as compose/ relies on it:
# as root, own the data folder and re-run as postgres; on an empty data
# folder, initdb with POSTGRES_USER / POSTGRES_PASSWORD (required), create
# POSTGRES_DB, run /docker-entrypoint-initdb.d/ (*.sh run or sourced, *.sql
# through psql) against a temporary server on the Unix socket only, stop it,
# then exec the real server listening on every address.
set -Eeo pipefail

if [ "${1:0:1}" = - ]; then set -- postgres "$@"; fi
[ "$1" = postgres ] || exec "$@"

if [ "$(id -u)" = 0 ]; then
	mkdir -p "$PGDATA"
	chown postgres:postgres "$PGDATA"
	chmod 700 "$PGDATA"
	exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

export POSTGRES_USER=${POSTGRES_USER:-postgres}
export POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "${POSTGRES_HOST_AUTH_METHOD:-}" != trust ]; then
		echo >&2 "Error: Database is uninitialized and superuser password is not specified."
		echo >&2 "       Specify a non-empty value for POSTGRES_PASSWORD (or POSTGRES_HOST_AUTH_METHOD=trust)."
		exit 1
	fi
	# shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of options
	initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "${POSTGRES_PASSWORD:-}") \
		${POSTGRES_INITDB_ARGS:-}
	# initdb trusts local connections (the socket, 127.0.0.1, ::1); anyone
	# else must give the password, as in the official image.
	printf '\nhost all all all %s\n' "${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" >>"$PGDATA/pg_hba.conf"
	printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"

	export PGPASSWORD=${PGPASSWORD:-${POSTGRES_PASSWORD:-}}
	pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
	psql=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
	if [ "$POSTGRES_DB" != postgres ]; then
		"${psql[@]}" --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
	fi
	psql+=(--dbname "$POSTGRES_DB")
	for f in /docker-entrypoint-initdb.d/*; do
		case "$f" in
		*.sh)
			if [ -x "$f" ]; then
				echo "$0: running $f"
				"$f"
			else
				echo "$0: sourcing $f"
				# shellcheck disable=SC1090
				. "$f"
			fi
			;;
		*.sql) echo "$0: running $f"; "${psql[@]}" -f "$f" ;;
		*) [ ! -e "$f" ] || echo "$0: ignoring $f" ;;
		esac
	done
	pg_ctl -D "$PGDATA" -m fast -w stop
	unset PGPASSWORD
	echo "PostgreSQL init process complete; ready for start up."
fi

exec "$@"
