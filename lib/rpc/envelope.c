/* rpc_envelope.h: the wire format of requests and replies. */
#include "rpc/envelope.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t
rpc_clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Packs any envelope into a new nng message of exactly its size. */
static int
pack_message(nng_msg **out, const ProtobufCMessage *envelope)
{
	size_t size = protobuf_c_message_get_packed_size(envelope);
	nng_msg *msg;
	int rv = nng_msg_alloc(&msg, size);
	if (rv != 0)
		return rv;
	protobuf_c_message_pack(envelope, nng_msg_body(msg));
	*out = msg;
	return 0;
}

int
rpc_envelope_pack_request(nng_msg **out, const rpc_request_header *hdr, const uint8_t *payload, size_t payload_len)
{
	Rpc__Request req = RPC__REQUEST__INIT;
	req.method       = (char *) hdr->method;
	req.request_id   = (char *) (hdr->request_id != NULL ? hdr->request_id : "");
	req.timeout_ms   = hdr->timeout_ms;
	req.payload.len  = payload_len;
	req.payload.data = (uint8_t *) payload;

	/* The envelope borrows everything; only the pointer arrays are ours. */
	Rpc__Metadata items[16];
	Rpc__Metadata *ptrs[16];
	size_t n = hdr->n_metadata < 16 ? hdr->n_metadata : 16;
	for (size_t i = 0; i < n; i++) {
		rpc__metadata__init(&items[i]);
		items[i].key   = (char *) hdr->metadata[i].key;
		items[i].value = (char *) hdr->metadata[i].value;
		ptrs[i]        = &items[i];
	}
	req.n_metadata = n;
	req.metadata   = ptrs;
	return pack_message(out, &req.base);
}

Rpc__Request *
rpc_envelope_unpack_request(const nng_msg *msg)
{
	return rpc__request__unpack(NULL, nng_msg_len(msg), nng_msg_body((nng_msg *) msg));
}

/* Every byte of s within [lo, hi], and its length within [min, max]. */
static bool
ascii_text(const char *s, size_t min, size_t max, unsigned char lo, unsigned char hi)
{
	size_t n = 0;
	for (; s[n] != '\0'; n++) {
		if (n == max || (unsigned char) s[n] < lo || (unsigned char) s[n] > hi)
			return false;
	}
	return n >= min;
}

static bool
metadata_key_valid(const char *s)
{
	size_t n = 0;
	for (; s[n] != '\0'; n++) {
		if (n == 64 || strchr("abcdefghijklmnopqrstuvwxyz0123456789-_.", s[n]) == NULL)
			return false;
	}
	return n > 0;
}

bool
rpc_request_id_valid(const char *s)
{
	return s != NULL && ascii_text(s, 1, RPC_REQUEST_ID_MAX, 0x21, 0x7e);
}

rpc_code
rpc_envelope_check_request(const Rpc__Request *req, rpc_status *st)
{
	rpc_status_clear(st);
	if (!ascii_text(req->request_id, 0, RPC_REQUEST_ID_MAX, 0x21, 0x7e))
		rpc_status_add_violation(
		    st, "request_id", "request_id must be at most %d visible ASCII characters", RPC_REQUEST_ID_MAX);
	if (!ascii_text(req->method, 0, 256, 0x21, 0x7e)) /* an empty one is merely unknown: UNIMPLEMENTED */
		rpc_status_add_violation(st, "method", "method must be at most 256 visible ASCII characters");
	for (size_t i = 0; i < req->n_metadata; i++) {
		const Rpc__Metadata *m = req->metadata[i];
		if (!metadata_key_valid(m->key)) {
			rpc_status_add_violation(
			    st, "metadata", "metadata keys must be 1-64 of a-z, 0-9, '-', '_', '.'");
		} else if (!ascii_text(m->value, 0, RPC_METADATA_VALUE_MAX, 0x20, 0x7e)) {
			char field[80];
			snprintf(field, sizeof(field), "metadata.%s", m->key);
			rpc_status_add_violation(st, field, "%s must be at most %d printable ASCII characters", m->key,
			    RPC_METADATA_VALUE_MAX);
		}
	}
	return st->n_violations == 0 ? RPC_OK : st->code;
}

const char *
rpc_envelope_metadata(const Rpc__Request *req, const char *key)
{
	for (size_t i = 0; i < req->n_metadata; i++) {
		if (strcmp(req->metadata[i]->key, key) == 0)
			return req->metadata[i]->value;
	}
	return NULL;
}

int
rpc_envelope_pack_reply(nng_msg **out, const rpc_status *st, const ProtobufCMessage *payload)
{
	Rpc__Reply reply = RPC__REPLY__INIT;
	Rpc__FieldViolation items[RPC_MAX_VIOLATIONS];
	Rpc__FieldViolation *ptrs[RPC_MAX_VIOLATIONS];
	uint8_t stack_buf[512];
	uint8_t *buf = NULL;

	reply.code    = (Rpc__Code) st->code;
	reply.message = (char *) st->message;
	if (st->code == RPC_OK && payload != NULL) {
		size_t size = protobuf_c_message_get_packed_size(payload);
		buf         = size <= sizeof(stack_buf) ? stack_buf : malloc(size);
		if (buf == NULL)
			return NNG_ENOMEM;
		protobuf_c_message_pack(payload, buf);
		reply.payload.data = buf;
		reply.payload.len  = size;
	} else if (st->code != RPC_OK) {
		for (size_t i = 0; i < st->n_violations; i++) {
			rpc__field_violation__init(&items[i]);
			items[i].field       = (char *) st->violations[i].field;
			items[i].description = (char *) st->violations[i].description;
			ptrs[i]              = &items[i];
		}
		reply.n_violations = st->n_violations;
		reply.violations   = ptrs;
	}
	int rv = pack_message(out, &reply.base);
	if (buf != stack_buf)
		free(buf);
	return rv;
}

rpc_code
rpc_envelope_unpack_reply(const nng_msg *msg, Rpc__Reply **reply, rpc_status *st)
{
	*reply        = NULL;
	Rpc__Reply *r = rpc__reply__unpack(NULL, nng_msg_len(msg), nng_msg_body((nng_msg *) msg));
	if (r == NULL)
		return rpc_status_set(st, RPC_INTERNAL, "malformed reply envelope");
	rpc_code code = r->code >= 0 && r->code <= RPC_CODE_MAX ? (rpc_code) r->code : RPC_UNKNOWN;
	rpc_status_clear(st);
	if (code != RPC_OK) {
		for (size_t i = 0; i < r->n_violations; i++) {
			rpc_status_add_violation(st, r->violations[i]->field, "%s", r->violations[i]->description);
		}
		/* After the violations, which would preset INVALID_ARGUMENT. */
		rpc_status_set(st, code, "%s", r->message);
		if (st != NULL)
			st->remote = true;
		rpc__reply__free_unpacked(r, NULL);
		return code;
	}
	*reply = r;
	return RPC_OK;
}
