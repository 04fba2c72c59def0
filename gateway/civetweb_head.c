/* civetweb_head.h: CivetWeb 1.15's parsed request, and its layout. */
#include "civetweb_head.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "base/log.h"
#include "civetweb_conn.h"

/* The bytes right after a line's last string: CR and LF, both NUL now.
 * Returns the layout bit a different ending shows. */
static unsigned
line_end(const char *end)
{
	return end[1] != '\0' ? REQUEST_LAYOUT_BARE_LF : 0;
}

/* After the last field line, whose CR LF are end[0] and end[1] (both NUL
 * now), the empty line that ends the head: CR, then LF (which CivetWeb also
 * overwrote). With a bare LF after the field instead, end[1] was the head's
 * last byte and end[2] is not the head's: a byte of the body, of a request
 * behind, or of an earlier one (the buffer is reused), or past the buffer
 * when the head filled it. So end[2] is read only below limit, and such a
 * stray byte can only make the answer a refusal, except a stray "\r\0",
 * which lets a bare-LF ending pass (RFC 9112 2.2 lets a recipient accept
 * those). */
static unsigned
head_end(const char *end, const char *limit)
{
	if (end + 2 >= limit)
		return REQUEST_LAYOUT_BARE_LF; /* end[1] ended the buffer, so the head */
	if (end[2] == ' ' || end[2] == '\t')
		return REQUEST_LAYOUT_OBS_FOLD;
	if (end + 3 < limit && end[2] == '\r' && end[3] == '\0')
		return 0;
	if (end[2] == '\0')
		return REQUEST_LAYOUT_BARE_LF; /* "\r\n\n": an LF alone ended the head */
	return REQUEST_LAYOUT_UNPARSED;
}

/* What CivetWeb skipped before the method. It skips any white space there
 * (parse_http_request), but takes an empty line of it ("\n\n", "\r\n\r\n")
 * for a whole head (read_message), so the request's own bytes are then read
 * a second time, as its body or as the next request, and the head is parsed
 * from whatever the reused buffer held after what arrived. RFC 9112 2.2: a
 * server SHOULD ignore at least one empty line (CRLF) before the
 * request-line; that is all that is let through. */
static unsigned
leading(const char *start, const char *method)
{
	size_t skipped = (size_t) (method - start);
	if (skipped == 0 || (skipped == 2 && start[0] == '\r' && start[1] == '\n'))
		return 0;
	return REQUEST_LAYOUT_LEADING_WS;
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
		fields[i] = (request_field){ri->http_headers[i].name, ri->http_headers[i].value};

	/* The buffer the head lies in (civetweb_conn.h): every byte read below
	 * past a string's end is checked against its end. Unknown only if
	 * CivetWeb stopped reading requests with recv() into a buffer of
	 * CIVETWEB_REQUEST_BUFFER bytes: then nothing past the head's last
	 * known byte is read, and what only those bytes show is not checked. */
	const char *start = civetweb_conn_buffer();
	const char *limit = NULL;
	if (start != NULL && method >= start && method < start + CIVETWEB_REQUEST_BUFFER) {
		limit = start + CIVETWEB_REQUEST_BUFFER;
		mark(h, leading(start, method), -1);
	} else {
		static atomic_flag warned = ATOMIC_FLAG_INIT;
		if (!atomic_flag_test_and_set(&warned))
			log_warn(
			    NULL, "civetweb_buffer_unknown (what follows a request's last field line is not checked)");
	}

	/* method SP target SP "HTTP/" version CRLF (RFC 9112 3): one NUL
	 * between parts. The query was split off at '?' since. */
	const char *target_end =
	    ri->query_string != NULL ? ri->query_string + strlen(ri->query_string) : target + strlen(target);
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
		if (i + 1 == ri->num_headers && end[1] == '\0' && limit != NULL)
			mark(h, head_end(end, limit), i);
	}
}

bool
civetweb_head_line_parsed(const struct mg_request_info *ri)
{
	/* CivetWeb steps http_version past "HTTP/" only once the line checks
	 * out (parse_http_request); the five bytes before it are then in the
	 * buffer, after the method and target. */
	const char *start = civetweb_conn_buffer(), *v = ri->http_version;
	return v != NULL && ri->request_method != NULL && start != NULL && v - 5 >= start &&
	       v < start + CIVETWEB_REQUEST_BUFFER && memcmp(v - 5, "HTTP/", 5) == 0;
}
