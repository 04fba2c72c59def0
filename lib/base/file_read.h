/* Reading a small file a setting names (a secret, a certificate), one way
 * for every reader: never waiting on it, never reading more than asked. */
#ifndef BASE_FILE_READ_H
#define BASE_FILE_READ_H

#include <stddef.h>

typedef enum file_read_result {
	FILE_READ_OK,
	FILE_READ_CANNOT_OPEN, /* open(2) failed: *err_no says why */
	FILE_READ_NOT_REGULAR, /* a directory, a device, a FIFO... */
	FILE_READ_TOO_LARGE,   /* more than max bytes (also one growing while read) */
	FILE_READ_CANNOT_READ, /* read(2) failed: *err_no says why */
	FILE_READ_NO_MEMORY,
} file_read_result;

/* Reads the whole regular file at path, at most max bytes, into a new
 * buffer (free it) with a NUL after the last byte read: *out, its length
 * without that NUL in *len. Opened with O_NONBLOCK, so a FIFO is refused
 * as not regular instead of waiting for a writer. Sets *err_no for the
 * results that come from a system call. Thread-safe; no global state. */
file_read_result file_read_regular(const char *path, size_t max, char **out, size_t *len, int *err_no);

#endif
