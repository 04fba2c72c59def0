/* tcp_floor.h: blocking echo over loopback TCP, a thread per connection. */
#include "tcp_floor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNECTIONS 256

struct tcp_floor_server {
	int listen_fd;
	tcp_floor_serve_fn *serve;
	void *serve_ctx;
	atomic_bool stopping;
	pthread_t acceptor;
	pthread_mutex_t mu; /* guards fds, threads, n */
	int fds[MAX_CONNECTIONS];
	pthread_t threads[MAX_CONNECTIONS];
	int n;
};

/* Reads exactly len bytes; -1 on end or error. */
static int
read_full(int fd, void *buf, size_t len)
{
	for (size_t got = 0; got < len;) {
		ssize_t r = read(fd, (char *) buf + got, len - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t) r;
	}
	return 0;
}

static int
write_full(int fd, const void *buf, size_t len)
{
	for (size_t put = 0; put < len;) {
		/* MSG_NOSIGNAL: a peer gone is an error here, not SIGPIPE */
		ssize_t w = send(fd, (const char *) buf + put, len - put, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		put += (size_t) w;
	}
	return 0;
}

static void
no_delay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int
fd_read(void *ctx, void *buf, size_t len)
{
	return read_full(*(int *) ctx, buf, len);
}

static int
fd_write(void *ctx, const void *buf, size_t len)
{
	return write_full(*(int *) ctx, buf, len);
}

void
tcp_floor_io_echo(const tcp_floor_io *io)
{
	uint8_t frame[4 + TCP_FLOOR_MAX_BYTES];
	for (;;) {
		uint32_t len;
		if (io->read(io->ctx, &len, 4) != 0 || len > TCP_FLOOR_MAX_BYTES ||
		    io->read(io->ctx, frame + 4, len) != 0)
			break;
		memcpy(frame, &len, 4);
		if (io->write(io->ctx, frame, 4 + len) != 0) /* one write: one segment, as a reply would be */
			break;
	}
}

static void
serve_plain(int fd, void *ctx)
{
	(void) ctx;
	tcp_floor_io io = {fd_read, fd_write, &fd};
	tcp_floor_io_echo(&io);
}

typedef struct connection {
	tcp_floor_server *s;
	int fd;
} connection;

static void *
serve_connection(void *arg)
{
	connection c = *(connection *) arg;
	free(arg);
	c.s->serve(c.fd, c.s->serve_ctx);
	return NULL;
}

static void *
accept_loop(void *arg)
{
	tcp_floor_server *s = arg;
	for (;;) {
		int fd = accept(s->listen_fd, NULL, NULL);
		if (fd < 0 && atomic_load(&s->stopping))
			return NULL; /* tcp_floor_stop shut the listener down */
		if (fd < 0) {
			/* EMFILE and the like pass: try again shortly */
			nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
			continue;
		}
		no_delay(fd);
		connection *c = malloc(sizeof(*c));
		pthread_mutex_lock(&s->mu);
		if (c == NULL || s->n == MAX_CONNECTIONS) {
			pthread_mutex_unlock(&s->mu);
			free(c);
			close(fd);
			continue;
		}
		*c = (connection){s, fd};
		if (pthread_create(&s->threads[s->n], NULL, serve_connection, c) != 0) {
			pthread_mutex_unlock(&s->mu);
			free(c);
			close(fd);
			continue;
		}
		s->fds[s->n++] = fd;
		pthread_mutex_unlock(&s->mu);
	}
}

tcp_floor_server *
tcp_floor_start(int *port)
{
	return tcp_floor_start_serving(port, serve_plain, NULL);
}

tcp_floor_server *
tcp_floor_start_serving(int *port, tcp_floor_serve_fn *serve, void *ctx)
{
	tcp_floor_server *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->serve     = serve;
	s->serve_ctx = ctx;
	pthread_mutex_init(&s->mu, NULL);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sa_len      = sizeof(sa);
	s->listen_fd          = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0 || bind(s->listen_fd, (struct sockaddr *) &sa, sizeof(sa)) != 0 ||
	    listen(s->listen_fd, 128) != 0 || getsockname(s->listen_fd, (struct sockaddr *) &sa, &sa_len) != 0 ||
	    pthread_create(&s->acceptor, NULL, accept_loop, s) != 0) {
		int saved = errno;
		if (s->listen_fd >= 0)
			close(s->listen_fd);
		free(s);
		errno = saved;
		return NULL;
	}
	*port = ntohs(sa.sin_port);
	return s;
}

void
tcp_floor_stop(tcp_floor_server *s)
{
	if (s == NULL)
		return;
	atomic_store(&s->stopping, true);
	shutdown(s->listen_fd, SHUT_RDWR); /* wakes accept */
	pthread_join(s->acceptor, NULL);
	close(s->listen_fd);
	for (int i = 0; i < s->n; i++) {
		shutdown(s->fds[i], SHUT_RDWR); /* wakes its thread's read */
		pthread_join(s->threads[i], NULL);
		close(s->fds[i]);
	}
	pthread_mutex_destroy(&s->mu);
	free(s);
}

int
tcp_floor_connect(int port)
{
	struct sockaddr_in sa = {
	    .sin_family = AF_INET, .sin_port = htons((uint16_t) port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	no_delay(fd);
	/* A server that stopped answering fails the call, not the benchmark. */
	struct timeval limit = {.tv_sec = 5};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
	return fd;
}

int
tcp_floor_io_call(const tcp_floor_io *io, const uint8_t *request, size_t len, uint8_t *reply)
{
	uint8_t frame[4 + TCP_FLOOR_MAX_BYTES];
	uint32_t n = (uint32_t) len;
	if (len > TCP_FLOOR_MAX_BYTES)
		return -1;
	memcpy(frame, &n, 4);
	memcpy(frame + 4, request, len);
	uint32_t back;
	if (io->write(io->ctx, frame, 4 + len) != 0 || io->read(io->ctx, &back, 4) != 0 || back != n)
		return -1;
	return io->read(io->ctx, reply, len);
}

int
tcp_floor_call(int fd, const uint8_t *request, size_t len, uint8_t *reply)
{
	tcp_floor_io io = {fd_read, fd_write, &fd};
	return tcp_floor_io_call(&io, request, len, reply);
}
