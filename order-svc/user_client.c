/* user_client.h */
#include "user_client.h"

#include <inttypes.h>

#include "base/log.h"
#include "users.pb-c.h"

rpc_code
user_client_exists(rpc_client *users, int64_t user_id, int64_t remaining_ms, const char *request_id, rpc_status *st)
{
	Users__GetUserRequest req = USERS__GET_USER_REQUEST__INIT;
	req.id                    = user_id;
	ProtobufCMessage *reply   = NULL;
	rpc_call_options opt      = {.request_id = request_id, .timeout_ms = remaining_ms > 0 ? remaining_ms : 1};
	rpc_code code =
	    rpc_client_call(users, &users__user_service__descriptor, "GetUser", &req.base, &reply, &opt, st);
	protobuf_c_message_free_unpacked(reply, NULL);
	switch (code) {
	case RPC_OK: return RPC_OK;
	case RPC_NOT_FOUND:
		rpc_status_clear(st);
		return rpc_status_set(st, RPC_NOT_FOUND, "user %" PRId64 " not found", user_id);
	default:
		/* Slow, unreachable or failing: the order cannot be checked, so it
		 * is not created. The contract answers that with 503. */
		log_warn(request_id, "user_svc_unavailable code=%s reason=\"%s\"", rpc_code_name(code),
		    st != NULL ? st->message : "-");
		rpc_status_clear(st);
		return rpc_status_set(
		    st, RPC_UNAVAILABLE, "user-svc could not be asked in time; the order was not created");
	}
}
