/* Restarts under load: 32 callers, each over its own connection, call the
 * test service (tests/support) through the RPC runtime while the server, a
 * child process, is stopped (SIGTERM, or SIGKILL with KILL=1) and started
 * again CYCLES times, every 300-600 ms. A call that meets a restart must
 * succeed or fail at once (UNAVAILABLE); one that takes SLOW_MS or more,
 * whatever it answers, waited for something that never came (the fault
 * nng 1.5.2's req/rep showed over several connections, which the hop no
 * longer uses). Prints the counts and the slowest call; exit 1 on any slow
 * call, or any answer but OK and UNAVAILABLE.
 * Usage: restart-stress [CYCLES [KILL]]   (defaults 50 0) */
#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "procs.h"
#include "rpc/client.h"
#include "test_service.h"

static char url[64];
/* A call this slow waited for something that never came (a restart takes
 * well under it, and a call without a connection gives up after 300 ms). */
#define SLOW_MS 1000
static atomic_long ok, unavailable, deadline, other, slow, slowest_ms;
static atomic_bool stop;
static rpc_client *client;

static void *
caller(void *arg)
{
	(void) arg;
	Rpctest__EchoRequest in = RPCTEST__ECHO_REQUEST__INIT;
	in.text                 = "x";
	while (!atomic_load(&stop)) {
		ProtobufCMessage *out;
		rpc_status st;
		rpc_call_options opt = {.request_id = "stress", .timeout_ms = 1500};
		int64_t t0           = rpc_clock_ms();
		rpc_code c =
		    rpc_client_call(client, &rpctest__test_service__descriptor, "Echo", &in.base, &out, &opt, &st);
		long took = (long) (rpc_clock_ms() - t0);
		for (long was = atomic_load(&slowest_ms); took > was;)
			if (atomic_compare_exchange_weak(&slowest_ms, &was, took))
				break;
		if (took >= SLOW_MS) {
			atomic_fetch_add(&slow, 1);
			fprintf(stderr, "a call took %ld ms: %s: %s\n", took, rpc_code_name(c),
			    c == RPC_OK ? "" : st.message);
		}
		if (c == RPC_OK) {
			protobuf_c_message_free_unpacked(out, NULL);
			atomic_fetch_add(&ok, 1);
		} else if (c == RPC_UNAVAILABLE) {
			atomic_fetch_add(&unavailable, 1);
			nng_msleep(5);
		} else if (c == RPC_DEADLINE_EXCEEDED) {
			atomic_fetch_add(&deadline, 1);
		} else {
			atomic_fetch_add(&other, 1);
			fprintf(stderr, "other %d: %s\n", c, st.message);
		}
	}
	return NULL;
}

static int
serve(const char *at)
{
	rpc_server *srv = NULL;
	rpc_status st;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	int i = 0;
	while (test_service_open(&srv, at, 4, &st) != RPC_OK) {
		if (i++ == 200) {
			fprintf(stderr, "restart-stress: cannot serve on %s: %s\n", at, st.message);
			return 1;
		}
		nng_msleep(10);
	}
	int sig;
	sigwait(&set, &sig);
	rpc_server_close(srv);
	return 0;
}

static pid_t
start_server(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		execl("/proc/self/exe", "restart-stress", "serve", url, (char *) NULL);
		_exit(127);
	}
	return pid;
}

int
main(int argc, char **argv)
{
	if (argc > 2 && strcmp(argv[1], "serve") == 0)
		return serve(argv[2]);
	int cycles = argc > 1 ? atoi(argv[1]) : 50;
	int kill9  = argc > 2 ? atoi(argv[2]) : 0;
	int port   = procs_free_port();
	if (port < 0) {
		perror("restart-stress: a free port");
		return 1;
	}
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
	pid_t srv = start_server();
	rpc_status st;
	if (rpc_client_open(&client, url, NULL, &st) != RPC_OK) {
		fprintf(stderr, "open: %s\n", st.message);
		return 1;
	}
	pthread_t th[32];
	for (int i = 0; i < 32; i++)
		pthread_create(&th[i], NULL, caller, NULL);
	for (int c = 0; c < cycles; c++) {
		nng_msleep(300 + (unsigned) (rand() % 300));
		kill(srv, kill9 ? SIGKILL : SIGTERM);
		waitpid(srv, NULL, 0);
		nng_msleep((unsigned) (rand() % 50));
		srv = start_server();
	}
	nng_msleep(500);
	atomic_store(&stop, true);
	for (int i = 0; i < 32; i++)
		pthread_join(th[i], NULL);
	int connections = rpc_client_connections(client);
	kill(srv, SIGTERM);
	waitpid(srv, NULL, 0);
	printf("cycles=%d: ok %ld, unavailable %ld, deadline %ld, other %ld; %ld took %d ms or more "
	       "(slowest %ld ms); %d connections at the end\n",
	    cycles, atomic_load(&ok), atomic_load(&unavailable), atomic_load(&deadline), atomic_load(&other),
	    atomic_load(&slow), SLOW_MS, atomic_load(&slowest_ms), connections);
	fflush(stdout); /* LeakSanitizer's exit would drop it */
	rpc_client_close(client);
	return atomic_load(&deadline) + atomic_load(&other) + atomic_load(&slow) > 0;
}
