/* The status type and the nng → status mapping. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <nng/nng.h>
#include <string.h>

#include "rpc/status.h"

Test(rpc_status, set_formats_the_message_and_returns_the_code)
{
	rpc_status st;
	rpc_status_clear(&st);
	cr_assert_eq(rpc_status_set(&st, RPC_NOT_FOUND, "user %d not found", 7), RPC_NOT_FOUND);
	cr_assert_eq(st.code, RPC_NOT_FOUND);
	cr_assert_str_eq(st.message, "user 7 not found");
}

Test(rpc_status, set_on_null_status_only_returns_the_code)
{
	cr_assert_eq(rpc_status_set(NULL, RPC_INTERNAL, "x"), RPC_INTERNAL);
	rpc_status_add_violation(NULL, "f", "ignored");
	rpc_status_clear(NULL);
}

Test(rpc_status, long_messages_are_truncated_not_overflowed)
{
	rpc_status st;
	char big[1000];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	rpc_status_set(&st, RPC_INTERNAL, "%s", big);
	cr_assert_eq(strlen(st.message), RPC_MESSAGE_MAX - 1);
}

Test(rpc_status, violations_make_invalid_argument_and_keep_their_order)
{
	rpc_status st;
	rpc_status_clear(&st);
	rpc_status_add_violation(&st, "name", "name must not be empty");
	rpc_status_add_violation(&st, "email", "email must be a valid email address");
	cr_assert_eq(st.code, RPC_INVALID_ARGUMENT);
	cr_assert_str_eq(st.message, "invalid argument");
	cr_assert_eq(st.n_violations, 2);
	cr_assert_str_eq(st.violations[1].field, "email");
	cr_assert_str_eq(st.violations[1].description, "email must be a valid email address");
}

Test(rpc_status, violations_past_the_limit_are_counted_as_dropped)
{
	rpc_status st;
	rpc_status_clear(&st);
	for (int i = 0; i < RPC_MAX_VIOLATIONS + 3; i++)
		rpc_status_add_violation(&st, "f", "problem %d", i);
	cr_assert_eq(st.n_violations, RPC_MAX_VIOLATIONS);
	cr_assert_eq(st.n_dropped, 3);
}

Test(rpc_status, code_names_round_trip)
{
	for (int c = 0; c <= RPC_CODE_MAX; c++) {
		rpc_code back;
		cr_assert_eq(rpc_code_from_name(rpc_code_name((rpc_code) c), &back), 0);
		cr_assert_eq((int) back, c);
	}
	cr_assert_str_eq(rpc_code_name(RPC_DEADLINE_EXCEEDED), "DEADLINE_EXCEEDED");
	cr_assert_str_eq(rpc_code_name((rpc_code) 99), "UNKNOWN");
	rpc_code unused;
	cr_assert_eq(rpc_code_from_name("NOPE", &unused), -1);
}

struct nng_case {
	int err;
	rpc_code code;
};

ParameterizedTestParameters(rpc_status, nng_errors_map_to_codes)
{
	static struct nng_case cases[] = {
	    {0, RPC_OK},
	    {NNG_ETIMEDOUT, RPC_DEADLINE_EXCEEDED},
	    {NNG_ECONNREFUSED, RPC_UNAVAILABLE},
	    {NNG_ECONNRESET, RPC_UNAVAILABLE},
	    {NNG_ECLOSED, RPC_UNAVAILABLE},
	    {NNG_ECONNSHUT, RPC_UNAVAILABLE},
	    {NNG_ENOMEM, RPC_RESOURCE_EXHAUSTED},
	    {NNG_EPROTO, RPC_INTERNAL},
	};
	return cr_make_param_array(struct nng_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct nng_case *c, rpc_status, nng_errors_map_to_codes)
{
	cr_assert_eq(rpc_code_from_nng(c->err), c->code, "nng error %d", c->err);
}
