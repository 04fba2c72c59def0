/* RPC micro-benchmark: round trips per second and p50/p99 latency through
 * the RPC runtime (envelope, dispatch, protobuf) at 1, 8 and 32 concurrent
 * callers, each caller over a connection of its own as the gateway's
 * clients keep them (dialed and warmed up before the clock starts), next
 * to a bare nng req/rep echo with the same threads measured in the same run
 * (the hop before issue 22's rebuild; over one connection and over four),
 * so the runtime reads as a ratio to it. Given a development PKI
 * (scripts/lib/dev_pki.sh's folder), the runtime is also measured over
 * mutual TLS (tls+tcp://, user-svc's identity serving the gateway's), in the
 * same run.
 * Below them, what one hop costs here without nng's SP protocol: the same
 * echo over nng's byte streams (bench/stream_echo.h) and over plain
 * blocking sockets, the floor (bench/tcp_floor.h), each with a connection
 * per caller; given the PKI, both also over mutual TLS with the same
 * identities: nng's TLS on its streams, and mbedTLS used directly on the
 * blocking sockets (bench/tls_floor.h). Their connections and handshakes
 * are made before a case's clock starts.
 * Given the PKI, last, what a new connection over mutual TLS costs (dial,
 * handshake, close, one caller): with a full handshake (a connector of its
 * own each time), and resumed from the server's session ticket (one
 * connector, as a client's replica keeps it).
 * Every row also says the CPU both ends spent per round trip (client and
 * server are this one process).
 * Usage: rpc-bench [seconds-per-case] [json-output-file] [pki-dir] */
#include <arpa/inet.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/env.h"
#include "rpc/client.h"
#include "rpc/tls_config.h"
#include "rpc/tls_files.h"
#include "rpc/transport.h"
#include "stream_echo.h"
#include "tcp_floor.h"
#include "test_service.h"
#include "tls_floor.h"
#include <nng/supplemental/tls/tls.h>

#define SERVER_WORKERS 4
#define MAX_SAMPLES (1 << 20)

typedef struct bench_result {
	const char *kind;
	int connections;
	int callers;
	double rps;
	double p50_us, p99_us;
	double cpu_us; /* the process's CPU per round trip: both ends */
	long errors;
} bench_result;

/* nng's TLS configuration of one side, for the nng_stream rows: its own
 * certificate, the CA it trusts, the server name a client checks; both
 * sides require the other's certificate. NULL when nng refuses a file. */
static nng_tls_config *
nng_tls(nng_tls_mode mode, const rpc_tls_files *f, const char *ca, const char *server_name)
{
	nng_tls_config *cfg;
	char *cert = NULL, *key = NULL, why[256];
	size_t len;
	if (rpc_tls_read_pem(f->cert, &cert, &len, why, sizeof(why)) != 0 ||
	    rpc_tls_read_pem(f->key, &key, &len, why, sizeof(why)) != 0 || nng_tls_config_alloc(&cfg, mode) != 0) {
		free(cert);
		free(key);
		return NULL;
	}
	int rv = nng_tls_config_own_cert(cfg, cert, key, NULL);
	free(cert);
	free(key);
	if (rv != 0 || nng_tls_config_ca_file(cfg, ca) != 0 ||
	    (server_name != NULL && nng_tls_config_server_name(cfg, server_name) != 0) ||
	    nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED) != 0) {
		nng_tls_config_free(cfg);
		return NULL;
	}
	return cfg;
}

/* ---- bare nng: REP workers echo the bytes back ---- */

typedef struct bare_server {
	nng_socket sock;
	pthread_t threads[SERVER_WORKERS];
} bare_server;

static void *
bare_worker(void *arg)
{
	bare_server *s = arg;
	nng_ctx ctx;
	nng_aio *aio;
	nng_ctx_open(&ctx, s->sock);
	nng_aio_alloc(&aio, NULL, NULL);
	for (;;) {
		nng_ctx_recv(ctx, aio);
		nng_aio_wait(aio);
		if (nng_aio_result(aio) != 0)
			break;
		/* the received message goes straight back */
		nng_ctx_send(ctx, aio);
		nng_aio_wait(aio);
		if (nng_aio_result(aio) != 0)
			nng_msg_free(nng_aio_get_msg(aio));
	}
	nng_aio_free(aio);
	return NULL;
}

/* ---- the load: N caller threads for a fixed time ---- */

typedef struct load {
	const char *url;
	enum { LOAD_RUNTIME, LOAD_BARE_NNG, LOAD_STREAM, LOAD_FLOOR, LOAD_TLS_FLOOR, LOAD_DIAL } kind;
	rpc_tls *dial_tls;     /* LOAD_DIAL's */
	rpc_connector *dialer; /* LOAD_DIAL's shared connector; NULL: one per dial */
	const char *dial_url;
	rpc_client *client;
	int floor_port;              /* LOAD_FLOOR's or LOAD_TLS_FLOOR's */
	tls_floor_client *tls_floor; /* LOAD_TLS_FLOOR's callers' configuration */
	char stream_url[64];
	nng_tls_config *stream_tls; /* LOAD_STREAM's over tls+tcp://, else NULL */
	nng_socket req;
	pthread_barrier_t ready; /* the callers connected, then: go */
	int64_t stop_at_ms;
	_Atomic long next_sample;
	_Atomic long errors;
	uint32_t *samples_us;
} load;

static void
record(load *l, int64_t start_ns, int64_t end_ns)
{
	long i = atomic_fetch_add(&l->next_sample, 1);
	if (i < MAX_SAMPLES)
		l->samples_us[i] = (uint32_t) ((end_ns - start_ns) / 1000);
}

static int64_t
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *
caller_main(void *arg)
{
	load *l = arg;
	nng_ctx ctx;
	nng_aio *aio           = NULL;
	int fd                 = -1;
	stream_echo_conn *conn = NULL;
	tls_floor_conn *tls    = NULL;
	int failed             = (l->kind == LOAD_FLOOR && (fd = tcp_floor_connect(l->floor_port)) < 0) ||
	             (l->kind == LOAD_STREAM && (conn = stream_echo_connect(l->stream_url, l->stream_tls)) == NULL) ||
	             (l->kind == LOAD_TLS_FLOOR && (tls = tls_floor_connect(l->tls_floor, l->floor_port)) == NULL);
	/* run_case starts the clock between the two */
	pthread_barrier_wait(&l->ready);
	pthread_barrier_wait(&l->ready);
	if (failed) {
		atomic_fetch_add(&l->errors, 1);
		return NULL;
	}
	if (l->kind == LOAD_BARE_NNG) {
		nng_ctx_open(&ctx, l->req);
		nng_aio_alloc(&aio, NULL, NULL);
		nng_aio_set_timeout(aio, 2000);
	}
	Rpctest__EchoRequest in = RPCTEST__ECHO_REQUEST__INIT;
	in.text                 = "benchmark payload of a typical small request";
	in.number               = 123456789;
	uint8_t bytes[128];
	size_t len = rpctest__echo_request__pack(&in, bytes);

	while (rpc_clock_ms() < l->stop_at_ms) {
		int64_t t0 = now_ns();
		int ok;
		uint8_t echo[sizeof(bytes)];
		if (l->kind == LOAD_DIAL) {
			rpc_connector *d = l->dialer;
			rpc_conn *c      = NULL;
			ok               = d != NULL || rpc_connector_open(&d, l->dial_url, l->dial_tls) == 0;
			ok =
			    ok && rpc_connector_dial(d, rpc_clock_ms() + 2000, rpc_clock_ms() + 2000, &c, NULL, 0) == 0;
			rpc_conn_close(c);
			if (d != l->dialer)
				rpc_connector_free(d);
		} else if (l->kind == LOAD_FLOOR) {
			ok = tcp_floor_call(fd, bytes, len, echo) == 0;
		} else if (l->kind == LOAD_TLS_FLOOR) {
			ok = tls_floor_call(tls, bytes, len, echo) == 0;
		} else if (l->kind == LOAD_STREAM) {
			ok = stream_echo_call(conn, bytes, len, echo) == 0;
		} else if (l->kind == LOAD_BARE_NNG) {
			nng_msg *m;
			nng_msg_alloc(&m, 0);
			nng_msg_append(m, bytes, len);
			nng_aio_set_msg(aio, m);
			nng_ctx_send(ctx, aio);
			nng_aio_wait(aio);
			ok = nng_aio_result(aio) == 0;
			if (!ok) {
				nng_msg_free(m);
			} else {
				nng_ctx_recv(ctx, aio);
				nng_aio_wait(aio);
				ok = nng_aio_result(aio) == 0;
				if (ok)
					nng_msg_free(nng_aio_get_msg(aio));
			}
		} else {
			ProtobufCMessage *out;
			rpc_call_options opt = {.request_id = "bench", .timeout_ms = 2000};
			ok = rpc_client_call(l->client, &rpctest__test_service__descriptor, "Echo", &in.base, &out,
			         &opt, NULL) == RPC_OK;
			if (ok)
				protobuf_c_message_free_unpacked(out, NULL);
		}
		if (ok)
			record(l, t0, now_ns());
		else
			atomic_fetch_add(&l->errors, 1);
	}
	if (l->kind == LOAD_BARE_NNG) {
		nng_aio_free(aio);
		nng_ctx_close(ctx);
	}
	if (fd >= 0)
		close(fd);
	stream_echo_close(conn);
	tls_floor_close(tls);
	return NULL;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
	return (x > y) - (x < y);
}

static double
process_cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static bench_result
run_case(const char *kind, int connections, load *l, int callers, int seconds)
{
	pthread_t threads[64];
	atomic_store(&l->next_sample, 0);
	atomic_store(&l->errors, 0);
	pthread_barrier_init(&l->ready, NULL, (unsigned) callers + 1);
	for (int i = 0; i < callers; i++)
		pthread_create(&threads[i], NULL, caller_main, l);
	pthread_barrier_wait(&l->ready); /* every caller connected (or failed to) */
	double cpu_start = process_cpu_s();
	int64_t start    = rpc_clock_ms();
	l->stop_at_ms    = start + seconds * 1000;
	pthread_barrier_wait(&l->ready);
	for (int i = 0; i < callers; i++)
		pthread_join(threads[i], NULL);
	double elapsed = (double) (rpc_clock_ms() - start) / 1000.0;
	double cpu_s   = process_cpu_s() - cpu_start;
	pthread_barrier_destroy(&l->ready);
	long n = atomic_load(&l->next_sample);
	if (n > MAX_SAMPLES)
		n = MAX_SAMPLES;
	qsort(l->samples_us, (size_t) n, sizeof(uint32_t), cmp_u32);
	bench_result r = {
	    .kind = kind, .connections = connections, .callers = callers, .errors = atomic_load(&l->errors)};
	r.rps    = (double) atomic_load(&l->next_sample) / elapsed;
	r.p50_us = n > 0 ? l->samples_us[n / 2] : 0;
	r.p99_us = n > 0 ? l->samples_us[(long) ((double) n * 0.99)] : 0;
	r.cpu_us = n > 0 ? 1e6 * cpu_s / (double) atomic_load(&l->next_sample) : 0;
	return r;
}

int
main(int argc, char **argv)
{
	int seconds      = argc > 1 ? atoi(argv[1]) : 2;
	const char *json = argc > 2 && argv[2][0] != '\0' ? argv[2] : NULL;
	const char *pki  = argc > 3 ? argv[3] : NULL;
	if (seconds < 1)
		seconds = 1;
	static const int concurrency[] = {1, 8, 32};
	/* Bare nng req/rep (the hop before issue 22's rebuild) over one
	 * connection and over four; the runtime's ratio is to the better. */
	const int bare_connections[] = {1, 4};
	/* below: [0] nng_stream, [1] the floor, and with the PKI [2] nng_stream
	 * over TLS, [3] the floor over mbedTLS */
	bench_result results[12], below[4][3];
	int n_results = 0;
	int group     = pki != NULL ? 4 : 3; /* results per concurrency */
	int n_below   = pki != NULL ? 4 : 2;

	/* Bare nng on its own port. */
	bare_server bare;
	nng_listener listener;
	nng_sockaddr sa;
	nng_rep0_open(&bare.sock);
	if (nng_listen(bare.sock, "tcp://127.0.0.1:0", &listener, 0) != 0 ||
	    nng_listener_get_addr(listener, NNG_OPT_LOCADDR, &sa) != 0) {
		fprintf(stderr, "rpc-bench: cannot listen\n");
		return 1;
	}
	char bare_url[64];
	snprintf(bare_url, sizeof(bare_url), "tcp://127.0.0.1:%u", (unsigned) ntohs(sa.s_in.sa_port));
	for (int i = 0; i < SERVER_WORKERS; i++)
		pthread_create(&bare.threads[i], NULL, bare_worker, &bare);

	/* The RPC runtime serving the test service. */
	rpc_server *srv;
	rpc_status st;
	if (test_service_open(&srv, "tcp://127.0.0.1:0", SERVER_WORKERS, &st) != RPC_OK) {
		fprintf(stderr, "rpc-bench: %s\n", st.message);
		return 1;
	}

	/* And over TLS: user-svc's identity serving, the gateway's calling. */
	char paths[6][512];
	rpc_tls_files server_tls = {"", "", "", ""}, client_tls = {"", "", "", ""};
	rpc_server *tls_srv = NULL;
	if (pki != NULL) {
		static const char *const names[6] = {"user-svc.pem", "user-svc.key", "services-ca.pem",
		    "callers/user-svc.pem", "gateway.pem", "gateway.key"};
		for (int i = 0; i < 6; i++)
			snprintf(paths[i], sizeof(paths[i]), "%s/%s", pki, names[i]);
		server_tls = (rpc_tls_files){paths[0], paths[1], paths[2], paths[3]};
		client_tls = (rpc_tls_files){paths[4], paths[5], paths[2], ""};
		if (test_service_open_tls(&tls_srv, "tls+tcp://127.0.0.1:0", SERVER_WORKERS, &server_tls, &st) !=
		    RPC_OK) {
			fprintf(stderr, "rpc-bench: TLS: %s\n", st.message);
			return 1;
		}
	}

	int floor_port;
	tcp_floor_server *floor_srv = tcp_floor_start(&floor_port);
	char stream_url[64];
	stream_echo_server *stream_srv = stream_echo_start(stream_url, sizeof(stream_url), NULL);
	if (floor_srv == NULL || stream_srv == NULL) {
		fprintf(stderr, "rpc-bench: cannot listen for the echo below nng's protocols\n");
		return 1;
	}
	/* And those over mutual TLS, with the same identities as the runtime's:
	 * each side requires the other's certificate, the caller checks the
	 * name user-svc. */
	nng_tls_config *stream_tls_server = NULL, *stream_tls_client = NULL;
	stream_echo_server *stream_tls_srv = NULL;
	char stream_tls_url[64];
	int tls_floor_port;
	tls_floor_server *tls_floor_srv = NULL;
	tls_floor_client *tls_floor_cl  = NULL;
	char suite[128]                 = "";
	if (pki != NULL) {
		if ((stream_tls_server = nng_tls(NNG_TLS_MODE_SERVER, &server_tls, server_tls.caller_ca, NULL)) ==
		        NULL ||
		    (stream_tls_client = nng_tls(NNG_TLS_MODE_CLIENT, &client_tls, client_tls.ca, "user-svc")) ==
		        NULL) {
			fprintf(stderr, "rpc-bench: nng refuses the PKI's files for its TLS\n");
			return 1;
		}
		stream_tls_srv = stream_echo_start(stream_tls_url, sizeof(stream_tls_url), stream_tls_server);
		tls_floor_srv  = tls_floor_start(&(tls_floor_files){paths[0], paths[1], paths[3]}, &tls_floor_port);
		tls_floor_cl   = tls_floor_client_new(&(tls_floor_files){paths[4], paths[5], paths[2]}, "user-svc");
		tls_floor_conn *probe =
		    tls_floor_srv && tls_floor_cl ? tls_floor_connect(tls_floor_cl, tls_floor_port) : NULL;
		stream_echo_conn *stream_probe =
		    stream_tls_srv != NULL ? stream_echo_connect(stream_tls_url, stream_tls_client) : NULL;
		if (probe == NULL || stream_probe == NULL) {
			fprintf(stderr, "rpc-bench: cannot serve or reach the echo over TLS (%s)\n",
			    probe == NULL ? "mbedTLS" : "nng_stream");
			return 1;
		}
		snprintf(suite, sizeof(suite), "%s", tls_floor_ciphersuite(probe));
		tls_floor_close(probe);
		stream_echo_close(stream_probe);
	}

	load l       = {0};
	l.samples_us = malloc(sizeof(uint32_t) * MAX_SAMPLES);
	for (int k = 0; k < 3; k++) {
		l.kind = LOAD_BARE_NNG;
		for (int b = 0; b < 2; b++) {
			nng_req0_open(&l.req);
			nng_socket_set_ms(l.req, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
			for (int i = 0; i < bare_connections[b]; i++)
				nng_dial(l.req, bare_url, NULL, 0);
			results[n_results++] =
			    run_case("bare nng req/rep", bare_connections[b], &l, concurrency[k], seconds);
			nng_close(l.req);
		}
		l.kind = LOAD_RUNTIME;
		rpc_client_open(&l.client, rpc_server_url(srv), NULL, &st);
		run_case("warm-up", concurrency[k], &l, concurrency[k], 1); /* its connections dialed */
		results[n_results++] = run_case("rpc runtime (Echo)", concurrency[k], &l, concurrency[k], seconds);
		rpc_client_close(l.client);
		if (tls_srv == NULL)
			continue;
		rpc_client_options o = {.tls = &client_tls, .server_name = "user-svc"};
		if (rpc_client_open(&l.client, rpc_server_url(tls_srv), &o, &st) != RPC_OK) {
			fprintf(stderr, "rpc-bench: TLS client: %s\n", st.message);
			return 1;
		}
		run_case("warm-up", concurrency[k], &l, concurrency[k], 1); /* its connections and handshakes */
		results[n_results++] =
		    run_case("rpc runtime over mutual TLS (Echo)", concurrency[k], &l, concurrency[k], seconds);
		rpc_client_close(l.client);
	}
	snprintf(l.stream_url, sizeof(l.stream_url), "%s", stream_url);
	for (int k = 0; k < 3; k++) {
		l.kind       = LOAD_STREAM;
		below[0][k]  = run_case("nng_stream echo", concurrency[k], &l, concurrency[k], seconds);
		l.kind       = LOAD_FLOOR;
		l.floor_port = floor_port;
		below[1][k]  = run_case("blocking TCP floor", concurrency[k], &l, concurrency[k], seconds);
		if (pki == NULL)
			continue;
		l.kind       = LOAD_STREAM;
		l.stream_tls = stream_tls_client;
		snprintf(l.stream_url, sizeof(l.stream_url), "%s", stream_tls_url);
		below[2][k]  = run_case("nng_stream echo over mutual TLS", concurrency[k], &l, concurrency[k], seconds);
		l.kind       = LOAD_TLS_FLOOR;
		l.floor_port = tls_floor_port;
		l.tls_floor  = tls_floor_cl;
		below[3][k] =
		    run_case("blocking mbedTLS floor (mutual TLS)", concurrency[k], &l, concurrency[k], seconds);
		l.stream_tls = NULL;
		snprintf(l.stream_url, sizeof(l.stream_url), "%s", stream_url);
	}
	stream_echo_stop(stream_srv);
	tcp_floor_stop(floor_srv);
	stream_echo_stop(stream_tls_srv);
	tls_floor_stop(tls_floor_srv);
	tls_floor_client_free(tls_floor_cl);
	if (pki != NULL) { /* nng_tls_config_free takes no NULL */
		nng_tls_config_free(stream_tls_server);
		nng_tls_config_free(stream_tls_client);
	}

	printf("The runtime: a connection per concurrent caller (warmed up before its clock starts); bare nng %s "
	       "req/rep for comparison:\n\n",
	    nng_version());
	printf("| path | connections | callers | round trips/s | p50 µs | p99 µs | CPU µs per round trip | errors | "
	       "/ bare nng's best |\n");
	printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (int i = 0; i < n_results; i++) {
		bench_result *r = &results[i];
		/* The better bare row of this concurrency. */
		double bare_rps = results[i - i % group].rps;
		if (results[i - i % group + 1].rps > bare_rps)
			bare_rps = results[i - i % group + 1].rps;
		printf("| %s | %d | %d | %.0f | %.0f | %.0f | %.0f | %ld |", r->kind, r->connections, r->callers,
		    r->rps, r->p50_us, r->p99_us, r->cpu_us, r->errors);
		if (i % group >= 2)
			printf(" %.0f%% |\n", 100.0 * r->rps / bare_rps);
		else
			printf(" |\n");
	}
	/* Below nng's protocols: how far bare nng req/rep (its best connection
	 * count) is from each, at the same callers. */
	printf("\nOne hop without nng's SP protocol: a connection per caller, the caller's thread waiting on it "
	       "(nng_stream: on its aio; the floor: in read(2))%s%s%s:\n\n",
	    pki != NULL ? "; over mutual TLS 1.2, mbedTLS negotiated " : "", suite,
	    pki != NULL ? " with its defaults" : "");
	printf("| path | callers | round trips/s | p50 µs | p99 µs | CPU µs per round trip | errors | bare nng's best "
	       "/ this |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
	for (int k = 0; k < 3; k++)
		for (int b = 0; b < n_below; b++) {
			const bench_result *r = &below[b][k];
			double best = results[k * group].rps > results[k * group + 1].rps ? results[k * group].rps
			                                                                  : results[k * group + 1].rps;
			printf("| %s | %d | %.0f | %.0f | %.0f | %.0f | %ld | %.0f%% |\n", r->kind, r->callers, r->rps,
			    r->p50_us, r->p99_us, r->cpu_us, r->errors, r->rps > 0 ? 100.0 * best / r->rps : 0.0);
		}
	/* New connections over mutual TLS, one caller: full and resumed. */
	bench_result setup[2];
	int n_setup = 0;
	if (tls_srv != NULL) {
		rpc_tls *dial_tls;
		if (rpc_tls_dialer_config(&dial_tls, &client_tls, "user-svc", &st) != RPC_OK) {
			fprintf(stderr, "rpc-bench: TLS dialer: %s\n", st.message);
			return 1;
		}
		l.kind           = LOAD_DIAL;
		l.dial_tls       = dial_tls;
		l.dial_url       = rpc_server_url(tls_srv);
		l.dialer         = NULL;
		setup[n_setup++] = run_case("new connection, full handshake", 1, &l, 1, seconds);
		rpc_connector_open(&l.dialer, l.dial_url, dial_tls);
		setup[n_setup++] = run_case("new connection, session resumed", 1, &l, 1, seconds);
		rpc_connector_free(l.dialer);
		rpc_tls_free(dial_tls);
		printf("\nA new connection over mutual TLS (dial, handshake, close; one caller; the server's "
		       "thread for it included):\n\n| path | connections/s | p50 µs | p99 µs | CPU µs per connection | "
		       "errors |\n|---|---:|---:|---:|---:|---:|\n");
		for (int i = 0; i < n_setup; i++)
			printf("| %s | %.0f | %.0f | %.0f | %.0f | %ld |\n", setup[i].kind, setup[i].rps,
			    setup[i].p50_us, setup[i].p99_us, setup[i].cpu_us, setup[i].errors);
	}
	if (json != NULL) {
		FILE *f = fopen(json, "w");
		if (f != NULL) {
			fprintf(f,
			    "{\"seconds_per_case\": %d, \"server_workers\": %d, \"nng\": \"%s\", "
			    "\"results\": [",
			    seconds, SERVER_WORKERS, nng_version());
			for (int i = 0; i < n_results + 3 * n_below + n_setup; i++) {
				const bench_result *r =
				    i < n_results ? &results[i]
				    : i < n_results + 3 * n_below
				        ? &below[(i - n_results) % n_below][(i - n_results) / n_below]
				        : &setup[i - n_results - 3 * n_below];
				fprintf(f,
				    "%s\n  {\"path\": \"%s\", \"connections\": %d, \"callers\": %d, \"rps\": %.1f, "
				    "\"p50_us\": %.0f, \"p99_us\": %.0f, \"cpu_us\": %.1f, \"errors\": %ld}",
				    i ? "," : "", r->kind, r->connections, r->callers, r->rps, r->p50_us, r->p99_us,
				    r->cpu_us, r->errors);
			}
			fprintf(f, "\n]}\n");
			fclose(f);
		}
	}
	rpc_server_close(srv);
	rpc_server_close(tls_srv);
	nng_close(bare.sock);
	for (int i = 0; i < SERVER_WORKERS; i++)
		pthread_join(bare.threads[i], NULL);
	free(l.samples_us);
	return 0;
}
