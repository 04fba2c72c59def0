/* stack.h: the report hooks that start and stop the system under test. */
#include "stack.h"

#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <dirent.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "contract/tables.h"
#include "procs.h"
#include "test_tls.h"

/* The processes of the system under test: every registry service
 * (lib/contract), each the binary named like it in BIN_DIR, then the
 * gateway. Criterion runs each test in a process of its own, started after
 * PRE_ALL: so everything a test needs to stop or start a process again
 * travels in the environment (STACK_*), and each process's pid is in a file
 * of STACK_DIR, whoever started it. */
typedef struct stack_proc {
	char name[64];
	char path[320];
	bool stand_in; /* no binary of that name was built: fake-services answers for it */
	const char *env[2 * CONTRACT_SERVICES_MAX + 12];
	char tls_env[4][320]; /* its role's RPC_TLS_* files, with TLS (test_tls.h) */
} stack_proc;

/* What a process gets besides every service's URL (each dials or listens
 * on the ones it needs). A short outbox poll, so a test waiting for events
 * after an outage is quick. A Redis timeout with room for a loaded 2-core
 * machine, yet short enough that a frozen Redis costs a request well under
 * its deadline (a create meets Redis twice: user-svc, then order-svc). A
 * slow client is cut off after 3 s, so the drill can watch it happen. */
static const struct {
	const char *name;
	const char *env[6];
} settings[] = {
    {"user-svc", {"LOG_LEVEL=warn", "OUTBOX_POLL_MS=200", "REDIS_TIMEOUT_MS=500", NULL}},
    {"order-svc", {"LOG_LEVEL=info", "REDIS_TIMEOUT_MS=500", NULL}},
    {"gateway", {"GATEWAY_BIND=127.0.0.1", "LOG_LEVEL=warn", "REQUEST_TIMEOUT_MS=3000", NULL}},
    {NULL, {"LOG_LEVEL=warn", NULL}}, /* any other service */
};

static stack_proc procs[CONTRACT_SERVICES_MAX + 1];
static size_t n_procs;
/* url_env[s]: "USER_SVC_URL=" and STACK_USER_SVC_URL (ipc://STACK_DIR/user-svc.ipc, or
 * tls+tcp://127.0.0.1:<port> with TLS); unset_env[s]: "USER_SVC_URL=". With TCP the
 * programs of the stack dial by name, as in compose or a cluster (issue 19):
 * name_env[s] is "USER_SVC_URL=tls+tcp://localhost:<port>" and listen_env[s]
 * "RPC_LISTEN_URL=" and STACK_USER_SVC_URL, where the service listens. */
static char url_env[CONTRACT_SERVICES_MAX][320], unset_env[CONTRACT_SERVICES_MAX][96], port_env[32];
static char name_env[CONTRACT_SERVICES_MAX][320], listen_env[CONTRACT_SERVICES_MAX][320];

static void
add_settings(stack_proc *p, size_t *n)
{
	size_t k = 0;
	while (settings[k].name != NULL && strcmp(settings[k].name, p->name) != 0)
		k++;
	for (size_t i = 0; settings[k].env[i] != NULL; i++)
		p->env[(*n)++] = settings[k].env[i];
}

/* Fills the table from the environment PRE_ALL prepared. */
static void
load_settings(void)
{
	const char *dir = getenv("STACK_DIR"), *port = getenv("STACK_GATEWAY_PORT");
	if (n_procs > 0 || dir == NULL || port == NULL)
		return;
	for (size_t s = 0; s < contract_services_count; s++) {
		const contract_service *c = &contract_services[s];
		char stack_var[96];
		snprintf(stack_var, sizeof(stack_var), "STACK_%s", c->url_variable);
		const char *url = getenv(stack_var);
		snprintf(url_env[s], sizeof(url_env[s]), "%s=%s", c->url_variable, url != NULL ? url : "");
		snprintf(unset_env[s], sizeof(unset_env[s]), "%s=", c->url_variable);
		const char *loopback = url != NULL ? strstr(url, "://127.0.0.1:") : NULL;
		if (loopback != NULL) {
			snprintf(name_env[s], sizeof(name_env[s]), "%s=%.*s://localhost:%s", c->url_variable,
			    (int) (loopback - url), url, loopback + strlen("://127.0.0.1:"));
			snprintf(listen_env[s], sizeof(listen_env[s]), "RPC_LISTEN_URL=%s", url);
		} else {
			snprintf(name_env[s], sizeof(name_env[s]), "%s", url_env[s]);
		}
	}
	snprintf(port_env, sizeof(port_env), "GATEWAY_PORTS=%s", port);
	for (size_t s = 0; s <= contract_services_count; s++) {
		stack_proc *p = &procs[n_procs++];
		size_t n      = 0;
		if (s == contract_services_count) {
			snprintf(p->name, sizeof(p->name), "gateway");
			snprintf(p->path, sizeof(p->path), "%s", GATEWAY_BIN);
			p->env[n++] = port_env;
		} else {
			snprintf(p->name, sizeof(p->name), "%s", contract_services[s].name);
			snprintf(p->path, sizeof(p->path), "%s/%s", BIN_DIR, contract_services[s].name);
		}
		p->stand_in = access(p->path, X_OK) != 0;
		/* With TLS, its role's files: a service listens, the gateway dials. */
		size_t n_tls = test_tls_role_env(p->name, s < contract_services_count, p->tls_env);
		for (size_t t = 0; t < n_tls; t++)
			p->env[n++] = p->tls_env[t];
		if (p->stand_in) {
			/* Only this one: the stand-ins serve every URL they are given. */
			snprintf(p->path, sizeof(p->path), "%s", FAKE_SERVICES_BIN);
			for (size_t o = 0; o < contract_services_count; o++)
				p->env[n++] = o == s ? url_env[o] : unset_env[o];
			p->env[n] = NULL;
			continue;
		}
		for (size_t o = 0; o < contract_services_count; o++)
			p->env[n++] = name_env[o];
		if (s < contract_services_count && listen_env[s][0] != '\0')
			p->env[n++] = listen_env[s];
		add_settings(p, &n);
		p->env[n] = NULL;
	}
}

static stack_proc *
find_proc(const char *name)
{
	load_settings();
	for (size_t i = 0; i < n_procs; i++) {
		if (strcmp(procs[i].name, name) == 0)
			return &procs[i];
	}
	return NULL;
}

static void
pid_path(const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s.pid", getenv("STACK_DIR"), name);
}

/* Where the process's watcher writes its wait status when it ends. */
static void
status_path(const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s.status", getenv("STACK_DIR"), name);
}

pid_t
stack_pid(const char *name)
{
	char path[256];
	pid_path(name, path, sizeof(path));
	FILE *f  = fopen(path, "r");
	long pid = 0;
	if (f != NULL) {
		if (fscanf(f, "%ld", &pid) != 1)
			pid = 0;
		fclose(f);
	}
	return (pid_t) pid;
}

/* Adds to inodes (at most max) the sockets of /proc/<pid>/net/<file>
 * established to port; returns the new count. */
static size_t
established_to(pid_t pid, const char *file, int port, unsigned long *inodes, size_t n, size_t max)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%d/net/%s", (int) pid, file);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return n;
	while (fgets(line, sizeof(line), f) != NULL) {
		char remote[64];
		unsigned state;
		unsigned long inode;
		/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
		if (sscanf(line, " %*s %*s %63s %x %*s %*s %*s %*s %*s %lu", remote, &state, &inode) != 3)
			continue;
		const char *colon = strrchr(remote, ':');
		if (state == 1 /* TCP_ESTABLISHED */ && colon != NULL && strtol(colon + 1, NULL, 16) == port && n < max)
			inodes[n++] = inode;
	}
	fclose(f);
	return n;
}

int
stack_rpc_connections(const char *from, const char *to)
{
	const char *url = NULL;
	for (size_t s = 0; s < contract_services_count; s++) {
		if (strcmp(contract_services[s].name, to) == 0) {
			char var[96];
			snprintf(var, sizeof(var), "STACK_%s", contract_services[s].url_variable);
			url = getenv(var);
		}
	}
	const char *tcp   = url != NULL ? strstr(url, "tcp://") : NULL;
	const char *colon = tcp != NULL ? strrchr(tcp, ':') : NULL;
	pid_t pid         = stack_pid(from);
	if (colon == NULL || pid <= 0)
		return -1;
	int port = atoi(colon + 1);
	unsigned long inodes[1024];
	size_t n = established_to(pid, "tcp", port, inodes, 0, 1024);
	n        = established_to(pid, "tcp6", port, inodes, n, 1024);
	/* Of those (the network namespace's), the ones that are from's. */
	char dir[64];
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int) pid);
	DIR *d = opendir(dir);
	if (d == NULL)
		return -1;
	int count = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		char link[320], target[64];
		snprintf(link, sizeof(link), "%s/%s", dir, e->d_name);
		ssize_t len = readlink(link, target, sizeof(target) - 1);
		unsigned long inode;
		if (len <= 0)
			continue;
		target[len] = '\0';
		if (sscanf(target, "socket:[%lu]", &inode) != 1)
			continue;
		for (size_t i = 0; i < n; i++)
			count += inodes[i] == inode;
	}
	closedir(d);
	return count;
}

/* order-svc's and user-svc's logs go to files the tests read (the events
 * consumed; the outbox relay's connections). Detached, so the
 * processes belong to no test and can be stopped and started by any. */
static void
start_proc(stack_proc *p)
{
	if (p->stand_in)
		fprintf(stderr, "stack: %s/%s is not built: fake-services stands in for it (Health only)\n", BIN_DIR,
		    p->name);
	char path[256];
	status_path(p->name, path, sizeof(path));
	unlink(path); /* the previous run's */
	const char *log = strcmp(p->name, "order-svc") == 0  ? stack_order_log()
	                  : strcmp(p->name, "user-svc") == 0 ? stack_user_log()
	                                                     : NULL;
	pid_t pid       = procs_start_detached(p->path, p->env, log, path);
	pid_path(p->name, path, sizeof(path));
	FILE *f = fopen(path, "w");
	if (f != NULL) {
		fprintf(f, "%ld\n", (long) pid);
		fclose(f);
	}
}

/* True while pid runs (a zombie has stopped running). */
static bool
running(pid_t pid)
{
	char path[64], stat[256];
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long) pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return false;
	size_t n = fread(stat, 1, sizeof(stat) - 1, f);
	fclose(f);
	stat[n]           = '\0';
	const char *state = strrchr(stat, ')');
	return state != NULL && state[1] == ' ' && state[2] != 'Z' && state[2] != 'X';
}

int
stack_kill(const char *name, int sig)
{
	pid_t pid = stack_pid(name);
	if (pid <= 0 || !running(pid))
		return -1;
	char path[256];
	status_path(name, path, sizeof(path));
	kill(pid, sig);
	int status = procs_read_status(path, 15000);
	if (status == -1 && running(pid)) {
		kill(pid, SIGKILL);
		procs_read_status(path, 5000);
	}
	return status;
}

int
stack_stop(const char *name)
{
	return stack_kill(name, SIGTERM);
}

/* True when pid catches SIGTERM (base/signals.h's handler: SigCgt in its
 * status), which every binary sets up first thing. */
static bool
catches_sigterm(pid_t pid)
{
	char path[64], line[128];
	snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
	FILE *f                 = fopen(path, "r");
	unsigned long long mask = 0;
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "SigCgt: %llx", &mask) == 1)
			break;
	}
	if (f != NULL)
		fclose(f);
	return (mask & (1ULL << (SIGTERM - 1))) != 0;
}

/* Waits (up to 10 s) until the process takes SIGTERM itself: every binary
 * catches it at start, and until then a SIGTERM kills it outright (a suite
 * that restarted a process and stopped it at once saw "killed by signal
 * 15"). */
static void
wait_handles_sigterm(const char *name)
{
	for (int tries = 0; tries < 400; tries++) {
		if (catches_sigterm(stack_pid(name)))
			return;
		nanosleep(&(struct timespec){.tv_nsec = 25 * 1000000L}, NULL);
	}
	fprintf(stderr, "stack: %s does not block SIGTERM after 10 s\n", name);
}

void
stack_start(const char *name)
{
	start_proc(find_proc(name));
	wait_handles_sigterm(name);
}

int
stack_wait_ready(int ms)
{
	for (int waited = 0; waited < ms; waited += 100) {
		http_response r;
		long status = stack_http("GET", "/readyz", NULL, NULL, &r);
		http_response_free(&r);
		if (status == 200)
			return 0;
		nanosleep(&(struct timespec){.tv_nsec = 100 * 1000 * 1000}, NULL);
	}
	return -1;
}

const char *
stack_order_log(void)
{
	return getenv("ORDER_SVC_LOG");
}

const char *
stack_user_log(void)
{
	return getenv("USER_SVC_LOG");
}

ReportHook(PRE_ALL)(struct criterion_test_set *tests)
{
	(void) tests;
	int pid = (int) getpid();
	char dir[96], log[200], port[16];
	snprintf(dir, sizeof(dir), "/tmp/stack-%d", pid);
	snprintf(port, sizeof(port), "%d", pid);
	setenv("PROCS_OWNER_PID", port, 1); /* this runner: its stack dies with it */
	mkdir(dir, 0700);
	setenv("STACK_DIR", dir, 1);
	snprintf(port, sizeof(port), "%d", procs_free_port());
	setenv("STACK_GATEWAY_PORT", port, 1);
	snprintf(log, sizeof(log), "%s/order-svc.log", dir);
	unlink(log);
	setenv("ORDER_SVC_LOG", log, 1);
	snprintf(log, sizeof(log), "%s/user-svc.log", dir);
	unlink(log);
	setenv("USER_SVC_LOG", log, 1);
	/* STACK_<url_variable>: where each service listens, and a test reaches
	 * it directly (as the operator with TLS: test_tls_connect). */
	for (size_t s = 0; s < contract_services_count; s++) {
		char name[96], url[160];
		snprintf(name, sizeof(name), "STACK_%s", contract_services[s].url_variable);
		test_tls_service_url(url, sizeof(url), dir, contract_services[s].name);
		setenv(name, url, 1);
	}
	if (test_tls_dir() != NULL)
		fprintf(stderr, "stack: mutual TLS between the processes (RPC_TLS_DIR=%s)\n", test_tls_dir());
	load_settings();
	if (getenv("USER_DB_URL") == NULL)
		fprintf(stderr, "stack: USER_DB_URL is not set: run the tests with scripts/test\n");
	for (size_t i = 0; i < n_procs; i++)
		start_proc(&procs[i]);
	char base[64], ready[96];
	snprintf(base, sizeof(base), "http://127.0.0.1:%s", port);
	setenv("GW", base, 1);
	snprintf(ready, sizeof(ready), "%s/healthz", base);
	if (procs_wait_http(ready, 15000) != 0)
		fprintf(stderr, "stack: the gateway did not answer %s\n", ready);
	/* Ready when every service answers its Health (they migrate first). */
	if (stack_wait_ready(30000) != 0)
		fprintf(stderr, "stack: %s/readyz did not say ready within 30 s\n", base);
}

/* Every suite on the stack ends by checking that each process exits 0 on
 * SIGTERM: drained in time, and (in the sanitized build) with no leak or
 * error report, which would make the exit status non-zero. */
ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
	(void) stats;
	int failed = 0;
	for (size_t i = n_procs; i-- > 0;) {
		int status = stack_stop(procs[i].name);
		if (status != 0) {
			char why[96];
			procs_describe_status(status, why, sizeof(why));
			fprintf(stderr, "stack: %s on SIGTERM: %s (expected exit 0)\n", procs[i].name, why);
			failed = 1;
		}
	}
	if (failed)
		exit(1);
}

void
stack_assert_messages(const http_response *r, long status, size_t n, const char *const *texts)
{
	cr_assert_eq(r->status, status, "%ld %s", r->status, r->body);
	json_t *message = json_object_get(r->json, "message");
	cr_assert(json_is_array(message), "%s", r->body);
	cr_assert_eq(json_array_size(message), n, "%s", r->body);
	for (size_t i = 0; i < n; i++)
		cr_assert_str_eq(json_string_value(json_array_get(message, i)), texts[i], "%s", r->body);
}

long
stack_http(const char *method, const char *path, const char *const *headers, const char *body, http_response *r)
{
	const char *base = getenv("GW");
	cr_assert_not_null(base, "the gateway did not start");
	char url[512];
	snprintf(url, sizeof(url), "%s%s", base, path);
	return http_request(method, url, headers, body, r);
}

int
stack_servers(const char *action, const char *server)
{
	char cmd[512];
	const char *instance = getenv("SERVERS_INSTANCE");
	snprintf(cmd, sizeof(cmd), "%s/scripts/servers %s %s %s >&2", SOURCE_DIR, action, server,
	    instance != NULL ? instance : "test");
	int status = system(cmd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

const char *
stack_unique(char *buf, size_t len, const char *prefix)
{
	static int n;
	unsigned int r = 0;
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (unsigned int) getpid();
	snprintf(buf, len, "%s%d-%d-%08x", prefix, (int) getpid(), n++, r);
	return buf;
}
