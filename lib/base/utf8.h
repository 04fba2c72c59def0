/* UTF-8 helpers for text that crosses into JSON or logs: cut only at
 * character boundaries, and replace what is not UTF-8; and the API's one
 * notion of white space and of caseless equality (utf8proc, Unicode 15).
 * All functions are pure and thread-safe. */
#ifndef BASE_UTF8_H
#define BASE_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Removes an incomplete character at the end of s (left by a byte-limited
 * truncation such as snprintf's). */
void utf8_trim_partial(char *s);

/* Copies in to out (outlen > 0), replacing each byte that does not start a
 * valid UTF-8 sequence with '?', and control characters with ' '. Always
 * NUL-terminates, cutting at a character boundary. */
void utf8_sanitize(const char *in, char *out, size_t outlen);

/* Counts the characters (code points) of s[0..len), assumed UTF-8. */
size_t utf8_chars(const char *s, size_t len);

/* True when s is entirely valid UTF-8 (no overlong forms, surrogates or
 * values past U+10FFFF). */
bool utf8_valid(const char *s);

/* The white space the API trims and refuses in emails: ECMAScript's
 * String.prototype.trim set (ECMA-262 WhiteSpace and LineTerminator: TAB,
 * LF, VT, FF, CR, U+FEFF, U+2028, U+2029 and every Zs character: SPACE,
 * NBSP, U+1680, U+2000-200A, U+202F, U+205F, U+3000), the trim() of the
 * NestJS original. It differs from Unicode's White_Space property in two
 * code points: U+FEFF is trimmed and U+0085 (NEL, a C1 control) is not. */
bool utf8_is_space(uint32_t cp);

/* Character classes for text people read (Unicode 15 via utf8proc), over
 * s[0..len), which must be valid UTF-8:
 *   control    a Cc code point: C0, DEL, C1 (a terminal escape, a line break
 *              inside a name);
 *   invisible  a Default_Ignorable_Code_Point or a format character (Cf):
 *              soft hyphen, zero-width space and joiners, bidi marks, word
 *              joiner, U+180E...: present but not seen;
 *   visible    a letter, number, punctuation, symbol or spacing mark (L*,
 *              N*, P*, S*, Mc): what makes a text not empty to a reader. */
bool utf8_has_control(const char *s, size_t len);
bool utf8_has_invisible(const char *s, size_t len);
bool utf8_has_visible(const char *s, size_t len);

/* s without surrounding white space (utf8_is_space): returns where it
 * starts and sets *len to its length in bytes. An invalid byte is not
 * white space. */
const char *utf8_trim(const char *s, size_t *len);

/* The key under which two texts are the same regardless of case and of
 * composition: NFC of the full Unicode case folding (CaseFolding.txt C+F,
 * no locale: "STRASSE" and "straße" are equal, and so are "é" composed and
 * "e" + U+0301), utf8proc_map(CASEFOLD | COMPOSE | STABLE). Returns a new
 * string the caller frees, or NULL when s is not valid UTF-8 or memory ran
 * out. */
char *utf8_caseless_key(const char *s);

#endif
