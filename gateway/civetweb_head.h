/* A request's head as CivetWeb 1.15 parsed it, for request_check: the
 * strings it exposes, and what its lenient parser normalised away, read from
 * where its pointers point.
 *
 * CivetWeb parses in place in its request buffer (parse_http_request,
 * parse_http_headers): it writes NUL over the SP between request-line parts,
 * over every white-space byte after the version (so a first field line that
 * starts with white space is read as a field), over white space between a
 * field name and its colon, and over each line's CR and LF. It stops reading
 * fields, without an error, at a line that does not start with a name
 * (obs-fold, a leading ':') or after MG_MAX_HEADERS (64) fields. The gateway
 * cannot see the raw bytes, but it can count the NULs between the pointers:
 * one SP between parts, CR LF after each line, one colon after each name;
 * and, knowing where the buffer starts (civetweb_conn.h), what CivetWeb
 * skipped before the method and the byte after the last field line, within
 * the buffer. What stays out of reach: which byte a NUL was (so "\r\r\n"
 * style endings inside a request line look like CRLF), and a head ending in
 * a bare "\n\n" when the byte after it, left in the reused buffer, happens
 * to be a CR followed by a NUL. */
#ifndef GATEWAY_CIVETWEB_HEAD_H
#define GATEWAY_CIVETWEB_HEAD_H

#include <civetweb.h>

#include "request_checks.h"

/* CivetWeb's request buffer, set as its max_request_size (a larger head is
 * a parse failure to CivetWeb, answered 431 by the gateway). */
#define CIVETWEB_REQUEST_BUFFER 16384
#define CIVETWEB_REQUEST_BUFFER_TEXT "16384"

/* Fills *h (fields into `fields`, which must outlive it) from ri, which must
 * be the request CivetWeb is handing to its request handler (after it split
 * the query off; with decode_url off, so the target is raw). */
void civetweb_head(const struct mg_request_info *ri, request_field fields[MG_MAX_HEADERS], request_head *h);

/* For a request CivetWeb failed to parse (its http_error callback): true
 * when its request line was parsed whole, "HTTP/" and all, so the method
 * and version it exposes are the client's; false when the parse stopped
 * earlier and ri's strings may run on into the rest of the head. */
bool civetweb_head_line_parsed(const struct mg_request_info *ri);

#endif
