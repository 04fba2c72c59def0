/* broker.h over librabbitmq 0.11. */
#include "svc/broker.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "base/net_check.h"

/* The port's text, if any, is digits (RFC 3986 3.2.3): librabbitmq reads
 * it with strtol, which takes " 5672" and "+5672". */
static bool
port_text_is_digits(const char *url)
{
	const char *auth = strstr(url, "://");
	if (auth == NULL)
		return true;
	auth += 3;
	const char *end = auth + strcspn(auth, "/?#"), *at = NULL;
	for (const char *p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	const char *host = at != NULL ? at + 1 : auth, *close = memchr(host, ']', (size_t) (end - host));
	const char *colon = memchr(close != NULL ? close : host, ':', (size_t) (end - (close != NULL ? close : host)));
	for (const char *p = colon != NULL ? colon + 1 : end; p < end; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

int
broker_check_url(const char *url, char *err, size_t errlen)
{
	char *copy = strdup(url); /* amqp_parse_url rewrites its input */
	struct amqp_connection_info info;
	int rc     = copy != NULL ? amqp_parse_url(copy, &info) : AMQP_STATUS_NO_MEMORY;
	int result = -1;
	char why[256];
	/* amqp_parse_url takes port 0, any host text, and amqps:// (for
	 * which broker_connect would need an SSL socket, which it does not
	 * open); none of them can work here. */
	if (rc != AMQP_STATUS_OK)
		snprintf(
		    err, errlen, "is not an amqp://user:password@host:port/vhost URL (librabbitmq cannot parse it)");
	else if (info.ssl)
		snprintf(err, errlen, "is not an AMQP URL to use: amqps (TLS) is not supported, use amqp://");
	else if (!port_text_is_digits(url))
		snprintf(err, errlen, "is not an AMQP URL to use: its port must be digits");
	else if (info.port < 1 || info.port > 65535)
		snprintf(err, errlen, "is not an AMQP URL to use: it has port %d, out of range [1, 65535]", info.port);
	else if (net_check_host(info.host, strlen(info.host), 1, why, sizeof(why)) != 0)
		snprintf(err, errlen, "is not an AMQP URL to use: it %s", why);
	else
		result = 0;
	free(copy);
	return result;
}

/* The elements of a list: count, and element i's span. */
static int
element_count(const char *urls)
{
	int n = 1;
	for (const char *p = urls; *p != '\0'; p++)
		n += *p == ',';
	return n;
}

/* A copy of element i (malloc'd), or NULL without memory. */
static char *
element_copy(const char *urls, int i)
{
	const char *at = urls;
	for (; i > 0; i--)
		at = strchr(at, ',') + 1;
	return strndup(at, strcspn(at, ","));
}

int
broker_check_urls(const char *urls, char *err, size_t errlen)
{
	int n = element_count(urls);
	if (n > BROKER_URLS_MAX) {
		snprintf(err, errlen, "lists %d URLs, more than %d", n, BROKER_URLS_MAX);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char *url = element_copy(urls, i), why[400];
		int rc    = -1;
		if (url == NULL)
			snprintf(why, sizeof(why), "cannot be read (out of memory)");
		else if (url[0] == '\0')
			snprintf(why, sizeof(why), "is empty (two commas together, or one at an end)");
		else
			rc = broker_check_url(url, why, sizeof(why));
		free(url);
		if (rc == 0)
			continue;
		if (n == 1)
			snprintf(err, errlen, "%s", why);
		else
			snprintf(err, errlen, "element %d of %d %s", i + 1, n, why);
		return -1;
	}
	return 0;
}

int
broker_env_parse_url(const char *text, void *out, char *err, size_t errlen)
{
	if (broker_check_urls(text, err, errlen) != 0)
		return -1;
	*(const char **) out = text;
	return 0;
}

bool
broker_reply_code(amqp_connection_state_t conn, const char *what, int *code, char *err, size_t errlen)
{
	amqp_rpc_reply_t r = amqp_get_rpc_reply(conn);
	*code              = 0;
	switch (r.reply_type) {
	case AMQP_RESPONSE_NORMAL: return true;
	case AMQP_RESPONSE_LIBRARY_EXCEPTION:
		snprintf(err, errlen, "%s: %s", what, amqp_error_string2(r.library_error));
		return false;
	case AMQP_RESPONSE_SERVER_EXCEPTION:
		if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
			const amqp_connection_close_t *m = r.reply.decoded;
			*code                            = m->reply_code;
			snprintf(
			    err, errlen, "%s: %.*s", what, (int) m->reply_text.len, (const char *) m->reply_text.bytes);
		} else if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
			const amqp_channel_close_t *m = r.reply.decoded;
			*code                         = m->reply_code;
			snprintf(
			    err, errlen, "%s: %.*s", what, (int) m->reply_text.len, (const char *) m->reply_text.bytes);
		} else {
			snprintf(err, errlen, "%s: server exception %u", what, r.reply.id);
		}
		return false;
	default: snprintf(err, errlen, "%s: no reply", what); return false;
	}
}

bool
broker_reply_ok(amqp_connection_state_t conn, const char *what, char *err, size_t errlen)
{
	int code;
	return broker_reply_code(conn, what, &code, err, errlen);
}

/* One URL: connect, log in, open channel 1; where gets "host:port". */
static amqp_connection_state_t
connect_one(const char *url, int timeout_ms, int heartbeat_s, char *where, size_t wherelen, char *err, size_t errlen)
{
	char *copy = strdup(url);
	struct amqp_connection_info info;
	if (copy == NULL || amqp_parse_url(copy, &info) != AMQP_STATUS_OK) {
		free(copy);
		snprintf(err, errlen, "bad AMQP URL");
		return NULL;
	}
	snprintf(where, wherelen, "%s:%d", info.host, info.port);
	const char *vhost            = info.vhost[0] != '\0' ? info.vhost : "/";
	amqp_connection_state_t conn = amqp_new_connection();
	amqp_socket_t *sock          = conn != NULL ? amqp_tcp_socket_new(conn) : NULL;
	struct timeval tv            = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	int rc;
	if (sock == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if ((rc = amqp_socket_open_noblock(sock, info.host, info.port, &tv)) != AMQP_STATUS_OK) {
		snprintf(err, errlen, "connect %s:%d: %s", info.host, info.port, amqp_error_string2(rc));
		goto fail;
	}
	/* Bounds every later blocking read or write on this connection. */
	amqp_set_rpc_timeout(conn, &tv);
	amqp_rpc_reply_t login =
	    amqp_login(conn, vhost, 0, 131072, heartbeat_s, AMQP_SASL_METHOD_PLAIN, info.user, info.password);
	if (login.reply_type != AMQP_RESPONSE_NORMAL) {
		snprintf(err, errlen, "login to %s:%d vhost %s as %s refused or timed out", info.host, info.port, vhost,
		    info.user);
		goto fail;
	}
	amqp_channel_open(conn, 1);
	if (!broker_reply_ok(conn, "channel.open", err, errlen))
		goto fail;
	free(copy);
	return conn;
fail:
	free(copy);
	if (conn != NULL)
		amqp_destroy_connection(conn);
	return NULL;
}

void
broker_rotation_init(broker_rotation *r, const char *urls)
{
	r->urls     = urls;
	r->count    = element_count(urls);
	r->last     = r->count - 1;
	r->where[0] = '\0';
}

amqp_connection_state_t
broker_rotation_connect(broker_rotation *r, int timeout_ms, int heartbeat_s, char *err, size_t errlen)
{
	size_t used = 0;
	err[0]      = '\0';
	for (int k = 1; k <= r->count; k++) {
		int i     = (r->last + k) % r->count;
		char *url = element_copy(r->urls, i), why[300], where[sizeof(r->where)];
		amqp_connection_state_t conn =
		    url != NULL ? connect_one(url, timeout_ms, heartbeat_s, where, sizeof(where), why, sizeof(why))
		                : NULL;
		if (url == NULL)
			snprintf(why, sizeof(why), "out of memory");
		free(url);
		if (conn != NULL) {
			r->last = i;
			snprintf(r->where, sizeof(r->where), "%s", where);
			return conn;
		}
		/* Every element's reason, for the log: "a; b; c". */
		if (used < errlen) {
			int w = snprintf(err + used, errlen - used, "%s%s", used > 0 ? "; " : "", why);
			used += w > 0 ? (size_t) w : 0;
		}
	}
	return NULL;
}

amqp_connection_state_t
broker_connect(const char *urls, int timeout_ms, int heartbeat_s, char *err, size_t errlen)
{
	broker_rotation r;
	broker_rotation_init(&r, urls);
	return broker_rotation_connect(&r, timeout_ms, heartbeat_s, err, errlen);
}

void
broker_close(amqp_connection_state_t conn)
{
	if (conn == NULL)
		return;
	amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
	amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
	amqp_destroy_connection(conn);
}
