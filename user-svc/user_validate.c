/* user_validate.h */
#include "user_validate.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/utf8.h"
#include "svc/text_field.h"

/* White space (utf8.h's one set) and controls (C0, DEL, C1). */
static bool
has_space_or_control(const char *s)
{
	const unsigned char *p = (const unsigned char *) s;
	while (*p != '\0') {
		uint32_t cp = *p;
		size_t n    = 1;
		if (*p >= 0xc0) { /* s is valid UTF-8 here: decode the sequence */
			n  = *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : 2;
			cp = *p & (0x3f >> (n - 1));
			for (size_t i = 1; i < n; i++)
				cp = (cp << 6) | (p[i] & 0x3f);
		}
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || utf8_is_space(cp))
			return true;
		p += n;
	}
	return false;
}

/* One '@' with a non-empty local part, a domain with a dot that is neither
 * its first nor last character, no white space or control characters. */
static bool
email_ok(const char *email)
{
	const char *at = strchr(email, '@');
	if (at == NULL || at == email || strchr(at + 1, '@') != NULL || has_space_or_control(email))
		return false;
	const char *domain = at + 1;
	const char *dot    = strchr(domain, '.');
	size_t dlen        = strlen(domain);
	return dot != NULL && dot != domain && domain[dlen - 1] != '.' && strstr(domain, "..") == NULL;
}

bool
user_validate_create(const char *name, const char *email, char *name_out, size_t name_out_len, rpc_status *st)
{
	size_t before = st->n_violations;
	text_field_check(name, "name", USER_NAME_MAX, name_out, name_out_len, st);

	size_t email_chars = utf8_chars(email, strlen(email));
	if (!utf8_valid(email))
		rpc_status_add_violation(st, "email", "email must be valid UTF-8");
	else if (email[0] == '\0')
		rpc_status_add_violation(st, "email", "email must not be empty");
	else if (email_chars > USER_EMAIL_MAX)
		rpc_status_add_violation(st, "email", "email must be at most %d characters", USER_EMAIL_MAX);
	else if (!email_ok(email))
		rpc_status_add_violation(st, "email", "email must be a valid email address");
	else if (utf8_has_invisible(email, strlen(email))) /* two spellings of one address that look alike */
		rpc_status_add_violation(st, "email",
		    "email must not contain invisible characters (zero-width, "
		    "format or soft hyphen)");
	return st->n_violations == before;
}
