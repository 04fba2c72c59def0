/* net_check.h: GATEWAY_BIND and the nng URLs, refused at start with a reason
 * (issue 23, part 3), and what is accepted is what nng itself accepts. */
#include <criterion/criterion.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <string.h>

#include "base/env.h"
#include "base/net_check.h"

static void
refused_ipv4(const char *text, const char *why)
{
	char err[256] = "";
	cr_assert_eq(net_check_ipv4(text, err, sizeof(err)), -1, "'%s' was accepted", text);
	cr_assert_not_null(strstr(err, why), "'%s': %s", text, err);
}

Test(net_check, gateway_bind_takes_only_an_ipv4_address)
{
	const char *good[] = {"0.0.0.0", "127.0.0.1", "255.255.255.255", "10.1.2.3"};
	char err[256];
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		cr_assert_eq(net_check_ipv4(good[i], err, sizeof(err)), 0, "%s: %s", good[i], err);
	/* The issue's examples: 999.1.1.1 wrapped to 231.1.1.1:3990 in
	 * CivetWeb; ::1 and abc stopped it with "invalid port spec". */
	refused_ipv4("999.1.1.1", "is not an IPv4 address");
	refused_ipv4("::1", "CivetWeb 1.15 as Debian builds it has no IPv6");
	refused_ipv4("::", "no IPv6");
	refused_ipv4("abc", "is not an IPv4 address");
	const char *bad[] = {"1.2.3", "1.2.3.4.5", "01.2.3.4", " 1.2.3.4", "1.2.3.4 ", "256.0.0.1", "1.2.3.4:80",
	    "0x7f.0.0.1", "", "localhost", "1..2.3", "-1.2.3.4"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused_ipv4(bad[i], "is not an IPv4 address");
}

Test(net_check, env_load_names_the_variable_and_the_value)
{
	const char *bind = NULL;
	env_var v        = {
	           .name = "T_BIND", .default_value = "999.1.1.1", .kind = ENV_CUSTOM, .parse = env_parse_ipv4, .out = &bind};
	char err[512];
	cr_assert_eq(env_load(&v, 1, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "T_BIND: '999.1.1.1' is not an IPv4 address (four numbers 0-255 without leading zeros, "
	                      "e.g. 0.0.0.0 or 127.0.0.1)");
	v.default_value = "127.0.0.1";
	cr_assert_eq(env_load(&v, 1, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(bind, "127.0.0.1");
}

static void
host_refused(const char *host, const char *why)
{
	char err[256] = "";
	cr_assert_eq(net_check_host(host, strlen(host), 1, err, sizeof(err)), -1, "host '%s' was accepted", host);
	cr_assert_not_null(strstr(err, why), "'%s': %s", host, err);
}

Test(net_check, host_names_follow_rfc_1123_and_numbers_must_be_addresses)
{
	const char *good[] = {"localhost", "user-svc", "order_svc_1", "db.example.com", "db.example.com.", "a",
	    "1.2.3.4", "::1", "fe80::1", "x1.y2", "3com.example"};
	char err[256];
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		cr_assert_eq(net_check_host(good[i], strlen(good[i]), 1, err, sizeof(err)), 0, "%s: %s", good[i], err);
	/* getaddrinfo would read these as 1.2.0.3, 1.2.3.4 in octal... */
	host_refused("1.2.3", "not an IPv4 address");
	host_refused("01.2.3.4", "not an IPv4 address");
	host_refused("999.1.1.1", "not an IPv4 address");
	host_refused("1.2.3.4.5", "not an IPv4 address");
	host_refused("example.123", "not an IPv4 address");
	host_refused("ho st", "not a host name");
	host_refused("-lead", "not a host name");
	host_refused("trail-.x", "not a host name");
	host_refused("a..b", "not a host name");
	host_refused("h\xc3\xa9", "not a host name");
	char long_label[80];
	memset(long_label, 'a', 64);
	long_label[64] = '\0';
	host_refused(long_label, "not a host name");
	host_refused("", "has no host");
	host_refused(":::1", "not an IPv6 address");
	char err2[256] = "";
	cr_assert_eq(net_check_host("::1", 3, 0, err2, sizeof(err2)), -1, "IPv6 where it cannot be used");
}

static void
url_refused(const char *url, net_url_role role, const char *why)
{
	char err[256] = "";
	cr_assert_eq(net_check_nng_url(url, role, err, sizeof(err)), -1, "%s was accepted for %s", url,
	    role == NET_URL_DIAL ? "dialing" : "listening");
	cr_assert_not_null(strstr(err, why), "%s: %s", url, err);
}

Test(net_check, nng_urls_are_refused_with_the_reason)
{
	/* The issue's example: "cannot listen on http://x: Not supported". */
	url_refused("http://x", NET_URL_LISTEN, "has scheme 'http', not one of tcp");
	url_refused("http://x", NET_URL_DIAL, "has scheme 'http'");
	url_refused("inproc://x", NET_URL_LISTEN, "reaches only its own process");
	url_refused("tls+tcp://h", NET_URL_DIAL, "has no port");
	url_refused("tls+tcp://:5001", NET_URL_DIAL, "has no host");
	url_refused("tls+tcp4://[::1]:5001", NET_URL_DIAL, "other IP version than tls+tcp4");
	url_refused("tls+tcp6://127.0.0.1:5001", NET_URL_DIAL, "other IP version than tls+tcp6");
	url_refused("tls+tcp://h:1/x", NET_URL_DIAL, "has a user, path, query or fragment");
	url_refused("tls+ipc:///tmp/x", NET_URL_DIAL, "has scheme 'tls+ipc'");
	url_refused("ws://h:1/p", NET_URL_DIAL, "has scheme 'ws'");
	url_refused(" tcp://h:1", NET_URL_DIAL, "has scheme ' tcp'");
	url_refused("tcp:/h:1", NET_URL_DIAL, "is not a URL nng can parse");
	url_refused("tcp://[::1", NET_URL_DIAL, "is not a URL nng can parse");
	url_refused("", NET_URL_DIAL, "is not a URL nng can parse");
	/* Ports: nng dials "tcp://host:99999" and retries forever. */
	url_refused("tcp://host:99999", NET_URL_DIAL, "has port 99999, out of range [1, 65535]");
	url_refused("tcp://host:65536", NET_URL_LISTEN, "out of range [0, 65535]");
	url_refused("tcp://host:123456", NET_URL_DIAL, "out of range");
	url_refused("tcp://host", NET_URL_DIAL, "has no port");
	url_refused("tcp://host:", NET_URL_LISTEN, "is not a URL nng can parse");
	url_refused("tcp://host:0", NET_URL_DIAL, "has port 0, out of range [1, 65535]");
	url_refused("tcp://host:abc", NET_URL_DIAL, "has port 'abc', which is not a number");
	url_refused("tcp://host:+1", NET_URL_DIAL, "not a number");
	url_refused("tcp://host:-1", NET_URL_DIAL, "not a number");
	url_refused("tcp://host: 1", NET_URL_DIAL, "not a number");
	url_refused("tcp://host:1 ", NET_URL_DIAL, "not a number");
	/* Hosts. */
	url_refused("tcp://:5001", NET_URL_DIAL, "has no host: a dialer needs one");
	url_refused("tcp://*:5001", NET_URL_DIAL, "has no host");
	url_refused("tcp://999.1.1.1:5001", NET_URL_DIAL, "host '999.1.1.1', which is not an IPv4 address");
	url_refused("tcp://1.2.3:5001", NET_URL_LISTEN, "not an IPv4 address");
	url_refused("tcp://ho st:5001", NET_URL_DIAL, "not a host name");
	url_refused("tcp6://1.2.3.4:5001", NET_URL_DIAL, "other IP version");
	url_refused("tcp4://[::1]:5001", NET_URL_DIAL, "other IP version");
	url_refused("tcp://h:1/path", NET_URL_DIAL, "tcp takes host:port only");
	url_refused("tcp://h:1?q=1", NET_URL_DIAL, "tcp takes host:port only");
	url_refused("tcp://u@h:1", NET_URL_LISTEN, "has a user");
	/* nng 1.5.2's parser reads past the end of these (fuzz_config). */
	url_refused("tcp://u@", NET_URL_DIAL, "has a user");
	url_refused("TCP://u:p@", NET_URL_DIAL, "has a user");
	url_refused("ws://a@", NET_URL_DIAL, "has a user");
	url_refused("tcp://@", NET_URL_LISTEN, "has a user");
	/* Paths. */
	url_refused("ipc://", NET_URL_LISTEN, "has an empty path");
	url_refused("ipc://", NET_URL_DIAL, "has an empty path");
	url_refused("unix://", NET_URL_DIAL, "has an empty path");
	url_refused("abstract://", NET_URL_DIAL, "has an empty name");
	url_refused("abstract://a%zz", NET_URL_DIAL, "not followed by two hex digits");
	url_refused("abstract://a%4", NET_URL_LISTEN, "not followed by two hex digits");
	char long_path[200] = "ipc:///";
	memset(long_path + 7, 'p', 110);
	long_path[117] = '\0';
	url_refused(long_path, NET_URL_LISTEN, "longer than a Unix socket's 107 bytes");
}

/* What is accepted, nng accepts too: a dialer or listener is created from
 * it (no connection is made; hosts here are addresses, so nothing is
 * resolved). */
Test(net_check, accepted_urls_are_accepted_by_nng)
{
	static const struct {
		const char *url;
		net_url_role role;
	} good[] = {
	    {"tcp://127.0.0.1:5001", NET_URL_DIAL},
	    {"tcp://127.0.0.1:5001", NET_URL_LISTEN},
	    {"tcp://127.0.0.1:0", NET_URL_LISTEN},
	    {"tcp://0.0.0.0:5001", NET_URL_LISTEN},
	    {"tcp://*:5001", NET_URL_LISTEN},
	    {"tcp://:5001", NET_URL_LISTEN},
	    {"tcp://[::1]:5001", NET_URL_DIAL},
	    {"tcp://[::]:5001", NET_URL_LISTEN},
	    {"tcp4://127.0.0.1:5001", NET_URL_DIAL},
	    {"tcp6://[::1]:5001", NET_URL_DIAL},
	    {"tcp://localhost:5001", NET_URL_DIAL},
	    {"tcp://user-svc:5001", NET_URL_DIAL},
	    {"tcp://127.0.0.1:5001/", NET_URL_DIAL},
	    {"TCP://127.0.0.1:5001", NET_URL_DIAL},
	    {"ipc:///tmp/svc.ipc", NET_URL_LISTEN},
	    {"ipc:///tmp/svc.ipc", NET_URL_DIAL},
	    {"ipc://relative.ipc", NET_URL_DIAL},
	    {"unix:///tmp/svc.sock", NET_URL_DIAL},
	    {"abstract://svc", NET_URL_LISTEN},
	    {"ipc:///tmp/a@b.ipc", NET_URL_DIAL},
	    {"abstract://a%41b", NET_URL_DIAL},
	    {"tls+tcp://127.0.0.1:5001", NET_URL_DIAL},
	    {"tls+tcp://0.0.0.0:5001", NET_URL_LISTEN},
	    {"tls+tcp4://127.0.0.1:5001", NET_URL_DIAL},
	    {"tls+tcp6://[::1]:5001", NET_URL_DIAL},
	};
	nng_socket req, rep;
	cr_assert_eq(nng_req0_open(&req), 0);
	cr_assert_eq(nng_rep0_open(&rep), 0);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char err[256] = "";
		cr_assert_eq(
		    net_check_nng_url(good[i].url, good[i].role, err, sizeof(err)), 0, "%s: %s", good[i].url, err);
		if (strstr(good[i].url, "localhost") != NULL || strstr(good[i].url, "user-svc") != NULL)
			continue; /* a name: nng resolves it only when dialing */
		int rv;
		if (good[i].role == NET_URL_DIAL) {
			nng_dialer d;
			rv = nng_dialer_create(&d, req, good[i].url);
			if (rv == 0)
				nng_dialer_close(d);
		} else {
			nng_listener l;
			rv = nng_listener_create(&l, rep, good[i].url);
			if (rv == 0)
				nng_listener_close(l);
		}
		cr_assert_eq(rv, 0, "nng refuses %s: %s", good[i].url, nng_strerror(rv));
	}
	nng_close(req);
	nng_close(rep);
}

static void
list_refused(const char *text, const char *error)
{
	char err[512] = "";
	cr_assert_eq(net_check_nng_dial_list(text, err, sizeof(err)), -1, "'%s' was accepted", text);
	cr_assert_str_eq(err, error);
}

Test(net_check, dial_lists_name_the_bad_element)
{
	char err[512];
	cr_assert_eq(net_check_nng_dial_list("tcp://a:1,tcp://b:2,ipc:///tmp/c", err, sizeof(err)), 0, "%s", err);
	list_refused("tcp://a:1,tcp://h:99999",
	    "is not a list of nng URLs to dial: element 2 'tcp://h:99999' has port 99999, "
	    "out of range [1, 65535]");
	list_refused("tcp://a:1,,tcp://b:2", "is not a list of nng URLs to dial: element 2 is empty");
	list_refused("tcp://a:1,", "is not a list of nng URLs to dial: element 2 is empty");
	list_refused(",tcp://a:1", "is not a list of nng URLs to dial: element 1 is empty");
	list_refused("tcp://a:1,tcp://a:1", "is not a list of nng URLs to dial: element 2 is listed twice");
	list_refused("tcp://a:1, tcp://b:2",
	    "is not a list of nng URLs to dial: element 2 ' tcp://b:2' has scheme ' tcp', "
	    "not one of tcp, tcp4, tcp6, tls+tcp, tls+tcp4, tls+tcp6, ipc, unix, abstract");
	list_refused("tcp://h", "is not an nng URL to dial: it has no port (host:port)");
	char huge[1100];
	memset(huge, 'a', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	list_refused(huge, "is longer than 1023 bytes");
}

Test(net_check, a_service_listens_on_one_url)
{
	const char *out = NULL;
	char err[512];
	cr_assert_eq(env_parse_nng_listen_url("tcp://*:5001", &out, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(env_parse_nng_listen_url("tcp://*:5001,tcp://*:5002", &out, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "is not an nng URL to listen on: it is a list, and a service listens on one");
	cr_assert_eq(env_parse_nng_listen_url("http://x", &out, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "is not an nng URL to listen on: it has scheme 'http', not one of "
	                      "tcp, tcp4, tcp6, tls+tcp, tls+tcp4, tls+tcp6, ipc, unix, abstract");
}
