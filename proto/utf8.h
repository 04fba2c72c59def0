/* UTF-8 helpers for text that crosses into JSON or logs: cut only at
 * character boundaries, and replace what is not UTF-8. */
#ifndef UTF8_H
#define UTF8_H

#include <stddef.h>

/* Removes an incomplete character at the end of s (left by a byte-limited
 * truncation such as snprintf's). */
void utf8_trim_partial(char *s);

/* Copies in to out (outlen > 0), replacing each byte that does not start a
 * valid UTF-8 sequence with '?', and control characters with ' '. Always
 * NUL-terminates, cutting at a character boundary. */
void utf8_sanitize(const char *in, char *out, size_t outlen);

/* Counts the characters (code points) of s[0..len), assumed UTF-8. */
size_t utf8_chars(const char *s, size_t len);

/* s without surrounding white space: returns where it starts and sets *len
 * to its length in bytes. */
const char *utf8_trim(const char *s, size_t *len);

#endif
