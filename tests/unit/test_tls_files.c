/* RPC_TLS_CERT, RPC_TLS_KEY, RPC_TLS_CA checked at start (lib/rpc/tls_files.h),
 * with certificates openssl makes for each test (tests/support/make_tls_files.sh). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rpc/tls_files.h"

static char dir[64];

static void
make_files(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test-tls-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "'%s' '%s'", MAKE_TLS_FILES, dir);
	cr_assert_eq(system(cmd), 0, "%s failed", cmd);
}

static void
remove_files(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

/* dir/name, in one of a few rotating buffers. */
static const char *
at(const char *name)
{
	static char paths[32][128];
	static int next;
	char *p = paths[next++ % 32];
	snprintf(p, 128, "%s/%s", dir, name);
	return p;
}

static rpc_tls_files files;

/* Sets the three variables (NULL: unset) and loads them as a binary does:
 * env_load, then the check across them. Returns 0, or -1 with err. */
static int
load(const char *cert, const char *key, const char *ca, char *err, size_t errlen)
{
	const char *values[3] = {cert, key, ca};
	for (int i = 0; i < 3; i++) {
		if (values[i] != NULL)
			setenv(rpc_tls_variable_names[i], values[i], 1);
		else
			unsetenv(rpc_tls_variable_names[i]);
	}
	env_var vars[RPC_TLS_N_VARS];
	size_t n = rpc_tls_env_vars(&files, RPC_TLS_DIALS, vars);
	if (env_load(vars, n, err, errlen) != 0)
		return -1;
	return rpc_tls_files_check(&files, RPC_TLS_DIALS, rpc_tls_variable_names, err, errlen);
}

/* The load is refused with exactly message (made with printf from the
 * paths given as arguments). */
static void
refused(const char *cert, const char *key, const char *ca, const char *message)
{
	char err[1024];
	cr_assert_eq(load(cert, key, ca, err, sizeof(err)), -1, "%s %s %s accepted", cert, key, ca);
	cr_assert_str_eq(err, message);
}

static const char *
fmt(const char *format, const char *a, const char *b)
{
	static char m[1024];
	snprintf(m, sizeof(m), format, a, b);
	return m;
}

Test(tls_files, none_set_is_plain_tcp_as_before)
{
	char err[512];
	cr_assert_eq(load(NULL, NULL, NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_not(rpc_tls_configured(&files));
	cr_assert_eq(load("", "", "", err, sizeof(err)), 0, "%s", err);
	cr_assert_not(rpc_tls_configured(&files));
}

Test(tls_files, a_good_certificate_key_and_ca_configure_tls, .init = make_files, .fini = remove_files)
{
	char err[512];
	cr_assert_eq(load(at("good.pem"), at("good.key"), at("ca.pem"), err, sizeof(err)), 0, "%s", err);
	cr_assert(rpc_tls_configured(&files));
	cr_assert_str_eq(files.cert, at("good.pem"));
}

Test(tls_files, a_subset_is_refused_naming_the_missing_ones, .init = make_files, .fini = remove_files)
{
	const char *head = "RPC_TLS_CERT, RPC_TLS_KEY and RPC_TLS_CA go together (TLS needs all three): ";
	char m[512];
	snprintf(m, sizeof(m), "%sRPC_TLS_KEY and RPC_TLS_CA are not set", head);
	refused(at("good.pem"), NULL, NULL, m);
	snprintf(m, sizeof(m), "%sRPC_TLS_CA is not set", head);
	refused(at("good.pem"), at("good.key"), NULL, m);
	refused(at("good.pem"), at("good.key"), "", m); /* empty is unset */
	snprintf(m, sizeof(m), "%sRPC_TLS_CERT is not set", head);
	refused(NULL, at("good.key"), at("ca.pem"), m);
	snprintf(m, sizeof(m), "%sRPC_TLS_CERT and RPC_TLS_KEY are not set", head);
	refused(NULL, NULL, at("ca.pem"), m);
}

Test(tls_files, a_certificate_that_cannot_be_used_is_refused_naming_the_variable, .init = make_files,
    .fini = remove_files)
{
	const char *key = at("good.key"), *ca = at("ca.pem");
	refused(at("missing.pem"), key, ca,
	    fmt("RPC_TLS_CERT: '%s' cannot be read: No such file or directory", at("missing.pem"), NULL));
	refused(dir, key, ca, fmt("RPC_TLS_CERT: '%s' is not a regular file", dir, NULL));
	/* A FIFO with no writer: refused at once, never waited on (each of the three). */
	const char *fifo = at("fifo");
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	refused(fifo, key, ca, fmt("RPC_TLS_CERT: '%s' is not a regular file", fifo, NULL));
	refused(at("good.pem"), fifo, ca, fmt("RPC_TLS_KEY: '%s' is not a regular file", fifo, NULL));
	refused(at("good.pem"), key, fifo, fmt("RPC_TLS_CA: '%s' is not a regular file", fifo, NULL));
	unlink(fifo);
	refused(at("notpem.txt"), key, ca,
	    fmt("RPC_TLS_CERT: '%s' holds no PEM certificate (-----BEGIN CERTIFICATE-----)", at("notpem.txt"), NULL));
	refused(at("good.der"), key, ca,
	    fmt("RPC_TLS_CERT: '%s' holds no PEM certificate (-----BEGIN CERTIFICATE-----)", at("good.der"), NULL));
	refused(at("good.key"), key, ca,
	    fmt("RPC_TLS_CERT: '%s' holds no PEM certificate (-----BEGIN CERTIFICATE-----)", at("good.key"), NULL));
	refused(at("expired.pem"), key, ca,
	    fmt("RPC_TLS_CERT: '%s' expired on 2020-01-02 00:00:00 UTC", at("expired.pem"), NULL));
	refused(at("future.pem"), key, ca,
	    fmt("RPC_TLS_CERT: '%s' is not valid before 2099-12-31 00:00:00 UTC", at("future.pem"), NULL));
	/* A damaged PEM block: mbedTLS's reason. */
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "sed '3s/./#/g' '%s' > '%s'", at("good.pem"), at("damaged.pem"));
	cr_assert_eq(system(cmd), 0);
	char err[1024];
	cr_assert_eq(load(at("damaged.pem"), key, ca, err, sizeof(err)), -1);
	cr_assert_not_null(
	    strstr(err, fmt("RPC_TLS_CERT: '%s' is not a certificate mbedTLS can read: ", at("damaged.pem"), NULL)),
	    "%s", err);
}

Test(tls_files, a_ca_that_cannot_be_used_is_refused_naming_the_variable, .init = make_files, .fini = remove_files)
{
	const char *cert = at("good.pem"), *key = at("good.key");
	refused(cert, key, at("nope.pem"),
	    fmt("RPC_TLS_CA: '%s' cannot be read: No such file or directory", at("nope.pem"), NULL));
	refused(cert, key, at("notpem.txt"),
	    fmt("RPC_TLS_CA: '%s' holds no PEM certificate (-----BEGIN CERTIFICATE-----)", at("notpem.txt"), NULL));
	refused(cert, key, at("bundle-expired.pem"),
	    fmt("RPC_TLS_CA: '%s' certificate 2 of 2 expired on 2020-01-02 00:00:00 UTC", at("bundle-expired.pem"),
	        NULL));
}

Test(tls_files, a_key_that_cannot_be_used_is_refused_naming_the_variable, .init = make_files, .fini = remove_files)
{
	const char *cert = at("good.pem"), *ca = at("ca.pem");
	refused(cert, at("nokey"), ca,
	    fmt("RPC_TLS_KEY: '%s' cannot be read: No such file or directory", at("nokey"), NULL));
	refused(cert, at("good.pem"), ca,
	    fmt("RPC_TLS_KEY: '%s' holds no PEM private key (-----BEGIN ... PRIVATE KEY-----)", at("good.pem"), NULL));
	refused(cert, at("encrypted.key"), ca,
	    fmt("RPC_TLS_KEY: '%s' is encrypted: give the key unencrypted, readable by this user only",
	        at("encrypted.key"), NULL));
	/* A key of its own, but not the certificate's. */
	refused(cert, at("other.key"), ca,
	    fmt("RPC_TLS_KEY: '%s' is not the private key of RPC_TLS_CERT '%s'", at("other.key"), cert));
}

Test(tls_files, messages_use_the_names_they_are_given, .init = make_files, .fini = remove_files)
{
	/* rpc-call's options. */
	const char *const names[RPC_TLS_N_VARS] = {"--cert", "--key", "--ca", "--caller-ca"};
	rpc_tls_files f                         = {at("good.pem"), at("other.key"), at("ca.pem"), ""};
	char err[512];
	cr_assert_eq(rpc_tls_files_check(&f, RPC_TLS_DIALS, names, err, sizeof(err)), -1);
	cr_assert_str_eq(err, fmt("--key: '%s' is not the private key of --cert '%s'", f.key, f.cert));
	f = (rpc_tls_files){at("good.pem"), "", "", ""};
	cr_assert_eq(rpc_tls_files_check(&f, RPC_TLS_DIALS, names, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "--cert, --key and --ca go together (TLS needs all three): --key and --ca are not set");
}

Test(tls_files, a_listener_needs_the_callers_ca_too, .init = make_files, .fini = remove_files)
{
	rpc_tls_files f = {at("good.pem"), at("good.key"), at("ca.pem"), ""};
	char err[512];
	cr_assert_eq(rpc_tls_files_check(&f, RPC_TLS_DIALS, rpc_tls_variable_names, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(rpc_tls_files_check(&f, RPC_TLS_LISTENS, rpc_tls_variable_names, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "RPC_TLS_CERT, RPC_TLS_KEY, RPC_TLS_CA and RPC_TLS_CALLER_CA go together (TLS needs "
	                      "all four): RPC_TLS_CALLER_CA is not set");
	f.caller_ca = at("ca.pem");
	cr_assert_eq(rpc_tls_files_check(&f, RPC_TLS_LISTENS, rpc_tls_variable_names, err, sizeof(err)), 0, "%s", err);
}

/* TLS configured <=> every URL is tls+tcp: a plain URL would bypass the
 * callers' check, a TLS one without files has no identity. */
Test(tls_files, urls_are_tls_exactly_when_tls_is_configured)
{
	rpc_tls_files on = {"/c.pem", "/k.pem", "/ca.pem", ""}, off = {"", "", "", ""};
	char err[512];
	cr_assert_eq(
	    rpc_tls_check_urls(&on, "X_URL", "tls+tcp://a:1,TLS+TCP4://b:2,tls+tcp6://[::1]:3", err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_eq(rpc_tls_check_urls(&on, "X_URL", "tls+tcp://a:1,tcp://b:2", err, sizeof(err)), -1);
	cr_assert_str_eq(err, "X_URL: 'tcp://b:2' is not tls+tcp://: with RPC_TLS_CERT set every RPC connection is "
	                      "mutual TLS (unset RPC_TLS_* to choose plain TCP)");
	cr_assert_eq(rpc_tls_check_urls(&on, "X_URL", "ipc:///tmp/x", err, sizeof(err)), -1);
	cr_assert_eq(rpc_tls_check_urls(&off, "X_URL", "tcp://a:1,ipc:///tmp/x", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(rpc_tls_check_urls(&off, "X_URL", "tcp://a:1,tls+tcp://b:2", err, sizeof(err)), -1);
	cr_assert_str_eq(
	    err, "X_URL: 'tls+tcp://b:2' is tls+tcp:// but RPC_TLS_CERT is not set (TLS needs the RPC_TLS_* files)");
}
