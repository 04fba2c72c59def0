/* transport.h over non-blocking sockets, poll(2) for deadlines and mbedTLS
 * on the socket for TLS. */
#define _GNU_SOURCE
#include "rpc/transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "rpc/envelope.h"
#include "rpc/tcp_liveness.h"

/* Read-ahead: a whole small frame (most requests and replies) arrives in
 * one read; frames that fit are written with one write. */
#define IO_BUF 4096

struct rpc_conn {
	int fd;
	bool tcp;
	atomic_bool shut; /* rpc_conn_shutdown ran */
	bool broken;      /* an operation failed: not fit for another call */
	bool readable;    /* rpc_conn_wait_readable saw the socket readable */
	mbedtls_ssl_context *ssl;
	rpc_tls *tls; /* held: ssl points into its configuration */
	char peer[INET6_ADDRSTRLEN + 16], ip[INET6_ADDRSTRLEN];
	size_t off, have;
	uint8_t in[IO_BUF];
	uint8_t out[IO_BUF];
};

/* A URL taken apart. */
typedef struct address {
	struct sockaddr_storage sa;
	socklen_t len;
	bool tls, ipc, unix_socket;
	char scheme[16];
} address;

struct rpc_acceptor {
	int fd, wake; /* the listening socket; an eventfd that ends accept */
	bool bound;   /* bind worked: an ipc:// socket file of its own */
	address addr;
	rpc_tls *tls;
};

struct rpc_connector {
	address addr;
	rpc_tls *tls;
	pthread_mutex_t mu;          /* guards session */
	mbedtls_ssl_session session; /* the last handshake's, to resume */
	bool has_session;
};

/* ---- waiting ---- */

/* Waits until fd is ready for events or deadline_ms: 0, NNG_ETIMEDOUT. */
static int
wait_fd(int fd, short events, int64_t deadline_ms)
{
	for (;;) {
		int ms = -1;
		if (deadline_ms != RPC_NO_DEADLINE) {
			int64_t left = deadline_ms - rpc_clock_ms();
			if (left <= 0)
				return NNG_ETIMEDOUT;
			ms = left > INT32_MAX ? INT32_MAX : (int) left;
		}
		struct pollfd p = {.fd = fd, .events = events};
		int n           = poll(&p, 1, ms);
		if (n > 0)
			return 0;
		if (n == 0)
			return NNG_ETIMEDOUT;
		if (errno != EINTR)
			return NNG_EINTERNAL;
	}
}

static int
error_of_errno(int e)
{
	switch (e) {
	case ECONNREFUSED: return NNG_ECONNREFUSED;
	case ETIMEDOUT: return NNG_ETIMEDOUT;
	case EMFILE:
	case ENFILE: return NNG_ENOFILES;
	case ENOMEM:
	case ENOBUFS: return NNG_ENOMEM;
	case ECONNABORTED: return NNG_ECONNABORTED;
	case EHOSTUNREACH:
	case ENETUNREACH: return NNG_EUNREACHABLE;
	case EADDRINUSE: return NNG_EADDRINUSE;
	case EACCES:
	case EPERM: return NNG_EPERM;
	default: return NNG_ECONNRESET;
	}
}

/* ---- mbedTLS's I/O on the socket ---- */

static int
bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	ssize_t n = send(*(int *) ctx, buf, len, MSG_NOSIGNAL);
	if (n >= 0)
		return (int) n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	return errno == EPIPE || errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_SEND_FAILED;
}

static int
bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	ssize_t n = recv(*(int *) ctx, buf, len, 0);
	if (n >= 0)
		return (int) n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_READ;
	return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_RECV_FAILED;
}

/* Whether bytes of a frame are already here: in our buffer, or in a TLS
 * record mbedTLS has read. */
static bool
buffered(rpc_conn *c)
{
	return c->have != c->off || (c->ssl != NULL && mbedtls_ssl_check_pending(c->ssl) != 0);
}

/* The error of a failed operation: NNG_ECLOSED once shut down. */
static int
failed(rpc_conn *c, int rv)
{
	c->broken = true;
	return atomic_load(&c->shut) ? NNG_ECLOSED : rv;
}

/* mbedTLS's answer rv of an operation: 0 to go on (after waiting for
 * the socket as it asks), or the error. */
static int
tls_wait(rpc_conn *c, int rv, int64_t deadline_ms)
{
	if (rv == MBEDTLS_ERR_SSL_WANT_READ)
		return wait_fd(c->fd, POLLIN, deadline_ms);
	if (rv == MBEDTLS_ERR_SSL_WANT_WRITE)
		return wait_fd(c->fd, POLLOUT, deadline_ms);
	if (rv == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || rv == 0)
		return NNG_ECONNSHUT;
	if (rv == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED || rv == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE)
		return NNG_EPEERAUTH;
	return NNG_ECONNRESET;
}

/* Reads what is there (at least one byte) into buf: the count, or -error. */
static long
read_some(rpc_conn *c, void *buf, size_t len, int64_t deadline_ms)
{
	for (;;) {
		int rv;
		if (c->ssl != NULL) {
			int n = mbedtls_ssl_read(c->ssl, buf, len);
			if (n > 0)
				return n;
			rv = tls_wait(c, n, deadline_ms);
		} else {
			ssize_t n = recv(c->fd, buf, len, 0);
			if (n > 0)
				return (long) n;
			if (n == 0)
				rv = NNG_ECONNSHUT;
			else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				rv = wait_fd(c->fd, POLLIN, deadline_ms);
			else
				rv = error_of_errno(errno);
		}
		if (rv != 0)
			return -failed(c, rv);
	}
}

/* Writes all of buf. */
static int
write_all(rpc_conn *c, const uint8_t *buf, size_t len, int64_t deadline_ms)
{
	while (len > 0) {
		int rv;
		long n;
		if (c->ssl != NULL) {
			n  = mbedtls_ssl_write(c->ssl, buf, len);
			rv = n > 0 ? 0 : tls_wait(c, (int) n, deadline_ms);
		} else {
			n  = send(c->fd, buf, len, MSG_NOSIGNAL);
			rv = n >= 0 ? 0
			     : errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR
			         ? wait_fd(c->fd, POLLOUT, deadline_ms)
			         : error_of_errno(errno);
		}
		if (rv != 0)
			return failed(c, rv);
		if (n > 0) {
			buf += n;
			len -= (size_t) n;
		}
	}
	return 0;
}

/* ---- connections ---- */

static void
describe_peer(rpc_conn *c, const struct sockaddr_storage *sa)
{
	snprintf(c->peer, sizeof(c->peer), "unknown");
	snprintf(c->ip, sizeof(c->ip), "unknown");
	if (sa->ss_family == AF_UNIX) {
		snprintf(c->peer, sizeof(c->peer), "local");
		snprintf(c->ip, sizeof(c->ip), "local");
	} else if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *) sa;
		if (inet_ntop(AF_INET, &in->sin_addr, c->ip, sizeof(c->ip)) != NULL)
			snprintf(c->peer, sizeof(c->peer), "%s:%u", c->ip, (unsigned) ntohs(in->sin_port));
	} else if (sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *) sa;
		if (inet_ntop(AF_INET6, &in6->sin6_addr, c->ip, sizeof(c->ip)) != NULL)
			snprintf(c->peer, sizeof(c->peer), "[%s]:%u", c->ip, (unsigned) ntohs(in6->sin6_port));
	}
}

/* A connection on the connected, non-blocking fd (closed on failure). */
static rpc_conn *
conn_new(int fd, const struct sockaddr_storage *peer, rpc_tls *tls, int *err)
{
	rpc_conn *c = malloc(sizeof(*c));
	if (c == NULL) {
		close(fd);
		*err = NNG_ENOMEM;
		return NULL;
	}
	c->fd  = fd;
	c->tcp = peer->ss_family == AF_INET || peer->ss_family == AF_INET6;
	atomic_init(&c->shut, false);
	c->broken   = false;
	c->readable = false;
	c->ssl      = NULL;
	c->tls      = NULL;
	c->off = c->have = 0;
	describe_peer(c, peer);
	if (c->tcp) {
		int on = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
		rpc_tcp_liveness_set(fd); /* best effort: TCP's own timeouts otherwise */
	}
	if (tls != NULL) {
		int rv = 0;
		if ((c->ssl = malloc(sizeof(*c->ssl))) == NULL) {
			rpc_conn_close(c);
			*err = NNG_ENOMEM;
			return NULL;
		}
		mbedtls_ssl_init(c->ssl);
		rpc_tls_hold(tls);
		c->tls = tls;
		if ((rv = mbedtls_ssl_setup(c->ssl, rpc_tls_ssl_config(tls))) != 0 ||
		    (!rpc_tls_is_server(tls) &&
		        (rv = mbedtls_ssl_set_hostname(c->ssl, rpc_tls_server_name(tls))) != 0)) {
			rpc_conn_close(c);
			*err = NNG_ENOMEM;
			return NULL;
		}
		mbedtls_ssl_set_bio(c->ssl, &c->fd, bio_send, bio_recv, NULL);
	}
	return c;
}

int
rpc_conn_handshake(rpc_conn *c, int64_t deadline_ms)
{
	if (c->ssl == NULL)
		return 0;
	for (;;) {
		int n = mbedtls_ssl_handshake(c->ssl);
		if (n == 0)
			return 0;
		int rv = tls_wait(c, n, deadline_ms);
		if (rv == NNG_ECONNSHUT || rv == NNG_ECONNRESET)
			rv = n == MBEDTLS_ERR_NET_CONN_RESET || n == MBEDTLS_ERR_NET_RECV_FAILED ||
			             n == MBEDTLS_ERR_NET_SEND_FAILED || n == 0 || n == MBEDTLS_ERR_SSL_CONN_EOF
			         ? rv
			         : NNG_EPEERAUTH;
		if (rv != 0)
			return failed(c, rv);
	}
}

int
rpc_conn_write_frame(rpc_conn *c, const void *body, size_t len, int64_t deadline_ms)
{
	if (len > UINT32_MAX)
		return NNG_EMSGSIZE;
	uint8_t hdr[RPC_FRAME_HEADER] = {
	    (uint8_t) (len >> 24), (uint8_t) (len >> 16), (uint8_t) (len >> 8), (uint8_t) len};
	if (len + RPC_FRAME_HEADER <= sizeof(c->out)) { /* one write, one TLS record */
		memcpy(c->out, hdr, RPC_FRAME_HEADER);
		memcpy(c->out + RPC_FRAME_HEADER, body, len);
		return write_all(c, c->out, len + RPC_FRAME_HEADER, deadline_ms);
	}
	int rv = write_all(c, hdr, sizeof(hdr), deadline_ms);
	return rv != 0 ? rv : write_all(c, body, len, deadline_ms);
}

static int64_t
rest_deadline(int64_t first_deadline_ms, int64_t rest_ms)
{
	int64_t rest = rpc_clock_ms() + rest_ms;
	return rest < first_deadline_ms ? rest : first_deadline_ms;
}

int
rpc_conn_read_frame(rpc_conn *c, size_t max, int64_t first_deadline_ms, int64_t rest_ms, nng_msg **body)
{
	*body = NULL;
	/* After a frame's first byte, rest_ms, within first_deadline_ms. */
	int64_t deadline = c->have > c->off ? rest_deadline(first_deadline_ms, rest_ms) : first_deadline_ms;
	/* Nothing buffered: the frame is never there yet (a caller reads just
	 * after sending its request, a server just after sending the last
	 * reply), so wait before reading rather than after a read that finds
	 * nothing (one system call fewer per frame). */
	if (!c->readable && !buffered(c)) {
		int rv = wait_fd(c->fd, POLLIN, deadline);
		if (rv != 0)
			return failed(c, rv);
	}
	c->readable = false;
	while (c->have - c->off < RPC_FRAME_HEADER) {
		bool empty = c->have == c->off;
		if (c->off > 0) {
			memmove(c->in, c->in + c->off, c->have - c->off);
			c->have -= c->off;
			c->off = 0;
		}
		long n = read_some(c, c->in + c->have, sizeof(c->in) - c->have, deadline);
		if (n < 0)
			return (int) -n;
		c->have += (size_t) n;
		if (empty)
			deadline = rest_deadline(first_deadline_ms, rest_ms);
	}
	const uint8_t *h = c->in + c->off;
	size_t len       = (size_t) h[0] << 24 | (size_t) h[1] << 16 | (size_t) h[2] << 8 | h[3];
	if (len > max)
		return failed(c, NNG_EMSGSIZE);
	c->off += RPC_FRAME_HEADER;
	nng_msg *m;
	if (nng_msg_alloc(&m, len) != 0)
		return failed(c, NNG_ENOMEM);
	size_t got = c->have - c->off < len ? c->have - c->off : len;
	memcpy(nng_msg_body(m), c->in + c->off, got);
	c->off += got;
	if (c->off == c->have)
		c->off = c->have = 0;
	/* The rest of a large frame goes straight into the message. */
	while (got < len) {
		long n = read_some(c, (uint8_t *) nng_msg_body(m) + got, len - got, deadline);
		if (n < 0) {
			nng_msg_free(m);
			return (int) -n;
		}
		got += (size_t) n;
	}
	*body = m;
	return 0;
}

int
rpc_conn_wait_readable(rpc_conn *c, int64_t deadline_ms)
{
	if (buffered(c))
		return 0;
	int rv = wait_fd(c->fd, POLLIN, deadline_ms);
	if (rv != 0)
		return failed(c, rv);
	c->readable = true; /* rpc_conn_read_frame need not wait again */
	return 0;
}

bool
rpc_conn_fit(rpc_conn *c)
{
	if (c->broken || c->have != c->off || (c->ssl != NULL && mbedtls_ssl_get_bytes_avail(c->ssl) > 0))
		return false;
	/* Readable while idle: the peer closed it, or sent what nobody asked. */
	struct pollfd p = {.fd = c->fd, .events = POLLIN};
	return poll(&p, 1, 0) == 0;
}

const char *
rpc_conn_peer(const rpc_conn *c)
{
	return c->peer;
}

const char *
rpc_conn_peer_ip(const rpc_conn *c)
{
	return c->ip;
}

bool
rpc_conn_verified(rpc_conn *c)
{
	return c->ssl != NULL && mbedtls_ssl_get_peer_cert(c->ssl) != NULL &&
	       mbedtls_ssl_get_verify_result(c->ssl) == 0;
}

int
rpc_conn_peer_name(rpc_conn *c, char *cn, size_t len)
{
	const mbedtls_x509_crt *crt = c->ssl != NULL ? mbedtls_ssl_get_peer_cert(c->ssl) : NULL;
	if (crt == NULL || len == 0)
		return -1;
	for (const mbedtls_x509_name *name = &crt->subject; name != NULL; name = name->next) {
		if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &name->oid) == 0) {
			if (memchr(name->val.p, '\0', name->val.len) != NULL)
				return -1; /* "gateway\0x" is not gateway */
			size_t n = name->val.len < len - 1 ? name->val.len : len - 1;
			memcpy(cn, name->val.p, n);
			cn[n] = '\0';
			return 0;
		}
	}
	return -1;
}

void
rpc_conn_shutdown(rpc_conn *c)
{
	atomic_store(&c->shut, true);
	shutdown(c->fd, SHUT_RDWR); /* wakes its poll; the descriptor stays the owner's */
}

void
rpc_conn_close(rpc_conn *c)
{
	if (c == NULL)
		return;
	if (c->ssl != NULL) {
		mbedtls_ssl_free(c->ssl);
		free(c->ssl);
	}
	rpc_tls_free(c->tls);
	close(c->fd);
	free(c);
}

/* ---- addresses ---- */

/* Parses scheme://host:port (a numeric host, [] around IPv6; "" or * for
 * any address when listening) or ipc:///path. */
static int
parse_url(const char *url, bool passive, address *a)
{
	memset(a, 0, sizeof(*a));
	const char *sep = strstr(url, "://");
	if (sep == NULL || (size_t) (sep - url) >= sizeof(a->scheme))
		return NNG_EADDRINVAL;
	memcpy(a->scheme, url, (size_t) (sep - url));
	const char *rest = sep + 3;
	bool abstract    = strcmp(a->scheme, "abstract") == 0;
	if (strcmp(a->scheme, "ipc") == 0 || strcmp(a->scheme, "unix") == 0 || abstract) {
		/* A path, or (abstract://, Linux) a name outside the file system. */
		struct sockaddr_un *un = (void *) &a->sa;
		size_t n               = strlen(rest);
		if (n == 0 || n + (abstract ? 1 : 0) >= sizeof(un->sun_path))
			return NNG_EADDRINVAL;
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path + (abstract ? 1 : 0), rest, n);
		a->len =
		    abstract ? (socklen_t) (offsetof(struct sockaddr_un, sun_path) + 1 + n) : (socklen_t) sizeof(*un);
		a->ipc         = !abstract; /* a file to replace when stale, and to remove */
		a->unix_socket = true;
		return 0;
	}
	a->tls = strcmp(a->scheme, "tls+tcp") == 0;
	if (!a->tls && strcmp(a->scheme, "tcp") != 0)
		return NNG_EADDRINVAL;
	char host[INET6_ADDRSTRLEN + 2];
	const char *port;
	if (rest[0] == '[') {
		const char *end = strchr(rest, ']');
		if (end == NULL || end[1] != ':' || (size_t) (end - rest - 1) >= sizeof(host))
			return NNG_EADDRINVAL;
		memcpy(host, rest + 1, (size_t) (end - rest - 1));
		host[end - rest - 1] = '\0';
		port                 = end + 2;
	} else {
		const char *colon = strrchr(rest, ':');
		if (colon == NULL || (size_t) (colon - rest) >= sizeof(host))
			return NNG_EADDRINVAL;
		memcpy(host, rest, (size_t) (colon - rest));
		host[colon - rest] = '\0';
		port               = colon + 1;
	}
	bool any              = host[0] == '\0' || strcmp(host, "*") == 0;
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	    .ai_socktype                    = SOCK_STREAM,
	    .ai_flags                       = AI_NUMERICHOST | AI_NUMERICSERV | (passive ? AI_PASSIVE : 0)};
	struct addrinfo *res  = NULL;
	if ((any && !passive) || getaddrinfo(any ? NULL : host, port, &hints, &res) != 0 || res == NULL)
		return NNG_EADDRINVAL;
	memcpy(&a->sa, res->ai_addr, res->ai_addrlen);
	a->len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* ---- listening ---- */

int
rpc_acceptor_open(rpc_acceptor **out, const char *url, rpc_tls *tls, char *url_out, size_t url_len)
{
	rpc_acceptor *a = calloc(1, sizeof(*a));
	if (a == NULL)
		return NNG_ENOMEM;
	a->fd = a->wake = -1;
	int rv          = parse_url(url, true, &a->addr);
	if (rv == 0 && a->addr.tls != (tls != NULL))
		rv = NNG_EADDRINVAL;
	if (rv == 0 && ((a->fd = socket(a->addr.sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0 ||
	                   (a->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0))
		rv = error_of_errno(errno);
	if (rv == 0 && !a->addr.unix_socket) {
		int on = 1;
		setsockopt(a->fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	}
	if (rv == 0 && bind(a->fd, (struct sockaddr *) &a->addr.sa, a->addr.len) != 0) {
		rv = error_of_errno(errno);
		/* A socket file left by a process gone: a socket nothing answers
		 * on (never another kind of file). */
		const struct sockaddr_un *un = (const void *) &a->addr.sa;
		struct stat st;
		int probe = a->addr.ipc && errno == EADDRINUSE && lstat(un->sun_path, &st) == 0 && S_ISSOCK(st.st_mode)
		                ? socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)
		                : -1;
		if (probe >= 0 && connect(probe, (struct sockaddr *) &a->addr.sa, a->addr.len) != 0 &&
		    errno == ECONNREFUSED && unlink(un->sun_path) == 0 &&
		    bind(a->fd, (struct sockaddr *) &a->addr.sa, a->addr.len) == 0)
			rv = 0;
		if (probe >= 0)
			close(probe);
	}
	a->bound = rv == 0; /* the socket file is this acceptor's to remove */
	if (rv == 0 && listen(a->fd, SOMAXCONN) != 0)
		rv = error_of_errno(errno);
	if (rv != 0) {
		rpc_acceptor_free(a);
		return rv;
	}
	if (tls != NULL) {
		rpc_tls_hold(tls);
		a->tls = tls;
	}
	snprintf(url_out, url_len, "%s", url);
	if (!a->addr.unix_socket) { /* the port bound, for tcp port 0 */
		struct sockaddr_storage sa;
		socklen_t len = sizeof(sa);
		rpc_conn probe;
		if (getsockname(a->fd, (struct sockaddr *) &sa, &len) == 0) {
			describe_peer(&probe, &sa);
			snprintf(url_out, url_len, "%s://%s", a->addr.scheme, probe.peer);
		}
	}
	*out = a;
	return 0;
}

int
rpc_acceptor_accept(rpc_acceptor *a, rpc_conn **out)
{
	for (;;) {
		struct pollfd p[2] = {{.fd = a->fd, .events = POLLIN}, {.fd = a->wake, .events = POLLIN}};
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			return NNG_EINTERNAL;
		if (p[1].revents != 0)
			return NNG_ECLOSED;
		if (p[0].revents == 0)
			continue;
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		int fd        = accept4(a->fd, (struct sockaddr *) &peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				continue;
			return error_of_errno(errno);
		}
		if (a->addr.unix_socket)
			peer.ss_family = AF_UNIX;
		int rv;
		return (*out = conn_new(fd, &peer, a->tls, &rv)) != NULL ? 0 : rv;
	}
}

void
rpc_acceptor_shutdown(rpc_acceptor *a)
{
	uint64_t one = 1;
	if (a != NULL && a->wake >= 0 && write(a->wake, &one, sizeof(one)) < 0) {
		/* the counter is full: a wake is pending anyway */
	}
}

void
rpc_acceptor_free(rpc_acceptor *a)
{
	if (a == NULL)
		return;
	if (a->fd >= 0)
		close(a->fd);
	if (a->wake >= 0)
		close(a->wake);
	if (a->addr.ipc && a->bound)
		unlink(((const struct sockaddr_un *) (const void *) &a->addr.sa)->sun_path);
	rpc_tls_free(a->tls);
	free(a);
}

/* ---- dialing ---- */

int
rpc_connector_open(rpc_connector **out, const char *url, rpc_tls *tls)
{
	rpc_connector *d = calloc(1, sizeof(*d));
	if (d == NULL)
		return NNG_ENOMEM;
	int rv = parse_url(url, false, &d->addr);
	if (rv == 0 && d->addr.tls != (tls != NULL))
		rv = NNG_EADDRINVAL;
	if (rv != 0) {
		free(d);
		return rv;
	}
	if (tls != NULL) {
		rpc_tls_hold(tls);
		d->tls = tls;
	}
	pthread_mutex_init(&d->mu, NULL);
	mbedtls_ssl_session_init(&d->session);
	*out = d;
	return 0;
}

int
rpc_connector_dial(
    rpc_connector *d, int64_t connect_by_ms, int64_t handshake_by_ms, rpc_conn **out, char *why, size_t len)
{
	if (why != NULL && len > 0)
		why[0] = '\0';
	int fd = socket(d->addr.sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return error_of_errno(errno);
	int rv = 0;
	if (connect(fd, (struct sockaddr *) &d->addr.sa, d->addr.len) != 0) {
		/* EAGAIN from a Unix socket is a full backlog: a refusal. */
		if (errno == EAGAIN && d->addr.sa.ss_family == AF_UNIX)
			rv = NNG_ECONNREFUSED;
		else if (errno != EINPROGRESS && errno != EAGAIN)
			rv = error_of_errno(errno);
		else if ((rv = wait_fd(fd, POLLOUT, connect_by_ms)) == 0) {
			int err           = 0;
			socklen_t len_err = sizeof(err);
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len_err) != 0)
				err = errno;
			rv = err != 0 ? error_of_errno(err) : 0;
		}
	}
	if (rv != 0) {
		close(fd);
		return rv;
	}
	rpc_conn *c = conn_new(fd, &d->addr.sa, d->tls, &rv);
	if (c == NULL)
		return rv;
	/* The server's last session, offered for resumption: a server that
	 * does not know its ticket (restarted, another replica) runs the full
	 * handshake instead. */
	if (c->ssl != NULL) {
		pthread_mutex_lock(&d->mu);
		if (d->has_session)
			(void) mbedtls_ssl_set_session(c->ssl, &d->session);
		pthread_mutex_unlock(&d->mu);
	}
	rv = rpc_conn_handshake(c, handshake_by_ms);
	if (c->ssl != NULL) {
		pthread_mutex_lock(&d->mu);
		/* Kept after a good handshake (a resumed one may bring a new
		 * ticket); dropped after one that failed on its own (refused, or
		 * not the server it was), so the next dial starts afresh, but not
		 * for a deadline that ran out: a burst of dials queued for the
		 * CPU would otherwise turn into costlier full handshakes. */
		if (rv == 0) {
			mbedtls_ssl_session next;
			mbedtls_ssl_session_init(&next);
			if (mbedtls_ssl_get_session(c->ssl, &next) == 0) {
				mbedtls_ssl_session_free(&d->session);
				d->session     = next;
				d->has_session = true;
			} else {
				mbedtls_ssl_session_free(&next);
			}
		} else if (d->has_session && rv != NNG_ETIMEDOUT) {
			mbedtls_ssl_session_free(&d->session);
			mbedtls_ssl_session_init(&d->session);
			d->has_session = false;
		}
		pthread_mutex_unlock(&d->mu);
	}
	if (rv != 0) {
		if (why != NULL && c->ssl != NULL && rv == NNG_EPEERAUTH) {
			uint32_t flags = mbedtls_ssl_get_verify_result(c->ssl);
			if (flags != 0 && flags != (uint32_t) -1)
				mbedtls_x509_crt_verify_info(why, len, "", flags);
		}
		rpc_conn_close(c);
		return rv;
	}
	*out = c;
	return 0;
}

void
rpc_connector_free(rpc_connector *d)
{
	if (d == NULL)
		return;
	rpc_tls_free(d->tls);
	mbedtls_ssl_session_free(&d->session);
	pthread_mutex_destroy(&d->mu);
	free(d);
}
