/* civetweb_head.h: CivetWeb 1.15's parsed request, and its layout. */
#include "civetweb_head.h"

#include <string.h>

/* The bytes right after a line's last string: CR and LF, both NUL now.
 * Returns the layout bit a different ending shows. */
static unsigned
line_end(const char *end)
{
	return end[1] != '\0' ? REQUEST_LAYOUT_BARE_LF : 0;
}

/* After the last field line, the empty line that ends the head: CR, then LF
 * (which CivetWeb also overwrote). */
static unsigned
head_end(const char *end)
{
	if (end[2] == '\r' && end[3] == '\0')
		return 0;
	if (end[2] == ' ' || end[2] == '\t')
		return REQUEST_LAYOUT_OBS_FOLD;
	if (end[2] == '\0')
		return REQUEST_LAYOUT_BARE_LF; /* "\r\n\n" or "\n\n": an LF alone ended the head */
	return REQUEST_LAYOUT_UNPARSED;
}

static void
mark(request_head *h, unsigned bit, int field)
{
	if (bit != 0 && h->layout == 0)
		h->layout_field = field;
	h->layout |= bit;
}

void
civetweb_head(const struct mg_request_info *ri, request_field fields[MG_MAX_HEADERS], request_head *h)
{
	const char *method = ri->request_method, *target = ri->request_uri, *version = ri->http_version;
	h->method       = method;
	h->version      = version;
	h->target       = target;
	h->query        = ri->query_string;
	h->n_fields     = ri->num_headers;
	h->fields       = fields;
	h->layout       = 0;
	h->layout_field = -1;
	for (int i = 0; i < ri->num_headers; i++)
		fields[i] = (request_field) {ri->http_headers[i].name, ri->http_headers[i].value};

	/* Every byte read below lies in the buffer, which starts at or before
	 * the method: check the last one first. One gap remains: CivetWeb
	 * skips white space before the method, which no pointer shows, so a
	 * head that starts with some, fills the buffer to its last byte and
	 * ends with a bare "\n\n" has its two bytes after the head read past
	 * the buffer's end (a read of the heap, no write). */
	const char *last = ri->num_headers > 0 ? ri->http_headers[ri->num_headers - 1].value : version;
	const char *last_end = last + strlen(last);
	if (last_end + 4 - method > CIVETWEB_REQUEST_BUFFER) {
		mark(h, REQUEST_LAYOUT_TOO_LARGE, -1);
		return;
	}

	/* method SP target SP "HTTP/" version CRLF (RFC 9112 3): one NUL
	 * between parts. The query was split off at '?' since. */
	const char *target_end = ri->query_string != NULL ? ri->query_string + strlen(ri->query_string)
	                                                  : target + strlen(target);
	if (target != method + strlen(method) + 1 || version - 5 != target_end + 1)
		mark(h, REQUEST_LAYOUT_LINE_WS, -1);
	const char *end = version + strlen(version);
	mark(h, line_end(end), -1);
	if (ri->num_headers == 0)
		return; /* the version's white-space run took the empty line too */
	if (end[1] == '\0' && ri->http_headers[0].name != end + 2)
		mark(h, REQUEST_LAYOUT_LINE_WS, -1); /* white space after the request line was eaten */

	for (int i = 0; i < ri->num_headers; i++) {
		const char *name = ri->http_headers[i].name, *value = ri->http_headers[i].value;
		/* name ":" OWS value: exactly one NUL (the colon) after the name. */
		const char *p = name + strlen(name);
		int nuls      = 0;
		while (p < value && *p == '\0') {
			nuls++;
			p++;
		}
		if (nuls != 1)
			mark(h, REQUEST_LAYOUT_WS_BEFORE_COLON, i);
		end = value + strlen(value);
		mark(h, line_end(end), i);
		if (i + 1 == ri->num_headers && end[1] == '\0')
			mark(h, head_end(end), i);
	}
}
