/* tls_floor.h: mbedTLS over tcp_floor's blocking sockets. */
#include "tls_floor.h"

#include <errno.h>
#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rpc/tls_config.h"
#include "tcp_floor.h"

/* One side's configuration: read-only once built, shared by its threads. */
typedef struct side {
	mbedtls_ssl_config conf;
	mbedtls_x509_crt cert, ca;
	mbedtls_pk_context key;
} side;

struct tls_floor_server {
	side side;
	tcp_floor_server *tcp;
};

struct tls_floor_client {
	side side;
	char server_name[256];
};

struct tls_floor_conn {
	mbedtls_ssl_context ssl;
	int fd;
};

/* The BIO: plain send and recv on the fd (its SO_RCVTIMEO ends a wait). */
static int
fd_send(void *ctx, const unsigned char *buf, size_t len)
{
	for (;;) {
		ssize_t n = send(*(int *) ctx, buf, len, MSG_NOSIGNAL);
		if (n >= 0)
			return (int) n;
		if (errno != EINTR)
			return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
	}
}

static int
fd_recv(void *ctx, unsigned char *buf, size_t len)
{
	for (;;) {
		ssize_t n = read(*(int *) ctx, buf, len);
		if (n >= 0)
			return n == 0 ? MBEDTLS_ERR_SSL_CONN_EOF : (int) n;
		if (errno != EINTR)
			return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
	}
}

static int
fail(const char *what, const char *path, int ret)
{
	char why[128];
	mbedtls_strerror(ret, why, sizeof(why));
	fprintf(stderr, "tls_floor: %s%s%s: %s\n", what, path ? " " : "", path ? path : "", why);
	return -1;
}

static void
side_free(side *s)
{
	mbedtls_ssl_config_free(&s->conf);
	mbedtls_x509_crt_free(&s->cert);
	mbedtls_x509_crt_free(&s->ca);
	mbedtls_pk_free(&s->key);
}

static int
side_init(side *s, int endpoint, const tls_floor_files *f)
{
	mbedtls_ssl_config_init(&s->conf);
	mbedtls_x509_crt_init(&s->cert);
	mbedtls_x509_crt_init(&s->ca);
	mbedtls_pk_init(&s->key);
	int ret;
	if ((ret = mbedtls_x509_crt_parse_file(&s->cert, f->cert)) != 0)
		return fail("certificate", f->cert, ret);
#if MBEDTLS_VERSION_MAJOR >= 3
	ret = mbedtls_pk_parse_keyfile(&s->key, f->key, NULL, rpc_tls_random, NULL);
#else
	ret = mbedtls_pk_parse_keyfile(&s->key, f->key, NULL);
#endif
	if (ret != 0)
		return fail("key", f->key, ret);
	if ((ret = mbedtls_x509_crt_parse_file(&s->ca, f->ca)) != 0)
		return fail("CA", f->ca, ret);
	if ((ret = mbedtls_ssl_config_defaults(
	         &s->conf, endpoint, MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT)) != 0)
		return fail("defaults", NULL, ret);
	mbedtls_ssl_conf_rng(&s->conf, rpc_tls_random, NULL);
	mbedtls_ssl_conf_authmode(&s->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&s->conf, &s->ca, NULL);
#if MBEDTLS_VERSION_MAJOR >= 3
	mbedtls_ssl_conf_min_tls_version(&s->conf, MBEDTLS_SSL_VERSION_TLS1_2);
	mbedtls_ssl_conf_max_tls_version(&s->conf, MBEDTLS_SSL_VERSION_TLS1_2);
#else
	mbedtls_ssl_conf_min_version(&s->conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_max_version(&s->conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
#endif
	if ((ret = mbedtls_ssl_conf_own_cert(&s->conf, &s->cert, &s->key)) != 0)
		return fail("own certificate", f->cert, ret);
	return 0;
}

static int
io_read(void *ctx, void *buf, size_t len)
{
	tls_floor_conn *c = ctx;
	for (size_t got = 0; got < len;) {
		int n = mbedtls_ssl_read(&c->ssl, (unsigned char *) buf + got, len - got);
		if (n <= 0)
			return -1;
		got += (size_t) n;
	}
	return 0;
}

static int
io_write(void *ctx, const void *buf, size_t len)
{
	tls_floor_conn *c = ctx;
	for (size_t put = 0; put < len;) {
		int n = mbedtls_ssl_write(&c->ssl, (const unsigned char *) buf + put, len - put);
		if (n <= 0)
			return -1;
		put += (size_t) n;
	}
	return 0;
}

/* A session on c->fd with conf, its handshake done; -1 (the session
 * freed) on failure. */
static int
conn_open(tls_floor_conn *c, const mbedtls_ssl_config *conf, const char *server_name)
{
	mbedtls_ssl_init(&c->ssl);
	int ret = mbedtls_ssl_setup(&c->ssl, conf);
	if (ret == 0 && server_name != NULL)
		ret = mbedtls_ssl_set_hostname(&c->ssl, server_name);
	if (ret == 0) {
		mbedtls_ssl_set_bio(&c->ssl, &c->fd, fd_send, fd_recv, NULL);
		ret = mbedtls_ssl_handshake(&c->ssl);
	}
	if (ret != 0) {
		mbedtls_ssl_free(&c->ssl);
		return -1;
	}
	return 0;
}

static void
serve(int fd, void *ctx)
{
	tls_floor_server *s = ctx;
	tls_floor_conn c    = {.fd = fd};
	if (conn_open(&c, &s->side.conf, NULL) != 0)
		return;
	tcp_floor_io io = {io_read, io_write, &c};
	tcp_floor_io_echo(&io);
	mbedtls_ssl_free(&c.ssl);
}

tls_floor_server *
tls_floor_start(const tls_floor_files *f, int *port)
{
	tls_floor_server *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	if (side_init(&s->side, MBEDTLS_SSL_IS_SERVER, f) != 0 ||
	    (s->tcp = tcp_floor_start_serving(port, serve, s)) == NULL) {
		side_free(&s->side);
		free(s);
		return NULL;
	}
	return s;
}

void
tls_floor_stop(tls_floor_server *s)
{
	if (s == NULL)
		return;
	tcp_floor_stop(s->tcp);
	side_free(&s->side);
	free(s);
}

tls_floor_client *
tls_floor_client_new(const tls_floor_files *f, const char *server_name)
{
	tls_floor_client *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	if (side_init(&c->side, MBEDTLS_SSL_IS_CLIENT, f) != 0) {
		side_free(&c->side);
		free(c);
		return NULL;
	}
	snprintf(c->server_name, sizeof(c->server_name), "%s", server_name);
	return c;
}

void
tls_floor_client_free(tls_floor_client *c)
{
	if (c == NULL)
		return;
	side_free(&c->side);
	free(c);
}

tls_floor_conn *
tls_floor_connect(tls_floor_client *client, int port)
{
	tls_floor_conn *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	if ((c->fd = tcp_floor_connect(port)) < 0 || conn_open(c, &client->side.conf, client->server_name) != 0) {
		if (c->fd >= 0)
			close(c->fd);
		free(c);
		return NULL;
	}
	return c;
}

const char *
tls_floor_ciphersuite(const tls_floor_conn *c)
{
	return mbedtls_ssl_get_ciphersuite(&c->ssl);
}

void
tls_floor_close(tls_floor_conn *c)
{
	if (c == NULL)
		return;
	mbedtls_ssl_free(&c->ssl);
	close(c->fd);
	free(c);
}

int
tls_floor_call(tls_floor_conn *c, const uint8_t *request, size_t len, uint8_t *reply)
{
	tcp_floor_io io = {io_read, io_write, c};
	return tcp_floor_io_call(&io, request, len, reply);
}
