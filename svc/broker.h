/* RabbitMQ connections (librabbitmq 0.11): URL parsing, connect + login +
 * one channel, and the check after each synchronous AMQP method. A
 * connection belongs to one thread. */
#ifndef SVC_BROKER_H
#define SVC_BROKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "svc/rabbitmq.h"

/* AMQP_URL is one amqp://user:password@host:port/vhost URL, or a
 * comma-separated list of the URLs of one cluster's nodes, tried in turn
 * (broker_rotation below). An element never holds a comma: one in a
 * password is written %2C (librabbitmq decodes it). At most
 * BROKER_URLS_MAX elements. */
#define BROKER_URLS_MAX 16

/* AMQP_URL's forms, for --help. */
#define BROKER_URL_FORMS                                                                                               \
	"amqp://user:password@host:port/vhost, or one cluster's nodes as such URLs comma-separated (a comma in a "     \
	"password is %2C), tried in turn"

/* Checks one URL with amqp_parse_url, then what it lets through but cannot
 * work here: amqps (no TLS socket is opened), port 0, a host that is
 * neither a name nor an IP address (net_check_host). Returns 0 or -1 with
 * a reason that reads after the quoted value and never repeats the URL. */
int broker_check_url(const char *url, char *err, size_t errlen);

/* Checks AMQP_URL: one URL or a list, each element with broker_check_url;
 * the reason names the bad element by its position ("element 2 of 3 ..."),
 * also an empty one (",," or a comma at an end), and an element naming the
 * same broker (host and port, as written) as an earlier one, both
 * positions named: never meant (a node tried twice per pass, a silent one
 * costing its BROKER_CONNECT_TIMEOUT_MS twice; often a copy whose port was
 * not changed, so a node is missing). 0 or -1 as above. */
int broker_check_urls(const char *urls, char *err, size_t errlen);

/* An ENV_CUSTOM parser (env.h) for AMQP_URL: broker_check_urls, keeps the
 * text. */
int broker_env_parse_url(const char *text, void *out, char *err, size_t errlen);

/* The bound of one connection attempt to one broker: the TCP connect,
 * the AMQP handshake and login, channel.open and the caller's setup
 * (broker_setup_fn: declarations, confirm.select) all run before one
 * deadline this far from the attempt's start. A broker that accepts TCP
 * and never answers (a paused one) costs this much, no more. */
#define BROKER_CONNECT_TIMEOUT_MS 3000

/* What a stop leaves the thread that owns a connection to finish by
 * itself (confirms in flight, the polite close below) before broker_cut_stop
 * cuts the connection. */
#define BROKER_STOP_GRACE_MS 1000

/* The bound of broker_close's polite close (connection.close and its
 * close-ok): a frozen broker costs this, no more. */
#define BROKER_CLOSE_TIMEOUT_MS 500

/* A stop's hold on the connection of another thread. librabbitmq 0.11
 * bounds reads (by the timeouts above) but not writes: amqp_basic_publish
 * and each ack wait for room in the socket forever (amqp_time_infinite), so
 * a broker that reads nothing (paused) once its buffers are full blocks
 * its writer with no way out. The owner attaches each connection (done by
 * broker_rotation_connect with broker_connect_options.cut) and closes it
 * with broker_cut_close; the stopping thread calls broker_cut_stop, which
 * waits for the owner's broker_cut_exited up to a grace, then shuts the
 * socket down (shutdown(2) of a dup of its descriptor: a descriptor of our
 * own, so never one librabbitmq closed and the system gave to someone
 * else), which ends every blocked send, recv and poll on it with an error.
 * Thread-safe; init before the owner starts, destroy after it is joined. */
typedef struct broker_cut {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int fd;      /* a dup of the attached connection's socket, or -1 */
	bool cut;    /* set by broker_cut_stop: a connection attached later is cut at once */
	bool exited; /* set by broker_cut_exited */
} broker_cut;

void broker_cut_init(broker_cut *c);
void broker_cut_destroy(broker_cut *c);

/* Owner: conn's socket is the one to cut (after the TCP connect). A
 * connection attached after a cut is cut at once. */
void broker_cut_attach(broker_cut *c, amqp_connection_state_t conn);

/* Owner: detaches conn (c may be NULL) and closes it (broker_close). */
void broker_cut_close(broker_cut *c, amqp_connection_state_t conn);

/* Owner: the last call of its thread. */
void broker_cut_exited(broker_cut *c);

/* Stopper, after setting the owner's stop flag: waits up to grace_ms for
 * broker_cut_exited, then cuts the attached connection, if any, and any
 * attached later. True when it had to cut. */
bool broker_cut_stop(broker_cut *c, int grace_ms);

/* A caller's setup of a new connection (declarations, confirm.select),
 * run within the attempt's deadline: each synchronous method it makes is
 * bounded by the time left of the attempt, provided each is checked with
 * broker_reply_ok or broker_reply_code before the next (which sets the
 * next one's bound). Returns true, or false with the reason in err; a
 * false moves the attempt on to the next element. */
typedef bool (*broker_setup_fn)(amqp_connection_state_t conn, void *arg, char *err, size_t errlen);

/* How broker_rotation_connect connects. */
typedef struct broker_connect_options {
	int timeout_ms;           /* each element's deadline (BROKER_CONNECT_TIMEOUT_MS), and later each
	                           * blocking call's bound on the connection made */
	int heartbeat_s;          /* 0 disables heartbeats (for a connection idle between bursts that
	                           * finds a dead broker on its next use) */
	broker_setup_fn setup;    /* NULL: none */
	void *setup_arg;          /* setup's arg */
	const _Atomic bool *stop; /* NULL, or looked at before each element: once true, no further
	                           * element is tried ("stopping" in err) */
	broker_cut *cut;          /* NULL, or each attempt's socket is attached to it once open, so a
	                           * stop cuts a handshake short; the connection returned stays
	                           * attached (close it with broker_cut_close) */
} broker_connect_options;

/* Connects to urls (one URL or a list checked by broker_check_urls: the
 * first element that answers, in order), logs in and opens channel 1,
 * each element tried within timeout_ms (BROKER_CONNECT_TIMEOUT_MS above),
 * which then also bounds each later blocking call. heartbeat_s as in
 * broker_connect_options. Returns the connection or NULL with every
 * element's reason (never a password) in err. "amqp://host/" means vhost
 * "/" here, as users expect, although the AMQP URI spec would read it as
 * the empty vhost. */
amqp_connection_state_t broker_connect(const char *urls, int timeout_ms, int heartbeat_s, char *err, size_t errlen);

/* The nodes of one cluster, for a connection that must outlive a node: each
 * new connection tries the elements in turn, beginning with the one after
 * the element of the last connection (the node that failed, in a cluster
 * where any node serves any queue), so a reconnect goes to another node
 * first. Belongs to the thread that owns the connection. */
typedef struct broker_rotation {
	const char *urls; /* borrowed: a list checked by broker_check_urls */
	int count;        /* elements */
	int last;         /* element of the last connection; count - 1 before any */
	char where[96];   /* "host:port" of the last connection, "" before any */
} broker_rotation;

void broker_rotation_init(broker_rotation *r, const char *urls);

/* One pass over the elements, beginning after r->last, each with connect,
 * login, channel.open and o->setup under its own o->timeout_ms deadline:
 * at most count * timeout_ms, and once o->stop is set at most the element
 * in progress (timeout_ms). On success r->last and r->where name the
 * element, the connection's later blocking calls bounded by timeout_ms
 * each. NULL with every element's reason in err ("a; b; c"). */
amqp_connection_state_t broker_rotation_connect(
    broker_rotation *r, const broker_connect_options *o, char *err, size_t errlen);

/* After a synchronous method: true when the broker answered normally;
 * otherwise false with the reason in err. Within a broker_setup_fn, it
 * also bounds the connection's next synchronous method by the time left
 * of the attempt (librabbitmq bounds each method on its own). */
bool broker_reply_ok(amqp_connection_state_t conn, const char *what, char *err, size_t errlen);

/* broker_reply_ok, and in *code the reply code of the broker's
 * channel.close or connection.close (AMQP 0-9-1 section 1.9: e.g. 406
 * PRECONDITION_FAILED for a redeclare with other arguments), or 0 when the
 * failure was not the broker's answer. */
bool broker_reply_code(amqp_connection_state_t conn, const char *what, int *code, char *err, size_t errlen);

/* Closes politely (connection.close alone: in AMQP 0-9-1 a connection's
 * channels close with it), waiting for the close-ok at most
 * BROKER_CLOSE_TIMEOUT_MS, and destroys; accepts NULL. */
void broker_close(amqp_connection_state_t conn);

#endif
