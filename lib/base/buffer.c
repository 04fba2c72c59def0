/* buffer.h: append-only bytes with doubling growth and a sticky failure. */
#include "base/buffer.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_CAP 256

void
buffer_init_on(buffer *b, char *storage, size_t cap)
{
	*b         = (buffer){.data = storage, .cap = cap, .borrowed = true};
	storage[0] = '\0';
}

/* Makes room for n more bytes and the '\0'; false (and failed) when the
 * memory cannot be had. */
static bool
reserve(buffer *b, size_t n)
{
	if (b->failed)
		return false;
	if (n < b->cap - b->len && b->data != NULL)
		return true;
	if (n > SIZE_MAX / 2 - b->len - 1) { /* the doubling below would overflow */
		b->failed = true;
		return false;
	}
	size_t need = b->len + n + 1;
	size_t cap  = b->cap > FIRST_CAP ? b->cap : FIRST_CAP;
	while (cap < need)
		cap *= 2;
	char *grown = b->borrowed ? malloc(cap) : realloc(b->data, cap);
	if (grown == NULL) {
		b->failed = true;
		return false;
	}
	if (b->borrowed)
		memcpy(grown, b->data, b->len + 1);
	else if (b->data == NULL)
		grown[0] = '\0';
	b->data     = grown;
	b->cap      = cap;
	b->borrowed = false;
	return true;
}

bool
buffer_append(buffer *b, const void *bytes, size_t n)
{
	if (!reserve(b, n))
		return false;
	if (n > 0)
		memcpy(b->data + b->len, bytes, n);
	b->len += n;
	b->data[b->len] = '\0';
	return true;
}

bool
buffer_append_str(buffer *b, const char *s)
{
	return buffer_append(b, s, strlen(s));
}

bool
buffer_printf(buffer *b, const char *fmt, ...)
{
	if (!reserve(b, 0))
		return false;
	/* Straight into the free room; when it does not fit, once more after
	 * growing to the length vsnprintf reported. */
	for (int attempt = 0; attempt < 2; attempt++) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->data[b->len] = '\0';
			b->failed       = true;
			return false;
		}
		if ((size_t) n < b->cap - b->len) {
			b->len += (size_t) n;
			return true;
		}
		b->data[b->len] = '\0'; /* drop the cut-short part */
		if (!reserve(b, (size_t) n))
			return false;
	}
	return false; /* not reached: the second attempt has the room */
}

void
buffer_reset(buffer *b)
{
	b->len    = 0;
	b->failed = false;
	if (b->data != NULL)
		b->data[0] = '\0';
}

char *
buffer_steal(buffer *b, size_t *len)
{
	char *out = NULL;
	if (!b->failed && (b->data == NULL || b->borrowed)) {
		out = malloc(b->len + 1);
		if (out != NULL) {
			if (b->len > 0)
				memcpy(out, b->data, b->len);
			out[b->len] = '\0';
		}
	} else if (!b->failed) {
		out     = b->data;
		b->data = NULL; /* now the caller's */
	}
	if (out != NULL && len != NULL)
		*len = b->len;
	buffer_free(b);
	return out;
}

void
buffer_free(buffer *b)
{
	if (b == NULL)
		return;
	if (!b->borrowed)
		free(b->data);
	*b = BUFFER_INIT;
}
