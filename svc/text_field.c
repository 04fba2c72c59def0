/* text_field.h: a trimmed text field's rules. */
#include "svc/text_field.h"

#include <stdio.h>

#include "base/utf8.h"

bool
text_field_check(const char *in, const char *field, size_t max_chars, char *out, size_t out_len, rpc_status *st)
{
	size_t len;
	const char *trimmed = utf8_trim(in, &len);
	size_t chars        = utf8_chars(trimmed, len);
	if (!utf8_valid(in)) /* the gateway only sends UTF-8; other callers may not */
		rpc_status_add_violation(st, field, "%s must be valid UTF-8", field);
	else if (utf8_has_control(trimmed, len))
		rpc_status_add_violation(st, field, "%s must not contain control characters", field);
	else if (!utf8_has_visible(trimmed, len))
		rpc_status_add_violation(st, field, "%s must not be empty", field);
	else if (chars > max_chars || len >= out_len)
		rpc_status_add_violation(st, field, "%s must be at most %zu characters", field, max_chars);
	else {
		snprintf(out, out_len, "%.*s", (int) len, trimmed);
		return true;
	}
	return false;
}
