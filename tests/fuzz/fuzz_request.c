/* libFuzzer: the part of the request path the gateway owns, without a
 * socket: request_check over a request head, then routes_decode_path and
 * routes_match over its target. Input: "METHOD TARGET VERSION\n" then one
 * "Name: value" per line; a first byte >= 0x80 also sets its low bits as
 * REQUEST_LAYOUT_* (what the parser normalised). Besides not crashing:
 * every refusal has a status of the documented set and a message; what is
 * accepted holds every framing rule (one Host in HTTP/1.1, never both
 * Transfer-Encoding and Content-Length, a Content-Length of digits); a
 * decoded path has no empty, dot or NUL-bearing segment and is never longer
 * than the raw one. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "request_checks.h"
#include "routes.h"

#define MAX_FIELDS 70

static void
check_decoded(const char *raw)
{
	char out[512], why[128] = "";
	int status = routes_decode_path(raw, out, sizeof(out), why, sizeof(why));
	if (status != 0) {
		if ((status != 400 && status != 414) || why[0] == '\0')
			abort();
		return;
	}
	size_t n = strlen(out);
	if (n > strlen(raw) || out[0] != '/' || (n > 1 && out[n - 1] == '/') || strstr(out, "//") != NULL)
		abort();
	for (const char *seg = out + 1; *seg != '\0';) {
		size_t len = strcspn(seg, "/");
		if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
			abort();
		for (size_t i = 0; i < len; i++) {
			if ((unsigned char) seg[i] < 0x20 || seg[i] == 0x7f)
				abort();
		}
		seg += len;
		if (*seg == '/')
			seg++;
	}
	route_match m;
	char allow[64];
	if (routes_match("HEAD", out, &m, allow, sizeof(allow)) == ROUTE_FOUND && strcmp(m.route->method, "GET") != 0)
		abort(); /* HEAD is only ever the GET */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0 || size > 8192)
		return 0;
	unsigned layout = data[0] >= 0x80 ? data[0] & 0x3f : 0;
	char *text      = malloc(size);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';

	/* The request line. */
	char *line = text, *next = strchr(text, '\n');
	if (next != NULL)
		*next++ = '\0';
	char *method = line, *target = strchr(line, ' '), *version = NULL;
	if (target != NULL) {
		*target++ = '\0';
		version   = strchr(target, ' ');
		if (version != NULL)
			*version++ = '\0';
	}
	if (target == NULL || version == NULL) {
		free(text);
		return 0;
	}
	char *query = strchr(target, '?');
	if (query != NULL)
		*query++ = '\0';

	request_field fields[MAX_FIELDS];
	int n = 0;
	while (next != NULL && n < MAX_FIELDS) {
		line = next;
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		char *colon = strchr(line, ':');
		if (colon == NULL)
			continue;
		*colon      = '\0';
		fields[n++] = (request_field){line, colon + 1 + strspn(colon + 1, " ")};
	}

	request_head h = {.method = method,
	    .version              = version,
	    .target               = target,
	    .query                = query,
	    .fields               = fields,
	    .n_fields             = n,
	    .layout               = layout,
	    .layout_field         = n > 0 ? (int) (layout % (unsigned) n) : -1};
	request_violation v;
	memset(&v, 0xff, sizeof(v));
	if (request_check(&h, &v)) {
		static const int statuses[] = {400, 414, 431, 501, 505};
		bool known                  = false;
		for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
			known = known || v.status == statuses[i];
		if (!known || memchr(v.message, '\0', sizeof(v.message)) == NULL || v.message[0] == '\0')
			abort();
	} else {
		int hosts = 0, lengths = 0, codings = 0;
		for (int i = 0; i < n; i++) {
			hosts += strcasecmp(fields[i].name, "Host") == 0;
			codings += strcasecmp(fields[i].name, "Transfer-Encoding") == 0;
			if (strcasecmp(fields[i].name, "Content-Length") == 0) {
				lengths++;
				const char *p = fields[i].value + strspn(fields[i].value, " \t"); /* OWS */
				if (strspn(p, "0123456789") == 0)
					abort();
			}
		}
		if (layout != 0 || hosts > 1 || (hosts == 0 && strcmp(version, "1.1") == 0) || lengths > 1 ||
		    (lengths > 0 && codings > 0) || codings > 1 || !request_method_known(method))
			abort();
		if (target[0] == '/')
			check_decoded(target);
	}
	/* The decoder takes any text, whatever the checks said. */
	check_decoded(target);
	free(text);
	return 0;
}
