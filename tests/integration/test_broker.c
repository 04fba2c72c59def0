/* svc/broker.c's connection attempts against real sockets (issue 20): a
 * broker that accepts TCP and never answers (a paused one: its kernel
 * completes the handshake, the process reads nothing; here a socket that
 * listens and never accepts), a slow one (a peer speaking AMQP 0-9-1 that
 * answers late, written with librabbitmq's own frame encoder), and the
 * real RabbitMQ of scripts/test last in the list. Each element costs at
 * most the attempt's bound, every step of the attempt included, and a stop
 * ends a pass after the element in progress; a stop's cut (broker_cut)
 * ends a handshake or a publish blocked on a broker that reads nothing,
 * and a polite close waits BROKER_CLOSE_TIMEOUT_MS at most. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rpc/envelope.h"
#include "svc/broker.h"
#include "svc/rabbitmq.h"

/* A socket listening on 127.0.0.1 (a free port, in *port). */
static int
listener(int *port)
{
	int fd                = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len         = sizeof(sa);
	cr_assert(fd >= 0 && bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0 && listen(fd, 128) == 0 &&
	          getsockname(fd, (struct sockaddr *) &sa, &len) == 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

/* One that never accepts: connects succeed (the kernel's backlog), nothing
 * is ever read or written. Returns its port; the socket lives until the
 * test's process ends. */
static int
silent_listener(void)
{
	int port;
	listener(&port);
	return port;
}

static void
append_url(char *list, size_t len, int port)
{
	size_t used = strlen(list);
	snprintf(list + used, len - used, "%samqp://guest:guest@127.0.0.1:%d/", used > 0 ? "," : "", port);
}

/* "host:port" of the test servers' broker. */
static void
live_broker(char *out, size_t len)
{
	char *copy = strdup(getenv("AMQP_URL"));
	struct amqp_connection_info info;
	cr_assert_eq(amqp_parse_url(copy, &info), AMQP_STATUS_OK, "AMQP_URL is one URL (run under scripts/test)");
	snprintf(out, len, "%s:%d", info.host, info.port);
	free(copy);
}

static int
count(const char *text, const char *needle)
{
	int n = 0;
	for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

Test(broker, silent_brokers_cost_the_attempt_bound_each_and_the_pass_reaches_the_live_one, .timeout = 60)
{
	char list[1024] = "", live[128], err[1200];
	for (int i = 0; i < 3; i++)
		append_url(list, sizeof(list), silent_listener());
	snprintf(list + strlen(list), sizeof(list) - strlen(list), ",%s", getenv("AMQP_URL"));
	live_broker(live, sizeof(live));
	broker_rotation r;
	broker_rotation_init(&r, list);
	broker_connect_options o     = {.timeout_ms = 1000};
	int64_t t0                   = rpc_clock_ms();
	amqp_connection_state_t conn = broker_rotation_connect(&r, &o, err, sizeof(err));
	int64_t took                 = rpc_clock_ms() - t0;
	cr_assert_not_null(conn, "the live broker after three silent ones: %s", err);
	cr_assert_str_eq(r.where, live);
	cr_assert_eq(r.last, 3);
	cr_assert_eq(count(err, "timed out"), 3, "each silent broker timed out in its login: %s", err);
	/* 3 x 1 s bound: librabbitmq's own handshake bound (12 s) would make it 36 s. */
	cr_log_info("3 silent brokers, then the live one: %.2f s (bound 3 x 1 s)", took / 1000.0);
	cr_assert_geq(took, 2900, "each silent element waited its bound: %lld ms", (long long) took);
	cr_assert_lt(took, 6000, "at most the bound per element (generously: 2x): %lld ms", (long long) took);
	/* The connection made works, each later call bounded by timeout_ms. */
	amqp_queue_declare(conn, 1, amqp_empty_bytes, 0, 0, 1, 1, amqp_empty_table);
	cr_assert(broker_reply_ok(conn, "queue.declare", err, sizeof(err)), "%s", err);
	broker_close(conn);
}

typedef struct stopper {
	_Atomic bool flag;
	int after_ms;
} stopper;

static void *
stop_later(void *arg)
{
	stopper *s = arg;
	nanosleep(&(struct timespec){.tv_sec = s->after_ms / 1000, .tv_nsec = (s->after_ms % 1000) * 1000000L}, NULL);
	atomic_store(&s->flag, true);
	return NULL;
}

Test(broker, a_stop_ends_the_pass_after_the_element_in_progress, .timeout = 60)
{
	char list[1024] = "", err[1200];
	for (int i = 0; i < 6; i++)
		append_url(list, sizeof(list), silent_listener());
	broker_rotation r;
	broker_rotation_init(&r, list);
	stopper s = {.after_ms = 1500};
	pthread_t t;
	pthread_create(&t, NULL, stop_later, &s);
	broker_connect_options o     = {.timeout_ms = 1000, .stop = &s.flag};
	int64_t t0                   = rpc_clock_ms();
	amqp_connection_state_t conn = broker_rotation_connect(&r, &o, err, sizeof(err));
	int64_t took                 = rpc_clock_ms() - t0;
	pthread_join(t, NULL);
	cr_assert_null(conn);
	/* Stopped in element 2: it ends at 2 s, not after all 6 (6 s). */
	cr_log_info("a stop 1.5 s into a pass over 6 silent brokers: returned after %.2f s", took / 1000.0);
	cr_assert_lt(took, 3000, "returned after the element in progress: %lld ms", (long long) took);
	cr_assert_eq(count(err, "timed out"), 2, "two elements tried: %s", err);
	cr_assert_not_null(strstr(err, "stopping"), "%s", err);
}

/* A broker speaking AMQP 0-9-1 that answers each method late. */
typedef struct slow_broker {
	int listen_fd, port;
	int handshake_delay_ms; /* before connection.start, tune and open-ok each */
	int channel_delay_ms;   /* before channel.open-ok and exchange.declare-ok each */
	bool deaf;              /* after channel.open-ok, reads nothing more (a paused broker) */
} slow_broker;

static void
pause_ms(int ms)
{
	nanosleep(&(struct timespec){.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L}, NULL);
}

static bool
read_full(int fd, void *buf, size_t n)
{
	for (size_t got = 0; got < n;) {
		ssize_t k = read(fd, (char *) buf + got, n - got);
		if (k <= 0)
			return false;
		got += (size_t) k;
	}
	return true;
}

/* One method frame (AMQP 0-9-1 section 4.2.3: type 1, channel, size,
 * class and method ids, the arguments, 0xCE). */
static void
send_method(int fd, uint16_t channel, amqp_method_number_t id, void *args)
{
	unsigned char frame[1024];
	int n = amqp_encode_method(id, args, (amqp_bytes_t){sizeof(frame) - 12, frame + 11});
	if (n < 0)
		return;
	uint32_t size = (uint32_t) n + 4, bid = htonl(id);
	frame[0]       = AMQP_FRAME_METHOD;
	frame[1]       = (unsigned char) (channel >> 8);
	frame[2]       = (unsigned char) channel;
	uint32_t bsize = htonl(size);
	memcpy(frame + 3, &bsize, 4);
	memcpy(frame + 7, &bid, 4);
	frame[7 + size] = AMQP_FRAME_END;
	if (write(fd, frame, 8 + size) < 0)
		return;
}

static void
serve(slow_broker *b, int fd)
{
	unsigned char header[8];
	if (!read_full(fd, header, sizeof(header)))
		return;
	pause_ms(b->handshake_delay_ms);
	amqp_connection_start_t start = {.version_major = 0,
	    .version_minor                              = 9,
	    .server_properties                          = amqp_empty_table,
	    .mechanisms                                 = amqp_cstring_bytes("PLAIN"),
	    .locales                                    = amqp_cstring_bytes("en_US")};
	send_method(fd, 0, AMQP_CONNECTION_START_METHOD, &start);
	for (;;) {
		unsigned char h[7], payload[4096];
		if (!read_full(fd, h, sizeof(h)))
			return;
		uint16_t channel = (uint16_t) (h[1] << 8 | h[2]);
		uint32_t size;
		memcpy(&size, h + 3, 4);
		size = ntohl(size);
		if (size + 1 > sizeof(payload) || !read_full(fd, payload, size + 1) || h[0] != AMQP_FRAME_METHOD)
			return;
		uint32_t id;
		memcpy(&id, payload, 4);
		id = ntohl(id);
		if (id == AMQP_CONNECTION_START_OK_METHOD) {
			pause_ms(b->handshake_delay_ms);
			amqp_connection_tune_t tune = {.channel_max = 16, .frame_max = 131072, .heartbeat = 0};
			send_method(fd, 0, AMQP_CONNECTION_TUNE_METHOD, &tune);
		} else if (id == AMQP_CONNECTION_OPEN_METHOD) {
			pause_ms(b->handshake_delay_ms);
			amqp_connection_open_ok_t ok = {.known_hosts = amqp_empty_bytes};
			send_method(fd, 0, AMQP_CONNECTION_OPEN_OK_METHOD, &ok);
		} else if (id == AMQP_CHANNEL_OPEN_METHOD) {
			pause_ms(b->channel_delay_ms);
			amqp_channel_open_ok_t ok = {.channel_id = amqp_empty_bytes};
			send_method(fd, channel, AMQP_CHANNEL_OPEN_OK_METHOD, &ok);
			if (b->deaf) {
				pause_ms(60000); /* past the test's end */
				return;
			}
		} else if (id == AMQP_EXCHANGE_DECLARE_METHOD) {
			pause_ms(b->channel_delay_ms);
			amqp_exchange_declare_ok_t ok = {0};
			send_method(fd, channel, AMQP_EXCHANGE_DECLARE_OK_METHOD, &ok);
		} else if (id == AMQP_CONNECTION_CLOSE_METHOD) {
			amqp_connection_close_ok_t ok = {0};
			send_method(fd, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
			return;
		} else if (id == AMQP_CHANNEL_CLOSE_METHOD) {
			amqp_channel_close_ok_t ok = {0};
			send_method(fd, channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
		}
		/* tune-ok: no answer */
	}
}

static void *
slow_broker_main(void *arg)
{
	slow_broker *b = arg;
	for (int fd; (fd = accept(b->listen_fd, NULL, NULL)) >= 0;) {
		serve(b, fd);
		close(fd);
	}
	return NULL;
}

static void
slow_broker_start(slow_broker *b)
{
	b->listen_fd = listener(&b->port);
	pthread_t t;
	pthread_create(&t, NULL, slow_broker_main, b);
	pthread_detach(t);
}

/* The setup of a test: n exchange.declare, each checked (broker.h). */
static bool
declare_n(amqp_connection_state_t conn, void *arg, char *err, size_t errlen)
{
	for (int i = 0; i < *(int *) arg; i++) {
		amqp_exchange_declare(conn, 1, amqp_cstring_bytes("test.slow"), amqp_cstring_bytes("fanout"), 0, 1, 0,
		    0, amqp_empty_table);
		if (!broker_reply_ok(conn, "exchange.declare", err, errlen))
			return false;
	}
	return true;
}

/* One attempt at b with timeout_ms and setup (NULL: none); its time. */
static amqp_connection_state_t
attempt(slow_broker *b, int timeout_ms, int declares, int64_t *took, char *err, size_t errlen)
{
	char url[128];
	snprintf(url, sizeof(url), "amqp://guest:guest@127.0.0.1:%d/", b->port);
	broker_rotation r;
	broker_rotation_init(&r, url);
	broker_connect_options o = {
	    .timeout_ms = timeout_ms, .setup = declares > 0 ? declare_n : NULL, .setup_arg = &declares};
	int64_t t0                   = rpc_clock_ms();
	amqp_connection_state_t conn = broker_rotation_connect(&r, &o, err, errlen);
	*took                        = rpc_clock_ms() - t0;
	return conn;
}

Test(broker, a_slow_handshake_is_bounded_by_the_attempt_not_per_step, .timeout = 60)
{
	/* Start, tune and open-ok 400 ms late each: 1.2 s in all, each step
	 * well within 1 s. */
	slow_broker b = {.handshake_delay_ms = 400};
	slow_broker_start(&b);
	char err[600];
	int64_t took;
	amqp_connection_state_t conn = attempt(&b, 1000, 0, &took, err, sizeof(err));
	cr_assert_null(conn, "the handshake took longer than the attempt's bound, so the attempt failed");
	cr_assert_not_null(strstr(err, "timed out"), "%s", err);
	cr_assert_lt(took, 2000, "ended at its 1 s bound: %lld ms", (long long) took);
	/* The same broker within a 3 s bound: it does work. */
	conn = attempt(&b, 3000, 0, &took, err, sizeof(err));
	cr_assert_not_null(conn, "%s", err);
	cr_log_info(
	    "a handshake of 3 x 400 ms: refused at a 1 s bound, connected at a 3 s bound in %.2f s", took / 1000.0);
	broker_close(conn);
}

Test(broker, the_channel_open_and_the_setup_share_the_attempts_deadline, .timeout = 60)
{
	/* channel.open-ok and each exchange.declare-ok 300 ms late: with 4
	 * declares the setup ends 1.5 s after the login, each step well within
	 * 1 s. */
	slow_broker b = {.channel_delay_ms = 300};
	slow_broker_start(&b);
	char err[600];
	int64_t took;
	amqp_connection_state_t conn = attempt(&b, 1000, 4, &took, err, sizeof(err));
	cr_assert_null(conn, "the setup ran past the attempt's deadline");
	cr_assert_not_null(strstr(err, "exchange.declare"), "the step that ran out of time is named: %s", err);
	cr_assert_not_null(strstr(err, "timed out"), "%s", err);
	cr_assert_lt(took, 2000, "ended at its 1 s bound: %lld ms", (long long) took);
	conn = attempt(&b, 3000, 4, &took, err, sizeof(err));
	cr_assert_not_null(conn, "%s", err);
	cr_log_info("channel.open + 4 declares of 300 ms: refused at a 1 s bound, set up at a 3 s bound in %.2f s",
	    took / 1000.0);
	broker_close(conn);
}

/* A connection to a broker that reads nothing once the channel is open,
 * attached to cut. */
static amqp_connection_state_t
deaf_connection(slow_broker *b, broker_cut *cut)
{
	*b = (slow_broker){.deaf = true};
	slow_broker_start(b);
	char url[128], err[600];
	snprintf(url, sizeof(url), "amqp://guest:guest@127.0.0.1:%d/", b->port);
	broker_rotation r;
	broker_rotation_init(&r, url);
	broker_connect_options o     = {.timeout_ms = 3000, .cut = cut};
	amqp_connection_state_t conn = broker_rotation_connect(&r, &o, err, sizeof(err));
	cr_assert_not_null(conn, "%s", err);
	return conn;
}

typedef struct cut_later {
	broker_cut *cut;
	int grace_ms;
	bool cut_done;
} cut_later;

static void *
stop_with_cut(void *arg)
{
	cut_later *s = arg;
	s->cut_done  = broker_cut_stop(s->cut, s->grace_ms);
	return NULL;
}

/* librabbitmq waits for room in the socket forever on a publish: a broker
 * that reads nothing blocks it once the buffers are full. A stop cuts it
 * after its grace. */
Test(broker, a_stop_cuts_a_publish_blocked_on_a_broker_that_reads_nothing, .timeout = 60)
{
	slow_broker b;
	broker_cut cut;
	broker_cut_init(&cut);
	amqp_connection_state_t conn = deaf_connection(&b, &cut);
	size_t len                   = 64u << 20; /* far more than any socket buffer */
	void *body                   = calloc(1, len);
	cut_later s                  = {.cut = &cut, .grace_ms = 500};
	pthread_t t;
	int64_t t0 = rpc_clock_ms();
	pthread_create(&t, NULL, stop_with_cut, &s);
	int rc       = amqp_basic_publish(conn, 1, amqp_cstring_bytes("x"), amqp_cstring_bytes("k"), 0, 0, NULL,
	          (amqp_bytes_t){.len = len, .bytes = body});
	int64_t took = rpc_clock_ms() - t0;
	pthread_join(t, NULL);
	free(body);
	cr_log_info("a 64 MB publish to a broker that reads nothing, cut after 0.5 s: returned after %.2f s (%s)",
	    took / 1000.0, amqp_error_string2(rc));
	cr_assert(s.cut_done, "the owner never said it exited: cut");
	cr_assert_neq(rc, AMQP_STATUS_OK, "the publish fails once cut");
	cr_assert_geq(took, 400, "it was blocked until the cut: %lld ms", (long long) took);
	cr_assert_lt(took, 2000, "and returned at the cut: %lld ms", (long long) took);
	t0 = rpc_clock_ms();
	broker_cut_close(&cut, conn);
	took = rpc_clock_ms() - t0;
	cr_assert_lt(took, 200, "closing a cut connection does not wait: %lld ms", (long long) took);
	broker_cut_destroy(&cut);
}

Test(broker, a_polite_close_to_a_broker_that_answers_nothing_waits_its_bound_only, .timeout = 60)
{
	slow_broker b;
	amqp_connection_state_t conn = deaf_connection(&b, NULL);
	int64_t t0                   = rpc_clock_ms();
	broker_close(conn);
	int64_t took = rpc_clock_ms() - t0;
	cr_log_info("broker_close to a broker that answers nothing: %.2f s (bound %.1f s; 3 s before)", took / 1000.0,
	    BROKER_CLOSE_TIMEOUT_MS / 1000.0);
	cr_assert_geq(took, BROKER_CLOSE_TIMEOUT_MS - 100, "it waited for the close-ok: %lld ms", (long long) took);
	cr_assert_lt(took, BROKER_CLOSE_TIMEOUT_MS + 1000, "no longer than its bound: %lld ms", (long long) took);
}

/* A stop during a handshake with a broker that never answers: cut after the
 * grace, not at the attempt's 3 s. */
Test(broker, a_stop_cuts_a_handshake_short, .timeout = 60)
{
	char url[128], err[600];
	snprintf(url, sizeof(url), "amqp://guest:guest@127.0.0.1:%d/", silent_listener());
	broker_cut cut;
	broker_cut_init(&cut);
	broker_rotation r;
	broker_rotation_init(&r, url);
	broker_connect_options o = {.timeout_ms = 3000, .cut = &cut};
	cut_later s              = {.cut = &cut, .grace_ms = 300};
	pthread_t t;
	int64_t t0 = rpc_clock_ms();
	pthread_create(&t, NULL, stop_with_cut, &s);
	amqp_connection_state_t conn = broker_rotation_connect(&r, &o, err, sizeof(err));
	int64_t took                 = rpc_clock_ms() - t0;
	pthread_join(t, NULL);
	cr_assert_null(conn);
	cr_log_info("a handshake with a silent broker, cut after 0.3 s: ended after %.2f s (%s)", took / 1000.0, err);
	cr_assert(s.cut_done);
	cr_assert_lt(took, 2000, "ended at the cut, not at the attempt's 3 s: %lld ms", (long long) took);
	broker_cut_destroy(&cut);
}

static void *
exit_soon(void *arg)
{
	pause_ms(100);
	broker_cut_exited(arg);
	return NULL;
}

Test(broker, a_stop_cuts_nothing_when_the_owner_exits_within_the_grace, .timeout = 60)
{
	broker_cut cut;
	broker_cut_init(&cut);
	pthread_t t;
	int64_t t0 = rpc_clock_ms();
	pthread_create(&t, NULL, exit_soon, &cut);
	bool cut_done = broker_cut_stop(&cut, 5000);
	int64_t took  = rpc_clock_ms() - t0;
	pthread_join(t, NULL);
	cr_assert_not(cut_done, "the owner exited in time: nothing cut");
	cr_assert_lt(took, 2000, "returned when it exited, not at the grace: %lld ms", (long long) took);
	broker_cut_destroy(&cut);
}
