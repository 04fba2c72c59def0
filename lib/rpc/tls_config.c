/* tls_config.h: nng TLS configurations from the RPC_TLS_* files, and a
 * process's own throw-away identity (mbedTLS, which nng uses too). */
#include "rpc/tls_config.h"

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>
#include <stdio.h>
#include <stdlib.h>

/* Read again when a configuration is built: it passed its check at start. */
static rpc_code
read_file(const char *variable, const char *path, char **out, rpc_status *st)
{
	size_t len;
	char why[256];
	if (rpc_tls_read_pem(path, out, &len, why, sizeof(why)) != 0)
		return rpc_status_set(st, RPC_FAILED_PRECONDITION, "%s: '%s' %s", variable, path, why);
	return RPC_OK;
}

/* Allocates a configuration of mode presenting the certificate and key. */
static rpc_code
own_identity(nng_tls_config **out, nng_tls_mode mode, const rpc_tls_files *f, rpc_status *st)
{
	char *cert = NULL, *key = NULL;
	rpc_code code = read_file(rpc_tls_variable_names[0], f->cert, &cert, st);
	if (code == RPC_OK)
		code = read_file(rpc_tls_variable_names[1], f->key, &key, st);
	int rv = 0;
	if (code == RPC_OK && (rv = nng_tls_config_alloc(out, mode)) != 0)
		code = rpc_status_set(st, RPC_RESOURCE_EXHAUSTED, "nng_tls_config_alloc: %s", nng_strerror(rv));
	if (code == RPC_OK && (rv = nng_tls_config_own_cert(*out, cert, key, NULL)) != 0) {
		code = rpc_status_set(st, RPC_FAILED_PRECONDITION, "%s '%s' with %s '%s': nng refuses them: %s",
		    rpc_tls_variable_names[0], f->cert, rpc_tls_variable_names[1], f->key, nng_strerror(rv));
		nng_tls_config_free(*out);
	}
	free(cert);
	free(key);
	return code;
}

static rpc_code
trust_file(nng_tls_config *cfg, const char *variable, const char *path, rpc_status *st)
{
	int rv = nng_tls_config_ca_file(cfg, path);
	if (rv != 0)
		return rpc_status_set(
		    st, RPC_FAILED_PRECONDITION, "%s: '%s': nng refuses it: %s", variable, path, nng_strerror(rv));
	return RPC_OK;
}

/* Either side's: its own identity, the CAs it trusts (the file of
 * variable trust, then extra_pem: nng appends each chain to the one before,
 * mbedtls_x509_crt_parse into one list), the server name a dialer checks
 * (NULL for a listener) and the auth mode. */
static rpc_code
build(nng_tls_config **out, nng_tls_mode mode, const rpc_tls_files *files, int trust, const char *extra_pem,
    const char *server_name, nng_tls_auth_mode auth, rpc_status *st)
{
	nng_tls_config *cfg;
	rpc_code code = own_identity(&cfg, mode, files, st);
	if (code != RPC_OK)
		return code;
	const char *trust_path = trust == 2 ? files->ca : files->caller_ca;
	code                   = trust_file(cfg, rpc_tls_variable_names[trust], trust_path, st);
	int rv                 = 0;
	if (code == RPC_OK && ((extra_pem != NULL && (rv = nng_tls_config_ca_chain(cfg, extra_pem, NULL)) != 0) ||
	                          (server_name != NULL && (rv = nng_tls_config_server_name(cfg, server_name)) != 0) ||
	                          (rv = nng_tls_config_auth_mode(cfg, auth)) != 0))
		code = rpc_status_set(st, RPC_INTERNAL, "nng TLS configuration: %s", nng_strerror(rv));
	if (code != RPC_OK) {
		nng_tls_config_free(cfg);
		return code;
	}
	*out = cfg;
	return RPC_OK;
}

rpc_code
rpc_tls_dialer_config(nng_tls_config **out, const rpc_tls_files *files, const char *server_name, rpc_status *st)
{
	return build(out, NNG_TLS_MODE_CLIENT, files, 2, NULL, server_name, NNG_TLS_AUTH_MODE_REQUIRED, st);
}

rpc_code
rpc_tls_listener_config(nng_tls_config **out, const rpc_tls_files *files, const char *extra_trusted_pem, rpc_status *st)
{
	return build(out, NNG_TLS_MODE_SERVER, files, 3, extra_trusted_pem, NULL, NNG_TLS_AUTH_MODE_OPTIONAL, st);
}

/* mbedTLS 3.4 deprecates the MPI form (Debian 13 has 3.6). */
static int
set_serial(mbedtls_x509write_cert *crt, const mbedtls_mpi *mpi, unsigned char *raw, size_t len)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03040000
	(void) mpi;
	return mbedtls_x509write_crt_set_serial_raw(crt, raw, len);
#else
	(void) raw;
	(void) len;
	return mbedtls_x509write_crt_set_serial(crt, mpi);
#endif
}

rpc_code
rpc_tls_self_make(rpc_tls_self *self, rpc_status *st)
{
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_pk_context key;
	mbedtls_x509write_cert crt;
	mbedtls_mpi serial;
	unsigned char serial_raw[16];
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	mbedtls_pk_init(&key);
	mbedtls_x509write_crt_init(&crt);
	mbedtls_mpi_init(&serial);

	static const unsigned char personal[] = "rpc-self";
	const char *stage                     = "mbedtls_ctr_drbg_seed";
	int ret = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, personal, sizeof(personal) - 1);
	if (ret == 0) {
		stage = "mbedtls_pk_setup";
		ret   = mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
	}
	if (ret == 0) {
		stage = "mbedtls_ecp_gen_key";
		ret = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key), mbedtls_ctr_drbg_random, &drbg);
	}
	if (ret == 0) {
		stage = "mbedtls_ctr_drbg_random";
		ret   = mbedtls_ctr_drbg_random(&drbg, serial_raw, sizeof(serial_raw));
		serial_raw[0] &= 0x7f; /* a positive INTEGER (RFC 5280 4.1.2.2) */
		if (ret == 0)
			ret = mbedtls_mpi_read_binary(&serial, serial_raw, sizeof(serial_raw));
	}
	if (ret == 0) {
		mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
		mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
		mbedtls_x509write_crt_set_subject_key(&crt, &key);
		mbedtls_x509write_crt_set_issuer_key(&crt, &key);
		stage = "mbedtls_x509write_crt";
		/* Self-issued, so that mbedTLS trusts it as it is when it is in
		 * the trusted list (a "locally trusted" end entity). */
		if ((ret = mbedtls_x509write_crt_set_subject_name(&crt, "CN=rpc-self")) == 0 &&
		    (ret = mbedtls_x509write_crt_set_issuer_name(&crt, "CN=rpc-self")) == 0 &&
		    (ret = set_serial(&crt, &serial, serial_raw, sizeof(serial_raw))) == 0 &&
		    (ret = mbedtls_x509write_crt_set_validity(&crt, "20000101000000", "20991231235959")) == 0 &&
		    (ret = mbedtls_x509write_crt_set_basic_constraints(&crt, 0, -1)) == 0)
			ret = mbedtls_x509write_crt_pem(&crt, (unsigned char *) self->cert_pem, sizeof(self->cert_pem),
			    mbedtls_ctr_drbg_random, &drbg);
	}
	if (ret == 0) {
		stage = "mbedtls_pk_write_key_pem";
		ret   = mbedtls_pk_write_key_pem(&key, (unsigned char *) self->key_pem, sizeof(self->key_pem));
	}
	mbedtls_mpi_free(&serial);
	mbedtls_x509write_crt_free(&crt);
	mbedtls_pk_free(&key);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&entropy);
	if (ret != 0)
		return rpc_status_set(st, RPC_INTERNAL, "%s failed: -0x%04x", stage, (unsigned) -ret);
	return RPC_OK;
}

rpc_code
rpc_tls_self_dialer_config(nng_tls_config **out, const rpc_tls_self *self, rpc_status *st)
{
	int rv;
	if ((rv = nng_tls_config_alloc(out, NNG_TLS_MODE_CLIENT)) != 0)
		return rpc_status_set(st, RPC_RESOURCE_EXHAUSTED, "nng_tls_config_alloc: %s", nng_strerror(rv));
	if ((rv = nng_tls_config_own_cert(*out, self->cert_pem, self->key_pem, NULL)) != 0 ||
	    (rv = nng_tls_config_auth_mode(*out, NNG_TLS_AUTH_MODE_NONE)) != 0) {
		nng_tls_config_free(*out);
		return rpc_status_set(st, RPC_INTERNAL, "nng TLS self configuration: %s", nng_strerror(rv));
	}
	return RPC_OK;
}
