/* A growable, append-only byte buffer: the one the JSON encoder, /metrics
 * and the HTTP responses build their output in.
 *
 * Shape: data[0..len) holds what was appended, and data[len] is always '\0'
 * once anything was appended, so text can be read as a C string (bytes
 * that hold '\0' are fine too: len counts them). A zeroed buffer
 * (BUFFER_INIT) is empty and valid, with data NULL.
 *
 * Ownership: the buffer owns data once it is on the heap; buffer_free gives
 * it back, buffer_steal hands it to the caller. buffer_init_on starts in
 * storage of the caller's (a stack array, say): it is used until it is
 * full, never freed, and must outlive the buffer.
 *
 * Growth: the capacity doubles (from 256 bytes) to fit, so n appends cost
 * O(total bytes).
 *
 * Errors: never silent. When memory cannot be had (or a size would
 * overflow) the append returns false, and so does every later one (the
 * flag `failed` stays set until buffer_reset); data keeps what came before,
 * never part of an append. So a caller may append a whole document and
 * check once, at the end.
 *
 * Thread safety: none; a buffer belongs to one thread at a time. */
#ifndef BASE_BUFFER_H
#define BASE_BUFFER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct buffer {
	char *data;
	size_t len;    /* bytes appended, not counting the final '\0' */
	size_t cap;    /* bytes data can hold, the final '\0' included */
	bool failed;   /* an append could not get memory; see Errors above */
	bool borrowed; /* data is the caller's storage from buffer_init_on */
} buffer;

#define BUFFER_INIT ((buffer){0})

/* Starts b empty in storage (cap bytes, at least 1) that stays the
 * caller's: growing past it moves the text to the heap. */
void buffer_init_on(buffer *b, char *storage, size_t cap);

/* Appends n bytes; false when out of memory, now or before. */
bool buffer_append(buffer *b, const void *bytes, size_t n);

/* Appends a C string without its '\0'. */
bool buffer_append_str(buffer *b, const char *s);

/* Appends printf-formatted text; false when out of memory, now or before,
 * or when fmt could not be formatted (vsnprintf failed: that too sets
 * `failed`). */
bool buffer_printf(buffer *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Empties b and clears `failed`; keeps its memory for reuse. */
void buffer_reset(buffer *b);

/* Hands the text to the caller (free() it), NUL-terminated, with its length
 * in *len when len is not NULL, and leaves b empty (BUFFER_INIT). NULL
 * when an append failed (b is freed) or when out of memory copying out of
 * the caller's storage. An empty buffer gives "" (allocated). */
char *buffer_steal(buffer *b, size_t *len);

/* Frees what b owns and leaves it empty (BUFFER_INIT); accepts NULL, a
 * zeroed or an already freed buffer. */
void buffer_free(buffer *b);

#endif
