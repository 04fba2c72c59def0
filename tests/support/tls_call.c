/* tls-call: one Health call over tls+tcp:// with whatever identity it is
 * given, as a caller the system must refuse would make it: nng's own TLS
 * client with no checks of ours on the files (an expired certificate is
 * presented as it is), or with no certificate at all ("-").
 *
 *   tls-call CERT|- KEY|- CA SERVER_NAME URL CONTRACT
 *
 * Exit: 0 answered; 3 not answered within 3 s (refused, closed, no
 * connection); 2 bad arguments or nng refusing the files. A process of its
 * own, because a connection the server closes under a pending request can
 * leave nng 1.5.2's close stuck (nng#1636, lib/rpc/client.c). */
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file_read.h"
#include "rpc/envelope.h"

static char *
slurp(const char *path)
{
	char *text = NULL;
	size_t len;
	int err_no;
	if (file_read_regular(path, 1 << 20, &text, &len, &err_no) != FILE_READ_OK) {
		fprintf(stderr, "tls-call: cannot read %s\n", path);
		exit(2);
	}
	return text;
}

int
main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: tls-call CERT|- KEY|- CA SERVER_NAME URL CONTRACT\n");
		return 2;
	}
	nng_tls_config *cfg;
	if (nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT) != 0 || nng_tls_config_ca_file(cfg, argv[3]) != 0 ||
	    nng_tls_config_server_name(cfg, argv[4]) != 0 ||
	    nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED) != 0) {
		fprintf(stderr, "tls-call: nng refuses the CA file\n");
		return 2;
	}
	if (strcmp(argv[1], "-") != 0) {
		char *cert = slurp(argv[1]), *key = slurp(argv[2]);
		int rv = nng_tls_config_own_cert(cfg, cert, key, NULL);
		free(cert);
		free(key);
		if (rv != 0) {
			fprintf(stderr, "tls-call: nng refuses the certificate: %s\n", nng_strerror(rv));
			return 2;
		}
	}
	nng_socket s;
	nng_dialer d;
	if (nng_req0_open(&s) != 0 || nng_dialer_create(&d, s, argv[5]) != 0 ||
	    nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg) != 0 || nng_dialer_start(d, NNG_FLAG_NONBLOCK) != 0) {
		fprintf(stderr, "tls-call: cannot dial %s\n", argv[5]);
		return 2;
	}
	char method[128];
	snprintf(method, sizeof(method), "%s/Health", argv[6]);
	rpc_request_header h = {.method = method, .timeout_ms = 3000};
	nng_msg *req;
	if (rpc_envelope_pack_request(&req, &h, NULL, 0) != 0)
		return 2;
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 3000);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 3000);
	int rv = nng_sendmsg(s, req, 0);
	if (rv != 0)
		nng_msg_free(req);
	nng_msg *reply = NULL;
	if (rv == 0)
		rv = nng_recvmsg(s, &reply, 0);
	if (rv == 0) {
		printf("answered\n");
		nng_msg_free(reply);
	} else {
		printf("not answered: %s\n", nng_strerror(rv));
	}
	/* No close: the process's exit ends the connection (see above). */
	return rv == 0 ? 0 : 3;
}
