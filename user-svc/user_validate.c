/* user_validate.h */
#include "user_validate.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "utf8.h"

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* One '@' with a non-empty local part, a domain with a dot that is neither
 * its first nor last character, no white space or control characters. */
static bool
email_ok(const char *email)
{
	const char *at = strchr(email, '@');
	if (at == NULL || at == email || strchr(at + 1, '@') != NULL)
		return false;
	for (const char *p = email; *p != '\0'; p++) {
		if (is_space(*p) || (unsigned char) *p < 0x20 || *p == 0x7f)
			return false;
	}
	const char *domain = at + 1;
	const char *dot    = strchr(domain, '.');
	size_t dlen        = strlen(domain);
	return dot != NULL && dot != domain && domain[dlen - 1] != '.' && strstr(domain, "..") == NULL;
}

bool
user_validate_create(const char *name, const char *email, char *name_out, size_t name_out_len, rpc_status *st)
{
	size_t before = st->n_violations;
	size_t len;
	const char *trimmed = utf8_trim(name, &len);
	size_t chars        = utf8_chars(trimmed, len);
	if (chars == 0)
		rpc_status_add_violation(st, "name", "name must not be empty");
	else if (chars > USER_NAME_MAX || len >= name_out_len)
		rpc_status_add_violation(st, "name", "name must be at most %d characters", USER_NAME_MAX);
	else
		snprintf(name_out, name_out_len, "%.*s", (int) len, trimmed);

	size_t email_chars = utf8_chars(email, strlen(email));
	if (email[0] == '\0')
		rpc_status_add_violation(st, "email", "email must not be empty");
	else if (email_chars > USER_EMAIL_MAX)
		rpc_status_add_violation(st, "email", "email must be at most %d characters", USER_EMAIL_MAX);
	else if (!email_ok(email))
		rpc_status_add_violation(st, "email", "email must be a valid email address");
	return st->n_violations == before;
}

bool
user_validate_id(long long id, const char *field, rpc_status *st)
{
	if (id > 0)
		return true;
	rpc_status_add_violation(st, field, "%s must be a positive integer", field);
	return false;
}
