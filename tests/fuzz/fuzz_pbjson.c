/* libFuzzer: JSON text → request message → JSON → message again. Any input
 * must either be refused with violations or round-trip; never crash, leak
 * or read out of bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "orders.pb-c.h"
#include "rpc.pb-c.h"
#include "users.pb-c.h"
#include "json/pbjson.h"

static const ProtobufCMessageDescriptor *const targets[] = {
    &users__create_user_request__descriptor,
    &users__user__descriptor,
    &orders__create_order_request__descriptor,
    &orders__order_list__descriptor,
    &rpc__reply__descriptor,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (size_t t = 0; t < sizeof(targets) / sizeof(targets[0]); t++) {
		ProtobufCMessage *msg;
		rpc_status st;
		if (pbjson_decode(targets[t], (const char *) data, size, &msg, &st) != RPC_OK) {
			if (st.code == RPC_OK || (st.code == RPC_INVALID_ARGUMENT && st.n_violations == 0))
				abort(); /* a refusal must say why */
			continue;
		}
		buffer out = {0};
		if (pbjson_encode(msg, &out) != 0)
			abort();
		ProtobufCMessage *again;
		if (pbjson_decode(targets[t], out.data, out.len, &again, &st) != RPC_OK)
			abort(); /* what we write, we must read */
		buffer second = {0};
		pbjson_encode(again, &second);
		if (second.len != out.len || memcmp(second.data, out.data, out.len) != 0)
			abort(); /* and it must be stable */
		buffer_free(&second);
		buffer_free(&out);
		protobuf_c_message_free_unpacked(again, NULL);
		protobuf_c_message_free_unpacked(msg, NULL);
	}
	return 0;
}
