/* tls_files.h: the RPC_TLS_* files, checked with mbedTLS. */
#include "rpc/tls_files.h"

#include "rpc/tls_config.h"

#include "base/file_read.h"

#include <errno.h>
#include <mbedtls/asn1.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A PEM file larger than this is not a certificate chain or a key. */
#define PEM_MAX (1024 * 1024)

const char *const rpc_tls_variable_names[RPC_TLS_N_VARS] = {
    "RPC_TLS_CERT", "RPC_TLS_KEY", "RPC_TLS_CA", "RPC_TLS_CALLER_CA"};

int
rpc_tls_read_pem(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
	int err_no = 0;
	switch (file_read_regular(path, PEM_MAX, out, len, &err_no)) {
	case FILE_READ_OK: return 0;
	case FILE_READ_CANNOT_OPEN:
	case FILE_READ_CANNOT_READ: snprintf(err, errlen, "cannot be read: %s", strerror(err_no)); return -1;
	case FILE_READ_NOT_REGULAR: snprintf(err, errlen, "is not a regular file"); return -1;
	case FILE_READ_TOO_LARGE: snprintf(err, errlen, "is larger than %d bytes", PEM_MAX); return -1;
	case FILE_READ_NO_MEMORY: snprintf(err, errlen, "cannot be read: out of memory"); return -1;
	}
	return -1;
}

/* mbedTLS 3 (Debian 13) takes a random source to parse and to pair keys
 * (RSA blinding); 2.28 (Debian 12) takes none. */
static int
parse_key(mbedtls_pk_context *key, const unsigned char *pem, size_t len)
{
#if MBEDTLS_VERSION_MAJOR >= 3
	return mbedtls_pk_parse_key(key, pem, len, NULL, 0, rpc_tls_random, NULL);
#else
	return mbedtls_pk_parse_key(key, pem, len, NULL, 0);
#endif
}

static int
check_pair(const mbedtls_pk_context *pub, const mbedtls_pk_context *prv)
{
#if MBEDTLS_VERSION_MAJOR >= 3
	return mbedtls_pk_check_pair(pub, prv, rpc_tls_random, NULL);
#else
	return mbedtls_pk_check_pair(pub, prv);
#endif
}

static void
mbed_reason(int ret, char *buf, size_t len)
{
	mbedtls_strerror(ret, buf, len);
}

/* Every certificate of chain valid now; else the reason (which one, and
 * since or until when). */
static int
check_dates(const mbedtls_x509_crt *chain, char *err, size_t errlen)
{
	int i = 1, n = 0;
	for (const mbedtls_x509_crt *c = chain; c != NULL && c->version != 0; c = c->next)
		n++;
	for (const mbedtls_x509_crt *c = chain; c != NULL && c->version != 0; c = c->next, i++) {
		const mbedtls_x509_time *t = NULL;
		const char *what           = NULL;
		if (mbedtls_x509_time_is_past(&c->valid_to))
			t = &c->valid_to, what = "expired on";
		else if (mbedtls_x509_time_is_future(&c->valid_from))
			t = &c->valid_from, what = "is not valid before";
		if (t == NULL)
			continue;
		char which[48] = "";
		if (n > 1)
			snprintf(which, sizeof(which), "certificate %d of %d ", i, n);
		snprintf(err, errlen, "%s%s %04d-%02d-%02d %02d:%02d:%02d UTC", which, what, t->year, t->mon, t->day,
		    t->hour, t->min, t->sec);
		return -1;
	}
	return 0;
}

/* Parses the certificate(s) at path into chain (initialised; free it). */
static int
load_certs(const char *path, mbedtls_x509_crt *chain, char *err, size_t errlen)
{
	char *pem;
	size_t len;
	if (rpc_tls_read_pem(path, &pem, &len, err, errlen) != 0)
		return -1;
	int ret = -1;
	if (strstr(pem, "-----BEGIN CERTIFICATE-----") == NULL) {
		snprintf(err, errlen, "holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
	} else {
		int r = mbedtls_x509_crt_parse(chain, (const unsigned char *) pem, len + 1);
		if (r < 0) {
			char why[200];
			mbed_reason(r, why, sizeof(why));
			snprintf(err, errlen, "is not a certificate mbedTLS can read: %s", why);
		} else if (r > 0) {
			snprintf(err, errlen, "holds %d certificate(s) mbedTLS cannot read", r);
		} else {
			ret = check_dates(chain, err, errlen);
		}
	}
	free(pem);
	return ret;
}

static int
load_key(const char *path, mbedtls_pk_context *key, char *err, size_t errlen)
{
	char *pem;
	size_t len;
	if (rpc_tls_read_pem(path, &pem, &len, err, errlen) != 0)
		return -1;
	int ret = -1;
	if (strstr(pem, "-----BEGIN ") == NULL || strstr(pem, "PRIVATE KEY-----") == NULL) {
		snprintf(err, errlen, "holds no PEM private key (-----BEGIN ... PRIVATE KEY-----)");
	} else {
		int r = parse_key(key, (const unsigned char *) pem, len + 1);
		if (r == MBEDTLS_ERR_PK_PASSWORD_REQUIRED) {
			snprintf(err, errlen, "is encrypted: give the key unencrypted, readable by this user only");
		} else if (r != 0) {
			char why[200];
			mbed_reason(r, why, sizeof(why));
			snprintf(err, errlen, "is not a private key mbedTLS can read: %s", why);
		} else {
			ret = 0;
		}
	}
	free(pem);
	return ret;
}

static int
is_ca(const mbedtls_x509_crt *c)
{
#if MBEDTLS_VERSION_MAJOR >= 3
	/* 1, 0, or MBEDTLS_ERR_X509_INVALID_EXTENSIONS (negative) when there is
	 * no basicConstraints at all: only 1 is a CA (Debian 13's 3.6). */
	return mbedtls_x509_crt_get_ca_istrue(c) == 1;
#else
	return c->ca_istrue;
#endif
}

/* A trust file holds CA certificates only: a leaf there verifies nothing
 * (mbedTLS trusts a leaf as itself only when it is self-signed), so every
 * caller would be refused without a word. */
static int
all_cas(const mbedtls_x509_crt *chain, char *err, size_t errlen)
{
	int i = 1, n = 0;
	for (const mbedtls_x509_crt *c = chain; c != NULL && c->version != 0; c = c->next)
		n++;
	for (const mbedtls_x509_crt *c = chain; c != NULL && c->version != 0; c = c->next, i++) {
		if (is_ca(c))
			continue;
		char which[48] = "";
		if (n > 1)
			snprintf(which, sizeof(which), "certificate %d of %d ", i, n);
		snprintf(err, errlen, "%sis not a CA's (no basicConstraints CA:TRUE): give the CA certificates", which);
		return -1;
	}
	return 0;
}

static int
parse_certs(const char *text, void *out, bool cas, char *err, size_t errlen)
{
	if (text[0] != '\0') {
		mbedtls_x509_crt chain;
		mbedtls_x509_crt_init(&chain);
		int r = load_certs(text, &chain, err, errlen);
		if (r == 0 && cas)
			r = all_cas(&chain, err, errlen);
		mbedtls_x509_crt_free(&chain);
		if (r != 0)
			return -1;
	}
	*(const char **) out = text;
	return 0;
}

int
rpc_tls_parse_cert(const char *text, void *out, char *err, size_t errlen)
{
	return parse_certs(text, out, false, err, errlen);
}

int
rpc_tls_parse_ca(const char *text, void *out, char *err, size_t errlen)
{
	return parse_certs(text, out, true, err, errlen);
}

/* Whether the certificate names host as mbedTLS checks a server's name: a
 * dNSName of its subjectAltName, or with none of those, its CN. Exact and
 * case-insensitive (our names have no wildcard). */
static bool
names(const mbedtls_x509_crt *c, const char *host)
{
	size_t len    = strlen(host);
	bool have_dns = false;
	for (const mbedtls_x509_sequence *san = &c->subject_alt_names; san != NULL && san->buf.p != NULL;
	     san                              = san->next) {
		if (san->buf.tag != (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_DNS_NAME))
			continue;
		have_dns = true;
		if (san->buf.len == len && strncasecmp((const char *) san->buf.p, host, len) == 0)
			return true;
	}
	if (have_dns)
		return false;
	for (const mbedtls_x509_name *n = &c->subject; n != NULL; n = n->next)
		if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0 && n->val.len == len &&
		    strncasecmp((const char *) n->val.p, host, len) == 0)
			return true;
	return false;
}

int
rpc_tls_check_own_name(const rpc_tls_files *files, const char *name, char *err, size_t errlen)
{
	if (!rpc_tls_configured(files))
		return 0;
	mbedtls_x509_crt cert;
	mbedtls_x509_crt_init(&cert);
	char why[256];
	int rv = load_certs(files->cert, &cert, why, sizeof(why));
	if (rv != 0)
		snprintf(err, errlen, "%s: '%s' %s", rpc_tls_variable_names[0], files->cert, why);
	else if (!names(&cert, name)) {
		snprintf(err, errlen,
		    "%s: '%s' does not name %s (subjectAltName DNS:%s): every caller checks that name and would refuse "
		    "it",
		    rpc_tls_variable_names[0], files->cert, name, name);
		rv = -1;
	}
	mbedtls_x509_crt_free(&cert);
	return rv;
}

int
rpc_tls_parse_key(const char *text, void *out, char *err, size_t errlen)
{
	if (text[0] != '\0') {
		mbedtls_pk_context key;
		mbedtls_pk_init(&key);
		int r = load_key(text, &key, err, errlen);
		mbedtls_pk_free(&key);
		if (r != 0)
			return -1;
	}
	*(const char **) out = text;
	return 0;
}

size_t
rpc_tls_env_vars(rpc_tls_files *files, rpc_tls_side side, env_var vars[RPC_TLS_N_VARS])
{
	files->caller_ca = "";
	vars[0]          = (env_var){.name = rpc_tls_variable_names[0],
	             .default_value        = "",
	             .kind                 = ENV_CUSTOM,
	             .parse                = rpc_tls_parse_cert,
	             .out                  = &files->cert,
	             .help = side == RPC_TLS_LISTENS ? "PEM certificate of this binary for RPC over tls+tcp:// (its role's CA "
	                                               "signed it); with RPC_TLS_KEY, RPC_TLS_CA and RPC_TLS_CALLER_CA, or none"
	                                             : "PEM certificate of this binary for RPC over tls+tcp:// (its role's CA "
	                                               "signed it); with RPC_TLS_KEY and RPC_TLS_CA, or none"};
	vars[1]          = (env_var){.name = rpc_tls_variable_names[1],
	             .default_value        = "",
	             .kind                 = ENV_CUSTOM,
	             .parse                = rpc_tls_parse_key,
	             .out                  = &files->key,
	             .help                 = "path of RPC_TLS_CERT's private key (PEM, unencrypted): the path is the secret's "
	                                              "file already"};
	vars[2]          = (env_var){.name = rpc_tls_variable_names[2],
	             .default_value        = "",
	             .kind                 = ENV_CUSTOM,
	             .parse                = rpc_tls_parse_ca,
	             .out                  = &files->ca,
	             .help = "PEM certificate(s) of the CAs of the services this binary calls (their certificates "
	                              "must also name the service)"};
	if (side == RPC_TLS_DIALS)
		return 3;
	vars[3] = (env_var){.name = rpc_tls_variable_names[3],
	    .default_value        = "",
	    .kind                 = ENV_CUSTOM,
	    .parse                = rpc_tls_parse_ca,
	    .out                  = &files->caller_ca,
	    .help                 = "PEM certificate(s) of the CAs of the roles allowed to call this service (its "
	                            "registry line's callers); any other caller is refused"};
	return 4;
}

bool
rpc_tls_configured(const rpc_tls_files *files)
{
	return files->cert[0] != '\0';
}

bool
rpc_tls_url(const char *url)
{
	return strncasecmp(url, "tls+tcp://", 10) == 0 || strncasecmp(url, "tls+tcp4://", 11) == 0 ||
	       strncasecmp(url, "tls+tcp6://", 11) == 0;
}

int
rpc_tls_check_urls(const rpc_tls_files *files, const char *variable, const char *urls, char *err, size_t errlen)
{
	bool tls = rpc_tls_configured(files);
	for (const char *p = urls;;) {
		size_t n = strcspn(p, ",");
		if (rpc_tls_url(p) != tls) {
			if (tls)
				snprintf(err, errlen,
				    "%s: '%.*s' is not tls+tcp://: with RPC_TLS_CERT set every RPC connection is "
				    "mutual "
				    "TLS (unset RPC_TLS_* to choose plain TCP)",
				    variable, (int) n, p);
			else
				snprintf(err, errlen,
				    "%s: '%.*s' is tls+tcp:// but RPC_TLS_CERT is not set (TLS needs the RPC_TLS_* "
				    "files)",
				    variable, (int) n, p);
			return -1;
		}
		if (p[n] == '\0')
			return 0;
		p += n + 1;
	}
}

/* The files read as the hop will read them (tls_config.h): a dialer's
 * configuration, and with RPC_TLS_CALLER_CA a listener's. */
static int
transport_accepts(const rpc_tls_files *f, char *err, size_t errlen)
{
	rpc_tls *t = NULL;
	rpc_status st;
	rpc_code code = rpc_tls_dialer_config(&t, f, "check", &st);
	rpc_tls_free(t);
	t = NULL;
	if (code == RPC_OK && f->caller_ca[0] != '\0')
		code = rpc_tls_listener_config(&t, f, &st);
	rpc_tls_free(t);
	if (code != RPC_OK) {
		snprintf(err, errlen, "%s", st.message);
		return -1;
	}
	return 0;
}

int
rpc_tls_files_check(
    const rpc_tls_files *f, rpc_tls_side side, const char *const names[RPC_TLS_N_VARS], char *err, size_t errlen)
{
	const char *paths[RPC_TLS_N_VARS] = {f->cert, f->key, f->ca, f->caller_ca};
	int needed                        = side == RPC_TLS_LISTENS ? 4 : 3;
	int set                           = 0;
	for (int i = 0; i < needed; i++)
		set += paths[i][0] != '\0';
	if (set == 0)
		return 0;
	if (set < needed) {
		char all[160] = "", missing[160] = "";
		for (int i = 0, k = 0; i < needed; i++) {
			size_t used = strlen(all);
			snprintf(all + used, sizeof(all) - used, "%s%s",
			    i == 0            ? ""
			    : i == needed - 1 ? " and "
			                      : ", ",
			    names[i]);
			if (paths[i][0] != '\0')
				continue;
			used = strlen(missing);
			k++;
			snprintf(missing + used, sizeof(missing) - used, "%s%s",
			    k == 1              ? ""
			    : k == needed - set ? " and "
			                        : ", ",
			    names[i]);
		}
		snprintf(err, errlen, "%s go together (TLS needs all %s): %s %s not set", all,
		    needed == 4 ? "four" : "three", missing, needed - set > 1 ? "are" : "is");
		return -1;
	}
	mbedtls_x509_crt cert;
	mbedtls_pk_context key;
	mbedtls_x509_crt_init(&cert);
	mbedtls_pk_init(&key);
	char why[256];
	int rv = 0;
	if (load_certs(f->cert, &cert, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "%s: '%s' %s", names[0], f->cert, why);
		rv = -1;
	} else if (load_key(f->key, &key, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "%s: '%s' %s", names[1], f->key, why);
		rv = -1;
	} else if (check_pair(&cert.pk, &key) != 0) {
		/* The first certificate of the file is the one presented. */
		snprintf(
		    err, errlen, "%s: '%s' is not the private key of %s '%s'", names[1], f->key, names[0], f->cert);
		rv = -1;
	}
	mbedtls_pk_free(&key);
	mbedtls_x509_crt_free(&cert);
	if (rv == 0)
		rv = transport_accepts(f, err, errlen);
	return rv;
}
