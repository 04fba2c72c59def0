/* test_tls.h: the tests' side of mutual TLS. */
#include "test_tls.h"

#include <errno.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "procs.h"
#include "rpc/address_set.h"
#include "rpc/envelope.h"
#include "rpc/tls_config.h"

const char *
test_tls_dir(void)
{
	const char *dir = getenv("RPC_TLS_DIR");
	return dir != NULL && dir[0] != '\0' ? dir : NULL;
}

void
test_tls_service_url(char *out, size_t len, const char *ipc_dir, const char *name)
{
	if (test_tls_dir() != NULL)
		snprintf(out, len, "tls+tcp://127.0.0.1:%d", procs_free_port());
	else
		snprintf(out, len, "ipc://%s/%s.ipc", ipc_dir, name);
}

size_t
test_tls_role_env(const char *role, int listens, char out[4][320])
{
	const char *dir = test_tls_dir();
	if (dir == NULL)
		return 0;
	snprintf(out[0], sizeof(out[0]), "RPC_TLS_CERT=%s/%s.pem", dir, role);
	snprintf(out[1], sizeof(out[1]), "RPC_TLS_KEY=%s/%s.key", dir, role);
	snprintf(out[2], sizeof(out[2]), "RPC_TLS_CA=%s/services-ca.pem", dir);
	if (!listens)
		return 3;
	snprintf(out[3], sizeof(out[3]), "RPC_TLS_CALLER_CA=%s/callers/%s.pem", dir, role);
	return 4;
}

const rpc_tls_files *
test_tls_operator(void)
{
	static char cert[256], key[256], ca[256];
	static rpc_tls_files files;
	const char *dir = test_tls_dir();
	if (dir == NULL)
		return NULL;
	snprintf(cert, sizeof(cert), "%s/operator.pem", dir);
	snprintf(key, sizeof(key), "%s/operator.key", dir);
	snprintf(ca, sizeof(ca), "%s/services-ca.pem", dir);
	files = (rpc_tls_files){.cert = cert, .key = key, .ca = ca, .caller_ca = ""};
	return &files;
}

/* The operator's dialer configuration checking server_name, built once
 * and kept for the process: a connection's TLS session points into the
 * configuration it was set up with (mbedtls_ssl_setup), so it must outlive
 * every connection dialed with it, and the connector's reference ends with
 * the connector. NULL without TLS or when mbedTLS refuses the files. */
static rpc_tls *
operator_tls(const char *server_name)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static struct {
		char name[64];
		rpc_tls *tls;
	} kept[8];
	const rpc_tls_files *files = test_tls_operator();
	if (files == NULL)
		return NULL;
	rpc_tls *tls = NULL;
	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]) && tls == NULL; i++) {
		if (kept[i].tls != NULL && strcmp(kept[i].name, server_name) == 0) {
			tls = kept[i].tls;
		} else if (kept[i].tls == NULL) {
			rpc_status st;
			if (rpc_tls_dialer_config(&kept[i].tls, files, server_name, &st) != RPC_OK) {
				fprintf(stderr, "test_tls: %s\n", st.message);
				kept[i].tls = NULL;
				break;
			}
			snprintf(kept[i].name, sizeof(kept[i].name), "%s", server_name);
			tls = kept[i].tls;
		}
	}
	pthread_mutex_unlock(&mu);
	return tls;
}

int
test_tls_connect(const char *url, const char *server_name, int64_t deadline_ms, rpc_conn **out)
{
	*out = NULL;
	char numeric[256];
	int lookup = 0;
	if (rpc_url_for_nng(url, numeric, sizeof(numeric), &lookup) != 0) {
		fprintf(stderr, "test_tls: %s: %s\n", url, lookup != 0 ? gai_strerror(lookup) : "not a URL to dial");
		return NNG_EADDRINVAL;
	}
	rpc_tls *tls = NULL;
	if (strncmp(numeric, "tls+", 4) == 0 && (tls = operator_tls(server_name)) == NULL) {
		fprintf(stderr, "test_tls: no TLS configuration for %s\n", url);
		return NNG_EINVAL;
	}
	rpc_connector *d = NULL;
	int rv           = rpc_connector_open(&d, numeric, tls);
	if (rv != 0)
		return rv;
	char why[256];
	rv = rpc_connector_dial(d, deadline_ms, deadline_ms, out, why, sizeof(why));
	if (rv == NNG_EPEERAUTH)
		fprintf(stderr, "test_tls: %s: the TLS handshake failed: %s\n", url, why[0] != '\0' ? why : "refused");
	rpc_connector_free(d);
	return rv;
}

struct test_raw {
	int fd;
	rpc_tls *tls; /* NULL: plain */
	mbedtls_ssl_context ssl;
};

static int
raw_bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	ssize_t n = send(*(int *) ctx, buf, len, MSG_NOSIGNAL);
	if (n >= 0)
		return (int) n;
	return errno == EAGAIN || errno == EINTR ? MBEDTLS_ERR_SSL_WANT_WRITE : MBEDTLS_ERR_NET_SEND_FAILED;
}

static int
raw_bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	ssize_t n = recv(*(int *) ctx, buf, len, 0);
	if (n >= 0)
		return (int) n;
	return errno == EAGAIN || errno == EINTR ? MBEDTLS_ERR_SSL_WANT_READ : MBEDTLS_ERR_NET_RECV_FAILED;
}

/* Waits for fd as mbedTLS's rv (or events, when rv is 0) asks: 0, or -1
 * for another error of rv or the deadline. */
static int
raw_wait(int fd, int rv, short events, int64_t deadline_ms)
{
	if (rv == MBEDTLS_ERR_SSL_WANT_READ)
		events = POLLIN;
	else if (rv == MBEDTLS_ERR_SSL_WANT_WRITE)
		events = POLLOUT;
	else if (rv != 0)
		return -1;
	for (;;) {
		int64_t left    = deadline_ms - rpc_clock_ms();
		struct pollfd p = {.fd = fd, .events = events};
		if (left <= 0)
			return -1;
		int n = poll(&p, 1, left > 1000 ? 1000 : (int) left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

int
test_raw_open(const char *url, const char *server_name, bool tls, int64_t deadline_ms, test_raw **out)
{
	*out = NULL;
	char numeric[256], host[64];
	int lookup = 0, port = 0;
	if (rpc_url_for_nng(url, numeric, sizeof(numeric), &lookup) != 0)
		return -1;
	struct sockaddr_storage sa = {0};
	socklen_t sa_len;
	bool is_tls = strncmp(numeric, "tls+tcp://", 10) == 0;
	if (strncmp(numeric, "ipc://", 6) == 0) {
		struct sockaddr_un *un = (void *) &sa;
		un->sun_family         = AF_UNIX;
		if (strlen(numeric + 6) >= sizeof(un->sun_path))
			return -1;
		memcpy(un->sun_path, numeric + 6, strlen(numeric + 6) + 1);
		sa_len = sizeof(*un);
	} else {
		const char *rest = strstr(numeric, "://") + 3, *colon = strrchr(rest, ':');
		if (colon == NULL || (size_t) (colon - rest) >= sizeof(host))
			return -1;
		snprintf(host, sizeof(host), "%.*s", (int) (colon - rest), rest[0] == '[' ? rest + 1 : rest);
		if (rest[0] == '[')
			host[strlen(host) - 1] = '\0';
		port                  = atoi(colon + 1);
		struct addrinfo hints = {.ai_flags = AI_NUMERICHOST, .ai_socktype = SOCK_STREAM}, *res = NULL;
		char service[16];
		snprintf(service, sizeof(service), "%d", port);
		if (getaddrinfo(host, service, &hints, &res) != 0 || res == NULL)
			return -1;
		memcpy(&sa, res->ai_addr, res->ai_addrlen);
		sa_len = res->ai_addrlen;
		freeaddrinfo(res);
	}
	test_raw *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -1;
	mbedtls_ssl_init(&r->ssl);
	r->fd  = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int rv = r->fd >= 0 ? 0 : -1;
	if (rv == 0 && connect(r->fd, (struct sockaddr *) &sa, sa_len) != 0) {
		int err = errno;
		if (err == EINPROGRESS) {
			socklen_t len = sizeof(err);
			if (raw_wait(r->fd, 0, POLLOUT, deadline_ms) != 0 ||
			    getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
				err = ETIMEDOUT;
		}
		rv = err == 0 ? 0 : -1;
	}
	if (rv == 0 && is_tls && tls) {
		rpc_status st;
		const rpc_tls_files *files = test_tls_operator();
		if (files == NULL || rpc_tls_dialer_config(&r->tls, files, server_name, &st) != RPC_OK ||
		    mbedtls_ssl_setup(&r->ssl, rpc_tls_ssl_config(r->tls)) != 0 ||
		    mbedtls_ssl_set_hostname(&r->ssl, server_name) != 0) {
			rv = -1;
		} else {
			mbedtls_ssl_set_bio(&r->ssl, &r->fd, raw_bio_send, raw_bio_recv, NULL);
			int n;
			while (rv == 0 && (n = mbedtls_ssl_handshake(&r->ssl)) != 0)
				rv = raw_wait(r->fd, n, 0, deadline_ms);
		}
	}
	if (rv != 0) {
		test_raw_close(r);
		return -1;
	}
	*out = r;
	return 0;
}

int
test_raw_send(test_raw *r, const void *bytes, size_t len, int64_t deadline_ms)
{
	const uint8_t *p = bytes;
	while (len > 0) {
		long n;
		int rv = 0;
		if (r->tls != NULL) {
			n = mbedtls_ssl_write(&r->ssl, p, len);
			if (n <= 0)
				rv = raw_wait(r->fd, (int) n, 0, deadline_ms);
		} else {
			n = send(r->fd, p, len, MSG_NOSIGNAL);
			if (n < 0)
				rv = errno == EAGAIN || errno == EINTR ? raw_wait(r->fd, 0, POLLOUT, deadline_ms) : -1;
		}
		if (rv != 0)
			return -1;
		if (n > 0) {
			p += n;
			len -= (size_t) n;
		}
	}
	return 0;
}

bool
test_raw_closed_by(test_raw *r, int64_t deadline_ms)
{
	for (;;) {
		uint8_t scratch[4096];
		long n;
		int rv = 0;
		if (r->tls != NULL) {
			n = mbedtls_ssl_read(&r->ssl, scratch, sizeof(scratch));
			if (n == 0 || n == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || n == MBEDTLS_ERR_NET_CONN_RESET ||
			    n == MBEDTLS_ERR_NET_RECV_FAILED || n == MBEDTLS_ERR_SSL_CONN_EOF)
				return true;
			if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE)
				rv = raw_wait(r->fd, (int) n, 0, deadline_ms);
			else if (n < 0)
				return true; /* the session broke: nothing more comes */
		} else {
			n = recv(r->fd, scratch, sizeof(scratch), 0);
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
				return true;
			if (n < 0)
				rv = raw_wait(r->fd, 0, POLLIN, deadline_ms);
		}
		if (rv != 0)
			return false;
	}
}

void
test_raw_close(test_raw *r)
{
	if (r == NULL)
		return;
	mbedtls_ssl_free(&r->ssl);
	if (r->fd >= 0)
		close(r->fd);
	rpc_tls_free(r->tls);
	free(r);
}
