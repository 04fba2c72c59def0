/* tls-call: one Health call over tls+tcp:// with whatever identity it is
 * given, as a caller the system must refuse would make it: mbedTLS used
 * directly on a socket, with no checks of ours on the files (an expired
 * certificate is presented as it is; rpc/tls_files.h's checks would refuse
 * it), or with no certificate at all ("-"). The call is what the hop's
 * client sends (rpc/transport.h): one frame, a 4-byte big-endian length
 * and an Rpc.Request envelope, and one frame back.
 *
 *   tls-call CERT|- KEY|- CA SERVER_NAME URL CONTRACT
 *
 * Exit: 0 answered (any reply envelope: its status is printed); 3 not
 * answered within 3 s (refused, closed, no connection, a server that fails
 * the checks); 2 bad arguments or mbedTLS refusing the files. */
#include <errno.h>
#include <fcntl.h>
#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>
#include <netdb.h>
#include <nng/nng.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rpc/envelope.h"
#include "rpc/tls_config.h"
#include "rpc/transport.h"

#define WAIT_MS 3000
/* A reply larger than this is not one Health gives. */
#define MAX_REPLY (1 << 20)

static int64_t deadline_ms;

static int
bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	ssize_t n = send(*(int *) ctx, buf, len, MSG_NOSIGNAL);
	if (n >= 0)
		return (int) n;
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? MBEDTLS_ERR_SSL_WANT_WRITE
	                                                                 : MBEDTLS_ERR_SSL_INTERNAL_ERROR;
}

static int
bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	ssize_t n = recv(*(int *) ctx, buf, len, 0);
	if (n >= 0)
		return (int) n; /* 0: the peer closed (mbedTLS: MBEDTLS_ERR_SSL_CONN_EOF) */
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? MBEDTLS_ERR_SSL_WANT_READ
	                                                                 : MBEDTLS_ERR_SSL_INTERNAL_ERROR;
}

/* Waits for the socket as mbedTLS's rv asks: 0 to go on, -1 when rv is an
 * error or the deadline passed. */
static int
wait_for(int fd, int rv)
{
	short events = rv == MBEDTLS_ERR_SSL_WANT_READ ? POLLIN : rv == MBEDTLS_ERR_SSL_WANT_WRITE ? POLLOUT : 0;
	if (events == 0)
		return -1;
	int64_t left    = deadline_ms - rpc_clock_ms();
	struct pollfd p = {.fd = fd, .events = events};
	return left > 0 && poll(&p, 1, (int) left) == 1 ? 0 : -1;
}

static void
say_tls_error(const char *what, int rv)
{
	char why[160];
	mbedtls_strerror(rv, why, sizeof(why));
	printf("not answered: %s: %s\n", what, why);
}

/* Reads exactly len bytes; 0, or -1 (said why). */
static int
read_exactly(mbedtls_ssl_context *ssl, int fd, uint8_t *buf, size_t len)
{
	for (size_t got = 0; got < len;) {
		int n = mbedtls_ssl_read(ssl, buf + got, len - got);
		if (n > 0) {
			got += (size_t) n;
			continue;
		}
		if (n == 0 || n == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
			printf("not answered: the server closed the connection\n");
			return -1;
		}
		if (wait_for(fd, n) != 0) {
			if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE)
				printf("not answered within %d ms\n", WAIT_MS);
			else
				say_tls_error("reading the reply", n);
			return -1;
		}
	}
	return 0;
}

/* Connects to tls+tcp://HOST:PORT ([HOST] for IPv6) before the deadline:
 * a non-blocking socket, or -1 (said why); -2 for a URL of another shape. */
static int
connect_to(const char *url)
{
	static const char scheme[] = "tls+tcp://";
	if (strncmp(url, scheme, strlen(scheme)) != 0)
		return -2;
	char host[256];
	const char *rest = url + strlen(scheme), *port;
	if (rest[0] == '[') {
		const char *end = strchr(rest, ']');
		if (end == NULL || end[1] != ':' || (size_t) (end - rest) > sizeof(host))
			return -2;
		snprintf(host, sizeof(host), "%.*s", (int) (end - rest - 1), rest + 1);
		port = end + 2;
	} else {
		const char *colon = strrchr(rest, ':');
		if (colon == NULL || (size_t) (colon - rest) >= sizeof(host))
			return -2;
		snprintf(host, sizeof(host), "%.*s", (int) (colon - rest), rest);
		port = colon + 1;
	}
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
	int gai = getaddrinfo(host, port, &hints, &res);
	if (gai != 0 || res == NULL) {
		printf("not answered: %s: %s\n", host, gai_strerror(gai));
		return -1;
	}
	int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
		int err = errno;
		if (err == EINPROGRESS) {
			struct pollfd p = {.fd = fd, .events = POLLOUT};
			socklen_t len   = sizeof(err);
			int64_t left    = deadline_ms - rpc_clock_ms();
			if (left <= 0 || poll(&p, 1, (int) left) != 1)
				err = ETIMEDOUT;
			else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
				err = errno;
		}
		if (err != 0) {
			printf("not answered: connecting to %s: %s\n", url, strerror(err));
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	return fd;
}

int
main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: tls-call CERT|- KEY|- CA SERVER_NAME URL CONTRACT\n");
		return 2;
	}
	deadline_ms = rpc_clock_ms() + WAIT_MS;
	mbedtls_ssl_config conf;
	mbedtls_x509_crt ca, own;
	mbedtls_pk_context key;
	mbedtls_ssl_context ssl;
	mbedtls_ssl_config_init(&conf);
	mbedtls_x509_crt_init(&ca);
	mbedtls_x509_crt_init(&own);
	mbedtls_pk_init(&key);
	mbedtls_ssl_init(&ssl);
	int rv, status = 2, fd = -1;
	const char *what = argv[3];
	bool with_cert   = strcmp(argv[1], "-") != 0;
	if ((rv = mbedtls_x509_crt_parse_file(&ca, argv[3])) != 0)
		goto refused;
	what = argv[1];
	if (with_cert && (rv = mbedtls_x509_crt_parse_file(&own, argv[1])) != 0)
		goto refused;
	what = argv[2];
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	if (with_cert && (rv = mbedtls_pk_parse_keyfile(&key, argv[2], NULL, rpc_tls_random, NULL)) != 0)
#else
	if (with_cert && (rv = mbedtls_pk_parse_keyfile(&key, argv[2], NULL)) != 0)
#endif
		goto refused;
	what = "the TLS configuration";
	if ((rv = mbedtls_ssl_config_defaults(
	         &conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT)) != 0)
		goto refused;
	what = argv[1];
	if (with_cert && (rv = mbedtls_ssl_conf_own_cert(&conf, &own, &key)) != 0)
		goto refused;
	mbedtls_ssl_conf_rng(&conf, rpc_tls_random, NULL);
	mbedtls_ssl_conf_ca_chain(&conf, &ca, NULL);
	mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	/* TLS 1.2, as the hop runs it (rpc/tls_config.h). */
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	mbedtls_ssl_conf_min_tls_version(&conf, MBEDTLS_SSL_VERSION_TLS1_2);
	mbedtls_ssl_conf_max_tls_version(&conf, MBEDTLS_SSL_VERSION_TLS1_2);
#else
	mbedtls_ssl_conf_min_version(&conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_max_version(&conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
#endif
	what = argv[4];
	if ((rv = mbedtls_ssl_setup(&ssl, &conf)) != 0 || (rv = mbedtls_ssl_set_hostname(&ssl, argv[4])) != 0)
		goto refused;

	char method[128];
	snprintf(method, sizeof(method), "%s/Health", argv[6]);
	rpc_request_header h = {.method = method, .timeout_ms = WAIT_MS};
	nng_msg *req;
	if (rpc_envelope_pack_request(&req, &h, NULL, 0) != 0) {
		fprintf(stderr, "tls-call: out of memory\n");
		goto out;
	}
	fd = connect_to(argv[5]);
	if (fd == -2) {
		fprintf(stderr, "tls-call: not a tls+tcp://HOST:PORT URL: %s\n", argv[5]);
		nng_msg_free(req);
		goto out;
	}
	status = 3;
	if (fd < 0) {
		nng_msg_free(req);
		goto out;
	}
	mbedtls_ssl_set_bio(&ssl, &fd, bio_send, bio_recv, NULL);
	while ((rv = mbedtls_ssl_handshake(&ssl)) != 0) {
		if (wait_for(fd, rv) != 0) {
			uint32_t flags = mbedtls_ssl_get_verify_result(&ssl);
			char info[256] = "";
			if (flags != 0 && flags != (uint32_t) -1)
				mbedtls_x509_crt_verify_info(info, sizeof(info), " ", flags);
			if (rv == MBEDTLS_ERR_SSL_WANT_READ || rv == MBEDTLS_ERR_SSL_WANT_WRITE)
				printf("not answered: no TLS handshake within %d ms\n", WAIT_MS);
			else
				say_tls_error("the TLS handshake", rv);
			if (info[0] != '\0')
				printf("%s", info);
			nng_msg_free(req);
			goto out;
		}
	}
	/* The frame: the length, then the envelope, in one write. */
	size_t len   = nng_msg_len(req);
	uint8_t *buf = malloc(RPC_FRAME_HEADER + len);
	if (buf == NULL) {
		nng_msg_free(req);
		goto out;
	}
	buf[0] = (uint8_t) (len >> 24);
	buf[1] = (uint8_t) (len >> 16);
	buf[2] = (uint8_t) (len >> 8);
	buf[3] = (uint8_t) len;
	memcpy(buf + RPC_FRAME_HEADER, nng_msg_body(req), len);
	nng_msg_free(req);
	for (size_t sent = 0; sent < RPC_FRAME_HEADER + len;) {
		int n = mbedtls_ssl_write(&ssl, buf + sent, RPC_FRAME_HEADER + len - sent);
		if (n > 0)
			sent += (size_t) n;
		else if (wait_for(fd, n) != 0) {
			say_tls_error("sending the request", n);
			free(buf);
			goto out;
		}
	}
	free(buf);
	uint8_t hdr[RPC_FRAME_HEADER];
	if (read_exactly(&ssl, fd, hdr, sizeof(hdr)) != 0)
		goto out;
	size_t reply_len = (size_t) hdr[0] << 24 | (size_t) hdr[1] << 16 | (size_t) hdr[2] << 8 | hdr[3];
	nng_msg *reply;
	if (reply_len > MAX_REPLY || nng_msg_alloc(&reply, reply_len) != 0) {
		printf("not answered: a reply frame of %zu bytes\n", reply_len);
		goto out;
	}
	if (read_exactly(&ssl, fd, nng_msg_body(reply), reply_len) == 0) {
		Rpc__Reply *r = NULL;
		rpc_status st;
		rpc_status_clear(&st);
		rpc_code code = rpc_envelope_unpack_reply(reply, &r, &st);
		printf("answered: %s%s%s\n", rpc_code_name(code), st.message[0] != '\0' ? ": " : "", st.message);
		rpc__reply__free_unpacked(r, NULL);
		status = 0;
	}
	nng_msg_free(reply);
	goto out;

refused:;
	char why[160];
	mbedtls_strerror(rv, why, sizeof(why));
	fprintf(stderr, "tls-call: mbedTLS refuses %s: %s\n", what, why);
out:
	mbedtls_ssl_free(&ssl);
	if (fd >= 0)
		close(fd);
	mbedtls_ssl_config_free(&conf);
	mbedtls_pk_free(&key);
	mbedtls_x509_crt_free(&own);
	mbedtls_x509_crt_free(&ca);
	return status;
}
