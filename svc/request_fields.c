/* request_fields.h */
#include "svc/request_fields.h"

#include <string.h>

bool
svc_validate_id(long long id, const char *field, rpc_status *st)
{
	if (id > 0)
		return true;
	rpc_status_add_violation(st, field, "%s must be a positive integer", field);
	return false;
}

bool
svc_idempotency_key(const rpc_call *call, const char **key, rpc_status *st)
{
	*key = rpc_call_metadata(call, "idempotency-key");
	if (*key == NULL || strlen(*key) <= SVC_IDEMPOTENCY_KEY_MAX)
		return true;
	rpc_status_add_violation(
	    st, "Idempotency-Key", "Idempotency-Key must be at most %d characters", SVC_IDEMPOTENCY_KEY_MAX);
	return false;
}
