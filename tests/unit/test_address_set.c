/* address_set.h, replica_set.h and tcp_liveness.h (issue 19): a dial URL's
 * host name as a set of addresses, a replica (rpc/endpoint.h) per address
 * dialing real listeners (rpc/transport.h's acceptors, the test service),
 * and the dead-link bound on a real TCP connection. */
#define _GNU_SOURCE /* unshare */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rpc/address_set.h"
#include "rpc/client.h"
#include "rpc/endpoint.h"
#include "rpc/envelope.h"
#include "rpc/replica_set.h"
#include "rpc/tcp_liveness.h"
#include "rpc/transport.h"
#include "test_service.h"

Test(address_set, a_url_splits_into_scheme_host_port_and_whether_to_resolve)
{
	rpc_dial_target t;
	cr_assert_eq(rpc_dial_target_parse("tls+tcp://user-svc:5001", &t), 0);
	cr_assert_str_eq(t.scheme, "tls+tcp");
	cr_assert_str_eq(t.host, "user-svc");
	cr_assert_str_eq(t.port, "5001");
	cr_assert_eq(t.family, AF_UNSPEC);
	cr_assert(t.by_name);

	cr_assert_eq(rpc_dial_target_parse("tcp4://user-svc.default.svc.cluster.local:1", &t), 0);
	cr_assert_eq(t.family, AF_INET);
	cr_assert(t.by_name);
	cr_assert_eq(rpc_dial_target_parse("tls+tcp6://svc:2", &t), 0);
	cr_assert_eq(t.family, AF_INET6);

	/* Addresses and paths are dialed as they are. */
	cr_assert_eq(rpc_dial_target_parse("tcp://127.0.0.1:5001", &t), 0);
	cr_assert_not(t.by_name);
	cr_assert_eq(rpc_dial_target_parse("tcp://[::1]:5001", &t), 0);
	cr_assert_not(t.by_name);
	cr_assert_str_eq(t.host, "::1");
	cr_assert_eq(rpc_dial_target_parse("ipc:///tmp/user-svc.ipc", &t), 0);
	cr_assert_not(t.by_name);
	cr_assert_str_eq(t.host, "");
}

Test(address_set, each_address_becomes_a_url_of_the_same_scheme_and_port)
{
	rpc_dial_target t;
	char url[128];
	cr_assert_eq(rpc_dial_target_parse("tls+tcp://user-svc:5001", &t), 0);
	cr_assert_eq(rpc_dial_target_url(&t, "10.0.0.5", url, sizeof(url)), 0);
	cr_assert_str_eq(url, "tls+tcp://10.0.0.5:5001");
	cr_assert_eq(rpc_dial_target_url(&t, "fd00::5", url, sizeof(url)), 0);
	cr_assert_str_eq(url, "tls+tcp://[fd00::5]:5001");
	cr_assert_eq(rpc_dial_target_url(&t, "10.0.0.5", url, 10), -1, "too small is refused, not cut");
	/* A family scheme loses its family, which the address carries (nng 1.10). */
	cr_assert_eq(rpc_dial_target_parse("tls+tcp6://user-svc:5001", &t), 0);
	cr_assert_eq(rpc_dial_target_url(&t, "fd00::5", url, sizeof(url)), 0);
	cr_assert_str_eq(url, "tls+tcp://[fd00::5]:5001");
	cr_assert_eq(rpc_dial_target_parse("tcp4://user-svc:5001", &t), 0);
	cr_assert_eq(rpc_dial_target_url(&t, "10.0.0.5", url, sizeof(url)), 0);
	cr_assert_str_eq(url, "tcp://10.0.0.5:5001");
}

/* Every URL this project hands nng is one nng 1.5.2 and 1.10 both take:
 * nng 1.10 refuses tcp4:// and tcp6:// (and tls+ each) with "Address
 * invalid", for listeners and dialers alike. */
Test(address_set, family_schemes_become_tcp_with_an_address_of_the_family)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"tcp4://127.0.0.1:5001", "tcp://127.0.0.1:5001"},
	    {"tls+tcp4://10.1.2.3:5001", "tls+tcp://10.1.2.3:5001"},
	    {"tcp6://[::1]:5001", "tcp://[::1]:5001"},
	    {"tls+tcp6://[fd00::5]:5001", "tls+tcp://[fd00::5]:5001"},
	    {"tcp4://:5001", "tcp://0.0.0.0:5001"},
	    {"tcp6://:5001", "tcp://[::]:5001"},
	    {"tcp4://localhost:5001", "tcp://127.0.0.1:5001"},
	    {"tcp://localhost:5001", "tcp://localhost:5001"},
	    {"tls+tcp://user-svc:5001", "tls+tcp://user-svc:5001"},
	    {"ipc:///tmp/x.sock", "ipc:///tmp/x.sock"},
	};
	char out[128];
	int lookup;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(rpc_url_for_nng(cases[i].in, out, sizeof(out), &lookup), 0, "%s", cases[i].in);
		cr_assert_str_eq(out, cases[i].out, "%s", cases[i].in);
	}
	cr_assert_eq(rpc_url_for_nng("tcp4://no-such-host.invalid:5001", out, sizeof(out), &lookup), -1);
	cr_assert_neq(lookup, 0, "a lookup error");
	cr_assert_eq(rpc_url_for_nng("tcp4://127.0.0.1:5001", out, 12, &lookup), -1, "too small is refused, not cut");
	cr_assert_eq(lookup, 0);
	/* What comes out, nng listens on and dials (a real socket pair). */
	nng_socket rep, req;
	nng_listener l;
	cr_assert_eq(nng_rep0_open(&rep), 0);
	cr_assert_eq(rpc_url_for_nng("tcp4://127.0.0.1:0", out, sizeof(out), &lookup), 0);
	cr_assert_eq(nng_listen(rep, out, &l, 0), 0, "nng %s listens on %s", nng_version(), out);
	nng_sockaddr sa;
	cr_assert_eq(nng_listener_get_addr(l, NNG_OPT_LOCADDR, &sa), 0);
	char url[64];
	snprintf(url, sizeof(url), "tcp4://localhost:%d", ntohs(sa.s_in.sa_port));
	cr_assert_eq(rpc_url_for_nng(url, out, sizeof(out), &lookup), 0);
	cr_assert_eq(nng_req0_open(&req), 0);
	cr_assert_eq(nng_dial(req, out, NULL, 0), 0, "nng %s dials %s", nng_version(), out);
	nng_close(req);
	nng_close(rep);
}

/* A getaddrinfo-shaped list of IPv4 addresses, in the order given. */
static struct addrinfo *
list_of(const char *const *addrs, size_t n, struct sockaddr_in *storage, struct addrinfo *nodes)
{
	for (size_t i = 0; i < n; i++) {
		memset(&storage[i], 0, sizeof(storage[i]));
		storage[i].sin_family = AF_INET;
		inet_pton(AF_INET, addrs[i], &storage[i].sin_addr);
		nodes[i] = (struct addrinfo){.ai_family = AF_INET,
		    .ai_addr                            = (struct sockaddr *) &storage[i],
		    .ai_addrlen                         = sizeof(storage[i]),
		    .ai_next                            = i + 1 < n ? &nodes[i + 1] : NULL};
	}
	return n > 0 ? &nodes[0] : NULL;
}

Test(address_set, the_set_not_the_order_counts_and_each_address_is_dialed_once)
{
	/* glibc may reorder a name's addresses between two lookups (RFC 6724
	 * rule 9), and list one twice (one per socket type without hints). */
	const char *first[]  = {"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.2"};
	const char *second[] = {"10.0.0.3", "10.0.0.1", "10.0.0.2"};
	struct sockaddr_in sa[4];
	struct addrinfo ai[4];
	rpc_address_set a, b;
	rpc_address_set_from_addrinfo(&a, list_of(first, 4, sa, ai));
	rpc_address_set_from_addrinfo(&b, list_of(second, 3, sa, ai));
	cr_assert_eq(a.n, 3);
	cr_assert_eq(b.n, 3);
	for (size_t i = 0; i < a.n; i++)
		cr_assert(rpc_address_set_has(&b, a.addr[i]), "%s", a.addr[i]);
	cr_assert_not(rpc_address_set_has(&a, "10.0.0.4"));
	rpc_address_set_from_addrinfo(&a, NULL);
	cr_assert_eq(a.n, 0);
}

Test(address_set, addresses_past_the_limit_or_with_a_zone_are_left_out_and_counted)
{
	rpc_address_set s = {0};
	char addr[32];
	for (int i = 0; i < RPC_ADDRESSES_MAX + 3; i++) {
		snprintf(addr, sizeof(addr), "10.0.%d.%d", i / 256, i % 256);
		rpc_address_set_add(&s, addr);
	}
	cr_assert_eq(s.n, RPC_ADDRESSES_MAX);
	cr_assert_eq(s.left_out, 3);

	struct sockaddr_in6 zoned = {.sin6_family = AF_INET6, .sin6_scope_id = 2};
	inet_pton(AF_INET6, "fe80::1", &zoned.sin6_addr);
	struct addrinfo ai = {
	    .ai_family = AF_INET6, .ai_addr = (struct sockaddr *) &zoned, .ai_addrlen = sizeof(zoned)};
	rpc_address_set_from_addrinfo(&s, &ai);
	cr_assert_eq(s.n, 0);
	cr_assert_eq(s.left_out, 1);
}

Test(address_set, a_name_resolves_to_its_addresses_of_the_schemes_family)
{
	rpc_dial_target t;
	rpc_address_set s;
	cr_assert_eq(rpc_dial_target_parse("tcp4://localhost:5001", &t), 0);
	cr_assert_eq(rpc_address_set_resolve(&t, &s), 0);
	cr_assert(rpc_address_set_has(&s, "127.0.0.1"));
	for (size_t i = 0; i < s.n; i++)
		cr_assert_null(strchr(s.addr[i], ':'), "tcp4 gave an IPv6 address %s", s.addr[i]);
}

/* ---- replica_set.h ---- */

/* Waits up to 10 s for the set's n-th lookup. */
static void
wait_lookups(rpc_replica_set *rs, size_t n)
{
	for (int i = 0; i < 1000 && rpc_replica_set_lookups(rs) < n; i++)
		nng_msleep(10);
	cr_assert_geq(rpc_replica_set_lookups(rs), n, "lookup %zu not done within 10 s", n);
}

#define ACCEPTED_MAX 16

/* A listener of rpc/transport.h and the thread that accepts on it. The
 * connections it accepted are kept, so the test can tell whether their
 * client closed them; n counts them (each published once its slot is
 * written). */
typedef struct listener {
	rpc_acceptor *a;
	char url[128]; /* as bound: the port the kernel picked */
	int port;
	pthread_t th;
	rpc_conn *conns[ACCEPTED_MAX];
	atomic_int n;
} listener;

static void *
accept_main(void *arg)
{
	listener *l = arg;
	for (;;) {
		rpc_conn *c;
		int rv = rpc_acceptor_accept(l->a, &c);
		if (rv == NNG_ECLOSED)
			break;
		if (rv != 0) {
			nng_msleep(10);
			continue;
		}
		int i = atomic_load(&l->n);
		if (i == ACCEPTED_MAX) {
			rpc_conn_close(c);
			continue;
		}
		l->conns[i] = c;
		atomic_store(&l->n, i + 1);
	}
	return NULL;
}

static void
listener_up(listener *l, const char *url)
{
	memset(l, 0, sizeof(*l));
	atomic_init(&l->n, 0);
	cr_assert_eq(rpc_acceptor_open(&l->a, url, NULL, l->url, sizeof(l->url)), 0, "listening on %s", url);
	l->port = strncmp(l->url, "ipc://", 6) == 0 ? 0 : atoi(strrchr(l->url, ':') + 1);
	cr_assert_eq(pthread_create(&l->th, NULL, accept_main, l), 0);
}

static void
listener_down(listener *l)
{
	rpc_acceptor_shutdown(l->a);
	pthread_join(l->th, NULL);
	for (int i = 0; i < atomic_load(&l->n); i++)
		rpc_conn_close(l->conns[i]);
	rpc_acceptor_free(l->a);
}

/* Waits up to 10 s for l to have accepted n connections; no more came. */
static void
wait_accepted(listener *l, int n)
{
	for (int i = 0; i < 1000 && atomic_load(&l->n) < n; i++)
		nng_msleep(10);
	cr_assert_eq(atomic_load(&l->n), n, "%s accepted %d connections", l->url, atomic_load(&l->n));
}

/* How many of the connections l accepted their client has closed (each
 * sits idle on the server's side: readable means closed). */
static int
closed_by_client(listener *l)
{
	int closed = 0;
	for (int i = 0; i < atomic_load(&l->n); i++)
		if (!rpc_conn_fit(l->conns[i]))
			closed++;
	return closed;
}

/* Waits up to 10 s for n of l's connections to be closed by their client. */
static void
wait_closed(listener *l, int n)
{
	for (int i = 0; i < 1000 && closed_by_client(l) < n; i++)
		nng_msleep(10);
	cr_assert_eq(closed_by_client(l), n, "%s: %d connections closed by the client", l->url, closed_by_client(l));
}

/* Picks until the replica at ip comes (round robin: at most 8 picks) and
 * takes a connection of it: *ep held, *c lent. A connection of another
 * replica taken on the way is given back, kept idle. */
static void
take_from(rpc_replica_set *rs, const char *ip, rpc_endpoint **ep, rpc_conn **c)
{
	for (int i = 0; i < 8; i++) {
		rpc_endpoint *e = rpc_replica_set_pick(rs);
		cr_assert_not_null(e);
		rpc_conn *conn;
		char why[128] = "";
		int rv = rpc_endpoint_take(e, rpc_clock_ms() + 5000, rpc_clock_ms() + 5000, &conn, why, sizeof(why));
		cr_assert_eq(rv, 0, "%s %s", nng_strerror(rv), why);
		if (strcmp(rpc_conn_peer_ip(conn), ip) == 0) {
			*ep = e;
			*c  = conn;
			return;
		}
		rpc_endpoint_give_back(e, conn, true);
		rpc_endpoint_release(e);
	}
	cr_assert_fail("no replica at %s in 8 picks", ip);
}

static rpc_code
echo(rpc_client *c, const char *text, Rpctest__EchoReply **out, rpc_status *st)
{
	Rpctest__EchoRequest in = RPCTEST__ECHO_REQUEST__INIT;
	in.text                 = (char *) text;
	ProtobufCMessage *reply = NULL;
	rpc_code code = rpc_client_call(c, &rpctest__test_service__descriptor, "Echo", &in.base, &reply, NULL, st);
	*out          = (Rpctest__EchoReply *) reply;
	return code;
}

Test(replica_set, a_name_gets_a_replica_per_address_and_calls_reach_it, .timeout = 60)
{
	rpc_server *srv;
	rpc_status st;
	cr_assert_eq(test_service_open(&srv, "tcp://127.0.0.1:0", 2, &st), RPC_OK, "%s", st.message);
	int port = atoi(strrchr(rpc_server_url(srv), ':') + 1);
	char url[64], peer[64];
	snprintf(url, sizeof(url), "tcp4://localhost:%d", port);
	snprintf(peer, sizeof(peer), "127.0.0.1:%d", port);

	rpc_replica_set *rs;
	cr_assert_eq(rpc_replica_set_open(&rs, url, NULL, 200, 0, &st), RPC_OK, "%s", st.message);
	cr_assert_eq(rpc_replica_set_count(rs), 0, "looked up on the resolver's thread, not at open");
	cr_assert_null(rpc_replica_set_pick(rs));
	char problem[160];
	rpc_replica_set_problem(rs, problem, sizeof(problem));
	cr_assert_str_eq(problem, "localhost: lookup not answered yet");
	rpc_replica_set_start(rs);
	wait_lookups(rs, 1);
	cr_assert_eq(rpc_replica_set_count(rs), 1, "localhost's one IPv4 address");
	rpc_replica_set_problem(rs, problem, sizeof(problem));
	cr_assert_str_eq(problem, "");

	/* Its replica dials the server; the connection is kept for the next call. */
	rpc_endpoint *ep = rpc_replica_set_pick(rs);
	cr_assert_not_null(ep);
	rpc_conn *c;
	cr_assert_eq(rpc_endpoint_take(ep, rpc_clock_ms() + 5000, rpc_clock_ms() + 5000, &c, NULL, 0), 0);
	cr_assert_str_eq(rpc_conn_peer(c), peer);
	cr_assert_eq(rpc_replica_set_connections(rs), 1);
	rpc_endpoint_give_back(ep, c, true);
	cr_assert_eq(rpc_replica_set_connections(rs), 1, "kept idle");
	cr_assert_eq(rpc_endpoint_take(ep, rpc_clock_ms() + 5000, rpc_clock_ms() + 5000, &c, NULL, 0), 0);
	cr_assert_eq(rpc_replica_set_connections(rs), 1, "the idle one taken again, none dialed");
	rpc_endpoint_give_back(ep, c, true);

	/* Lookups again, kicked and timed, change nothing for the same answer:
	 * the same replica, its connection untouched. */
	size_t seen = rpc_replica_set_lookups(rs);
	rpc_replica_set_kick(rs);
	wait_lookups(rs, seen + 3);
	cr_assert_eq(rpc_replica_set_count(rs), 1);
	rpc_endpoint *again = rpc_replica_set_pick(rs);
	cr_assert_eq(again, ep, "the same replica");
	rpc_endpoint_release(again);
	cr_assert_eq(rpc_replica_set_connections(rs), 1);
	rpc_endpoint_release(ep);
	rpc_replica_set_free(rs);

	/* A client of the name: its calls reach the service (once the first
	 * lookup is in: until then a call answers UNAVAILABLE at once). */
	rpc_client *client;
	rpc_client_options opt = {.resolve_interval_ms = 200};
	cr_assert_eq(rpc_client_open(&client, url, &opt, &st), RPC_OK, "%s", st.message);
	Rpctest__EchoReply *out = NULL;
	rpc_code code           = RPC_UNAVAILABLE;
	for (int i = 0; i < 100 && (code = echo(client, "via localhost", &out, &st)) == RPC_UNAVAILABLE; i++)
		nng_msleep(100);
	cr_assert_eq(code, RPC_OK, "%s: %s", rpc_code_name(st.code), st.message);
	cr_assert_str_eq(out->text, "via localhost");
	rpctest__echo_reply__free_unpacked(out, NULL);
	cr_assert_eq(rpc_client_connections(client), 1);
	rpc_client_close(client);
	rpc_server_close(srv);
}

/* A dial that fails within the gap after a lookup (RPC_RESOLVE_GAP_MS) has
 * the names looked up at the gap's end, not an interval later: the gap
 * used to swallow the kick, so a replica that moved right after a lookup
 * was found only at the next interval (here a minute). */
Test(replica_set, a_kick_during_the_gap_after_a_lookup_is_kept, .timeout = 30)
{
	rpc_replica_set *rs;
	rpc_status st;
	cr_assert_eq(rpc_replica_set_open(&rs, "tcp4://localhost:1", NULL, 60000, 0, &st), RPC_OK, "%s", st.message);
	rpc_replica_set_start(rs);
	wait_lookups(rs, 1);
	rpc_replica_set_kick(rs); /* within the gap, unless this box stalled a second (then it passes anyway) */
	/* 10 s: well past the gap, well short of the interval. */
	for (int i = 0; i < 1000 && rpc_replica_set_lookups(rs) < 2; i++)
		nng_msleep(10);
	cr_assert_eq(rpc_replica_set_lookups(rs), 2, "looked up again about RPC_RESOLVE_GAP_MS after the kick");
	rpc_replica_set_free(rs);
}

/* A DNS server that never answers: a UDP socket nobody reads, named in a
 * resolv.conf bind-mounted over /etc/resolv.conf in a mount namespace of
 * this test's own process (root only). */
static bool
silent_dns(void)
{
	if (geteuid() != 0 || unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		return false;
	int udp                 = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(53)};
	inet_pton(AF_INET, "127.0.0.153", &addr.sin_addr);
	if (udp < 0 || bind(udp, (struct sockaddr *) &addr, sizeof(addr)) != 0)
		return false;
	char path[64];
	snprintf(path, sizeof(path), "/tmp/silent-dns-%d.conf", (int) getpid());
	FILE *f = fopen(path, "w");
	if (f == NULL)
		return false;
	/* 5 s: the lookup is still waiting when the test frees the set. */
	fputs("nameserver 127.0.0.153\noptions timeout:5 attempts:1\n", f);
	fclose(f);
	bool ok = mount(path, "/etc/resolv.conf", NULL, MS_BIND, NULL) == 0;
	unlink(path);
	return ok;
}

static long
ms_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Neither opening nor freeing waits for a lookup: a DNS server that does
 * not answer held the open for its timeout (10 s by default: a binary's
 * start, rpc-call past its --timeout), and rpc_client_close likewise. */
Test(replica_set, neither_open_nor_free_waits_for_a_lookup_that_hangs, .timeout = 30)
{
	if (!silent_dns())
		cr_skip_test("needs root and mount namespaces, for a DNS server that does not answer");
	rpc_replica_set *rs;
	rpc_status st;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(
	    rpc_replica_set_open(&rs, "tcp://silent.example:5001", NULL, 100, 0, &st), RPC_OK, "%s", st.message);
	rpc_replica_set_start(rs);
	long ms = ms_since(&t0);
	cr_assert_lt(ms, 2500, "open waited %ld ms for a lookup", ms);
	char problem[160];
	rpc_replica_set_problem(rs, problem, sizeof(problem));
	cr_assert_str_eq(problem, "silent.example: lookup not answered yet");
	nng_msleep(300);
	cr_assert_eq(rpc_replica_set_lookups(rs), 0, "the first lookup still waits for the DNS server");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rpc_replica_set_free(rs);
	ms = ms_since(&t0);
	cr_assert_lt(ms, 2500, "free waited %ld ms for a lookup", ms);
}

/* The hosts file of this test's own mount namespace (root only): path is
 * bind-mounted over /etc/hosts, so writing path changes what names resolve
 * to. */
static bool
own_hosts(const char *path, const char *content)
{
	if (geteuid() != 0 || unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		return false;
	char conf[96];
	snprintf(conf, sizeof(conf), "%.64s.conf", path);
	FILE *f = fopen(path, "w"), *c = fopen(conf, "w");
	if (f == NULL || c == NULL)
		return false;
	fputs(content, f);
	fputs("multi on\n", c); /* every line of a name, not the first */
	fclose(f);
	fclose(c);
	return mount(path, "/etc/hosts", NULL, MS_BIND, NULL) == 0 &&
	       mount(conf, "/etc/host.conf", NULL, MS_BIND, NULL) == 0;
}

/* Two replicas behind one name in a hosts file of the test's own:
 * listeners on 127.0.0.11 and 127.0.0.12 (one port), and a replica set of
 * the name. */
struct two_replicas {
	char hosts[64];
	listener a, b;
	rpc_replica_set *rs;
};

static void
two_replicas_up(struct two_replicas *t, const char *name)
{
	snprintf(t->hosts, sizeof(t->hosts), "/tmp/%s-hosts-%d", name, (int) getpid());
	if (!own_hosts(t->hosts, "127.0.0.11 replicas.test\n127.0.0.12 replicas.test\n"))
		cr_skip_test("needs root and mount namespaces, for a hosts file of its own");
	listener_up(&t->a, "tcp://127.0.0.11:0");
	char url[64];
	snprintf(url, sizeof(url), "tcp://127.0.0.12:%d", t->a.port);
	listener_up(&t->b, url);
	snprintf(url, sizeof(url), "tcp4://replicas.test:%d", t->a.port);
	rpc_status st;
	cr_assert_eq(rpc_replica_set_open(&t->rs, url, NULL, 200, 0, &st), RPC_OK, "%s", st.message);
	rpc_replica_set_start(t->rs);
	wait_lookups(t->rs, 1);
	cr_assert_eq(rpc_replica_set_count(t->rs), 2, "a replica per address");
}

/* Writes the hosts file and waits until the set has looked it up (two
 * lookups: the second began after the write). */
static void
two_replicas_rename(struct two_replicas *t, const char *hosts_text)
{
	FILE *f = fopen(t->hosts, "w");
	cr_assert_not_null(f);
	fputs(hosts_text, f);
	fclose(f);
	size_t seen = rpc_replica_set_lookups(t->rs);
	wait_lookups(t->rs, seen + 2);
}

static void
two_replicas_down(struct two_replicas *t)
{
	rpc_replica_set_free(t->rs);
	listener_down(&t->a);
	listener_down(&t->b);
	unlink(t->hosts);
	char conf[96];
	snprintf(conf, sizeof(conf), "%.64s.conf", t->hosts);
	unlink(conf);
}

/* An address that leaves the name takes no new call, and its idle
 * connections close at once; a call in flight on it finishes (a replica
 * leaves DNS before it stops, then drains: cutting its connections failed
 * those calls with "connection lost" on every rolling update), and its
 * connection closes when given back. The address is not dialed again. */
Test(replica_set, an_address_gone_takes_no_new_call_and_its_idle_connections_close, .timeout = 60)
{
	struct two_replicas t;
	two_replicas_up(&t, "drain");
	rpc_endpoint *a, *b, *b_again;
	rpc_conn *a1, *b1, *b2;
	take_from(t.rs, "127.0.0.11", &a, &a1);
	rpc_endpoint_give_back(a, a1, true);
	take_from(t.rs, "127.0.0.12", &b, &b1);
	take_from(t.rs, "127.0.0.12", &b_again, &b2);
	cr_assert_eq(b_again, b, "one replica per address");
	rpc_endpoint_release(b_again);
	rpc_endpoint_give_back(b, b2, true);
	cr_assert_eq(rpc_endpoint_connections(b), 2, "one lent (b1, a call in flight), one idle (b2)");
	wait_accepted(&t.b, 2);
	cr_assert_eq(closed_by_client(&t.b), 0);

	two_replicas_rename(&t, "127.0.0.11 replicas.test\n");
	cr_assert_eq(rpc_replica_set_count(t.rs), 1, "127.0.0.12 is no longer a replica");
	/* No new call. */
	cr_assert_not(rpc_endpoint_up(b));
	rpc_conn *c;
	cr_assert_eq(rpc_endpoint_take(b, rpc_clock_ms() + 5000, rpc_clock_ms() + 5000, &c, NULL, 0), NNG_ECONNREFUSED);
	for (int i = 0; i < 6; i++) {
		rpc_endpoint *e = rpc_replica_set_pick(t.rs);
		cr_assert_eq(e, a, "pick %d went to the address gone", i);
		rpc_endpoint_release(e);
	}
	/* Its idle connection closed, the lent one kept. */
	cr_assert_eq(rpc_endpoint_connections(b), 1);
	wait_closed(&t.b, 1);
	rpc_conn *server_b1 = rpc_conn_fit(t.b.conns[0]) ? t.b.conns[0] : t.b.conns[1];

	/* The call in flight on it finishes. */
	int64_t deadline = rpc_clock_ms() + 5000;
	nng_msg *m;
	cr_assert_eq(rpc_conn_write_frame(b1, "ping", 4, deadline), 0);
	cr_assert_eq(rpc_conn_read_frame(server_b1, 64, deadline, 5000, &m), 0);
	cr_assert_eq(nng_msg_len(m), 4);
	nng_msg_free(m);
	cr_assert_eq(rpc_conn_write_frame(server_b1, "pong", 4, deadline), 0);
	cr_assert_eq(rpc_conn_read_frame(b1, 64, deadline, 5000, &m), 0);
	cr_assert_eq(memcmp(nng_msg_body(m), "pong", 4), 0);
	nng_msg_free(m);
	/* Given back, its connection closes. */
	rpc_endpoint_give_back(b, b1, true);
	cr_assert_eq(rpc_endpoint_connections(b), 0);
	wait_closed(&t.b, 2);

	/* Lookups later, it is still not dialed; 127.0.0.11 is untouched. */
	wait_lookups(t.rs, rpc_replica_set_lookups(t.rs) + 2);
	cr_assert_eq(rpc_endpoint_take(b, rpc_clock_ms() + 5000, rpc_clock_ms() + 5000, &c, NULL, 0), NNG_ECONNREFUSED);
	cr_assert_eq(atomic_load(&t.b.n), 2, "127.0.0.12 was dialed again after it left the name");
	cr_assert_eq(closed_by_client(&t.a), 0, "127.0.0.11's connections are untouched");
	cr_assert_eq(rpc_replica_set_connections(t.rs), rpc_endpoint_connections(a));
	cr_assert_eq(rpc_endpoint_take(a, rpc_clock_ms() + 5000, rpc_clock_ms() + 5000, &c, NULL, 0), 0);
	rpc_endpoint_give_back(a, c, true);
	rpc_endpoint_release(b);
	rpc_endpoint_release(a);
	two_replicas_down(&t);
}

/* An address back in the name (gone, then back) is a replica again: a new
 * one, dialed anew; the one that drained stays drained. */
Test(replica_set, an_address_back_in_the_name_is_a_replica_again, .timeout = 60)
{
	struct two_replicas t;
	two_replicas_up(&t, "back");
	rpc_endpoint *b, *b_new;
	rpc_conn *c;
	take_from(t.rs, "127.0.0.12", &b, &c);
	rpc_endpoint_give_back(b, c, true);
	wait_accepted(&t.b, 1);

	two_replicas_rename(&t, "127.0.0.11 replicas.test\n");
	cr_assert_eq(rpc_replica_set_count(t.rs), 1, "127.0.0.12 drains");
	cr_assert_not(rpc_endpoint_up(b));
	wait_closed(&t.b, 1);

	two_replicas_rename(&t, "127.0.0.11 replicas.test\n127.0.0.12 replicas.test\n");
	cr_assert_eq(rpc_replica_set_count(t.rs), 2, "127.0.0.12 is a replica again");
	take_from(t.rs, "127.0.0.12", &b_new, &c);
	cr_assert_neq(b_new, b, "a new replica, not the drained one");
	cr_assert(rpc_endpoint_up(b_new));
	wait_accepted(&t.b, 2);
	cr_assert_eq(closed_by_client(&t.b), 1, "the new connection is open");
	rpc_endpoint_give_back(b_new, c, true);
	cr_assert_not(rpc_endpoint_up(b), "the drained one stays drained");
	rpc_endpoint_release(b_new);
	rpc_endpoint_release(b);
	two_replicas_down(&t);
}

Test(replica_set, a_name_that_does_not_resolve_is_not_an_error_and_says_why, .timeout = 60)
{
	rpc_replica_set *rs;
	rpc_status st;
	/* RFC 6761: .invalid never resolves. */
	cr_assert_eq(
	    rpc_replica_set_open(&rs, "tcp://no-such-host.invalid:5001", NULL, 100, 0, &st), RPC_OK, "%s", st.message);
	rpc_replica_set_start(rs);
	wait_lookups(rs, 1);
	cr_assert_eq(rpc_replica_set_count(rs), 0);
	cr_assert_null(rpc_replica_set_pick(rs));
	char problem[160];
	rpc_replica_set_problem(rs, problem, sizeof(problem));
	cr_assert_not_null(strstr(problem, "no-such-host.invalid: "), "%s", problem);
	cr_assert_null(strstr(problem, "not answered yet"), "%s", problem);
	rpc_replica_set_free(rs);
}

Test(replica_set, addresses_and_paths_are_dialed_as_written_and_a_bad_one_is_refused, .timeout = 60)
{
	listener tcp, ipc;
	listener_up(&tcp, "tcp://127.0.0.1:0");
	char url[256];
	snprintf(url, sizeof(url), "ipc:///tmp/replica-set-%d.ipc", (int) getpid());
	listener_up(&ipc, url);
	snprintf(url, sizeof(url), "%s,%s", tcp.url, ipc.url);
	rpc_replica_set *rs;
	rpc_status st;
	cr_assert_eq(rpc_replica_set_open(&rs, url, NULL, 0, 0, &st), RPC_OK, "%s", st.message);
	cr_assert_eq(rpc_replica_set_count(rs), 2, "no lookup: replicas at open");
	rpc_replica_set_start(rs);
	char problem[160];
	rpc_replica_set_problem(rs, problem, sizeof(problem));
	cr_assert_str_eq(problem, "");
	/* Each dials what is written: one of them 127.0.0.1, the other the path. */
	bool seen_tcp = false, seen_ipc = false;
	for (int i = 0; i < 2; i++) {
		rpc_endpoint *ep = rpc_replica_set_pick(rs);
		cr_assert_not_null(ep);
		rpc_conn *c;
		cr_assert_eq(rpc_endpoint_take(ep, rpc_clock_ms() + 5000, rpc_clock_ms() + 5000, &c, NULL, 0), 0);
		if (strcmp(rpc_conn_peer_ip(c), "127.0.0.1") == 0)
			seen_tcp = true;
		else if (strcmp(rpc_conn_peer(c), "local") == 0)
			seen_ipc = true;
		rpc_endpoint_give_back(ep, c, false);
		rpc_endpoint_release(ep);
	}
	cr_assert(seen_tcp && seen_ipc, "tcp %d ipc %d", seen_tcp, seen_ipc);
	wait_accepted(&tcp, 1);
	wait_accepted(&ipc, 1);
	cr_assert_eq(rpc_replica_set_lookups(rs), 0, "no name, no lookup");
	rpc_replica_set_free(rs);
	listener_down(&tcp);
	listener_down(&ipc);

	cr_assert_eq(rpc_replica_set_open(&rs, "tcp://", NULL, 0, 0, &st), RPC_INVALID_ARGUMENT);
	cr_assert_eq(rpc_replica_set_open(&rs, "", NULL, 0, 0, &st), RPC_INVALID_ARGUMENT);
	cr_assert_eq(rpc_replica_set_open(&rs, "tcp://127.0.0.1:1,tcp://", NULL, 0, 0, &st), RPC_INVALID_ARGUMENT,
	    "one bad URL of the list");
}

/* ---- tcp_liveness.h ---- */

/* A TCP connection on loopback: *client dialed, *server accepted. */
static void
tcp_pair(int *client, int *server)
{
	int l                 = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	socklen_t len = sizeof(sa);
	cr_assert_geq(l, 0);
	cr_assert_eq(bind(l, (struct sockaddr *) &sa, sizeof(sa)), 0);
	cr_assert_eq(listen(l, 1), 0);
	cr_assert_eq(getsockname(l, (struct sockaddr *) &sa, &len), 0);
	*client = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(connect(*client, (struct sockaddr *) &sa, sizeof(sa)), 0);
	*server = accept(l, NULL, NULL);
	cr_assert_geq(*server, 0);
	close(l);
}

static int
int_option(int fd, int level, int name)
{
	int v         = -1;
	socklen_t len = sizeof(v);
	cr_assert_eq(getsockopt(fd, level, name, &v, &len), 0);
	return v;
}

Test(tcp_liveness, a_connected_tcp_socket_gets_the_dead_link_bound)
{
	int client, server;
	tcp_pair(&client, &server);
	cr_assert_eq(int_option(client, SOL_SOCKET, SO_KEEPALIVE), 0, "not set before");
	cr_assert_eq(rpc_tcp_liveness_set(client), 0);
	cr_assert_eq(int_option(client, IPPROTO_TCP, TCP_USER_TIMEOUT), RPC_TCP_USER_TIMEOUT_MS);
	cr_assert_neq(int_option(client, SOL_SOCKET, SO_KEEPALIVE), 0);
	cr_assert_eq(int_option(client, IPPROTO_TCP, TCP_KEEPIDLE), 1);
	cr_assert_eq(int_option(client, IPPROTO_TCP, TCP_KEEPINTVL), 1);
	/* It still carries bytes. */
	cr_assert_eq(write(client, "x", 1), 1);
	char byte;
	cr_assert_eq(read(server, &byte, 1), 1);
	close(client);
	close(server);
}

/* The TCP_USER_TIMEOUT of every TCP socket of this process connected to
 * port; the count found. */
static int
user_timeouts(int port, unsigned int *timeout)
{
	int found = 0;
	DIR *d    = opendir("/proc/self/fd");
	cr_assert_not_null(d);
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		int fd = atoi(e->d_name);
		struct stat st;
		struct sockaddr_in peer;
		socklen_t len = sizeof(peer);
		if (fd <= 2 || fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode) ||
		    getpeername(fd, (struct sockaddr *) &peer, &len) != 0 || peer.sin_family != AF_INET ||
		    ntohs(peer.sin_port) != port)
			continue;
		len = sizeof(*timeout);
		if (getsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, timeout, &len) == 0)
			found++;
	}
	closedir(d);
	return found;
}

/* The transport sets it on each connection it dials. */
Test(tcp_liveness, a_dialed_connection_gets_the_dead_link_bound)
{
	listener l;
	listener_up(&l, "tcp://127.0.0.1:0");
	rpc_endpoint *ep;
	cr_assert_eq(rpc_endpoint_open(&ep, l.url, NULL, 0), 0);
	rpc_conn *c;
	cr_assert_eq(rpc_endpoint_take(ep, rpc_clock_ms() + 5000, rpc_clock_ms() + 5000, &c, NULL, 0), 0);
	unsigned int timeout = 0;
	cr_assert_eq(user_timeouts(l.port, &timeout), 1, "the dialed socket");
	cr_assert_eq(timeout, RPC_TCP_USER_TIMEOUT_MS);
	rpc_endpoint_give_back(ep, c, false);
	rpc_endpoint_release(ep);
	listener_down(&l);
}

/* A Unix socket (ipc://) has no TCP options: refused (-1), and the socket
 * works as before. */
Test(tcp_liveness, a_socket_that_is_not_tcp_is_refused_and_works_as_before)
{
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	cr_assert_eq(rpc_tcp_liveness_set(sv[0]), -1);
	cr_assert_eq(write(sv[0], "x", 1), 1);
	char byte;
	cr_assert_eq(read(sv[1], &byte, 1), 1);
	cr_assert_eq(byte, 'x');
	close(sv[0]);
	close(sv[1]);
}
