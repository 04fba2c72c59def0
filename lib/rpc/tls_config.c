/* tls_config.h: mbedTLS configurations from the RPC_TLS_* files. */
#include "rpc/tls_config.h"

#include <errno.h>
#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>

/* How long a session ticket may resume a session, and how often a
 * listener's ticket keys change (mbedtls_ssl_ticket_setup). */
#define TICKET_LIFETIME_S 3600

static _Atomic uint64_t sessions_resumed;

struct rpc_tls {
	_Atomic int refs;
	bool server;
	mbedtls_ssl_ticket_context ticket; /* a listener's ticket keys */
	char server_name[256];             /* a dialer's check */
	mbedtls_ssl_config conf;
	mbedtls_x509_crt own, trust;
	mbedtls_pk_context key;
};

int
rpc_tls_random(void *ctx, unsigned char *buf, size_t len)
{
	(void) ctx;
	for (size_t done = 0; done < len;) {
		ssize_t n = getrandom(buf + done, len - done, 0);
		if (n < 0 && errno != EINTR)
			return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
		done += n > 0 ? (size_t) n : 0;
	}
	return 0;
}

/* mbedtls_ssl_ticket_parse, counting the sessions it lets resume. */
static int
ticket_parse(void *ctx, mbedtls_ssl_session *session, unsigned char *buf, size_t len)
{
	int rv = mbedtls_ssl_ticket_parse(ctx, session, buf, len);
	if (rv == 0)
		atomic_fetch_add(&sessions_resumed, 1);
	return rv;
}

uint64_t
rpc_tls_sessions_resumed(void)
{
	return atomic_load(&sessions_resumed);
}

static rpc_code
refused(rpc_status *st, const char *variable, const char *path, int rv)
{
	char why[160];
	mbedtls_strerror(rv, why, sizeof(why));
	return rpc_status_set(st, RPC_FAILED_PRECONDITION, "%s: '%s': mbedTLS refuses it: %s", variable, path, why);
}

static rpc_code
build(rpc_tls **out, bool server, const rpc_tls_files *f, const char *server_name, rpc_status *st)
{
	rpc_tls *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return rpc_status_set(st, RPC_RESOURCE_EXHAUSTED, "out of memory");
	t->refs   = 1;
	t->server = server;
	snprintf(t->server_name, sizeof(t->server_name), "%s", server_name != NULL ? server_name : "");
	mbedtls_ssl_config_init(&t->conf);
	mbedtls_ssl_ticket_init(&t->ticket);
	mbedtls_x509_crt_init(&t->own);
	mbedtls_x509_crt_init(&t->trust);
	mbedtls_pk_init(&t->key);
	const char *trust_var  = rpc_tls_variable_names[server ? 3 : 2];
	const char *trust_path = server ? f->caller_ca : f->ca;
	rpc_code code          = RPC_OK;
	int rv;
	if ((rv = mbedtls_x509_crt_parse_file(&t->own, f->cert)) != 0)
		code = refused(st, rpc_tls_variable_names[0], f->cert, rv);
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	else if ((rv = mbedtls_pk_parse_keyfile(&t->key, f->key, NULL, rpc_tls_random, NULL)) != 0)
#else
	else if ((rv = mbedtls_pk_parse_keyfile(&t->key, f->key, NULL)) != 0)
#endif
		code = refused(st, rpc_tls_variable_names[1], f->key, rv);
	else if ((rv = mbedtls_x509_crt_parse_file(&t->trust, trust_path)) != 0)
		code = refused(st, trust_var, trust_path, rv);
	else if ((rv = mbedtls_ssl_config_defaults(&t->conf, server ? MBEDTLS_SSL_IS_SERVER : MBEDTLS_SSL_IS_CLIENT,
	              MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT)) != 0 ||
	         (rv = mbedtls_ssl_conf_own_cert(&t->conf, &t->own, &t->key)) != 0)
		code = refused(st, rpc_tls_variable_names[0], f->cert, rv);
	if (code != RPC_OK) {
		rpc_tls_free(t);
		return code;
	}
	mbedtls_ssl_conf_rng(&t->conf, rpc_tls_random, NULL);
	mbedtls_ssl_conf_ca_chain(&t->conf, &t->trust, NULL);
	mbedtls_ssl_conf_authmode(&t->conf, server ? MBEDTLS_SSL_VERIFY_OPTIONAL : MBEDTLS_SSL_VERIFY_REQUIRED);
	/* Session tickets (RFC 5077): a connection after the first to the same
	 * server resumes its session, with no certificate or key exchange (a
	 * full mutual handshake costs milliseconds of ECDSA and ECDHE on each
	 * side, a call tens of microseconds). The ticket carries the caller's
	 * certificate and its verification, so a listener checks a resumed
	 * caller as it did the first time (rpc_conn_verified,
	 * rpc_conn_peer_name). */
	if (server) {
		if ((rv = mbedtls_ssl_ticket_setup(
		         &t->ticket, rpc_tls_random, NULL, MBEDTLS_CIPHER_AES_256_GCM, TICKET_LIFETIME_S)) != 0) {
			char why[160];
			mbedtls_strerror(rv, why, sizeof(why));
			rpc_tls_free(t);
			return rpc_status_set(st, RPC_INTERNAL, "mbedTLS cannot set up session tickets: %s", why);
		}
		mbedtls_ssl_conf_session_tickets_cb(&t->conf, mbedtls_ssl_ticket_write, ticket_parse, &t->ticket);
	} else {
		mbedtls_ssl_conf_session_tickets(&t->conf, MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
	}
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	mbedtls_ssl_conf_min_tls_version(&t->conf, MBEDTLS_SSL_VERSION_TLS1_2);
	mbedtls_ssl_conf_max_tls_version(&t->conf, MBEDTLS_SSL_VERSION_TLS1_2);
#else
	mbedtls_ssl_conf_min_version(&t->conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_max_version(&t->conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
#endif
	*out = t;
	return RPC_OK;
}

rpc_code
rpc_tls_dialer_config(rpc_tls **out, const rpc_tls_files *files, const char *server_name, rpc_status *st)
{
	return build(out, false, files, server_name, st);
}

rpc_code
rpc_tls_listener_config(rpc_tls **out, const rpc_tls_files *files, rpc_status *st)
{
	return build(out, true, files, NULL, st);
}

void
rpc_tls_hold(rpc_tls *t)
{
	atomic_fetch_add(&t->refs, 1);
}

void
rpc_tls_free(rpc_tls *t)
{
	if (t == NULL || atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	mbedtls_ssl_config_free(&t->conf);
	mbedtls_ssl_ticket_free(&t->ticket);
	mbedtls_x509_crt_free(&t->own);
	mbedtls_x509_crt_free(&t->trust);
	mbedtls_pk_free(&t->key);
	free(t);
}

const void *
rpc_tls_ssl_config(const rpc_tls *t)
{
	return &t->conf;
}

bool
rpc_tls_is_server(const rpc_tls *t)
{
	return t->server;
}

const char *
rpc_tls_server_name(const rpc_tls *t)
{
	return t->server_name;
}
