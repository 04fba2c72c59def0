/* Checks of network addresses and nng URLs, made before anything opens or
 * connects, so a value that cannot work stops a binary at start instead of
 * making it wait, or listen somewhere else. Pure functions of their text: no
 * name resolution, no sockets; thread-safe.
 *
 * Each returns 0, or -1 with a reason in err that reads after the quoted
 * value ("'tcp://h' " + "is not an nng URL to dial: it has no port"), the
 * form env.c prints for every bad value. */
#ifndef BASE_NET_CHECK_H
#define BASE_NET_CHECK_H

#include <stddef.h>

/* A host name (RFC 1123 2.1: labels of letters, digits, '-' and, as
 * container names have them, '_'; at most 63 bytes each, 253 in all), an
 * IPv4 address in dotted decimal (inet_pton: four numbers 0-255, no leading
 * zeros), or, when allow_ipv6, an IPv6 address without brackets. A name
 * whose last label is all digits must be an IPv4 address: getaddrinfo
 * would otherwise read "1.2.3" as 1.2.0.3 and "01.2.3.4" as octal. host is
 * len bytes, not necessarily NUL-terminated. The reason begins "host '...'". */
int net_check_host(const char *host, size_t len, int allow_ipv6, char *err, size_t errlen);

/* GATEWAY_BIND: an IPv4 address (inet_pton). CivetWeb 1.15 as Debian builds
 * it has no IPv6 (mg_check_feature(8) is 0), which the reason says. */
int net_check_ipv4(const char *text, char *err, size_t errlen);

/* What a URL is for: a listener may take any address (a host of "*" or none:
 * tcp://:5001) and port 0 (a free port, logged at start); a dialer needs
 * a host and a port 1-65535. */
typedef enum net_url_role {
	NET_URL_DIAL,
	NET_URL_LISTEN,
} net_url_role;

/* One nng URL (nng_url_parse, then the rules of nng 1.5.2's transports
 * that it checks only when dialing or listening, or never). Schemes: tcp,
 * tcp4, tcp6 and tls+ each of them (host:port, nothing else), ipc, unix (a
 * path of at most 107 bytes) and abstract (a name). Whether TLS is
 * configured for a tls+ URL is rpc/tls_files.h's check. inproc reaches only
 * its own process, and ws and wss would need options the binaries do not
 * set: refused, like any other scheme. */
int net_check_nng_url(const char *url, net_url_role role, char *err, size_t errlen);

/* One or more nng URLs to dial, separated by commas (rpc_client_open's
 * form, at most 1023 bytes), none empty nor listed twice. A reason about
 * one element names it ("element 2 'tcp://h'"). */
int net_check_nng_dial_list(const char *text, char *err, size_t errlen);

/* ENV_CUSTOM parsers (env.h) over the checks above; out is const char **
 * and gets the text itself. */
int env_parse_ipv4(const char *text, void *out, char *err, size_t errlen);
int env_parse_nng_listen_url(const char *text, void *out, char *err, size_t errlen);
int env_parse_nng_dial_urls(const char *text, void *out, char *err, size_t errlen);

#endif
