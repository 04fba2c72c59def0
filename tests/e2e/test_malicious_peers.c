/* Malicious peers against the real processes of the stack: garbage
 * messages straight to each service's nng socket (raw, truncated and
 * oversized frames: see the disabled test below), and
 * malformed HTTP to the gateway (slow headers, huge headers, broken chunked
 * bodies). Nothing crashes or hangs, every process keeps serving, and its
 * memory stays bounded. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rpc/envelope.h"
#include "stack.h"
#include "test_tls.h"

/* What a process may grow by during a drill: far below what honouring a
 * frame's claimed length (1 GiB) would take, above what ASan's quarantine
 * and allocator caches hold on to. */
#define RSS_GROWTH_MAX_KB (96 * 1024)

static long
rss_kb(const char *name)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%ld/status", (long) stack_pid(name));
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "%s is running", name);
	long kb = -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* The process still answers through the gateway: 200 or 404 for probe. */
static void
assert_serving(const char *name, const char *probe)
{
	http_response r;
	long status = stack_http("GET", probe, NULL, NULL, &r);
	http_response_free(&r);
	cr_assert(status == 200 || status == 404, "%s still serves %s after the drill: %ld", name, probe, status);
}

/* ---- nng ---- */

/* nng_close, waited for at most 2 s: on nng 1.5.2 a close can wait for
 * ever when the peer drops the connection while a reply arrives (nng#1636,
 * fixed in 1.6.0; lib/rpc/client.c bounds its own close the same way), and
 * the watchdog's re-open drops connections on purpose. A close still stuck
 * is left to the process's exit: the test judges the service, not its own
 * teardown. Waiting (rather than not at all) keeps a socket's redial from
 * outliving the step that made it. */
typedef struct closing {
	nng_socket s;
	atomic_bool done;
} closing;

static void *
close_socket(void *arg)
{
	closing *c = arg;
	nng_close(c->s);
	atomic_store(&c->done, true);
	return NULL;
}

static void
close_detached(nng_socket s)
{
	closing *c = calloc(1, sizeof(*c));
	cr_assert_not_null(c);
	c->s = s;
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, close_socket, c), 0);
	for (int64_t end = rpc_clock_ms() + 2000; !atomic_load(&c->done) && rpc_clock_ms() < end;)
		nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
	if (atomic_load(&c->done)) {
		pthread_join(t, NULL);
		free(c);
	} else {
		pthread_detach(t); /* stuck in nng_close: c stays with it */
	}
}

static const char *
service_url(const char *name)
{
	return getenv(strcmp(name, "user-svc") == 0 ? "STACK_USER_SVC_URL" : "STACK_ORDER_SVC_URL");
}

/* A raw connection to the service's socket, under nng (its ipc socket, or
 * with TLS its TCP port: the garbage then meets the TLS handshake), or -1
 * when none can be had at once: a listener that stopped accepting
 * (nng#1518) fills its backlog, and a blocking connect would then wait for
 * ever; one being re-opened by the watchdog refuses for a moment. Either
 * way the attack has done its work, and accepting_within judges the
 * recovery. */
static int
raw_connect(const char *name)
{
	const char *url        = service_url(name);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct sockaddr *to;
	socklen_t to_len;
	int port;
	if (sscanf(url, "tls+tcp://127.0.0.1:%d", &port) == 1) {
		sin.sin_port = htons((uint16_t) port);
		to           = (struct sockaddr *) &sin;
		to_len       = sizeof(sin);
	} else {
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", url + strlen("ipc://"));
		to     = (struct sockaddr *) &sun;
		to_len = sizeof(sun);
	}
	int fd = socket(to->sa_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	cr_assert(fd >= 0, "socket");
	if (connect(fd, to, to_len) != 0) {
		/* TCP: wait a moment. A listener that stopped accepting has its
		 * backlog full, and Linux then drops the SYN instead of refusing:
		 * 100 connections of the attack must not wait a second each. */
		if (errno == EINPROGRESS) {
			struct pollfd p = {.fd = fd, .events = POLLOUT};
			int err         = 0;
			socklen_t len   = sizeof(err);
			if (poll(&p, 1, 200) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
				return fd;
			close(fd);
			return -1;
		}
		cr_assert(errno == EAGAIN || errno == ECONNREFUSED || errno == ENOENT, "connect %s: %s", url,
		    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Sends bytes (what the socket takes without waiting), then closes; the
 * peer may have closed first. fd -1: nothing to send on. */
static void
send_and_close(int fd, const void *bytes, size_t len)
{
	if (fd < 0)
		return;
	ssize_t unused = send(fd, bytes, len, MSG_NOSIGNAL);
	(void) unused;
	close(fd);
}

/* nng's ipc wire: an 8-byte greeting naming the protocol (REQ is 0x30),
 * then frames of a type byte (1), a 64-bit big-endian length, the bytes. */
static size_t
frame(uint8_t *out, uint64_t claimed, const void *body, size_t len)
{
	static const uint8_t greeting[8] = {0, 'S', 'P', 0, 0x00, 0x30, 0, 0};
	memcpy(out, greeting, 8);
	out[8] = 1;
	for (int i = 0; i < 8; i++)
		out[9 + i] = (uint8_t) (claimed >> (56 - 8 * i));
	memcpy(out + 17, body, len);
	return 17 + len;
}

/* Garbage, truncated and oversized frames on raw connections. */
static void
attack_transport(const char *name)
{
	uint8_t buf[4096], junk[1024];
	unsigned seed = 7;
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t) rand_r(&seed);
	for (int round = 0; round < 20; round++) {
		send_and_close(raw_connect(name), junk, sizeof(junk));                    /* no greeting */
		send_and_close(raw_connect(name), buf, frame(buf, 1ULL << 30, junk, 16)); /* claims 1 GiB */
		send_and_close(raw_connect(name), buf, frame(buf, UINT64_MAX, junk, 16)); /* claims 2^64-1 */
		send_and_close(raw_connect(name), buf, frame(buf, 512, junk, 100));       /* cut short */
		/* Whole, but no REQ header: the REP side must drop it. */
		send_and_close(raw_connect(name), buf, frame(buf, 64, junk, 64));
	}
}

/* Whole nng messages that are not envelopes. */
static void
attack_messages(const char *name, int *answered, int *unanswered)
{
	nng_socket s;
	cr_assert_eq(nng_req0_open(&s), 0);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 2000);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 2000);
	cr_assert_eq(test_tls_dial(s, service_url(name), name, NNG_FLAG_NONBLOCK), 0);
	unsigned seed = 11;
	uint8_t junk[2048];
	for (int i = 0; i < 200; i++) {
		size_t len = 1 + (size_t) rand_r(&seed) % sizeof(junk);
		for (size_t k = 0; k < len; k++)
			junk[k] = (uint8_t) rand_r(&seed);
		void *reply;
		size_t reply_len;
		if (nng_send(s, junk, len, 0) == 0 && nng_recv(s, &reply, &reply_len, NNG_FLAG_ALLOC) == 0) {
			nng_free(reply, reply_len);
			(*answered)++;
		} else {
			(*unanswered)++;
		}
	}
	close_detached(s);
}

/* Messages over the server's 4 MiB cap: nng drops the connection unread;
 * the REQ socket redials and resends, and a redial cut short by our close
 * is a disconnect during negotiation (nng#1518, below). */
static void attack_oversized_by_rpc_call(const char *name);

static void
attack_oversized(const char *name)
{
	if (strncmp(service_url(name), "tls+", 4) == 0) {
		attack_oversized_by_rpc_call(name);
		return;
	}
	nng_socket s;
	cr_assert_eq(nng_req0_open(&s), 0);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 500);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 2000);
	cr_assert_eq(test_tls_dial(s, service_url(name), name, NNG_FLAG_NONBLOCK), 0);
	size_t big_len = 5u << 20;
	void *big      = calloc(1, big_len);
	for (int i = 0; i < 3; i++) {
		void *reply;
		size_t reply_len;
		if (nng_send(s, big, big_len, 0) == 0 && nng_recv(s, &reply, &reply_len, NNG_FLAG_ALLOC) == 0) {
			nng_free(reply, reply_len);
			cr_assert_fail("%s answered a 5 MiB request", name);
		}
	}
	free(big);
	close_detached(s);
}

/* The same attack over TLS, from rpc-call as the operator, in a process of
 * its own: a TLS client of nng 1.5.2 whose connection the server drops
 * while it sends can hang in nng_close (seen: the reaper stuck, so every
 * later close in the process, Criterion's own at exit included, waited for
 * ever). Over ipc the in-process attack above ends. The request is a
 * create whose one field holds 5 MiB: the server's 4 MiB cap drops it
 * unread, so the call ends UNAVAILABLE or DEADLINE_EXCEEDED, never with an
 * answer. */
static void
attack_oversized_by_rpc_call(const char *name)
{
	const rpc_tls_files *op = test_tls_operator();
	char body[64], cmd[2048];
	snprintf(body, sizeof(body), "/tmp/peers-%d-big.json", (int) getpid());
	FILE *f = fopen(body, "w");
	cr_assert_not_null(f);
	bool users = strcmp(name, "user-svc") == 0;
	fputs(users ? "{\"email\":\"big@example.com\",\"name\":\"" : "{\"userId\":1,\"price\":1,\"product\":\"", f);
	for (int i = 0; i < 5 * 1024; i++)
		fprintf(f, "%01024d", 0);
	fputs("\"}", f);
	fclose(f);
	for (int i = 0; i < 3; i++) {
		snprintf(cmd, sizeof(cmd),
		    "timeout -s KILL 20 '%s' --timeout 1500 --cert '%s' --key '%s' --ca '%s' '%s' %s - <'%s' "
		    ">/dev/null 2>&1",
		    RPC_CALL_BIN, op->cert, op->key, op->ca, service_url(name),
		    users ? "users.UserService/CreateUser" : "orders.OrderService/CreateOrder", body);
		int status = system(cmd);
		cr_assert(WIFEXITED(status), "rpc-call did not exit");
		int rc = WEXITSTATUS(status);
		/* 24: UNAVAILABLE, 14: DEADLINE_EXCEEDED (10 + the code); 137: killed
		 * at the bound, stuck in its own teardown (see above). */
		cr_assert(
		    rc == 24 || rc == 14 || rc == 137, "%s answered a 5 MiB request (rpc-call exit %d)", name, rc);
	}
	unlink(body);
}

static void
drill_service(const char *name, const char *probe)
{
	assert_serving(name, probe);
	long before  = rss_kb(name);
	int answered = 0, unanswered = 0;
	attack_messages(name, &answered, &unanswered);
	assert_serving(name, probe);
	long after = rss_kb(name);
	cr_log_info("%s: 200 garbage messages (%d answered, %d not); RSS %ld -> %ld kB", name, answered, unanswered,
	    before, after);
	cr_assert_eq(unanswered, 0, "every whole garbage message got an error reply");
	cr_assert_lt(after - before, RSS_GROWTH_MAX_KB, "%s grew from %ld to %ld kB", name, before, after);
}

Test(peers, garbage_messages_leave_user_svc_serving, .timeout = 60)
{
	drill_service("user-svc", "/users/1");
}

Test(peers, garbage_messages_leave_order_svc_serving, .timeout = 60)
{
	drill_service("order-svc", "/orders/1");
}

/* True once a new connection to the service gets a reply, within
 * timeout_ms. */
static bool
accepting_within(const char *name, int timeout_ms)
{
	for (int64_t deadline = rpc_clock_ms() + timeout_ms; rpc_clock_ms() < deadline;) {
		nng_socket s;
		cr_assert_eq(nng_req0_open(&s), 0);
		nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 500);
		nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 500);
		void *reply;
		size_t reply_len;
		bool ok = test_tls_dial(s, service_url(name), name, NNG_FLAG_NONBLOCK) == 0 &&
		          nng_send(s, "x", 1, 0) == 0 && nng_recv(s, &reply, &reply_len, NNG_FLAG_ALLOC) == 0;
		if (ok)
			nng_free(reply, reply_len);
		close_detached(s);
		if (ok)
			return true;
	}
	return false;
}

/* Raw garbage, truncated and oversized frames. nng 1.5.2 (Debian 12) stops
 * accepting on a listener after one connection fails its greeting or first
 * frame, or disconnects while negotiating (nanomsg/nng#1518, fixed in
 * 1.6.0); the services' listener watchdog re-opens such a listener within
 * a few seconds, so new clients get in again. */
Test(peers, raw_garbage_on_the_nng_port_leaves_each_service_accepting, .timeout = 90)
{
	const char *names[] = {"user-svc", "order-svc"};
	for (int i = 0; i < 2; i++) {
		attack_transport(names[i]);
		attack_oversized(names[i]);
		int64_t t0 = rpc_clock_ms();
		cr_assert(
		    accepting_within(names[i], 15000), "%s accepts new connections again after raw garbage", names[i]);
		cr_log_info(
		    "%s: accepting again %lld ms after the attack", names[i], (long long) (rpc_clock_ms() - t0));
		/* The watchdog probes every second and re-opens after two
		 * unanswered probes, dropping every connection: let a re-open
		 * still pending happen before judging a new connection. */
		nanosleep(&(struct timespec){.tv_sec = 3}, NULL);
		cr_assert(accepting_within(names[i], 15000), "%s accepts after the watchdog settled", names[i]);
		int answered = 0, unanswered = 0;
		int64_t t1 = rpc_clock_ms();
		attack_messages(names[i], &answered, &unanswered); /* a new connection */
		cr_log_info("%s: %d garbage messages answered, %d not, in %lld ms", names[i], answered, unanswered,
		    (long long) (rpc_clock_ms() - t1));
		cr_assert_eq(unanswered, 0, "%s serves a new connection fully", names[i]);
	}
	/* The gateway's own connections came back too. */
	http_response r;
	stack_http("GET", "/users/1", NULL, NULL, &r);
	cr_assert(r.status == 200 || r.status == 404, "the gateway reaches user-svc: %ld %s", r.status, r.body);
	http_response_free(&r);
}

/* ---- HTTP ---- */

static int
gateway_connect(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET,
	    .sin_addr.s_addr                  = htonl(INADDR_LOOPBACK),
	    .sin_port                         = htons((uint16_t) atoi(getenv("STACK_GATEWAY_PORT")))};
	int fd                 = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert(fd >= 0 && connect(fd, (struct sockaddr *) &sin, sizeof(sin)) == 0, "connect to the gateway");
	return fd;
}

/* Reads what the server sends within timeout_ms into out; true when it then
 * closed the connection. */
static bool
read_until_close(int fd, char *out, size_t len, int timeout_ms)
{
	size_t n = 0;
	for (int64_t deadline = rpc_clock_ms() + timeout_ms; rpc_clock_ms() < deadline;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 100) <= 0)
			continue;
		char scratch[4096];
		ssize_t got = recv(fd, scratch, sizeof(scratch), 0);
		if (got <= 0) {
			out[n] = '\0';
			return true;
		}
		size_t keep = (size_t) got < len - 1 - n ? (size_t) got : len - 1 - n;
		memcpy(out + n, scratch, keep);
		n += keep;
	}
	out[n] = '\0';
	return false;
}

/* Sends a raw request and expects one status, then the connection closed. */
static void
assert_refused_and_closed(const char *what, const char *head, size_t repeat_len, const char *tail,
    const char *status_line, const char *message)
{
	int fd         = gateway_connect();
	ssize_t unused = send(fd, head, strlen(head), MSG_NOSIGNAL);
	char filler[4096];
	memset(filler, 'a', sizeof(filler));
	for (size_t sent = 0; sent < repeat_len; sent += sizeof(filler))
		unused = send(fd, filler, sizeof(filler), MSG_NOSIGNAL);
	unused = send(fd, tail, strlen(tail), MSG_NOSIGNAL);
	(void) unused;
	char reply[8192];
	bool closed = read_until_close(fd, reply, sizeof(reply), 5000);
	close(fd);
	cr_assert(strncmp(reply, status_line, strlen(status_line)) == 0, "%s: %s", what, reply);
	cr_assert(message == NULL || strstr(reply, message) != NULL, "%s: %s", what, reply);
	cr_assert(closed, "%s: the connection was closed after the answer", what);
	cr_assert_not_null(
	    strstr(reply, "\r\nConnection: close\r\n"), "%s: the answer says it closes: %s", what, reply);
}

Test(peers, huge_headers_get_431_and_the_connection_closes, .timeout = 60)
{
	long before = rss_kb("gateway");
	for (int i = 0; i < 30; i++) {
		/* 64 KiB in one header, over CivetWeb's 16 KiB for the whole head. */
		assert_refused_and_closed("a 64 KiB header", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ", 64 * 1024,
		    "\r\n\r\n", "HTTP/1.1 431", "larger than 16384 bytes");
	}
	assert_serving("gateway", "/users/1");
	long after = rss_kb("gateway");
	cr_assert_lt(after - before, RSS_GROWTH_MAX_KB, "gateway grew from %ld to %ld kB", before, after);
}

Test(peers, invalid_chunked_encoding_gets_400_and_the_connection_closes, .timeout = 60)
{
	static const char head[]          = "POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
	                                    "Transfer-Encoding: chunked\r\n\r\n";
	static const char *const bodies[] = {
	    "zz\r\n{}\r\n0\r\n\r\n",         /* not a hexadecimal size */
	    "5\r\n{\"a\":1}\r\n0\r\n\r\n",   /* more bytes than the size said */
	    "-1\r\n{}\r\n0\r\n\r\n",         /* a negative size */
	    "fffffffffffffffffff\r\n{}\r\n", /* a size past 64 bits */
	};
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		char request[512];
		snprintf(request, sizeof(request), "%s%s", head, bodies[i]);
		assert_refused_and_closed(bodies[i], request, 0, "", "HTTP/1.1 400", "malformed chunked encoding");
	}
	assert_serving("gateway", "/users/1");
}

Test(peers, slow_headers_do_not_block_other_clients_and_are_cut_off, .timeout = 60)
{
	/* Three clients each sending a header byte every 200 ms. */
	enum { SLOW = 3 };
	int slow[SLOW];
	bool closed[SLOW] = {false};
	for (int i = 0; i < SLOW; i++) {
		slow[i]        = gateway_connect();
		const char *go = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ";
		cr_assert_gt(send(slow[i], go, strlen(go), MSG_NOSIGNAL), 0);
	}
	int64_t start = rpc_clock_ms(), all_closed_ms = -1;
	double slowest = 0;
	for (int tick = 0; rpc_clock_ms() - start < 20000 && all_closed_ms < 0; tick++) {
		int open = 0;
		for (int i = 0; i < SLOW; i++) {
			if (closed[i])
				continue;
			char reply[1024];
			/* A byte; then whether the server hung up (the send fails,
			 * or the socket reads as closed). */
			if (send(slow[i], "a", 1, MSG_NOSIGNAL) != 1 ||
			    read_until_close(slow[i], reply, sizeof(reply), 1))
				closed[i] = true;
			else
				open++;
		}
		if (open == 0)
			all_closed_ms = rpc_clock_ms() - start;
		/* Meanwhile everyone else is served at once. */
		if (tick % 5 == 0) {
			http_response r;
			cr_assert_eq(stack_http("GET", "/healthz", NULL, NULL, &r), 200);
			if (r.seconds > slowest)
				slowest = r.seconds;
			http_response_free(&r);
		}
		nanosleep(&(struct timespec){.tv_nsec = 200 * 1000000L}, NULL);
	}
	for (int i = 0; i < SLOW; i++)
		close(slow[i]);
	cr_log_info("slow headers: %d clients cut off after %.1f s; other requests meanwhile took at most %.2f s", SLOW,
	    all_closed_ms / 1000.0, slowest);
	cr_assert_geq(all_closed_ms, 0, "the slow clients are disconnected (REQUEST_TIMEOUT_MS=3000 in the stack)");
	cr_assert_lt(slowest, 2.0, "other clients were not held up: slowest %.2f s", slowest);
}

/* A HEAD answer carries no body, or a client reusing the connection would
 * read it as the next response: two pipelined requests, two clean answers. */
Test(peers, head_gets_headers_only_and_the_connection_stays_in_step, .timeout = 30)
{
	int fd = gateway_connect();
	const char pipelined[] =
	    "HEAD /users/1 HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	ssize_t unused = send(fd, pipelined, sizeof(pipelined) - 1, MSG_NOSIGNAL);
	(void) unused;
	char reply[8192];
	bool closed = read_until_close(fd, reply, sizeof(reply), 5000);
	close(fd);
	cr_assert(closed, "the second request's Connection: close was honoured");
	/* HEAD is the GET without its body (RFC 9110 9.3.2): 200, or 404 in a
	 * database without user 1. */
	cr_assert(strncmp(reply, "HTTP/1.1 200", 12) == 0 || strncmp(reply, "HTTP/1.1 404", 12) == 0,
	    "HEAD answers as the GET would: %s", reply);
	const char *end_of_head = strstr(reply, "\r\n\r\n");
	cr_assert_not_null(end_of_head);
	cr_assert(strncmp(end_of_head + 4, "HTTP/1.1 200", 12) == 0,
	    "the next response follows the HEAD answer's headers directly: %s", reply);
	cr_assert(strstr(end_of_head, "{\"status\":\"ok\"}") != NULL, "%s", reply);
}
