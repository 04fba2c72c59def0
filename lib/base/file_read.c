/* file_read.h */
#include "base/file_read.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

file_read_result
file_read_regular(const char *path, size_t max, char **out, size_t *len, int *err_no)
{
	*out   = NULL;
	*len   = 0;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		*err_no = errno;
		return FILE_READ_CANNOT_OPEN;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return FILE_READ_NOT_REGULAR;
	}
	char *buf = malloc(max + 2);
	if (buf == NULL) {
		close(fd);
		return FILE_READ_NO_MEMORY;
	}
	/* One byte more than allowed tells a file that is too long (even one
	 * that grows while it is read). */
	size_t n = 0;
	while (n <= max) {
		ssize_t got = read(fd, buf + n, max + 1 - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			*err_no = errno;
			close(fd);
			free(buf);
			return FILE_READ_CANNOT_READ;
		}
		if (got == 0)
			break;
		n += (size_t) got;
	}
	close(fd);
	if (n > max) {
		free(buf);
		return FILE_READ_TOO_LARGE;
	}
	buf[n] = '\0';
	*out   = buf;
	*len   = n;
	return FILE_READ_OK;
}
