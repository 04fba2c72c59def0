/* The rules of a trimmed text field of the API (docs/CONTRACT.md,
 * "Validation": a user's name, an order's product), in one place. */
#ifndef SVC_TEXT_FIELD_H
#define SVC_TEXT_FIELD_H

#include <stdbool.h>
#include <stddef.h>

#include "rpc/status.h"

/* Checks `in` as the text field `field` (its JSON name, for messages):
 * valid UTF-8; trimmed of white space (utf8_trim: JavaScript trim()'s set);
 * no control character left inside (a line break or terminal escape in a
 * name); at least one visible character (utf8_has_visible), so a text of
 * nothing but white space, zero-width or format characters or lone
 * combining marks is empty; at most max_chars code points. On success
 * copies the trimmed text to out (out_len bytes, NUL-terminated) and
 * returns true; otherwise adds one violation naming field to *st and
 * returns false. Pure; thread-safe. */
bool text_field_check(const char *in, const char *field, size_t max_chars, char *out, size_t out_len, rpc_status *st);

#endif
