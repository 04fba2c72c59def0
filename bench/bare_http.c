/* The ceiling for the gateway: a bare CivetWeb handler answering a constant
 * JSON body, with the gateway's threading, for comparison in one run.
 * Usage: bare-http PORT [THREADS] — stops on SIGINT/SIGTERM. */
#include <civetweb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char body[] = "{\"id\":1,\"name\":\"Ada Lovelace\",\"email\":\"ada@example.com\","
                           "\"createdAt\":\"2026-11-25T10:15:00.123Z\"}";

static int
constant(struct mg_connection *conn, void *data)
{
	(void) data;
	char length[16];
	snprintf(length, sizeof(length), "%zu", sizeof(body) - 1);
	mg_response_header_start(conn, 200);
	mg_response_header_add(conn, "Content-Type", "application/json", -1);
	mg_response_header_add(conn, "Content-Length", length, -1);
	mg_response_header_send(conn);
	mg_write(conn, body, sizeof(body) - 1);
	return 200;
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bare-http PORT [THREADS]\n");
		return 2;
	}
	char ports[32];
	snprintf(ports, sizeof(ports), "127.0.0.1:%s", argv[1]);
	const char *threads = argc > 2 ? argv[2] : "32";
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	const char *options[] = {
	    "listening_ports", ports, "num_threads", threads, "enable_keep_alive", "yes", "tcp_nodelay", "1", NULL};
	mg_init_library(0);
	struct mg_callbacks callbacks = {0};
	struct mg_context *ctx        = mg_start(&callbacks, NULL, options);
	if (ctx == NULL) {
		fprintf(stderr, "bare-http: cannot listen on %s\n", ports);
		return 1;
	}
	mg_set_request_handler(ctx, "/", constant, NULL);
	int sig;
	sigwait(&stop, &sig);
	mg_stop(ctx);
	mg_exit_library();
	return 0;
}
