/* The status type and the nng error mapping. */
#include "rpc/status.h"

#include <nng/nng.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/utf8.h"
#include "rpc.pb-c.h"

/* The C enum must stay equal to the wire enum of rpc.proto. */
#define CODE_MATCHES(ours, wire) _Static_assert((int) (ours) == (int) (wire), #ours " matches rpc.proto")
CODE_MATCHES(RPC_OK, RPC__CODE__OK);
CODE_MATCHES(RPC_CANCELLED, RPC__CODE__CANCELLED);
CODE_MATCHES(RPC_UNKNOWN, RPC__CODE__UNKNOWN);
CODE_MATCHES(RPC_INVALID_ARGUMENT, RPC__CODE__INVALID_ARGUMENT);
CODE_MATCHES(RPC_DEADLINE_EXCEEDED, RPC__CODE__DEADLINE_EXCEEDED);
CODE_MATCHES(RPC_NOT_FOUND, RPC__CODE__NOT_FOUND);
CODE_MATCHES(RPC_ALREADY_EXISTS, RPC__CODE__ALREADY_EXISTS);
CODE_MATCHES(RPC_PERMISSION_DENIED, RPC__CODE__PERMISSION_DENIED);
CODE_MATCHES(RPC_RESOURCE_EXHAUSTED, RPC__CODE__RESOURCE_EXHAUSTED);
CODE_MATCHES(RPC_FAILED_PRECONDITION, RPC__CODE__FAILED_PRECONDITION);
CODE_MATCHES(RPC_ABORTED, RPC__CODE__ABORTED);
CODE_MATCHES(RPC_OUT_OF_RANGE, RPC__CODE__OUT_OF_RANGE);
CODE_MATCHES(RPC_UNIMPLEMENTED, RPC__CODE__UNIMPLEMENTED);
CODE_MATCHES(RPC_INTERNAL, RPC__CODE__INTERNAL);
CODE_MATCHES(RPC_UNAVAILABLE, RPC__CODE__UNAVAILABLE);
CODE_MATCHES(RPC_DATA_LOSS, RPC__CODE__DATA_LOSS);
CODE_MATCHES(RPC_UNAUTHENTICATED, RPC__CODE__UNAUTHENTICATED);

void
rpc_status_clear(rpc_status *st)
{
	if (st == NULL)
		return;
	st->code         = RPC_OK;
	st->remote       = false;
	st->message[0]   = '\0';
	st->n_violations = 0;
	st->n_dropped    = 0;
}

rpc_code
rpc_status_set(rpc_status *st, rpc_code code, const char *fmt, ...)
{
	if (st == NULL)
		return code;
	st->code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(st->message, sizeof(st->message), fmt, ap);
	va_end(ap);
	utf8_trim_partial(st->message); /* a cut must not split a character */
	return code;
}

void
rpc_status_add_violation(rpc_status *st, const char *field, const char *fmt, ...)
{
	if (st == NULL)
		return;
	if (st->code != RPC_INVALID_ARGUMENT || st->message[0] == '\0') {
		st->code = RPC_INVALID_ARGUMENT;
		snprintf(st->message, sizeof(st->message), "invalid argument");
	}
	if (st->n_violations == RPC_MAX_VIOLATIONS) {
		st->n_dropped++;
		return;
	}
	rpc_violation *v = &st->violations[st->n_violations++];
	snprintf(v->field, sizeof(v->field), "%s", field);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v->description, sizeof(v->description), fmt, ap);
	va_end(ap);
	utf8_trim_partial(v->field);
	utf8_trim_partial(v->description);
}

/* protoc-c keeps each enum value's proto name in the descriptor. */
const char *
rpc_code_name(rpc_code code)
{
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&rpc__code__descriptor, (int) code);
	return v != NULL ? v->name : "UNKNOWN";
}

int
rpc_code_from_name(const char *name, rpc_code *out)
{
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value_by_name(&rpc__code__descriptor, name);
	if (v == NULL)
		return -1;
	*out = (rpc_code) v->value;
	return 0;
}

rpc_code
rpc_code_from_nng(int nng_err)
{
	switch (nng_err) {
	case 0: return RPC_OK;
	case NNG_ETIMEDOUT: return RPC_DEADLINE_EXCEEDED;
	case NNG_ECONNREFUSED:
	case NNG_ECONNRESET:
	case NNG_ECONNSHUT:
	case NNG_ECLOSED:
	case NNG_EADDRINVAL:
	case NNG_EUNREACHABLE:
	case NNG_EPEERAUTH: /* the server's certificate did not verify */
	case NNG_ECRYPTO:
	case NNG_ECANCELED: return RPC_UNAVAILABLE;
	case NNG_ENOMEM: return RPC_RESOURCE_EXHAUSTED;
	default: return RPC_INTERNAL;
	}
}
