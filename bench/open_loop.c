/* open-loop: HTTP/1.1 load at a fixed offered rate, latency measured from
 * each request's scheduled send time.
 *
 * A closed-loop tool (wrk) sends a connection's next request only after the
 * previous answer, so a server that stalls also stalls the load, and the
 * requests that would have arrived meanwhile are never measured
 * ("coordinated omission", Gil Tene). Here request i is due at
 * t0 + i / rate whatever happens; it goes out on the first idle connection,
 * and its latency runs from when it was due. A stall therefore shows in the
 * latency of every request scheduled during it.
 *
 * Usage: open-loop --rate N [--duration S] [--connections C] [--timeout-ms T]
 *                  [--method M] [--path P] [--body TEMPLATE] [--header 'K: V']
 *                  [--json FILE] HOST:PORT
 * In TEMPLATE, every "{seq}" becomes a token unique to the request (the
 * run's id and the request's number), for creates that must not collide.
 * A request not answered within T ms of its due time is counted late (its
 * connection is reset); one still unsent then is dropped and counted late.
 * Prints one JSON object (also to FILE); exit 0 when the run completed, 1 on
 * a usage or connection error. Answers are read by Content-Length only (the
 * gateway always sends it); a chunked answer counts as an error. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_MAX 65536

typedef struct conn {
	int fd;
	bool busy, connected;
	int64_t seq; /* request in flight, when busy */
	char *out;   /* bytes still to write */
	size_t out_len, out_off;
	char in[READ_MAX];
	size_t in_len;
} conn;

typedef struct options {
	double rate, duration;
	int connections;
	int64_t timeout_ns;
	const char *method, *path, *body, *json;
	char headers[2048];
	struct sockaddr_in addr;
} options;

typedef struct results {
	int64_t *latency_ns;     /* by sequence number; -1 until answered */
	int64_t scheduled, next; /* requests in the run; the next to go out */
	int64_t sent, dropped, answered, ok, non2xx, late, errors;
	int64_t status_counts[6]; /* 1xx..5xx */
} results;

static int64_t
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
usage(void)
{
	fprintf(stderr, "usage: open-loop --rate N [--duration S] [--connections C] [--timeout-ms T]\n"
	                "                 [--method M] [--path P] [--body TEMPLATE] [--header 'K: V'] [--json FILE]\n"
	                "                 HOST:PORT\n");
	exit(1);
}

static void
parse_target(const char *arg, struct sockaddr_in *addr)
{
	char host[64];
	const char *colon = strrchr(arg, ':');
	if (colon == NULL || (size_t) (colon - arg) >= sizeof(host))
		usage();
	snprintf(host, sizeof(host), "%.*s", (int) (colon - arg), arg);
	char *end;
	long port = strtol(colon + 1, &end, 10);
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_port   = htons((uint16_t) port);
	if (*end != '\0' || port < 1 || port > 65535 || inet_pton(AF_INET, host, &addr->sin_addr) != 1) {
		fprintf(stderr, "open-loop: target must be IPV4:PORT, got '%s'\n", arg);
		exit(1);
	}
}

static void
parse_options(int argc, char **argv, options *o)
{
	static const struct option longs[] = {{"rate", 1, 0, 'r'}, {"duration", 1, 0, 'd'}, {"connections", 1, 0, 'c'},
	    {"timeout-ms", 1, 0, 't'}, {"method", 1, 0, 'm'}, {"path", 1, 0, 'p'}, {"body", 1, 0, 'b'},
	    {"header", 1, 0, 'H'}, {"json", 1, 0, 'j'}, {0, 0, 0, 0}};
	*o = (options){.duration = 10, .connections = 32, .timeout_ns = 2000000000LL, .method = "GET", .path = "/"};
	int c;
	while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		size_t used = strlen(o->headers);
		switch (c) {
		case 'r': o->rate = atof(optarg); break;
		case 'd': o->duration = atof(optarg); break;
		case 'c': o->connections = atoi(optarg); break;
		case 't': o->timeout_ns = (int64_t) (atof(optarg) * 1e6); break;
		case 'm': o->method = optarg; break;
		case 'p': o->path = optarg; break;
		case 'b': o->body = optarg; break;
		case 'j': o->json = optarg; break;
		case 'H':
			if (used + strlen(optarg) + 3 > sizeof(o->headers))
				usage();
			snprintf(o->headers + used, sizeof(o->headers) - used, "%s\r\n", optarg);
			break;
		default: usage();
		}
	}
	if (optind != argc - 1 || o->rate <= 0 || o->duration <= 0 || o->connections < 1 || o->timeout_ns <= 0)
		usage();
	parse_target(argv[optind], &o->addr);
}

/* The request for sequence number seq, with every "{seq}" of the body
 * replaced by run-seq. Returns a malloc'd buffer. */
static char *
build_request(const options *o, unsigned run, int64_t seq, size_t *len)
{
	char token[48], body[8192] = "";
	snprintf(token, sizeof(token), "%08x-%lld", run, (long long) seq);
	size_t n = 0;
	for (const char *p = o->body; p != NULL && *p != '\0' && n + 1 < sizeof(body);) {
		if (strncmp(p, "{seq}", 5) == 0) {
			n += (size_t) snprintf(body + n, sizeof(body) - n, "%s", token);
			p += 5;
		} else {
			body[n++] = *p++;
		}
	}
	body[n < sizeof(body) ? n : sizeof(body) - 1] = '\0';
	char *req                                     = NULL;
	int rv = asprintf(&req, "%s %s HTTP/1.1\r\nHost: %s:%d\r\n%s%sContent-Length: %zu\r\n\r\n%s", o->method,
	    o->path, inet_ntoa(o->addr.sin_addr), ntohs(o->addr.sin_port), o->headers,
	    o->body != NULL ? "Content-Type: application/json\r\n" : "", strlen(body), body);
	if (rv < 0) {
		perror("open-loop");
		exit(1);
	}
	*len = (size_t) rv;
	return req;
}

static void
conn_close(conn *c, int ep)
{
	if (c->fd >= 0) {
		epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	free(c->out);
	c->fd        = -1;
	c->busy      = false;
	c->connected = false;
	c->out       = NULL;
	c->in_len    = 0;
}

static void
conn_open(conn *c, int ep, const options *o)
{
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		perror("open-loop: socket");
		exit(1);
	}
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (const struct sockaddr *) &o->addr, sizeof(o->addr)) != 0 && errno != EINPROGRESS) {
		perror("open-loop: connect");
		exit(1);
	}
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
	epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static void
want_write(conn *c, int ep, bool yes)
{
	struct epoll_event ev = {.events = EPOLLIN | (yes ? EPOLLOUT : 0), .data.ptr = c};
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void
flush_out(conn *c, int ep)
{
	while (c->out != NULL && c->out_off < c->out_len) {
		ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
		if (n < 0) {
			if (errno == EAGAIN)
				return want_write(c, ep, true);
			return; /* the read side sees the reset */
		}
		c->out_off += (size_t) n;
	}
	want_write(c, ep, false);
}

/* Content-Length and whether the server closes, from a complete head. */
static bool
parse_head(const char *head, size_t head_len, bool head_request, int *status, long *length, bool *closing)
{
	if (head_len < 12 || strncmp(head, "HTTP/1.", 7) != 0)
		return false;
	*status  = atoi(head + 9);
	*length  = 0;
	*closing = strncmp(head, "HTTP/1.0", 8) == 0;
	for (const char *line = strstr(head, "\r\n"); line != NULL && line < head + head_len;) {
		line += 2;
		if (strncasecmp(line, "Content-Length:", 15) == 0)
			*length = strtol(line + 15, NULL, 10);
		else if (strncasecmp(line, "Transfer-Encoding:", 18) == 0)
			return false;
		else if (strncasecmp(line, "Connection:", 11) == 0) {
			const char *v = line + 11;
			v += strspn(v, " \t");
			*closing = strncasecmp(v, "close", 5) == 0;
		}
		line = strstr(line, "\r\n");
	}
	if (head_request || *status == 204 || *status == 304)
		*length = 0; /* RFC 9112 6.3: no content, whatever the length says */
	return *status >= 100 && *status < 600 && *length >= 0;
}

static void
record(results *r, int64_t seq, int64_t latency, int status, bool late_bound_ok)
{
	r->answered++;
	r->latency_ns[seq] = latency;
	r->status_counts[status / 100]++;
	if (!late_bound_ok)
		r->late++;
	if (status >= 200 && status < 300)
		r->ok++;
	else
		r->non2xx++;
}

/* Reads what arrived; completes the request when its answer is whole. */
static void
on_readable(conn *c, int ep, results *r, const options *o, int64_t t0, int64_t period)
{
	for (;;) {
		ssize_t n = read(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len - 1);
		if (n == 0 || (n < 0 && errno != EAGAIN)) {
			if (c->busy)
				r->errors++;
			return conn_close(c, ep);
		}
		if (n < 0)
			break;
		c->in_len += (size_t) n;
		if (c->in_len >= sizeof(c->in) - 1)
			break;
	}
	c->in[c->in_len] = '\0';
	char *end        = strstr(c->in, "\r\n\r\n");
	if (end == NULL || !c->busy)
		return;
	int status;
	long length;
	bool closing;
	size_t head_len = (size_t) (end - c->in) + 4;
	if (!parse_head(c->in, head_len, strcmp(o->method, "HEAD") == 0, &status, &length, &closing)) {
		r->errors++;
		return conn_close(c, ep);
	}
	if (c->in_len < head_len + (size_t) length)
		return;
	int64_t latency = now_ns() - (t0 + c->seq * period);
	record(r, c->seq, latency, status, latency <= o->timeout_ns);
	c->busy = false;
	free(c->out);
	c->out = NULL;
	memmove(c->in, c->in + head_len + length, c->in_len - head_len - (size_t) length);
	c->in_len -= head_len + (size_t) length;
	if (closing)
		conn_close(c, ep);
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
	return (x > y) - (x < y);
}

static double
percentile_ms(const int64_t *sorted, int64_t n, double p)
{
	if (n == 0)
		return 0;
	int64_t i = (int64_t) (p / 100.0 * (double) n + 0.999999) - 1;
	if (i < 0)
		i = 0;
	if (i >= n)
		i = n - 1;
	return (double) sorted[i] / 1e6;
}

static void
report(const options *o, results *r, double elapsed_s)
{
	/* Late and unanswered requests count at the timeout in the percentiles,
	 * so a server that never answers cannot look fast. */
	int64_t *all = malloc(sizeof(int64_t) * (size_t) (r->scheduled > 0 ? r->scheduled : 1));
	for (int64_t i = 0; i < r->scheduled; i++) {
		int64_t v = r->latency_ns[i];
		all[i]    = v < 0 || v > o->timeout_ns ? o->timeout_ns : v;
	}
	qsort(all, (size_t) r->scheduled, sizeof(int64_t), cmp_i64);
	char text[1024];
	snprintf(text, sizeof(text),
	    "{\"offered_rps\":%.1f,\"achieved_rps\":%.1f,\"duration_s\":%.3f,\"connections\":%d,"
	    "\"timeout_ms\":%.0f,\"scheduled\":%lld,\"sent\":%lld,\"dropped\":%lld,\"answered\":%lld,\"ok\":%lld,"
	    "\"non2xx\":%lld,\"late\":%lld,\"errors\":%lld,"
	    "\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f}\n",
	    o->rate, (double) r->answered / elapsed_s, elapsed_s, o->connections, (double) o->timeout_ns / 1e6,
	    (long long) r->scheduled, (long long) r->sent, (long long) r->dropped, (long long) r->answered,
	    (long long) r->ok, (long long) r->non2xx, (long long) r->late, (long long) r->errors,
	    percentile_ms(all, r->scheduled, 50), percentile_ms(all, r->scheduled, 90),
	    percentile_ms(all, r->scheduled, 99), percentile_ms(all, r->scheduled, 99.9),
	    percentile_ms(all, r->scheduled, 100));
	free(all);
	fputs(text, stdout);
	if (o->json != NULL) {
		FILE *f = fopen(o->json, "w");
		if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
			perror(o->json);
			exit(1);
		}
	}
}

int
main(int argc, char **argv)
{
	options o;
	parse_options(argc, argv, &o);
	results r      = {0};
	r.scheduled    = (int64_t) (o.rate * o.duration);
	r.latency_ns   = malloc(sizeof(int64_t) * (size_t) (r.scheduled > 0 ? r.scheduled : 1));
	conn *conns    = calloc((size_t) o.connections, sizeof(conn));
	int ep         = epoll_create1(EPOLL_CLOEXEC);
	unsigned run   = (unsigned) now_ns() ^ (unsigned) getpid() << 16;
	int64_t period = (int64_t) (1e9 / o.rate);
	if (r.latency_ns == NULL || conns == NULL || ep < 0) {
		perror("open-loop");
		return 1;
	}
	for (int64_t i = 0; i < r.scheduled; i++)
		r.latency_ns[i] = -1;
	for (int i = 0; i < o.connections; i++) {
		conns[i].fd = -1;
		conn_open(&conns[i], ep, &o);
	}
	int64_t t0 = now_ns() + 100000000; /* 100 ms to connect before the first is due */
	for (;;) {
		int64_t now = now_ns();
		/* 1. Requests whose time has come go out on idle connections; one
		 *    that waited past the timeout is dropped as late. */
		int64_t due = now < t0 ? 0 : (now - t0) / period + 1;
		if (due > r.scheduled)
			due = r.scheduled;
		while (r.next < due && now - (t0 + r.next * period) > o.timeout_ns) {
			r.late++;
			r.dropped++;
			r.next++;
		}
		for (int i = 0; i < o.connections && r.next < due; i++) {
			conn *c = &conns[i];
			if (c->fd < 0)
				conn_open(c, ep, &o);
			if (c->busy || !c->connected)
				continue;
			c->seq = r.next++;
			r.sent++;
			c->busy    = true;
			c->out     = build_request(&o, run, c->seq, &c->out_len);
			c->out_off = 0;
			flush_out(c, ep);
		}
		/* 2. Answers late past the timeout reset their connection. */
		bool outstanding = r.next < r.scheduled;
		for (int i = 0; i < o.connections; i++) {
			conn *c = &conns[i];
			if (c->busy && now - (t0 + c->seq * period) > o.timeout_ns) {
				r.late++;
				conn_close(c, ep);
			}
			outstanding = outstanding || c->busy;
		}
		if (!outstanding)
			break;
		/* 3. Wait for I/O or for the next request's time (to the
		 *    nanosecond: a millisecond timer would bunch requests up, or
		 *    spin a core the system under test needs). */
		int64_t next       = r.next < r.scheduled ? t0 + r.next * period : now + 10000000;
		int64_t wait       = next - now < 0 ? 0 : next - now > 10000000 ? 10000000 : next - now;
		struct timespec ts = {.tv_sec = 0, .tv_nsec = wait};
		struct epoll_event events[64];
		int n = epoll_pwait2(ep, events, 64, &ts, NULL);
		for (int i = 0; i < n; i++) {
			conn *c = events[i].data.ptr;
			if (c->fd < 0)
				continue;
			if (!c->connected && (events[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
				int err       = 0;
				socklen_t len = sizeof(err);
				getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
				if (err != 0) {
					fprintf(stderr, "open-loop: connect: %s\n", strerror(err));
					return 1;
				}
				c->connected = true;
				want_write(c, ep, false);
				continue;
			}
			if (events[i].events & EPOLLOUT)
				flush_out(c, ep);
			if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				on_readable(c, ep, &r, &o, t0, period);
		}
	}
	double elapsed = (double) (now_ns() - t0) / 1e9;
	report(&o, &r, elapsed);
	for (int i = 0; i < o.connections; i++)
		conn_close(&conns[i], ep);
	free(conns);
	free(r.latency_ns);
	close(ep);
	return 0;
}
