#!/bin/bash
# The official rabbitmq image's entrypoint, as far as compose/ relies on it:
# RABBITMQ_DEFAULT_USER / RABBITMQ_DEFAULT_PASS become the default user
# (created with the administrator tag on the node's first start); as root,
# own /var/lib/rabbitmq and re-run as rabbitmq. The node is
# rabbit@<host name>, its data /var/lib/rabbitmq/mnesia.
set -e

if [ "$1" = rabbitmq-server ] && [ "$(id -u)" = 0 ]; then
	conf=/etc/rabbitmq/conf.d/10-defaults.conf
	mkdir -p /etc/rabbitmq/conf.d
	: >"$conf"
	[ -z "${RABBITMQ_DEFAULT_USER:-}" ] || printf 'default_user = %s\n' "$RABBITMQ_DEFAULT_USER" >>"$conf"
	[ -z "${RABBITMQ_DEFAULT_PASS:-}" ] || printf 'default_pass = %s\n' "$RABBITMQ_DEFAULT_PASS" >>"$conf"
	chown -R rabbitmq:rabbitmq /var/lib/rabbitmq /etc/rabbitmq
	exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups "$0" "$@"
fi
# Debian's /usr/sbin/rabbitmq-server would switch users itself; the node's
# own script runs it in the foreground, logging to stdout (rabbitmq.conf).
[ "$1" != rabbitmq-server ] || { shift; set -- /usr/lib/rabbitmq/bin/rabbitmq-server "$@"; }
exec "$@"
