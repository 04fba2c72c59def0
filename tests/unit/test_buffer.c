/* base/buffer: growth, printf, the caller's storage, steal, reset, and the
 * failure that sticks. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buffer.h"

Test(buffer, a_zeroed_buffer_is_empty_and_frees)
{
	buffer b = BUFFER_INIT;
	cr_assert_null(b.data);
	cr_assert_eq(b.len, 0);
	buffer_free(&b);
	buffer_free(&b); /* twice is fine */
	buffer_free(NULL);
}

Test(buffer, appends_keep_the_bytes_and_a_final_nul)
{
	buffer b = BUFFER_INIT;
	cr_assert(buffer_append(&b, "ab", 2));
	cr_assert(buffer_append_str(&b, "cd"));
	cr_assert(buffer_append(&b, "", 0));
	cr_assert_eq(b.len, 4);
	cr_assert_str_eq(b.data, "abcd");
	cr_assert(buffer_append(&b, "x\0y", 3)); /* bytes, not only text */
	cr_assert_eq(b.len, 7);
	cr_assert_eq(memcmp(b.data, "abcdx\0y", 8), 0);
	buffer_free(&b);
	cr_assert_null(b.data);
}

Test(buffer, grows_by_doubling_past_many_appends)
{
	buffer b = BUFFER_INIT;
	for (int i = 0; i < 10000; i++)
		cr_assert(buffer_append(&b, "0123456789", 10));
	cr_assert_eq(b.len, 100000);
	cr_assert_geq(b.cap, b.len + 1);
	cr_assert_lt(b.cap, 2 * (b.len + 1) + 256, "capacity %zu for %zu bytes", b.cap, b.len);
	for (size_t i = 0; i < b.len; i++)
		cr_assert_eq(b.data[i], '0' + (char) (i % 10));
	cr_assert_eq(b.data[b.len], '\0');
	buffer_free(&b);
}

Test(buffer, printf_appends_formatted_text_of_any_length)
{
	buffer b = BUFFER_INIT;
	cr_assert(buffer_printf(&b, "%s=%d;", "a", 1));
	char big[1000];
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cr_assert(buffer_printf(&b, "[%s]", big)); /* longer than the free room */
	cr_assert_eq(b.len, 4 + 1 + 999 + 1);
	cr_assert_eq(strncmp(b.data, "a=1;[zzz", 8), 0);
	cr_assert_eq(b.data[b.len - 1], ']');
	cr_assert_eq(strlen(b.data), b.len);
	buffer_free(&b);
}

Test(buffer, starts_in_the_callers_storage_and_moves_to_the_heap)
{
	char stack[8];
	buffer b;
	buffer_init_on(&b, stack, sizeof(stack));
	cr_assert(buffer_append_str(&b, "1234567"));
	cr_assert_eq(b.data, stack, "what fits stays in the caller's storage");
	cr_assert(buffer_append_str(&b, "89"));
	cr_assert_neq(b.data, stack);
	cr_assert_str_eq(b.data, "123456789");
	cr_assert_eq(memcmp(stack, "1234567", 7), 0);
	buffer_free(&b); /* frees the heap copy, never the stack */
}

Test(buffer, steal_hands_over_the_text_and_leaves_the_buffer_empty)
{
	buffer b = BUFFER_INIT;
	buffer_printf(&b, "n=%d", 42);
	size_t len = 0;
	char *s    = buffer_steal(&b, &len);
	cr_assert_str_eq(s, "n=42");
	cr_assert_eq(len, 4);
	cr_assert_null(b.data);
	cr_assert_eq(b.len, 0);
	free(s);

	s = buffer_steal(&b, NULL); /* empty: "" of its own */
	cr_assert_str_eq(s, "");
	free(s);

	char stack[16];
	buffer_init_on(&b, stack, sizeof(stack));
	buffer_append_str(&b, "on the stack");
	s = buffer_steal(&b, &len); /* a copy the caller may free */
	cr_assert_str_eq(s, "on the stack");
	cr_assert_eq(len, 12);
	free(s);
}

Test(buffer, reset_empties_and_keeps_the_memory)
{
	buffer b = BUFFER_INIT;
	buffer_append_str(&b, "something");
	char *kept = b.data;
	buffer_reset(&b);
	cr_assert_eq(b.len, 0);
	cr_assert_str_eq(b.data, "");
	cr_assert_eq(b.data, kept);
	buffer_append_str(&b, "else");
	cr_assert_str_eq(b.data, "else");
	buffer_free(&b);
}

/* A size that cannot be had fails the append and every later one, keeps
 * what was there whole, and steal reports it instead of returning a cut
 * text. (The size overflows before malloc is asked, so this runs under
 * ASan too.) */
Test(buffer, a_failed_append_is_reported_and_sticks_until_reset)
{
	buffer b = BUFFER_INIT;
	cr_assert(buffer_append_str(&b, "kept"));
	cr_assert_not(buffer_append(&b, "x", SIZE_MAX - 2));
	cr_assert(b.failed);
	cr_assert_str_eq(b.data, "kept");
	cr_assert_not(buffer_append_str(&b, "more"), "a later append must fail too");
	cr_assert_not(buffer_printf(&b, "%d", 1));
	cr_assert_str_eq(b.data, "kept");
	cr_assert_null(buffer_steal(&b, NULL));
	cr_assert_null(b.data, "steal frees a failed buffer");

	cr_assert(buffer_append_str(&b, "ok"));
	cr_assert_not(buffer_append(&b, "x", SIZE_MAX / 2));
	buffer_reset(&b);
	cr_assert_not(b.failed);
	cr_assert(buffer_append_str(&b, "again"));
	cr_assert_str_eq(b.data, "again");
	buffer_free(&b);
}
