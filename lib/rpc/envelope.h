/* The request and reply envelopes of rpc.proto, packed into and unpacked
 * from nng messages. Both sides of the RPC use these and nothing else to
 * touch the wire format. */
#ifndef RPC_ENVELOPE_H
#define RPC_ENVELOPE_H

#include <nng/nng.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpc.pb-c.h"
#include "rpc/status.h"

/* Milliseconds on a monotonic clock, for deadlines. */
int64_t rpc_clock_ms(void);

typedef struct rpc_metadata {
	const char *key;
	const char *value;
} rpc_metadata;

typedef struct rpc_request_header {
	const char *method;     /* full name: "users.UserService/GetUser" */
	const char *request_id; /* may be NULL */
	uint32_t timeout_ms;    /* remaining budget; 0 lets the server choose */
	const rpc_metadata *metadata;
	size_t n_metadata;
} rpc_request_header;

/* Packs a request envelope around payload bytes. On success *out belongs
 * to the caller (nng frees it after a successful send). Returns 0 or an
 * nng error (NNG_ENOMEM). */
int rpc_envelope_pack_request(nng_msg **out, const rpc_request_header *hdr, const uint8_t *payload, size_t payload_len);

/* Unpacks a request envelope; NULL when the bytes are not one. Free the
 * result with rpc__request__free_unpacked(r, NULL). msg stays the caller's. */
Rpc__Request *rpc_envelope_unpack_request(const nng_msg *msg);

/* The text an envelope carries ends up in logs, SQL parameters and events,
 * so it is checked before any handler sees it:
 *   request id      at most RPC_REQUEST_ID_MAX visible ASCII characters
 *                   (0x21-0x7e; empty means none), the rule the gateway
 *                   applies to X-Request-Id;
 *   method          at most 256 visible ASCII characters;
 *   metadata keys   1-64 of a-z 0-9 - _ . (lower case, as HTTP/2 field names);
 *   metadata values at most RPC_METADATA_VALUE_MAX printable ASCII
 *                   characters (0x20-0x7e: an RFC 8941 sf-string).
 * Returns RPC_OK, or RPC_INVALID_ARGUMENT with one violation per bad field
 * in *st (request_id, method, metadata.KEY). */
#define RPC_REQUEST_ID_MAX 128
#define RPC_METADATA_VALUE_MAX 1024
rpc_code rpc_envelope_check_request(const Rpc__Request *req, rpc_status *st);

/* True when s is a request id the envelope may carry (above), non-empty. */
bool rpc_request_id_valid(const char *s);

/* Looks up a metadata value by key (case-sensitive); NULL when absent. The
 * result is borrowed from req. */
const char *rpc_envelope_metadata(const Rpc__Request *req, const char *key);

/* Packs a reply: when st->code is OK, payload (which may be NULL for an
 * empty message) is packed inside; otherwise the status's code, message
 * and violations. On success *out belongs to the caller. Returns 0 or an
 * nng error. */
int rpc_envelope_pack_reply(nng_msg **out, const rpc_status *st, const ProtobufCMessage *payload);

/* Unpacks a reply envelope into st (code, message, violations). On OK,
 * *reply holds the envelope, whose ->payload holds the method's reply
 * bytes; free it with rpc__reply__free_unpacked(r, NULL). Returns the
 * status code; a malformed envelope is RPC_INTERNAL and *reply is NULL. */
rpc_code rpc_envelope_unpack_reply(const nng_msg *msg, Rpc__Reply **reply, rpc_status *st);

#endif
