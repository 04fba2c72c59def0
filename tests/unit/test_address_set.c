/* address_set.h, dialer_set.h and tcp_liveness.h (issue 19): a dial URL's
 * host name as a set of addresses, its dialers per address on real nng
 * sockets (several where the library allows: issue 21), and the dead-link bound on a real TCP connection. */
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
#include "rpc/dialer_set.h"
#include "rpc/tcp_liveness.h"

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

/* A REP listener on 127.0.0.1 at a port the kernel picks. */
static nng_socket
listener(int *port)
{
	nng_socket rep;
	nng_listener l;
	cr_assert_eq(nng_rep0_open(&rep), 0);
	cr_assert_eq(nng_listen(rep, "tcp://127.0.0.1:0", &l, 0), 0);
	nng_sockaddr sa;
	cr_assert_eq(nng_listener_get_addr(l, NNG_OPT_LOCADDR, &sa), 0);
	*port = ntohs(sa.s_in.sa_port);
	return rep;
}

static atomic_int pipes_up;
static atomic_int liveness_result = 99;

static void
on_add(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	(void) ev;
	(void) arg;
	atomic_store(&liveness_result, rpc_tcp_liveness_set(p));
	atomic_fetch_add(&pipes_up, 1);
}

/* A REQ socket whose new pipes go through on_add. */
static nng_socket
watched_req(void)
{
	nng_socket req;
	cr_assert_eq(nng_req0_open(&req), 0);
	atomic_store(&pipes_up, 0);
	nng_pipe_notify(req, NNG_PIPE_EV_ADD_POST, on_add, NULL);
	return req;
}

static void
wait_pipes(int n)
{
	for (int i = 0; i < 500 && atomic_load(&pipes_up) < n; i++)
		nng_msleep(10);
}

/* Waits up to 5 s for the resolver's n-th lookup. */
static void
wait_lookups(rpc_dialer_set *ds, size_t n)
{
	for (int i = 0; i < 500 && rpc_dialer_set_lookups(ds) < n; i++)
		nng_msleep(10);
	cr_assert_geq(rpc_dialer_set_lookups(ds), n);
}

Test(dialer_set, a_name_gets_a_dialer_per_address_and_connects)
{
	int port;
	nng_socket rep = listener(&port), req;
	req            = watched_req();
	char url[64];
	snprintf(url, sizeof(url), "tcp4://localhost:%d", port);
	rpc_dialer_set *ds;
	rpc_status st;
	cr_assert_eq(rpc_dialer_set_open(&ds, req, url, NULL, 200, 1, &st), RPC_OK, "%s", st.message);
	rpc_dialer_set_start(ds);
	wait_lookups(ds, 1);
	cr_assert_eq(rpc_dialer_set_count(ds), 1, "localhost's one IPv4 address");
	wait_pipes(1);
	cr_assert_eq(atomic_load(&pipes_up), 1);
	char problem[160];
	rpc_dialer_set_problem(ds, problem, sizeof(problem));
	cr_assert_str_eq(problem, "");
	/* Lookups again, kicked and timed, change nothing for the same set. */
	rpc_dialer_set_kick(ds);
	nng_msleep(500);
	cr_assert_eq(rpc_dialer_set_count(ds), 1);
	rpc_dialer_set_stop(ds, 1000);
	nng_close(req);
	rpc_dialer_set_free(ds);
	nng_close(rep);
}

/* A connection that drops within the gap after a lookup (RPC_RESOLVE_GAP_MS)
 * has the names looked up at the gap's end, not an interval later: the gap
 * used to swallow the kick, so a replica that moved right after a lookup
 * was found only at the next interval (here a minute). */
Test(dialer_set, a_kick_during_the_gap_after_a_lookup_is_kept)
{
	nng_socket req;
	cr_assert_eq(nng_req0_open(&req), 0);
	rpc_dialer_set *ds;
	rpc_status st;
	cr_assert_eq(
	    rpc_dialer_set_open(&ds, req, "tcp4://localhost:1", NULL, 60000, 1, &st), RPC_OK, "%s", st.message);
	rpc_dialer_set_start(ds);
	wait_lookups(ds, 1);
	rpc_dialer_set_kick(ds); /* within the gap, unless this box stalled a second (then it passes anyway) */
	for (int i = 0; i < 500 && rpc_dialer_set_lookups(ds) < 2; i++)
		nng_msleep(10);
	cr_assert_eq(rpc_dialer_set_lookups(ds), 2, "looked up again about RPC_RESOLVE_GAP_MS after the kick");
	rpc_dialer_set_stop(ds, 1000);
	nng_close(req);
	rpc_dialer_set_free(ds);
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
	fputs("nameserver 127.0.0.153\noptions timeout:2 attempts:1\n", f);
	fclose(f);
	bool ok = mount(path, "/etc/resolv.conf", NULL, MS_BIND, NULL) == 0;
	unlink(path);
	return ok;
}

/* Neither opening nor stopping waits for a lookup: a DNS server that does
 * not answer held rpc_dialer_set_open for its timeout (10 s by default:
 * a binary's start, rpc-call past its --timeout), and rpc_client_close for
 * its whole stop wait (1 s) before nng_close's own bound. */
Test(dialer_set, neither_open_nor_stop_waits_for_a_lookup_that_hangs, .timeout = 30)
{
	if (!silent_dns())
		cr_skip_test("needs root and mount namespaces, for a DNS server that does not answer");
	nng_socket req;
	cr_assert_eq(nng_req0_open(&req), 0);
	rpc_dialer_set *ds;
	rpc_status st;
	/* The resolver's first lookup waits out the 2 s timeout. */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(
	    rpc_dialer_set_open(&ds, req, "tcp://silent.example:5001", NULL, 100, 1, &st), RPC_OK, "%s", st.message);
	rpc_dialer_set_start(ds);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	cr_assert_lt(ms, 1000, "open waited %ld ms for a lookup", ms);
	char problem[160];
	rpc_dialer_set_problem(ds, problem, sizeof(problem));
	cr_assert_str_eq(problem, "silent.example: lookup not answered yet");
	nng_msleep(300);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rpc_dialer_set_stop(ds, 1500);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	cr_assert_lt(ms, 1000, "stop waited %ld ms for a lookup", ms);
	nng_close(req);
	rpc_dialer_set_free(ds);
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

static atomic_int pipes_down;

/* As rpc_client's pipe events: each connection counted for its dialer. */
static void
on_counted(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	rpc_dialer_set_pipe(arg, p, ev == NNG_PIPE_EV_ADD_PRE ? 1 : -1);
	if (ev == NNG_PIPE_EV_REM_POST)
		atomic_fetch_add(&pipes_down, 1);
}

/* The connections each replica gets on the library this test runs with,
 * for `requested`: decided here from nng_version() on its own, not by the
 * code under test (issue 21: several from nng 1.6, one before). */
static int
expected_per_replica(int requested)
{
	int major = 0, minor = 0;
	cr_assert_eq(sscanf(nng_version(), "%d.%d", &major, &minor), 2);
	return major > 1 || (major == 1 && minor >= 6) ? requested : 1;
}

Test(dialer_set, a_replica_gets_its_connections_where_the_library_allows_several)
{
	int port;
	nng_socket rep = listener(&port), req;
	req            = watched_req();
	char url[96];
	/* A name (one IPv4 address) and a plain address of the same server:
	 * two replicas as far as the set knows. */
	snprintf(url, sizeof(url), "tcp4://localhost:%d,tcp://127.0.0.1:%d", port, port);
	rpc_dialer_set *ds;
	rpc_status st;
	cr_assert_eq(rpc_dialer_set_open(&ds, req, url, NULL, 200, 3, &st), RPC_OK, "%s", st.message);
	int per = expected_per_replica(3);
	cr_assert_eq(rpc_dialer_set_per_replica(ds), (size_t) per, "nng %s", nng_version());
	rpc_dialer_set_start(ds);
	wait_lookups(ds, 1);
	cr_assert_eq(rpc_dialer_set_count(ds), 2, "replicas, not dialers");
	wait_pipes(2 * per);
	nng_msleep(300); /* no more than that come up */
	cr_assert_eq(atomic_load(&pipes_up), 2 * per, "nng %s: %d connections per replica", nng_version(), per);
	cr_log_info("nng %s: %d connections per replica", nng_version(), per);
	/* Lookups again change nothing for the same answer. */
	rpc_dialer_set_kick(ds);
	nng_msleep(500);
	cr_assert_eq(rpc_dialer_set_count(ds), 2);
	cr_assert_eq(atomic_load(&pipes_up), 2 * per);
	rpc_dialer_set_stop(ds, 1000);
	nng_close(req);
	rpc_dialer_set_free(ds);
	nng_close(rep);
	/* Out of bounds: below 1 is 1, above the bound is the bound. */
	cr_assert_eq(rpc_connections_per_replica(0), 1);
	cr_assert_eq(rpc_connections_per_replica(-5), 1);
	cr_assert_eq(rpc_connections_per_replica(1000), (size_t) expected_per_replica(RPC_CONNECTIONS_PER_REPLICA_MAX));
}

/* Two replicas behind one name in a hosts file of the test's own: REP
 * sockets on 127.0.0.11 and 127.0.0.12 (one port), and a watched REQ
 * socket whose dialer set dials the name with `requested` connections per
 * replica, every one of them up. */
struct two_replicas {
	char hosts[64];
	int per; /* connections per replica the library allows */
	int port;
	nng_socket a, b, req;
	rpc_dialer_set *ds;
};

static void
two_replicas_up(struct two_replicas *t, const char *name, int requested)
{
	snprintf(t->hosts, sizeof(t->hosts), "/tmp/%s-hosts-%d", name, (int) getpid());
	if (!own_hosts(t->hosts, "127.0.0.11 replicas.test\n127.0.0.12 replicas.test\n"))
		cr_skip_test("needs root and mount namespaces, for a hosts file of its own");
	t->per = expected_per_replica(requested);
	nng_listener la;
	cr_assert_eq(nng_rep0_open(&t->a), 0);
	cr_assert_eq(nng_listen(t->a, "tcp://127.0.0.11:0", &la, 0), 0);
	nng_sockaddr sa;
	cr_assert_eq(nng_listener_get_addr(la, NNG_OPT_LOCADDR, &sa), 0);
	t->port = ntohs(sa.s_in.sa_port);
	char url[64];
	snprintf(url, sizeof(url), "tcp://127.0.0.12:%d", t->port);
	cr_assert_eq(nng_rep0_open(&t->b), 0);
	cr_assert_eq(nng_listen(t->b, url, NULL, 0), 0);

	t->req = watched_req();
	atomic_store(&pipes_down, 0);
	snprintf(url, sizeof(url), "tcp4://replicas.test:%d", t->port);
	rpc_status st;
	cr_assert_eq(rpc_dialer_set_open(&t->ds, t->req, url, NULL, 200, requested, &st), RPC_OK, "%s", st.message);
	nng_pipe_notify(t->req, NNG_PIPE_EV_ADD_PRE, on_counted, t->ds);
	nng_pipe_notify(t->req, NNG_PIPE_EV_REM_POST, on_counted, t->ds);
	rpc_dialer_set_start(t->ds);
	wait_pipes(2 * t->per);
	cr_assert_eq(atomic_load(&pipes_up), 2 * t->per, "both addresses connected, %d connections each", t->per);
}

/* Writes the hosts file and waits until the dialer set has looked it up. */
static void
two_replicas_rename(struct two_replicas *t, const char *hosts_text)
{
	FILE *f = fopen(t->hosts, "w");
	cr_assert_not_null(f);
	fputs(hosts_text, f);
	fclose(f);
	size_t seen = rpc_dialer_set_lookups(t->ds);
	wait_lookups(t->ds, seen + 2);
}

static void
two_replicas_down(struct two_replicas *t)
{
	rpc_dialer_set_stop(t->ds, 1000);
	nng_close(t->req);
	rpc_dialer_set_free(t->ds);
	nng_close(t->a);
	nng_close(t->b);
	unlink(t->hosts);
	char conf[96];
	snprintf(conf, sizeof(conf), "%.64s.conf", t->hosts);
	unlink(conf);
}

/* An address that leaves the name keeps its connections, with the calls in
 * flight on them, until they end (a replica leaves DNS before it stops,
 * then drains): cutting them at once failed those calls with "connection
 * lost" on every rolling update. Once they ended, the address is not
 * dialed again. With several connections per replica, every one of them
 * drains and then closes. */
static void
drain_with(int requested)
{
	struct two_replicas t;
	two_replicas_up(&t, "drain", requested);
	int per = t.per;

	two_replicas_rename(&t, "127.0.0.11 replicas.test\n");
	cr_assert_eq(rpc_dialer_set_count(t.ds), 1, "127.0.0.12 is no longer a replica");
	cr_assert_eq(atomic_load(&pipes_down), 0, "its connections were kept");

	/* The replica stops: its connections end, and its dialers with them. */
	nng_close(t.b);
	for (int i = 0; i < 300 && atomic_load(&pipes_down) < per; i++)
		nng_msleep(10);
	cr_assert_eq(atomic_load(&pipes_down), per);
	nng_msleep(1500); /* a lookup gap and more: the dialers are closed */
	char url[64];
	snprintf(url, sizeof(url), "tcp://127.0.0.12:%d", t.port);
	cr_assert_eq(nng_rep0_open(&t.b), 0);
	cr_assert_eq(nng_listen(t.b, url, NULL, 0), 0);
	nng_msleep(1000); /* nng redials every 10-200 ms: time enough to come back */
	cr_assert_eq(atomic_load(&pipes_up), 2 * per, "127.0.0.12 was dialed again after it left the name");
	cr_assert_eq(atomic_load(&pipes_down), per, "127.0.0.11's connections are untouched");
	cr_log_info("nng %s: %d connections per address drained and closed", nng_version(), per);
	two_replicas_down(&t);
}

Test(dialer_set, an_address_gone_from_the_name_drains_and_is_not_dialed_again, .timeout = 30)
{
	drain_with(1);
}

Test(dialer_set, every_connection_of_an_address_gone_drains_and_none_is_dialed_again, .timeout = 30)
{
	drain_with(3);
}

/* An address back in the name while it drains is a replica again with the
 * connections it kept: none is cut, none is added beyond its count. */
Test(dialer_set, an_address_back_while_draining_keeps_its_connections, .timeout = 30)
{
	struct two_replicas t;
	two_replicas_up(&t, "back", 3);
	two_replicas_rename(&t, "127.0.0.11 replicas.test\n");
	cr_assert_eq(rpc_dialer_set_count(t.ds), 1, "127.0.0.12 drains");
	two_replicas_rename(&t, "127.0.0.11 replicas.test\n127.0.0.12 replicas.test\n");
	cr_assert_eq(rpc_dialer_set_count(t.ds), 2, "127.0.0.12 is a replica again");
	nng_msleep(300);
	cr_assert_eq(atomic_load(&pipes_down), 0, "no connection was cut");
	cr_assert_eq(atomic_load(&pipes_up), 2 * t.per, "none was added");
	two_replicas_down(&t);
}

Test(dialer_set, a_name_that_does_not_resolve_is_not_an_error_and_says_why)
{
	nng_socket req;
	cr_assert_eq(nng_req0_open(&req), 0);
	rpc_dialer_set *ds;
	rpc_status st;
	/* RFC 6761: .invalid never resolves. */
	cr_assert_eq(rpc_dialer_set_open(&ds, req, "tcp://no-such-host.invalid:5001", NULL, 100, 1, &st), RPC_OK, "%s",
	    st.message);
	rpc_dialer_set_start(ds);
	wait_lookups(ds, 1);
	cr_assert_eq(rpc_dialer_set_count(ds), 0);
	char problem[160];
	rpc_dialer_set_problem(ds, problem, sizeof(problem));
	cr_assert_not_null(strstr(problem, "no-such-host.invalid: "), "%s", problem);
	rpc_dialer_set_stop(ds, 1000);
	nng_close(req);
	rpc_dialer_set_free(ds);
}

Test(dialer_set, addresses_and_paths_are_dialed_as_written_and_a_bad_one_is_refused)
{
	nng_socket req;
	cr_assert_eq(nng_req0_open(&req), 0);
	rpc_dialer_set *ds;
	rpc_status st;
	cr_assert_eq(rpc_dialer_set_open(&ds, req, "tcp://127.0.0.1:1,ipc:///tmp/no-such.ipc", NULL, 0, 1, &st), RPC_OK,
	    "%s", st.message);
	rpc_dialer_set_start(ds);
	cr_assert_eq(rpc_dialer_set_count(ds), 2);
	rpc_dialer_set_stop(ds, 1000);
	rpc_dialer_set_free(ds);
	cr_assert_eq(rpc_dialer_set_open(&ds, req, "tcp://", NULL, 0, 1, &st), RPC_INVALID_ARGUMENT);
	nng_close(req);
}

/* The TCP_USER_TIMEOUT of every TCP socket of this process connected to
 * port; the count found. */
static int
user_timeouts(int port, unsigned int *timeout)
{
	int found = 0;
	DIR *d    = opendir("/proc/self/fd");
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

Test(tcp_liveness, a_dialed_connection_gets_the_dead_link_bound)
{
	int port;
	nng_socket rep = listener(&port), req;
	req            = watched_req();
	char url[64];
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
	cr_assert_eq(nng_dial(req, url, NULL, 0), 0);
	wait_pipes(1);
	cr_assert_eq(atomic_load(&liveness_result), 0, "the pipe's socket was found and took the options");
	unsigned int timeout = 0;
	cr_assert_eq(user_timeouts(port, &timeout), 1);
	cr_assert_eq(timeout, RPC_TCP_USER_TIMEOUT_MS);
	nng_close(req);
	nng_close(rep);
}

Test(tcp_liveness, a_pipe_that_is_not_tcp_is_left_alone)
{
	nng_socket rep, req;
	char url[64];
	snprintf(url, sizeof(url), "ipc:///tmp/tcp-liveness-%d.ipc", (int) getpid());
	cr_assert_eq(nng_rep0_open(&rep), 0);
	cr_assert_eq(nng_listen(rep, url, NULL, 0), 0);
	req = watched_req();
	cr_assert_eq(nng_dial(req, url, NULL, 0), 0);
	wait_pipes(1);
	cr_assert_eq(atomic_load(&liveness_result), 1);
	nng_close(req);
	nng_close(rep);
}
