/* Envelope pack/unpack, against golden bytes for the wire format. */
#include <criterion/criterion.h>
#include <string.h>

#include "rpc/envelope.h"
#include "users.pb-c.h"

Test(rpc_envelope, request_packs_to_the_documented_bytes)
{
	const uint8_t payload[] = {0x08, 0x07}; /* GetUserRequest{id: 7} */
	rpc_metadata md[]       = {{"k", "v"}};
	rpc_request_header hdr  = {
	     .method = "u.S/M", .request_id = "r1", .timeout_ms = 300, .metadata = md, .n_metadata = 1};
	nng_msg *msg;
	cr_assert_eq(rpc_envelope_pack_request(&msg, &hdr, payload, sizeof(payload)), 0);
	const uint8_t golden[] = {
	    0x0a, 0x05, 'u', '.', 'S', '/', 'M',          /* 1: method */
	    0x12, 0x02, 0x08, 0x07,                       /* 2: payload */
	    0x1a, 0x02, 'r', '1',                         /* 3: request_id */
	    0x20, 0xac, 0x02,                             /* 4: timeout_ms 300 */
	    0x2a, 0x06, 0x0a, 0x01, 'k', 0x12, 0x01, 'v', /* 5: metadata */
	};
	cr_assert_eq(nng_msg_len(msg), sizeof(golden));
	cr_assert_arr_eq(nng_msg_body(msg), golden, sizeof(golden));

	Rpc__Request *req = rpc_envelope_unpack_request(msg);
	cr_assert_not_null(req);
	cr_assert_str_eq(req->method, "u.S/M");
	cr_assert_str_eq(req->request_id, "r1");
	cr_assert_eq(req->timeout_ms, 300);
	cr_assert_str_eq(rpc_envelope_metadata(req, "k"), "v");
	cr_assert_null(rpc_envelope_metadata(req, "missing"));
	Users__GetUserRequest *get = users__get_user_request__unpack(NULL, req->payload.len, req->payload.data);
	cr_assert_eq(get->id, 7);
	users__get_user_request__free_unpacked(get, NULL);
	rpc__request__free_unpacked(req, NULL);
	nng_msg_free(msg);
}

Test(rpc_envelope, error_reply_carries_code_message_and_violations)
{
	rpc_status st;
	rpc_status_clear(&st);
	rpc_status_add_violation(&st, "email", "email must be a valid email address");
	nng_msg *msg;
	cr_assert_eq(rpc_envelope_pack_reply(&msg, &st, NULL), 0);
	const uint8_t golden_start[] = {0x08, 0x03, 0x12, 0x10}; /* code 3, message of 16 bytes */
	cr_assert_arr_eq(nng_msg_body(msg), golden_start, sizeof(golden_start));

	rpc_status back;
	Rpc__Reply *reply;
	cr_assert_eq(rpc_envelope_unpack_reply(msg, &reply, &back), RPC_INVALID_ARGUMENT);
	cr_assert_null(reply);
	cr_assert_str_eq(back.message, "invalid argument");
	cr_assert_eq(back.n_violations, 1);
	cr_assert_str_eq(back.violations[0].field, "email");
	nng_msg_free(msg);
}

Test(rpc_envelope, non_validation_errors_keep_their_code_and_message)
{
	rpc_status st;
	rpc_status_clear(&st);
	rpc_status_set(&st, RPC_FAILED_PRECONDITION, "not yet");
	nng_msg *msg;
	cr_assert_eq(rpc_envelope_pack_reply(&msg, &st, NULL), 0);
	rpc_status back;
	Rpc__Reply *reply;
	cr_assert_eq(rpc_envelope_unpack_reply(msg, &reply, &back), RPC_FAILED_PRECONDITION);
	cr_assert_str_eq(back.message, "not yet");
	nng_msg_free(msg);
}

Test(rpc_envelope, ok_reply_carries_the_payload)
{
	Users__User user = USERS__USER__INIT;
	user.id          = 12;
	user.name        = "Ada";
	user.email       = "ada@example.com";
	rpc_status st;
	rpc_status_clear(&st);
	nng_msg *msg;
	cr_assert_eq(rpc_envelope_pack_reply(&msg, &st, &user.base), 0);
	Rpc__Reply *reply;
	cr_assert_eq(rpc_envelope_unpack_reply(msg, &reply, &st), RPC_OK);
	Users__User *back = users__user__unpack(NULL, reply->payload.len, reply->payload.data);
	cr_assert_not_null(back);
	cr_assert_eq(back->id, 12);
	cr_assert_str_eq(back->email, "ada@example.com");
	users__user__free_unpacked(back, NULL);
	rpc__reply__free_unpacked(reply, NULL);
	nng_msg_free(msg);
}

Test(rpc_envelope, garbage_is_not_an_envelope)
{
	nng_msg *msg;
	nng_msg_alloc(&msg, 0);
	const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
	nng_msg_append(msg, garbage, sizeof(garbage));
	cr_assert_null(rpc_envelope_unpack_request(msg));
	rpc_status st;
	Rpc__Reply *reply;
	cr_assert_eq(rpc_envelope_unpack_reply(msg, &reply, &st), RPC_INTERNAL);
	cr_assert_null(reply);
	nng_msg_free(msg);
}

Test(rpc_envelope, clock_is_monotonic)
{
	int64_t a = rpc_clock_ms(), b = rpc_clock_ms();
	cr_assert(b >= a);
}
