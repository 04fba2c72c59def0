/* libFuzzer: the RPC envelope decoders, as a server and a client meet
 * bytes off the wire. */
#include <nng/nng.h>
#include <stdint.h>
#include <stdlib.h>

#include "rpc/envelope.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	nng_msg *msg;
	if (nng_msg_alloc(&msg, 0) != 0 || nng_msg_append(msg, data, size) != 0)
		abort();
	Rpc__Request *req = rpc_envelope_unpack_request(msg);
	if (req != NULL) {
		(void) rpc_envelope_metadata(req, "idempotency-key");
		rpc__request__free_unpacked(req, NULL);
	}
	rpc_status st;
	Rpc__Reply *reply;
	if (rpc_envelope_unpack_reply(msg, &reply, &st) == RPC_OK)
		rpc__reply__free_unpacked(reply, NULL);
	else if (st.code == RPC_OK)
		abort();
	nng_msg_free(msg);
	return 0;
}
