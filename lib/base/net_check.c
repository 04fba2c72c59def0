/* net_check.h: addresses with inet_pton, URLs with nng_url_parse, and the
 * few rules on top that the libraries leave to the moment of connecting. */
#include "base/net_check.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <nng/nng.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/env.h"

/* sockaddr_un's sun_path holds 108 bytes with the NUL; nng's abstract
 * names 107 (nng.h, nng_sockaddr_abstract). */
#define UNIX_PATH_MAX_LEN 107
#define ABSTRACT_NAME_MAX_LEN 107
#define DIAL_LIST_MAX_LEN 1023 /* rpc_client_open's buffer */

static bool
is_label_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int
net_check_host(const char *host, size_t len, int allow_ipv6, char *err, size_t errlen)
{
	char text[256];
	if (len == 0) {
		snprintf(err, errlen, "has no host");
		return -1;
	}
	if (len >= sizeof(text)) {
		snprintf(err, errlen, "has a host longer than 253 bytes");
		return -1;
	}
	memcpy(text, host, len);
	text[len] = '\0';
	unsigned char addr[16];
	if (strchr(text, ':') != NULL) {
		if (allow_ipv6 && inet_pton(AF_INET6, text, addr) == 1)
			return 0;
		snprintf(err, errlen,
		    allow_ipv6 ? "has host '%s', which is not an IPv6 address"
		               : "has host '%s', which is not a host name or an IPv4 address",
		    text);
		return -1;
	}
	/* A trailing dot (a fully qualified name) ends nothing. */
	if (text[len - 1] == '.' && len > 1)
		text[--len] = '\0';
	const char *last = strrchr(text, '.');
	last             = last != NULL ? last + 1 : text;
	if (last[0] != '\0' && strspn(last, "0123456789") == strlen(last)) {
		if (inet_pton(AF_INET, text, addr) == 1)
			return 0;
		snprintf(err, errlen,
		    "has host '%s', which is not an IPv4 address (four numbers 0-255 without "
		    "leading zeros)",
		    text);
		return -1;
	}
	if (len > 253) {
		snprintf(err, errlen, "has a host longer than 253 bytes");
		return -1;
	}
	for (const char *label = text;;) {
		size_t n = strcspn(label, ".");
		bool ok  = n >= 1 && n <= 63 && label[0] != '-' && label[n - 1] != '-';
		for (size_t i = 0; ok && i < n; i++)
			ok = is_label_char(label[i]);
		if (!ok) {
			snprintf(err, errlen,
			    "has host '%s', which is not a host name (labels of letters, "
			    "digits and '-', "
			    "1-63 bytes each) nor an IP address",
			    text);
			return -1;
		}
		if (label[n] == '\0')
			return 0;
		label += n + 1;
	}
}

int
net_check_ipv4(const char *text, char *err, size_t errlen)
{
	unsigned char addr[16];
	if (inet_pton(AF_INET, text, addr) == 1)
		return 0;
	if (inet_pton(AF_INET6, text, addr) == 1)
		snprintf(err, errlen,
		    "is an IPv6 address, and CivetWeb 1.15 as Debian builds it has no IPv6: "
		    "use an IPv4 address "
		    "(0.0.0.0 for every interface)");
	else
		snprintf(err, errlen,
		    "is not an IPv4 address (four numbers 0-255 without leading zeros, e.g. "
		    "0.0.0.0 or 127.0.0.1)");
	return -1;
}

/* Digits only (nng and getaddrinfo would also take a sign, spaces or a
 * service name), within [min, 65535]. */
static int
check_port(const char *port, int min, char *err, size_t errlen)
{
	size_t n = strspn(port, "0123456789");
	if (port[0] == '\0') {
		snprintf(err, errlen, "has no port (host:port)");
		return -1;
	}
	if (n != strlen(port) || n > 5) {
		snprintf(err, errlen,
		    n != strlen(port) ? "has port '%s', which is not a number"
		                      : "has port %s, out of range [%d, 65535]",
		    port, min);
		return -1;
	}
	long v = 0;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (port[i] - '0');
	if (v < min || v > 65535) {
		snprintf(err, errlen, "has port %ld, out of range [%d, 65535]", v, min);
		return -1;
	}
	return 0;
}

static int
check_tcp(const nng_url *u, const char *scheme, net_url_role role, char *err, size_t errlen)
{
	/* nng's tcp transport refuses these when dialing or listening
	 * (NNG_EADDRINVAL); a path of "/" alone it lets through. */
	if (u->u_userinfo != NULL || u->u_query != NULL || u->u_fragment != NULL ||
	    (u->u_path[0] != '\0' && strcmp(u->u_path, "/") != 0)) {
		snprintf(err, errlen, "has a user, path, query or fragment: tcp takes host:port only");
		return -1;
	}
	if (check_port(u->u_port, role == NET_URL_LISTEN ? 0 : 1, err, errlen) != 0)
		return -1;
	/* nng_url_parse reads "*" as no host; u_host keeps the brackets of an
	 * IPv6 address. */
	const char *name = u->u_hostname;
	if (name[0] == '\0') {
		if (role == NET_URL_LISTEN)
			return 0;
		snprintf(err, errlen, "has no host: a dialer needs one ('*' or nothing is for listening)");
		return -1;
	}
	bool bracketed = u->u_host[0] == '[';
	if (strchr(name, ':') != NULL && !bracketed) {
		snprintf(err, errlen, "has an IPv6 address without brackets (tcp://[::1]:port)");
		return -1;
	}
	if (net_check_host(name, strlen(name), bracketed, err, errlen) != 0)
		return -1;
	unsigned char addr[16];
	if ((strcmp(scheme, "tcp4") == 0 && bracketed) ||
	    (strcmp(scheme, "tcp6") == 0 && inet_pton(AF_INET, name, addr) == 1)) {
		snprintf(err, errlen, "has an address of the other IP version than %s", u->u_scheme);
		return -1;
	}
	return 0;
}

int
net_check_nng_url(const char *url, net_url_role role, char *err, size_t errlen)
{
	/* nng 1.5.2's nng_url_parse skips the byte after a user's '@' (its
	 * loop goes on with len++ after resetting len), reading past the end
	 * of "tcp://u@" (found by fuzz_config, seen in 1.9.0 still). No
	 * transport of ours takes a user, so an '@' in the authority is
	 * refused before nng reads it. Path schemes stop before that loop. */
	const char *sep = strstr(url, "://");
	if (sep != NULL) {
		size_t scheme_len                       = (size_t) (sep - url);
		bool path_scheme                        = false;
		static const char *const path_schemes[] = {"ipc", "unix", "abstract", "inproc"};
		for (size_t i = 0; i < sizeof(path_schemes) / sizeof(path_schemes[0]); i++)
			path_scheme |=
			    scheme_len == strlen(path_schemes[i]) && strncasecmp(url, path_schemes[i], scheme_len) == 0;
		const char *auth = sep + 3;
		if (!path_scheme && memchr(auth, '@', strcspn(auth, "/?#")) != NULL) {
			snprintf(err, errlen, "has a user (user@host): nng URLs here take host:port only");
			return -1;
		}
	}
	nng_url *u;
	int rv = nng_url_parse(&u, url);
	if (rv != 0) {
		snprintf(err, errlen, "is not a URL nng can parse (%s)", nng_strerror(rv));
		return -1;
	}
	int result    = -1;
	const char *s = u->u_scheme;
	/* tls+tcp takes what tcp takes: nng 1.5.2's TLS transport parses
	 * host:port with the same code. */
	const char *tcp_scheme = strncmp(s, "tls+", 4) == 0 ? s + 4 : s;
	if (strcmp(tcp_scheme, "tcp") == 0 || strcmp(tcp_scheme, "tcp4") == 0 || strcmp(tcp_scheme, "tcp6") == 0) {
		result = check_tcp(u, tcp_scheme, role, err, errlen);
	} else if (strcmp(s, "ipc") == 0 || strcmp(s, "unix") == 0) {
		size_t n = strlen(u->u_path);
		if (n == 0)
			snprintf(err, errlen, "has an empty path (ipc:///path/to/socket)");
		else if (n > UNIX_PATH_MAX_LEN)
			snprintf(err, errlen, "has a path longer than a Unix socket's %d bytes", UNIX_PATH_MAX_LEN);
		else
			result = 0;
	} else if (strcmp(s, "abstract") == 0) {
		/* The name is percent-encoded (nng's ipc dialer and listener
		 * decode it, refusing a '%' without two hex digits). */
		size_t n        = 0;
		bool encoded_ok = true;
		for (const char *p = u->u_path; *p != '\0'; n++) {
			if (*p == '%') {
				encoded_ok =
				    encoded_ok && isxdigit((unsigned char) p[1]) && isxdigit((unsigned char) p[2]);
				p += encoded_ok ? 3 : 1;
			} else {
				p++;
			}
		}
		if (n == 0)
			snprintf(err, errlen, "has an empty name (abstract://name)");
		else if (!encoded_ok)
			snprintf(err, errlen,
			    "has a '%%' not followed by two hex digits (the name is "
			    "percent-encoded)");
		else if (n > ABSTRACT_NAME_MAX_LEN)
			snprintf(err, errlen, "has a name longer than %d bytes", ABSTRACT_NAME_MAX_LEN);
		else
			result = 0;
	} else if (strcmp(s, "inproc") == 0) {
		snprintf(err, errlen, "has scheme inproc, which reaches only its own process: use tcp or ipc");
	} else {
		/* ws and wss would work with nng's options for them, which the
		 * binaries do not set. */
		snprintf(err, errlen,
		    "has scheme '%.32s', not one of tcp, tcp4, tcp6, tls+tcp, tls+tcp4, tls+tcp6, ipc, unix, abstract",
		    s);
	}
	nng_url_free(u);
	return result;
}

int
net_check_nng_dial_list(const char *text, char *err, size_t errlen)
{
	if (strlen(text) > DIAL_LIST_MAX_LEN) {
		snprintf(err, errlen, "is longer than %d bytes", DIAL_LIST_MAX_LEN);
		return -1;
	}
	bool list = strchr(text, ',') != NULL;
	char why[256];
	int index = 0;
	for (const char *p = text;;) {
		size_t n = strcspn(p, ",");
		char item[DIAL_LIST_MAX_LEN + 1];
		memcpy(item, p, n);
		item[n] = '\0';
		index++;
		if (n == 0) {
			snprintf(err, errlen, "is not a list of nng URLs to dial: element %d is empty", index);
			return -1;
		}
		if (net_check_nng_url(item, NET_URL_DIAL, why, sizeof(why)) != 0) {
			if (!list) {
				snprintf(err, errlen, "is not an nng URL to dial: it %s", why);
			} else {
				char shown[256];
				env_mask_url(item, shown, sizeof(shown));
				snprintf(err, errlen, "is not a list of nng URLs to dial: element %d '%s' %s", index,
				    shown, why);
			}
			return -1;
		}
		/* Listed twice, one server would take twice its share. */
		for (const char *q = text; q < p; q += strcspn(q, ",") + 1) {
			if (strcspn(q, ",") == n && strncmp(q, item, n) == 0) {
				snprintf(err, errlen, "is not a list of nng URLs to dial: element %d is listed twice",
				    index);
				return -1;
			}
		}
		if (p[n] == '\0')
			return 0;
		p += n + 1;
	}
}

int
env_parse_ipv4(const char *text, void *out, char *err, size_t errlen)
{
	if (net_check_ipv4(text, err, errlen) != 0)
		return -1;
	*(const char **) out = text;
	return 0;
}

int
env_parse_nng_listen_url(const char *text, void *out, char *err, size_t errlen)
{
	char why[256];
	if (strchr(text, ',') != NULL) {
		snprintf(err, errlen, "is not an nng URL to listen on: it is a list, and a service listens on one");
		return -1;
	}
	if (net_check_nng_url(text, NET_URL_LISTEN, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "is not an nng URL to listen on: it %s", why);
		return -1;
	}
	*(const char **) out = text;
	return 0;
}

int
env_parse_nng_dial_urls(const char *text, void *out, char *err, size_t errlen)
{
	if (net_check_nng_dial_list(text, err, errlen) != 0)
		return -1;
	*(const char **) out = text;
	return 0;
}
