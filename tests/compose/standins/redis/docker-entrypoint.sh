#!/bin/bash
# The official redis image's entrypoint, as far as compose/ relies on it:
# options alone run redis-server; as root, own /data and re-run as redis.
# The official image builds Redis with protected mode off by default (it
# answers other containers without a password); Debian's keeps it on, so
# the option is given here unless a configuration file comes first.
set -e

if [ "${1:0:1}" = - ] || [ "${1%.conf}" != "$1" ]; then set -- redis-server "$@"; fi

if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
	find . \! -user redis -exec chown redis '{}' +
	exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi

if [ "$1" = redis-server ] && { [ $# -eq 1 ] || [ "${2:0:1}" = - ]; }; then
	shift
	set -- redis-server --protected-mode no "$@"
fi
umask 0077
exec "$@"
