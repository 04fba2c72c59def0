/* One status type from handler to gateway: a gRPC code, a message and the
 * field violations of an INVALID_ARGUMENT. Fixed size, so nothing is
 * allocated on an error path.
 *
 * The error idiom of the services and the runtime: a function that can fail
 * with a code and a message reports through one rpc_status *st and nothing
 * else. It returns either its rpc_code, which is st->code whenever it is not
 * RPC_OK (so `return rpc_status_set(st, ...)`), or its result (a pointer,
 * NULL on failure) with the reason in st; never a code out-parameter or a
 * reason buffer beside st. A yes/no answer is a bool: a validator returns
 * true for valid input, else false with its violations added to st (which
 * gathers every field's). */
#ifndef RPC_STATUS_H
#define RPC_STATUS_H

#include <stdbool.h>
#include <stddef.h>

/* The gRPC code set; values are checked against rpc.proto's Code enum in
 * rpc/status.c. */
typedef enum rpc_code {
	RPC_OK                  = 0,
	RPC_CANCELLED           = 1,
	RPC_UNKNOWN             = 2,
	RPC_INVALID_ARGUMENT    = 3,
	RPC_DEADLINE_EXCEEDED   = 4,
	RPC_NOT_FOUND           = 5,
	RPC_ALREADY_EXISTS      = 6,
	RPC_PERMISSION_DENIED   = 7,
	RPC_RESOURCE_EXHAUSTED  = 8,
	RPC_FAILED_PRECONDITION = 9,
	RPC_ABORTED             = 10,
	RPC_OUT_OF_RANGE        = 11,
	RPC_UNIMPLEMENTED       = 12,
	RPC_INTERNAL            = 13,
	RPC_UNAVAILABLE         = 14,
	RPC_DATA_LOSS           = 15,
	RPC_UNAUTHENTICATED     = 16,
} rpc_code;

#define RPC_CODE_MAX 16
#define RPC_MAX_VIOLATIONS 16
#define RPC_FIELD_MAX 96
#define RPC_DESCRIPTION_MAX 224
#define RPC_MESSAGE_MAX 256

typedef struct rpc_violation {
	char field[RPC_FIELD_MAX];             /* "email", "items[2].price" */
	char description[RPC_DESCRIPTION_MAX]; /* names the field: "email must ..." */
} rpc_violation;

typedef struct rpc_status {
	rpc_code code;
	bool remote; /* the code came in a reply from the service, not from the transport */
	char message[RPC_MESSAGE_MAX];
	size_t n_violations;
	size_t n_dropped; /* violations past RPC_MAX_VIOLATIONS */
	rpc_violation violations[RPC_MAX_VIOLATIONS];
} rpc_status;

/* Resets st to OK with no message and no violations. st may be NULL. */
void rpc_status_clear(rpc_status *st);

/* Sets code and a printf-formatted message (truncated to fit) and returns
 * code, so a caller can write `return rpc_status_set(st, ...)`. st may be
 * NULL, then only code is returned. */
rpc_code rpc_status_set(rpc_status *st, rpc_code code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Adds a field violation and makes the status INVALID_ARGUMENT (message
 * "invalid argument" unless one was set). Past RPC_MAX_VIOLATIONS the
 * violation is counted in n_dropped. st may be NULL. */
void rpc_status_add_violation(rpc_status *st, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "NOT_FOUND" for RPC_NOT_FOUND; "UNKNOWN" for a value outside the set. */
const char *rpc_code_name(rpc_code code);

/* Parses a name such as "NOT_FOUND"; returns 0 and sets *out, or -1. */
int rpc_code_from_name(const char *name, rpc_code *out);

/* The one mapping from an nng error to a status code. */
rpc_code rpc_code_from_nng(int nng_err);

#endif
