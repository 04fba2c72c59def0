/* RabbitMQ connections (librabbitmq 0.11): URL parsing, connect + login +
 * one channel, and the check after each synchronous AMQP method. A
 * connection belongs to one thread. */
#ifndef SVC_BROKER_H
#define SVC_BROKER_H

#include <amqp.h>
#include <stdbool.h>
#include <stddef.h>

/* Checks AMQP_URL (amqp://user:password@host:port/vhost) with
 * amqp_parse_url, then what it lets through but cannot work here: amqps
 * (no TLS socket is opened), port 0, a host that is neither a name nor an
 * IP address (net_check_host). Returns 0 or -1 with a reason that reads
 * after the quoted value and never repeats the URL. */
int broker_check_url(const char *url, char *err, size_t errlen);

/* An ENV_CUSTOM parser (env.h) for AMQP_URL: checks it, keeps the text. */
int broker_env_parse_url(const char *text, void *out, char *err, size_t errlen);

/* Connects to url, logs in and opens channel 1, all within timeout_ms for
 * the socket (which also bounds every later blocking call). heartbeat_s 0
 * disables heartbeats (for a connection that is idle between bursts and
 * finds a dead broker on its next use). Returns the connection or NULL
 * with a reason (never the password) in err. "amqp://host/" means vhost
 * "/" here, as users expect, although the AMQP URI spec would read it as
 * the empty vhost. */
amqp_connection_state_t broker_connect(const char *url, int timeout_ms, int heartbeat_s, char *err, size_t errlen);

/* After a synchronous method: true when the broker answered normally;
 * otherwise false with the reason in err. */
bool broker_reply_ok(amqp_connection_state_t conn, const char *what, char *err, size_t errlen);

/* Closes and destroys; accepts NULL. */
void broker_close(amqp_connection_state_t conn);

#endif
