/* test_tls.h: the tests' side of mutual TLS. */
#include "test_tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "procs.h"
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

int
test_tls_dial(nng_socket s, const char *url, const char *server_name, int flags)
{
	if (strncmp(url, "tls+", 4) != 0)
		return nng_dial(s, url, NULL, flags);
	const rpc_tls_files *files = test_tls_operator();
	if (files == NULL) {
		fprintf(stderr, "test_tls: %s without RPC_TLS_DIR\n", url);
		return NNG_EINVAL;
	}
	nng_dialer d;
	int rv = nng_dialer_create(&d, s, url);
	if (rv != 0)
		return rv;
	nng_tls_config *cfg;
	rpc_status st;
	if (rpc_tls_dialer_config(&cfg, files, server_name, &st) != RPC_OK) {
		fprintf(stderr, "test_tls: %s\n", st.message);
		nng_dialer_close(d);
		return NNG_EINVAL;
	}
	rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg);
	nng_tls_config_free(cfg);
	if (rv == 0)
		rv = nng_dialer_start(d, flags);
	if (rv != 0)
		nng_dialer_close(d);
	return rv;
}
