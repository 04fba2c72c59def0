/* rpc-call: calls any method of the services from the command line, the way
 * grpcurl does for gRPC: JSON in, the request sent over nng, the reply
 * printed as JSON. `list` and `describe` read the descriptors linked in.
 *
 * Exit status: 0 the call succeeded; 1 usage; 2 the request was not sent
 * (bad JSON, unknown method); 10 + the gRPC code of an error status
 * (NOT_FOUND 15, DEADLINE_EXCEEDED 14, UNAVAILABLE 24, ...). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/env.h"
#include "base/log.h"
#include "base/net_check.h"
#include "contract/tables.h"
#include "rpc/client.h"
#include "rpc/envelope.h"
#include "rpc/tls_files.h"
#include "json/pbjson.h"

#define EXIT_USAGE 1
#define EXIT_NOT_SENT 2
#define EXIT_STATUS_BASE 10
#define MAX_METADATA 8
#define MAX_TIMEOUT_MS 3600000L

/* The services are the registry's (lib/contract): a new one needs no code here. */
#define N_SERVICES contract_services_count
#define SERVICE(i) (contract_services[i].descriptor)

static void
usage(FILE *out)
{
	fprintf(out, "Usage: rpc-call [options] URL METHOD [JSON|-]   call METHOD at the nng URL\n"
	             "       rpc-call list                            the services and methods known\n"
	             "       rpc-call describe METHOD                 a method's request and reply fields\n\n"
	             "URL is an nng URL to dial (tls+tcp://host:port with TLS, else tcp://host:port or\n"
	             "ipc:///path); several, comma-separated,\n"
	             "share the calls. It is checked before anything is sent.\n"
	             "METHOD is a full name such as users.UserService/GetUser. JSON is the request;\n"
	             "without it, or with -, it is read from standard input. The reply is printed as JSON.\n\n"
	             "Options:\n"
	             "  --timeout MS        deadline of the call, 1-3600000 (default 2000)\n"
	             "  --request-id ID     the request id sent in the envelope\n"
	             "  --header KEY=VALUE  envelope metadata (e.g. idempotency-key=k1); repeatable\n"
	             "  --pretty            indent the reply\n"
	             "  --cert PEM, --key PEM, --ca PEM\n"
	             "                      TLS files (or RPC_TLS_CERT, RPC_TLS_KEY, RPC_TLS_CA): all three or\n"
	             "                      none. With them the URL must be tls+tcp://, the certificate is the\n"
	             "                      operator's (its CA among the service's callers) and the service\n"
	             "                      must prove its registry name (user-svc) with a certificate from --ca\n\n"
	             "Exit status: 0 success; 1 usage; 2 request not sent (bad JSON, unknown method);\n"
	             "10 + the gRPC code of an error status (INVALID_ARGUMENT 13, NOT_FOUND 15,\n"
	             "ALREADY_EXISTS 16, DEADLINE_EXCEEDED 14, UNAVAILABLE 24, INTERNAL 23).\n");
}

static const ProtobufCMethodDescriptor *
find_method(const char *full, const ProtobufCServiceDescriptor **service)
{
	const char *slash = strchr(full, '/');
	if (slash == NULL)
		return NULL;
	for (size_t i = 0; i < N_SERVICES; i++) {
		size_t n = strlen(SERVICE(i)->name);
		if ((size_t) (slash - full) == n && strncmp(full, SERVICE(i)->name, n) == 0) {
			*service = SERVICE(i);
			return protobuf_c_service_descriptor_get_method_by_name(SERVICE(i), slash + 1);
		}
	}
	return NULL;
}

static int
cmd_list(void)
{
	for (size_t i = 0; i < N_SERVICES; i++) {
		const ProtobufCServiceDescriptor *svc = SERVICE(i);
		printf("%s\n", svc->name);
		for (unsigned m = 0; m < svc->n_methods; m++) {
			const ProtobufCMethodDescriptor *md = &svc->methods[m];
			printf("  %s/%s(%s) returns (%s)\n", svc->name, md->name, md->input->name, md->output->name);
		}
	}
	return 0;
}

static const char *
type_name(const ProtobufCFieldDescriptor *f)
{
	static const char *const names[] = {"int32", "sint32", "sfixed32", "int64", "sint64", "sfixed64", "uint32",
	    "fixed32", "uint64", "fixed64", "float", "double", "bool", "enum", "string", "bytes", "message"};
	if (f->type == PROTOBUF_C_TYPE_MESSAGE)
		return ((const ProtobufCMessageDescriptor *) f->descriptor)->name;
	if (f->type == PROTOBUF_C_TYPE_ENUM)
		return ((const ProtobufCEnumDescriptor *) f->descriptor)->name;
	return (unsigned) f->type < sizeof(names) / sizeof(names[0]) ? names[f->type] : "?";
}

static void
describe_message(const ProtobufCMessageDescriptor *d)
{
	printf("message %s {\n", d->name);
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		char json[64];
		pbjson_json_name(f->name, json, sizeof(json));
		printf("  %s%s %s = %u;  // JSON: %s\n", f->label == PROTOBUF_C_LABEL_REPEATED ? "repeated " : "",
		    type_name(f), f->name, f->id, json);
	}
	printf("}\n");
}

static int
cmd_describe(const char *full)
{
	const ProtobufCServiceDescriptor *svc;
	const ProtobufCMethodDescriptor *m = find_method(full, &svc);
	if (m == NULL) {
		fprintf(stderr, "rpc-call: unknown method '%s' (see rpc-call list)\n", full);
		return EXIT_NOT_SENT;
	}
	printf("rpc %s/%s(%s) returns (%s)\n\n", svc->name, m->name, m->input->name, m->output->name);
	describe_message(m->input);
	printf("\n");
	describe_message(m->output);
	return 0;
}

static char *
read_all(FILE *in, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	for (size_t got; buf != NULL && (got = fread(buf + n, 1, cap - n, in)) > 0;) {
		n += got;
		if (n == cap) {
			char *bigger = realloc(buf, cap *= 2);
			if (bigger == NULL) {
				free(buf);
				return NULL;
			}
			buf = bigger;
		}
	}
	*len = n;
	return buf;
}

/* Indents compact JSON text (ours: no insignificant white space) without
 * re-parsing it, so numbers keep their exact text. */
static void
print_pretty(const char *s, size_t len)
{
	int depth      = 0;
	bool in_string = false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (in_string) {
			putchar(c);
			if (c == '\\' && i + 1 < len)
				putchar(s[++i]);
			else if (c == '"')
				in_string = false;
			continue;
		}
		switch (c) {
		case '"':
			in_string = true;
			putchar(c);
			break;
		case '{':
		case '[':
			putchar(c);
			if (i + 1 < len && (s[i + 1] == '}' || s[i + 1] == ']')) {
				putchar(s[++i]);
				break;
			}
			printf("\n%*s", ++depth * 2, "");
			break;
		case '}':
		case ']': printf("\n%*s%c", --depth * 2, "", c); break;
		case ',': printf(",\n%*s", depth * 2, ""); break;
		case ':': printf(": "); break;
		default: putchar(c);
		}
	}
	putchar('\n');
}

/* The envelope's text rules (rpc_envelope.h: request id, metadata), which
 * the service would refuse with INVALID_ARGUMENT: said here, before
 * anything is sent. */
static bool
envelope_text_valid(const char *method, const char *request_id, const rpc_metadata *md, size_t n)
{
	Rpc__Metadata items[MAX_METADATA];
	Rpc__Metadata *ptrs[MAX_METADATA];
	for (size_t k = 0; k < n; k++) {
		rpc__metadata__init(&items[k]);
		items[k].key   = (char *) md[k].key;
		items[k].value = (char *) md[k].value;
		ptrs[k]        = &items[k];
	}
	Rpc__Request env = RPC__REQUEST__INIT;
	env.method       = (char *) method;
	env.request_id   = (char *) (request_id != NULL ? request_id : "");
	env.metadata     = ptrs;
	env.n_metadata   = n;
	rpc_status st;
	if (rpc_envelope_check_request(&env, &st) == RPC_OK)
		return true;
	for (size_t v = 0; v < st.n_violations; v++)
		fprintf(stderr, "rpc-call: %s\n", st.violations[v].description);
	return false;
}

int
main(int argc, char **argv)
{
	/* Every failure is reported below, once, on stderr: the RPC library's
	 * log lines (a name that does not resolve, replicas found by a lookup
	 * during a long call) would repeat it or add noise to a tool's output. */
	log_setup("rpc-call", LOG_ERROR, LOG_TEXT);
	long timeout           = 2000;
	const char *request_id = NULL;
	bool pretty            = false;
	rpc_metadata metadata[MAX_METADATA];
	size_t n_metadata = 0;
	/* The TLS files: an option replaces its variable; messages name
	 * whichever gave the path. */
	static const char *const options[3]    = {"--cert", "--key", "--ca"};
	static const env_parser tls_parsers[3] = {rpc_tls_parse_cert, rpc_tls_parse_key, rpc_tls_parse_ca};
	const char *tls_paths[3]               = {NULL, NULL, NULL};
	const char *tls_names[RPC_TLS_N_VARS]  = {
	     rpc_tls_variable_names[0], rpc_tls_variable_names[1], rpc_tls_variable_names[2], rpc_tls_variable_names[3]};
	int i = 1;
	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--pretty") == 0) {
			pretty = true;
		} else if (strcmp(argv[i], "--cert") == 0 || strcmp(argv[i], "--key") == 0 ||
		           strcmp(argv[i], "--ca") == 0) {
			int k = strcmp(argv[i], "--cert") == 0 ? 0 : strcmp(argv[i], "--key") == 0 ? 1 : 2;
			if (i + 1 >= argc) {
				fprintf(stderr, "rpc-call: %s takes a value\n", argv[i]);
				return EXIT_USAGE;
			}
			tls_paths[k] = argv[++i];
			tls_names[k] = options[k];
		} else if (strcmp(argv[i], "--timeout") == 0 || strcmp(argv[i], "--request-id") == 0 ||
		           strcmp(argv[i], "--header") == 0) {
			/* Checked as the binaries check their environment (env.h). */
			const char *opt = argv[i], *value = i + 1 < argc ? argv[++i] : NULL;
			char why[256];
			if (value == NULL) {
				fprintf(stderr, "rpc-call: %s takes a value\n", opt);
				return EXIT_USAGE;
			}
			if (strcmp(opt, "--timeout") == 0) {
				if (env_parse_int(value, 1, MAX_TIMEOUT_MS, &timeout, why, sizeof(why)) != 0) {
					fprintf(stderr, "rpc-call: --timeout: %s (milliseconds)\n", why);
					return EXIT_USAGE;
				}
			} else if (strcmp(opt, "--request-id") == 0) {
				request_id = value;
			} else {
				char *eq = strchr(value, '=');
				if (eq == NULL || eq == value) {
					fprintf(stderr, "rpc-call: --header: '%s' is not KEY=VALUE\n", value);
					return EXIT_USAGE;
				}
				if (n_metadata == MAX_METADATA) {
					fprintf(stderr, "rpc-call: --header: at most %d\n", MAX_METADATA);
					return EXIT_USAGE;
				}
				*eq                    = '\0';
				metadata[n_metadata++] = (rpc_metadata){value, eq + 1};
			}
		} else {
			fprintf(stderr, "rpc-call: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	int rest = argc - i;
	if (rest == 1 && strcmp(argv[i], "list") == 0)
		return cmd_list();
	if (rest == 2 && strcmp(argv[i], "describe") == 0)
		return cmd_describe(argv[i + 1]);
	if (rest < 2 || rest > 3) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *url = argv[i], *full = argv[i + 1];
	char why[1024];
	if (net_check_nng_dial_list(url, why, sizeof(why)) != 0) {
		fprintf(stderr, "rpc-call: URL: '%s' %s\n", url, why);
		return EXIT_USAGE;
	}
	rpc_tls_files tls = {"", "", "", ""};
	env_var tls_vars[RPC_TLS_N_VARS];
	rpc_tls_env_vars(&tls, RPC_TLS_DIALS, tls_vars);
	for (int k = 0; k < 3; k++) {
		const char **out = k == 0 ? &tls.cert : k == 1 ? &tls.key : &tls.ca;
		if (tls_paths[k] == NULL) {
			if (env_load(&tls_vars[k], 1, why, sizeof(why)) != 0) {
				fprintf(stderr, "rpc-call: %s\n", why);
				return EXIT_USAGE;
			}
		} else if (tls_parsers[k](tls_paths[k], out, why, sizeof(why)) != 0) {
			fprintf(stderr, "rpc-call: %s: '%s' %s\n", options[k], tls_paths[k], why);
			return EXIT_USAGE;
		}
	}
	if (rpc_tls_files_check(&tls, RPC_TLS_DIALS, tls_names, why, sizeof(why)) != 0 ||
	    rpc_tls_check_urls(&tls, "URL", url, why, sizeof(why)) != 0) {
		fprintf(stderr, "rpc-call: %s\n", why);
		return EXIT_USAGE;
	}

	/* 1. The method, the envelope's text and the request from JSON:
	 *    nothing is sent if any is wrong. */
	const ProtobufCServiceDescriptor *svc;
	const ProtobufCMethodDescriptor *m = find_method(full, &svc);
	if (m == NULL) {
		fprintf(stderr, "rpc-call: unknown method '%s' (see rpc-call list)\n", full);
		return EXIT_NOT_SENT;
	}
	if (!envelope_text_valid(full, request_id, metadata, n_metadata))
		return EXIT_USAGE;
	size_t len = 0;
	char *json = rest == 3 && strcmp(argv[i + 2], "-") != 0 ? strdup(argv[i + 2]) : read_all(stdin, &len);
	if (json == NULL) {
		fprintf(stderr, "rpc-call: cannot read the request\n");
		return EXIT_NOT_SENT;
	}
	if (rest == 3 && strcmp(argv[i + 2], "-") != 0)
		len = strlen(json);
	ProtobufCMessage *request;
	rpc_status st;
	if (pbjson_decode(m->input, json, len, &request, &st) != RPC_OK) {
		fprintf(stderr, "rpc-call: the request is not a valid %s; nothing was sent:\n", m->input->name);
		for (size_t v = 0; v < st.n_violations; v++)
			fprintf(stderr, "  %s\n", st.violations[v].description);
		free(json);
		return EXIT_NOT_SENT;
	}
	free(json);

	/* 2. The call. */
	rpc_client *client;
	rpc_client_options copt = {.tls = &tls};
	for (size_t k = 0; k < N_SERVICES; k++)
		if (SERVICE(k) == svc)
			copt.server_name = contract_services[k].name; /* what its certificate must say */
	if (rpc_client_open(&client, url, &copt, &st) != RPC_OK) {
		fprintf(stderr, "rpc-call: %s\n", st.message);
		protobuf_c_message_free_unpacked(request, NULL);
		return EXIT_NOT_SENT;
	}
	rpc_call_options opt = {
	    .request_id = request_id, .timeout_ms = timeout, .metadata = metadata, .n_metadata = n_metadata};
	ProtobufCMessage *reply;
	rpc_code code = rpc_client_call(client, svc, m->name, request, &reply, &opt, &st);
	protobuf_c_message_free_unpacked(request, NULL);
	rpc_client_close(client);

	/* 3. The answer. */
	if (code != RPC_OK) {
		fprintf(stderr, "%s: %s\n", rpc_code_name(code), st.message);
		/* Only where the connection failed (a TLS service closes a plain
		 * caller's at once): a name that does not resolve, or a service's
		 * own UNAVAILABLE, has nothing to do with TLS. */
		static const char never_connected[] = "service unreachable: not connected"; /* rpc/client.c */
		static const char lost[]            = "connection lost";
		if (code == RPC_UNAVAILABLE && !rpc_tls_configured(&tls) &&
		    (strncmp(st.message, never_connected, sizeof(never_connected) - 1) == 0 ||
		        strncmp(st.message, lost, sizeof(lost) - 1) == 0))
			fprintf(stderr,
			    "rpc-call: if the service speaks mutual TLS (scripts/server and compose run it so), "
			    "call tls+tcp:// with --cert, --key and --ca (README: Calling the services directly)\n");
		for (size_t v = 0; v < st.n_violations; v++)
			fprintf(stderr, "  %s: %s\n", st.violations[v].field, st.violations[v].description);
		return EXIT_STATUS_BASE + (int) code;
	}
	buffer out = {0};
	pbjson_encode(reply, &out);
	if (pretty)
		print_pretty(out.data, out.len);
	else
		printf("%s\n", out.data);
	buffer_free(&out);
	protobuf_c_message_free_unpacked(reply, NULL);
	return 0;
}
