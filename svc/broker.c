/* broker.h over librabbitmq 0.11. */
#include "svc/broker.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "base/monotonic.h"

#include "base/net_check.h"
#include "rpc/envelope.h"

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

/* Whether element i of n looks like a piece of a URL whose password held
 * a ',': a head (a scheme, then a ':' with no '@' after it:
 * "amqp://user:pa") before another element, or a tail (an '@' but no
 * scheme: "ss@host/") after one. */
static bool
looks_split(const char *urls, int i, int n)
{
	char *e = element_copy(urls, i);
	if (e == NULL)
		return false;
	const char *scheme = strstr(e, "://"), *colon = scheme != NULL ? strchr(scheme + 3, ':') : NULL;
	bool head = i < n - 1 && colon != NULL && strchr(colon, '@') == NULL;
	bool tail = i > 0 && scheme == NULL && strchr(e, '@') != NULL;
	free(e);
	return head || tail;
}

/* Element url's broker as "host:port" (the host as written, lowercased:
 * names are case-insensitive, RFC 3986 3.2.2), for finding repeats; ""
 * when it does not parse. */
static void
broker_of(const char *url, char *out, size_t len)
{
	char *copy = strdup(url);
	struct amqp_connection_info info;
	out[0] = '\0';
	if (copy != NULL && amqp_parse_url(copy, &info) == AMQP_STATUS_OK) {
		bool v6 = strchr(info.host, ':') != NULL;
		snprintf(out, len, "%s%s%s:%d", v6 ? "[" : "", info.host, v6 ? "]" : "", info.port);
		for (char *p = out; *p != '\0'; p++)
			*p = (char) (*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
	}
	free(copy);
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
			snprintf(err, errlen, "element %d of %d %s%s", i + 1, n, why,
			    looks_split(urls, i, n)
			        ? "; it looks like a password cut at a comma (the list's separator): write a "
			          "comma in a password as %2C"
			        : "");
		return -1;
	}
	/* Each broker once: a repeat is never meant (broker.h). */
	char seen[BROKER_URLS_MAX][300];
	for (int i = 0; i < n; i++) {
		char *url = element_copy(urls, i);
		if (url == NULL) {
			snprintf(err, errlen, "cannot be read (out of memory)");
			return -1;
		}
		broker_of(url, seen[i], sizeof(seen[i]));
		free(url);
		for (int j = 0; j < i; j++) {
			if (seen[i][0] != '\0' && strcmp(seen[i], seen[j]) == 0) {
				snprintf(err, errlen,
				    "element %d of %d names the same broker (%s) as element %d: list each node once (a "
				    "repeat is tried twice per pass, and a silent node then costs its %d s twice)",
				    i + 1, n, seen[i], j + 1, BROKER_CONNECT_TIMEOUT_MS / 1000);
				return -1;
			}
		}
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

/* The attempt in progress on this thread (a connection belongs to one
 * thread): broker_reply_code gives the next synchronous method the time
 * left before its deadline, since librabbitmq bounds each RPC on its own
 * (amqp_set_rpc_timeout), never a sequence of them. */
static _Thread_local struct {
	amqp_connection_state_t conn;
	int64_t deadline_ms; /* rpc_clock_ms */
} attempt;

/* The time left of the attempt as a timeval, at least 1 ms: a zero
 * timeval would mean "poll once" to librabbitmq, a NULL one "forever". */
static struct timeval
time_left(void)
{
	int64_t ms = attempt.deadline_ms - rpc_clock_ms();
	if (ms < 1)
		ms = 1;
	return (struct timeval){.tv_sec = (time_t) (ms / 1000), .tv_usec = (suseconds_t) (ms % 1000) * 1000};
}

/* Bounds conn's next synchronous method (and the handshake) by the time
 * left of the attempt, when conn is the attempt's. */
static void
arm(amqp_connection_state_t conn)
{
	if (conn == NULL || conn != attempt.conn)
		return;
	struct timeval tv = time_left();
	amqp_set_rpc_timeout(conn, &tv);
}

bool
broker_reply_code(amqp_connection_state_t conn, const char *what, int *code, char *err, size_t errlen)
{
	amqp_rpc_reply_t r = amqp_get_rpc_reply(conn);
	*code              = 0;
	arm(conn); /* the next method of an attempt gets what is left */
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

/* Forgets c's connection (c may be NULL): closes our dup of its socket. */
static void
detach(broker_cut *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	pthread_mutex_unlock(&c->mu);
}

/* One URL: connect, log in, open channel 1 and set up, all before one
 * deadline o->timeout_ms away; where gets "host:port". */
static amqp_connection_state_t
connect_one(const char *url, const broker_connect_options *o, char *where, size_t wherelen, char *err, size_t errlen)
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
	attempt.conn                 = conn;
	attempt.deadline_ms          = rpc_clock_ms() + o->timeout_ms;
	struct timeval tv            = time_left();
	int rc;
	if (sock == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/* Each step gets the time left: the TCP connect here, the whole
	 * handshake (protocol header, start, tune, open: amqp_login's one
	 * deadline, 12 s by default in librabbitmq 0.11 otherwise), then each
	 * synchronous method (arm, broker_reply_code). */
	if ((rc = amqp_socket_open_noblock(sock, info.host, info.port, &tv)) != AMQP_STATUS_OK) {
		snprintf(err, errlen, "connect %s:%d: %s", info.host, info.port, amqp_error_string2(rc));
		goto fail;
	}
	if (o->cut != NULL)
		broker_cut_attach(o->cut, conn); /* a stop may cut the handshake from here on */
	tv = time_left();
	amqp_set_handshake_timeout(conn, &tv);
	amqp_rpc_reply_t login =
	    amqp_login(conn, vhost, 0, 131072, o->heartbeat_s, AMQP_SASL_METHOD_PLAIN, info.user, info.password);
	if (login.reply_type != AMQP_RESPONSE_NORMAL) {
		snprintf(err, errlen, "login to %s:%d vhost %s as %s: %s", info.host, info.port, vhost, info.user,
		    login.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION ? amqp_error_string2(login.library_error)
		                                                        : "refused");
		goto fail;
	}
	arm(conn);
	amqp_channel_open(conn, 1);
	if (!broker_reply_ok(conn, "channel.open", err, errlen))
		goto fail;
	if (o->setup != NULL && !o->setup(conn, o->setup_arg, err, errlen)) {
		attempt.conn = NULL;
		free(copy);
		broker_cut_close(o->cut, conn); /* bounded: BROKER_CLOSE_TIMEOUT_MS, or its socket is closed already */
		return NULL;
	}
	/* From here, each blocking call on its own. */
	tv = (struct timeval){.tv_sec = o->timeout_ms / 1000, .tv_usec = (o->timeout_ms % 1000) * 1000};
	amqp_set_rpc_timeout(conn, &tv);
	attempt.conn = NULL;
	free(copy);
	return conn;
fail:
	attempt.conn = NULL;
	free(copy);
	if (conn != NULL)
		detach(o->cut);
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
broker_rotation_connect(broker_rotation *r, const broker_connect_options *o, char *err, size_t errlen)
{
	size_t used = 0;
	err[0]      = '\0';
	for (int k = 1; k <= r->count; k++) {
		/* Between elements: a stop waits for the element in progress
		 * only, not for the rest of the pass. */
		if (o->stop != NULL && atomic_load(o->stop)) {
			if (used < errlen)
				snprintf(err + used, errlen - used, "%sstopping", used > 0 ? "; " : "");
			return NULL;
		}
		int i     = (r->last + k) % r->count;
		char *url = element_copy(r->urls, i), why[300], where[sizeof(r->where)];
		amqp_connection_state_t conn =
		    url != NULL ? connect_one(url, o, where, sizeof(where), why, sizeof(why)) : NULL;
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
	broker_connect_options o = {.timeout_ms = timeout_ms, .heartbeat_s = heartbeat_s};
	return broker_rotation_connect(&r, &o, err, errlen);
}

void
broker_close(amqp_connection_state_t conn)
{
	if (conn == NULL)
		return;
	/* One round trip, bounded: a frozen broker cost 3 s here (channel.close
	 * timing out at the connection's own bound; librabbitmq then closes the
	 * socket, so connection.close failed at once). */
	struct timeval tv = {
	    .tv_sec = BROKER_CLOSE_TIMEOUT_MS / 1000, .tv_usec = (BROKER_CLOSE_TIMEOUT_MS % 1000) * 1000};
	amqp_set_rpc_timeout(conn, &tv);
	amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
	amqp_destroy_connection(conn);
}

void
broker_cut_init(broker_cut *c)
{
	pthread_mutex_init(&c->mu, NULL);
	monotonic_cond_init(&c->cv);
	c->fd     = -1;
	c->cut    = false;
	c->exited = false;
}

void
broker_cut_destroy(broker_cut *c)
{
	if (c->fd >= 0)
		close(c->fd);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
}

void
broker_cut_attach(broker_cut *c, amqp_connection_state_t conn)
{
	int sock = amqp_get_sockfd(conn);
	int fd   = sock >= 0 ? fcntl(sock, F_DUPFD_CLOEXEC, 0) : -1;
	pthread_mutex_lock(&c->mu);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = fd;
	if (c->cut && fd >= 0)
		shutdown(fd, SHUT_RDWR);
	pthread_mutex_unlock(&c->mu);
}

void
broker_cut_close(broker_cut *c, amqp_connection_state_t conn)
{
	detach(c);
	broker_close(conn);
}

void
broker_cut_exited(broker_cut *c)
{
	pthread_mutex_lock(&c->mu);
	c->exited = true;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

bool
broker_cut_stop(broker_cut *c, int grace_ms)
{
	struct timespec until = monotonic_deadline(grace_ms);
	pthread_mutex_lock(&c->mu);
	while (!c->exited && pthread_cond_timedwait(&c->cv, &c->mu, &until) == 0)
		;
	bool cut = !c->exited;
	if (cut) {
		c->cut = true;
		if (c->fd >= 0)
			shutdown(c->fd, SHUT_RDWR); /* the owner's blocked call returns an error */
	}
	pthread_mutex_unlock(&c->mu);
	return cut;
}
